"""Is each territory connected in the adjacency graph (O(n + m) for all territories at once),
and which connected pieces does a set of units fall into."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Sequence

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


def connected_pieces(neighbours: Sequence[np.ndarray], members: Iterable[int], n: int) -> list[np.ndarray]:
    """The connected pieces of the units `members` (of n) in the graph whose neighbour lists
    are `neighbours`: in the order of each piece's first unit in `members`, each piece in
    breadth-first order from that unit. Exact models cut disconnected territories with it,
    and the order makes their cuts, and so their runs, repeatable."""
    members = [int(u) for u in members]
    inside = np.zeros(n, dtype=bool)
    inside[members] = True
    seen = np.zeros(n, dtype=bool)
    pieces = []
    for start in members:
        if seen[start]:
            continue
        piece = [start]
        seen[start] = True
        queue = deque([start])
        while queue:
            u = queue.popleft()
            for v in neighbours[u]:
                if inside[v] and not seen[v]:
                    seen[v] = True
                    piece.append(int(v))
                    queue.append(v)
        pieces.append(np.array(piece, dtype=np.int64))
    return pieces
