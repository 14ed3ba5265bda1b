"""The numeric problem: a Scenario turned into arrays. The pydantic layer stops here.

Measures are rows of `measures` (m x n): row 0 is `workload`, row 1 `potential`, then the
attributes in sorted order. `lower`/`upper` bound each territory's total per measure
(0 / inf where no rule applies).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from engine import adjacency as adjacency_mod
from engine.geo import EARTH_RADIUS_KM, haversine_km, unit_vectors
from models import Scenario
from models.scenario import AdjacencyRule


@dataclass(frozen=True, eq=False)
class Problem:
    name: str
    ids: list[str]
    lat: np.ndarray
    lon: np.ndarray
    measure_names: list[str]
    measures: np.ndarray  # (m, n)
    lower: np.ndarray  # (m,) per-territory lower bound on each measure's total
    upper: np.ndarray  # (m,)
    balanced: np.ndarray  # (m,) bool: a balance rule applies to the measure
    adj: sp.csr_matrix  # (n, n) symmetric 0/1
    k: int
    territory_ids: list[str]
    locks: np.ndarray  # (n,) territory index or -1
    current: np.ndarray  # (n,) territory index or -1
    unit_skills: np.ndarray  # (n,) bitmask over skill_names
    rep_lat: np.ndarray  # (r,)
    rep_lon: np.ndarray
    rep_skills: np.ndarray  # (r,) bitmask
    rep_capacity: np.ndarray  # (r, m) upper bound per measure (inf = none)
    rep_current: np.ndarray  # (r,) territory index of the rep's current territory or -1
    frozen: np.ndarray  # (k,) bool: the territory keeps exactly its current units
    contiguity: bool = True
    distance_power: int = 1
    disruption_weight: float = 0.0
    max_moved_share: float | None = None
    explicit_distances: np.ndarray | None = None  # (n, n), replaces haversine
    adjacency_derived: bool = False
    adjacency_source: str = "given"  # or how it was derived: "locations", "polygons", "polygons+locations"
    adjacency_notes: tuple[str, ...] = ()  # what a derivation assumed, e.g. links between units that do not touch
    skill_names: list[str] = field(default_factory=list)
    rep_ids: list[str] = field(default_factory=list)
    regions: int | None = None  # territories grouped into this many contiguous, balanced regions
    minimize: str = "compactness"  # or "moved": fewest moved units first, compactness breaks ties
    skill_penalty: float | None = None  # None: skills are hard; else the cost of each unserved skill

    def __getstate__(self) -> dict:
        """Pickled without the cached derived arrays (the bound's child process gets the
        problem through a pipe; it derives what it needs itself)."""
        state = self.__dict__.copy()
        for cached in ("unit_xyz", "neighbour_lists", "_trig"):
            state.pop(cached, None)
        return state

    @property
    def soft_skills(self) -> bool:
        return self.skill_penalty is not None

    @property
    def rep_centric(self) -> bool:
        """Reps are given (each with a home): territory t is served by a known rep and its travel
        is measured from that rep's home (`rep_of_territories`)."""
        return bool(self.rep_ids)

    def rep_of_territories(self) -> np.ndarray | None:
        """(k,) rep index per territory in a rep-centric problem (None without reps); see
        `rep_of_territory_mapping`. Every solver and the evaluator share this mapping."""
        if not self.rep_ids:
            return None
        return rep_of_territory_mapping(self.rep_current, self.k)

    def unserved_skills(self, labels: np.ndarray, rep_of_territory: np.ndarray) -> np.ndarray:
        """(n,) bitmask of the skills each unit needs that the rep of its territory lacks."""
        return self.unit_skills & ~self.rep_skills[rep_of_territory[labels]]

    def skill_count(self, masks: np.ndarray) -> np.ndarray:
        """Number of skills in each bitmask of `masks`."""
        masks = np.asarray(masks, dtype=np.int64)
        out = np.zeros(masks.shape, dtype=np.int64)
        for b in range(len(self.skill_names)):
            out += (masks >> b) & 1
        return out

    def home_distances(self, rep_of_territory: np.ndarray, idx: np.ndarray | None = None) -> np.ndarray:
        """(n or len(idx), k) great-circle km from units to the home of each territory's rep."""
        lat = self.lat if idx is None else self.lat[idx]
        lon = self.lon if idx is None else self.lon[idx]
        return haversine_km(
            lat[:, None], lon[:, None], self.rep_lat[rep_of_territory][None, :], self.rep_lon[rep_of_territory][None, :]
        )

    @property
    def n(self) -> int:
        return len(self.ids)

    @cached_property
    def unit_xyz(self) -> np.ndarray:
        """(n, 3) the units on the unit sphere (engine.geo.unit_vectors)."""
        return unit_vectors(self.lat, self.lon)

    @cached_property
    def neighbour_lists(self) -> list[np.ndarray]:
        """Each unit's neighbours in the adjacency graph (views into the CSR matrix)."""
        adj = self.adj.tocsr()
        return [adj.indices[adj.indptr[i] : adj.indptr[i + 1]] for i in range(self.n)]

    @property
    def moved_cap(self) -> int | None:
        """The most units with a current territory that may move (max_moved_share of them,
        rounded down); None without a cap or a current alignment."""
        n_current = int((self.current >= 0).sum()) if self.current is not None else 0
        if self.max_moved_share is None or n_current == 0:
            return None
        return int(np.floor(self.max_moved_share * n_current + 1e-9))

    @property
    def weights(self) -> np.ndarray:
        """Objective weights w_i: the workload."""
        return self.measures[0]

    def measure_index(self, name: str) -> int:
        return self.measure_names.index(name)

    def mean(self) -> np.ndarray:
        return self.measures.sum(axis=1) / self.k

    # -- distances -------------------------------------------------------------------
    # The one place that chooses between an explicit matrix (road km or minutes) and
    # great-circle distances: every solver and the evaluator measure through these.
    def distances(self, i, j) -> np.ndarray:
        """Distances between units i and j (index arrays or ints, broadcast like numpy)."""
        if self.explicit_distances is not None:
            return np.asarray(self.explicit_distances[i, j], dtype=float)
        return haversine_km(self.lat[i], self.lon[i], self.lat[j], self.lon[j])

    def distance(self, i: int, j: int) -> float:
        """The distance between units i and j as a Python float, without numpy's per-call
        overhead (the heuristic's per-move costs); the same value as `distances`."""
        if self.explicit_distances is not None:
            return float(self.explicit_distances[i, j])
        rlat, rlon, coslat = self._trig
        a = math.sin((rlat[j] - rlat[i]) / 2) ** 2 + coslat[i] * coslat[j] * math.sin((rlon[j] - rlon[i]) / 2) ** 2
        return 2 * EARTH_RADIUS_KM * math.asin(math.sqrt(min(max(a, 0.0), 1.0)))

    @cached_property
    def _trig(self) -> tuple[list[float], list[float], list[float]]:
        """Latitudes and longitudes in radians and the cosines of the latitudes, as lists."""
        return np.radians(self.lat).tolist(), np.radians(self.lon).tolist(), np.cos(np.radians(self.lat)).tolist()

    def dist_from(self, j: int, idx: np.ndarray | None = None) -> np.ndarray:
        """Distances from unit j to units idx (all units when None)."""
        return self.distances(j, slice(None) if idx is None else idx)

    def dist_block(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Distance matrix between units `rows` and units `cols`, shape (len(rows), len(cols))."""
        return self.distances(np.asarray(rows)[:, None], np.asarray(cols)[None, :])

    def dist_matrix(self) -> np.ndarray:
        """Dense n x n distances; only for small problems (exact solvers)."""
        idx = np.arange(self.n)
        return self.dist_block(idx, idx)

    def cost_matrix(self) -> np.ndarray:
        """c[i, j] = w_i * d(i, j)^p: the cost of serving unit i from center j (dense)."""
        return self.weights[:, None] * self.dist_matrix() ** self.distance_power

    def subproblem(self, idx: np.ndarray, k: int, lower=None, upper=None, name: str | None = None) -> Problem:
        """The problem restricted to units `idx` with k territories (ids T1..Tk).

        Per-territory bounds stay those of the parent unless given; locks and the current
        alignment are dropped (the caller maps them).
        """
        idx = np.asarray(idx, dtype=np.int64)
        sub_adj = self.adj[idx][:, idx].tocsr()
        explicit = None if self.explicit_distances is None else self.explicit_distances[np.ix_(idx, idx)]
        m = len(idx)
        return self.with_(
            name=name or self.name,
            ids=[self.ids[i] for i in idx],
            lat=self.lat[idx],
            lon=self.lon[idx],
            measures=self.measures[:, idx],
            lower=self.lower if lower is None else np.asarray(lower, dtype=float),
            upper=self.upper if upper is None else np.asarray(upper, dtype=float),
            adj=sub_adj,
            k=k,
            territory_ids=[f"T{t + 1}" for t in range(k)],
            explicit_distances=explicit,
            locks=np.full(m, -1, dtype=np.int64),
            current=np.full(m, -1, dtype=np.int64),
            unit_skills=self.unit_skills[idx],
            rep_ids=[],
            rep_lat=np.zeros(0),
            rep_lon=np.zeros(0),
            rep_skills=np.zeros(0, dtype=np.int64),
            rep_capacity=np.zeros((0, len(self.measure_names))),
            rep_current=np.zeros(0, dtype=np.int64),
            regions=None,
            frozen=np.zeros(k, dtype=bool),
        )

    def without_reps(self) -> Problem:
        """The same problem with no reps: territories designed around unit centers (locks to a
        rep's territory stay as territory locks)."""
        return self.with_(
            rep_ids=[],
            rep_lat=np.zeros(0),
            rep_lon=np.zeros(0),
            rep_skills=np.zeros(0, dtype=np.int64),
            rep_capacity=np.zeros((0, len(self.measure_names))),
            rep_current=np.zeros(0, dtype=np.int64),
            skill_penalty=None,
        )

    def with_(self, **changes) -> Problem:
        from dataclasses import replace

        return replace(self, **changes)


def rep_of_territory_mapping(rep_current: np.ndarray, k: int) -> np.ndarray:
    """Territory t is served by the rep whose current territory is t; the other reps take the
    remaining territories in index order."""
    rep_of = np.full(k, -1, dtype=np.int64)
    free_reps = []
    for r, cur in enumerate(np.asarray(rep_current).tolist()):
        if 0 <= cur < k and rep_of[cur] < 0:
            rep_of[cur] = r
        else:
            free_reps.append(r)
    for t in np.flatnonzero(rep_of < 0):
        rep_of[t] = free_reps.pop(0)
    return rep_of


def build_problem(scenario: Scenario) -> Problem:
    """Scenario -> Problem. Assumes the scenario passed model validation."""
    units = scenario.units
    n = len(units)
    ids = [u.id for u in units]
    index = {uid: i for i, uid in enumerate(ids)}
    lat = np.array([u.lat for u in units], dtype=float)
    lon = np.array([u.lon for u in units], dtype=float)
    extra = sorted(scenario.measure_names() - {"workload", "potential"})
    names = ["workload", "potential", *extra]
    measures = np.zeros((len(names), n))
    measures[0] = [scenario.unit_workload(u) for u in units]
    measures[1] = [u.potential for u in units]
    for r, name in enumerate(extra, start=2):
        measures[r] = [u.attributes.get(name, 0.0) for u in units]
    k = scenario.territories
    mean = measures.sum(axis=1) / k
    lower = np.zeros(len(names))
    upper = np.full(len(names), np.inf)
    balanced = np.zeros(len(names), dtype=bool)
    for rule in scenario.balance:
        r = names.index(rule.measure)
        balanced[r] = True
        if rule.tolerance is not None:
            lower[r] = mean[r] * (1 - rule.tolerance)
            upper[r] = mean[r] * (1 + rule.tolerance)
        else:
            lower[r] = rule.min if rule.min is not None else 0.0
            upper[r] = rule.max if rule.max is not None else np.inf

    adjacency_source: str = "given"
    adjacency_notes: tuple[str, ...] = ()
    if scenario.adjacency is None:
        shapes: list[dict | None] = [
            {"type": u.geometry.type, "coordinates": u.geometry.coordinates} if u.geometry else None for u in units
        ]
        adjacency_rule = scenario.adjacency_rule or AdjacencyRule()
        found = adjacency_mod.derive_from_units(
            ids, lat, lon, shapes, rule=adjacency_rule.rule, tolerance_m=adjacency_rule.tolerance_m
        )
        adj, adjacency_source, adjacency_notes = found.adj, found.source, found.notes
        if scenario.adjacency_rule is not None and adjacency_source == "locations":
            adjacency_notes += (
                "adjacency_rule has no effect: no unit has a boundary (geometry), so neighbours "
                "come from the triangulation of locations",
            )
    else:
        a = np.array([index[e[0]] for e in scenario.adjacency], dtype=np.int64)
        b = np.array([index[e[1]] for e in scenario.adjacency], dtype=np.int64)
        adj = adjacency_mod.from_edges(n, a, b)

    explicit = None
    if scenario.distances is not None:
        pos = {uid: d for d, uid in enumerate(scenario.distances.ids)}
        order = np.array([pos[uid] for uid in ids]) if scenario.distances.ids != ids else None
        explicit = np.asarray(scenario.distances.values, dtype=float)
        if order is not None:
            explicit = explicit[np.ix_(order, order)]

    territory_ids = scenario.territory_ids()
    tindex = {t: i for i, t in enumerate(territory_ids)}
    rep_current = np.array([tindex.get(r.current, -1) if r.current else -1 for r in scenario.reps], dtype=np.int64)
    rep_territory = {}  # a lock to a rep pins the unit to the territory that rep serves
    if scenario.reps:
        for t, r in enumerate(rep_of_territory_mapping(rep_current, k).tolist()):
            rep_territory[scenario.reps[r].id] = territory_ids[t]
    locks = np.full(n, -1, dtype=np.int64)
    current = np.full(n, -1, dtype=np.int64)
    for i, u in enumerate(units):
        if u.lock is not None:
            locks[i] = tindex[u.lock] if u.lock in tindex else tindex[rep_territory[u.lock]]
        if u.current is not None and u.current in tindex:
            current[i] = tindex[u.current]

    skill_names = sorted({s for u in units for s in u.skills} | {s for r in scenario.reps for s in r.skills})
    if len(skill_names) > 62:
        raise ValueError("more than 62 distinct skills are not supported")
    bit = {s: np.int64(1) << np.int64(b) for b, s in enumerate(skill_names)}

    def mask(skills: list[str]) -> np.int64:
        m = np.int64(0)
        for s in skills:
            m |= bit[s]
        return m

    reps = scenario.reps
    rep_capacity = np.full((len(reps), len(names)), np.inf)
    for r, rep in enumerate(reps):
        for measure, cap in rep.capacity.items():
            if measure in names:
                rep_capacity[r, names.index(measure)] = cap

    return Problem(
        name=scenario.name,
        ids=ids,
        lat=lat,
        lon=lon,
        measure_names=names,
        measures=measures,
        lower=lower,
        upper=upper,
        balanced=balanced,
        adj=adj,
        k=k,
        territory_ids=territory_ids,
        contiguity=scenario.contiguity,
        distance_power=scenario.objective.distance_power,
        disruption_weight=scenario.objective.disruption_weight,
        max_moved_share=scenario.disruption.max_moved_share,
        explicit_distances=explicit,
        locks=locks,
        current=current,
        adjacency_derived=scenario.adjacency is None,
        adjacency_source=adjacency_source,
        adjacency_notes=adjacency_notes,
        skill_names=skill_names,
        unit_skills=np.array([mask(u.skills) for u in units], dtype=np.int64),
        rep_ids=[r.id for r in reps],
        rep_lat=np.array([r.lat for r in reps], dtype=float),
        rep_lon=np.array([r.lon for r in reps], dtype=float),
        rep_skills=np.array([mask(r.skills) for r in reps], dtype=np.int64),
        rep_capacity=rep_capacity,
        rep_current=rep_current,
        regions=scenario.regions,
        frozen=np.array([t in set(scenario.disruption.frozen) for t in territory_ids], dtype=bool),
        minimize=scenario.objective.minimize,
        skill_penalty=scenario.skills.penalty if scenario.skills.mode == "soft" else None,
    )
