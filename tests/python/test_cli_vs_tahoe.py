"""The ``tahoe-shares`` tool against ``tahoe debug catalog-shares`` and ``dump-share``.

One real grid (``tools/demo_grid.py``) with a storage node on tahoe_shares and one on
Tahoe's own ``StorageServer`` (so on Tahoe's ``ShareFile`` and ``MutableShareFile``) holds
an immutable file, an SDMF file written twice and an MDMF file. A second directory is
written with Tahoe's share classes directly, with the cases Tahoe's catalog has words
for: an unknown container, unknown mutable data, a share without lease, a truncated and
a garbled share, a v1 container.

Tahoe's commands run in this process with ``time.time`` fixed; the tool gets the same
"now" through ``--now``. The tool comes from ``TS_CLI``.
"""

from __future__ import annotations

import gc
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import warnings
from io import StringIO
from pathlib import Path

import pytest

import demo_grid

with warnings.catch_warnings():
    # foolscap's logging CLI imports twisted.web pieces that warn at import.
    warnings.simplefilter("ignore")
    from allmydata.scripts import debug
    from allmydata.storage.immutable import ShareFile
    from allmydata.storage.immutable_schema import ALL_SCHEMAS as IMMUTABLE_SCHEMAS
    from allmydata.storage.lease import LeaseInfo
    from allmydata.storage.mutable import MutableShareFile
    from allmydata.storage.mutable_schema import ALL_SCHEMAS as MUTABLE_SCHEMAS

# "Now" for both tools: the real time of this run, so that the grid's leases have time left.
NOW = int(time.time())
NOBODY = 65534


@pytest.fixture(scope="session")
def cli() -> Path:
    value = os.environ.get("TS_CLI")
    if not value or not os.access(value, os.X_OK):
        pytest.fail(f"TS_CLI={value!r} must name the built tahoe-shares binary")
    return Path(value)


def run_cli(cli: Path, *args: str, user: int | None = None) -> subprocess.CompletedProcess:
    cmd = [str(cli), *args]
    if user is not None:
        cmd = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert "panicked" not in done.stderr, done.stderr
    return done


def tahoe_catalog(*nodedirs: str) -> tuple[list[str], str]:
    """``tahoe debug catalog-shares NODEDIRS`` with time.time() fixed at NOW."""
    options = debug.CatalogSharesOptions()
    options.parseOptions(list(nodedirs))
    options.stdout, options.stderr = StringIO(), StringIO()
    real = time.time
    time.time = lambda: float(NOW)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                assert debug.catalog_shares(options) == 0
            finally:
                gc.collect()  # Tahoe leaves files open when it fails on a share.
    finally:
        time.time = real
    return options.stdout.getvalue().splitlines(), options.stderr.getvalue()


def tahoe_dump(path: str, *flags: str) -> list[str]:
    """``tahoe debug dump-share [FLAGS] PATH`` with time.time() fixed at NOW."""
    options = debug.DumpOptions()
    options.parseOptions([*flags, path])
    options.stdout = StringIO()
    real = time.time
    time.time = lambda: float(NOW)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                assert debug.dump_share(options) == 0
            finally:
                gc.collect()  # Tahoe leaves files open when it fails on a share.
    finally:
        time.time = real
    return options.stdout.getvalue().splitlines()


def share_files(storage: Path) -> list[Path]:
    return sorted(p for p in (storage / "shares").glob("??/*/*") if p.is_file())


# --- the grid ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def grid(tmp_path_factory) -> dict:
    """Node directories of a stopped grid: a storage node on tahoe_shares, one on Tahoe."""
    work = tmp_path_factory.mktemp("grid")
    with demo_grid.grid(str(work / "g"), storage_nodes=1, tahoe_nodes=1,
                        needed=1, happy=2, total=2) as (client, storage_dirs):
        def tahoe(*args: str) -> str:
            return demo_grid.tahoe("--node-directory", client, *args).stdout.strip().splitlines()[-1]

        src = work / "big.bin"
        src.write_bytes(os.urandom(200_000))
        tahoe("put", str(src))
        src.write_bytes(os.urandom(3000))
        sdmf = tahoe("put", "--mutable", str(src))
        src.write_bytes(os.urandom(5000))
        tahoe("put", str(src), sdmf)  # seqnum 2
        tahoe("put", "--format=MDMF", str(src))
    nodes = [Path(d) for d in storage_dirs]
    for n in nodes:
        assert len(share_files(n / "storage")) == 3, n
    return {"dropin": nodes[:1], "tahoe": nodes[1:]}


