"""``python -m kvt_models.cli``: the same as ``kvt-train``."""

import sys

from kvt_models.cli.main import main

sys.exit(main())
