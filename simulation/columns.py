"""Growable columnar storage: named numpy arrays that share one row count.

Used for the firm population, the loan book, equity stakes and the event log,
so that quarterly phases are vectorised over rows instead of looping agents.
"""

from __future__ import annotations

import numpy as np


class Columns:
    """A set of equally long numpy columns with amortised O(1) append.

    Args:
        dtypes: column name -> numpy dtype.
        capacity: initial number of rows allocated.
    """

    def __init__(self, dtypes: dict[str, np.dtype | type], capacity: int = 1024):
        self._dtypes = {name: np.dtype(dtype) for name, dtype in dtypes.items()}
        self._capacity = max(int(capacity), 16)
        self._data = {name: np.zeros(self._capacity, dtype=dt) for name, dt in self._dtypes.items()}
        self.n = 0

    def __len__(self) -> int:
        return self.n

    def __getattr__(self, name: str) -> np.ndarray:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name][: self.n]
        raise AttributeError(name)

    def column(self, name: str) -> np.ndarray:
        """A view of the live rows of one column (writes go through)."""
        return self._data[name][: self.n]

    @property
    def names(self) -> list[str]:
        return list(self._dtypes)

    def append(self, count: int, **values: np.ndarray | float) -> np.ndarray:
        """Append ``count`` rows; unspecified columns are zero. Returns the new row indices."""
        if count <= 0:
            return np.empty(0, dtype=np.int64)
        needed = self.n + count
        if needed > self._capacity:
            new_capacity = max(needed, int(self._capacity * 1.6))
            for name, array in self._data.items():
                grown = np.zeros(new_capacity, dtype=array.dtype)
                grown[: self.n] = array[: self.n]
                self._data[name] = grown
            self._capacity = new_capacity
        rows = np.arange(self.n, needed)
        for name, value in values.items():
            self._data[name][self.n : needed] = value
        self.n = needed
        return rows

    def keep(self, mask: np.ndarray) -> None:
        """Drop the rows where ``mask`` is False (compaction; row indices change)."""
        keep = np.flatnonzero(mask)
        for array in self._data.values():
            array[: len(keep)] = array[keep]
        self.n = len(keep)

    def to_dict(self) -> dict[str, np.ndarray]:
        """Copies of all live columns."""
        return {name: self._data[name][: self.n].copy() for name in self._dtypes}
