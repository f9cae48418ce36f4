"""``automodel predict`` and ``automodel evaluate``: a run's model used from the terminal.

Both go through ``SearchResult`` (``predict``, ``predict_proba``, ``evaluate``,
with ``--trial`` passed on as ``trial_id`` as it is), so the terminal gives what
Python gives, row for row. Their data is read by ``files`` and checked
against the run's ``run.json`` before TensorFlow loads, so a ``DataError`` costs
a fraction of a second.
"""

from __future__ import annotations

import sys

import numpy as np

from ..errors import DataError, SearchError
from .files import Model, Predictions, check_output, open_inputs, open_result
from .output import Progress, describe_model, print_json


def _inputs(model: Model, args):
    target = args.target[0] if args.target and len(args.target) == 1 else args.target
    return open_inputs(model, args.data, args.batch_size, target=target, key=args.key, resize=args.resize)


def _prediction_rows(result, batch, key_name: str, trial, proba: bool):
    """One batch's rows: its keys, the prediction (a column per output if several), each class's probability."""
    import pandas as pd

    columns = {key_name: batch.keys}
    if proba:
        probabilities = result.predict_proba(batch.x, trial_id=trial)
        columns["prediction"] = np.asarray(result.classes)[probabilities.argmax(axis=-1)]  # what predict() says
        for j, name in enumerate(result.classes):
            columns[f"proba_{name}"] = probabilities[:, j]
    else:
        outputs = np.asarray(result.predict(batch.x, trial_id=trial))
        if outputs.ndim == 1:
            columns["prediction"] = outputs
        else:
            flat = outputs.reshape(len(outputs), -1)
            for j in range(flat.shape[1]):
                columns[f"prediction_{j + 1}"] = flat[:, j]
    return pd.DataFrame(columns)


def cmd_predict(args) -> int:
    check_output(args.to, args.overwrite)
    model = Model.of_run(args.run_dir)
    if model.spec.target == "generation":
        raise SearchError(f"{args.run_dir} generates images: it predicts nothing from files. "
                          "In Python, automodel.open_run(path).generate(n) draws images.")
    if args.proba and model.spec.target != "classification":
        raise SearchError(f"--proba is for classification; {args.run_dir} is a {model.task} run.")
    inputs = _inputs(model, args)
    result = open_result(args.run_dir)
    source = result.model_source(args.trial)
    output, progress = Predictions(args.to), Progress("predict")
    try:
        for batch in inputs.batches():
            output.write(_prediction_rows(result, batch, inputs.key_name, args.trial, args.proba))
            progress.update(output.rows, inputs.done)
        if not output.rows:
            raise DataError(f"{args.data} holds no rows to predict.")
        output.close()
    except BaseException:
        output.discard()
        raise
    finally:
        progress.end()
    summary = sys.stderr if args.to == "-" else sys.stdout  # stdout holds the rows with --to -
    if args.json:
        print_json({"run_dir": str(result.path), "data": args.data, "to": args.to, "rows": output.rows,
                    "columns": output.columns, "model": source}, file=summary)
    else:
        print(f"predicted {output.rows} rows with {describe_model(source, args.trial)}: "
              f"{'stdout' if args.to == '-' else args.to}", file=summary)
    return 0


class Confusion:
    """Counts of (true class, predicted class), rows and columns in the run's class order."""

    def __init__(self, classes):
        self.classes = list(classes)
        self.index = {str(name): i for i, name in enumerate(self.classes)}
        self.counts = np.zeros((len(self.classes), len(self.classes)), dtype="int64")

    def add(self, true, predicted) -> None:
        np.add.at(self.counts, ([self.index[str(v)] for v in true], [self.index[str(v)] for v in predicted]), 1)

    def to_dict(self) -> dict:
        return {"classes": self.classes, "rows": "true class", "columns": "predicted class", "counts": self.counts}

    def text(self) -> str:
        names = [str(c) for c in self.classes]
        width = max(*map(len, names), len(str(int(self.counts.max()))), 3)
        lines = ["confusion matrix (rows: true class, columns: predicted class)",
                 " " * (width + 2) + " ".join(f"{name:>{width}}" for name in names)]
        lines += [f"{name:>{width}}  " + " ".join(f"{int(n):>{width}}" for n in row) for name, row in zip(names, self.counts)]
        return "\n".join(lines)


