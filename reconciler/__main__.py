"""`python -m reconciler` is the same as the `reconciler` console script."""

import sys

from reconciler.cli import main

sys.exit(main())
