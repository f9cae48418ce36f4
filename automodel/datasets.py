"""Built-in demo data sets, embedded so a first search needs no download."""

from .hookspecs import hookimpl


def load_digits():
    """scikit-learn's 8x8 handwritten digits: 1,797 grey images of 0-9, values 0-16."""
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    return bunch.images.astype("float32"), bunch.target


@hookimpl
def register_datasets(register):
    register(
        "digits",
        load_digits,
        task="image_classification",
        description="1,797 handwritten digits, 8x8 grey (scikit-learn)",
    )
