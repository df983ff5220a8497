"""`python -m reconciler` is the same as the `reconciler` console script."""

from reconciler.entry import run

run()
