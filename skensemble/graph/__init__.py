"""The module graph: what one forward pass computes and which units must be cut together (private).

``_record`` records the operations of one forward pass (layers, functions
and the tensors between them); ``_dependency`` joins the units that have to
be removed together (named records ``Entry``, ``Group``, ``UnitSet``,
``UnitRun``, ``UnitLayout``, each printable).  Pruning cuts along them,
transfer learning finds a net's output layer and blocks with them, and
quantization refuses tensor arithmetic it cannot quantize.
"""
