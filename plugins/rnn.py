"""Recurrent networks (SimpleRNN, LSTM, GRU) for sequences and raw text.

For text the model starts from raw strings: the task spec's vectoriser (with the
training vocabulary) and an embedding are inside the model, so an exported model
takes text.
"""

from automodel import Architecture, hookimpl

CELLS = ("lstm", "gru", "simple_rnn")


class RNN(Architecture):
    name = "rnn"
    tasks = ("sequence_classification", "sequence_regression", "text_classification")
    description = "Recurrent network: LSTM / GRU / SimpleRNN cells, optionally bidirectional and stacked"

    def build(self, hp, spec):
        import keras
        from keras import layers

        inputs, x = spec.inputs()
        if spec.inputs_kind == "text":
            vectorize = spec.text_vectorizer(
                max_tokens=hp.Choice("vocabulary_size", [1000, 5000, 20000], default=5000),
                sequence_length=hp.Choice("sequence_length", [16, 32, 64, 128], default=32),
            )
            x = vectorize(x)
            embedding = hp.Choice("embedding_size", [16, 32, 64, 128], default=32)
            x = layers.Embedding(vectorize.vocabulary_size(), embedding, mask_zero=True)(x)

        cell = {"lstm": layers.LSTM, "gru": layers.GRU, "simple_rnn": layers.SimpleRNN}[
            hp.Choice("cell", CELLS, default="lstm")
        ]
        bidirectional = hp.Boolean("bidirectional", default=False)
        stacked = hp.Int("layers", 1, 2, default=1)
        units = hp.Int("units", 16, 128, step=16, default=32)
        dropout = hp.Float("dropout", 0.0, 0.4, step=0.1, default=0.0)
        recurrent_dropout = hp.Float("recurrent_dropout", 0.0, 0.3, step=0.1, default=0.0)
        for layer in range(stacked):
            recurrent = cell(
                units,
                dropout=dropout,
                recurrent_dropout=recurrent_dropout,
                return_sequences=layer < stacked - 1,
            )
            x = layers.Bidirectional(recurrent)(x) if bidirectional else recurrent(x)
        model = keras.Model(inputs, spec.head(x), name="rnn")
        return spec.compile(
            model, learning_rate=hp.Float("learning_rate", 3e-4, 1e-2, sampling="log", default=3e-3)
        )


@hookimpl
def register_architectures(register):
    register(RNN())
