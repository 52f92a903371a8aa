"""The demo: a local Tahoe-LAFS grid whose storage nodes run on tahoe_shares.

Starts an introducer, three storage nodes (tahoe_shares.tahoe installed as their
StorageServer) and a client on 127.0.0.1; uploads a file with ``tahoe put``, downloads
it with ``tahoe get``, checks the bytes, shows ``tahoe-shares catalog`` and ``verify`` of
each storage node, and stops everything it started, whatever happens.

    python tools/demo_grid.py WORKDIR CATALOG_BINARY
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
NODE = [sys.executable, os.path.join(HERE, "tahoe_node.py")]
# A node whose storage is Tahoe's own StorageServer.
TAHOE = [sys.executable, "-m", "allmydata.scripts.runner"]
STORAGE_NODES = 3


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tahoe(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([*NODE, *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"demo: tahoe {args[0]} failed:\n{done.stdout}{done.stderr}")
    return done


def tahoe_all(commands: list[tuple[str, ...]]) -> None:
    """Runs several ``tahoe`` commands at once; fails if any fails."""
    running = [(args, subprocess.Popen([*NODE, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                       text=True)) for args in commands]
    failed = []
    for args, p in running:
        out, _ = p.communicate()
        if p.returncode != 0:
            failed.append(f"demo: tahoe {args[0]} failed:\n{out}")
    if failed:
        raise SystemExit("\n".join(failed))


def wait_for(what: str, predicate, timeout: float = 120.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if predicate():
                return
        except OSError:
            pass
        time.sleep(0.5)
    raise SystemExit("demo: timed out waiting for " + what)


@contextlib.contextmanager
def grid(work: str, storage_nodes: int = STORAGE_NODES, tahoe_nodes: int = 0,
         needed: int = 2, happy: int = 3, total: int = 3):
    """Starts a grid in WORK (emptied first): an introducer, ``storage_nodes`` storage
    nodes on tahoe_shares, ``tahoe_nodes`` storage nodes on Tahoe's own StorageServer,
    and a client; yields ``(client_dir, storage_dirs)`` once the client is connected to
    every storage node, and stops everything it started on leaving."""
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    procs: list[subprocess.Popen] = []
    logs = []

    def start(nodedir: str, command: list[str] = NODE) -> None:
        log = open(os.path.join(nodedir, "demo-run.log"), "w")
        logs.append(log)
        procs.append(subprocess.Popen([*command, "run", "--allow-stdin-close", nodedir], stdout=log, stderr=subprocess.STDOUT,
                                      start_new_session=True))

    try:
        intro = os.path.join(work, "introducer")
        port = free_port()
        tahoe("create-introducer", f"--port=tcp:{port}:interface=127.0.0.1",
              f"--location=tcp:127.0.0.1:{port}", intro)
        start(intro)
        furl_file = os.path.join(intro, "private", "introducer.furl")
        wait_for("the introducer", lambda: os.path.exists(furl_file))
        with open(furl_file) as f:
            furl = f.read().strip()
        print(f"== introducer up ({furl.split('@')[1]})")

        encoding = [f"--shares-needed={needed}", f"--shares-happy={happy}", f"--shares-total={total}"]
        # The nodes are created side by side (each `tahoe create-*` is a Python start-up).
        storage_dirs = [os.path.join(work, f"storage{i}") for i in range(storage_nodes + tahoe_nodes)]
        creates = []
        for i, d in enumerate(storage_dirs):
            p, w = free_port(), free_port()
            creates.append(("create-node", f"--port=tcp:{p}:interface=127.0.0.1",
                            f"--location=tcp:127.0.0.1:{p}", f"--webport=tcp:{w}:interface=127.0.0.1",
                            f"--introducer={furl}", f"--nickname=storage{i}", *encoding, d))
        client = os.path.join(work, "client")
        w = free_port()
        creates.append(("create-client", f"--webport=tcp:{w}:interface=127.0.0.1", f"--introducer={furl}",
                        "--nickname=client", *encoding, client))
        tahoe_all(creates)
        for i, d in enumerate(storage_dirs):
            start(d, NODE if i < storage_nodes else TAHOE)
        start(client)
        url = f"http://127.0.0.1:{w}/"

        def connected() -> bool:
            with urllib.request.urlopen(url + "?t=json", timeout=5) as r:
                servers = json.load(r)["servers"]
            return sum(1 for s in servers if s["connection_status"].lower().startswith("connected")) >= len(storage_dirs)

        wait_for("the client to connect to every storage node", connected)
        yield client, storage_dirs
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        for log in logs:
            log.close()


def main() -> None:
    work, catalog = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    with grid(work) as (client, storage_dirs):
        print(f"== {STORAGE_NODES} storage nodes (on tahoe_shares) and a client are connected")

        data = os.urandom(300 * 1024) + b"tahoe-shares demo\n"
        src = os.path.join(work, "hello.bin")
        with open(src, "wb") as f:
            f.write(data)
        put = tahoe("--node-directory", client, "put", src)
        cap = put.stdout.strip().splitlines()[-1]
        print(f"== tahoe put: {len(data)} bytes -> {cap[:40]}...")
        dst = os.path.join(work, "hello.out")
        tahoe("--node-directory", client, "get", cap, dst)
        got = open(dst, "rb").read()
        if got != data:
            raise SystemExit("demo: downloaded bytes differ from the upload")
        print(f"== tahoe get: {len(got)} bytes, sha256 {hashlib.sha256(got).hexdigest()[:16]}..., identical")

        for d in storage_dirs:
            storage = os.path.join(d, "storage")
            print(f"\n== tahoe-shares catalog {os.path.relpath(storage)}")
            sys.stdout.flush()
            subprocess.run([catalog, "catalog", storage], check=True)
            subprocess.run([catalog, "verify", storage], check=True)
        print("\n== demo finished: the grid stored and served the file through tahoe_shares")


if __name__ == "__main__":
    main()
