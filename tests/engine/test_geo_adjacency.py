import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse.csgraph import connected_components

from engine.adjacency import derive, from_edges
from engine.geo import haversine_km


def test_haversine_known_distance():
    # Paris - London, about 343.5 km on the sphere
    d = haversine_km(48.8566, 2.3522, 51.5074, -0.1278)
    assert abs(d - 343.5) < 1.5
    assert haversine_km(10, 20, 10, 20) == 0


def test_haversine_matches_geopy_great_circle():
    from geopy.distance import great_circle

    rng = np.random.default_rng(1)
    for lat1, lon1, lat2, lon2 in rng.uniform([-80, -180, -80, -180], [80, 180, 80, 180], size=(20, 4)):
        assert abs(haversine_km(lat1, lon1, lat2, lon2) - great_circle((lat1, lon1), (lat2, lon2)).km) < 1e-3


def test_derived_adjacency_keeps_colocated_customers_connected():
    """Three customers share one address; Delaunay sees one point, we must not drop two."""
    rng = np.random.default_rng(0)
    lat = rng.uniform(40, 41, 30)
    lon = rng.uniform(-90, -89, 30)
    lat = np.concatenate([lat, [lat[5]] * 3])
    lon = np.concatenate([lon, [lon[5]] * 3])
    adj = derive(lat, lon)
    assert connected_components(adj, directed=False)[0] == 1
    for i in (30, 31, 32):
        assert adj[i].nnz >= 2  # tied to its twin(s) and to neighbours of the location
        assert adj[i, 5] == 1


def test_customers_at_one_address_are_all_neighbours():
    """Ten accounts in one building: any split of them between territories is contiguous (they
    were tied only to the first, so no territory without it could hold two of them)."""
    adj = derive(np.full(10, 50.0), np.full(10, 10.0)).toarray()
    assert (adj == 1 - np.eye(10, dtype=int)).all()


def test_a_large_group_at_one_address_stays_sparse_and_connected():
    import engine.adjacency as adjacency

    m = adjacency.COLOCATED_HUBS + 20
    lat = np.concatenate([np.full(m, 50.0), [50.1, 50.2]])
    lon = np.concatenate([np.full(m, 10.0), [10.1, 10.0]])
    adj = derive(lat, lon)
    assert connected_components(adj, directed=False)[0] == 1
    assert adj[m - 1, :m].sum() == adjacency.COLOCATED_HUBS  # tied to the group's hubs only
    assert adj[0, :m].sum() == m - 1


def test_derived_adjacency_prunes_long_edges_but_stays_connected():
    """Two dense clusters far apart: the triangulation's hull edges between them are pruned
    except what keeps the graph connected."""
    rng = np.random.default_rng(3)
    a = rng.normal([40, -90], 0.05, size=(40, 2))
    b = rng.normal([40, -80], 0.05, size=(40, 2))
    pts = np.vstack([a, b])
    adj = derive(pts[:, 0], pts[:, 1]).tocoo()
    cross = ((adj.row < 40) & (adj.col >= 40)).sum()
    assert 1 <= cross <= 2
    assert connected_components(adj, directed=False)[0] == 1


def test_derived_adjacency_links_a_remote_island_once_and_no_edge_spans_a_concave_border():
    """A long thin country (a strip along 71 W, Chile-like) with two places bulging east at
    its ends and an island 3,800 km offshore: the triangulation's hull joins the bulges across
    the neighbouring country and fans the island out to the whole coast. The island keeps its
    shortest links only, and the bulges reach each other along the strip."""
    rng = np.random.default_rng(0)
    strip = np.arange(-18.0, -54.0, -0.25)
    lat = np.concatenate([strip, [-23.0, -55.0, -27.1]])
    lon = np.concatenate([-71.0 + rng.uniform(-0.3, 0.3, len(strip)), [-68.0, -67.6, -109.4]])
    north, south, island = len(lat) - 3, len(lat) - 2, len(lat) - 1
    adj = derive(lat, lon).tocsr()
    assert connected_components(adj, directed=False)[0] == 1
    assert 1 <= adj[island].nnz <= 2
    assert adj[north, south] == 0
    coo = adj.tocoo()
    mainland = (coo.row != island) & (coo.col != island)
    d = haversine_km(lat[coo.row[mainland]], lon[coo.row[mainland]], lat[coo.col[mainland]], lon[coo.col[mainland]])
    assert d.max() < 400  # the strip's places are 28 km apart, the bulges 300 km off it


@settings(max_examples=40, deadline=None)
@given(st.integers(2, 60), st.integers(0, 10_000), st.integers(0, 5))
def test_derived_adjacency_is_connected_symmetric_loopless(n, seed, dups):
    rng = np.random.default_rng(seed)
    lat = rng.uniform(30, 31, n)
    lon = rng.uniform(10, 11, n)
    if dups:
        pick = rng.integers(0, n, dups)
        lat = np.concatenate([lat, lat[pick]])
        lon = np.concatenate([lon, lon[pick]])
    adj = derive(lat, lon)
    assert (adj != adj.T).nnz == 0
    assert adj.diagonal().sum() == 0
    assert connected_components(adj, directed=False)[0] == 1


def test_collinear_points_form_a_path():
    lat = np.array([40.0, 40.0, 40.0, 40.0])
    lon = np.array([-90.0, -89.0, -88.0, -87.0])
    adj = derive(lat, lon)
    assert connected_components(adj, directed=False)[0] == 1


def test_from_edges_merges_duplicates():
    adj = from_edges(3, np.array([0, 1, 0]), np.array([1, 0, 2]))
    assert adj.nnz == 4 and adj.max() == 1
