import numpy as np
from hypothesis import given, settings, strategies as st
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
