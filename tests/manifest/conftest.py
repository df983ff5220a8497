"""Keep the CLI's process-wide logging setup from leaking into other test modules."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def _restore_reconciler_logger() -> Iterator[None]:
    """``cli.main`` configures the ``reconciler`` logger (no propagation); undo it after."""
    logger = logging.getLogger("reconciler")
    saved = (list(logger.handlers), logger.level, logger.propagate)
    yield
    logger.handlers[:], logger.level, logger.propagate = saved
