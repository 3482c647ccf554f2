"""``python -m heatmark``: the command line."""

import sys

from heatmark.cli import main

sys.exit(main())
