"""Tasks and task specs: the contract between the data, the plugins and the engine.

A ``Task`` is a pair of an input kind (what one sample is) and a target kind (what
the model predicts). A ``TaskSpec`` is a task made concrete by the data at hand:
input shape, classes, normalisation statistics, vocabulary. Plugins build models
from the spec, with its helpers for the standard input and head, so the loss,
metrics and objective stay the engine's business. Adding a task is one
``Task(...)`` line when its input and target kinds exist; a new kind is a branch
in the helpers.

The standard tasks live here rather than in the plugins that serve them: several
plugins serve one task (cnn and rnn both take sequences), and a task must not
vanish when one of them is disabled. Plugins add tasks of their own through the
``register_tasks`` hook.

Keras is imported inside the helpers only: they run when a search builds models.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from .hookspecs import hookimpl

INPUT_KINDS = ("image", "sequence", "text")
# Sequences of different lengths are padded at the end with this value, and the
# model masks every timestep whose features all equal it (see TaskSpec.inputs).
# It is float32's lowest finite number: automodel refuses real series holding it
# (as it refuses NaN and infinities), so padding never collides with a reading;
# being finite, it is exact in float32, in JSON and in every export runtime, and
# Keras' Masking zeroes it cleanly (Keras before 3.15 multiplied by the mask,
# which turns -inf into NaN).
PADDING_VALUE = -3.4028234663852886e38  # float(numpy.finfo("float32").min)
TARGET_KINDS = ("classification", "regression", "generation")

# target kind -> (objective, direction)
OBJECTIVES = {
    "classification": ("val_accuracy", "max"),
    "regression": ("val_loss", "min"),
    # Frechet distance of generated to held-out images (automodel.engine.generation)
    "generation": ("fid", "min"),
}


class _Objective:
    """The objective a search optimises, and its direction, follow from the target kind."""

    target: str

    @property
    def objective(self) -> str:
        return OBJECTIVES[self.target][0]

    @property
    def direction(self) -> str:
        return OBJECTIVES[self.target][1]


@dataclasses.dataclass(frozen=True)
class Task(_Objective):
    """A kind of problem automodel can search models for."""

    name: str
    inputs: str
    target: str
    description: str = ""

    def __post_init__(self):
        if self.inputs not in INPUT_KINDS:
            raise ValueError(f"task {self.name!r}: inputs must be one of {INPUT_KINDS}")
        if self.target not in TARGET_KINDS:
            raise ValueError(f"task {self.name!r}: target must be one of {TARGET_KINDS}")


BUILTIN_TASKS = (
    Task(
        "image_classification",
        inputs="image",
        target="classification",
        description="Label images (height, width[, channels]) with one of N classes.",
    ),
    Task(
        "sequence_classification",
        inputs="sequence",
        target="classification",
        description="Label sequences (timesteps[, features]) with one of N classes.",
    ),
    Task(
        "sequence_regression",
        inputs="sequence",
        target="regression",
        description="Predict numbers from sequences: one value, or the next steps of a series.",
    ),
    Task(
        "text_classification",
        inputs="text",
        target="classification",
        description="Label raw strings with one of N classes; vectorisation is inside the model.",
    ),
    Task(
        "image_generation",
        inputs="image",
        target="generation",
        description="Generate images like the given ones (labels optional).",
    ),
)


@hookimpl
def register_tasks(register):
    for task in BUILTIN_TASKS:
        register(task)


@dataclasses.dataclass
class TaskSpec(_Objective):
    """A task made concrete by its data; what ``Architecture.build`` receives.

    ``input_shape`` excludes the batch axis. ``mean``/``variance`` are per-channel
    statistics of the training split, baked into the model by ``inputs()`` so an
    exported model takes raw values; ``value_range`` is the training data's
    (min, max). ``vocabulary`` (text) lists the training split's tokens, most
    frequent first. ``ngram_vocabulary`` (text) lists its unigrams and bigrams
    found in at least two training texts, most frequent first, and
    ``ngram_document_counts`` in how many of the ``documents`` training texts
    each occurs: the TF-IDF weights of ``ngram_vectorizer``. ``output_shape``
    (regression) is the shape of one target.
    ``samples`` is the number of training samples, so an architecture can
    choose by the data's size (rocket's closed-form readout, for instance).
    ``lengths`` (sequences of different lengths) is the (shortest, longest)
    series of the data: the series are padded at the end with ``PADDING_VALUE``
    to ``input_shape[0]``, the longest, and ``inputs()`` masks the padding.
    """

    task: str
    inputs_kind: str
    target: str
    input_shape: tuple
    input_dtype: str = "float32"
    num_classes: int | None = None
    class_names: list[str] | None = None
    output_shape: tuple | None = None
    mean: list[float] | None = None
    variance: list[float] | None = None
    value_range: tuple | None = None
    vocabulary: list[str] | None = None
    ngram_vocabulary: list[str] | None = None
    ngram_document_counts: list[int] | None = None
    documents: int | None = None
    lengths: tuple | None = None
    samples: int | None = None

    @classmethod
    def for_task(cls, task: Task, **fields) -> "TaskSpec":
        return cls(task=task.name, inputs_kind=task.inputs, target=task.target, **fields)

    @property
    def is_classification(self) -> bool:
        return self.target == "classification"

    @property
    def padded(self) -> bool:
        """Whether the inputs are series of different lengths, padded to ``input_shape[0]``."""
        return self.lengths is not None

    # -- model helpers -------------------------------------------------------
    def inputs(self, normalize: bool = True):
        """Return ``(inputs, x)``: the raw ``keras.Input`` and the preprocessed tensor.

        Numeric inputs are standardised with the training statistics unless
        ``normalize=False`` (for a base network with its own preprocessing).
        Text inputs are raw strings: vectorise them with ``text_vectorizer``.

        Padded sequences (``padded``) go through a ``Masking`` layer first: it
        zeroes the padded timesteps and attaches a mask that Keras hands on to
        the layers that take one (``Normalization``, ``LSTM``/``GRU``/``SimpleRNN``,
        ``Bidirectional``, ``GlobalAveragePooling1D``...), so recurrent layers
        skip the padding. Layers without masks (``Conv1D``, ``Dense``, ``Flatten``)
        drop it, and Keras warns; see ``padding_mask`` for those.
        """
        import keras

        inputs = keras.Input(shape=self.input_shape, dtype=self.input_dtype, name="inputs")
        x = inputs
        if self.padded:  # on the raw values, where the padding value is exact
            x = keras.layers.Masking(mask_value=PADDING_VALUE, name="padding")(x)
        if normalize and self.mean is not None:
            x = keras.layers.Normalization(
                mean=self.mean, variance=self.variance, name="normalize"
            )(x)
        return inputs, x

    def padding_mask(self, inputs):
        """The ``(batch, timesteps)`` mask of real timesteps of the raw ``inputs``; None unless ``padded``.

        For layers that do not carry Keras masks. In Keras 3, ``Conv1D`` drops
        the mask (with a warning), and a ``GlobalAveragePooling1D`` after it
        would then average the padding in, so a series' features would depend
        on how much padding it has. Pass this mask to ``GlobalAveragePooling1D``
        and ``BatchNormalization`` (``layer(x, mask=mask)``: the average and the
        batch statistics then cover the real timesteps only) and put each
        convolution's output through ``zero_padding``: every convolution then
        sees zeros past the end of a series, exactly as its ``padding="same"``
        would for the series alone, so in inference the output does not depend
        on the padding at all.
        """
        if not self.padded:
            return None
        from keras import ops

        return ops.any(ops.not_equal(inputs, PADDING_VALUE), axis=-1)

    @staticmethod
    def zero_padding(x, mask):
        """``x`` with the padded timesteps set to 0 (``mask`` from ``padding_mask``; None: ``x`` as it is)."""
        if mask is None:
            return x
        from keras import ops

        return ops.where(ops.expand_dims(mask, -1), x, ops.zeros_like(x))

    def text_vectorizer(self, max_tokens: int, sequence_length: int):
        """A ``TextVectorization`` layer over the training vocabulary (no adapt needed).

        Token ids start at 2 (0 pads, 1 is out-of-vocabulary); ``vocabulary_size()``
        of the layer is the embedding's input size.
        """
        import keras

        vocabulary = (self.vocabulary or [])[: max(max_tokens - 2, 1)]
        return keras.layers.TextVectorization(
            max_tokens=len(vocabulary) + 2,
            output_sequence_length=sequence_length,
            vocabulary=vocabulary,
            name="vectorize",
        )

    def ngram_vectorizer(self, max_tokens: int, ngrams: int = 2):
        """A ``TextVectorization`` layer giving TF-IDF weights of the training n-grams (no adapt needed).

        ``ngrams`` 1 counts words, 2 words and pairs of adjacent words. The layer
        keeps the ``max_tokens - 1`` most frequent of those n-grams (index 0 holds
        words it does not know) and weighs each count by the inverse document
        frequency ``log(1 + documents / (1 + document count))``, as
        ``TextVectorization.adapt`` would.
        """
        import math

        import keras

        pairs = [
            (gram, count)
            for gram, count in zip(self.ngram_vocabulary or [], self.ngram_document_counts or [])
            if ngrams > 1 or " " not in gram  # standardised tokens hold no spaces; bigrams one
        ][: max(max_tokens - 1, 1)]
        documents = self.documents or 0
        return keras.layers.TextVectorization(
            max_tokens=len(pairs) + 1,
            ngrams=ngrams if ngrams > 1 else None,
            output_mode="tf_idf",
            vocabulary=[gram for gram, _ in pairs],
            idf_weights=[math.log(1 + documents / (1 + count)) for _, count in pairs],
            name="vectorize",
        )

    def head(self, x):
        """The task's output layer on top of features ``x``."""
        import math

        import keras

        if self.is_classification:
            return keras.layers.Dense(self.num_classes, activation="softmax", name="head")(x)
        shape = tuple(self.output_shape)
        y = keras.layers.Dense(math.prod(shape), name="head")(x)
        if len(shape) != 1:
            y = keras.layers.Reshape(shape, name="head_shape")(y)
        return y

    @property
    def loss(self) -> str:
        return "sparse_categorical_crossentropy" if self.is_classification else "mse"

    @property
    def metrics(self) -> list[str]:
        return ["accuracy"] if self.is_classification else ["mae"]

    def compile(self, model, optimizer: Any = "adam", learning_rate: float | None = None):
        """Compile ``model`` with the task's loss and metrics.

        ``optimizer`` is a Keras optimizer name or instance; a name with a
        ``learning_rate`` builds that optimizer with that rate.
        """
        import keras

        if isinstance(optimizer, str):
            config = {"learning_rate": learning_rate} if learning_rate else {}
            if optimizer == "sgd":
                config["momentum"] = 0.9
            optimizer = keras.optimizers.get({"class_name": optimizer, "config": config})
        model.compile(optimizer=optimizer, loss=self.loss, metrics=self.metrics)
        return model

    # -- persistence ---------------------------------------------------------
    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "TaskSpec":
        fields = dict(data)
        for key in ("input_shape", "output_shape", "value_range", "lengths"):
            if fields.get(key) is not None:
                fields[key] = tuple(fields[key])
        return cls(**fields)
