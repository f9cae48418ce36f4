"""Tutorial notebooks run top to bottom in a real kernel."""

import shutil
from pathlib import Path

import nbformat
from nbclient import NotebookClient

TUTORIALS = Path(__file__).parent.parent / "tutorials"


def run_notebook(name: str, folder: Path):
    shutil.copy(TUTORIALS / name, folder / name)
    notebook = nbformat.read(folder / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return notebook


def test_write_a_plugin_tutorial(tmp_path):
    notebook = run_notebook("write_a_plugin.ipynb", tmp_path)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    listed = code[1].outputs[0]["data"]["text/plain"]
    assert "'mlp'" in listed and "'cnn'" in listed
    board = code[2].outputs[0]["data"]["text/plain"]
    assert "mlp" in board and "cnn" in board and "completed" in board
    assert "'accuracy'" in code[3].outputs[0]["data"]["text/plain"]
