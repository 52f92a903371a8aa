"""The runner of Tahoe's whole suite (full_suite.py), on small suites written here: what
makes it fail, what it only reports, and its last line. Real trial runs, in subprocesses.

    python -m pytest -q tests/tahoe/test_full_suite.py
"""

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

RUNNER = Path(__file__).resolve().parent / "full_suite.py"

SUITE = textwrap.dedent(
    """
    import os
    import subprocess

    from twisted.trial import unittest

    import allmydata.storage.server


    class T(unittest.TestCase):
        def test_ok(self):
            pass

        def test_known(self):
            raise ValueError("fails with Tahoe's server too")

        def test_known_now_passes(self):
            pass

        def test_skip(self):
            raise unittest.SkipTest("no such dependency")

        def test_drop_in(self):
            # Which StorageServer the run installed, for the tests below to check.
            with open(os.environ["FAKE_SERVER_CLASS"], "w") as f:
                f.write(allmydata.storage.server.StorageServer.__module__)

        def test_maybe_fail(self):
            if os.environ.get("FAKE_FAIL"):
                self.assertEqual(1, 2)

        def test_maybe_flaky(self):
            # Fails the first time it runs, passes after (a timeout under load).
            flag = os.environ.get("FAKE_FLAKY")
            if flag and not os.path.exists(flag):
                open(flag, "w").close()
                self.fail("lost the connection")

        def test_maybe_leave_process(self):
            if os.environ.get("FAKE_LEAVE"):
                with open(os.environ["FAKE_LEAVE"], "w") as f:
                    f.write(str(subprocess.Popen(["sleep", "300"]).pid))
    """
)

KNOWN = textwrap.dedent(
    """
    # min-tests: {min_tests}
    fake_suite.T.test_known  # a reason
    # a reason for the one below
    fake_suite.T.test_known_now_passes
    fake_suite.T.test_renamed_away
    """
)


def run(tmp_path, *args, min_tests=8, **env):
    """Runs full_suite.py on fake_suite; returns (exit status, output lines)."""
    (tmp_path / "fake_suite.py").write_text(SUITE)
    (tmp_path / "known.txt").write_text(KNOWN.format(min_tests=min_tests))
    extra = env.pop("extra", [])
    environ = dict(os.environ, PYTHONPATH=str(tmp_path), FAKE_SERVER_CLASS=str(tmp_path / "cls"))
    environ.update(env)
    done = subprocess.run(
        [sys.executable, str(RUNNER), "--known", str(tmp_path / "known.txt"),
         "--scratch", str(tmp_path / "scratch"), *args, "fake_suite", *extra],
        env=environ, capture_output=True, text=True, timeout=300, check=False,
    )
    print(done.stdout, done.stderr)
    return done.returncode, done.stdout.splitlines()


def test_known_failures_pass_and_the_last_line_counts(tmp_path):
    status, lines = run(tmp_path)
    assert status == 0
    assert lines[-1] == "6 passed, 0 failed"
    assert "1 known failures, 1 skipped, 0 expected failures" in lines
    # Reported, not failed: the list can be pruned.
    assert "  fake_suite.T.test_known_now_passes" in lines
    assert "  fake_suite.T.test_renamed_away" in lines
    assert (tmp_path / "cls").read_text() == "tahoe_shares.tahoe"


def test_without_the_drop_in_tahoes_server_runs(tmp_path):
    status, lines = run(tmp_path, "--no-drop-in")
    assert status == 0, lines
    assert (tmp_path / "cls").read_text() == "allmydata.storage.server"


def test_an_unknown_failure_fails_the_run_and_is_shown(tmp_path):
    status, lines = run(tmp_path, FAKE_FAIL="1")
    assert status == 1
    assert lines[-1] == "5 passed, 1 failed"
    at = lines.index("  fake_suite.T.test_maybe_fail")
    assert "failure: twisted.trial.unittest.FailTest: 1 != 2" in lines[at + 1]
    assert "fake_suite.py" in lines[at + 2]


def test_a_failure_that_passes_alone_is_reported_and_does_not_fail_the_run(tmp_path):
    status, lines = run(tmp_path, FAKE_FLAKY=str(tmp_path / "flaky-once"))
    assert status == 0, lines
    assert lines[-1] == "6 passed, 0 failed"
    at = lines.index("  fake_suite.T.test_maybe_flaky")
    assert "passed when run again alone" in lines[at - 1]
    assert "lost the connection" in lines[at + 1]


def test_a_failure_that_fails_again_alone_fails_the_run(tmp_path):
    status, lines = run(tmp_path, FAKE_FAIL="1")
    assert status == 1
    assert not any("passed when run again alone" in line for line in lines)
    assert (tmp_path / "scratch" / "rerun" / "trial.log").exists()


def test_too_few_tests_fail_the_run(tmp_path):
    status, lines = run(tmp_path, min_tests=100)
    assert status == 1
    assert "!!! only 8 tests ran, fewer than the 100 expected" in lines
    assert lines[-1] == "6 passed, 1 failed"


def test_a_module_that_does_not_import_fails_the_run(tmp_path):
    (tmp_path / "broken_suite.py").write_text("import no_such_module_anywhere\n")
    status, lines = run(tmp_path, extra=["broken_suite"])
    assert status == 1
    assert "  broken_suite" in lines


def test_jobs_install_the_drop_in_in_each_worker(tmp_path):
    status, lines = run(tmp_path, "-j", "2")
    assert status == 0, lines
    markers = [p.read_text() for p in (tmp_path / "scratch" / "markers").iterdir()]
    assert sum("workertrial" in m for m in markers) == 2
    assert (tmp_path / "cls").read_text() == "tahoe_shares.tahoe"


def test_processes_left_running_are_stopped(tmp_path):
    status, lines = run(tmp_path, FAKE_LEAVE=str(tmp_path / "pid"))
    assert status == 0
    pid = int((tmp_path / "pid").read_text())
    assert any(line.startswith(f"  {pid}: sleep 300") for line in lines)
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid):
    """Whether ``pid`` runs (a zombie waiting for its new parent to reap it does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


@pytest.fixture(autouse=True)
def _no_inherited_drop_in(monkeypatch):
    """The runner's own variables must not leak in from a surrounding run."""
    for name in ("TAHOE_SHARES_DROP_IN", "TAHOE_SHARES_DROP_IN_MARKERS",
                 "TAHOE_SHARES_TRIAL_RESULTS"):
        monkeypatch.delenv(name, raising=False)
