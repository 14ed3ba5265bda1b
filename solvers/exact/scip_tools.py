"""SCIP pieces both exact models share: contiguity as a constraint handler that adds violated
separator cuts lazily, progress and cancellation from SCIP's events, warm starts, and an
interruptible optimize."""

from __future__ import annotations

from collections.abc import Callable, Hashable

import numpy as np
from pyscipopt import SCIP_EVENTTYPE, SCIP_RESULT, Conshdlr, Eventhdlr

from engine.tolerance import IMPROVEMENT_REL
from solvers.clock import Clock, stop_on_cancel

_CAUGHT = (SCIP_EVENTTYPE.BESTSOLFOUND, SCIP_EVENTTYPE.NODESOLVED, SCIP_EVENTTYPE.LPSOLVED)


def chosen_per_row(model, sol, rows: list[list[tuple[int, object]]]) -> np.ndarray | None:
    """For each unit's row of (index, binary variable), the index whose variable is 1 in `sol`.

    None when some unit has no variable at 1 (a fractional or partial solution).
    """
    chosen = np.full(len(rows), -1, dtype=np.int64)
    for i, row in enumerate(rows):
        for j, v in row:
            if model.getSolVal(sol, v) > 0.5:
                chosen[i] = j
                break
        if chosen[i] < 0:
            return None
    return chosen


def add_warm_start(model, x: dict, choice: np.ndarray) -> bool:
    """Offer SCIP the solution x[i, c] = 1 where choice[i] == c; True when it is accepted."""
    sol = model.createSol()
    for (i, c), v in x.items():
        model.setSolVal(sol, v, 1.0 if choice[i] == c else 0.0)
    return bool(model.addSol(sol, free=True))


def optimize_interruptible(model, clock: Clock) -> None:
    """SCIP's optimize, releasing the GIL, with cancellation honored even inside presolve or a
    long LP, where SCIP's own callbacks do not fire."""
    with stop_on_cancel(clock, model.interruptSolve):
        model.optimizeNogil()


def include_connectivity(model, handler: SeparatorHandler) -> None:
    """Register `handler` as the model's contiguity constraint handler: it separates before
    SCIP's own handlers and checks and enforces after them (integrality first)."""
    model.includeConshdlr(
        handler,
        "connectivity",
        "territories are connected (lazy a,b-separators)",
        sepapriority=1,
        enfopriority=-1,
        chckpriority=-1,
        sepafreq=1,
        needscons=False,
    )


