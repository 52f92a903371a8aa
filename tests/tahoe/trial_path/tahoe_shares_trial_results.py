"""A trial reporter that also writes every outcome, one JSON object a line.

trial's own output is for people; this file is for ``tests/tahoe/full_suite.py``. The
reporter prints what ``--reporter=bwverbose`` prints (one ``id ... [OK]`` line a test) and
appends to the file named by ``TAHOE_SHARES_TRIAL_RESULTS``:

    {"event": "start", "id": ...}
    {"event": "outcome", "id": ..., "outcome": "success" | "failure" | "error" | "skip"
     | "expected-failure" | "unexpected-success", "seconds": ..., "type": ...,
     "message": ..., "where": [...], "traceback": ...}
    {"event": "done", "tests_run": ...}

A test may have several outcomes (an error in its body and another in its clean-up); an
``error`` without a ``start`` is a module that failed to import, or an error outside any
test. Each line is flushed as it is written, so a run that dies part-way still leaves what
it reached. With ``-j N`` the workers report to the main process, which runs this reporter,
so the file is the same shape either way; but there the main process replays each test's
events when the test ends, so ``seconds`` (the time from start to outcome) only means
something without ``-j``.
"""

import json
import os
import sysconfig
import time

import twisted
from twisted.python.failure import Failure
from twisted.python.reflect import qual
from twisted.trial.reporter import VerboseTextReporter

RESULTS_ENV = "TAHOE_SHARES_TRIAL_RESULTS"

# A traceback longer than this is cut (the log of the run has the whole of it).
_MAX_TRACEBACK = 20_000
# The innermost frames kept in "where", leaving out trial's and the standard library's
# (unless nothing else is left).
_WHERE_FRAMES = 4
_NOT_WHERE = (
    os.path.join(os.path.dirname(twisted.__file__), ""),
    os.path.join(sysconfig.get_paths()["stdlib"], ""),
)


def _failure_of(error):
    """A ``Failure`` from what trial passes: a ``Failure`` or an ``exc_info`` tuple."""
    if isinstance(error, Failure):
        return error
    if isinstance(error, tuple) and len(error) == 3:
        return Failure(error[1], error[0], error[2])
    return None


def _describe(error):
    """The fields that say what went wrong and where."""
    failure = _failure_of(error)
    if failure is None:
        return {"type": None, "message": str(error), "where": [], "traceback": str(error)}
    frames = [f for f in failure.frames if not f[1].startswith(_NOT_WHERE)] or failure.frames
    where = [
        f"{filename}:{line} in {function}"
        for function, filename, line, *_ in frames[-_WHERE_FRAMES:]
    ]
    try:
        traceback = failure.getTraceback()
    except Exception as e:  # a broken __str__ must not lose the outcome
        traceback = f"(traceback not available: {e!r})"
    return {
        "type": qual(failure.type) if failure.type is not None else None,
        "message": failure.getErrorMessage(),
        "where": where,
        "traceback": traceback[-_MAX_TRACEBACK:],
    }


class ResultsReporter(VerboseTextReporter):
    """``bwverbose`` output, plus the JSON-lines file described in the module docs."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        path = os.environ.get(RESULTS_ENV)
        if not path:
            raise RuntimeError(f"{RESULTS_ENV} must name the file to write the results to")
        self._results = open(path, "a", encoding="utf-8")  # noqa: SIM115 (lives as long as the run)
        self._started = {}

    def _record(self, **fields):
        self._results.write(json.dumps(fields) + "\n")
        self._results.flush()

    def startTest(self, test):
        self._started[test.id()] = time.monotonic()
        self._record(event="start", id=test.id())
        super().startTest(test)

    def _outcome(self, test, outcome, **fields):
        started = self._started.get(test.id())
        seconds = None if started is None else round(time.monotonic() - started, 3)
        self._record(event="outcome", id=test.id(), outcome=outcome, seconds=seconds, **fields)

    def addSuccess(self, test):
        self._outcome(test, "success")
        super().addSuccess(test)

    def addError(self, test, error):
        self._outcome(test, "error", **_describe(error))
        super().addError(test, error)

    def addFailure(self, test, fail):
        self._outcome(test, "failure", **_describe(fail))
        super().addFailure(test, fail)

    def addSkip(self, test, reason):
        self._outcome(test, "skip", message=str(reason))
        super().addSkip(test, reason)

    def addExpectedFailure(self, test, failure, todo=None):
        self._outcome(test, "expected-failure", message=str(todo))
        super().addExpectedFailure(test, failure, todo)

    def addUnexpectedSuccess(self, test, todo=None):
        self._outcome(test, "unexpected-success", message=str(todo))
        super().addUnexpectedSuccess(test, todo)

    def done(self):
        super().done()
        self._record(event="done", tests_run=self.testsRun)
        self._results.close()
