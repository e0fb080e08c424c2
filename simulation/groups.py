"""Rank orders, and running sums within groups of rows sorted by group (e.g. applicants by region, best first).

Budgets are handed out group by group in rank order (subsidies per region, venture
rounds per region and round type). Each group's running sum is taken along one row
of a (groups × largest group) matrix, so it adds exactly the group's own values in
order, as a separate ``np.cumsum`` per group would, without a Python loop.
"""

from __future__ import annotations

import numpy as np


class SortedGroups:
    """Rows sorted by a group key, each group contiguous.

    Args:
        keys: the distinct group keys, in order.
        starts: index of each group's first row.
        counts: rows in each group.
    """

    def __init__(self, keys: np.ndarray, starts: np.ndarray, counts: np.ndarray):
        self.keys, self.starts, self.counts = keys, starts, counts
        self.of_item = np.repeat(np.arange(len(keys)), counts)  # group number of each row
        self.local = np.arange(int(counts.sum())) - starts[self.of_item]  # position within the group
        self.shape = (len(keys), int(counts.max()) if len(counts) else 0)

    @classmethod
    def of_sorted(cls, sorted_keys: np.ndarray) -> SortedGroups:
        """The groups of an already sorted key array."""
        keys, starts, counts = np.unique(sorted_keys, return_index=True, return_counts=True)
        return cls(keys, starts, counts)

    def cumsum(self, values: np.ndarray) -> np.ndarray:
        """Running sum of ``values`` (one per row) within each group."""
        matrix = np.zeros(self.shape)
        matrix[self.of_item, self.local] = values
        return np.cumsum(matrix, axis=1)[self.of_item, self.local]

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Total of ``values`` in each group (each summed as ``values[group].sum()`` would)."""
        return np.array([values[start : start + count].sum() for start, count in zip(self.starts.tolist(), self.counts.tolist())])


def stable_argsort(values: np.ndarray) -> np.ndarray:
    """Indices that sort ``values``, ties in index order: ``np.argsort(values, kind="stable")``.

    Continuous draws and signals all but never tie, and then a plain sort, which is
    faster, gives the same order; ties are checked for, and sorted stably if found.
    """
    order = np.argsort(values)
    ranked = values[order]
    if np.any(ranked[1:] == ranked[:-1]):
        return np.argsort(values, kind="stable")
    return order


def best_first_within_groups(group: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Indices that order rows by ``group`` (ascending) and, within a group, by ``score``, highest first,
    ties in index order: the order of ``np.lexsort((-score, group))``, found faster.

    Sorting by score and then stably by group (:func:`group_order`) gives that order.
    """
    by_score = stable_argsort(-score)
    return by_score[group_order(group[by_score])]


def group_order(group: np.ndarray) -> np.ndarray:
    """Indices that sort group numbers ``group`` stably (rows of one group keep their order).

    Group numbers below 2**15 are sorted as 16-bit integers, which numpy sorts stably by radix sort.
    """
    if len(group) and 0 <= group.min() and group.max() < 2**15:
        group = group.astype(np.int16)
    return np.argsort(group, kind="stable")
