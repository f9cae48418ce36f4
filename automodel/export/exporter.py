"""Export a trained model for deployment, and prove that each artifact reloads and agrees.

``SearchResult.export`` and ``automodel export`` call ``export_model``. The order
is what keeps it safe: every argument is checked before anything is written;
the artifacts go into a hidden folder beside the target; each is loaded back by
its own runtime and run on samples of the held-out test split, and the largest
difference from the trained model must stay within tolerance; only then is the
folder renamed into place (``runs.atomic``; replacing an earlier export only
with ``overwrite=True``, and only once the new one is complete). A failure or an
interruption at any point leaves the target as it was.

The samples are real rows of the user's data, so they verify the export in
memory and are written beside the model (``sample_inputs.npy``, with the trained
model's outputs on them as ``sample_outputs.npy``) only when
``include_samples=True`` asks: an export is made to be shipped, and what it
ships should be the model, not the data. Real rows rather than synthetic ones,
because they are what the artifacts will be given: text that the vocabulary
knows, padded series, pixel values in the data's range.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import re
import shutil
import uuid
import warnings
from pathlib import Path

import numpy as np

from ..data.prepared import in_memory, load_split
from ..errors import AutomodelError
from ..registry import distribution_version as version
from ..runs.leaderboard import ENSEMBLE, WITH_MODEL, searched_hyperparameters
from ..runs.atomic import atomic_write
from ..runs.rundir import now, read_json
from .formats import KerasFormat, SavedModelFormat, Signature, TFLiteFormat, UnsupportedFormat, as_numpy, to_tensor
from .model_card import CARD_FORMAT, CARD_JSON, CARD_MARKDOWN, is_card, markdown
from .onnx import ONNXFormat, check_installed

FORMATS = {fmt.name: fmt for fmt in (KerasFormat(), SavedModelFormat(), TFLiteFormat(), ONNXFormat())}
DEFAULT_FORMATS = ("keras", "saved_model", "tflite")
SAMPLES = 32
SAMPLE_FILES = {"inputs": "sample_inputs.npy", "outputs": "sample_outputs.npy"}  # written with include_samples=True
# largest allowed |exported - trained|, scaled by max(1, largest |trained output|)
TOLERANCE = {"float16": 1e-2, "bfloat16": 1e-2, "float32": 1e-4, "float64": 1e-6}
EXPORT_VERSIONS = ("automodel", "tensorflow", "keras", "numpy")
FORMAT_VERSIONS = {
    "tflite": ("ai-edge-litert",),
    "onnx": ("tf2onnx", "onnx", "onnxruntime", "onnxruntime-extensions"),
}


def export_model(result, path, formats=None, trial=None, overwrite: bool = False,
                 include_samples: bool = False) -> dict:
    """Write ``trial``'s model (default: the best) to the folder ``path`` in ``formats``.

    ``include_samples`` also writes the verification samples and the trained
    model's outputs on them (``SAMPLE_FILES``). Returns the model card (also
    written as ``model_card.json``). Raises ``AutomodelError`` before writing
    anything when an argument is wrong, and after writing nothing when an
    artifact disagrees with the trained model.
    """
    formats = _check_formats(formats)
    target = _check_target(Path(path), overwrite)
    choice = trial
    trial, row = _check_trial(result, trial)
    if "onnx" in formats:
        check_installed()
    model = result.model(choice)
    signature = Signature.of(model, result.spec.target)
    if "onnx" in formats:
        check_installed(text=signature.is_text)
    x, source = _samples(result, signature)
    expected = as_numpy(model(to_tensor(x), training=False))
    model_name = re.sub(r"[^A-Za-z0-9_.-]+", "_", result.path.name).strip("._") or "model"

    with _staged(target, overwrite) as folder:
        outcomes = {name: _export_one(name, model, signature, folder, model_name, x, expected) for name in formats}
        if not any(outcome["status"] == "verified" for outcome in outcomes.values()):
            reasons = "; ".join(f"{name}: {outcome['reason']}" for name, outcome in outcomes.items())
            raise AutomodelError(f"None of the requested formats can represent this model ({reasons}).")
        if include_samples:
            np.save(folder / SAMPLE_FILES["inputs"], x)
            np.save(folder / SAMPLE_FILES["outputs"], expected)
        card = _card(result, choice, row, model, signature, outcomes, len(x), source, model_name)
        card["samples"] = dict(SAMPLE_FILES) if include_samples else None
        card["inference"] = _inference(result, model, trial, x)
        (folder / CARD_JSON).write_text(json.dumps(card, indent=1))  # the folder itself is renamed atomically
        (folder / CARD_MARKDOWN).write_text(markdown(card))
    try:
        result.run.record_export(target, str(card["trial"]))
    except OSError as exc:  # a run directory this user may read but not write: the export itself is whole
        warnings.warn(f"automodel: the export is not recorded in {result.path} ({exc}).", UserWarning, stacklevel=2)
    return card


def _check_formats(formats) -> list[str]:
    if formats is None:
        return list(DEFAULT_FORMATS)
    if isinstance(formats, str):
        formats = [formats]
    formats = list(dict.fromkeys(formats))
    if not formats:
        raise AutomodelError(f"formats is empty: name at least one of {', '.join(FORMATS)}.")
    unknown = [name for name in formats if name not in FORMATS]
    if unknown:
        raise AutomodelError(f"Unknown export format(s) {', '.join(map(repr, unknown))}. Choose from: {', '.join(FORMATS)}.")
    return formats


def _check_target(target: Path, overwrite: bool) -> Path:
    if target.exists() and not target.is_dir():
        raise AutomodelError(f"{target} is a file; export writes a folder. Choose a folder path.")
    if target.exists() and any(target.iterdir()):
        if not overwrite:
            raise AutomodelError(
                f"{target} already exists. Pass overwrite=True (--overwrite) to replace it, or choose another path."
            )
        if not _is_export(target):
            raise AutomodelError(
                f"{target} is not an automodel export (no {CARD_JSON}), so automodel will not replace it. "
                "Choose another path."
            )
    return target


def _is_export(folder: Path) -> bool:
    try:
        return is_card(read_json(folder / CARD_JSON))
    except (OSError, ValueError):
        return False


def _check_trial(result, trial):
    """The trial id a choice (None, "refit" or an id) names, and its leaderboard row."""
    board = result.leaderboard()
    trial = result.resolve(trial)[0]
    rows = board[board["trial"] == trial]
    if trial == ENSEMBLE and not rows.empty:
        return trial, rows.iloc[0]
    if rows.empty:
        raise AutomodelError(f"Trial {trial!r} is not in {result.path}; its trials are {', '.join(board['trial'])}.")
    row = rows.iloc[0]
    if row["status"] not in WITH_MODEL:
        completed = ", ".join(board.loc[board["status"].isin(WITH_MODEL), "trial"]) or "none"
        reason = f" ({row['reason']})" if row.get("reason") else ""
        raise AutomodelError(
            f"Trial {trial} is {row['status']}{reason}, so it has no model to export. "
            f"Completed trials: {completed}."
        )
    return trial, row


def _samples(result, signature: Signature) -> tuple[np.ndarray, str]:
    """Inputs to check the artifacts on: the stored test split, or seeded noise for a generator."""
    shape = tuple(signature.input_shape[1:])
    split = load_split(result.run, "test", result.meta)
    stored = None if split is None else in_memory(split, limit=SAMPLES)
    if stored is not None:
        x = stored[0]
        if x.dtype == object:  # texts: a fixed-width str array saves and loads without pickle
            x = x.astype(str)
        if x.shape[1:] != shape and None not in shape and math.prod(x.shape[1:]) == math.prod(shape):
            x = x.reshape((len(x), *shape))
        text = x.dtype.kind in "US"
        if x.shape[1:] == shape and text == signature.is_text:
            return (x if text else x.astype(signature.input_dtype)), "the held-out test split"
    if signature.input_dtype.startswith("float") and None not in shape:
        rng = np.random.default_rng(result.meta.get("seed", 0))
        x = rng.standard_normal((SAMPLES, *shape)).astype(signature.input_dtype)
        return x, "seeded standard-normal inputs"
    raise AutomodelError(
        f"No sample inputs of shape {shape} and dtype {signature.input_dtype} to verify the export on: "
        f"the test split in {result.path} does not match the model's input."
    )


def _export_one(name, model, signature, folder, model_name, x, expected) -> dict:
    fmt = FORMATS[name]
    try:
        info = fmt.write(model, signature, folder, model_name)
    except UnsupportedFormat as exc:
        warnings.warn(f"automodel export: {name} skipped: {exc}", stacklevel=3)
        return {"status": "unsupported", "reason": str(exc)}
    actual = fmt.predict(folder, info, signature, x)
    if actual.shape != expected.shape:
        raise AutomodelError(
            f"The {name} export returns shape {actual.shape} for {len(x)} samples, the trained model "
            f"{expected.shape}. Nothing was exported."
        )
    difference = float(np.max(np.abs(actual.astype("float64") - expected))) if expected.size else 0.0
    tolerance = TOLERANCE.get(str(expected.dtype), 1e-4) * max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    if not difference <= tolerance:  # also catches NaN
        raise AutomodelError(
            f"The {name} export disagrees with the trained model: the largest difference on {len(x)} "
            f"samples is {difference:.3g}, over the tolerance {tolerance:.3g}. Nothing was exported."
        )
    return {
        "status": "verified",
        **info,
        "bytes": _size(folder / info["path"]),
        "runtime": f"{fmt.runtime} {version(fmt.runtime)}",
        "samples": len(x),
        "max_abs_diff": difference,
        "tolerance": tolerance,
    }


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _processing_layers(model) -> list[str]:
    """Keras preprocessing layers inside the model: what a deployment no longer has to do."""
    found = []
    for layer in getattr(model, "layers", []):
        if type(layer).__module__.startswith("keras.src.layers.preprocessing"):
            found.append(type(layer).__name__)
        found += _processing_layers(layer)
    return list(dict.fromkeys(found))


def _card(result, choice, row, model, signature, outcomes, samples, source, model_name) -> dict:
    meta = result.meta
    trained = result.model_source(choice)
    trial = trained["trial"]
    objective = meta["objective"]["name"]
    validation = {
        key: float(value)
        for key, value in row.items()
        if (key == objective or str(key).startswith("val_")) and isinstance(value, numbers.Number) and not math.isnan(value)
    }
    try:
        test = result.evaluate(trial_id=choice)
    except AutomodelError as exc:
        test = None
        warnings.warn(f"automodel export: no test metrics: {exc}", stacklevel=3)
    hyperparameters = {} if trial == ENSEMBLE else result.run.keras_tuner_trial(trial)["hyperparameters"]["values"]
    distributions = EXPORT_VERSIONS + sum((FORMAT_VERSIONS.get(name, ()) for name in outcomes), ())
    return {
        "automodel_model_card": CARD_FORMAT,
        "name": model_name,
        "created": now(),
        "task": result.task,
        "trial": trial,
        "trained_on": trained,
        "architecture": ENSEMBLE if trial == ENSEMBLE else hyperparameters.get("architecture"),
        **({"members": _members(result, trained["members"])} if trial == ENSEMBLE else {}),
        "hyperparameters": searched_hyperparameters(hyperparameters),
        "input": {
            "name": signature.input_name,
            "shape": list(signature.input_shape),
            "dtype": signature.input_dtype,
        },
        "output": {"name": signature.output_name, "shape": [None, *model.outputs[0].shape[1:]]},
        "processing_layers": _processing_layers(model),
        "class_names": result.spec.class_names,
        "metrics": {"validation": validation, "test": test},
        "data": meta.get("data", {}),
        "seed": meta.get("seed"),
        "versions": {
            "trained_with": meta.get("versions", {}),
            "exported_with": {name: version(name) for name in distributions if version(name)},
        },
        "verification": {"samples": samples, "source": source, "tolerance": "1e-4 for float32, scaled by max(1, |output|)"},
        "formats": outcomes,
    }


def _members(result, members: list[dict]) -> list[dict]:
    """An ensemble's members as the card lists them: trial, architecture, weight, size, what it was trained on."""
    board = result.leaderboard().set_index("trial")
    return [{"trial": m["trial"], "architecture": board.loc[m["trial"], "architecture"], "weight": m["weight"],
             "params": int(board.loc[m["trial"], "params"]), "trained_on": m["trained_on"]} for m in members]


