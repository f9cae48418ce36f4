"""MiniRocket's transform (Dempster, Schmidt and Webb 2021) as frozen Keras layers, for the rocket plugin.

MiniRocket makes ROCKET almost deterministic and faster with no loss of
accuracy: 84 fixed kernels of length 9 (weight -1 everywhere and 2 at three of
the nine positions: every choice of three), dilations exponentially spaced from
1 to (timesteps - 1) / 8 (up to ``MAX_DILATIONS`` of them, features shared out
over them), "same" and "valid" padding alternating over the kernel-dilation
combinations, and one feature only, the proportion of positive values (PPV),
taken against several biases per combination. Those biases are what makes it
work: quantiles of the combination's convolution of a randomly chosen training
series, at the low-discrepancy quantiles (k * golden ratio) mod 1, so each
feature splits real outputs rather than a random level. The details follow the
reference implementation (aeon's ``MiniRocket``, adapted from the authors' own).

Several channels: each combination sums its kernel over a random subset of
1 to 9 channels, as the multivariate MiniRocket draws them; one channel is all
of them. Series of unequal length are padded and masked: only "same"
convolutions are used then, PPV is taken over the real timesteps, and the bias
quantiles over the chosen series' real timesteps.

In the model, a dilation's kernels of one padding are a frozen ``Conv1D``
(``kernels_d{dilation}_{padding}``) that holds each kernel once per feature,
with the negated quantiles as its biases, so each output channel is one
feature's ``convolution - bias``: one layer per group rather than a convolution
and a bias layer, which measured faster and keeps the graph small. The biases
need training data: ``fit_biases`` sets them before the readout is fitted, and
they are weights like any other, so a saved, reloaded or exported model
computes the same features.
"""

from __future__ import annotations

from itertools import combinations

KERNEL_LENGTH = 9
INDICES = tuple(combinations(range(KERNEL_LENGTH), 3))  # the 84 kernels: the positions weighted 2
MAX_DILATIONS = 32  # per kernel, MiniRocket's max_dilations_per_kernel
MAX_CHANNELS = 9  # the most channels one combination sums over


def kernel_weights():
    """``(9, 84)``: MiniRocket's kernels, -1 everywhere and 2 at three positions (they sum to 0)."""
    import numpy as np

    weights = -np.ones((KERNEL_LENGTH, len(INDICES)), dtype="float32")
    for kernel, positions in enumerate(INDICES):
        weights[list(positions), kernel] = 2.0
    return weights


