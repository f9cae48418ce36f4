"""The base class of every architecture plugin.

An ``Architecture`` follows KerasTuner's ``HyperModel`` protocol (``build`` declares
the search space with ``hp.*`` calls and returns a model; ``fit`` trains it) but
does not subclass ``keras_tuner.HyperModel``: importing KerasTuner imports
TensorFlow, and listing plugins or showing the notebook panel must stay fast.
The search engine adapts architectures into one KerasTuner HyperModel.
"""

from __future__ import annotations

from typing import Callable, Iterable

# The plugin contract's version: "major.minor". The minor part grows with additions a
# plugin may use; the major part changes only when a plugin written for it could break.
CONTRACT_VERSION = "1.0"


class Architecture:
    """A named search space for one or more tasks.

    Subclasses set ``name``, ``tasks`` and ``description`` and implement
    ``build(hp, spec)``. Override ``fit`` only for custom training (a GAN).
    Hyperparameters are scoped by the engine: ``hp.Int("units", ...)`` in
    ``build`` or ``fit`` is recorded as ``<name>/units``. The contract is
    ``CONTRACT_VERSION``; the README's "The plugin contract" spells it out.
    """

    name: str = ""
    tasks: tuple[str, ...] = ()
    description: str = ""
    # where the architecture's portfolio goes when the search takes every installed
    # architecture: lower first (a cheap, strong baseline such as rocket is 0, so a
    # short budget reaches it); equal ranks keep the registry's order
    portfolio_rank: int = 1

    def __new__(cls, *args, **kwargs):
        # what it was made with, so worker processes and open_run can make it again (portable.py)
        instance = super().__new__(cls)
        instance._made_with = (args, kwargs)
        return instance

    def build(self, hp, spec):
        """Declare hyperparameters on ``hp`` and return a ``keras.Model`` for ``spec``.

        Use ``spec.inputs()`` and ``spec.head(x)`` for the task's standard input
        (with its preprocessing) and output layer. Compile the model yourself with
        ``spec.compile(model, ...)`` to tune the optimizer; otherwise the engine
        compiles it with the task's defaults.
        """
        raise NotImplementedError(f"architecture {self.name!r} does not implement build()")

    def prepare(self, spec):
        """Called once before any trial: fetch or check resources (weights) here.

        Raise ``automodel.PluginError`` with the fix; the search then stops before
        training anything.
        """

    def portfolio(self, spec) -> list[dict]:
        """Known-good configurations for ``spec``'s task, tried before the tuner explores, in order.

        Each dict gives this architecture's hyperparameter values by the names
        ``build`` gives them (``{"family": "fcn", "filters": 128}``); those not named
        take their defaults. A search runs each entry once, first (a resumed search
        skips the ones it has run), then the tuner explores the whole space.
        """
        return []

    def fit(self, hp, model, spec, *args, **kwargs):
        """Train ``model`` and return its ``History``; the default is ``model.fit(*args, **kwargs)``.

        ``args`` are the training data: ``(x, y)`` arrays, or a ``tf.data.Dataset``
        of batches (images streamed from a folder). ``kwargs`` hold
        ``validation_data``, ``epochs``, ``batch_size`` (arrays) and ``callbacks``:
        pass ``callbacks`` on to ``model.fit``, since early stopping, pruning, the
        trial's record, checkpoints, the budget and stop requests live there.
        The final refit trains through this method too.
        """
        return model.fit(*args, **kwargs)

    def final_model(self, model):
        """The model users get from a trained trial (a GAN returns its generator)."""
        return model

    def __repr__(self):
        return f"<Architecture {self.name} tasks={list(self.tasks)}>"

    @classmethod
    def from_hypermodel(
        cls,
        name: str,
        make_hypermodel: Callable,
        tasks: Iterable[str],
        description: str = "",
        portfolio: Iterable[dict] = (),
    ) -> "Architecture":
        """Wrap a KerasTuner HyperModel (``keras_tuner.applications.HyperResNet``, your own) as an architecture.

        ``make_hypermodel(spec)`` returns the HyperModel for the data at hand; it
        is called only when a search builds a model, so the plugin module still
        imports without TensorFlow. A HyperModel that compiles for one-hot targets
        (``categorical_crossentropy``, as KerasTuner's applications do) gets the
        equivalent sparse loss, since automodel's labels are class indices.
        ``portfolio`` lists known-good values of its hyperparameters to try first
        (``{"version": "v1", "conv4_depth": 6}``), as ``Architecture.portfolio`` does.
        """
        return _HyperModelArchitecture(name, make_hypermodel, tuple(tasks), description, [dict(p) for p in portfolio])


class _HyperModelArchitecture(Architecture):
    def __init__(self, name, make_hypermodel, tasks, description, portfolio):
        self.name = name
        self.tasks = tasks
        self.description = description
        self._make_hypermodel = make_hypermodel
        self._portfolio = portfolio

    def portfolio(self, spec):
        return [dict(entry) for entry in self._portfolio]

    def build(self, hp, spec):
        return self._make_hypermodel(spec).build(hp)

    def fit(self, hp, model, spec, *args, **kwargs):
        return self._make_hypermodel(spec).fit(hp, model, *args, **kwargs)
