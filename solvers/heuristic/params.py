"""The heuristic's tunables, in one frozen dataclass that checks itself.

None of these decides whether a plan is valid (every plan returned as feasible has been
verified by the evaluator): they decide how good a plan gets in the time there is, and how
the seeded search spends it. Why each default is what it is, with the measurements behind
it: benchmarks/results/tuning.md, "Heuristic".

    HeuristicParams()                                  the defaults
    HeuristicParams(jump_rounds=5, ils_slack=0.0)      any field by name; a bad value raises ValueError
"""

from __future__ import annotations

from dataclasses import dataclass

from solvers.param_checks import Range, check_fields, number, whole


@dataclass(frozen=True)
class HeuristicParams:
    # --- the starts and the order of the phases (solve.py) ---
    # from this many units the one start is the recursive split and center jumps replace the ILS:
    # region growing's balance repair does not keep up with hundreds of territories
    split_min_units: int = 10_000
    # starts below many_units: start_units // n, clipped to [min_starts, max_starts] (small
    # problems afford many starts, each one's search is short)
    start_units: int = 1000
    min_starts: int = 4
    max_starts: int = 12
    # above this many units only scale_starts starts: each takes a large share of the time
    many_units: int = 20_000
    scale_starts: int = 2
    # exact-subproblem LNS only where territories hold at most this many units on average: with
    # larger ones pairs are already optimal for the sub-MIP and each solve takes seconds
    lns_max_units_per_territory: int = 30
    # sub-MIPs at most per territory in the LNS before the ILS (twice as many after it)
    lns_solves_per_k: int = 20
    # violation annealing (no start feasible): start temperature in median units' relative size
    anneal_temp: float = 2.0
    # ... proposals per round per unit
    anneal_moves_per_unit: int = 100
    # ... the temperature falls from anneal_temp to anneal_temp / anneal_cooling over a round
    anneal_cooling: float = 100.0
    # --- the phases (search.py) ---
    # a progress report with a better plan at most this often (each one redraws a client's map)
    report_every_s: float = 0.3
    # repair score: this times the relative bound violation, plus the squared deviation from the
    # target (plus a small cost term): any violation outweighs every deviation
    violation_weight: float = 1e3
    # repair cost term: this times k per plan's cost, so the whole plan's cost weighs ~this per
    # territory: it only breaks ties between repairs towards compact plans
    repair_cost_per_k: float = 0.02
    # merge-and-split of a violating territory with a neighbour: spanning trees per pair ...
    repair_recom_trees: int = 8
    # ... and the noise on their edge lengths (log-normal sigma)
    repair_recom_noise: float = 1.5
    # ReCom chain when the repair is stuck: trees per step (many cheap steps) ...
    chain_recom_trees: int = 4
    # ... noisier trees (the chain explores, it does not optimize)
    chain_recom_noise: float = 2.0
    # ... share of the steps on a pair touching a violating territory (the rest: any pair, diffusion)
    chain_violating_share: float = 0.6
    # ... steps at most: chain_steps + chain_steps_per_k * k
    chain_steps: int = 300
    chain_steps_per_k: int = 60
    # ... stops after chain_patience + chain_patience_per_k * k steps without a less violating plan
    chain_patience: int = 100
    chain_patience_per_k: int = 20
    # iterated local search: iterations at most, ils_iter + ils_iter_per_k * k ...
    ils_iter: int = 100
    ils_iter_per_k: int = 60
    # ... stops after ils_patience + ils_patience_per_k * k iterations without a new best
    ils_patience: int = 30
    ils_patience_per_k: int = 15
    # ... accepts a plan within this share of the best (record-to-record travel)
    ils_slack: float = 0.02
    # ... merge-and-split with little noise (cuts near the shortest trees: compact parts)
    ils_recom_noise: float = 0.5
    # ... with ils_tree_units // (the pair's units) trees, clipped to [ils_trees_min, ils_trees_max]
    ils_tree_units: int = 2000
    ils_trees_min: int = 6
    ils_trees_max: int = 40
    # location-allocation rounds of a center jump at scale (5 kept too few jumps)
    jump_rounds: int = 10
    # --- boundary moves (moves.py, state.py) ---
    # the connectivity check explores at most this many units, then says no (never wrongly yes)
    bfs_cap: int = 150
    # pairwise swaps: the cheapest this many moves per pair of territories ...
    swap_top: int = 8
    # ... this many in the balance repair (the best exchange there is rarely among the cheapest)
    swap_top_repair: int = 24
    # ... exchanges tried per pair of territories in a sweep (its candidates go stale after one)
    swap_tries: int = 6
    # --- merge-and-split (recom.py) ---
    # candidate centers scored per cut (a random sample above it): the work per tree is m x this
    recom_candidates: int = 256
    # --- construction (construct.py, location_allocation.py, split.py) ---
    # Lloyd steps on the k-means++ seeds
    seed_lloyd_steps: int = 3
    # location-allocation rounds at most (the centers usually settle before) ...
    lloyd_rounds: int = 8
    # ... at scale (the rounds still pay there)
    lloyd_rounds_at_scale: int = 40
    # ... at scale, rounds in which each unit chooses among lloyd_cand_wide centers, then lloyd_cand
    lloyd_wide_rounds: int = 2
    lloyd_cand_wide: int = 64
    lloyd_cand: int = 16
    # several balanced measures up to this many units: an LP over every measure's bounds instead
    # of the flow's one mean load per unit
    lp_max_units: int = 500
    # ... each unit among its this many nearest centers
    lp_cand: int = 8
    # ... each total within this share of its band around the target (room for the repairs)
    lp_band: float = 0.5
    # the balanced assignment to the reps' homes: each unit among its this many nearest homes
    # (12 were too few to balance)
    home_candidates: int = 64
    # recursive split: spanning trees per cut at least ...
    split_trees: int = 6
    # ... split_tree_units // (the part's units) of them (small parts are cheap to cut) ...
    split_tree_units: int = 40_000
    # ... and at most this many
    split_trees_max: int = 40
    # --- exact-subproblem LNS (lns.py) ---
    # largest union re-optimized (the model has m x candidates binaries)
    lns_max_units: int = 100
    # up to this size every unit may be a center
    lns_all_centers_units: int = 20
    # else candidate centers: this many units nearest each current center (faster and lower than 16)
    lns_candidates_per_territory: int = 5
    # SCIP's node limit per sub-MIP: what stops it, so a seed repeats its plan (30 found nothing)
    lns_node_limit: int = 400
    # seconds per sub-MIP, a safety net only
    lns_sub_time_s: float = 10.0

    def __post_init__(self) -> None:
        check_fields(
            self,
            _RULES,
            ordered=(
                ("min_starts", "max_starts"),
                ("ils_trees_min", "ils_trees_max"),
                ("split_trees", "split_trees_max"),
                ("lns_all_centers_units", "lns_max_units"),
            ),
        )


