"""Data in: what users pass (arrays, tables, files, tf.data, image folders, demo sets) -> validated splits.

``prepared`` checks and splits the data and makes the task spec; ``sources``
reads the many forms data comes in; ``targets`` checks and encodes labels and
regression targets; ``folders`` lists and streams image folders;
``sequences`` pads and masks series of unequal length; ``texts`` counts the
training texts' vocabulary and n-grams. Nothing here imports
the search engine, and nothing imports TensorFlow at module level.
"""

from .folders import FileSplit, ImageFolder, image_folder
from .prepared import (
    PreparedData,
    as_split,
    combine,
    fingerprint_arrays,
    fit_arguments,
    in_memory,
    load_split,
    prepare,
    to_model_inputs,
    validation_argument,
)
from .texts import NGRAM_MIN_DOCUMENTS

__all__ = [
    "NGRAM_MIN_DOCUMENTS",
    "FileSplit",
    "ImageFolder",
    "PreparedData",
    "as_split",
    "combine",
    "fingerprint_arrays",
    "fit_arguments",
    "image_folder",
    "in_memory",
    "load_split",
    "prepare",
    "to_model_inputs",
    "validation_argument",
]
