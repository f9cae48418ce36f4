"""Sequences of different lengths: pad them, check padding, count the real timesteps.

Series of different lengths (a list, or 1-D object array, of ``(timesteps,)`` or
``(timesteps, features)`` arrays) become one array, padded at the end with
``tasks.PADDING_VALUE``: to the longest series for the data a search starts from,
to the model's length (``TaskSpec.input_shape[0]``) for the data a model is given
later. A model built from a padded spec masks every timestep whose features all
equal the padding value (``TaskSpec.inputs``), so the mask travels in the values:
an exported model takes the same padded array and nothing beside it.

- At the end, not the start: recurrent layers skip masked steps either way, but a
  convolution then sees zeros past a series' end, as its own ``padding="same"``
  would for the series alone, and a forecast's last step stays where it is.
- A series longer than the model's length is an error, not truncated: which end
  to cut depends on the task (a forecast needs the latest steps, a label perhaps
  the first), and cutting silently would feed the model less than the caller
  gave it. The caller cuts, knowing which end matters.
- Padded arrays are read too: trailing timesteps whose features all equal the
  padding value are padding, so ``predict`` on series padded by hand agrees with
  ``predict`` on the same series unpadded. The value anywhere else is an error:
  no reading may take it.
"""

from __future__ import annotations

import numpy as np

from ..errors import DataError
from ..tasks import PADDING_VALUE
from .sources import require_numbers

SERIES_HELP = "(timesteps,) or (timesteps, features)"
PADDING_NAME = f"{PADDING_VALUE:.8g} (float32's lowest value)"


def is_ragged(x: np.ndarray) -> bool:
    """Whether ``x`` (as ``sources.as_array`` reads sequences) holds one array per series."""
    return x.dtype == object and x.ndim == 1 and any(np.ndim(series) >= 1 for series in x)


def pad(series, expected_shape: tuple | None = None, padded: bool = False) -> np.ndarray:
    """Series of different lengths as one float32 ``(samples, timesteps, features)`` array.

    Without ``expected_shape`` the length is the longest series'; with it, the
    model's, and shorter series are accepted only when the model masks padding
    (``padded``).
    """
    arrays, ranks = [], []
    for i, values in enumerate(series):
        array, rank = _series(i, values)
        arrays.append(array)
        ranks.append(rank)
    if not arrays:
        raise DataError("x holds no series. Pass at least a few.")
    if len(set(ranks)) > 1:
        i, j = ranks.index(1), ranks.index(2)
        raise DataError(
            f"x mixes series of shape {(len(arrays[i]),)} (series {i}) and {arrays[j].shape} (series {j}). "
            f"Pass every series as (timesteps,), or every one as (timesteps, features)."
        )
    counts = [array.shape[1] for array in arrays]
    odd = next(j for j, count in enumerate(counts) if count != counts[0]) if len(set(counts)) > 1 else None
    if odd is not None:
        raise DataError(
            f"Series {odd} of x has {counts[odd]} features per timestep, but series 0 has {counts[0]}. "
            "Every series needs the same features, in the same order."
        )
    lengths = np.array([len(array) for array in arrays])
    length = int(lengths.max())
    if expected_shape is not None:
        length = int(expected_shape[0])
        check_features(counts[0], expected_shape)
        if not padded and (lengths != length).any():
            raise _fixed_length(length, f"series of {_span(lengths)} timesteps")
        _check_lengths(lengths, length)
    x = np.full((len(arrays), length, counts[0]), PADDING_VALUE, dtype="float32")
    for i, array in enumerate(arrays):
        x[i, : len(array)] = array
    return x


def fit_length(x: np.ndarray, expected_shape: tuple | None = None, padded: bool = False) -> np.ndarray:
    """``x`` (float32 ``(samples, timesteps, features)``, perhaps padded) at the model's length.

    The padding must be whole trailing timesteps. Without ``expected_shape`` (the
    data a search starts from) ``x`` is returned as it is; otherwise shorter
    arrays are padded and padding past the model's length cut, when the model
    masks padding (``padded``); a model that does not takes exactly its length.
    """
    lengths = lengths_of(x)
    if expected_shape is None:
        return x
    length = int(expected_shape[0])
    check_features(x.shape[2], expected_shape)
    if not padded:
        if (lengths < x.shape[1]).any():
            raise _fixed_length(length, f"padded series ({_span(lengths)} real timesteps)")
        if x.shape[1] != length:
            raise _fixed_length(length, f"series of {x.shape[1]} timesteps")
        return x
    _check_lengths(lengths, length)
    if x.shape[1] >= length:
        return x[:, :length]  # what is cut is padding
    tail = np.full((len(x), length - x.shape[1], x.shape[2]), PADDING_VALUE, dtype=x.dtype)
    return np.concatenate([x, tail], axis=1)


