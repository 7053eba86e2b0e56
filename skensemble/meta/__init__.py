"""The base of the meta-estimators around a fitted net (private).

``_base`` holds what pruning, quantization, distillation (``compression``)
and fine-tuning (``transfer``) share: fitting or copying the wrapped
estimator, validating a raw table once and handing it to the net, predicting
in one inference mode, and training epochs through the nets' engine.
"""
