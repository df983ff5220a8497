"""`make bench`: plan, read and apply against the sandbox, every target of issue 16 printed.

One run, on this machine. The sandbox is a separate process (``python -m reconciler
sandbox``) so that server and client do not share a GIL, and every client measurement
runs in a child process of its own (bench/probes.py) so its peak RSS and CPU are its
own. Prints a table, then every target with its figure, and writes
bench/results/<UTC timestamp>.json. ``--quick`` runs tiny sizes (the smoke test
``make test`` runs); its figures mean nothing.

What is compared with what (walls are medians over the repeats of one run):
- plan (whole process): ``python -m reconciler plan -m DIR --format json`` from spawn
  to exit, interpreter start-up and imports included; peak RSS from wait4.
- plan phases: the same work in a probe, timed per phase (load, read, plan, render).
- pages floor: a minimal client fetching every Users and Groups page, members included
  (ceil(N/P) + ceil(G/P) requests), json.loads only. The reader takes members from
  these pages where users' `groups` corroborate them (the sandbox fills `groups`) and
  reads one canary team: ceil(N/P) + ceil(G/P) + 1 requests; on a server that does
  not fill `groups` it reads each team, the pattern of the next floor:
- reader-pattern floor: the per-team pattern (pages + one GET per team through a
  pool as large as the reader's), json.loads only.
  Floors are timed inside their process (no start-up): the plan ratios are upper bounds.
  Plan's request count also holds the "confirm" lookups (a manifest leaver the
  listing lacks), reported apart.
- latency: the same at ``--latency-ms 50``, where loading the manifest while the read
  waits decides: at 100k (load and read both seconds long) and at 10k (where the
  plan's fixed start-up, which the in-process floors do not pay, weighs most).
- apply: K user PATCHes with 50 ms injected latency, then K verification reads; floor
  (K+K)*L/c; then 10% random 429s
  (adaptive limiter against the old shared gate and per-thread backoff), then a real
  rate limiter (``--rate-limit``): 429s counted.
"""

from __future__ import annotations

import argparse
import compileall
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
CONCURRENCY = 4  # the reader's default: team reads, and pages read ahead, at a time
PERCENT = 2.0
LATENCY_MS = 50
OPERATIONS = 200
RATE_LIMIT = 40  # requests per second, for the rate-limiter scenario
RETRY_AFTER_S = 0.2  # what the random 429s ask for
TARGETS = (
    # (key, label, target, unit, higher is worse)
    ("plan_over_pages", "plan / pages floor at {big}", 2.0, "x"),
    ("plan_over_pattern", "plan / reader-pattern floor at {big}", 1.3, "x"),
    ("latency_ratio", "plan / pages floor at --latency-ms 50 ({lat})", 1.3, "x"),
    ("latency_ratio_small", "plan / pages floor at --latency-ms 50 ({lat_small})", 1.3, "x"),
    ("load_s", "manifest load at {big}", 3.0, "s"),
    ("plan_cpu_s", "diff + plan CPU at {cpu}", 0.5, "s"),
    ("rss_big_mb", "peak RSS at {big}", 250, "MB"),
    ("rss_huge_mb", "peak RSS at {huge}", 700, "MB"),
    ("apply_c8", "verified apply at c=8 / K*L/c", 1.2, "x"),
    ("apply_429", "apply under 10% random 429s / clean", 1.3, "x"),
    # Not a target of the issue: the floor the 429s themselves set (see summarise_apply).
    ("apply_429_ideal", "apply under 10% 429s / ideal for those 429s", 1.3, "x"),
)


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


def whole_plan(url: str, manifest: Path) -> dict[str, Any]:
    """``reconciler plan`` as a user runs it: wall from spawn to exit, and its peak RSS."""
    env = {**os.environ, "MIXPANEL_SCIM_URL": url, "MIXPANEL_SCIM_TOKEN": TOKEN}
    command = [PYTHON, "-m", "reconciler", "plan", "-m", str(manifest), "--format", "json"]
    started = time.perf_counter()
    child = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.stderr is not None
    error = child.stderr.read().decode("utf-8", "replace")
    child.stderr.close()
    if child.returncode not in (0, 2):
        raise RuntimeError(f"reconciler plan failed ({child.returncode}):\n{error[-3000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
    }


