"""`make bench-syscalls`: the system calls (and fsyncs) of each operation of the bench mix,
per implementation, counted with ``strace``.

Each implementation of ``benches/compare.py`` (Tahoe 1.20's ``StorageServer``, the drop-in
durable and with ``durable=False``, the native ``tahoe_shares.Server`` durable and not,
``Server<FsStore>`` through ``target/release/rust_server_bench server census``, durable and
``Durability::NoSync``) runs the census mix once under ``strace -f -y``. The mix is made of
phases; before each measured phase one warm-up operation runs (so lazy imports and first-use
caches are not counted), then the phase's N operations run between two *marker* system
calls (a stat of a path under ``/.tahoe-shares-census/`` that does not exist). The count of
a phase is the system calls of every thread between its two markers, divided by N: the
"N operations minus 0 operations" subtraction, done inside one trace so that the set-up
(interpreter start, imports, server construction, growing the lease table) is never in
it. ``-y`` names the file behind each descriptor, so every fsync is attributed to the file
or directory it makes durable.

The tables are printed and written into ``benches/RESULTS.md`` between
``SYSCALLS_BEGIN`` and ``SYSCALLS_END``; ``compare.py`` keeps that section across its runs
(as it keeps the hand-written analysis), and this script keeps everything else.

Usage: ``python benches/syscalls.py [--n 20] [--leases 300] [--size 67108864]
[--out benches/RESULTS.md] [--keep-traces DIR]``.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Any, Callable

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import compare  # noqa: E402  (the operation mix and the implementations live there)

MARKER_DIR = "/.tahoe-shares-census/"
SYSCALLS_BEGIN = compare.SYSCALLS_MARKER
SYSCALLS_END = "<!-- /syscalls -->"

# (label, kind, durable), in the order of the table.
CONFIGS = [
    ("Tahoe 1.20", "tahoe", False),
    ("drop-in, durable=False", "dropin", False),
    ("drop-in, durable", "dropin", True),
    ("native, durable=False", "native", False),
    ("native, durable", "native", True),
    ("Rust, NoSync", "rust", False),
    ("Rust, durable", "rust", True),
]

OPS = [
    ("small_upload", "allocate+write+close 3×1 KB (per storage index)"),
    ("slot_create", "test-and-write 1 KB, new slot"),
    ("slot_write", "test-and-write 1 KB, existing slot"),
    ("slot_readv", "slot_readv 2×100 B"),
    ("renew_lease", "renew_lease among L leases"),
    ("add_lease", "add_lease on a share with L leases (3 shares)"),
    ("upload", "upload SIZE share in 128 KiB writes (per upload)"),
]

# The columns: a name and the system calls it counts; "other" is everything else.
COLUMNS = [
    ("fsync+fdatasync", {"fsync", "fdatasync", "sync_file_range", "syncfs"}),
    ("openat", {"openat", "open", "openat2", "creat"}),
    ("close", {"close"}),
    ("write/pwrite", {"write", "pwrite64", "writev", "pwritev", "pwritev2"}),
    ("read/pread", {"read", "pread64", "readv", "preadv", "preadv2"}),
    ("stat-family", {"stat", "lstat", "fstat", "newfstatat", "statx", "fstatat64"}),
    ("getdents64", {"getdents64", "getdents"}),
    ("rename/link/unlink/rmdir", {"rename", "renameat", "renameat2", "link", "linkat",
                                  "unlink", "unlinkat", "rmdir"}),
    ("mkdir", {"mkdir", "mkdirat"}),
]

LINE = re.compile(r"^(?:\[pid\s+)?(\d+)\]?\s+(?:(\w+)\(|<\.\.\. (\w+) resumed>)")
DURATION = re.compile(r"<(\d+\.\d+)>$")
FSYNC = re.compile(r"^\d+\s+(fsync|fdatasync)\(\d+<([^>]*)>")


# --- the worker (Python implementations), run under strace --------------------------------


def marker(what: str) -> None:
    try:
        os.stat(MARKER_DIR + what)
    except OSError:
        pass  # it does not exist: the stat is the marker


def run_census(kind: str, storedir: str, durable: bool, size: int, n: int, leases: int) -> None:
    """The census mix (the Python half of ``run_census`` in rust_server_bench.rs)."""
    impl: compare.Impl = (compare.Native(storedir, durable) if kind == "native"
                          else compare.TahoeLike(kind, storedir, durable))

    profile_phase = os.environ.get("TS_PROFILE_PHASE")

    def phase(name: str, count: int, warm_up: int | None, op: Callable[[int], Any]) -> None:
        if warm_up is not None:
            op(warm_up)
        profiler = None
        if name == profile_phase:  # benches/profile.py profiles this phase
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0001)
            profiler.start()
        marker(f"begin/{name}/{count}")
        for i in range(count):
            op(i)
        marker(f"end/{name}")
        if profiler is not None:
            profiler.stop()
            with open(os.environ["TS_PROFILE_OUT"], "w") as f:
                f.write(profiler.output_text(unicode=True, show_all=False))

    phase("upload", 1, None, lambda i: impl.upload(i, size))
    phase("small_upload", n, n, impl.small_upload)
    # Small storage index 0 holds one lease from its upload; grow it to `leases`.
    for k in range(1, leases):
        impl.add_lease(k)
    phase("add_lease", n, None, lambda j: impl.add_lease(leases + j))
    phase("renew_lease", n, None, lambda j: impl.renew_lease(1 + (j * 7919) % (leases - 1)))
    phase("slot_create", n, n, lambda i: impl.slot_write(i, 0))
    phase("slot_write", n, n, lambda i: impl.slot_write(i, 1))
    phase("slot_readv", n, n, impl.slot_readv)


# --- counting ---------------------------------------------------------------------------------


def generalise(path: str, storedir: str) -> str:
    """A path of the store with its storage index, prefix and share number abstracted."""
    if not path.startswith(storedir):
        return path
    rel = os.path.relpath(path, os.path.dirname(storedir))
    parts = rel.split(os.sep)
    out = []
    for i, p in enumerate(parts):
        if i == 0:
            out.append("storage")
        elif re.fullmatch(r"[a-z2-7]{26}", p):
            out.append("<SI>")
        elif re.fullmatch(r"[a-z2-7]{2}", p):
            out.append("<pp>")
        elif p.isdigit():
            out.append("<n>")
        else:
            out.append(p)
    # Everything in Tahoe's layout is a directory but the share files (and any file of our
    # own, whose name is kept as it is).
    is_dir = out[-1] in ("storage", "shares", "incoming", "<pp>", "<SI>")
    return "/".join(out) + ("/" if is_dir else "")


def count_trace(trace: str, storedir: str) -> dict[str, dict[str, Any]]:
    """Per phase: {"n": N, "calls": Counter(name), "fsyncs": Counter(target)}."""
    phases: dict[str, dict[str, Any]] = {}
    current: dict[str, Any] | None = None
    with open(trace, errors="replace") as f:
        for line in f:
            if MARKER_DIR in line:
                what = line.split(MARKER_DIR, 1)[1].split('"', 1)[0].split("/")
                if what[0] == "begin":
                    current = {"n": int(what[2]), "calls": collections.Counter(),
                               "fsyncs": collections.Counter(), "time": collections.Counter()}
                    phases[what[1]] = current
                else:
                    current = None
                continue
            if current is None:
                continue
            m = LINE.match(line)
            if not m:
                continue
            name = m.group(2) or m.group(3)
            dm = DURATION.search(line.rstrip())
            if dm:  # -T: on the line that returns (a resumed one when another thread ran)
                current["time"][name] += float(dm.group(1))
            if m.group(3):  # the second half of a call already counted
                continue
            current["calls"][name] += 1
            fm = FSYNC.match(line)
            if fm:
                current["fsyncs"][f"{fm.group(1)} {generalise(fm.group(2), storedir)}"] += 1
    return phases


def run_one(kind: str, durable: bool, args: argparse.Namespace, scratch: str) -> dict[str, Any]:
    d = tempfile.mkdtemp(prefix=f"{kind}-{int(durable)}-", dir=scratch)
    store = os.path.join(d, "storage")
    trace = os.path.join(d, "trace")
    if kind == "rust":
        cmd = [compare.RUST_BIN, "server", "census", store, str(args.size)]
        if durable:
            cmd.append("durable")
        cmd += [f"n={args.n}", f"leases={args.leases}"]
    else:
        cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, store,
               "1" if durable else "0", str(args.size), str(args.n), str(args.leases)]
    # -y: the path behind every descriptor; -s 0: no buffer contents (paths are shown whole);
    # -T: the time spent in each call.
    full = ["strace", "-f", "-y", "-T", "-qq", "-s", "0", "-o", trace, "--"] + cmd
    p = subprocess.run(full, capture_output=True, text=True, cwd=d)
    if p.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:6])} failed:\n{p.stderr}")
    phases = count_trace(trace, store)
    if args.keep_traces:
        os.makedirs(args.keep_traces, exist_ok=True)
        shutil.copy(trace, os.path.join(args.keep_traces, f"{kind}-{'durable' if durable else 'nosync'}.trace"))
    missing = [op for op, _ in OPS if op not in phases]
    if missing:
        raise SystemExit(f"{kind}: no markers for {missing} in {trace}")
    return phases


def per_op(ph: dict[str, Any]) -> tuple[list[float], float, float, collections.Counter]:
    n = ph["n"]
    calls: collections.Counter = ph["calls"]
    cols = [sum(v for k, v in calls.items() if k in names) / n for _, names in COLUMNS]
    known = set().union(*(names for _, names in COLUMNS))
    others = collections.Counter({k: v for k, v in calls.items() if k not in known})
    return cols, sum(others.values()) / n, sum(calls.values()) / n, others


def fmt(v: float) -> str:
    if v == 0:
        return "0"
    return f"{v:.0f}" if v >= 100 or v == int(v) else f"{v:.2f}".rstrip("0").rstrip(".")


def render(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> str:
    size = f"{args.size // compare.MIB} MiB" if args.size >= compare.MIB else f"{args.size} B"
    lines = ["| operation | implementation | " + " | ".join(c for c, _ in COLUMNS)
             + " | other | total |", "|---|---|" + "---:|" * (len(COLUMNS) + 2)]
    fsync_lines = ["| operation | implementation | fsyncs per operation, by file or directory |",
                   "|---|---|---|"]
    other_lines = ["| operation | implementation | the \"other\" calls per operation |",
                   "|---|---|---|"]
    time_lines = ["| operation | implementation | µs in system calls per operation | of which "
                  "(the four largest) |", "|---|---|---:|---|"]
    for op, desc in OPS:
        desc = desc.replace("SIZE", size).replace(" L ", f" {args.leases} ")
        for j, (label, _, _) in enumerate(CONFIGS):
            ph = results[label][op]
            cols, other, total, others = per_op(ph)
            first = desc if j == 0 else ""
            lines.append(f"| {first} | {label} | " + " | ".join(fmt(c) for c in cols)
                         + f" | {fmt(other)} | {fmt(total)} |")
            if ph["fsyncs"]:
                targets = ", ".join(f"{fmt(v / ph['n'])}× `{k}`"
                                    for k, v in sorted(ph["fsyncs"].items(), key=lambda kv: -kv[1]))
                fsync_lines.append(f"| {op} | {label} | {targets} |")
            t = ph["time"]
            if t:
                big = ", ".join(f"{k} {v / ph['n'] * 1e6:.0f}" for k, v in t.most_common(4))
                time_lines.append(f"| {op} | {label} | {sum(t.values()) / ph['n'] * 1e6:.0f} "
                                  f"| {big} |")
            if others:
                top = ", ".join(f"{k} {fmt(v / ph['n'])}" for k, v in others.most_common(6))
                other_lines.append(f"| {op} | {label} | {top} |")
    return ("\n".join(lines) + "\n\nWhere the fsyncs go (`<pp>`, `<SI>`, `<n>`: the prefix, "
            "storage-index and share-number components of Tahoe's layout; a trailing `/` is "
            "a directory; Tahoe 1.20 and the `durable=False`/`NoSync` rows issue none):\n\n"
            + "\n".join(fsync_lines) + "\n\nThe calls counted as \"other\" (the six most "
            "frequent):\n\n" + "\n".join(other_lines) + "\n\nTime inside those system calls "
            "(`strace -T`: wall time from entry to return, so an fsync's wait for the disk "
            "is in it; tracing inflates each call by a few µs, and the numbers move with the "
            "machine's load, unlike the counts above):\n\n" + "\n".join(time_lines) + "\n")


def write_section(path: str, section: str) -> None:
    old = open(path).read() if os.path.exists(path) else ""
    block = SYSCALLS_BEGIN + "\n" + section + SYSCALLS_END + "\n"
    if SYSCALLS_BEGIN in old and SYSCALLS_END in old:
        a = old.index(SYSCALLS_BEGIN)
        b = old.index(SYSCALLS_END) + len(SYSCALLS_END)
        new = old[:a] + block.rstrip("\n") + old[b:]
    elif compare.ANALYSIS_MARKER in old:
        a = old.index(compare.ANALYSIS_MARKER)
        new = old[:a] + block + "\n" + old[a:]
    else:
        new = old + ("\n" if old else "") + block
    with open(path, "w") as f:
        f.write(new)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20, help="operations per measured phase")
    ap.add_argument("--leases", type=int, default=300, help="leases on the share before add_lease")
    ap.add_argument("--size", type=int, default=64 * compare.MIB, help="bytes of the large upload")
    ap.add_argument("--out", default=os.path.join(compare.ROOT, "benches", "RESULTS.md"))
    ap.add_argument("--tmp", default=os.path.join(compare.ROOT, "target", "bench-tmp"))
    ap.add_argument("--keep-traces", help="copy each strace output into this directory")
    args = ap.parse_args()
    if shutil.which("strace") is None:
        raise SystemExit("strace missing (make strace-tool installs it)")
    if not os.path.exists(compare.RUST_BIN):
        raise SystemExit(f"{compare.RUST_BIN} missing: cargo build --release -p tahoe-shares-benches")
    os.makedirs(args.tmp, exist_ok=True)
    scratch = tempfile.mkdtemp(prefix="syscalls-", dir=args.tmp)
    results: dict[str, dict[str, Any]] = {}
    try:
        for label, kind, durable in CONFIGS:
            results[label] = run_one(kind, durable, args, scratch)
            print(f"  {label}: done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    table = render(results, args)
    print(table)
    v = compare.versions()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load = os.getloadavg()
    section = "\n".join([
        "## System calls per operation",
        "",
        f"Generated by `make bench-syscalls` (`benches/syscalls.py --n {args.n} --leases "
        f"{args.leases} --size {args.size}`) on {date}; tahoe-shares {v['tahoe-shares']}; "
        f"load average at the end {load[0]:.2f}, {load[1]:.2f}, {load[2]:.2f}.",
        "",
        "Each implementation ran the mix once under `strace -f -y`; each cell is the system "
        "calls of all threads between two marker calls around N operations (after one "
        "warm-up operation), divided by N: the count of N operations minus the count of "
        f"none. N = {args.n}, and 1 for the upload. Counts, not times: they do not depend "
        "on the load. The drop-in and native rows include the Python interpreter's own "
        "calls during the operation (none expected beyond the engine's).",
        "",
        table,
    ])
    write_section(args.out, section)
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, storedir, durable, size, n, leases = sys.argv[2:8]
        run_census(kind, storedir, durable == "1", int(size), int(n), int(leases))
    else:
        main()
