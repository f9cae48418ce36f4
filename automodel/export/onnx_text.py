"""tf2onnx handlers for the TensorFlow ops of Keras' ``TextVectorization``, so text models export to ONNX.

tf2onnx maps TensorFlow's string ops to the ``ai.onnx.contrib`` operators of
onnxruntime-extensions (its documented route for string ops). These handlers
correct or complete that mapping so the ONNX model vectorises text exactly as
TensorFlow does; ``onnx`` passes them to ``tf2onnx.convert``:

- ``StringSplitV2`` with an empty separator splits on runs of whitespace in
  TensorFlow, but on every character in onnxruntime-extensions' ``StringSplit``;
  the runs of whitespace are collapsed to one space and split on that instead.
- ``StringLower`` becomes the extensions' ``StringLower`` rather than ONNX's
  ``StringNormalizer``, which needs an ``en_US.UTF-8`` locale installed on the
  machine that serves the model.
- ``Equal``/``NotEqual`` of strings: the extensions' ``StringEqual`` rejects a
  scalar beside an empty tensor (a batch of texts without a single token), so
  both sides are first expanded to one shape.
- ``StringNGrams`` (``ngrams=`` in TextVectorization) and ``RaggedBincount``
  (its ``count``/``tf_idf``/``multi_hot`` outputs) have no tf2onnx mapping at
  all; they are built here from standard ONNX operators and the extensions'
  ``StringConcat`` (its ``StringJoin`` crashes on empty input).

Each handler has tf2onnx's ``custom_op_handlers`` signature ``(ctx, node, name, args)``.
"""

from __future__ import annotations

import numpy as np

CONTRIB_DOMAIN = "ai.onnx.contrib"
_END = np.iinfo(np.int64).max  # a slice to the end


def _contrib(ctx, node, name, args):
    node.domain = CONTRIB_DOMAIN


def _split_on_whitespace(ctx, node, name, args):
    """``StringSplitV2`` -> the extensions' ``StringSplit``, keeping TensorFlow's semantics."""
    import onnx
    from tf2onnx import utils
    from tf2onnx.graph_builder import GraphBuilder

    text, separator = node.input[0], node.inputs[1]
    if separator.is_const() and separator.get_tensor_value() in ("", b""):
        pattern = ctx.make_const(utils.make_name("whitespace"), np.array([r"\s+"], object)).output[0]
        space = ctx.make_const(utils.make_name("space"), np.array([" "], object)).output[0]
        collapse = ctx.make_node(
            "StringRegexReplace", [text, pattern, space], op_name_scope=node.name, domain=CONTRIB_DOMAIN,
            dtypes=[onnx.TensorProto.STRING], shapes=[ctx.get_shape(text)],
        )
        text, separator_out = collapse.output[0], space
    else:
        separator_out = GraphBuilder(ctx).make_unsqueeze({"data": node.input[1], "axes": [0]})
    skip_empty = ctx.make_const(utils.make_name("skip_empty"), np.array([True])).output[0]
    node.type, node.domain = "StringSplit", CONTRIB_DOMAIN
    for attribute in list(node.attr):
        del node.attr[attribute]
    ctx.replace_inputs(node, [text, separator_out, skip_empty])


def _string_equal(ctx, node, name, args):
    """tf2onnx's own ``Equal`` mapping (``StringEqual`` for strings), with the two sides of one shape."""
    import onnx
    from tf2onnx.custom_opsets.string_ops import StringEqual

    if ctx.get_dtype(node.input[0]) == onnx.TensorProto.STRING:
        first, second = node.input
        first = _node(ctx, "Expand", first, _node(ctx, "Shape", second))
        second = _node(ctx, "Expand", second, _node(ctx, "Shape", first))
        ctx.replace_inputs(node, [first, second])
    StringEqual.version_1(ctx, node)


