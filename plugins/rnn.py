"""Recurrent networks (SimpleRNN, LSTM, GRU) for sequences and raw text.

For text the model starts from raw strings: the task spec's vectoriser (with the
training vocabulary) and an embedding are inside the model, so an exported model
takes text.

The portfolio (the settings a search tries first, best first), for sequences:
one bidirectional layer of 64 units (Graves and Schmidhuber 2005: reading the
window both ways helps labels and, since the whole input window is known,
forecasts too), as a GRU and as an LSTM (Chung et al. 2014: neither cell wins
everywhere), with Adam at 1e-3 and no dropout (Greff et al. 2017, "LSTM: a
search space odyssey": the learning rate and the size are the settings that
matter; plain LSTM is as good as its variants). The order is what ten epochs
on the demo data showed: for labels (waveforms) the GRU first, for forecasts
(series) the LSTM (validation MSE 0.23 against 0.25; the series' variance is
0.80).

For text, the model of TensorFlow's RNN text classification tutorial with a
GRU (64-wide embeddings of the first 64 tokens into a bidirectional recurrent
layer of 64 units) at 1e-2: a small corpus gives few gradient steps, and on 700
short reviews this model was still at chance after four epochs at 1e-3, and
right on nearly every validation text after two at 1e-2 (the training protocol
halves the rate when the loss stalls).
"""

from automodel import Architecture, hookimpl

CELLS = ("lstm", "gru", "simple_rnn")
_PLAIN = {"dropout": 0.0, "recurrent_dropout": 0.0, "learning_rate": 1e-3}
PORTFOLIO = {
    "sequence_classification": [
        {"cell": "gru", "bidirectional": True, "layers": 1, "units": 64, **_PLAIN},
        {"cell": "lstm", "bidirectional": True, "layers": 1, "units": 64, **_PLAIN},
    ],
    "sequence_regression": [
        {"cell": "lstm", "bidirectional": True, "layers": 1, "units": 64, **_PLAIN},
        {"cell": "gru", "bidirectional": True, "layers": 1, "units": 64, **_PLAIN},
    ],
    "text_classification": [
        {"cell": "gru", "bidirectional": True, "layers": 1, "units": 64, "embedding_size": 64,
         "sequence_length": 64, "vocabulary_size": 20000, **_PLAIN, "learning_rate": 1e-2},
    ],
}


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

    def portfolio(self, spec):
        return [dict(entry) for entry in PORTFOLIO.get(spec.task, ())]


@hookimpl
def register_architectures(register):
    register(RNN())
