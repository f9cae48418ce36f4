"""``python -m automodel.cli``: the ``automodel`` command, for worker processes and where no script is installed."""

import sys

from .commands import main

sys.exit(main())
