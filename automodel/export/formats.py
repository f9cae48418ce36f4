"""The deployment formats: how each one is written, and how its own runtime runs it.

Every format gets the same ``Signature`` (one named input, one named output), so
a deployment sees the same names in Keras, TensorFlow Serving, TFLite and ONNX.
Each ``predict`` loads the artifact from disk with the runtime a deployment
would use, never the in-memory model, so ``export`` can compare the two.

A format that cannot represent a model at all (TFLite without the Flex delegate
for string ops, say) raises ``UnsupportedFormat``: the export records why and
goes on with the other formats. Any other failure is an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import re
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

from ..errors import AutomodelError, last_line

SERVING_SIGNATURE = "serving_default"
INPUT_NAME = "inputs"
# what the output holds, by the task's target kind
OUTPUT_NAMES = {"classification": "probabilities", "regression": "predictions", "generation": "images"}


class UnsupportedFormat(AutomodelError):
    """This format cannot represent this model; the reason says what to use instead."""


@dataclasses.dataclass(frozen=True)
class Signature:
    """What an exported model takes and returns; ``shape`` has ``None`` for the batch."""

    input_shape: tuple
    input_dtype: str
    output_name: str
    input_name: str = INPUT_NAME

    @classmethod
    def of(cls, model, target: str) -> "Signature":
        inputs, outputs = getattr(model, "inputs", None), getattr(model, "outputs", None)
        if not inputs or not outputs:
            raise AutomodelError(
                f"Model {model.name!r} has no fixed inputs and outputs (a subclassed model?), "
                "so it cannot be exported. Build it with the functional API or keras.Sequential."
            )
        if len(inputs) != 1 or len(outputs) != 1:
            raise AutomodelError(
                f"Model {model.name!r} has {len(inputs)} inputs and {len(outputs)} outputs; "
                "export takes models with one of each."
            )
        dtype = str(inputs[0].dtype)
        return cls((None, *inputs[0].shape[1:]), dtype, OUTPUT_NAMES.get(target, "outputs"))

    @property
    def is_text(self) -> bool:
        return self.input_dtype == "string"

    def tensor_spec(self, batch_size: int | None = None):
        import tensorflow as tf

        return tf.TensorSpec((batch_size, *self.input_shape[1:]), self.input_dtype, name=self.input_name)

    def serving_function(self, model, batch_size: int | None = None):
        """The model as a ``tf.function`` with the named input and output."""
        import tensorflow as tf

        def serve(inputs):
            return {self.output_name: model(inputs, training=False)}

        return tf.function(serve, input_signature=[self.tensor_spec(batch_size)])


def write_saved_model(model, signature: Signature, directory: Path, batch_size: int | None = None) -> None:
    """A SavedModel with one ``serving_default`` signature (what TF Serving calls)."""
    import keras

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(SERVING_SIGNATURE, signature.serving_function(model, batch_size))
    with quiet_loggers("tensorflow"):  # lookup tables (text) draw a warning its authors call safe to ignore
        archive.write_out(str(directory), verbose=False)


class KerasFormat:
    name = "keras"
    runtime = "keras"

    def write(self, model, signature: Signature, folder: Path, model_name: str) -> dict:
        optimizer = getattr(model, "optimizer", None)
        if optimizer is not None and not optimizer.built:  # else load_model warns that its state does not match
            optimizer.build(model.trainable_variables)
        model.save(folder / "model.keras")
        custom = custom_objects(folder / "model.keras")
        info = {"path": "model.keras", "custom_objects": custom}
        if custom:
            info["note"] = f"import {', '.join(sorted({c.rsplit('.', 1)[0] for c in custom}))} before keras.models.load_model"
        return info

    def predict(self, folder: Path, info: dict, signature: Signature, x: np.ndarray) -> np.ndarray:
        import keras

        model = keras.models.load_model(folder / info["path"])
        return as_numpy(model(to_tensor(x), training=False))


def custom_objects(path: Path) -> list[str]:
    """Classes in a ``.keras`` file that Keras itself does not provide (``module.Class``)."""
    with zipfile.ZipFile(path) as archive:
        config = json.loads(archive.read("config.json"))
    found = set()

    def walk(node):
        if isinstance(node, dict):
            module = node.get("module")
            if "class_name" in node and module not in (None, "builtins", "keras") and not str(module).startswith("keras."):
                found.add(f"{module}.{node['class_name']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(config)
    return sorted(found)


class SavedModelFormat:
    """Laid out for TensorFlow Serving: ``MODEL_NAME/1/`` is version 1 of the model."""

    name = "saved_model"
    runtime = "tensorflow"

    def write(self, model, signature: Signature, folder: Path, model_name: str) -> dict:
        write_saved_model(model, signature, folder / model_name / "1")
        return {"path": f"{model_name}/1", "signature": SERVING_SIGNATURE, "tags": ["serve"]}

    def predict(self, folder: Path, info: dict, signature: Signature, x: np.ndarray) -> np.ndarray:
        import tensorflow as tf

        loaded = tf.saved_model.load(str(folder / info["path"]))
        outputs = loaded.signatures[info["signature"]](**{signature.input_name: to_tensor(x)})
        return outputs[signature.output_name].numpy()


class TFLiteFormat:
    """A TFLite flatbuffer with built-in operators only, so any TFLite runtime runs it.

    Recurrent layers need a fixed batch size for TFLite's built-in operators, so
    when the batch-free conversion fails the model is converted for one sample
    at a time (the usual case on a device) and the card says so.
    """

    name = "tflite"

    @property
    def runtime(self) -> str:
        return "ai-edge-litert" if _litert() else "tensorflow"

    def write(self, model, signature: Signature, folder: Path, model_name: str) -> dict:
        errors = []
        for batch_size in (None, 1):
            try:
                flatbuffer = self._convert(model, signature, batch_size)
            except Exception as exc:  # the converter raises its own ConverterError
                errors.append(str(exc))
                continue
            (folder / "model.tflite").write_bytes(flatbuffer)
            return {"path": "model.tflite", "signature": SERVING_SIGNATURE, "batch_size": batch_size}
        flex, custom = self._missing_ops(model, signature)
        if flex or custom:
            import tensorflow as tf

            needs = []
            if flex:
                needs.append("the Select TF ops (Flex) delegate")
            if custom:
                needs.append(f"a custom TFLite operator for {', '.join(custom)} (not even Flex has one)")
            raise UnsupportedFormat(
                f"TFLite has no built-in operators for {', '.join(flex + custom)}; such a model needs "
                f"{' and '.join(needs)}, which the TFLite interpreter of TensorFlow "
                f"{tf.__version__} does not include, so the artifact could not be verified. "
                "Deploy the SavedModel or ONNX export instead."
            )
        raise AutomodelError(f"TFLite conversion failed: {last_line(errors[-1])}")

    @staticmethod
    def _convert(model, signature: Signature, batch_size: int | None, select_tf_ops: bool = False) -> bytes:
        import tensorflow as tf

        with tempfile.TemporaryDirectory() as directory:
            write_saved_model(model, signature, Path(directory), batch_size)
            converter = tf.lite.TFLiteConverter.from_saved_model(directory, signature_keys=[SERVING_SIGNATURE])
            if select_tf_ops:
                converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS, tf.lite.OpsSet.SELECT_TF_OPS]
                converter._experimental_lower_tensor_list_ops = False  # the converter's advice for Flex
                converter.allow_custom_ops = True  # ops not even Flex has (StringNGrams) stay named in the graph
            return converter.convert()

    def _missing_ops(self, model, signature: Signature) -> tuple[list[str], list[str]]:
        """The TensorFlow ops a Flex conversion falls back to, and those it leaves as custom ops.

        Both empty when that conversion fails too (not a matter of missing operators, then).
        """
        try:
            flatbuffer = self._convert(model, signature, 1, select_tf_ops=True)
        except Exception:
            return [], []
        try:
            from tensorflow.lite.python import schema_py_generated as schema
        except ImportError:  # TensorFlow moved its flatbuffer schema: Flex ops are still named verbatim
            return sorted({name.decode() for name in re.findall(rb"Flex([A-Za-z0-9]+)", flatbuffer)}), []
        tflite = schema.ModelT.InitFromObj(schema.Model.GetRootAsModel(flatbuffer, 0))
        # Flex ops are custom ops named Flex<TensorFlow op>
        names = {code.customCode.decode() for code in tflite.operatorCodes if code.customCode}
        flex = sorted(name[len("Flex"):] for name in names if name.startswith("Flex"))
        return flex, sorted(name for name in names if not name.startswith("Flex"))

    def predict(self, folder: Path, info: dict, signature: Signature, x: np.ndarray) -> np.ndarray:
        from ..startup import quiet_native_stderr

        with quiet_native_stderr():  # the interpreter's native notice of its CPU delegate, which a notebook would show
            interpreter = _interpreter(folder / info["path"])
            runner = interpreter.get_signature_runner(info["signature"])
            batches = [x] if info["batch_size"] is None else np.split(x, len(x))
            outputs = [runner(**{signature.input_name: batch})[signature.output_name] for batch in batches]
        return np.concatenate(outputs)


def _litert():
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        return None
    return Interpreter


def _interpreter(path: Path):
    """LiteRT's interpreter when installed, else the one TensorFlow still ships."""
    interpreter = _litert()
    if interpreter is None:
        import tensorflow as tf

        interpreter = tf.lite.Interpreter
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tf.lite.Interpreter's notice that LiteRT replaces it
        return interpreter(model_path=str(path))


def to_tensor(x: np.ndarray):
    import tensorflow as tf

    return tf.constant(x.astype(object) if x.dtype.kind == "U" else x)


def as_numpy(value) -> np.ndarray:
    return value.numpy() if hasattr(value, "numpy") else np.asarray(value)


@contextlib.contextmanager
def quiet_loggers(*names: str, level: int = 40):
    """Raise the level of chatty converter loggers for the duration of a block."""
    import logging

    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(level)
    try:
        yield
    finally:
        for logger, old in zip(loggers, levels):
            logger.setLevel(old)
