"""The notebook tutorial runs in a real kernel, and a search from it prints nothing into the notebook.

In a kernel, what native code writes to file descriptors 1 and 2 (TensorFlow's
start-up lines, TensorFlow Lite's) and what a background thread prints are
forwarded into the notebook's cells; so this is where flooding would show.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TUTORIAL = Path(__file__).parent.parent / "tutorials" / "01_quick_start.ipynb"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _stream_text(cell, name: str | None = None) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream" and name in (None, o.name))


def test_the_tutorial_runs_and_a_search_leaves_the_notebook_clean(tmp_path, monkeypatch):
    # The kernel starts as a user's does: importing automodel here set the first
    # variable, and ipykernel forwards no native output while it sees the second.
    for variable in ("TF_CPP_MIN_LOG_LEVEL", "PYTEST_CURRENT_TEST"):
        monkeypatch.delenv(variable, raising=False)
    shutil.copy(TUTORIAL, tmp_path / TUTORIAL.name)
    notebook = nbformat.read(tmp_path / TUTORIAL.name, as_version=4)
    client = NotebookClient(notebook, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    extra = [
        nbformat.v4.new_code_cell(
            "import sys\n"
            "print('tensorflow' in sys.modules)\n"
            "app.form.tuner.value = 'random'; app.form.max_trials.value = 2; app.form.epochs.value = 1\n"
            "app.start(); app.wait(300)\n"
            "print(app.notice.kind, int((app.board.board['trial'] != 'ensemble').sum()), 'tensorflow' in sys.modules)\n"
            "app.export(); app.exporter.wait(300)  # the default formats, TensorFlow Lite's native log included\n"
            "print(app.exporter.notice.kind, sorted(app.exporter.card['formats']))"
        ),
        nbformat.v4.new_code_cell("import time; time.sleep(1.5)  # late output from any thread would land here"),
    ]
    with client.setup_kernel():
        for index, cell in enumerate(notebook.cells):
            client.execute_cell(cell, index)
        for cell in extra:
            notebook.cells.append(cell)
            client.execute_cell(cell, len(notebook.cells) - 1)

    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    panel, view = code[0], code[1]
    assert any(WIDGET_VIEW in o.get("data", {}) for o in panel.outputs)  # the panel is displayed
    assert any(WIDGET_VIEW in o.get("data", {}) for o in view.outputs)
    search, late = code[2], code[3]
    # TensorFlow loaded on Start, and nothing else was printed by the search or the export
    assert _stream_text(search) == "False\nsuccess 2 True\nsuccess ['keras', 'saved_model', 'tflite']\n"
    assert late.outputs == []
    for cell in code:
        assert not [o for o in cell.outputs if o.output_type == "error"]
        assert _stream_text(cell, "stderr") == ""
    assert (tmp_path / "automodel-runs" / "digits" / "run.json").is_file()
    assert (tmp_path / "exported-model" / "model.tflite").is_file()


def test_the_python_api_loads_tensorflow_without_its_start_up_lines(monkeypatch):
    # what native code writes to descriptor 2 lands in the notebook cell that runs next
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    done = subprocess.run(
        [sys.executable, "-c", "import sys, automodel; automodel.search; print('tensorflow' in sys.modules)"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0 and done.stdout == "True\n" and done.stderr == "", done.stderr
