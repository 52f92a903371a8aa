"""Makes ``trial --reporter=tahoe-shares-results`` available.

Twisted finds plugins in every ``twisted/plugins/`` directory on ``sys.path`` (this one has
no ``__init__.py``, as Twisted's plugin system requires). Putting ``tests/tahoe/trial_path``
on ``PYTHONPATH`` is enough; ``tests/tahoe/full_suite.py`` does it.
"""

from zope.interface import implementer

from twisted.plugin import IPlugin
from twisted.trial.itrial import IReporter


@implementer(IPlugin, IReporter)
class _ReporterPlugin:
    """What trial's reporter plugins describe: a name, an option and the class."""

    def __init__(self, name, module, description, longOpt, shortOpt, klass):
        self.name = name
        self.module = module
        self.description = description
        self.longOpt = longOpt
        self.shortOpt = shortOpt
        self.klass = klass


results = _ReporterPlugin(
    "tahoe-shares results",
    "tahoe_shares_trial_results",
    "bwverbose output, and every outcome as JSON lines (tahoe-shares)",
    "tahoe-shares-results",
    None,
    "ResultsReporter",
)