@pytest.mark.parametrize("kind", ["dropin", "tahoe"])
def test_catalog_matches_tahoe_on_a_grid(cli, grid, kind):
    for node in grid[kind]:
        want, err = tahoe_catalog(str(node))
        assert err == ""
        assert sorted(line.split()[0] for line in want) == ["CHK", "MDMF", "SDMF"]
        assert any(" #2:" in line for line in want if line.startswith("SDMF"))
        for target in (node, node / "storage"):
            got = run_cli(cli, "catalog", "--now", str(NOW), str(target))
            assert got.returncode == 0, got
            assert got.stderr == ""
            assert sorted(got.stdout.splitlines()) == sorted(want)


def test_catalog_of_several_nodes_at_once(cli, grid):
    nodes = [str(n) for n in grid["dropin"] + grid["tahoe"]]
    want, _ = tahoe_catalog(*nodes)
    got = run_cli(cli, "catalog", "--now", str(NOW), *nodes)
    assert got.returncode == 0, got
    assert sorted(got.stdout.splitlines()) == sorted(want)
    assert len(want) == 6


def tool_dump(cli: Path, path: Path, *flags: str) -> list[str]:
    got = run_cli(cli, "dump-share", "--now", str(NOW), *flags, str(path))
    assert got.returncode == 0, got
    return got.stdout.splitlines()


def comparable(lines: list[str]) -> list[str]:
    """A dump without the secrets the tool does not print: the write enabler and
    clear-text (v1) lease secrets (hashed ones are printed by both)."""
    def secret(line: str) -> bool:
        if line.startswith(" write_enabler: "):
            return True
        return line.startswith(("  renew_secret: ", "  cancel_secret: ")) and "hash:" not in line
    return [line for line in lines if not secret(line)]


@pytest.mark.parametrize("flags", [(), ("--offsets",)])
def test_dump_share_shows_what_tahoe_shows(cli, grid, flags):
    for node in grid["dropin"] + grid["tahoe"]:
        for share in share_files(node / "storage"):
            want = comparable(tahoe_dump(str(share), *flags))
            got = comparable(tool_dump(cli, share, *flags))
            # Tahoe's lines first, identical, then the container's own section.
            assert got[: len(want)] == want, share
            assert got[len(want)] == " tahoe-shares container:", share
            assert any(line.startswith("  lease #0: ") for line in got[len(want):])
            assert any("verify-cap: URI:" in line for line in want)


def test_verify_is_clean_on_a_grid(cli, grid):
    for node in grid["dropin"] + grid["tahoe"]:
        got = run_cli(cli, "verify", "--now", str(NOW), str(node))
        assert (got.returncode, got.stdout, got.stderr) == (0, "ok: 3 shares\n", ""), got


def test_json_records_carry_the_catalog_lines(cli, grid):
    node = grid["tahoe"][0]
    want, _ = tahoe_catalog(str(node))
    got = run_cli(cli, "--json", "catalog", "--now", str(NOW), str(node))
    assert got.returncode == 0, got
    records = [json.loads(line) for line in got.stdout.splitlines()]
    assert sorted(r["line"] for r in records) == sorted(want)
    by_type = {r["type"]: r for r in records}
    assert by_type["CHK"]["k"] == 1 and by_type["CHK"]["n"] == 2
    assert by_type["CHK"]["size"] == 200_000
    assert by_type["SDMF"]["seqnum"] == 2 and by_type["MDMF"]["seqnum"] == 1
    for r in records:
        assert r["record"] == "share" and r["leases"] == 1
        assert r["expiration"] == r["earliest_expiry"] - NOW > 30 * 86_400
    dump = run_cli(cli, "dump-share", "--json", "--now", str(NOW),
                   str(share_files(node / "storage")[0]))
    (obj,) = [json.loads(line) for line in dump.stdout.splitlines()]
    assert obj["record"] == "dump" and obj["layout"]["type"] in ("CHK", "SDMF", "MDMF")
    assert obj["verify_cap"].startswith("URI:")


# --- directories written by Tahoe's share classes ----------------------------------------


def lease(owner: int, expiry: int, nodeid: bytes = b"\x07" * 20) -> LeaseInfo:
    return LeaseInfo(owner, os.urandom(32), os.urandom(32), expiry, nodeid)


