"""Reads the crash states of core/tests/syscall_crash.rs with Tahoe-LAFS 1.20's own classes.

`TS_SYSCALL_CRASH_DUMP=<dir> cargo test -p tahoe-shares --test syscall_crash` writes, for
each scenario, the share files of every crash state as the crash left them (`<n>/crash/`,
before tahoe-shares recovers anything) and as tahoe-shares' restart left them
(`<n>/recovered/`), and the share files before and after the operation (`old/`, `new/`)
and, for an operation that commits a documented intermediate step (a test-and-write that
renews its lease: written, then renewed), after that step (`step/`). This script opens each share with `allmydata.storage.immutable.ShareFile`
or `allmydata.storage.mutable.MutableShareFile`, as Tahoe's server and crawlers would on
a node switched back to Tahoe, and reads its data and leases. A state is Tahoe-readable
when every share reads without an exception and reads as Tahoe reads the same share
before or after the operation (after it, once the operation was acknowledged: except, as
the crash left them, a mutable share whose acknowledged update only the store's
write-ahead log holds yet, which reads as before it (or after its intermediate step) until our startup replays
the log).

Usage: python tools/tahoe_read_crash_states.py <dump dir> [--json <file>]
Prints one line per scenario; --json writes the counts and the first failures per scenario.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from allmydata.storage.immutable import ShareFile
from allmydata.storage.mutable import MutableShareFile

MUTABLE_MAGIC = b"Tahoe mutable container v"


def lease_view(lease, mutable: bool) -> tuple:
    """A lease as Tahoe reads it: owner, expiry and a digest of its record."""
    try:
        record = lease.to_mutable_data() if mutable else lease.to_immutable_data()
        digest = hashlib.sha256(record).hexdigest()[:16]
    except Exception:  # a lease class without these: owner and expiry only
        digest = ""
    return (getattr(lease, "owner_num", None), lease.get_expiration_time(), digest)


def tahoe_view(path: Path) -> tuple:
    """What Tahoe's classes read from one share file (raises what they raise)."""
    with open(path, "rb") as f:
        head = f.read(len(MUTABLE_MAGIC))
    if head.startswith(MUTABLE_MAGIC):
        share = MutableShareFile(str(path))
        length = share.get_length()
        data = share.readv([(0, length)])[0]
        leases = [lease_view(l, True) for l in share.get_leases()]
        return ("mutable", hashlib.sha256(data).hexdigest(), length, tuple(leases))
    share = ShareFile(str(path))
    length = share.get_length()
    data = share.read_share_data(0, length)
    leases = [lease_view(l, False) for l in share.get_leases()]
    return ("immutable", hashlib.sha256(data).hexdigest(), length, tuple(leases))


def shares_in(state: Path) -> dict[str, Path]:
    """The share files of a dumped state, by path below the storage directory."""
    out = {}
    for root, _dirs, files in os.walk(state):
        for name in files:
            p = Path(root) / name
            out[str(p.relative_to(state))] = p
    return out


def views(state: Path) -> dict[str, object]:
    """Tahoe's view of every share of a state; an exception is kept as its text."""
    out: dict[str, object] = {}
    for rel, p in shares_in(state).items():
        try:
            out[rel] = tahoe_view(p)
        except Exception as e:  # what Tahoe raises on this file
            out[rel] = f"unreadable: {type(e).__name__}: {e}"
    return out


def check_scenario(d: Path, stage: str = "crash") -> dict:
    """Counts the states of one scenario that Tahoe cannot read as old or new, as the crash
    left them (`stage` "crash") or after tahoe-shares' recovery ("recovered")."""
    old, new = views(d / "old"), views(d / "new")
    step = views(d / "step") if (d / "step").is_dir() else None
    for ref, what in ((old, "old"), (new, "new")):
        bad = [v for v in ref.values() if isinstance(v, str)]
        if bad:
            raise SystemExit(f"{d.name}: Tahoe cannot read the {what} state: {bad[0]}")
    states = sorted(p for p in d.iterdir() if p.name not in ("old", "new", "step"))
    unreadable, neither, failures = 0, 0, []
    for s in states:
        acked = s.name.endswith("-acked")
        got = views(s / stage)
        state_bad = None
        for rel in sorted(set(got) | set(old) | set(new)):
            g = got.get(rel)
            if isinstance(g, str):
                state_bad = ("unreadable", f"{rel}: {g}")
                break
            accepted = [old.get(rel), new.get(rel)] + ([step.get(rel)] if step else [])
            if acked:
                # An acknowledged mutable update that only the store's write-ahead log
                # holds (docs/format.md §5a) reaches the share file when our startup
                # replays the log: as the crash left them, Tahoe reads such a share as
                # before the update; after our startup, as after it.
                ok = g == new.get(rel) or (
                    stage == "crash" and g in accepted and g is not None and g[0] == "mutable"
                )
            else:
                ok = g in accepted
            if not ok:
                state_bad = ("neither", f"{rel}: read as neither the old nor the new share")
            # (nor, where the operation has one, as after its intermediate step)
                break
        if state_bad:
            if state_bad[0] == "unreadable":
                unreadable += 1
            else:
                neither += 1
            if len(failures) < 5:
                failures.append(f"state {s.name}: {state_bad[1]}")
    return {
        "states": len(states),
        "unreadable": unreadable,
        "neither_old_nor_new": neither,
        "failures": failures,
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dump", type=Path)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    results = {}
    for d in sorted(p for p in args.dump.iterdir() if p.is_dir()):
        for stage in ("crash", "recovered"):
            r = check_scenario(d, stage)
            results[f"{d.name} {stage}"] = r
            print(
                f"{d.name}, {'as the crash left them' if stage == 'crash' else 'after recovery'}: "
                f"{r['states']} crash states, {r['unreadable']} unreadable by Tahoe, "
                f"{r['neither_old_nor_new']} read as neither old nor new"
            )
            for f in r["failures"]:
                print(f"    {f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
