"""ONNX export through tf2onnx, verified by ONNX Runtime in a process without TensorFlow.

Text models keep their string preprocessing: tf2onnx maps TensorFlow's string
ops to the ``ai.onnx.contrib`` operators of onnxruntime-extensions (its
documented route for string ops), with the corrections and additions of
``onnx_text`` so the ONNX model splits, lowercases, makes n-grams and
counts them exactly as TensorFlow does.

Verification runs in a subprocess on purpose: it proves the model serves
without TensorFlow, and onnxruntime-extensions' regular expressions misbehave
when TensorFlow (which bundles another copy of the same library) is loaded
into the same process first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from ..errors import AutomodelError, last_line
from .formats import Signature, UnsupportedFormat, quiet_loggers
from .onnx_text import CONTRIB_DOMAIN, HANDLERS

OPSET = 17
INSTALL = 'pip install "automodel[onnx]"'
# what the ONNX format needs at export time; text models also need the extensions
REQUIRED = ("tf2onnx", "onnxruntime")
TEXT_REQUIRED = ("onnxruntime_extensions",)

RUNNER = """
import sys
import numpy as np
import onnxruntime

model, inputs, outputs, input_name, contrib = sys.argv[1:6]
options = onnxruntime.SessionOptions()
if contrib == "1":
    import onnxruntime_extensions
    options.register_custom_ops_library(onnxruntime_extensions.get_library_path())
session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
x = np.load(inputs, allow_pickle=False)
x = x.astype(object) if x.dtype.kind == "U" else x
np.save(outputs, session.run(None, {input_name: x})[0])
"""


def check_installed(text: bool = False) -> None:
    """Raise, naming the install command, when the ONNX extra is missing."""
    missing = []
    for module in REQUIRED + (TEXT_REQUIRED if text else ()):
        try:
            __import__(module)
        except ImportError:
            missing.append(module)
    if missing:
        raise AutomodelError(
            f"The onnx format needs {', '.join(missing)}, which is not installed. "
            f"Install the extra with: {INSTALL}"
        )


class ONNXFormat:
    name = "onnx"
    runtime = "onnxruntime"

    def write(self, model, signature: Signature, folder: Path, model_name: str) -> dict:
        check_installed(text=signature.is_text)
        import onnx
        import tf2onnx

        options = {}
        if signature.is_text:
            options = dict(
                custom_op_handlers=dict(HANDLERS),
                extra_opset=[onnx.helper.make_opsetid(CONTRIB_DOMAIN, 1)],
            )
        with quiet_loggers("tf2onnx"):
            try:
                proto, _ = tf2onnx.convert.from_keras(
                    model, input_signature=[signature.tensor_spec()], opset=OPSET, **options
                )
            except Exception as exc:  # tf2onnx raises plain exceptions for what it cannot map
                raise UnsupportedFormat(f"tf2onnx cannot convert this model: {exc}") from exc
        unsupported = _unconverted_ops(proto)
        if unsupported:
            raise UnsupportedFormat(
                f"tf2onnx has no ONNX equivalent for the TensorFlow op(s) {', '.join(unsupported)}. "
                "Deploy the SavedModel export instead."
            )
        _rename_output(proto, signature.output_name)
        onnx.save(proto, folder / "model.onnx")
        contrib = any(node.domain == CONTRIB_DOMAIN for node in proto.graph.node)
        info = {"path": "model.onnx", "opset": OPSET, "needs_onnxruntime_extensions": contrib}
        if contrib:
            info["note"] = (
                "string preprocessing uses onnxruntime-extensions: register "
                "onnxruntime_extensions.get_library_path() with SessionOptions.register_custom_ops_library"
            )
        return info

    def predict(self, folder: Path, info: dict, signature: Signature, x: np.ndarray) -> np.ndarray:
        with tempfile.TemporaryDirectory() as scratch:
            inputs, outputs = Path(scratch) / "x.npy", Path(scratch) / "y.npy"
            np.save(inputs, x)
            command = [
                sys.executable, "-c", RUNNER, str(folder / info["path"]), str(inputs), str(outputs),
                signature.input_name, "1" if info["needs_onnxruntime_extensions"] else "0",
            ]
            env = {**os.environ, "PYTHONWARNINGS": "ignore"}
            done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
            if done.returncode != 0:
                raise AutomodelError(f"ONNX Runtime could not run the exported model: {last_line(done.stderr)}")
            return np.load(outputs)


def _unconverted_ops(proto) -> list[str]:
    """TensorFlow ops tf2onnx left in the graph as they were (it logs them and goes on)."""
    import onnx

    known = {"", "ai.onnx", "ai.onnx.ml", CONTRIB_DOMAIN}
    unknown = {node.op_type for node in proto.graph.node if node.domain not in known}
    standard = {
        node.op_type
        for node in proto.graph.node
        if node.domain in ("", "ai.onnx") and not _is_onnx_op(onnx, node.op_type)
    }
    return sorted(unknown | standard)


def _is_onnx_op(onnx, op_type: str) -> bool:
    try:
        onnx.defs.get_schema(op_type, OPSET, "")
    except Exception:  # onnx raises SchemaError for names it does not know
        return False
    return True


def _rename_output(proto, name: str) -> None:
    """Give the graph's output the signature's name, as in the other formats."""
    old = proto.graph.output[0].name
    if old == name:
        return
    for node in proto.graph.node:
        node.output[:] = [name if value == old else value for value in node.output]
        node.input[:] = [name if value == old else value for value in node.input]
    proto.graph.output[0].name = name
