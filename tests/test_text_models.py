"""The text plugin (ngram_mlp, text_cnn) and the rnn's text portfolio: specs, search spaces, search, export.

One tiny real search over both architectures is shared by the module; each
architecture's model is exported in every format, and every artifact is then
reloaded here by its own runtime and compared with the trained model.
"""

from __future__ import annotations

import collections
import json
import re
import subprocess
import sys
import warnings

import keras_tuner as kt
import numpy as np
import pytest
from conftest import trials_only
from test_export import ALL_FORMATS, reload_outputs, run_onnx

import automodel
from automodel.data import NGRAM_MIN_DOCUMENTS, prepare
from automodel.datasets import load_reviews
from automodel.plugins.rnn import RNN
from automodel.plugins.text import NgramMLP, TextCNN

ARCHITECTURES = {"ngram_mlp": NgramMLP, "text_cnn": TextCNN}
# casing, punctuation, tabs, newlines, runs of spaces, unknown words, a single word, nothing at all
ODD_TEXTS = np.array(["The BATTERY is NOT good!!!", "  the\tscreen   is\nterrible,  honestly ", "zzz qqq", "",
                      "price: great; sound: awful.", "great", "the screen is not good and the price is fine"])


def grams(text: str) -> set[str]:
    """The unigrams and bigrams of one ASCII text, standardised as TextVectorization does."""
    words = re.sub(r"[^\w\s]", "", text.lower()).split()
    return set(words) | {" ".join(pair) for pair in zip(words, words[1:])}


@pytest.fixture(scope="module")
def reviews():
    return prepare("text_classification", load_reviews(60))


# -- the spec: n-grams and document counts of the training split ---------------------


def test_spec_counts_the_ngrams_of_the_training_split_only():
    import keras

    train = np.array(["Good screen.", "good price", "bad screen", "BAD price!", "good, good battery", "bad battery",
                      "one of a kind"], dtype=object)
    labels = ["pos", "pos", "neg", "neg", "pos", "neg", "pos"]
    prepared = prepare("text_classification", (train, labels),
                       validation_data=(np.array(["good zebra", "bad zebra"], dtype=object), ["pos", "neg"]),
                       test_data=(np.array(["good quokka screen", "bad quokka"], dtype=object), ["pos", "neg"]))
    spec = prepared.spec
    documents = collections.Counter(gram for text in train for gram in grams(text))
    expected = {gram: n for gram, n in documents.items() if n >= NGRAM_MIN_DOCUMENTS}
    assert dict(zip(spec.ngram_vocabulary, spec.ngram_document_counts)) == expected
    assert spec.documents == len(train)
    assert spec.ngram_vocabulary[0] == "good"  # most frequent first: "good" occurs four times
    assert not {"zebra", "quokka", "one", "kind"} & set(spec.ngram_vocabulary)

    # the TF-IDF weights are those TextVectorization.adapt computes from the same texts
    ours = spec.ngram_vectorizer(max_tokens=100, ngrams=2)
    adapted = keras.layers.TextVectorization(ngrams=2, output_mode="tf_idf")
    adapted.adapt(train.astype(str))
    columns = [adapted.get_vocabulary().index(gram) for gram in ours.get_vocabulary()[1:]]
    texts = np.array(["good screen and bad price", "good good good", "nothing known"], dtype=object)
    np.testing.assert_allclose(np.asarray(ours(texts))[:, 1:], np.asarray(adapted(texts))[:, columns], rtol=1e-6)

    # ngrams=1 keeps the words, max_tokens the most frequent (one index is for unknown words)
    assert not any(" " in gram for gram in spec.ngram_vectorizer(100, ngrams=1).get_vocabulary())
    assert spec.ngram_vectorizer(max_tokens=3, ngrams=2).get_vocabulary() == ["[UNK]", "good", "bad"]
    assert type(spec).from_dict(json.loads(json.dumps(spec.to_dict()))) == spec  # as run.json stores it


def test_reviews_spec_stays_small_in_run_json(reviews):
    spec = reviews.spec
    assert 0 < len(spec.ngram_vocabulary) == len(spec.ngram_document_counts)
    assert all(n >= NGRAM_MIN_DOCUMENTS for n in spec.ngram_document_counts)
    assert spec.documents == len(reviews.train[0])
    assert len(json.dumps(spec.to_dict())) < 10_000


