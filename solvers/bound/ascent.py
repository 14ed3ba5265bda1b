"""The subgradient ascent on (v, theta) that drives the Lagrangian bound (the model and why
any (v, theta) gives a lower bound: solvers.bound.lagrangian).

One step: evaluate LB(v, theta) in float32, over every row (a full pass, every
params.full_every steps) or over the rows of smallest rho at the last full pass (the others
keep their list terms); keep the best point; move v along the subgradient (1 - how often each
unit is served) with a Polyak step towards the plan's objective, and each theta_j along its
own derivative with a step that halves when the sign flips. Where the rows are aggregated
clusters, the rows picked as centers are refined into their members' rows at set times and
when the steps converge. The value reported is the float64 LB at the best points.

    Ascent(problem, lists, clock, params, upper=..., labels=..., v0=..., refine=...).run()
        -> AscentResult(value, iterations, refined)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from engine.problem import Problem
from engine.tolerance import NOISE
from solvers.bound.lists import SHAVE, NeighbourLists, demand_shrink, wide_clusters
from solvers.bound.outside import Blocks, Outside, make_blocks
from solvers.bound.params import BoundParams
from solvers.bound.relaxation import Relaxation, workload_bounds
from solvers.clock import Clock

# v of the units summed exactly (the top units) as the lists see it: below any level, so that
# their list and outside terms vanish.
_OFF_LIST = -1e30
# The top units' distance rows are cached for up to this many times params.top units.
_TOP_CACHE = 8

# refine(relax, rho) -> (extra rows, parent row of each, grouped by parent) or None
Refine = Callable[[Relaxation, np.ndarray], "tuple[NeighbourLists, np.ndarray] | None"]


@dataclass(frozen=True)
class Evaluation:
    """LB(v, theta) at one point, and what the step from it needs."""

    value: float  # LB(v, theta)
    rho: np.ndarray  # (R,) rho_j: list, outside, top units' and theta's terms
    load: np.ndarray  # (R,) the weight each row serves at (v, theta)
    rows: np.ndarray  # the rows of the k smallest rho (the chosen centers) ...
    cnt: np.ndarray  # ... and how many of their candidate centers count (float)
    theta: np.ndarray  # (R,) the point's theta
    vt: np.ndarray  # (n,) v with the top units off the lists (_OFF_LIST)
    level: np.ndarray  # (R,) rp_j - theta_j
    top: np.ndarray  # top units of positive weight (summed exactly over every row) ...
    top_served: np.ndarray | None  # ... (T, R): which rows serve each of them
    outside: Outside  # the units beyond the lists, by block


@dataclass(frozen=True)
class AscentResult:
    value: float  # float64 LB at the best point, before the safety margin; -inf if none
    iterations: int  # evaluations of LB, the first one included
    refined: int  # rows refined into their members' own rows


def blocks_for(k: int, params: BoundParams) -> int:
    """Spatial blocks counting the units outside each row's list (solvers.bound.outside)."""
    return int(min(params.blocks_max, max(params.blocks_min, params.blocks_per_k * k)))


def plan_costs(problem: Problem, labels: np.ndarray) -> np.ndarray:
    """d(i, center of i's territory)^p per unit, centers as the evaluator picks them."""
    from engine.evaluate import best_centers

    centers = best_centers(problem, labels)
    d = problem.distances(np.arange(problem.n), centers[labels])
    return d if problem.distance_power == 1 else d**problem.distance_power


