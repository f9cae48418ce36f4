"""Every tutorial notebook runs top to bottom in a real kernel and shows what it says it shows.

Each test copies its notebook into a temporary folder and executes it cell by
cell with nbclient; one more cell, run in the same kernel afterwards, reports as
JSON the state the assertions check (leaderboards, scores, exported outputs).
What a reader would see is checked too: no cell fails, and nothing lands on
stderr but the few one-line notices TensorFlow's runtime writes at ERROR level
and carries on from (native code, which automodel cannot tell from real errors).

The kernel starts as a user's does: without ``PYTEST_CURRENT_TEST`` (ipykernel
forwards no native output while it sees it) and without the
``TF_CPP_MIN_LOG_LEVEL`` that importing automodel in this process set.
``01_quick_start.ipynb`` runs in test_notebook_tutorial.py, and in JupyterLab and
Notebook 7 in test_browser.py.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import nbformat
import numpy as np
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parent.parent
TUTORIALS = ROOT / "tutorials"
RUN_HERE = [
    "02_python_api.ipynb",
    "03_write_a_plugin.ipynb",
    "04_export.ipynb",
    "05_transfer_learning_vgg16.ipynb",
    "06_sequences_and_text.ipynb",
    "07_generating_images.ipynb",
    "08_scaling_out.ipynb",
]
RUN_ELSEWHERE = ["01_quick_start.ipynb"]
# one-line ERROR-level notices of TensorFlow's runtime after which it works on
NATIVE_NOTICES = ("oneDNN supports DT_BOOL only on platforms with AVX-512", "remapper failed")
NATIVE_LOG_LINE = re.compile(r"^[EWIF]\d{4} [\d:. ]+\d+ \S+:\d+\] ")


@pytest.fixture(autouse=True)
def users_kernel(monkeypatch):
    for variable in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST"):
        monkeypatch.delenv(variable, raising=False)


def stream(cell, name: str | None = None) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and name in (None, o.name))


def shown(cell) -> str:
    """What a cell printed and displayed, as text."""
    texts = [o.get("data", {}).get("text/plain", "") for o in cell.outputs if o.output_type != "stream"]
    return stream(cell) + "".join(texts)


def code_cell(notebook, start: str):
    """The code cell whose source starts with ``start``."""
    found = [cell for cell in notebook.cells if cell.cell_type == "code" and cell.source.startswith(start)]
    assert len(found) == 1, f"{len(found)} code cells start with {start!r}"
    return found[0]


def run_notebook(name: str, folder: Path, report: str) -> tuple[object, dict]:
    """Execute the tutorial ``name`` in ``folder``; return it and what ``report`` printed as JSON."""
    shutil.copy(TUTORIALS / name, folder / name)
    notebook = nbformat.read(folder / name, as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}})
    check = nbformat.v4.new_code_cell("import json\nprint(json.dumps(" + report + ", default=float))")
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        notebook.cells.append(check)
        client.execute_cell(check, len(notebook.cells) - 1)
        notebook.cells.pop()
    for cell in (cell for cell in notebook.cells if cell.cell_type == "code"):
        assert not [o for o in cell.outputs if o.output_type == "error"]
        noise = [
            line for line in stream(cell, "stderr").splitlines()
            if line.strip() and not (NATIVE_LOG_LINE.match(line) and any(n in line for n in NATIVE_NOTICES))
        ]
        assert noise == [], f"stderr in a cell of {name}:\n{cell.source}\n---\n" + "\n".join(noise)
    return notebook, json.loads(stream(check, "stdout"))


def test_every_tutorial_is_run_by_a_test_and_stored_without_outputs():
    notebooks = sorted(path.name for path in TUTORIALS.glob("*.ipynb"))
    assert notebooks == sorted(RUN_HERE + RUN_ELSEWHERE)
    assert [name[:2] for name in notebooks] == [f"{i:02d}" for i in range(1, len(notebooks) + 1)]
    assert not list(TUTORIALS.glob("*.md"))  # recipes live in the notebooks
    readme = (ROOT / "README.md").read_text()
    for name in notebooks:
        assert f"tutorials/{name}" in readme, f"README.md does not list {name}"
        notebook = nbformat.read(TUTORIALS / name, as_version=4)
        nbformat.validate(notebook)
        for cell in notebook.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{name} is stored with outputs"


def test_python_api(tmp_path):
    notebook, got = run_notebook(
        "02_python_api.ipynb",
        tmp_path,
        """{
            "board": result.leaderboard().query("trial != 'ensemble'")[["trial", "status"]].to_dict("list"),
            "reopened": len(again.leaderboard().query("trial != 'ensemble'")),
            "test": result.evaluate(),
            "new": new_scores,
            "predicted_right": float((predicted == y_new).mean()),
        }""",
    )
    first_search = stream(code_cell(notebook, "import automodel"))
    assert first_search.count("cnn completed, val_accuracy") == 3
    resumed = stream(code_cell(notebook, "result = automodel.search(")).strip().splitlines()
    # only the new trial trained (the median rule may prune it)
    assert len(resumed) == 1 and re.match(r"trial 3: cnn (completed|pruned)", resumed[0])
    # a fourth trial may be pruned by the median rule (three ended trials are its minimum)
    assert sorted(got["board"]["trial"]) == ["0", "1", "2", "3"] and set(got["board"]["status"]) <= {"completed", "pruned"}
    assert got["reopened"] == 4
    assert got["test"]["accuracy"] > 0.7 and got["new"]["accuracy"] > 0.7  # chance: 0.1
    assert got["predicted_right"] == pytest.approx(got["new"]["accuracy"])
    assert "x has 1597 samples but y has 100" in stream(code_cell(notebook, "try:"))


def test_write_a_plugin(tmp_path, monkeypatch):
    # pip installs into a folder on the kernel's path, not into this environment, and builds offline
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    pip = {"TARGET": str(site), "NO_DEPS": "1", "NO_INDEX": "1", "ROOT_USER_ACTION": "ignore",
           "DISABLE_PIP_VERSION_CHECK": "1", "NO_BUILD_ISOLATION": "0"}  # pip reads "0" as "no isolation"
    for key, value in pip.items():
        monkeypatch.setenv(f"PIP_{key}", value)
    notebook, got = run_notebook(
        "03_write_a_plugin.ipynb",
        tmp_path,
        """{
            "board": board.query("trial != 'ensemble'")[["architecture", "status"]].to_dict("list"),
            "test": result.evaluate(),
            "plugins": [p.name for p in automodel.list_plugins()],
        }""",
    )
    for name in ("automodel_mlp.py", "pyproject.toml"):  # the notebook writes the example package, exactly
        assert (tmp_path / "automodel-mlp" / name).read_text() == (ROOT / "examples" / "automodel-mlp" / name).read_text()
    assert "Successfully installed automodel-mlp-0.1.0" in stream(code_cell(notebook, "%pip install"))
    assert "from automodel-mlp 0.1.0 (plugin mlp)" in stream(code_cell(notebook, "!automodel plugins"))
    assert not re.search(r"^mlp\b", stream(code_cell(notebook, "!AUTOMODEL_DISABLE_PLUGINS=mlp")), re.MULTILINE)
    assert {"mlp", "cnn"} == set(got["board"]["architecture"]) and set(got["board"]["status"]) <= {"completed", "pruned"}
    assert got["test"]["accuracy"] > 0.7
    assert {"mlp", "linear", "cnn"} <= set(got["plugins"])


def test_export(tmp_path):
    notebook, got = run_notebook(
        "04_export.ipynb",
        tmp_path,
        """{
            "formats": {name: info["status"] for name, info in card["formats"].items()},
            "differences": {name: float(np.abs(out - expected).max()) for name, out in outputs.items()},
            "served": float(np.abs(served_outputs - expected[:3]).max()),
            "classes": card["class_names"],
        }""",
    )
    assert got["formats"] == dict.fromkeys(["keras", "saved_model", "tflite", "onnx"], "verified")
    assert set(got["differences"]) == {"keras", "saved_model", "tflite", "onnx"}
    assert max(got["differences"].values()) < 1e-4 and got["served"] < 1e-4
    assert got["classes"] == [str(d) for d in range(10)]
    signature = stream(code_cell(notebook, "!saved_model_cli show"))
    assert "inputs['inputs']" in signature and "outputs['probabilities']" in signature
    card = code_cell(notebook, "from IPython.display import Markdown")
    assert any("text/markdown" in o.get("data", {}) for o in card.outputs)
    for path in ("model.keras", "digits/1/saved_model.pb", "model.tflite", "model.onnx", "MODEL_CARD.md"):
        assert (tmp_path / "exported" / path).is_file()


@pytest.fixture
def vgg16_weights(tmp_path, monkeypatch):
    """VGG16 weights as a user brings the ImageNet file, here randomly initialised (no download in tests)."""
    import keras

    base = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    path = tmp_path / "vgg16_notop.weights.h5"
    base.save_weights(path)
    np.save(tmp_path / "block1_conv1.npy", base.get_layer("block1_conv1").kernel.numpy())
    monkeypatch.setenv("AUTOMODEL_VGG16_WEIGHTS", str(path))
    return path


def test_transfer_learning_vgg16(tmp_path, vgg16_weights):
    notebook, got = run_notebook(
        "05_transfer_learning_vgg16.ipynb",
        tmp_path,
        """{
            "board": result.leaderboard().query("trial != 'ensemble'")[["architecture", "status", "epochs"]].to_dict("list"),
            "source": result.meta["data"]["source"],
            "test": result.evaluate(),
            "loaded": bool(np.array_equal(
                result.best_model().get_layer("vgg16").get_layer("block1_conv1").kernel.numpy(),
                np.load("block1_conv1.npy"),
            )),
            "predicted": result.predict(np.stack([new_image, new_image])).tolist(),
        }""",
    )
    assert len(list((tmp_path / "photos").glob("*/*.png"))) == 120
    assert str(vgg16_weights) in shown(code_cell(notebook, "import os"))
    assert got["board"] == {"architecture": ["vgg16"], "status": ["completed"], "epochs": [3]}
    assert got["source"] == "image_folder"
    assert got["loaded"]  # the base came from the file (block 1 is never fine-tuned)
    assert 0 <= got["test"]["accuracy"] <= 1  # random weights: no promise on accuracy
    assert set(got["predicted"]) <= {"zero", "one", "two"}


def test_sequences_and_text(tmp_path):
    notebook, got = run_notebook(
        "06_sequences_and_text.ipynb",
        tmp_path,
        """{
            "waves": waves.leaderboard().query("trial != 'ensemble'")[["architecture", "status", "val_accuracy"]].to_dict("list"),
            "wave_labels": waves.predict(new_waves).tolist(),
            "reviews": reviews.leaderboard().query("trial != 'ensemble'")[["status", "val_accuracy"]].to_dict("list"),
            "reviews_test": reviews.evaluate(),
            "review_labels": reviews.predict(texts).tolist(),
        }""",
    )
    assert "text_classification" in stream(code_cell(notebook, "!automodel tasks"))
    assert set(got["waves"]["architecture"]) == {"rnn", "cnn"} and set(got["waves"]["status"]) == {"completed"}
    assert got["waves"]["val_accuracy"][0] > 0.6  # chance: 1/3
    assert set(got["wave_labels"]) <= {"sine", "square", "sawtooth"}
    assert set(got["reviews"]["status"]) == {"completed"} and len(got["reviews"]["status"]) == 2
    assert got["reviews"]["val_accuracy"][0] > 0.75 and got["reviews_test"]["accuracy"] > 0.75  # chance: 1/2
    assert set(got["review_labels"]) <= {"positive", "negative"} and len(got["review_labels"]) == 3


def test_generating_images(tmp_path):
    notebook, got = run_notebook(
        "07_generating_images.ipynb",
        tmp_path,
        """{
            "board": board[["trial", "status", "fid"]].to_dict("list"),
            "untrained": json.loads(
                (result.path / f"trial_{result.best_trial_id}" / "automodel_trial.json").read_text()
            )["fid_untrained"],
            "test": result.evaluate(),
            "images": [list(images.shape), float(images.min()), float(images.max())],
        }""",
    )
    assert set(got["board"]["status"]) == {"completed"} and len(got["board"]["trial"]) == 2
    assert got["board"]["fid"][0] * 3 <= got["untrained"]  # at least 3x closer to the data than untrained
    assert got["test"]["fid"] * 3 <= got["untrained"]  # on the held-out test images
    shape, low, high = got["images"]
    assert shape == [16, 8, 8, 1] and 0 <= low <= high <= 16
    for start in ("from IPython.display import Image", "import matplotlib.pyplot"):  # the sample grid and the plot
        assert any("image/png" in o.get("data", {}) for o in code_cell(notebook, start).outputs)


def test_scaling_out(tmp_path):
    notebook, got = run_notebook(
        "08_scaling_out.ipynb",
        tmp_path,
        """{
            "board": result.leaderboard().query("trial != 'ensemble'")[["status", "epochs"]].to_dict("list"),
            "trained_by": trained_by,
            "pids": [json.loads(p.read_text())["sessions"][-1]["pid"] for p in result.path.glob("trial_*/automodel_trial.json")],
            "kernel": os.getpid(),
            "children": len(__import__("psutil").Process().children(recursive=True)),
            "test": result.evaluate(),
        }""",
    )
    search = stream(code_cell(notebook, "import automodel"))
    assert search.startswith("chief listening on 127.0.0.1:") and search.count("completed, val_accuracy") == 2
    assert got["board"] == {"status": ["completed"] * 2, "epochs": [2, 2]}
    assert set(got["trained_by"].values()) <= {"worker0", "worker1"}
    assert got["kernel"] not in got["pids"]  # trained in worker processes
    assert got["children"] == 0  # which ended with the search
    assert got["test"]["accuracy"] > 0.5
