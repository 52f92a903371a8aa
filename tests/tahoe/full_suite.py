"""Runs Tahoe-LAFS 1.20's whole test suite and compares it with the known failures.

    python tests/tahoe/full_suite.py [--no-drop-in] [-j N] [--scratch DIR] [TESTS...]

By default the run has ``tahoe_shares.tahoe`` installed as Tahoe's ``StorageServer`` in
every Python process of the run (``trial_path/sitecustomize.py``: trial's main process,
its ``-j`` workers, and the Tahoe nodes some tests start as subprocesses); ``--no-drop-in``
runs Tahoe's own server, which is how ``known_failures.txt`` is measured. Both use Tahoe's
own CI profile of Hypothesis (``TAHOE_LAFS_HYPOTHESIS_PROFILE=ci``: no deadlines), as
timing is not what the suite is for here.

trial runs in a child process, in its own session, in the scratch directory (default
``target/tahoe-full``, emptied first); its output goes to ``trial.log`` there and every
outcome to ``results.jsonl`` (``trial_path/tahoe_shares_trial_results.py``). The run fails
when:

- a test fails or errors that ``known_failures.txt`` does not list (each is printed with
  its error and where it was raised), or trial failed to import a module;
- fewer tests ran than the ``min-tests`` in the list's header (a broken import or a
  missing dependency must not pass silently);
- with the drop-in, a process of the run did not install it (the markers of
  ``sitecustomize.py`` are checked for the main process and each worker);
- trial exited non-zero without any failed test to explain it, or the run timed out.

Tahoe's system tests (``test_system``) run real nodes over loopback under timeouts, and on a
loaded machine one occasionally loses a connection. So a failing test that
``known_failures.txt`` does not list is run once more, alone (at most ``--rerun`` of them,
default 10): one that passes then is reported, by name and with its first error, as having
failed only in the full run, and does not fail it; one that fails again does.

Known failures that now pass, and listed tests that did not run, are reported without
failing, so the list can be pruned. Processes the suite left behind (Tahoe nodes that
outlived their test) are listed and stopped. The last line is ``N passed, N failed``:
``failed`` counts the tests that fail the run plus one for each problem with the run as a
whole, ``passed`` the tests that passed (known failures, skips and expected failures are
counted on the line before).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
TRIAL_PATH = HERE / "trial_path"
KNOWN_FAILURES = HERE / "known_failures.txt"
REPORTER = "tahoe-shares-results"
FAILING = ("failure", "error")


@dataclass
class KnownFailures:
    """``known_failures.txt``: test ids with their reasons, and the least count of tests."""

    min_tests: int
    reasons: dict[str, str]


def read_known(path: Path) -> KnownFailures:
    """Parses the list: ``# min-tests: N`` in the header, then one test id a line, each
    optionally followed by ``# reason``; other ``#`` lines are comments that give the
    reason of the ids after them."""
    min_tests = None
    reasons: dict[str, str] = {}
    comment = ""
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line:
            comment = ""
            continue
        if line.startswith("#"):
            text = line[1:].strip()
            if text.startswith("min-tests:"):
                min_tests = int(text.split(":", 1)[1])
            else:
                comment = f"{comment} {text}".strip()
            continue
        test_id, _, reason = line.partition("#")
        test_id = test_id.strip()
        if " " in test_id:
            raise SystemExit(f"{path}:{number}: one test id a line, then '# reason'")
        if test_id in reasons:
            raise SystemExit(f"{path}:{number}: {test_id} is listed twice")
        reasons[test_id] = reason.strip() or comment
    if min_tests is None:
        raise SystemExit(f"{path}: the header has no '# min-tests: N' line")
    return KnownFailures(min_tests, reasons)


@dataclass
class TestResult:
    """What the reporter said about one test id."""

    started: bool = False
    outcomes: list[dict] = field(default_factory=list)

    @property
    def failing(self) -> list[dict]:
        return [o for o in self.outcomes if o["outcome"] in FAILING]

    @property
    def status(self) -> str:
        """``failed`` if any outcome failed or errored, else the last outcome's kind."""
        if self.failing:
            return "failed"
        if not self.outcomes:
            return "no-outcome"
        return self.outcomes[-1]["outcome"]


def read_results(path: Path) -> tuple[dict[str, TestResult], int | None]:
    """The results file, by test id, and the count trial reported at the end (``None``
    when the run did not reach the end)."""
    results: dict[str, TestResult] = {}
    tests_run = None
    if not path.exists():
        return results, tests_run
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a killed run
        if record["event"] == "done":
            tests_run = record["tests_run"]
            continue
        result = results.setdefault(record["id"], TestResult())
        if record["event"] == "start":
            result.started = True
        else:
            result.outcomes.append(record)
    return results, tests_run