@pytest.fixture(scope="module")
def crafted(grid, tmp_path_factory) -> Path:
    """A node directory whose shares are written with ShareFile and MutableShareFile."""
    node = tmp_path_factory.mktemp("crafted")
    shares = node / "storage" / "shares"
    (shares / "incoming").mkdir(parents=True)
    source = share_files(grid["tahoe"][0] / "storage")
    chk = next(p for p in source if ShareFile.is_valid_header(p.read_bytes()[:32]))
    muts = [p for p in source if p != chk]

    def place(si: str, shnum: int) -> Path:
        d = shares / si[:2] / si
        d.mkdir(parents=True, exist_ok=True)
        return d / str(shnum)

    def immutable(path: Path, data: bytes, leases: list[LeaseInfo], schema=None) -> None:
        kwargs = {"schema": schema} if schema else {}
        sf = ShareFile(str(path), max_size=len(data), create=True, **kwargs)
        sf.write_share_data(0, data)
        for le in leases:
            sf.add_lease(le)

    chk_data = ShareFile(str(chk)).read_share_data(0, 1 << 30)
    si = "aaaaaaaaaaaaaaaaaaaaaaaaaa"
    # The grid's CHK share data, re-written by ShareFile with three leases, and in a v1
    # container without leases (Tahoe cannot catalog that one).
    immutable(place(si, 0), chk_data, [lease(0, NOW + 500), lease(0, NOW + 90_000), lease(0, NOW - 5)])
    v1 = next(s for s in IMMUTABLE_SCHEMAS if s.version == 1)
    immutable(place(si, 1), chk_data, [], schema=v1)
    immutable(place(si, 2), chk_data, [lease(0, NOW + 7200)], schema=v1)
    # Garbage in a CHK container: Tahoe fails on it.
    immutable(place(si, 3), b"\x00\x00\x00\x07" + b"x" * 200, [lease(0, NOW + 1)])
    # Not a container at all: UNKNOWN really-unknown.
    place("caibaeaqcaibaeaqcaibaeaqca", 0).write_bytes(b"\x00\x00\x00\x09" + b"?" * 100)
    # Mutable containers: the grid's SDMF and MDMF share data under MutableShareFile.
    for n, src in enumerate(muts):
        m = MutableShareFile(str(src))
        data = m.readv([(0, 1 << 30)])[0]
        path = place("eaqcaibaeaqcaibaeaqcaibaea", n)
        out = MutableShareFile(str(path))
        out.create(b"\x07" * 20, b"\x01" * 32)
        out.writev([(0, data)], None)
        for i in range(5):
            out.add_lease(1 << 30, lease(i + 1, NOW + 1000 * (i + 1)))
    # The SDMF share data again, in a v1 mutable container (clear-text lease secrets).
    m1 = next(s for s in MUTABLE_SCHEMAS if s.version == 1)
    path = place("fzp2zyyyyyyyyyyyyyyyyyyyyy", 0)
    out = MutableShareFile(str(path), schema=m1)
    out.create(b"\x07" * 20, b"\x01" * 32)
    out.writev([(0, MutableShareFile(str(muts[0])).readv([(0, 1 << 30)])[0])], None)
    out.add_lease(1 << 30, lease(3, NOW + 4000))
    # Mutable data of an unknown type, and a mutable share without leases.
    path = place("gaydambqgaydambqgaydambqga", 0)
    out = MutableShareFile(str(path))
    out.create(b"\x07" * 20, b"\x01" * 32)
    out.writev([(0, b"\x05unknown mutable data")], None)
    out.add_lease(1 << 30, lease(1, NOW + 60))
    path = place("gaydambqgaydambqgaydambqga", 1)
    out = MutableShareFile(str(path))
    out.create(b"\x07" * 20, b"\x01" * 32)
    out.writev([(0, b"\x01")], None)
    # A truncated copy of the grid's CHK share: the UEB is cut off.
    trunc = place("ibaeaqcaibaeaqcaibaeaqcaia", 0)
    immutable(trunc, chk_data, [lease(0, NOW + 3)])
    raw = trunc.read_bytes()
    trunc.write_bytes(raw[: len(raw) - 72 - 200] + raw[len(raw) - 72:])
    return node


def test_catalog_matches_tahoe_on_share_classes(cli, crafted):
    want, err = tahoe_catalog(str(crafted))
    # Tahoe names each share it cannot describe in "Error processing".
    assert err.count("Error processing") == 4, err
    assert sum(line.startswith("UNKNOWN really-unknown") for line in want) == 1
    assert sum(line.startswith("UNKNOWN mutable") for line in want) == 1
    got = run_cli(cli, "catalog", "--now", str(NOW), str(crafted))
    assert sorted(got.stdout.splitlines()) == sorted(want)
    assert len(want) == 7
    # Every share Tahoe could not describe is named on stderr, and the unparsable ones
    # make the status non-zero.
    assert got.returncode == 1, got
    for name in ("aaaaaaaaaaaaaaaaaaaaaaaaaa/1", "aaaaaaaaaaaaaaaaaaaaaaaaaa/3",
                 "gaydambqgaydambqgaydambqga/1", "ibaeaqcaibaeaqcaibaeaqcaia/0"):
        assert name in got.stderr, (name, got.stderr)
    assert "corrupt: " in got.stderr and "no lease" in got.stderr


