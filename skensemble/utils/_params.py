"""scikit-learn's ``__init__`` contract in one helper."""


def store_params(estimator, arguments):
    """The body of a net's ``__init__``: each argument becomes the attribute of its name.

    ``arguments`` is the ``__init__``'s ``locals()``.  scikit-learn's contract
    (``__init__`` stores its parameters unchanged and nothing else) in one
    place, so each net writes only its signature.
    """
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)
