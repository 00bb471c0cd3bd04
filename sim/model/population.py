"""Whole-population state: every node's attributes as numpy arrays.

The model keeps firm and institution state in one structure of arrays indexed
by position (0 .. n-1).  A node that exits stays in the arrays with
``alive = False`` until the model compacts them (:meth:`Population.compact`,
when dead rows outnumber living ones), which renumbers positions; every node
also has a permanent ``uid`` that never changes or repeats, and ``parent`` holds
the parent's ``uid``.  Mesa agents (:mod:`sim.model.agents`) are thin handles that
read and write these arrays.
"""

from __future__ import annotations

import numpy as np

# Roles.  Firms first, then institutions, then the outside world.
ANCHOR, SME, STARTUP, SPINOFF = 0, 1, 2, 3
UNIVERSITY, RESEARCH, INTERMEDIARY, GATEKEEPER = 4, 5, 6, 7
OUTSIDE = 8
ROLE_NAMES = ("anchor", "sme", "startup", "spinoff", "university",
              "research_institute", "intermediary", "gatekeeper", "outside")
FIRM_ROLES = (ANCHOR, SME, STARTUP, SPINOFF, OUTSIDE)
INSTITUTION_ROLES = (UNIVERSITY, RESEARCH, INTERMEDIARY, GATEKEEPER)

_FIELDS = {
    "alive": (np.bool_, ()),
    "role": (np.int8, ()),
    "cluster": (np.int16, ()),
    "fine": (np.int16, ()),
    "cap2": (np.int16, ()),
    "mission": (np.int16, ()),
    "affil": (np.int64, ()),
    "coarse": (np.int8, ()),
    "size": (np.float64, ()),
    "target": (np.float64, ()),
    "age": (np.float64, ()),
    "quality": (np.float64, ()),
    "perf": (np.float64, ()),
    "parent": (np.int64, ()),
    "birth": (np.int32, ()),
    "uid": (np.int64, ()),
    "tenant": (np.bool_, ()),
}


class Population:
    """Structure of arrays with amortised growth.

    Attributes are views of length ``n`` (the number of ids ever used):
    ``alive, role, cluster, fine, cap2, mission, affil, coarse, size, target, age, quality, perf, parent, birth, uid,
    tenant``.
    ``fine`` is a firm's primary fine sector (an institution's field) and ``cap2`` its secondary
    capability (-1: none); ``target`` the employment a firm grows toward (its size when not given); ``affil`` the ``uid`` of a firm's institution (-1: none); ``mission`` is the fine sector an institution's platform targets (-1: none); ``tenant`` whether a firm occupies a unit of its cluster's estate.
    """

    def __init__(self, capacity: int = 1024):
        self.n = 0
        self.next_uid = 0
        self._cap = max(16, int(capacity))
        self._data = {k: np.zeros((self._cap, *shape), dtype=dt) for k, (dt, shape) in _FIELDS.items()}

    def __getattr__(self, name):
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name][: self.n]
        raise AttributeError(name)

    def __setattr__(self, name, value):
        # ``pop.age += 1`` would leave a stale view behind that hides the growing array
        if name in _FIELDS:
            raise AttributeError(f"pop.{name} is a view of the population's storage: write into it "
                                 f"(pop.{name}[ids] = ..., or np.add(pop.{name}, x, out=pop.{name})), "
                                 f"do not assign to it")
        object.__setattr__(self, name, value)

    def add(self, n: int, **values) -> np.ndarray:
        """Append ``n`` nodes; ``values`` are scalars or arrays of length ``n``.  Returns their ids."""
        n = int(n)
        if n <= 0:
            return np.empty(0, dtype=np.int64)
        need = self.n + n
        if need > self._cap:
            cap = max(need, 2 * self._cap)
            for k, arr in self._data.items():
                new = np.zeros((cap, *arr.shape[1:]), dtype=arr.dtype)
                new[: self.n] = arr[: self.n]
                self._data[k] = new
            self._cap = cap
        ids = np.arange(self.n, need)
        defaults = {"alive": True, "parent": -1, "cap2": -1, "mission": -1, "affil": -1,
                    "uid": np.arange(self.next_uid, self.next_uid + n)}
        self.next_uid += n
        if "target" not in values and "size" in values:
            defaults["target"] = values["size"]
        for k in _FIELDS:
            v = values.pop(k, defaults.get(k, 0))
            self._data[k][self.n:need] = v
        if values:
            raise TypeError(f"unknown population fields: {sorted(values)}")
        self.n = need
        return ids

    def compact(self) -> np.ndarray:
        """Drop dead rows; returns ``new_index`` (old position -> new position, -1 if dropped)."""
        keep = self.alive.copy()
        new_index = np.full(self.n, -1, dtype=np.int64)
        m = int(keep.sum())
        new_index[keep] = np.arange(m)
        for k, arr in self._data.items():
            arr[:m] = arr[: self.n][keep]
        self.n = m
        return new_index

    # convenience masks --------------------------------------------------------
    @property
    def is_firm(self) -> np.ndarray:
        r = self.role
        return (r <= SPINOFF) | (r == OUTSIDE)

    @property
    def is_institution(self) -> np.ndarray:
        r = self.role
        return (r >= UNIVERSITY) & (r <= GATEKEEPER)

    @property
    def nbytes(self) -> int:
        return sum(a.nbytes for a in self._data.values())