# -- search spaces and portfolios -------------------------------------------------------


def in_space(hp, value) -> bool:
    """Whether ``value`` is one ``hp`` can take."""
    kind = type(hp).__name__
    if kind == "Choice":
        return value in hp.values
    if kind == "Boolean":
        return isinstance(value, bool)
    within = hp.min_value <= value <= hp.max_value
    if kind == "Int":
        return within and (value - hp.min_value) % (hp.step or 1) == 0
    return within


def build(arch, spec, values):
    hp = kt.HyperParameters()
    hp.values.update(values)
    model = arch.build(hp, spec)
    return {p.name: p for p in hp.space}, model


@pytest.mark.parametrize("name", ["ngram_mlp", "text_cnn", "rnn"])
def test_each_text_architecture_builds_from_its_portfolio_and_defaults(reviews, name):
    arch = RNN() if name == "rnn" else ARCHITECTURES[name]()
    portfolio = arch.portfolio(reviews.spec)
    assert 1 <= len(portfolio) <= 2
    for values in [{}, *portfolio]:
        space, model = build(arch, reviews.spec, values)
        for key, value in values.items():
            assert key in space and in_space(space[key], value), (name, key, value)
        assert model.inputs[0].dtype == "string"
        probabilities = model.predict(ODD_TEXTS.astype(object), verbose=0)
        assert probabilities.shape == (len(ODD_TEXTS), 2)
        np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)


def test_portfolios_are_for_text_only(reviews):
    sequences = prepare(None, "waveforms").spec
    assert NgramMLP().portfolio(sequences) == [] and TextCNN().portfolio(sequences) == []
    assert all("embedding_size" not in entry for entry in RNN().portfolio(sequences))
    assert NgramMLP().portfolio(reviews.spec)[0] == {
        "ngrams": 2, "max_tokens": 20000, "layers": 1, "units": 64, "dropout": 0.2, "learning_rate": 1e-3}


def test_ngram_mlp_search_space(reviews):
    space, model = build(NgramMLP(), reviews.spec, {"ngrams": 2, "layers": 2})
    assert {"ngrams", "max_tokens", "layers", "units", "dropout", "learning_rate"} <= set(space)
    vectorize = model.get_layer("vectorize")
    assert (vectorize.get_config()["output_mode"], vectorize.get_config()["ngrams"]) == ("tf_idf", 2)
    assert sum(type(layer).__name__ == "Dense" for layer in model.layers) == 3  # two hidden layers and the head
    _, unigrams = build(NgramMLP(), reviews.spec, {"ngrams": 1})
    assert unigrams.get_layer("vectorize").vocabulary_size() < vectorize.vocabulary_size()


@pytest.mark.parametrize("separable, layer", [(True, "SeparableConv1D"), (False, "Conv1D")])
def test_text_cnn_convolutions(reviews, separable, layer):
    space, model = build(TextCNN(), reviews.spec, {"separable": separable, "blocks": 3, "dense_units": 64})
    assert {"vocabulary_size", "sequence_length", "embedding_size", "filters", "kernel_size", "blocks",
            "pooling", "dropout", "dense_units", "learning_rate"} <= set(space)
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count(layer) == 3 and kinds.count("MaxPooling1D") == 2 and "GlobalMaxPooling1D" in kinds


def test_text_plugin_loads_through_its_entry_point_without_tensorflow(clean_registry):
    rows = {row.name: row for row in automodel.list_plugins()}
    for name in ARCHITECTURES:
        assert (rows[name].plugin, rows[name].distribution) == ("text", "automodel")
        assert rows[name].tasks == ("text_classification",) and rows[name].description
    assert {"ngram_mlp", "text_cnn", "rnn"} <= set(automodel.get_architectures("text_classification"))
    code = "import sys, automodel.plugins.text; assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# -- a real search, and every export format ---------------------------------------------


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    root = tmp_path_factory.mktemp("text")
    result = automodel.search(
        task="text_classification", data=load_reviews(60), architectures=list(ARCHITECTURES), tuner="random",
        max_trials=3, epochs=1, directory=root, name="text", seed=0,
        validation="split",  # 60 texts would be cross-validated: five trainings a trial
    )
    return root, result