def _inference(result, model, trial: str, x) -> dict:
    """Parameters and measured seconds per sample of the exported model, and of the best single one beside an ensemble."""
    measured = {"params": int(model.count_params()), "seconds_per_sample": seconds_per_sample(model, x)}
    if trial != ENSEMBLE:
        return measured
    best = result.model(result.best_single())
    return {**measured, "best_single": {"trial": result.best_trial_id, "params": int(best.count_params()),
                                        "seconds_per_sample": seconds_per_sample(best, x)}}


def seconds_per_sample(model, x, repeats: int = 5) -> float:
    """The median time of ``repeats`` calls of ``model`` on the batch ``x``, per sample (after one warm-up call)."""
    import time

    inputs = to_tensor(x)
    model(inputs, training=False)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        as_numpy(model(inputs, training=False))
        times.append(time.perf_counter() - started)
    return float(np.median(times)) / len(x)


def _staged(target: Path, overwrite: bool):
    """A hidden folder beside ``target`` (``with _staged(...) as folder``), moved into place only if the block succeeds.

    ``os.mkdir`` makes it with the mode of any new folder (the umask applies), so the
    export is as readable as the user's other folders, and the process' umask is
    neither read nor changed (threads export from the widgets). Any error, moving
    into place included, removes it.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    return atomic_write(target, folder=True, move=lambda staging, _: _move_into_place(staging, target, overwrite))


def _move_into_place(staging: Path, target: Path, overwrite: bool) -> None:
    if not (target.exists() and any(target.iterdir())):
        if target.exists():
            target.rmdir()
        os.rename(staging, target)
        return
    _check_target(target, overwrite)  # it may have appeared while we exported
    old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(target, old)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)