def bench_size(users: int, repeats: int, plan_repeats: int) -> dict[str, Any]:
    log(f"{users:>7} users: starting the sandbox (random:{users})")
    with Sandbox("--seed", f"random:{users}") as sandbox, tempfile.TemporaryDirectory() as tmp:
        client = ScimClient.connect(sandbox.url, Token(TOKEN))
        live = read_live_state(client)  # also warms the sandbox's byte caches
        workload = make_workload(live, PERCENT)
        manifest = Path(tmp) / "manifests"
        write_yaml(workload.document, manifest)
        del live, client
        common = ["--url", sandbox.url, "--concurrency", str(CONCURRENCY)]
        runs: dict[str, list[dict[str, Any]]] = {
            "pages": [],
            "floor": [],
            "read": [],
            "whole": [],
            "plan": [],
        }
        for _ in range(repeats):  # interleaved so drift hits all alike
            runs["pages"].append(probe("pages", "--url", sandbox.url))
            runs["floor"].append(probe("floor", *common))
            runs["read"].append(probe("read", *common))
            runs["whole"].append(whole_plan(sandbox.url, manifest))
            if len(runs["plan"]) < plan_repeats:
                runs["plan"].append(probe("plan", *common, "--manifest", str(manifest)))
            log(
                f"{users:>7} users: pages {runs['pages'][-1]['wall']:.2f}s "
                f"floor {runs['floor'][-1]['wall']:.2f}s read {runs['read'][-1]['wall']:.2f}s "
                f"plan {runs['whole'][-1]['wall']:.2f}s"
            )
        while len(runs["plan"]) < plan_repeats:  # phases (the manifest load): a median of 3
            runs["plan"].append(probe("plan", *common, "--manifest", str(manifest)))
        shutil.rmtree(manifest)
    return summarise_size(users, workload.changes, runs)


def summarise_size(
    users: int, changes: dict[str, int], runs: dict[str, list[dict[str, Any]]]
) -> dict[str, Any]:
    def wall(kind: str) -> float:
        return median([r["wall"] for r in runs[kind]])

    plans = runs["plan"]

    def phase(name: str, key: str) -> float:
        return median([p["phases"][name][key] for p in plans])

    groups = runs["floor"][0]["groups"]
    whole = wall("whole")
    return {
        "users": users,
        "groups": groups,
        "memberships": runs["pages"][0]["members"],
        "changes": changes,
        "lower_bound": lower_bound(users, groups, PAGE),
        "requests_pages": runs["pages"][0]["requests"],
        "requests_plan": plans[0]["requests"],
        "requests_confirm": plans[0].get("confirmations", 0),
        "requests_floor": runs["floor"][0]["requests"],
        "team_reads": plans[0].get("team_reads"),
        "teams_from_pages": plans[0].get("teams_from_pages"),
        "pages_wall": wall("pages"),
        "floor_wall": wall("floor"),
        "read_wall": wall("read"),
        "read_cpu": median([r["cpu_read"] for r in runs["read"]]),
        "plan_wall": whole,
        "plan_cpu": median([r["cpu"] for r in runs["whole"]]),
        "plan_rss_mb": max(r["peak_rss_mb"] for r in runs["whole"]),
        "plan_phases": {
            name: {"wall": phase(name, "wall"), "cpu": phase(name, "cpu")}
            for name in ("load", "read", "plan", "render")
        },
        "plan_operations": plans[0]["operations"],
        "read_over_floor": wall("read") / wall("floor"),
        "plan_over_floor": whole / wall("floor"),
        "plan_over_pages": whole / wall("pages"),
        "runs": runs,
    }


