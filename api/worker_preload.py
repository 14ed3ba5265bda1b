"""Imported once by the run manager's forkserver (api.runs): the worker's modules and the
bound's compiled kernels, so every run's worker, forked from it, starts with both loaded
instead of spending about a second of a short run on them."""

from __future__ import annotations

import api.runs_worker  # noqa: F401 - numpy, scipy, the engine and solvers.solve
import solvers.bound.lagrangian  # noqa: F401 - the bound's imports too
from solvers.bound.kernels import warm_all

warm_all()