def test_dump_share_matches_tahoe_on_share_classes(cli, crafted):
    checked = 0
    for share in share_files(crafted / "storage"):
        try:
            want = comparable(tahoe_dump(str(share), "--offsets"))
        except Exception:
            # Tahoe fails on this one: the tool says why on stderr, with status 1.
            got = run_cli(cli, "dump-share", "--now", str(NOW), str(share))
            assert got.returncode == 1, (share, got)
            assert str(share) in got.stderr and "corrupt: " in got.stderr, got
            continue
        got = comparable(tool_dump(cli, share, "--offsets"))
        assert got[: len(want)] == want, share
        checked += 1
    assert checked >= 7


def test_verify_names_each_problem(cli, crafted):
    got = run_cli(cli, "verify", "--now", str(NOW), str(crafted))
    assert got.returncode == 1, got
    lines = got.stdout.splitlines()
    assert any(line.startswith("truncated: ") and "ibaeaqcaibaeaqcaibaeaqcaia/0" in line for line in lines)
    assert any(line.startswith("corrupt: ") and "caibaeaqcaibaeaqcaibaeaqca/0" in line for line in lines)
    assert any(line.startswith("corrupt: ") and "gaydambqgaydambqgaydambqga/0" in line for line in lines)
    assert any(line.startswith("corrupt: ") and "aaaaaaaaaaaaaaaaaaaaaaaaaa/3" in line for line in lines)
    assert not any("aaaaaaaaaaaaaaaaaaaaaaaaaa/0" in line for line in lines), lines


# --- read-only, as a user who may only read -----------------------------------------------


def test_read_only_as_an_unprivileged_user(cli, grid, crafted):
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv (util-linux) is needed to drop privileges")
    top = Path(tempfile.mkdtemp(prefix="ts-cli-ro-", dir="/tmp"))
    try:
        node = top / "node"
        shutil.copytree(grid["tahoe"][0], node, ignore=shutil.ignore_patterns("private", "logs"))
        binary = top / "tahoe-shares"
        shutil.copy2(cli, binary)
        os.chmod(top, 0o755)
        # Readable, not writable, by the unprivileged user (root owns everything).
        for dirpath, dirnames, filenames in os.walk(top):
            os.chmod(dirpath, 0o555)
            for f in filenames:
                os.chmod(os.path.join(dirpath, f), 0o555 if f == "tahoe-shares" else 0o444)
        os.chmod(top, 0o755)
        probe = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                                "sh", "-c", f"touch {node}/storage/x"], capture_output=True)
        assert probe.returncode != 0, "the unprivileged user can write: the test proves nothing"

        want, _ = tahoe_catalog(str(node))
        got = run_cli(binary, "catalog", "--now", str(NOW), str(node), user=NOBODY)
        assert (got.returncode, got.stderr) == (0, ""), got
        assert sorted(got.stdout.splitlines()) == sorted(want)
        got = run_cli(binary, "verify", "--now", str(NOW), str(node), user=NOBODY)
        assert (got.returncode, got.stdout) == (0, "ok: 3 shares\n"), got
        for share in share_files(node / "storage"):
            got = run_cli(binary, "dump-share", "--now", str(NOW), str(share), user=NOBODY)
            assert got.returncode == 0, got
            assert comparable(got.stdout.splitlines())[:5] == comparable(tahoe_dump(str(share)))[:5]

        # A share and a storage index directory the user may not read: unreadable,
        # never corrupt, and the rest is still listed.
        shares = share_files(node / "storage")
        os.chmod(shares[0], 0o400)
        os.chmod(shares[1].parent, 0o700)
        for command in ("catalog", "verify"):
            got = run_cli(binary, command, "--now", str(NOW), str(node), user=NOBODY)
            assert got.returncode == 1, got
            both = got.stdout + got.stderr
            assert f"unreadable: {shares[0]}: I/O error: Permission denied" in both, both
            assert f"unreadable: {shares[1].parent}: I/O error: Permission denied" in both, both
            assert "corrupt" not in both
        got = run_cli(binary, "catalog", "--now", str(NOW), str(node), user=NOBODY)
        assert len(got.stdout.splitlines()) == 1
        got = run_cli(binary, "dump-share", str(shares[0]), user=NOBODY)
        assert got.returncode == 2 and "Permission denied" in got.stderr, got
    finally:
        for dirpath, _, _ in os.walk(top):
            os.chmod(dirpath, stat.S_IRWXU)
        shutil.rmtree(top)