def trial_of(result, name):
    board = trials_only(result.leaderboard())
    return str(board[board["architecture"] == name].iloc[0]["trial"])


@pytest.fixture(scope="module")
def exported(searched):
    root, result = searched
    cache = {}

    def get(name):
        if name not in cache:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                card = result.export(root / name, formats=ALL_FORMATS, trial=trial_of(result, name),
                                     include_samples=True)
            cache[name] = root / name, card, [str(w.message) for w in caught]
        return cache[name]

    return get


def test_search_runs_the_portfolios_first_and_trains_on_raw_strings(searched):
    _, result = searched
    board = trials_only(result.leaderboard())
    assert set(board["status"]) == {"completed"} and len(board) == 3
    assert set(board["architecture"]) == set(ARCHITECTURES)
    expected = [("ngram_mlp", NgramMLP().known_good[0]), ("text_cnn", TextCNN().known_good[0]),
                ("text_cnn", TextCNN().known_good[1])]
    tried = [result.run.keras_tuner_trial(str(trial))["hyperparameters"]["values"] for trial in sorted(board["trial"])]
    for values, (name, entry) in zip(tried, expected):
        assert values["architecture"] == name
        assert {key: values[f"{name}/{key}"] for key in entry} == pytest.approx(entry)
    assert set(result.predict(np.array(["the screen is not good", "great value"], dtype=object))) <= {
        "negative", "positive"}


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_text_models_export_and_each_runtime_matches_on_raw_strings(exported, searched, name, tmp_path):
    import tensorflow as tf

    _, result = searched
    folder, card, caught = exported(name)
    assert card["architecture"] == name
    assert card["input"] == {"name": "inputs", "shape": [None], "dtype": "string"}
    assert card["processing_layers"] == ["TextVectorization"]
    assert {format_: info["status"] for format_, info in card["formats"].items()} == {
        "keras": "verified", "saved_model": "verified", "tflite": "unsupported", "onnx": "verified"}
    assert card["formats"]["onnx"]["needs_onnxruntime_extensions"] is True
    reason = card["formats"]["tflite"]["reason"]
    assert "StringLower" in reason and "Flex" in reason and "SavedModel or ONNX" in reason
    if name == "ngram_mlp":  # the bigrams: an op not even the Flex delegate has
        assert "custom TFLite operator for StringNGrams" in reason
    assert any("tflite skipped" in message for message in caught)

    model = result.model(trial_of(result, name))
    # the held-out samples and odd texts, then one empty text alone (a batch without a single token)
    for texts in (np.concatenate([ODD_TEXTS, np.load(folder / "sample_inputs.npy")]), ODD_TEXTS[3:4]):
        expected = model(tf.constant(texts.astype(object)), training=False).numpy()
        outputs = reload_outputs(folder, card, texts, tmp_path)
        assert set(outputs) == {"keras", "saved_model", "onnx"}
        for runtime, actual in outputs.items():
            np.testing.assert_allclose(actual, expected, atol=1e-6, rtol=0, err_msg=f"{runtime} on {list(texts)}")
        if len(texts) > 1:  # the outputs depend on the words, so a tokenising mistake would show
            assert np.ptp(expected[:, 0]) > 1e-5


def test_onnx_ngrams_and_tf_idf_equal_tensorflow_exactly(reviews, tmp_path):
    """The vectoriser alone: every n-gram count and weight, not only the probabilities they lead to."""
    import keras
    import tensorflow as tf

    from automodel.export.formats import Signature
    from automodel.export.onnx import ONNXFormat

    inputs, x = reviews.spec.inputs()
    for ngrams in (1, 2):
        model = keras.Model(inputs, reviews.spec.ngram_vectorizer(20000, ngrams)(x))
        folder = tmp_path / str(ngrams)
        folder.mkdir()
        info = ONNXFormat().write(model, Signature.of(model, "classification"), folder, "vectorizer")
        texts = np.concatenate([ODD_TEXTS, reviews.test[0].astype(str), ["is is is not not", "!!!"]])
        expected = model(tf.constant(texts.astype(object))).numpy()
        assert (expected[:, 1:] > 0).sum() > len(texts)  # known n-grams were counted
        np.testing.assert_allclose(run_onnx(folder / info["path"], texts, tmp_path, extensions=True), expected,
                                   atol=1e-6, rtol=0)