class Ascent:
    """Subgradient ascent on (v, theta) over the rows of `lists`, until the clock stops it,
    params.max_iter (or `max_iter`) steps, or the steps vanish.

    upper: a plan's objective (or a function giving the best one so far) the steps aim at.
    Start: v0, else each unit's cost in the plan `labels`, else its distance to a near
    neighbour. refine(relax, rho) -> (extra rows, parent row of each, grouped by parent) or
    None is called at the first full pass after each time in refine_at (the clock's elapsed
    seconds) and when the steps converge; the extra rows replace their parents
    (Relaxation.place, within `spare` rows more) and start from their parent's theta.

    run() does it all; start(), step() and finish() are its parts, evaluate(), subgradient(),
    step_v(), step_theta() and refine_rows() theirs."""

    def __init__(
        self,
        problem: Problem,
        lists: NeighbourLists,
        clock: Clock,
        params: BoundParams,
        upper: float | Callable[[], float | None] | None = None,
        labels: np.ndarray | None = None,
        v0: np.ndarray | None = None,
        refine: Refine | None = None,
        refine_at: tuple[float, ...] = (),
        spare: int = 0,
        max_iter: int | None = None,
    ) -> None:
        self.problem, self.clock, self.params = problem, clock, params
        self.upper, self.refine, self.refine_at = upper, refine, tuple(refine_at)
        self.max_iter = params.max_iter if max_iter is None else max_iter
        self.n, self.k, self.p = problem.n, problem.k, problem.distance_power
        self.w = np.asarray(problem.weights, dtype=float)
        self.pos = self.w > 0
        self.shrink = demand_shrink(problem)
        self.wide = np.flatnonzero(wide_clusters(self.shrink, params))
        self.blocks: Blocks = make_blocks(problem, blocks_for(self.k, params), exact=self.wide)
        self.relax = Relaxation(problem, lists, self.blocks, spare if refine is not None else 0)
        self.lo, self.hi, self.balanced = workload_bounds(problem)
        R = self.relax.R
        self.v = self._start_v(labels, v0)
        self.theta = np.zeros(R)
        # theta's first steps: a share of the typical v (> 0, even where v starts at 0)
        scale = max(float(np.median(self.v[self.pos])) if self.pos.any() else 1.0, 1e-12)
        self.tstep = np.full(R, scale * params.theta_step_share)
        self.last_sign = np.zeros(R)
        self.lam = 1.0  # the share of the Polyak step taken
        self.stale = 0  # steps since the last better point
        self.it = 0  # evaluations so far
        self.refined = 0
        self.subset: np.ndarray | None = None  # rows of smallest rho at the last full pass, between full passes
        self._list_part = np.zeros((2, R))  # rows' list and outside terms, and load, at the last full pass
        self._top_rows: dict[int, np.ndarray] = {}  # top unit -> its d^p to every row
        # set by start(): the best value of any step; the time kept for finish(); the best point
        # (float32 value), the best float64 value, and the best point of a full pass
        self.best = self.best_approx = self.best_exact = -np.inf
        self.reserve = 0.0
        self.best_v, self.best_theta = self.v, self.theta
        self.full_v, self.full_theta = self.best_v, self.best_theta

    def _start_v(self, labels: np.ndarray | None, v0: np.ndarray | None) -> np.ndarray:
        """v0; else each unit's distance^p to its plan center; else to a near neighbour (the
        n / (params.start_part * k)-th nearest)."""
        n, k, p = self.n, self.k, self.p
        if v0 is not None:
            v = np.asarray(v0, dtype=float).copy()
        elif labels is not None:
            v = plan_costs(self.problem, np.asarray(labels))
        else:
            from scipy.spatial import cKDTree

            from engine.geo import project_km

            xy = project_km(self.problem.lat, self.problem.lon)
            dd, _ = cKDTree(xy).query(xy, k=min(n, max(2, n // (self.params.start_part * k))))
            v = np.atleast_2d(dd)[:, -1] ** p if dd.ndim > 1 else dd**p
        return np.where(self.pos, v, 0.0)

    # --- LB(v, theta) ---

    def evaluate(self, v: np.ndarray, theta: np.ndarray, exact: bool, subset: np.ndarray | None = None) -> Evaluation:
        """LB(v, theta) and what the step needs: float64 (`exact`, reported) or float32
        (steers). With a subset of rows, the others' list and outside terms are those of the
        last full pass (an estimate that only steers); without, this is a full pass."""
        n, relax, R = self.n, self.relax, self.relax.R
        top_n = self.params.top
        # units of largest v are summed exactly over all rows
        top = np.argsort(-v)[:top_n] if n > top_n else np.arange(n)
        if len(self.wide):  # clusters of large radius too: lists' outside radius ignores them
            top = np.union1d(top, self.wide)
        is_top = np.zeros(n, dtype=bool)
        is_top[top] = True
        vt = np.where(is_top, _OFF_LIST, v)
        level = relax.rp[:R] - theta
        # every non-top unit counted as if at its block's base from the row: w_i min(0, base -
        # v_i - theta), summed by prefix sums over v sorted (the list units' terms correct it);
        # the units it counts are served by the row as far as theta is concerned: without them
        # in the load, theta climbs past the lists' radius
        out = Outside(self.blocks, v, self.w, ~is_top)
        part = self._list_part
        if subset is None:
            rho, load = relax.rows(vt, level, exact)
            o_rho, o_load = out.terms(relax.base[:R] - theta[:, None])
            part[0], part[1] = rho + o_rho, load + o_load
            rho, load = part[0].copy(), part[1].copy()
        else:
            rho, load = part[0].copy(), part[1].copy()
            rho[subset], load[subset] = relax.rows(vt, level, exact, subset)
            o_rho, o_load = out.terms(relax.base[subset] - theta[subset, None])
            rho[subset] += o_rho
            load[subset] += o_load
        top_list = np.asarray([int(t) for t in top if self.pos[t]], dtype=np.int64)
        negt = None
        if len(top_list):
            D = self._top_distances(top_list)  # (T, R)
            rt = D - v[top_list][:, None] - theta[None, :]
            negt = rt < 0
            wt = self.w[top_list][:, None]
            rho += np.where(negt, wt * rt, 0.0).sum(axis=0)
            load += np.where(negt, wt, 0.0).sum(axis=0)
        if self.balanced:
            rho += self._theta_terms(theta)
        rows, cnt = self._chosen(rho)
        value = float((self.w * v).sum() + (rho[rows] * cnt).sum())
        return Evaluation(value, rho, load, rows, cnt, theta, vt, level, top_list, negt, out)

    def _theta_terms(self, theta: np.ndarray) -> np.ndarray:
        """theta_j^+ L - theta_j^- U per row (theta < 0 only where U is finite)."""
        lo, hi = self.lo, self.hi
        return np.where(theta > 0, theta * lo, np.where(theta < 0, theta * (hi if np.isfinite(hi) else 0.0), 0.0))

    def _chosen(self, rho: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The k smallest rho_j: each row stands for `mult` candidate centers. The rows, and
        how many of each one's centers count."""
        mult = self.relax.mult[: self.relax.R]
        order = np.argsort(rho, kind="stable")
        before = np.concatenate([[0], np.cumsum(mult[order])[:-1]])
        take = np.clip(self.k - before, 0, mult[order])
        return order[take > 0], take[take > 0].astype(float)

    def _top_distances(self, top: np.ndarray) -> np.ndarray:
        """(T, R) each top unit's d^p to every row, rounded down and shrunk like the lists'."""
        relax, R = self.relax, self.relax.R
        if len(self._top_rows) > _TOP_CACHE * self.params.top + len(self.wide):
            keep = set(top.tolist())
            self._top_rows = {t: r for t, r in self._top_rows.items() if t in keep}
        for t in top:
            if t not in self._top_rows:
                if relax.located:
                    from engine.geo import haversine_km

                    d = haversine_km(self.problem.lat[t], self.problem.lon[t], relax.lat[:R], relax.lon[:R])
                else:  # rows of units of an explicit distance matrix
                    d = self.problem.distances(t, relax.rep[:R])
                self._top_rows[t] = np.maximum(0.0, d * (1.0 - SHAVE) - relax.delta[:R] - self.shrink[t]) ** self.p
        return np.vstack([self._top_rows[t] for t in top])

    # --- the step ---

    def subgradient(self, ev: Evaluation) -> np.ndarray:
        """The subgradient of LB with respect to u = w v at ev's point: 1 - (times unit i is
        served by the chosen centers), 0 for units of no weight."""
        relax, n = self.relax, self.n
        cover = np.zeros(n)
        for r, c in zip(ev.rows, ev.cnt, strict=True):
            cover[relax.served(r, ev.vt, ev.level[r])] += c
        if ev.top_served is not None:
            cover[ev.top] += ev.top_served[:, ev.rows] @ ev.cnt
        cover += ev.outside.cover(relax.base[ev.rows] - ev.theta[ev.rows, None], ev.cnt, n)
        return np.where(self.pos, 1.0 - cover, 0.0)

    def step_v(self, ev: Evaluation, g: np.ndarray, norm: float) -> None:
        """Polyak step on v from ev's point along g (norm = |g|^2) towards the best plan's
        objective (or params.aim_above times the best value found), scaled by lam; v >= 0."""
        up = self.upper() if callable(self.upper) else self.upper
        tgt = up if up is not None and up > self.best else abs(self.best) * self.params.aim_above + 1e-9
        step = self.lam * (tgt - ev.value) / norm if norm > 0 else 0.0
        pos = self.pos
        self.v = np.where(pos, np.maximum(0.0, self.v + step * g / np.where(pos, self.w, 1.0)), 0.0)

    def step_theta(self, ev: Evaluation, full: bool) -> None:
        """Each theta_j one step along the derivative of rho_j (independent of which rows are
        chosen); its step grows while the sign holds and shrinks when it flips. After a
        partial pass only the subset's rows move: the others' load is stale."""
        lo, hi, load, theta = self.lo, self.hi, ev.load, self.theta
        at_zero = np.where(load < lo, lo - load, np.where(load > hi, hi - load, 0.0))
        deriv = np.where(theta > 0, lo - load, np.where(theta < 0, hi - load, at_zero))
        sign = np.sign(deriv)
        flip = sign * self.last_sign < 0
        new_step = np.where(flip, self.tstep * self.params.theta_shrink, self.tstep * self.params.theta_grow)
        if full:
            self.theta, self.last_sign, self.tstep = theta + new_step * sign, sign, new_step
        else:
            sub = self.subset
            self.theta, self.tstep = theta.copy(), self.tstep.copy()
            self.theta[sub] += new_step[sub] * sign[sub]
            self.tstep[sub], self.last_sign[sub] = new_step[sub], sign[sub]

    def refine_rows(self, rho: np.ndarray) -> bool:
        """Ask refine() for rows to refine (by rho of the last full pass) and put them in
        place: the new rows start from their parent's theta, and the ascent from a full pass
        with steps that may grow again. False when there was nothing to refine."""
        got = self.refine(self.relax, rho) if self.refine is not None else None
        if got is None:
            return False
        parent = self.relax.place(*got)  # of the appended rows: they start from it
        R = self.relax.R
        self.theta, self.tstep, self.last_sign, self.best_theta = (
            np.concatenate([a, a[parent]]) for a in (self.theta, self.tstep, self.last_sign, self.best_theta)
        )
        if self.full_v is self.best_v:
            self.full_theta = self.best_theta
        else:
            self.full_theta = np.concatenate([self.full_theta, self.full_theta[parent]])
        self._list_part = np.zeros((2, R))
        self._top_rows.clear()
        self.subset = None
        self.lam = max(self.lam, self.params.lam_after_refine)
        self.refined += len(got[1])
        return True

    def _keep_best(self, ev: Evaluation, full: bool) -> None:
        """Remember ev's point when it is the best so far (and the best of a full pass); after
        params.stale_steps steps without one, lam shrinks."""
        if ev.value > self.best_approx + NOISE * max(1.0, abs(self.best_approx)):
            self.best_approx = ev.value
            self.best_v, self.best_theta = self.v.copy(), self.theta.copy()
            if full:
                self.full_v, self.full_theta = self.best_v, self.best_theta
            self.stale = 0
        else:
            self.stale += 1
            if self.stale >= self.params.stale_steps:
                self.lam *= self.params.lam_shrink
                self.stale = 0
        self.best = max(self.best, ev.value)

    # --- the ascent ---

    def start(self) -> None:
        """The exact value at the starting point (a valid bound at once), and from its cost
        the time kept for the final exact evaluations."""
        t0 = self.clock.elapsed()
        self.best = self.evaluate(self.v, self.theta, exact=True).value
        self.reserve = self.params.reserve_evals * (self.clock.elapsed() - t0)
        self.it = 1
        self.best_v, self.best_theta = self.v.copy(), self.theta.copy()  # the best point so far ...
        self.best_approx = self.best_exact = self.best  # ... the value it was kept for; the best reported
        self.full_v, self.full_theta = self.best_v, self.best_theta  # the best point of a full pass

    def may_step(self) -> bool:
        """Steps left, time left beyond the reserve, not cancelled."""
        return self.it < self.max_iter and self.clock.remaining() > self.reserve and not self.clock.cancelled()

    def step(self) -> bool:
        """One iteration: evaluate (full pass or subset), keep the best point, step v and
        theta, refine when due. False when the ascent is over (converged, nothing to refine)."""
        P = self.params
        self.it += 1
        if not np.isfinite(self.hi):
            self.theta = np.maximum(self.theta, 0.0)
        full = self.subset is None or self.it % P.full_every == 0
        ev = self.evaluate(self.v, self.theta, exact=False, subset=None if full else self.subset)
        R = self.relax.R
        if full and R * P.active_share > 4 * len(ev.rows):
            self.subset = np.sort(np.argsort(ev.rho, kind="stable")[: int(R * P.active_share)])
        self._keep_best(ev, full)
        g = self.subgradient(ev)
        norm = float((g * g).sum())
        converged = self.lam < P.lam_floor or norm == 0  # the steps vanished, or nothing more to gain on v
        if converged:
            if self.refine is None:
                return False
            if not full:  # refine from a full pass: the next one
                self.subset = None
                return True
            self.refine_at = (self.clock.elapsed(), *self.refine_at)  # refine now, or stop if nothing is left
        self.step_v(ev, g, norm)
        if self.balanced:
            self.step_theta(ev, full)
        if self.refine is not None and full and self.refine_at and self.clock.elapsed() >= self.refine_at[0]:
            self.refine_at = tuple(t for t in self.refine_at if t > self.clock.elapsed())
            if not self.refine_rows(ev.rho) and converged:
                return False
        return True

    def finish(self) -> AscentResult:
        """The float64 value at the best point, and at the best point of a full pass when it
        differs and there is time. With rows refined since, the point is evaluated over the
        refined rows: each refined candidate's rho can only have grown, so this is no lower
        than at the time."""
        if self.it > 1:
            self.best_exact = max(self.best_exact, self.evaluate(self.best_v, self.best_theta, exact=True).value)
            if self.full_v is not self.best_v and self.clock.remaining() > self.reserve / 3.0:
                self.best_exact = max(self.best_exact, self.evaluate(self.full_v, self.full_theta, exact=True).value)
        return AscentResult(self.best_exact, self.it, self.refined)

    def run(self) -> AscentResult:
        self.start()
        while self.may_step() and self.step():
            pass
        return self.finish()
