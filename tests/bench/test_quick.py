"""``bench/run.py --quick``: the benchmark runs end to end at a tiny size (a smoke test).

Its figures mean nothing at this size and are not asserted; what is checked is that
every stage runs and that every target of issue 16 is printed with a figure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TARGETS = (
    "plan / pages floor at",
    "plan / reader-pattern floor at",
    "plan / pages floor at --latency-ms 50",
    "manifest load at",
    "diff + plan CPU at",
    "peak RSS at",
    "verified apply at c=8 / K*L/c",
    "apply under 10% random 429s / clean",
)


def test_quick_bench_runs_and_prints_every_target() -> None:
    before = set((ROOT / "bench" / "results").glob("*.json"))
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    targets = out[out.index("TARGETS (this run)") :].splitlines()[2:]
    for label in TARGETS:
        line = next(line for line in targets if label in line)
        assert line.rstrip().endswith(("yes", "NO", "-"))
    assert "PLAN (medians; plan = whole `reconciler plan` process" in out
    assert "rate limiter" in out
    # The evidence's own cost, apart: confirmation lookups in the plan, reads after apply.
    assert "conf = of req, confirmation lookups" in out
    assert re.search(r"APPLY \([0-9]+ PATCHes \+ [0-9]+ verification reads", out), out
    # import -> plan round trip: what import writes, plan reads back as "no changes"
    assert re.search(r"import [0-9.]+ s into [0-9]+ files .*: 0 operations", out), out
    assert set((ROOT / "bench" / "results").glob("*.json")) == before  # quick writes nothing
