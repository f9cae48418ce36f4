"""Learning curves of one trial as a PNG, for an ``ipywidgets.Image``.

Matplotlib draws on a bare ``Figure`` with the Agg canvas: no pyplot state, no
backend to configure, safe from a background thread, and a PNG shows the same
in JupyterLab, Notebook 7 and a static export of the notebook. It is imported
on the first plot, so showing the panel does not wait for it.
"""

from __future__ import annotations

import io


def curves_png(history: dict[str, list[float]], title: str = "") -> bytes:
    """Loss (left) and the other metrics (right) per epoch, training and validation."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 2.6), dpi=80, layout="constrained")
    loss_axes, metric_axes = figure.subplots(1, 2)
    for name, values in sorted(history.items()):
        axes = loss_axes if name.endswith("loss") else metric_axes
        epochs = range(1, len(values) + 1)
        axes.plot(epochs, values, marker="o", markersize=3, label=name, linestyle="-" if name.startswith("val_") else "--")
    for axes, label in ((loss_axes, "loss"), (metric_axes, "metric")):
        axes.set_xlabel("epoch")
        axes.set_ylabel(label)
        if axes.lines:
            axes.legend(fontsize=8)
            axes.xaxis.get_major_locator().set_params(integer=True)
    if title:
        figure.suptitle(title, fontsize=10)
    buffer = io.BytesIO()
    FigureCanvasAgg(figure).print_png(buffer)
    return buffer.getvalue()