def _confusion(result) -> Confusion | None:
    return Confusion(result.classes) if result.spec.target == "classification" else None


def _evaluate_data(result, inputs, trial) -> tuple[dict, int, Confusion | None]:
    """``SearchResult.evaluate``'s metrics over the batches of ``inputs``, as sample-weighted means.

    A task's metrics (loss, accuracy, mae) are means over samples in Keras, so the
    mean of the batches weighted by their sizes is the mean of the whole, and an
    input of one batch is scored in one call. The Frechet distance of a
    generation run needs every image at once.
    """
    if result.spec.target == "generation":
        images = np.concatenate([batch.x for batch in inputs.batches()])
        return result.evaluate(images, trial_id=trial), len(images), None
    sums, samples, confusion = {}, 0, _confusion(result)
    for batch in inputs.batches():
        for name, value in result.evaluate((batch.x, batch.y), trial_id=trial).items():
            sums[name] = sums.get(name, 0.0) + value * len(batch.x)
        samples += len(batch.x)
        if confusion is not None:
            confusion.add(batch.y, result.predict(batch.x, trial_id=trial))
    return {name: total / samples for name, total in sums.items()}, samples, confusion


def _evaluate_test_split(result, trial, rows: int) -> tuple[dict, int, Confusion | None]:
    """``SearchResult.evaluate`` on the held-out split, and its confusion matrix, an image folder read in batches."""
    from ..data import folders

    metrics = result.evaluate(trial_id=trial)
    split, confusion = result.test_split(), _confusion(result)
    if confusion is not None:
        classes = np.asarray(result.classes, dtype=object)
        for start in range(0, len(split[0]), rows):
            part = tuple(values[start : start + rows] for values in split[:2])
            x, y = folders.load_images(folders.FileSplit(*part, split.image_shape)) if isinstance(
                split, folders.FileSplit) else part
            confusion.add(classes[y], result.predict(x, trial_id=trial))
    return metrics, len(split[0]), confusion


def cmd_evaluate(args) -> int:
    model = Model.of_run(args.run_dir)
    if args.data is None:
        if args.target or args.key or args.resize:
            raise DataError("--target, --key and --resize describe DATA; without DATA, evaluate uses the held-out split.")
        result = open_result(args.run_dir)
        source = result.model_source(args.trial)
        metrics, samples, confusion = _evaluate_test_split(result, args.trial, args.batch_size)
        where = "the held-out test split"
    else:
        inputs = _inputs(model, args)
        if not inputs.has_targets and model.spec.target != "generation":
            raise DataError(
                f"{args.data} has no targets to score against: name the target column(s) with --target, save y in "
                "the .npz file, or put the images in one sub-folder per class."
            )
        result = open_result(args.run_dir)
        source = result.model_source(args.trial)
        metrics, samples, confusion = _evaluate_data(result, inputs, args.trial)
        where = args.data
    if args.json:
        report = {"run_dir": str(result.path), "task": result.task, "model": source,
                  "data": {"source": where, "samples": samples}, "metrics": metrics}
        if confusion is not None:
            report["confusion_matrix"] = confusion.to_dict()
        print_json(report)
        return 0
    print(f"{describe_model(source, args.trial)} on {where} ({samples} samples)")
    width = max(map(len, metrics))
    for name, value in metrics.items():
        print(f"  {name:<{width}}  {value:.4f}")
    if confusion is not None:
        print()
        print(confusion.text())
    return 0