# what each field may be
_RULES: dict[str, Range] = {
    "split_min_units": whole(1),
    "start_units": whole(0),
    "min_starts": whole(0),
    "max_starts": whole(0),
    "many_units": whole(1),
    "scale_starts": whole(0),
    "lns_max_units_per_territory": whole(0),
    "lns_solves_per_k": whole(0),
    "anneal_temp": number(0.0),
    "anneal_moves_per_unit": whole(0),
    "anneal_cooling": number(1.0),
    "report_every_s": number(0.0),
    "violation_weight": number(0.0, above=True),
    "repair_cost_per_k": number(0.0),
    "repair_recom_trees": whole(1),
    "repair_recom_noise": number(0.0),
    "chain_recom_trees": whole(1),
    "chain_recom_noise": number(0.0),
    "chain_violating_share": number(0.0, high=1.0),
    "chain_steps": whole(0),
    "chain_steps_per_k": whole(0),
    "chain_patience": whole(1),
    "chain_patience_per_k": whole(0),
    "ils_iter": whole(0),
    "ils_iter_per_k": whole(0),
    "ils_patience": whole(1),
    "ils_patience_per_k": whole(0),
    "ils_slack": number(0.0),
    "ils_recom_noise": number(0.0),
    "ils_tree_units": whole(0),
    "ils_trees_min": whole(1),
    "ils_trees_max": whole(1),
    "jump_rounds": whole(1),
    "bfs_cap": whole(1),
    "swap_top": whole(1),
    "swap_top_repair": whole(1),
    "swap_tries": whole(1),
    "recom_candidates": whole(1),
    "seed_lloyd_steps": whole(0),
    "lloyd_rounds": whole(1),
    "lloyd_rounds_at_scale": whole(1),
    "lloyd_wide_rounds": whole(0),
    "lloyd_cand_wide": whole(1),
    "lloyd_cand": whole(1),
    "lp_max_units": whole(0),
    "lp_cand": whole(1),
    "lp_band": number(0.0, high=1.0),
    "home_candidates": whole(1),
    "split_trees": whole(1),
    "split_tree_units": whole(0),
    "split_trees_max": whole(1),
    "lns_max_units": whole(1),
    "lns_all_centers_units": whole(0),
    "lns_candidates_per_territory": whole(1),
    "lns_node_limit": whole(1),
    "lns_sub_time_s": number(0.0, above=True),
}


# the defaults, for functions called without a search's own parameters
DEFAULTS = HeuristicParams()