class SeparatorHandler(Conshdlr):
    """Contiguity as a SCIP constraint handler: every integer point SCIP would accept is checked,
    and the separator cuts it violates are added (lazily, so the model starts small); at the root,
    `fractional_cuts` may cut LP points too.

    A model says what its cuts are: `violated_cuts(chosen)` for an integer point (the index
    chosen per unit: its center, or its territory), `fractional_cuts()` for the current LP point
    (None: do not separate now), `add_cut` to add one, `cut_key` to recognize one already added.
    """

    fractional_removable = True  # fractional cuts may leave the LP again

    def __init__(self, x: dict, clock: Clock, n: int) -> None:
        """x[i, j]: the binary variables (unit i, index j), for n units."""
        self.x = x
        self.clock = clock
        self.rows: list[list[tuple[int, object]]] = [[] for _ in range(n)]
        for (i, j), v in x.items():
            self.rows[i].append((j, v))
        self.cuts: dict[Hashable, None] = {}  # every cut in the model, in the order added
        self.n_lazy = 0
        self.n_frac = 0
        self.rounds = 0  # fractional separation rounds

    # -- what a model provides
    def violated_cuts(self, chosen: np.ndarray) -> list:
        raise NotImplementedError

    def fractional_cuts(self) -> list | None:
        return None

    def add_cut(self, cut, name: str, removable: bool) -> None:
        raise NotImplementedError

    def cut_key(self, cut) -> Hashable:
        return cut

    # -- shared
    def _add_new(self, cuts: list, kind: str, removable: bool) -> int:
        added = 0
        for cut in cuts:
            key = self.cut_key(cut)
            if key in self.cuts:
                continue
            self.cuts[key] = None
            self.add_cut(cut, f"{kind}_{len(self.cuts)}", removable)
            added += 1
        return added

    def _enforce(self):
        if self.clock.cancelled():
            self.model.interruptSolve()
        chosen = chosen_per_row(self.model, None, self.rows)
        if chosen is None:
            return {"result": SCIP_RESULT.FEASIBLE}
        cuts = self.violated_cuts(chosen)
        if not cuts:
            return {"result": SCIP_RESULT.FEASIBLE}
        added = self._add_new(cuts, "lazy", removable=False)
        self.n_lazy += added
        # every violated cut already in the model yet violated: the LP is not consistent; be safe
        return {"result": SCIP_RESULT.CONSADDED if added else SCIP_RESULT.INFEASIBLE}

    # -- SCIP callbacks
    def conscheck(self, constraints, solution, checkintegrality, checklprows, printreason, completely, **kw):
        chosen = chosen_per_row(self.model, solution, self.rows)
        if chosen is None or self.violated_cuts(chosen):
            return {"result": SCIP_RESULT.INFEASIBLE}
        return {"result": SCIP_RESULT.FEASIBLE}

    def consenfolp(self, constraints, nusefulconss, solinfeasible):
        return self._enforce()

    def consenfops(self, constraints, nusefulconss, solinfeasible, objinfeasible):
        return self._enforce()

    def conssepalp(self, constraints, nusefulconss):
        if self.model.getDepth() > 0 or self.clock.should_stop():
            return {"result": SCIP_RESULT.DIDNOTRUN}
        cuts = self.fractional_cuts()
        if cuts is None:
            return {"result": SCIP_RESULT.DIDNOTRUN}
        added = self._add_new(cuts, "frac", removable=self.fractional_removable)
        self.n_frac += added
        return {"result": SCIP_RESULT.CONSADDED if added else SCIP_RESULT.DIDNOTFIND}

    def conslock(self, constraint, locktype, nlockspos, nlocksneg):
        for v in self.x.values():
            self.model.addVarLocksType(v, locktype, nlockspos + nlocksneg, nlockspos + nlocksneg)


def _same(value):
    return value


class ProgressHandler(Eventhdlr):
    """Progress events (a new incumbent, a better bound) and cancellation from SCIP's events.
    `to_user` maps the model's objective and bound to the ones reported (a phase of a
    lexicographic solve reports the user's objective)."""

    def __init__(
        self,
        clock: Clock,
        label: str,
        to_user: tuple[Callable[[float], float | None], Callable[[float], float | None]] = (_same, _same),
    ) -> None:
        self.clock = clock
        self.label = label
        self.objective_of, self.bound_of = to_user
        self.last_bound = -np.inf

    def eventinit(self):
        for event in _CAUGHT:
            self.model.catchEvent(event, self)

    def eventexit(self):
        for event in _CAUGHT:
            self.model.dropEvent(event, self)

    def eventexec(self, event):
        m = self.model
        if self.clock.cancelled():
            m.interruptSolve()
            return
        kind = event.getType()
        if kind == SCIP_EVENTTYPE.LPSOLVED:  # only to look at the cancel flag during long root LPs
            return
        bound = m.getDualbound()
        if kind == SCIP_EVENTTYPE.BESTSOLFOUND:
            self.clock.report(
                self.objective_of(m.getSolObjVal(m.getBestSol())), self.bound_of(bound), f"{self.label}: new incumbent"
            )
        elif bound > self.last_bound + IMPROVEMENT_REL * max(1.0, abs(bound)):
            self.last_bound = bound
            objective = self.objective_of(m.getPrimalbound()) if m.getNSols() else None
            self.clock.report(objective, self.bound_of(bound), f"{self.label}: bound")