def lengths_of(x: np.ndarray) -> np.ndarray:
    """The number of real timesteps of each series of ``x``, checking that padding is trailing and whole."""
    if not (x == PADDING_VALUE).any():
        return np.full(len(x), x.shape[1])
    real = (x != PADDING_VALUE).any(axis=-1)
    partial = real & (x == PADDING_VALUE).any(axis=-1)
    if partial.any():
        i, step = np.argwhere(partial)[0]
        raise DataError(
            f"Series {i} of x holds {PADDING_NAME} at timestep {step}, beside real values. That is the value "
            "automodel pads series with, so no reading may take it. Rescale the data or drop that value."
        )
    gaps = real[:, 1:] & ~real[:, :-1]  # a real timestep after a padded one
    if gaps.any():
        i = int(np.argwhere(gaps)[0][0])
        raise DataError(
            f"Series {i} of x has padding ({PADDING_NAME}) before real timesteps; automodel pads at the end "
            "only. Pass the series unpadded, as a list of arrays, or with the padding at the end."
        )
    lengths = real.sum(axis=1)
    if (lengths == 0).any():
        raise _empty(int(np.argmin(lengths)))
    return lengths


def summary(x: np.ndarray) -> tuple[int, int] | None:
    """``(shortest, longest)`` real length of the series of ``x``; None when none is padded."""
    lengths = lengths_of(x)
    if (lengths == x.shape[1]).all():
        return None
    return int(lengths.min()), int(lengths.max())


def real_timesteps(x: np.ndarray) -> np.ndarray:
    """The real (unpadded) timesteps of ``x``, one row each: ``(timesteps in all, features)``."""
    return x[(x != PADDING_VALUE).any(axis=-1)]


def check_features(features: int, expected_shape: tuple) -> None:
    if features != expected_shape[-1]:
        raise DataError(
            f"x has {features} feature(s) per timestep, but the model takes {expected_shape[-1]} (those of its "
            "training data). Pass the same features, in the same order."
        )


def _series(i: int, values) -> tuple[np.ndarray, int]:
    """Series ``i`` as float32 ``(timesteps, features)``, and the rank it came in."""
    try:
        array = np.asarray(values)
    except ValueError as exc:
        raise DataError(f"Series {i} of x cannot be read as an array ({exc}). Pass each as a numpy array.") from exc
    if array.ndim not in (1, 2):
        raise DataError(f"Series {i} of x has shape {array.shape}, but each series must be shaped {SERIES_HELP}.")
    require_numbers(array, f"Series {i} of x", "sequence")
    if len(array) == 0:
        raise _empty(i)
    rank = array.ndim
    array = array.astype("float32")  # a copy: the caller's series is never changed
    if rank == 1:
        array = array[:, np.newaxis]
    if not np.isfinite(array).all():
        bad = int((~np.isfinite(array)).sum())
        raise DataError(
            f"Series {i} of x holds {bad} NaN or infinite value(s). Drop or impute them first; "
            "automodel pads shorter series itself, so there is no need to pad with NaN."
        )
    if (array == PADDING_VALUE).any():
        raise DataError(
            f"Series {i} of x holds {PADDING_NAME}, the value automodel pads series with, so no reading "
            "may take it. Rescale the data or drop that value."
        )
    return array, rank


def _check_lengths(lengths: np.ndarray, length: int) -> None:
    long = np.flatnonzero(lengths > length)
    if len(long):
        shown = ", ".join(f"series {i} ({lengths[i]} timesteps)" for i in long[:3])
        raise DataError(
            f"{len(long)} series of x are longer than the model's {length} timesteps: {shown}"
            f"{', ...' if len(long) > 3 else ''}. The model takes series up to the longest it was trained on. "
            f"Cut them to {length} timesteps, keeping the end your task needs (a forecast needs the latest), "
            "or search again with the longer series in the data."
        )


def _fixed_length(length: int, what: str) -> DataError:
    return DataError(
        f"x holds {what}, but this model takes series of exactly {length} timesteps: it was trained on "
        f"series of one length and does not mask padding. Pass series of {length} timesteps, or search "
        "again with series of different lengths (a list of arrays), which automodel pads and masks."
    )


def _empty(i: int) -> DataError:
    return DataError(f"Series {i} of x is empty (0 timesteps). Drop it: every series needs at least one timestep.")


def _span(lengths: np.ndarray) -> str:
    low, high = int(lengths.min()), int(lengths.max())
    return str(low) if low == high else f"{low} to {high}"