def session_processes(sid: int) -> list[tuple[int, str]]:
    """The processes of session ``sid`` still alive (pid, command line)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            # The command name is in parentheses and may hold spaces: split after it.
            fields = stat[stat.rindex(")") + 2 :].split()
            state, session = fields[0], int(fields[3])
            if session != sid or state == "Z":
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
        found.append((int(entry.name), cmdline.strip()))
    return found


def stop_session(sid: int) -> list[tuple[int, str]]:
    """Stops what is left of session ``sid`` (SIGTERM, then SIGKILL); returns what was
    found."""
    left = session_processes(sid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid, _ in session_processes(sid):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + 5
        while session_processes(sid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not session_processes(sid):
            break
    return left


def run_trial(args: argparse.Namespace, scratch: Path) -> tuple[int | None, float, list, int]:
    """Runs trial in its own session; returns its exit status (``None`` on time-out), the
    seconds it took, the processes it left behind, and its pid."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(TRIAL_PATH), str(REPO), *filter(None, [env.get("PYTHONPATH")])]
    )
    env["TAHOE_SHARES_TRIAL_RESULTS"] = str(scratch / "results.jsonl")
    # Tahoe's own CI profile (allmydata/test/__init__.py): no Hypothesis deadline and no
    # too-slow health check, whose verdicts depend on the machine's load, not the code.
    env.setdefault("TAHOE_LAFS_HYPOTHESIS_PROFILE", "ci")
    env.pop("TAHOE_SHARES_DROP_IN", None)
    if not args.no_drop_in:
        env["TAHOE_SHARES_DROP_IN"] = "1"
        env["TAHOE_SHARES_DROP_IN_MARKERS"] = str(scratch / "markers")
        (scratch / "markers").mkdir()
    command = [args.python, "-m", "twisted.trial", f"--reporter={REPORTER}"]
    if args.jobs > 1:
        command.append(f"--jobs={args.jobs}")
    command += args.tests
    print("running:", " ".join(command), f"(in {scratch})", flush=True)
    start = time.monotonic()
    with open(scratch / "trial.log", "wb") as log:
        child = subprocess.Popen(
            command,
            cwd=scratch,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        status: int | None = None
        try:
            while True:
                try:
                    status = child.wait(timeout=30)
                    break
                except subprocess.TimeoutExpired:
                    elapsed = time.monotonic() - start
                    if elapsed > args.timeout:
                        print(f"!!! timed out after {elapsed:.0f} s", flush=True)
                        break
                    results, _ = read_results(scratch / "results.jsonl")
                    print(f"  {len(results)} tests so far, {elapsed:.0f} s", flush=True)
        finally:
            left = stop_session(child.pid)
            if status is None:
                child.wait()
    return status, time.monotonic() - start, left, child.pid


def message_summary(message: str) -> list[str]:
    """A message in at most a few lines. testtools hands trial a whole traceback as the
    message (``_StringException``): keep its innermost frame and its unindented lines, the
    exception's (and, for a Foolscap remote failure, the remote frames)."""
    lines = message.strip().splitlines()
    if len(lines) <= 6:
        return lines
    frames = [line.strip() for line in lines if line.lstrip().startswith('File "')]
    top = [line for line in lines if line[:1].strip() and not line.startswith("Traceback")]
    return [f"innermost: {f}" for f in frames[-1:]] + top[:10]


def where(outcome: dict) -> str:
    """The error of one outcome, in a few lines."""
    message = message_summary(outcome.get("message") or "")
    lines = [f"    {outcome['outcome']}: {outcome.get('type')}: {message[0] if message else ''}"]
    lines += [f"      {m}" for m in message[1:]]
    lines += [f"      at {w}" for w in outcome.get("where") or []]
    return "\n".join(line if len(line) <= 300 else line[:300] + "..." for line in lines)


def check_markers(args: argparse.Namespace, scratch: Path, trial_pid: int) -> list[str]:
    """Problems with the drop-in's markers: the main process and each worker must have
    installed it."""
    markers = {int(p.name): p.read_text() for p in (scratch / "markers").iterdir()}
    problems = []
    if trial_pid not in markers:
        problems.append("trial's main process did not install the drop-in")
    workers = [pid for pid, argv in markers.items() if "workertrial" in argv]
    if args.jobs > 1 and len(workers) < args.jobs:
        problems.append(f"{len(workers)} of {args.jobs} trial workers installed the drop-in")
    return problems


def rerun_alone(args: argparse.Namespace, scratch: Path,
                unexpected: dict[str, TestResult]) -> dict[str, TestResult]:
    """Runs the unlisted failures again, alone, in one trial process; returns those that
    passed (with their outcome of the full run). None when there are more than
    ``args.rerun``: so many failures are not the machine's load."""
    if not unexpected or len(unexpected) > args.rerun:
        return {}
    again = scratch / "rerun"
    again.mkdir()
    rerun_args = argparse.Namespace(**{**vars(args), "jobs": 1, "tests": sorted(unexpected)})
    status, _, _, trial_pid = run_trial(rerun_args, again)
    results, _ = read_results(again / "results.jsonl")
    if status is None or (not args.no_drop_in and check_markers(rerun_args, again, trial_pid)):
        return {}
    return {
        i: r for i, r in unexpected.items()
        if i in results and results[i].status == "success"
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tests", nargs="*", default=["allmydata.test"])
    parser.add_argument("--no-drop-in", action="store_true", help="run Tahoe's own server")
    parser.add_argument("-j", "--jobs", type=int, default=1, help="trial workers")
    parser.add_argument("--scratch", type=Path, default=REPO / "target" / "tahoe-full")
    parser.add_argument("--known", type=Path, default=KNOWN_FAILURES)
    parser.add_argument("--python", default=sys.executable, help="the venv's python")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds for the run")
    parser.add_argument("--rerun", type=int, default=10,
                        help="at most this many unlisted failures are run again, alone")
    args = parser.parse_args()

    known = read_known(args.known)
    scratch = args.scratch.resolve()
    if scratch.exists() and any(scratch.iterdir()) and not (scratch / "trial.log").exists():
        raise SystemExit(f"{scratch} is not empty and holds no earlier run: not removing it")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)

    status, seconds, left, trial_pid = run_trial(args, scratch)
    results, tests_run = read_results(scratch / "results.jsonl")
    ran = sum(1 for r in results.values() if r.started)

    problems: list[str] = []
    unexpected = {i: r for i, r in results.items() if r.failing and i not in known.reasons}
    known_failed = [i for i, r in results.items() if r.failing and i in known.reasons]
    now_passing = [
        i for i in known.reasons if i in results and results[i].status == "success"
    ]
    not_run = [i for i in known.reasons if i not in results]
    passed = sum(1 for r in results.values() if r.status in ("success", "unexpected-success"))
    skipped = sum(1 for r in results.values() if r.status == "skip")
    expected = sum(1 for r in results.values() if r.status == "expected-failure")

    if left:
        print(f"\nstopped {len(left)} processes the suite left running:")
        for pid, cmdline in left:
            print(f"  {pid}: {cmdline[:200]}")
    passed_alone = rerun_alone(args, scratch, unexpected) if status is not None else {}
    if passed_alone:
        print(f"\n{len(passed_alone)} tests failed in the full run and passed when run again "
              "alone (a lost connection or a timeout under load, not a failing check):")
        for test_id in sorted(passed_alone):
            print(f"  {test_id}")
            print(where(passed_alone[test_id].failing[0]))
        unexpected = {i: r for i, r in unexpected.items() if i not in passed_alone}
        passed += len(passed_alone)
    if unexpected:
        print(f"\n{len(unexpected)} tests failed that {args.known.name} does not list:")
        for test_id in sorted(unexpected):
            print(f"  {test_id}")
            for outcome in unexpected[test_id].failing:
                print(where(outcome))
    if now_passing:
        print(f"\n{len(now_passing)} known failures now pass (prune {args.known.name}?):")
        for test_id in now_passing:
            print(f"  {test_id}")
    if not_run:
        print(f"\n{len(not_run)} listed tests did not run:")
        for test_id in not_run:
            print(f"  {test_id}")

    if status is None:
        problems.append("the run timed out")
    elif tests_run is None:
        problems.append(f"trial did not finish its report (exit status {status})")
    if ran < known.min_tests:
        problems.append(f"only {ran} tests ran, fewer than the {known.min_tests} expected")
    if status and not unexpected and not known_failed:
        problems.append(f"trial exited with status {status} and no failed test")
    if not args.no_drop_in:
        problems += check_markers(args, scratch, trial_pid)

    server = "Tahoe's own StorageServer" if args.no_drop_in else "the tahoe_shares drop-in"
    print(f"\nwith {server}: {ran} tests ran in {seconds:.0f} s ({args.jobs} job(s)), log in "
          f"{scratch / 'trial.log'}")
    for problem in problems:
        print(f"!!! {problem}")
    print(f"{len(known_failed)} known failures, {skipped} skipped, {expected} expected failures")
    failed = len(unexpected) + len(problems)
    print(f"{passed} passed, {failed} failed")
    return 1 if unexpected or problems else 0


if __name__ == "__main__":
    sys.exit(main())
