"""The model card written next to exported artifacts: ``model_card.json`` and ``MODEL_CARD.md``.

The JSON is the record (a deployment or an audit reads it); the Markdown says the
same for a person, with the commands that load each artifact. Nothing here
imports TensorFlow.
"""

from __future__ import annotations

CARD_JSON = "model_card.json"
CARD_MARKDOWN = "MODEL_CARD.md"
CARD_FORMAT = 2  # bump when the card's layout changes (2: "samples" is null unless the export includes them)

LOADERS = {
    "keras": "keras.models.load_model(\"{path}\")",
    "saved_model": "tf.saved_model.load(\"{path}\").signatures[\"{signature}\"]({input}=x)",
    "tflite": "Interpreter(model_path=\"{path}\").get_signature_runner(\"{signature}\")({input}=x)",
    "onnx": "onnxruntime.InferenceSession(\"{path}\").run(None, {{\"{input}\": x}})",
}


def is_card(data) -> bool:
    return isinstance(data, dict) and "automodel_model_card" in data


def summary_lines(card: dict) -> list[str]:
    """One line per format: where it is and how it was verified (the CLI prints these)."""
    lines = []
    for name, info in card["formats"].items():
        if info["status"] == "verified":
            batch = "  (batch size 1)" if info.get("batch_size") == 1 else ""
            lines.append(
                f"{name:<12} {info['path']:<16} verified with {info['runtime']}: "
                f"max |difference| {info['max_abs_diff']:.2g} on {info['samples']} samples{batch}"
            )
        else:
            lines.append(f"{name:<12} {'-':<16} {info['status']}: {info['reason']}")
    return lines


def markdown(card: dict) -> str:
    """A short human-readable card: what the model is, its input and output, metrics, artifacts, provenance."""
    out = [
        f"# {card['name']}: {card['task']}",
        "",
        _which(card),
        "",
        _trained_on(card.get("trained_on")),
        "",
        *_members(card.get("members")),
        *_inference(card.get("inference")),
        *_input_and_output(card),
        *_metrics(card["metrics"]),
        *_artifacts(card),
        *_provenance(card),
    ]
    return "\n".join(out)


def _input_and_output(card: dict) -> list[str]:
    signature = card["input"]
    lines = [
        "## Input and output",
        "",
        f"- input `{signature['name']}`: shape {_shape(signature['shape'])}, dtype {signature['dtype']}",
        *_padding(card["data"].get("padding")),
        f"- output `{card['output']['name']}`: shape {_shape(card['output']['shape'])}",
        "- raw values in and out: the model's own processing is part of it"
        + (f" ({', '.join(card['processing_layers'])})" if card["processing_layers"] else ""),
    ]
    if card.get("class_names"):
        lines.append(f"- classes, in output order: {', '.join(str(c) for c in card['class_names'])}")
    return lines


def _metrics(metrics_by_split: dict) -> list[str]:
    lines = ["", "## Metrics", "", "| split | metric | value |", "|---|---|---|"]
    for split, metrics in metrics_by_split.items():
        lines += [f"| {split} | {metric} | {_number(value)} |" for metric, value in (metrics or {}).items()]
    return lines


def _artifacts(card: dict) -> list[str]:
    """Each format's verification, how to load it, and how TF Serving serves the SavedModel."""
    signature = card["input"]
    samples = card.get("samples")
    kept = (f"saved as `{samples['inputs']}`, the trained model's outputs as `{samples['outputs']}`" if samples else
            "not saved with the export: `include_samples=True` (`--include-samples`) saves them")
    lines = [
        "",
        "## Artifacts and verification",
        "",
        f"Each artifact was loaded by its own runtime and run on {card['verification']['samples']} "
        f"samples ({card['verification']['source']}; {kept}). Largest difference from the trained model:",
        "",
        "| format | path | runtime | max abs difference | load with |",
        "|---|---|---|---|---|",
    ]
    for name, info in card["formats"].items():
        if info["status"] != "verified":
            lines.append(f"| {name} | - | {info['status']} | - | {info['reason']} |")
            continue
        load = LOADERS[name].format(path=info["path"], signature=info.get("signature"), input=signature["name"])
        notes = "; ".join(filter(None, [info.get("note"), "batch size 1" if info.get("batch_size") == 1 else None]))
        lines.append(
            f"| {name} | `{info['path']}` | {info['runtime']} | {_number(info['max_abs_diff'])} | "
            f"`{load}`{' (' + notes + ')' if notes else ''} |"
        )
    saved_model = card["formats"].get("saved_model")
    if saved_model and saved_model["status"] == "verified":
        path = saved_model["path"]
        model_dir = path.rsplit("/", 1)[0]
        inputs = samples["inputs"] if samples else "sample_inputs.npy"
        lines += [
            "",
            "TensorFlow Serving serves the SavedModel as model "
            f"`{model_dir}` (base path `{model_dir}/`, version 1). Try it with"
            + (":" if samples else f" a batch of inputs saved as `{inputs}` (`--include-samples` writes one):"),
            "",
            "```bash",
            f"saved_model_cli run --dir {path} --tag_set serve --signature_def "
            f"{saved_model['signature']} --inputs {signature['name']}={inputs}",
            "```",
        ]
    return lines