class EdgeList:
    """Undirected, simple edge list with vectorised insertion and deletion.

    Edges are stored with ``u < v``; ``age`` counts quarters since formation and ``trust``
    (0-1) grows with repeated contact; ``brokered`` marks ties formed through an introduction.
    """

    def __init__(self):
        self.u = np.empty(0, dtype=np.int64)
        self.v = np.empty(0, dtype=np.int64)
        self.age = np.empty(0, dtype=np.float64)
        self.trust = np.empty(0, dtype=np.float64)
        self.brokered = np.empty(0, dtype=bool)
        # sorted edge keys and, for each, the position of its edge (kept up to date by add and keep)
        self._keys_sorted: np.ndarray | None = None
        self._key_pos: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.u)

    @staticmethod
    def _key(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (u.astype(np.int64) << 32) | v.astype(np.int64)

    def keys(self) -> np.ndarray:
        """Keys ``u << 32 | v`` of all edges, sorted."""
        if self._keys_sorted is None:
            k = self._key(self.u, self.v)
            self._key_pos = np.argsort(k)
            self._keys_sorted = k[self._key_pos]
        return self._keys_sorted

    def has(self, u: np.ndarray, v: np.ndarray) -> np.ndarray:
        """Whether each (u, v) pair is an existing edge (order-insensitive)."""
        a, b = np.minimum(u, v), np.maximum(u, v)
        keys = self.keys()
        q = self._key(a, b)
        pos = np.searchsorted(keys, q)
        pos = np.minimum(pos, max(len(keys) - 1, 0))
        return (len(keys) > 0) & (keys[pos] == q) if len(keys) else np.zeros(len(q), bool)

    def add(self, u: np.ndarray, v: np.ndarray, brokered=False) -> int:
        """Add edges, dropping self-loops, duplicates within the batch and existing edges.

        ``brokered`` (a bool or one per pair) marks ties formed through an introduction.
        Returns the number of edges actually added.
        """
        u = np.asarray(u, dtype=np.int64)
        v = np.asarray(v, dtype=np.int64)
        br = np.broadcast_to(np.asarray(brokered, dtype=bool), u.shape)
        ok = u != v
        a, b, br = np.minimum(u[ok], v[ok]), np.maximum(u[ok], v[ok]), br[ok]
        if len(a) == 0:
            return 0
        q = self._key(a, b)
        q, first = np.unique(q, return_index=True)
        a, b, br = a[first], b[first], br[first]
        keys = self.keys()
        if len(keys):
            pos = np.minimum(np.searchsorted(keys, q), len(keys) - 1)
            new = keys[pos] != q
            a, b, q, br = a[new], b[new], q[new], br[new]
        if len(a) == 0:
            return 0
        at = np.searchsorted(keys, q)  # q is sorted: O(E) merge
        self._key_pos = np.insert(self._key_pos, at, np.arange(len(self.u), len(self.u) + len(a)))
        self._keys_sorted = np.insert(keys, at, q)
        self.u = np.concatenate([self.u, a])
        self.v = np.concatenate([self.v, b])
        self.age = np.concatenate([self.age, np.zeros(len(a))])
        self.trust = np.concatenate([self.trust, np.zeros(len(a))])
        self.brokered = np.concatenate([self.brokered, br])
        return len(a)

    def keep(self, mask: np.ndarray) -> int:
        """Keep only edges where ``mask`` is true; returns the number removed."""
        removed = int(len(mask) - mask.sum())
        if removed:
            self.u, self.v, self.age = self.u[mask], self.v[mask], self.age[mask]
            self.trust, self.brokered = self.trust[mask], self.brokered[mask]
            if self._keys_sorted is not None:  # filter the sorted keys instead of sorting again
                kept = mask[self._key_pos]
                new_pos = np.cumsum(mask) - 1
                self._keys_sorted = self._keys_sorted[kept]
                self._key_pos = new_pos[self._key_pos[kept]]
        return removed

    def renumber(self, new_index: np.ndarray) -> None:
        """Apply a monotone renumbering of node positions (after :meth:`Population.compact`)."""
        self.u = new_index[self.u]
        self.v = new_index[self.v]
        if (self.u < 0).any() or (self.v < 0).any():
            raise RuntimeError("renumbering dropped a node that still has ties")
        self._keys_sorted = self._key_pos = None

    def drop_nodes(self, alive: np.ndarray) -> int:
        """Remove every edge touching a node whose ``alive`` flag is false."""
        return self.keep(alive[self.u] & alive[self.v])

    def degree(self, n: int) -> np.ndarray:
        return np.bincount(self.u, minlength=n) + np.bincount(self.v, minlength=n)

    def csr(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Adjacency in compressed-row form: ``(indptr, indices)`` over ``n`` nodes."""
        src = np.concatenate([self.u, self.v])
        dst = np.concatenate([self.v, self.u])
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(src, minlength=n), out=indptr[1:])
        return indptr, dst[stable_argsort_ids(src, n)]


def adjacent(indptr: np.ndarray, indices: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Whether ``b[i]`` is a neighbour of ``a[i]``, read off compressed rows ``(indptr, indices)`` (:meth:`EdgeList.csr`).

    Scans each ``a[i]``'s row: the work is the sum of the ``a`` degrees, less than the binary
    searches of :meth:`EdgeList.has` when the rows are short (a tie budget keeps them short).
    """
    a = np.asarray(a, dtype=np.int64)
    lo = indptr[a]
    d = indptr[a + 1] - lo
    out = np.zeros(len(a), dtype=bool)
    total = int(d.sum())
    if total == 0:
        return out
    row = np.repeat(np.arange(len(a)), d)
    off = np.arange(total) - np.repeat(np.cumsum(d) - d, d)
    hit = indices[lo[row] + off] == np.asarray(b)[row]
    out[row[hit]] = True
    return out


def unique_inverse(keys: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` for integer keys in ``0..n-1``, sorted by :func:`stable_argsort_ids`."""
    o = stable_argsort_ids(keys, n)
    ks = keys[o]
    new = np.ones(len(ks), dtype=bool)
    new[1:] = ks[1:] != ks[:-1]
    inv = np.empty(len(ks), dtype=np.int64)
    inv[o] = np.cumsum(new) - 1
    return ks[new], inv


def stable_argsort_ids(ids: np.ndarray, n: int) -> np.ndarray:
    """``np.argsort(ids, kind="stable")`` for ids in ``0..n-1``: an LSD radix sort on 16-bit digits.

    numpy sorts integers of at most 16 bits with a radix sort (one pass per byte); wider ones
    with timsort, which is several times slower on long arrays.  The narrowest digit type that
    holds the ids is used: one byte when there are at most 256 ids (clusters), else two, and
    one byte for the high digit below 2**24.
    """
    if n <= 1 << 8:
        return np.argsort(ids.astype(np.uint8), kind="stable")
    if n <= 1 << 16:
        return np.argsort(ids.astype(np.uint16), kind="stable")
    if n > 1 << 32:
        return np.argsort(ids, kind="stable")
    o = np.argsort((ids & 0xFFFF).astype(np.uint16), kind="stable")
    high = np.uint8 if n <= 1 << 24 else np.uint16
    return o[np.argsort((ids[o] >> 16).astype(high), kind="stable")]
