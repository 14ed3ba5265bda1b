"""Distances on the earth, vectorized."""

from __future__ import annotations

import numpy as np

EARTH_RADIUS_KM = 6371.0088


def haversine_km(lat1, lon1, lat2, lon2) -> np.ndarray:
    """Great-circle distance in km; arguments broadcast like numpy arrays (degrees)."""
    lat1, lon1, lat2, lon2 = (np.radians(np.asarray(a, dtype=float)) for a in (lat1, lon1, lat2, lon2))
    a = np.sin((lat2 - lat1) / 2) ** 2 + np.cos(lat1) * np.cos(lat2) * np.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.sqrt(np.clip(a, 0.0, 1.0)))


def unit_vectors(lat, lon) -> np.ndarray:
    """(n, 3) points on the unit sphere (degrees in): the chord between two of them orders
    pairs as the great-circle distance does (KD-trees), and gives it: d = 2 R asin(chord / 2)."""
    la, lo = np.radians(np.asarray(lat, dtype=float)), np.radians(np.asarray(lon, dtype=float))
    return np.column_stack([np.cos(la) * np.cos(lo), np.cos(la) * np.sin(lo), np.sin(la)])


def project_km(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    """Local equirectangular projection to km around the data's mean latitude, shape (n, 2).

    Good enough for triangulation and neighbour search within a country; longitudes are
    unwrapped around the circular mean so data spanning the antimeridian stays together.
    """
    lat = np.asarray(lat, dtype=float)
    lon = np.asarray(lon, dtype=float)
    lon_r = np.radians(lon)
    mean_lon = np.degrees(np.arctan2(np.sin(lon_r).mean(), np.cos(lon_r).mean()))
    dlon = (lon - mean_lon + 180.0) % 360.0 - 180.0
    lat0 = np.radians(lat.mean())
    x = np.radians(dlon) * np.cos(lat0) * EARTH_RADIUS_KM
    y = np.radians(lat) * EARTH_RADIUS_KM
    return np.column_stack([x, y])
