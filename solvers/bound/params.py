"""The Lagrangian bound's tunables, in one frozen dataclass that checks itself.

None of these decides whether the bound is valid (every value gives a lower bound; the
safety margins that guarantee it are named constants where they are used): they decide how
tight it gets in the time there is. Why each default is what it is, with the measurements
behind it: benchmarks/results/tuning.md, "Bound".

    BoundParams()                                   the defaults
    BoundParams(max_iter=500, full_every=2)         any field by name; a bad value raises ValueError
"""

from __future__ import annotations

from dataclasses import dataclass

from solvers.param_checks import Range, check_fields, number, whole


@dataclass(frozen=True)
class BoundParams:
    # --- the ascent (ascent.py) ---
    # units of largest v summed exactly over every row: their terms would count beyond the lists' radius
    top: int = 32
    # steps at most of a bound run in this process; the ascent usually stops on the clock first
    max_iter: int = 3000
    # steps at most in the child process beside the search (side.py): it stops by convergence or the clock
    side_max_iter: int = 1_000_000
    # a full pass over the lists every this many steps; between them only the rows likely to be chosen (more steps)
    full_every: int = 4
    # share of the rows (smallest rho at the last full pass) recomputed between full passes
    active_share: float = 0.25
    # steps without a better point before the step size lam halves
    stale_steps: int = 12
    # what lam is multiplied by after stale_steps steps without progress
    lam_shrink: float = 0.5
    # lam below this: the steps have vanished, the ascent has converged
    lam_floor: float = 1e-4
    # lam at least this after rows are refined: the function changed, the steps may grow again
    lam_after_refine: float = 0.5
    # with no plan's objective to aim at, the steps aim this many times above the best value
    aim_above: float = 1.05
    # each theta_j's first step, as a share of the median starting v
    theta_step_share: float = 0.1
    # theta_j's step grows by this while its derivative keeps its sign ...
    theta_grow: float = 1.1
    # ... and shrinks by this when the sign flips
    theta_shrink: float = 0.5
    # without a plan, v starts at each unit's distance to its (n / (start_part * k))-th nearest unit
    start_part: int = 3
    # time kept at the end for the exact evaluations of the best points, in first evaluations
    reserve_evals: float = 3.0
    # spatial blocks counting the units beyond each row's list (outside.py): this many per territory ...
    blocks_per_k: int = 4
    # ... at least this many ...
    blocks_min: int = 64
    # ... and at most this many (each row keeps a base per block)
    blocks_max: int = 256
    # --- aggregated demand at scale (aggregate.py) ---
    # an aggregated row's list holds this many territories' worth of clusters (long lists cost
    # little: each row's pass stops early) ...
    agg_territories: float = 5.0
    # ... and at least this share of them (a 10 % floor lost at 100,000 units / 500)
    agg_share: float = 0.05
    # the aggregated lists' pairs at most (~12 bytes a pair: the unit, the distance, the bound's gap)
    max_pairs_agg: int = 40_000_000
    # ... at least ...
    min_pairs_agg: int = 1_000_000
    # ... and as many as the bound has seconds times this: the steps must converge in the time there is
    pairs_per_second: float = 1.4e6
    # shares of the time at which the cluster rows picked as centers are refined into their members
    refine_at: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
    # refine the rows standing for this many times k candidate centers: (short ascent, long ascent)
    refine_cover: tuple[float, float] = (25.0, 100.0)
    # an ascent with at least this many seconds is long (refined rows cost steps a short one cannot spare)
    refine_long_s: float = 30.0
    # room for refined rows: this many times what one refinement covers
    refine_spare: float = 4.0
    # --- the rows' lists (lists.py) ---
    # pairs at most when rows stand for groups of candidate centers (~20 bytes a pair: ~80 MB)
    max_pairs: int = 4_000_000
    # pairs at most when every unit keeps its own row with a long list (~320 MB)
    max_pairs_long: int = 16_000_000
    # a long list: this many territories' worth of units (when every unit can keep one)
    long_list: float = 10.0
    # else a list holds this many territories' worth (rows then stand for groups of centers)
    short_list: float = 3.5
    # a list holds at least this many units
    min_list: int = 32
    # an explicit distance matrix above this many units gives no bound (its rows are sorted whole)
    max_explicit: int = 4000
    # the widest clusters (this share of them) are summed exactly: one would shrink every row's radius ...
    wide_share: float = 0.02
    # ... at most this many
    wide_max: int = 256
    # --- where and when the bound runs (side.py, schedule.py) ---
    # below this many seconds for the bound a child process (1-2 s to start) is not worth it
    side_min_seconds: float = 10.0
    # the child stops its ascent this long before the deadline: its last exact evaluation and reply
    side_margin_s: float = 1.0
    # share of the time limit kept for the bound after a search that is not the final answer ...
    after_share: float = 0.15
    # ... and seconds at most
    after_max_s: float = 120.0

    def __post_init__(self) -> None:
        check_fields(
            self,
            _RULES,
            tuple_sizes={"refine_at": None, "refine_cover": 2},
            ordered=(("blocks_min", "blocks_max"), ("min_pairs_agg", "max_pairs_agg")),
        )
        if list(self.refine_at) != sorted(self.refine_at):
            raise ValueError(f"BoundParams.refine_at must be in increasing order, got {self.refine_at!r}")


# what each field may be (each value of a tuple field)
_RULES: dict[str, Range] = {
    "top": whole(0),
    "max_explicit": whole(0),
    "wide_max": whole(0),
    "max_iter": whole(1),
    "side_max_iter": whole(1),
    "full_every": whole(1),
    "stale_steps": whole(1),
    "start_part": whole(1),
    "blocks_per_k": whole(1),
    "blocks_min": whole(1),
    "blocks_max": whole(1),
    "max_pairs_agg": whole(1),
    "min_pairs_agg": whole(1),
    "max_pairs": whole(1),
    "max_pairs_long": whole(1),
    "min_list": whole(1),
    "active_share": number(0.0, high=1.0, above=True),
    "lam_shrink": number(0.0, high=1.0, above=True),
    "lam_floor": number(0.0, high=1.0, above=True),
    "theta_shrink": number(0.0, high=1.0, above=True),
    "agg_share": number(0.0, high=1.0, above=True),
    "lam_after_refine": number(0.0, high=1.0),
    "wide_share": number(0.0, high=1.0),
    "after_share": number(0.0, high=1.0),
    "refine_at": number(0.0, high=1.0),
    "theta_step_share": number(0.0, above=True),
    "agg_territories": number(0.0, above=True),
    "pairs_per_second": number(0.0, above=True),
    "long_list": number(0.0, above=True),
    "short_list": number(0.0, above=True),
    "refine_cover": number(0.0, above=True),
    "reserve_evals": number(0.0),
    "refine_long_s": number(0.0),
    "refine_spare": number(0.0),
    "side_min_seconds": number(0.0),
    "side_margin_s": number(0.0),
    "after_max_s": number(0.0),
    "aim_above": number(1.0, above=True),
    "theta_grow": number(1.0),
}