def bench_latency(users: int, repeats: int) -> dict[str, Any]:
    """Plan against both floors with every request 50 ms late: overlap decides."""
    log(f"latency: {users} users at --latency-ms {LATENCY_MS}")
    seed = ["--seed", f"random:{users}", "--latency-ms", str(LATENCY_MS)]
    with tempfile.TemporaryDirectory() as tmp, Sandbox(*seed) as sandbox:
        manifest = Path(tmp) / "manifests"
        probe("manifest", "--users", str(users), "--percent", str(PERCENT), "--out", str(manifest))
        common = ["--url", sandbox.url, "--concurrency", str(CONCURRENCY)]
        pages, windowed, floors, wholes = [], [], [], []
        for _ in range(repeats):
            pages.append(probe("pages", "--url", sandbox.url)["wall"])
            window = ["--window", str(CONCURRENCY)]
            windowed.append(probe("pages", "--url", sandbox.url, *window)["wall"])
            floors.append(probe("floor", *common)["wall"])
            wholes.append(whole_plan(sandbox.url, manifest)["wall"])
    plan, floor = median(wholes), median(floors)
    # The target's floor is the pages floor: the plan reads members from the pages when
    # users' `groups` corroborate them (the sandbox's case), so that is its pattern.
    return {
        "users": users,
        "latency_ms": LATENCY_MS,
        "pages_wall": median(pages),
        "pages_window_wall": median(windowed),
        "floor_wall": floor,
        "plan_wall": plan,
        "ratio": plan / median(pages),
        "over_window": plan / median(windowed),
        "over_pattern": plan / floor,
        "runs": {"pages": pages, "pages_window": windowed, "floor": floors, "plan": wholes},
    }


def bench_rss(users: int) -> dict[str, Any]:
    """One whole-process plan of a ``users`` org (manifest written without HTTP)."""
    log(f"{users:>7} users: peak RSS of one plan")
    with tempfile.TemporaryDirectory() as tmp, Sandbox("--seed", f"random:{users}") as sandbox:
        manifest = Path(tmp) / "manifests"
        probe("manifest", "--users", str(users), "--percent", str(PERCENT), "--out", str(manifest))
        figures = whole_plan(sandbox.url, manifest)
        log(f"{users:>7} users: plan {figures['wall']:.2f}s, {figures['peak_rss_mb']:.0f} MB")
        figures["import"] = import_round_trip(sandbox.url, Path(tmp) / "imported")
    return {"users": users, **figures}


