"""`make bench`: plan, read and apply at 1k / 10k / 100k users against the sandbox.

One run, on this machine, in a few minutes. The sandbox is a separate process
(``python -m reconciler sandbox``) so that server and client do not share a GIL, and
every measurement of the client runs in a child process of its own (bench/probes.py)
so its peak RSS and CPU time are its own. Prints a table and one line of key
ratios, and writes bench/results/<UTC timestamp>.json.

What is compared with what:
- plan  : the ``reconciler plan`` work (load manifest, read, plan, render JSON).
- read  : ``read_live_state`` alone.
- floor : the same requests (user pages, team pages without members, one GET per
          team through a pool as large as the reader's) with a bare requests.Session
          and json.loads, nothing else. Ratios are read/floor and plan/floor (wall).
- lower bound of requests: ceil(N/P) + ceil(G/P) + G, P = 1000; plan's count also
  holds the "confirm" lookups (a manifest leaver the listing lacks), reported apart.
- apply : K user PATCHes with 50 ms injected latency; floor K*L/c.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from probes import PAGE, TOKEN, lower_bound  # noqa: E402
from workload import make_workload, write_yaml  # noqa: E402

from reconciler.reader import read_live_state  # noqa: E402
from reconciler.scim.client import ScimClient  # noqa: E402
from reconciler.scim.secret import Token  # noqa: E402

PYTHON = sys.executable
CONCURRENCY = 4  # the reader's default pool for team reads
PERCENT = 2.0
LATENCY_MS = 50
OPERATIONS = 200


class Sandbox:
    """``python -m reconciler sandbox`` in its own process; stopped with SIGTERM."""

    def __init__(self, *args: str) -> None:
        command = [PYTHON, "-m", "reconciler", "sandbox", "--port", "0", "--token", TOKEN]
        self.process = subprocess.Popen(
            [*command, *args], stdout=subprocess.PIPE, text=True, cwd=ROOT
        )
        self.url = self._wait_for_url()

    def _wait_for_url(self) -> str:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if "listening on" in line:
                return line.rsplit(" ", 1)[1].strip()
        raise RuntimeError(f"sandbox exited with {self.process.wait()}")

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def probe(kind: str, *args: str) -> dict[str, Any]:
    """Run one probe in a child process; its last stdout line is its JSON figures."""
    done = subprocess.run(
        [PYTHON, str(HERE / "probes.py"), kind, "--token", TOKEN, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"probe {kind} failed:\n{done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def bench_size(users: int, repeats: int, plan_repeats: int) -> dict[str, Any]:
    log(f"{users:>7} users: starting the sandbox (random:{users})")
    with Sandbox("--seed", f"random:{users}") as sandbox, tempfile.TemporaryDirectory() as tmp:
        client = ScimClient.connect(sandbox.url, Token(TOKEN))
        live = read_live_state(client)  # also warms the sandbox's byte caches
        workload = make_workload(live, PERCENT)
        manifest = Path(tmp) / "manifests"
        write_yaml(workload.document, manifest)
        common = ["--url", sandbox.url, "--concurrency", str(CONCURRENCY)]
        plans, reads, floors = [], [], []
        for _ in range(repeats):  # interleaved so drift hits all three alike
            floors.append(probe("floor", *common))
            reads.append(probe("read", *common))
            if len(plans) < plan_repeats:
                plans.append(probe("plan", *common, "--manifest", str(manifest)))
            log(f"{users:>7} users: floor {floors[-1]['wall']:.2f}s read {reads[-1]['wall']:.2f}s")
        shutil.rmtree(manifest)
    groups = len(live.groups)
    return summarise_size(users, groups, workload.changes, plans, reads, floors)


def summarise_size(
    users: int,
    groups: int,
    changes: dict[str, int],
    plans: list[dict[str, Any]],
    reads: list[dict[str, Any]],
    floors: list[dict[str, Any]],
) -> dict[str, Any]:
    floor = median([f["wall"] for f in floors])
    read = median([r["wall"] for r in reads])
    plan = median([p["wall"] for p in plans])

    def phase(name: str, key: str) -> float:
        return median([p["phases"][name][key] for p in plans])

    return {
        "users": users,
        "groups": groups,
        "memberships": floors[0]["members"],
        "changes": changes,
        "lower_bound": lower_bound(users, groups, PAGE),
        "requests_plan": plans[0]["requests"],
        "requests_confirm": plans[0].get("confirmations", 0),
        "requests_read": reads[0]["requests"],
        "requests_floor": floors[0]["requests"],
        "floor_wall": floor,
        "floor_cpu": median([f["cpu_read"] for f in floors]),
        "read_wall": read,
        "read_cpu": median([r["cpu_read"] for r in reads]),
        "read_rss_mb": max(r["peak_rss_mb"] for r in reads),
        "plan_wall": plan,
        "plan_cpu": median([p["cpu"] for p in plans]),
        "plan_rss_mb": max(p["peak_rss_mb"] for p in plans),
        "plan_phases": {
            name: {"wall": phase(name, "wall"), "cpu": phase(name, "cpu")}
            for name in ("load", "read", "plan", "render")
        },
        "plan_operations": plans[0]["operations"],
        "read_over_floor": read / floor,
        "plan_over_floor": plan / floor,
        "runs": {"plan": plans, "read": reads, "floor": floors},
    }


def bench_apply() -> dict[str, Any]:
    log(f"apply: {OPERATIONS} PATCHes, latency {LATENCY_MS} ms")
    latency = ["--seed", "random:1000", "--latency-ms", str(LATENCY_MS)]
    with Sandbox(*latency) as sandbox:
        clean = probe(
            "apply",
            "--url",
            sandbox.url,
            "--operations",
            str(OPERATIONS),
            "--runs",
            "1:gate,8:gate,8:gate,8:gate",
        )
    log("apply: with 10% 429s (Retry-After 0.2 s)")
    faults = ["--rate-429", "0.1", "--retry-after", "0.2", "--fault-seed", "7"]
    with Sandbox(*latency, *faults) as sandbox:
        limited = probe(
            "apply",
            "--url",
            sandbox.url,
            "--operations",
            str(OPERATIONS),
            "--runs",
            "8:gate,8:aimd,8:nogate,8:gate,8:aimd,8:nogate",
        )
    return {"clean": clean["runs"], "rate_limited": limited["runs"]}


def summarise_apply(runs: dict[str, Any]) -> dict[str, Any]:
    def wall(group: str, concurrency: int, mode: str) -> float:
        return median(
            [
                r["wall"]
                for r in runs[group]
                if r["concurrency"] == concurrency and r["mode"] == mode
            ]
        )

    def count(mode: str, key: str) -> float:
        return median([r[key] for r in runs["rate_limited"] if r["mode"] == mode])

    out: dict[str, Any] = {"operations": OPERATIONS, "latency_ms": LATENCY_MS}
    for concurrency in (1, 8):
        ideal = OPERATIONS * LATENCY_MS / 1000 / concurrency
        measured = wall("clean", concurrency, "gate")
        out[f"c{concurrency}"] = {"wall": measured, "floor": ideal, "ratio": measured / ideal}
    base = out["c8"]["wall"]
    for mode in ("gate", "aimd", "nogate"):
        measured = wall("rate_limited", 8, mode)
        out[f"429_{mode}"] = {
            "wall": measured,
            "lost": measured - base,
            "rate_limited": count(mode, "rate_limited"),
            "retries": count(mode, "retries"),
        }
    return out


def bench_plan_cpu(users: int) -> dict[str, Any]:
    log(f"diff+plan CPU at {users} users (in memory, 5 runs)")
    figures = probe("plan-cpu", "--users", str(users), "--percent", str(PERCENT))
    figures["median"] = median(figures["cpu_runs"])
    figures["users"] = users
    return figures


def log(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def table(sizes: list[dict[str, Any]], plan_cpu: dict[str, Any], apply: dict[str, Any]) -> str:
    head = (
        f"{'users':>7} {'teams':>5} {'req':>5} {'bound':>5} {'floor s':>8} {'read s':>7} "
        f"{'read/fl':>7} {'plan s':>7} {'plan/fl':>7} {'load s':>7} {'plan CPU':>8} "
        f"{'RSS MB':>7}"
    )
    lines = ["PLAN (wall = median; plan = load + read + plan + render)", head]
    for s in sizes:
        lines.append(
            f"{s['users']:>7} {s['groups']:>5} {s['requests_plan']:>5} {s['lower_bound']:>5} "
            f"{s['floor_wall']:>8.2f} {s['read_wall']:>7.2f} {s['read_over_floor']:>7.2f} "
            f"{s['plan_wall']:>7.2f} {s['plan_over_floor']:>7.2f} "
            f"{s['plan_phases']['load']['wall']:>7.2f} {s['plan_cpu']:>8.2f} "
            f"{s['plan_rss_mb']:>7.0f}"
        )
    runs = ", ".join(f"{t:.2f}" for t in plan_cpu["cpu_runs"])
    lines += [
        "",
        f"DIFF+PLAN CPU (make_plan, in memory, {plan_cpu['users']} users): "
        f"median {plan_cpu['median']:.2f} s "
        f"({runs}); {plan_cpu['operations']} operations",
        "",
        f"APPLY ({apply['operations']} PATCHes, latency {apply['latency_ms']} ms)",
    ]
    for c in (1, 8):
        a = apply[f"c{c}"]
        lines.append(f"  c={c}: {a['wall']:.2f} s vs K*L/c {a['floor']:.2f} s -> {a['ratio']:.2f}x")
    for mode in ("gate", "aimd", "nogate"):
        a = apply[f"429_{mode}"]
        lines.append(
            f"  c=8, 10% 429 (0.2 s), {mode:>6}: {a['wall']:.2f} s, lost to backoff "
            f"{a['lost']:.2f} s, {a['rate_limited']:.0f} 429s"
        )
    return "\n".join(lines)


def key_line(sizes: list[dict[str, Any]], plan_cpu: dict[str, Any], apply: dict[str, Any]) -> str:
    big = sizes[-1]
    return (
        f"KEY {big['users'] // 1000}k: read/floor {big['read_over_floor']:.2f}x, "
        f"plan/floor {big['plan_over_floor']:.2f}x, "
        f"requests {big['requests_plan']}/{big['lower_bound']} (bound) "
        f"incl. {big['requests_confirm']} confirmations, "
        f"plan RSS {big['plan_rss_mb']:.0f} MB, diff+plan CPU {plan_cpu['median']:.2f} s, "
        f"apply c=8 {apply['c8']['ratio']:.2f}x K*L/c, "
        f"429 lost {apply['429_gate']['lost']:.2f} s (gate) / "
        f"{apply['429_nogate']['lost']:.2f} s (per-thread)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--quick", action="store_true", help="one repeat each (smoke test)")
    args = parser.parse_args()
    started = time.perf_counter()
    sizes = []
    for users in (int(n) for n in args.sizes.split(",")):
        repeats = 1 if args.quick else (3 if users <= 10_000 else 2)
        plan_repeats = 1 if args.quick or users > 10_000 else 3
        sizes.append(bench_size(users, repeats, plan_repeats))
    plan_cpu = bench_plan_cpu(max(s["users"] for s in sizes))
    apply = summarise_apply(bench_apply())
    results = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "settings": {
            "percent_changed": PERCENT,
            "page_size": PAGE,
            "reader_concurrency": CONCURRENCY,
        },
        "sizes": sizes,
        "plan_cpu": plan_cpu,
        "apply": apply,
        "bench_seconds": time.perf_counter() - started,
    }
    out = HERE / "results" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print()
    print(table(sizes, plan_cpu, apply))
    print(f"\nresults: {out.relative_to(ROOT)} ({results['bench_seconds']:.0f} s)")
    print(key_line(sizes, plan_cpu, apply))


if __name__ == "__main__":
    main()
