"""Is each territory connected in the adjacency graph? O(n + m) for all territories at once."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components


def territory_components(adj: sp.csr_matrix, labels: np.ndarray, k: int) -> np.ndarray:
    """Number of connected pieces of each territory (0 for an empty territory), shape (k,)."""
    labels = np.asarray(labels)
    coo = adj.tocoo()
    same = labels[coo.row] == labels[coo.col]
    n = len(labels)
    sub = sp.csr_matrix((np.ones(int(same.sum()), dtype=np.int8), (coo.row[same], coo.col[same])), shape=(n, n))
    _, comp = connected_components(sub, directed=False)
    pieces = np.zeros(k, dtype=np.int64)
    # count distinct components per label
    pairs = np.unique(np.column_stack([labels, comp]), axis=0)
    np.add.at(pieces, pairs[:, 0], 1)
    return pieces


def pieces_of(adj: sp.csr_matrix, members: np.ndarray) -> list[np.ndarray]:
    """The connected pieces of the subgraph induced by `members` (unit indices), largest first."""
    members = np.asarray(members)
    sub = adj[members][:, members]
    c, comp = connected_components(sub, directed=False)
    out = [members[comp == p] for p in range(c)]
    out.sort(key=len, reverse=True)
    return out
