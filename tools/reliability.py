#!/usr/bin/env python3
"""Runs the reliability suites and prints their figures: crash states checked, fail-Nth
runs by fault kind, fuzz executions per target, bad inputs tried, and the acknowledged data,
leases and mutable shares lost and the panics, all of which must be zero.

Every figure is read from the suites' own output: each suite prints
``RELIABILITY <key> <value>`` lines, and libFuzzer prints its execution counts. The
"lost" and "panics" rows are zero because every state is checked by an assertion and any
panic fails its suite; this script stops at the first suite that fails, so a printed table
means every check passed.

Usage: tools/reliability.py --venv .venv --c-bin target/c/plain --fuzz-seconds 60
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINE = re.compile(r"^RELIABILITY (\S+) (\d+)$")


def run(cmd: list[str], env: dict[str, str] | None = None, cwd: Path = ROOT) -> str:
    """Runs a suite; returns its output, or exits with it when the suite fails."""
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    # Figures are read from stdout only: the suites' progress goes to stderr, and a line
    # of one must not be cut into a line of the other.
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout[-10000:])
        sys.stdout.write(proc.stderr[-10000:])
        sys.exit(f"reliability: {' '.join(cmd)} failed with status {proc.returncode}")
    return proc.stdout + "\n" + proc.stderr


def figures(output: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in output.splitlines():
        m = LINE.match(line.strip())
        if m:
            found[m.group(1)] = int(m.group(2))
    return found


def fuzz_execs(seconds: int, extra: list[str]) -> dict[str, tuple[int, int]]:
    """Runs every fuzz target for `seconds`; returns (executions, coverage) per target."""
    run([str(ROOT / "fuzz" / "run.sh"), str(seconds), *extra])
    # The targets fuzz/run.sh ran: the [[bin]]s of fuzz/Cargo.toml.
    targets = subprocess.run(["cargo", "fuzz", "list"], cwd=ROOT / "fuzz", check=True,
                             stdout=subprocess.PIPE, text=True).stdout.split()
    if not targets:
        sys.exit("reliability: cargo fuzz list found no fuzz target")
    result = {}
    for t in targets:
        log = (ROOT / "fuzz" / "target" / f"fuzz-{t}.log").read_text(errors="replace")
        done = [l for l in log.splitlines() if re.match(r"^#\d+\s+DONE", l)]
        if not done:
            sys.exit(f"reliability: no DONE line in the log of fuzz target {t}")
        execs = int(re.match(r"^#(\d+)", done[-1]).group(1))
        cov = re.search(r"cov: (\d+)", done[-1])
        result[t] = (execs, int(cov.group(1)) if cov else 0)
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--venv", default=".venv")
    ap.add_argument("--c-bin", default="target/c/plain")
    ap.add_argument("--fuzz-seconds", type=int, default=60)
    ap.add_argument("--fuzz-arg", action="append", default=[],
                    help="passed to libFuzzer (repeat)")
    ap.add_argument("--exhaustive", type=int, default=8,
                    help="every persisted subset is tried up to this many pending changes")
    args = ap.parse_args()
    started = time.monotonic()
    got: dict[str, int] = {}

    rust = run(
        ["cargo", "test", "--release", "-p", "tahoe-shares", "--all-features",
         "--test", "server_crash", "--test", "bad_input", "--test", "concurrency",
         "--test", "resource_limits", "--", "--nocapture", "--test-threads", "2"],
        env={"TS_POWER_EXHAUSTIVE": str(args.exhaustive)},
    )
    got.update(figures(rust))
    leases = re.search(r"heap allocated: .*", rust)

    py = run([str(Path(args.venv) / "bin" / "python"), "-m", "pytest", "-q", "-s",
              "-p", "no:cacheprovider", "tests/python/test_bad_input.py"])
    got.update(figures(py))

    scratch = Path(tempfile.mkdtemp(prefix="ts-reliability-"))
    try:
        c = run([str(ROOT / args.c_bin / "bad_input"), str(scratch)])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    got.update(figures(c))

    fuzz = fuzz_execs(args.fuzz_seconds, args.fuzz_arg)

    def g(key: str) -> int:
        if key not in got:
            sys.exit(f"reliability: no figure {key!r} was printed")
        return got[key]

    crash_process = g("crash_states_process") + g("crash_states_process_in_recovery")
    crash_power = g("crash_states_power_loss") + g("crash_states_power_loss_in_recovery")
    fail_rows = [
        ("fail once", g("fail_nth_fail_once")),
        ("fail for good (sticky)", g("fail_nth_fail_sticky")),
        ("ambiguous (applied, then failed)", g("fail_nth_ambiguous")),
        ("short write", g("fail_nth_short_write")),
        ("bit flip on read", g("fail_nth_bit_flip")),
        ("ENOSPC after a byte budget", g("fail_nth_enospc")),
    ]
    bad = [("core", g("bad_inputs_core")), ("Python", g("bad_inputs_python")),
           ("C", g("bad_inputs_c"))]
    share_checks = sum(g(f"{p}_share_checks") for p in ("process_crash", "power_loss", "fail_nth"))
    mutable_checks = sum(g(f"{p}_mutable_checks") for p in ("process_crash", "power_loss", "fail_nth"))
    lease_checks = sum(g(f"{p}_lease_checks") for p in ("process_crash", "power_loss", "fail_nth"))
    acked = sum(g(f"{p}_acked_checks") for p in ("process_crash", "power_loss", "fail_nth"))

    out = []
    w = out.append
    w(f"tahoe-shares reliability run, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    w(f"machine: {platform.node()} {platform.machine()}, {os.cpu_count()} cores, "
      f"{platform.system()} {platform.release()}")
    w("")
    w(f"operations covered                         {g('operations_covered')}")
    w(f"crash states checked (process crash)       {crash_process}"
      f"  ({g('crash_states_process')} in operations + "
      f"{g('crash_states_process_in_recovery')} inside recovery)")
    w(f"crash states checked (power loss)          {crash_power}"
      f"  ({g('crash_states_power_loss')} persisted subsets, {g('crash_states_torn')} of them "
      f"with a torn write, + {g('crash_states_power_loss_in_recovery')} inside recovery;"
      f" every subset up to {args.exhaustive} pending changes)")
    w(f"crash states checked (total)               {crash_process + crash_power}")
    w("fail-Nth runs, N = 1, 2, ... until the operation completes:")
    for name, n in fail_rows:
        w(f"  {name:<40} {n}")
    w(f"  {'total':<40} {sum(n for _, n in fail_rows)}"
      f"  (succeeded despite a fault other than a bit flip, then checked as "
      f"acknowledged: {g('fail_nth_tolerated')})")
    w(f"  bit flips acted on: {g('fail_nth_bit_flip_changed_shares')} touched shares changed, "
      f"{g('fail_nth_bit_flip_corrupt_shares')} read back as Corrupt (typed error); "
      "untouched shares always identical")
    w("fuzz executions ({} s per target):".format(args.fuzz_seconds))
    for t, (execs, cov) in fuzz.items():
        w(f"  {t:<40} {execs:>12,}  (coverage {cov})")
    w(f"  {'total':<40} {sum(e for e, _ in fuzz.values()):>12,}")
    w("bad inputs tried (catalogue rows, one test each):")
    for name, n in bad:
        w(f"  {name:<40} {n}")
    w(f"  {'total':<40} {sum(n for _, n in bad)}")
    w("concurrency:")
    w(f"  uploads verified byte for byte           {g('concurrency_uploads_verified')}")
    w(f"  races with exactly one winner            {g('concurrency_races_one_winner')}")
    w(f"  test-and-write rounds, one applied       {g('concurrency_testwrite_rounds')}")
    w(f"  torn reads seen                          {g('concurrency_torn_reads')}")
    w("after every crash state and fault (each an assertion; any failure stops the run):")
    w(f"  shares checked old/new                   {share_checks}")
    w(f"  mutable shares checked not torn          {mutable_checks}")
    w(f"  leases checked present with expiry       {lease_checks}")
    w(f"  acknowledged operations checked whole    {acked}")
    w("  acknowledged shares lost                 0")
    w("  acknowledged leases lost                 0")
    w("  torn mutable shares                      0")
    w("  panics                                   0")
    if leases:
        w(f"resource limits (renewing and listing leases): {leases.group(0)}")
    w(f"run time: {time.monotonic() - started:.0f} s")
    text = "\n".join(out) + "\n"
    print(text)
    (ROOT / "target").mkdir(exist_ok=True)
    (ROOT / "target" / "reliability.txt").write_text(text)


if __name__ == "__main__":
    main()
