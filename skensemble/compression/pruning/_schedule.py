"""How much and when: sparsity targets for iterative pruning."""

import numpy as np


def sparsity_schedule(final_sparsity, n_steps, kind="cubic"):
    """Sparsity to reach after each of ``n_steps`` prune/fine-tune steps.

    ``"cubic"`` is Zhu & Gupta (2017), "To prune, or not to prune":
    ``s_k = s_f * (1 - (1 - k / n) ** 3)``, which prunes fast while there are
    many redundant weights and slowly near the target.  ``"linear"`` grows in
    equal steps.  The last value is always ``final_sparsity``.
    """
    k = np.arange(1, n_steps + 1) / n_steps
    if kind == "cubic":
        steps = final_sparsity * (1 - (1 - k) ** 3)
    elif kind == "linear":
        steps = final_sparsity * k
    else:
        raise ValueError(f"schedule must be 'cubic' or 'linear'; got {kind!r}.")
    return [float(s) for s in steps]