def _string_ngrams(ctx, node, name, args):
    """``StringNGrams`` of a ragged batch of tokens: its n-grams and their row splits, in TensorFlow's order."""
    import onnx
    from tf2onnx import utils

    widths = list(node.get_attr_value("ngram_widths"))
    utils.make_sure(
        node.get_attr_value("pad_width", 0) == 0 and not node.get_attr_value("preserve_short_sequences", 0),
        "StringNGrams with padding or preserve_short_sequences has no ONNX mapping in automodel",
    )
    separator = np.array([node.get_attr_value("separator").decode()], object)
    tokens, splits = node.input
    splits = _as_int64(ctx, splits)
    rows = _row_ids(ctx, splits)
    count = _node(ctx, "Shape", tokens)
    positions = _node(ctx, "Range", _const(ctx, 0), _node(ctx, "Squeeze", count, _const(ctx, [0])), _const(ctx, 1))
    # TensorFlow lists a row's n-grams width by width, each in order: sort by that key
    stride = _node(ctx, "Add", count, _const(ctx, [1]))
    row_stride = _node(ctx, "Mul", stride, _const(ctx, [len(widths)]))
    grams, keys = [], []
    for index, width in enumerate(widths):
        # n-gram i joins tokens i .. i + width - 1: slice k starts at k, ends width - 1 - k from the end
        parts = [_slice(ctx, tokens, k, _END if k == width - 1 else k - width + 1) for k in range(width)]
        first_rows = _slice(ctx, rows, 0, _END if width == 1 else 1 - width)
        same_row = _node(ctx, "Equal", first_rows, _slice(ctx, rows, width - 1, _END))
        joined = parts[0]
        if width > 1:
            spacer = _node(ctx, "Expand", _const(ctx, separator), _node(ctx, "Shape", parts[0]))
            for piece in [p for part in parts[1:] for p in (spacer, part)]:
                joined = ctx.make_node("StringConcat", [joined, piece], domain=CONTRIB_DOMAIN,
                                       dtypes=[onnx.TensorProto.STRING]).output[0]
        key = _node(ctx, "Add", _node(ctx, "Mul", first_rows, row_stride),
                    _node(ctx, "Add", _slice(ctx, positions, 0, _END if width == 1 else 1 - width),
                          _node(ctx, "Mul", stride, _const(ctx, [index]))))
        grams.append(ctx.make_node("Compress", [joined, same_row], attr={"axis": 0}).output[0])
        keys.append(ctx.make_node("Compress", [key, same_row], attr={"axis": 0}).output[0])
    keys = ctx.make_node("Concat", keys, attr={"axis": 0}).output[0]
    order = ctx.make_node("TopK", [keys, _node(ctx, "Shape", keys)], attr={"largest": 0, "sorted": 1},
                          output_count=2).output[1]
    grams = ctx.make_node("Concat", grams, attr={"axis": 0}, dtypes=[onnx.TensorProto.STRING]).output[0]
    ngrams = ctx.make_node("Gather", [grams, order], dtypes=[onnx.TensorProto.STRING]).output[0]
    # a row of L tokens holds max(L - width + 1, 0) n-grams of each width
    lengths = _node(ctx, "Sub", _slice(ctx, splits, 1, _END), _slice(ctx, splits, 0, -1))
    per_row = [_node(ctx, "Max", _node(ctx, "Sub", lengths, _const(ctx, width - 1)), _const(ctx, 0)) for width in widths]
    total = per_row[0]
    for more in per_row[1:]:  # ONNX's Sum takes no integers
        total = _node(ctx, "Add", total, more)
    ngram_splits = ctx.make_node(
        "Concat", [_const(ctx, [0]), _node(ctx, "CumSum", total, _const(ctx, 0))], attr={"axis": 0}
    ).output[0]
    if ctx.get_dtype(node.output[1]) not in (None, onnx.TensorProto.INT64):
        ngram_splits = ctx.make_node("Cast", [ngram_splits], attr={"to": ctx.get_dtype(node.output[1])}).output[0]
    ctx.replace_all_inputs(node.output[0], ngrams)
    ctx.replace_all_inputs(node.output[1], ngram_splits)
    ctx.remove_node(node.name)


