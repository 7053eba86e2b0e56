"""The one epoch loop: every training in skensemble runs its epochs in :func:`run_epochs`.

A net's own fit (``fit_loop`` of skensemble's skorch nets, which replaces
skorch's loop with this one) runs one net's epochs; a fused ensemble
(``skensemble.ensemble._fused``) runs K members' epochs at once, each
member's net seeing its own hooks.  The epoch's batches are the caller's
(``epoch``): a net's training and validation passes
(``run_single_epoch``), or the members' stacked steps.  Either writes its
batch rows through :class:`~skensemble.nets._skorch.EpochBatches`, so every
history row carries skorch's keys.
"""


def run_epochs(nets, epochs, epoch, **epoch_kwargs):
    """Run ``epochs`` epochs: each net's ``on_epoch_begin``, then ``epoch(index)``, then each net's ``on_epoch_end``.

    Parameters
    ----------
    nets : list of skorch.NeuralNet
        The nets trained together (one for a net's own fit).
    epochs : int
        How many epochs.  A callback ends the training sooner by raising
        ``KeyboardInterrupt`` in a hook (skorch's ``EarlyStopping``), which
        the training's session (``skensemble.nets._engine.training_session``)
        catches.
    epoch : callable
        One epoch's batches, called with the epoch's index (0, 1, ...).
    **epoch_kwargs
        Passed to the epoch hooks (skorch passes ``dataset_train`` and
        ``dataset_valid``).
    """
    for index in range(epochs):
        for net in nets:
            net.notify("on_epoch_begin", **epoch_kwargs)
        epoch(index)
        for net in nets:
            net.notify("on_epoch_end", **epoch_kwargs)
