"""Tahoe's own classes read every crash state of core/tests/syscall_crash.rs as the old or
the new share: as the crash left the files (a node switched back to Tahoe, or Tahoe's
crawlers in the same node, see them so) and after tahoe-shares' restart recovered them.

The states come from ``TS_SYSCALL_CRASH_DUMP=<dir> cargo test -p tahoe-shares --test
syscall_crash`` (``make test-python`` runs it and passes the directory as
``TS_CRASH_STATES``); ``tools/tahoe_read_crash_states.py`` reads them. "After recovery"
is after our startup alone (``Server::new``), before anything of ours reads a share. Two
cases cannot hold as the crash left them, whatever the write order (``NO_ORDER_HOLDS``):
Tahoe still reads them without an exception, and after our startup as the old or the new
share (docs/reliability.md, "Tahoe reading the crash states").
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tahoe_read_crash_states import check_scenario

UNCOUNTED_LEASE = (
    "a lease record written before the lease count: Tahoe derives the data length and the "
    "lease offset from the file size, so it reads the new record as the only lease and the "
    "old one as share data. The count and the record are two writes at two places, and "
    "the other order is no better (a count covering a missing record reads share data as "
    "a lease), so no order can hold; tahoe-shares' startup removes the record"
)

OVERWRITE_AND_GROW = (
    "a write that overwrites existing data and grows the share: the overwritten bytes are "
    "visible to Tahoe as soon as they are written, before the data length that exposes the "
    "rest, and no order of two writes at two places can make them appear at once; "
    "tahoe-shares' startup replays the journal"
)

# (scenario, stage) cases where no write order lets Tahoe read every crash state as the
# old or the new share: Tahoe still reads every one without an exception, and after our
# startup (which recovers every share when the previous writer was interrupted) as the
# old or the new share. docs/reliability.md, "Tahoe reading the crash states".
NO_ORDER_HOLDS = {
    ("add_lease_immutable", "crash"): UNCOUNTED_LEASE,
    ("mutable_grow_overlapping", "crash"): OVERWRITE_AND_GROW,
}

SCENARIOS = [
    "immutable_upload",
    "add_lease_immutable",
    "renew_immutable",
    "abort",
    "startup_recovery",
    "mutable_new_slot",
    "mutable_in_place",
    "mutable_in_place_renewing",
    "mutable_grow_extra_leases",
    "mutable_grow_overlapping",
    "log_checkpoint",
    "add_lease_mutable",
    "renew_mutable",
    "mutable_delete",
]


def test_every_scenario_was_dumped(crash_states: Path) -> None:
    dumped = {p.name for p in crash_states.iterdir() if p.is_dir()}
    assert dumped == set(SCENARIOS)


@pytest.mark.parametrize(
    ("scenario", "stage"), [(s, stage) for s in SCENARIOS for stage in ("crash", "recovered")]
)
def test_tahoe_reads_every_crash_state(crash_states: Path, scenario: str, stage: str) -> None:
    result = check_scenario(crash_states / scenario, stage)
    assert result["states"] > 0
    what = (
        f"{result['unreadable']} unreadable, {result['neither_old_nor_new']} neither old nor "
        f"new of {result['states']}: {result['failures']}"
    )
    assert result["unreadable"] == 0, what
    if (scenario, stage) not in NO_ORDER_HOLDS:
        assert result["neither_old_nor_new"] == 0, what