def _ragged_bincount(ctx, node, name, args):
    """``RaggedBincount`` without weights: a ``(rows, size)`` table of counts (or 0/1) of each row's values."""
    import onnx
    from tf2onnx import utils

    splits, values, size, weights = node.input
    utils.make_sure(ctx.get_shape(weights) == [0], "RaggedBincount with weights has no ONNX mapping in automodel")
    splits, values = _as_int64(ctx, splits), _as_int64(ctx, values)
    size = _node(ctx, "Reshape", _as_int64(ctx, size), _const(ctx, [1]))
    rows = _row_ids(ctx, splits)
    inside = _node(ctx, "And", _node(ctx, "GreaterOrEqual", values, _const(ctx, 0)), _node(ctx, "Less", values, size))
    cells = ctx.make_node("Concat", [_node(ctx, "Unsqueeze", rows, _const(ctx, [1])),
                                     _node(ctx, "Unsqueeze", values, _const(ctx, [1]))], attr={"axis": 1}).output[0]
    cells = ctx.make_node("Compress", [cells, inside], attr={"axis": 0}).output[0]
    table = ctx.make_node("Concat", [_node(ctx, "Sub", _node(ctx, "Shape", splits), _const(ctx, [1])), size],
                          attr={"axis": 0}).output[0]
    ones = _filled(ctx, _node(ctx, "Gather", _node(ctx, "Shape", cells), _const(ctx, [0])), 1.0)
    counts = ctx.make_node("ScatterND", [_filled(ctx, table, 0.0), cells, ones], attr={"reduction": "add"}).output[0]
    if node.get_attr_value("binary_output", 0):
        counts = _node(ctx, "Min", counts, _const(ctx, np.float32(1)))
    counts = ctx.make_node("Cast", [counts], attr={"to": ctx.get_dtype(node.output[0])}).output[0]
    ctx.replace_all_inputs(node.output[0], counts)
    ctx.remove_node(node.name)


HANDLERS = {
    "StringLower": (_contrib, []),
    "StringSplitV2": (_split_on_whitespace, []),
    "Equal": (_string_equal, []),
    "NotEqual": (_string_equal, []),
    "StringNGrams": (_string_ngrams, []),
    "RaggedBincount": (_ragged_bincount, []),
}


# -- graph building ----------------------------------------------------------------


def _node(ctx, op_type: str, *inputs: str) -> str:
    return ctx.make_node(op_type, list(inputs)).output[0]


def _const(ctx, value) -> str:
    from tf2onnx import utils

    value = np.asarray(value)
    if value.dtype.kind == "i":
        value = value.astype(np.int64)
    return ctx.make_const(utils.make_name("const"), value).output[0]


def _slice(ctx, data: str, start: int, end: int) -> str:
    return _node(ctx, "Slice", data, _const(ctx, [start]), _const(ctx, [end]), _const(ctx, [0]))


def _filled(ctx, shape: str, value, dtype: str = "FLOAT") -> str:
    """A tensor of ``shape`` (a 1-D tensor) holding ``value``; ``dtype`` names an ``onnx.TensorProto`` type."""
    import onnx

    fill = onnx.helper.make_tensor("value", getattr(onnx.TensorProto, dtype), [1], [value])
    return ctx.make_node("ConstantOfShape", [shape], attr={"value": fill}).output[0]


def _as_int64(ctx, tensor: str) -> str:
    import onnx

    if ctx.get_dtype(tensor) == onnx.TensorProto.INT64:
        return tensor
    return ctx.make_node("Cast", [tensor], attr={"to": onnx.TensorProto.INT64}).output[0]


def _row_ids(ctx, splits: str) -> str:
    """The row of each value of a ragged tensor: a running count of the row starts (``splits[1:-1]``) passed."""
    starts = _slice(ctx, splits, 1, -1)
    marks = _filled(ctx, _node(ctx, "Add", _slice(ctx, splits, -1, _END), _const(ctx, [1])), 0, "INT64")
    ones = _filled(ctx, _node(ctx, "Shape", starts), 1, "INT64")
    # empty rows start where the next row does: their marks add up
    marks = ctx.make_node("ScatterElements", [marks, starts, ones], attr={"axis": 0, "reduction": "add"}).output[0]
    return _slice(ctx, _node(ctx, "CumSum", marks, _const(ctx, 0)), 0, -1)
