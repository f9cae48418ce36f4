"""The ``automodel`` command: one module per job.

``commands`` builds the parser and runs the small commands; ``search`` runs a
search (``automodel search``, ``chief``, ``demo``) and prints its events;
``use`` predicts and evaluates with a run's model, reading through ``files``;
``output`` holds the JSON, the lines for people and the exit codes; ``options``
is ``automodel.search``'s keywords as one table the parser is built from.
"""

from .commands import build_parser, main
from .output import EXIT_CODES

__all__ = ["EXIT_CODES", "build_parser", "main"]
