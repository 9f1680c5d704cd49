"""Parameter sweeps with replications: many runs of one scenario over a grid of values.

A sweep runs every combination of the values given for some dotted scenario keys (each
combination a *point*), each point several times (*replications*): replication ``r`` of every
point runs with the same seed (common random numbers), the replications' seeds spawned from
the base seed. It records every run and gives each point's means and 95% confidence intervals,
in a result folder that an interrupted sweep resumes from. Nothing here prints.

Where things live:

- :mod:`.plan`: the grid of overrides, validated and expanded (:func:`~.plan.plan_sweep`,
  :class:`~.plan.SweepPlan`);
- :mod:`.seeds`: each replication's seed (:func:`~.seeds.replication_seeds`);
- :mod:`.metrics`: what is recorded of a run, and the run as a worker executes it
  (:func:`~.metrics.run_one`);
- :mod:`.executors`: this process, a process pool or a Dask cluster, and running the runs on it;
- :mod:`.intervals`: Student-t 95% confidence intervals;
- :mod:`.aggregation`: the rows of ``runs.csv`` and ``sweep.csv``;
- :mod:`.figures`: the plots of every metric against each swept key;
- :mod:`.folder`: the result folder (``sweep.json``, ``runs.csv``, ``sweep.csv``, plots,
  ``scenario.yaml``), resumed run by run;
- :mod:`.api`: :func:`~.api.run_sweep` and :func:`~.api.sweep` (pandas DataFrames);
- :mod:`.errors`: :class:`~.errors.SweepDefinitionError` and :class:`~.errors.SweepError`.

This package exports the Python API of docs/sweeps.md; everything else is imported from its
module.
"""

from __future__ import annotations

from .api import SweepOutcome, SweepResult, run_sweep, sweep
from .errors import SweepDefinitionError, SweepError
from .executors import Dask, Processes, Serial
from .plan import SweepPlan, plan_sweep
from .seeds import replication_seeds

__all__ = [
    "Dask",
    "Processes",
    "Serial",
    "SweepDefinitionError",
    "SweepError",
    "SweepOutcome",
    "SweepPlan",
    "SweepResult",
    "plan_sweep",
    "replication_seeds",
    "run_sweep",
    "sweep",
]