def dilations(timesteps: int, features: int) -> list[tuple[int, int]]:
    """``(dilation, features per kernel)`` pairs, exponentially spaced up to (timesteps - 1) / 8, as MiniRocket's."""
    import numpy as np

    per_kernel = max(features // len(INDICES), 1)
    steps = min(per_kernel, MAX_DILATIONS)
    reach = max(np.log2(max(timesteps - 1, 1) / (KERNEL_LENGTH - 1)), 0.0)
    values, counts = np.unique(np.logspace(0, reach, steps, base=2).astype("int64"), return_counts=True)
    counts = (counts * (per_kernel / steps)).astype("int64")
    for i in range(per_kernel - int(counts.sum())):  # the remainder, one each from the smallest dilation
        counts[i % len(counts)] += 1
    return [(int(d), int(n)) for d, n in zip(values, counts)]


def plan(timesteps: int, features: int, padded: bool) -> list[tuple[int, int, list[tuple[str, list[int]]]]]:
    """Per dilation: ``(dilation, features per kernel, [(padding, kernel indices), ...])``, in MiniRocket's order.

    Padding alternates over kernels and dilations; "valid" needs the dilated
    kernel to fit in the series, and padded series use "same" only (masks stay aligned).
    """
    result = []
    for index, (dilation, count) in enumerate(dilations(timesteps, features)):
        valid_fits = not padded and (KERNEL_LENGTH - 1) * dilation < timesteps
        groups = {"same": [], "valid": []}
        for kernel in range(len(INDICES)):
            groups["valid" if valid_fits and (index + kernel) % 2 else "same"].append(kernel)
        result.append((dilation, count, [(p, ks) for p, ks in groups.items() if ks]))
    return result


def quantiles(n: int):
    """MiniRocket's low-discrepancy quantiles: (k * golden ratio) mod 1 for k = 1..n."""
    import numpy as np

    return (np.arange(1, n + 1) * ((np.sqrt(5) + 1) / 2)) % 1


def channel_weights(rng, channels: int, combos: int):
    """``(combos, channels)`` 0/1: each combination's random channel subset (all of one channel)."""
    import numpy as np

    chosen = np.zeros((combos, channels), dtype="float32")
    sizes = (2 ** rng.uniform(0, np.log2(min(channels, MAX_CHANNELS) + 1), combos)).astype("int64")
    for combo, size in enumerate(sizes):
        chosen[combo, rng.choice(channels, size, replace=False)] = 1.0
    return chosen


def transform(x, mask, timesteps: int, channels: int, features: int, padded: bool, seed: int) -> list:
    """MiniRocket's PPV features of the normalised series ``x`` as frozen layers; biases 0 until ``fit_biases``."""
    import numpy as np
    from keras import layers

    rng = np.random.default_rng(seed)
    base = kernel_weights()
    outputs = []
    for dilation, count, groups in plan(timesteps, features, padded):
        subsets = channel_weights(rng, channels, len(INDICES))  # (84, channels)
        weights = base[:, None, :] * subsets.T[None]  # (9, channels, 84)
        for padding, kernels in groups:  # each kernel once per feature, the features' biases its own
            conv = layers.Conv1D(len(kernels) * count, KERNEL_LENGTH, dilation_rate=dilation, padding=padding,
                                 trainable=False, bias_initializer="zeros", name=f"kernels_d{dilation}_{padding}")
            activations = conv(x)
            conv.set_weights([np.repeat(weights[:, :, kernels], count, axis=2), np.zeros(len(kernels) * count)])
            outputs.append(ppv(activations, mask if padding == "same" else None))
    return outputs


def ppv(activations, mask):
    """Per channel: the proportion of positive values, over the real timesteps."""
    from keras import ops

    positive = ops.cast(ops.greater(activations, 0.0), "float32")
    if mask is None:
        return ops.mean(positive, axis=1)
    real = ops.expand_dims(ops.cast(mask, "float32"), -1)
    return ops.sum(positive * real, axis=1) / ops.maximum(ops.sum(real, axis=1), 1.0)


def fit_biases(model, spec, x, features: int, seed: int) -> None:
    """Set each feature's bias to its quantile of the convolution of a randomly chosen training series."""
    import keras
    import numpy as np

    x = _array(x)
    rng = np.random.default_rng(seed)
    timesteps = spec.input_shape[0]
    steps = plan(timesteps, features, spec.padded)
    picks = [rng.integers(len(x), size=len(INDICES)) for _ in steps]
    chosen = np.unique(np.concatenate(picks))
    first = model.get_layer(f"kernels_d{steps[0][0]}_{steps[0][2][0][0]}")
    real = spec.padding_mask(model.inputs[0])
    probe = keras.Model(model.inputs, [first.input] + ([real] if real is not None else []))
    found = probe.predict(x[chosen], verbose=0)
    series = dict(zip(chosen, np.asarray(found[0] if real is not None else found, dtype="float64")))
    lengths = dict(zip(chosen, np.sum(found[1], axis=1) if real is not None else [timesteps] * len(chosen)))
    levels, start = quantiles(len(INDICES) * sum(count for _, count, _ in steps)), 0
    for (dilation, count, groups), pick in zip(steps, picks):
        weights = np.zeros((KERNEL_LENGTH, series[chosen[0]].shape[-1], len(INDICES)))
        for padding, kernels in groups:
            weights[:, :, kernels] = model.get_layer(f"kernels_d{dilation}_{padding}").get_weights()[0][..., ::count]
        biases = np.empty((len(INDICES), count))
        for kernel, example in enumerate(pick):
            output = _same_convolution(series[example], weights[:, :, kernel], dilation)[: int(lengths[example])]
            biases[kernel] = np.quantile(output, levels[start: start + count])
            start += count
        for padding, kernels in groups:
            conv = model.get_layer(f"kernels_d{dilation}_{padding}")
            conv.set_weights([conv.get_weights()[0], -biases[kernels].reshape(-1).astype("float32")])


def _same_convolution(series, weights, dilation: int):
    """``(timesteps,)``: ``series`` (timesteps, channels) convolved with ``weights`` (9, channels), zeros beyond its ends."""
    import numpy as np

    timesteps, half = len(series), (KERNEL_LENGTH - 1) // 2 * dilation
    padded = np.pad(series, ((half, half), (0, 0)))
    return sum(padded[m * dilation: m * dilation + timesteps] @ weights[m] for m in range(KERNEL_LENGTH))


def _array(x):
    """The training inputs as one array (a ``tf.data.Dataset``'s first 100 batches: enough series to choose from)."""
    import numpy as np

    if hasattr(x, "take") and not isinstance(x, np.ndarray):
        return np.concatenate([np.asarray(batch[0] if isinstance(batch, tuple) else batch) for batch in x.take(100)])
    return np.asarray(x)
