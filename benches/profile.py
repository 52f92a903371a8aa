"""Where the time of one operation of the census mix goes, per implementation.

``python benches/profile.py OP KIND [--durable] [--n 500]`` runs the census mix of
``benches/syscalls.py`` (the same phases, set-up and warm-up) with ``--n`` operations in
phase OP (``small_upload``, ``slot_create``, ``slot_write``, ``slot_readv``,
``renew_lease``, ``add_lease``, ``upload``) and profiles that phase alone:

- KIND ``tahoe``, ``dropin`` or ``native``: pyinstrument (``.venv/bin/pip install
  pyinstrument``) around the phase; prints its call tree.
- KIND ``rust``: ``perf record -e cpu-clock -g`` of ``rust_server_bench server census``,
  enabled only during the phase (``--control`` fifos); prints ``perf report`` (user and
  kernel stacks, no children), cut at ``--lines``.

Nothing is asserted; this is how the analysis in ``benches/RESULTS.md`` was made.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("op")
    ap.add_argument("kind", choices=["tahoe", "dropin", "native", "rust"])
    ap.add_argument("--durable", action="store_true")
    ap.add_argument("--n", type=int, default=500, help="operations in the profiled phase")
    ap.add_argument("--leases", type=int, default=300)
    ap.add_argument("--size", type=int, default=8 * compare.MIB)
    ap.add_argument("--lines", type=int, default=120, help="lines of perf report to print")
    ap.add_argument("--perf-data", help="rust: keep perf.data here, for other perf reports")
    ap.add_argument("--tmp", default=os.path.join(compare.ROOT, "target", "bench-tmp"))
    args = ap.parse_args()
    os.makedirs(args.tmp, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="profile-", dir=args.tmp) as d:
        store = os.path.join(d, "storage")
        env = dict(os.environ, TS_PROFILE_PHASE=args.op)
        if args.kind == "rust":
            ctl, ack, data = (os.path.join(d, x) for x in ("ctl", "ack", "perf.data"))
            os.mkfifo(ctl)
            os.mkfifo(ack)
            env.update(TS_PERF_CTL=ctl, TS_PERF_ACK=ack)
            cmd = ["perf", "record", "-q", "-e", "cpu-clock", "-F", "4000", "-g", "-D", "-1",
                   "--control", f"fifo:{ctl},{ack}", "-o", data, "--",
                   compare.RUST_BIN, "server", "census", store, str(args.size)]
            if args.durable:
                cmd.append("durable")
            cmd += [f"n={args.n}", f"leases={args.leases}"]
            subprocess.run(cmd, check=True, cwd=d, env=env)
            if args.perf_data:
                shutil.copy(data, args.perf_data)
            rep = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children",
                                  "--percent-limit", "1"],
                                 check=True, capture_output=True, text=True)
            print("\n".join(rep.stdout.splitlines()[: args.lines]))
        else:
            out = os.path.join(d, "profile.txt")
            env["TS_PROFILE_OUT"] = out
            subprocess.run([sys.executable, os.path.join(HERE, "syscalls.py"), "--worker",
                            args.kind, store, "1" if args.durable else "0", str(args.size),
                            str(args.n), str(args.leases)], check=True, cwd=d, env=env)
            with open(out) as f:
                print(f.read())


if __name__ == "__main__":
    main()
