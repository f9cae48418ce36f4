"""The errors automodel raises on purpose: each names the problem and the fix."""


def last_line(message: str | None, empty: str = "no message") -> str:
    """The last non-blank line of a message or traceback: the error and what it says."""
    lines = [line.strip() for line in str(message or "").splitlines() if line.strip()]
    return lines[-1] if lines else empty


class AutomodelError(Exception):
    """Base class: anything automodel reports as a user-facing problem."""


class PluginError(AutomodelError):
    """A plugin could not be loaded or registered something invalid."""


class DataError(AutomodelError, ValueError):
    """The data cannot be used for the task; raised before any training."""


class SearchError(AutomodelError):
    """A search was configured wrongly or could not go on."""
