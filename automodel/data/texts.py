"""What a text task's spec holds of its training texts: their vocabulary and n-gram document counts.

The recurrent and convolutional text models embed ``vocabulary``; the n-gram
model (after Google's text classification guide) weights the unigrams and
bigrams in at least ``NGRAM_MIN_DOCUMENTS`` training texts by TF-IDF. Keras
``TextVectorization`` splits the texts here as the models will. A search refuses
blank texts first (``check_not_blank``): a model learns nothing from them.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from .sources import samples

VOCABULARY_LIMIT = 20_000
# the 20,000 most frequent unigrams and bigrams among those in at least two training texts
NGRAM_LIMIT = 20_000
NGRAM_MIN_DOCUMENTS = 2


def check_not_blank(texts: np.ndarray, what: str) -> None:
    """Texts a search is given must not be blank: an empty text is a missing value in disguise, with nothing to learn."""
    blank = np.flatnonzero([not text.strip() for text in texts])
    if len(blank):
        raise DataError(
            f"{what} has {len(blank)} empty text(s) ('' or only spaces), at {samples(blank)}. Drop those "
            "samples or fill in their texts."
        )


def vocabulary(texts: np.ndarray) -> list[str]:
    """Tokens of the training texts, most frequent first, as TextVectorization splits them."""
    import keras

    layer = keras.layers.TextVectorization(max_tokens=VOCABULARY_LIMIT + 2)
    layer.adapt(texts.astype(str))
    return [token for token in layer.get_vocabulary() if token not in ("", "[UNK]")]


def ngram_fields(texts: np.ndarray) -> dict:
    """The training texts' unigrams and bigrams, most frequent first, and how many texts hold each.

    What ``TaskSpec.ngram_vectorizer`` makes TF-IDF weights of: counts rather
    than weights, so run.json stores small integers. N-grams in fewer than
    ``NGRAM_MIN_DOCUMENTS`` texts are dropped unless that would drop them all.
    """
    import keras
    import tensorflow as tf

    texts = texts.astype(str)
    layer = keras.layers.TextVectorization(ngrams=2, output_mode="multi_hot", sparse=True)
    layer.adapt(texts)
    vocabulary = [str(gram) for gram in layer.get_vocabulary()[1:]]  # after [UNK]
    counts = np.zeros(len(vocabulary) + 1, dtype="int64")
    for start in range(0, len(texts) if vocabulary else 0, 1024):
        counts += tf.sparse.reduce_sum(layer(texts[start : start + 1024]), axis=0).numpy().astype("int64")
    counts = counts[1:]
    keep = counts >= NGRAM_MIN_DOCUMENTS
    kept = [i for i in range(len(vocabulary)) if keep[i] or not keep.any()][:NGRAM_LIMIT]
    return {
        "ngram_vocabulary": [vocabulary[i] for i in kept],
        "ngram_document_counts": [int(counts[i]) for i in kept],
        "documents": len(texts),
    }