def _provenance(card: dict) -> list[str]:
    hyperparameters = ", ".join(f"{key}={value}" for key, value in card["hyperparameters"].items())
    versions = ", ".join(f"{key} {value}" for key, value in card["versions"]["exported_with"].items() if value)
    return [
        "",
        "## Provenance",
        "",
        f"- hyperparameters: {hyperparameters}",
        f"- data fingerprint: {card['data'].get('fingerprint')}; split: "
        + ", ".join(f"{k} {v}" for k, v in (card["data"].get("split") or {}).items()),
        f"- seed: {card['seed']}",
        f"- exported with: {versions}",
        "",
    ]


def _padding(padding: dict | None) -> list[str]:
    """The line that says how to pad series of different lengths (none for data of one length)."""
    if not padding:
        return []
    return [
        f"- series of different lengths ({padding['shortest']} to {padding['longest']} timesteps in training) are "
        f"padded at the {padding['at']} to {padding['length']} timesteps with {padding['value']:.8g} "
        "(`numpy.finfo(\"float32\").min`) in every feature; the model masks those timesteps, and takes no "
        "series longer than that"
    ]


def _shape(shape) -> str:
    return "(" + ", ".join("batch" if dim is None else str(dim) for dim in shape) + ")"


def _number(value) -> str:
    return "-" if value is None else f"{value:.4g}"


def _which(card: dict) -> str:
    if card.get("members"):
        return f"The ensemble of {len(card['members'])} trials an automodel search selected, exported {card['created']}."
    return (f"Best model of an automodel search (trial {card['trial']}, architecture "
            f"`{card['architecture']}`), exported {card['created']}.")


def _members(members: list[dict] | None) -> list[str]:
    """The ensemble's members: a weighted average of their outputs."""
    if not members:
        return []
    out = ["## Members", "", "Its output is the weighted average of its members' outputs.", "",
           "| trial | architecture | weight | parameters | trained on |", "|---|---|---|---|---|"]
    out += [f"| {m['trial']} | `{m['architecture']}` | {m['weight']:.3f} | {m['params']:,} | {m['trained_on']} |"
            for m in members]
    return [*out, ""]


def _inference(inference: dict | None) -> list[str]:
    """Its size and measured speed (beside the best single model's, for an ensemble)."""
    if not inference:
        return []
    line = (f"Size and speed: {inference['params']:,} parameters, "
            f"{inference['seconds_per_sample'] * 1e3:.3g} ms per sample in Keras on the verification batch")
    single = inference.get("best_single")
    if single:
        line += (f"; the best single model (trial {single['trial']}): {single['params']:,} parameters, "
                 f"{single['seconds_per_sample'] * 1e3:.3g} ms per sample")
    return [line + ".", ""]


def _trained_on(trained: dict | None) -> str:
    """Which model this is: the final refit, or the trial's own model."""
    if not trained:
        return "Trained on the training split."
    if trained.get("members"):
        return "Each member is its trial's model: the final refit where the search made one, else as in its trial."
    if trained.get("refit"):
        return (f"Final refit: this configuration retrained on {trained['trained_on']}, {trained['samples']} "
                f"samples for {trained['epochs']} epochs; its validation metrics are the trial's, before the refit.")
    return f"Trained on {trained['trained_on']} ({trained['samples']} samples), as in its trial."
