"""python -m datasync ... (same as the `datasync` command)."""

import sys

from .cli import main

sys.exit(main())
