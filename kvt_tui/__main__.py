"""``python -m kvt_tui``: the same as ``kvt-tui``."""

import sys

from kvt_tui.cli import main

sys.exit(main())