def import_round_trip(url: str, out: Path) -> dict[str, Any]:
    """``reconciler import`` of the whole org, then ``plan`` of what it wrote.

    The plan must be empty: an import that a plan refuses (a file over the loader's
    cap) or misreads would show here as an error or as operations.
    """
    env = {**os.environ, "MIXPANEL_SCIM_URL": url, "MIXPANEL_SCIM_TOKEN": TOKEN}
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "-m", "reconciler", "import", "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    imported = time.perf_counter() - started
    files = sorted(out.rglob("*.yaml"))
    largest = max((f.stat().st_size for f in files), default=0)
    started = time.perf_counter()
    done = subprocess.run(
        [PYTHON, "-m", "reconciler", "plan", "-m", str(out), "--format", "json"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    operations = len(json.loads(done.stdout)["operations"])
    planned = time.perf_counter() - started
    log(
        f"import: {imported:.2f}s, {len(files)} files (largest {largest / 2**20:.1f} MiB); "
        f"plan of the import {planned:.2f}s, {operations} operations"
    )
    return {
        "import_wall": imported,
        "files": len(files),
        "largest_file_bytes": largest,
        "plan_wall": planned,
        "operations": operations,
    }


def bench_apply(operations: int, repeats: int) -> dict[str, Any]:
    log(f"apply: {operations} PATCHes, latency {LATENCY_MS} ms")
    latency = ["--seed", "random:1000", "--latency-ms", str(LATENCY_MS)]
    ops = ["--operations", str(operations)]
    modes = ",".join(["8:adaptive,8:gate,8:nogate"] * repeats)
    with Sandbox(*latency) as sandbox:
        runs = ",".join(["1:adaptive", *["8:adaptive"] * repeats])
        clean = probe("apply", "--url", sandbox.url, *ops, "--runs", runs)
    log(f"apply: with 10% 429s (Retry-After {RETRY_AFTER_S} s)")
    faults = ["--rate-429", "0.1", "--retry-after", str(RETRY_AFTER_S), "--fault-seed", "7"]
    with Sandbox(*latency, *faults) as sandbox:
        limited = probe("apply", "--url", sandbox.url, *ops, "--runs", modes)
    log(f"apply: behind a rate limiter of {RATE_LIMIT} requests/s")
    limiter = ["--rate-limit", str(RATE_LIMIT), "--rate-limit-burst", "4", "--retry-after", "0.1"]
    with Sandbox(*latency, *limiter) as sandbox:
        throttled = probe("apply", "--url", sandbox.url, *ops, "--runs", modes)
    return {
        "operations": operations,
        "clean": clean["runs"],
        "rate_limited": limited["runs"],
        "rate_limiter": throttled["runs"],
    }


def summarise_apply(runs: dict[str, Any]) -> dict[str, Any]:
    def pick(group: str, concurrency: int, mode: str, key: str = "wall") -> float:
        return median(
            [r[key] for r in runs[group] if r["concurrency"] == concurrency and r["mode"] == mode]
        )

    operations = runs["operations"]
    out: dict[str, Any] = {"operations": operations, "latency_ms": LATENCY_MS}
    # Verify after write reads each touched user back once: K more requests, counted
    # on their own, so the floor is (K writes + K reads) * L / c.
    reads = median([r.get("verification", 0) for r in runs["clean"]])
    out["verification_reads"] = reads
    for concurrency in (1, 8):
        ideal = (operations + reads) * LATENCY_MS / 1000 / concurrency
        measured = pick("clean", concurrency, "adaptive")
        out[f"c{concurrency}"] = {"wall": measured, "floor": ideal, "ratio": measured / ideal}
    base = out["c8"]["wall"]
    for mode in ("adaptive", "gate", "nogate"):
        measured = pick("rate_limited", 8, mode)
        limited = pick("rate_limited", 8, mode, "rate_limited")
        # A request waiting out a sparse 429 lends its lane (reconciler/scim/lanes.py),
        # so each 429 costs only its extra round trip, shared over c lanes; but at the
        # end of each of the two phases (writes, read-back) nothing is left to run
        # while the last 429'd request waits: one Retry-After and round trip each.
        latency = LATENCY_MS / 1000
        ideal = base + limited * latency / 8 + 2 * (RETRY_AFTER_S + latency)
        out[f"429_{mode}"] = {
            "wall": measured,
            "ratio": measured / base,
            "ideal": ideal,
            "over_ideal": measured / ideal,
            "rate_limited": limited,
        }
        out[f"limiter_{mode}"] = {
            "wall": pick("rate_limiter", 8, mode),
            # every request (writes and verification reads) passes the limiter
            "ideal": (operations + reads) / RATE_LIMIT,
            "rate_limited": pick("rate_limiter", 8, mode, "rate_limited"),
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


def table(results: dict[str, Any]) -> str:
    sizes, plan_cpu, apply = results["sizes"], results["plan_cpu"], results["apply"]
    head = (
        f"{'users':>7} {'teams':>5} {'req':>5} {'conf':>5} {'pages':>5} {'ptrn':>5} "
        f"{'pages s':>8} "
        f"{'floor s':>8} "
        f"{'read s':>7} {'plan s':>7} {'/pages':>6} {'/floor':>6} {'load s':>7} "
        f"{'plan CPU':>8} {'RSS MB':>7}"
    )
    lines = [
        "PLAN (medians; plan = whole `reconciler plan` process, start-up included;",
        " requests: req = plan, conf = of req, confirmation lookups (userName/displayName",
        " eq: absences proven), pages = pages floor, ptrn = reader-pattern floor)",
        head,
    ]
    for s in sizes:
        lines.append(
            f"{s['users']:>7} {s['groups']:>5} {s['requests_plan']:>5} "
            f"{s.get('requests_confirm', 0):>5} {s['requests_pages']:>5} "
            f"{s['requests_floor']:>5} {s['pages_wall']:>8.2f} "
            f"{s['floor_wall']:>8.2f} "
            f"{s['read_wall']:>7.2f} {s['plan_wall']:>7.2f} {s['plan_over_pages']:>6.2f} "
            f"{s['plan_over_floor']:>6.2f} {s['plan_phases']['load']['wall']:>7.2f} "
            f"{s['plan_cpu']:>8.2f} {s['plan_rss_mb']:>7.0f}"
        )
    for r in results["rss"]:
        lines.append(
            f"{r['users']:>7} (one plan) wall {r['wall']:.2f} s, peak RSS {r['peak_rss_mb']:.0f} MB"
        )
        i = r.get("import")
        if i:
            lines.append(
                f"{r['users']:>7} import {i['import_wall']:.2f} s into {i['files']} files "
                f"(largest {i['largest_file_bytes'] / 2**20:.1f} MiB), then plan "
                f"{i['plan_wall']:.2f} s: {i['operations']} operations"
            )
    lines.append("")
    for lat in results["latency"]:
        lines.append(
            f"LATENCY {lat['latency_ms']} ms, {lat['users']} users: plan {lat['plan_wall']:.2f} s"
            f", reader-pattern floor {lat['floor_wall']:.2f} s, pages floor "
            f"{lat['pages_wall']:.2f} s ({lat['ratio']:.2f}x pages floor, "
            f"{lat.get('over_pattern', float('nan')):.2f}x pattern); pages {CONCURRENCY} at a "
            f"time {lat.get('pages_window_wall', float('nan')):.2f} s "
            f"({lat.get('over_window', float('nan')):.2f}x)"
        )
    lines += [
        "",
        f"DIFF+PLAN CPU (make_plan, in memory, {plan_cpu['users']} users): "
        f"median {plan_cpu['median']:.2f} s "
        f"({', '.join(f'{t:.2f}' for t in plan_cpu['cpu_runs'])}); "
        f"{plan_cpu['operations']} operations",
        "",
        f"APPLY ({apply['operations']} PATCHes + {apply['verification_reads']:.0f} "
        f"verification reads, latency {apply['latency_ms']} ms)",
    ]
    for c in (1, 8):
        a = apply[f"c{c}"]
        lines.append(f"  c={c}: {a['wall']:.2f} s vs K*L/c {a['floor']:.2f} s -> {a['ratio']:.2f}x")
    for mode in ("adaptive", "gate", "nogate"):
        a = apply[f"429_{mode}"]
        lines.append(
            f"  c=8, 10% 429 ({RETRY_AFTER_S} s), {mode:>8}: {a['wall']:.2f} s "
            f"({a['ratio']:.2f}x clean, {a['over_ideal']:.2f}x the ideal {a['ideal']:.2f} s "
            f"for its 429s: their round trips over 8 lanes + a phase-end Retry-After each), "
            f"{a['rate_limited']:.0f} 429s"
        )
    for mode in ("adaptive", "gate", "nogate"):
        a = apply[f"limiter_{mode}"]
        lines.append(
            f"  c=8, rate limiter {RATE_LIMIT}/s, {mode:>8}: {a['wall']:.2f} s "
            f"(ideal (K+K)/N {a['ideal']:.2f} s), {a['rate_limited']:.0f} 429s"
        )
    return "\n".join(lines)


def figures(results: dict[str, Any]) -> dict[str, float]:
    """Each target's measured figure (nan when this run did not measure it)."""
    big = results["sizes"][-1]
    huge = results["rss"][-1] if results["rss"] else {"peak_rss_mb": float("nan")}
    apply = results["apply"]
    return {
        "plan_over_pages": big["plan_over_pages"],
        "plan_over_pattern": big["plan_over_floor"],
        "latency_ratio": results["latency"][-1]["ratio"],
        "latency_ratio_small": results["latency"][0]["ratio"],
        "load_s": big["plan_phases"]["load"]["wall"],
        "plan_cpu_s": results["plan_cpu"]["median"],
        "rss_big_mb": big["plan_rss_mb"],
        "rss_huge_mb": huge["peak_rss_mb"],
        "apply_c8": apply["c8"]["ratio"],
        "apply_429": apply["429_adaptive"]["ratio"],
        "apply_429_ideal": apply["429_adaptive"].get("over_ideal", float("nan")),
    }


def targets(results: dict[str, Any]) -> str:
    """Every target of the issue with this run's figure and whether it is met."""
    names = {
        "big": _size(results["sizes"][-1]["users"]),
        "huge": _size(results["rss"][-1]["users"]) if results["rss"] else "(not run)",
        "lat": _size(results["latency"][-1]["users"]),
        "lat_small": _size(results["latency"][0]["users"]),
        "cpu": _size(results["plan_cpu"]["users"]),
    }
    measured = figures(results)
    lines = ["TARGETS (this run)", f"  {'measure':<52} {'target':>9} {'figure':>9}  met"]
    for key, label, target, unit in TARGETS:
        value = measured[key]
        met = "-" if value != value else ("yes" if value <= target else "NO")
        shown = "n/a" if value != value else f"{value:.2f}" if unit != "MB" else f"{value:.0f}"
        shown += "" if value != value else unit
        lines.append(
            f"  {label.format(**names):<52} {'<= ' + str(target) + unit:>9} {shown:>9}  {met}"
        )
    return "\n".join(lines)


def _size(users: int) -> str:
    return f"{users // 1000}k" if users >= 1000 and users % 1000 == 0 else f"{users} users"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--rss-sizes", default="300000", help="one plan each, for peak RSS")
    parser.add_argument(
        "--latency-users", default="10000,100000", help="sizes for the latency scenario"
    )
    parser.add_argument("--operations", type=int, default=OPERATIONS)
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes, one repeat each (smoke test)"
    )
    args = parser.parse_args()
    if args.quick:
        args.sizes, args.rss_sizes, args.latency_users = "200", "300", "100,200"
        args.operations = 16
    started = time.perf_counter()
    # An installed package has its bytecode (pip compiles it at install); a checkout run
    # with PYTHONDONTWRITEBYTECODE=1 would compile every project module again in each
    # whole-process plan, which is start-up no user pays.
    for package in ("reconciler", "scim_sandbox"):
        compileall.compile_dir(ROOT / package, quiet=1)
    sizes = []
    for users in (int(n) for n in args.sizes.split(",")):
        repeats = 1 if args.quick else (3 if users <= 10_000 else 2)
        plan_repeats = 1 if args.quick else 3
        sizes.append(bench_size(users, repeats, plan_repeats))
    rss = [bench_rss(int(n)) for n in args.rss_sizes.split(",") if n]
    latency = [bench_latency(int(n), 1 if args.quick else 3) for n in args.latency_users.split(",")]
    plan_cpu = bench_plan_cpu(max(s["users"] for s in sizes))
    apply = summarise_apply(bench_apply(args.operations, 1 if args.quick else 3))
    results: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "settings": {
            "percent_changed": PERCENT,
            "page_size": PAGE,
            "reader_concurrency": CONCURRENCY,
            "quick": args.quick,
        },
        "sizes": sizes,
        "rss": rss,
        "latency": latency,
        "plan_cpu": plan_cpu,
        "apply": apply,
    }
    results["targets"] = figures(results)
    results["bench_seconds"] = time.perf_counter() - started
    if not args.quick:
        out = HERE / "results" / f"{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.json"
        out.parent.mkdir(exist_ok=True)
        out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        print(f"\nresults: {out.relative_to(ROOT)} ({results['bench_seconds']:.0f} s)")
    print()
    print(table(results))
    print()
    print(targets(results))


if __name__ == "__main__":
    main()
