"""Quarterly accumulators, the event log, and the tables a run reports.

Counts and money are accumulated per region in real-world units (agent values
× ``scale``) while the quarter's phases run, then turned into rows of the
``timeseries`` and ``channels`` tables (one row per quarter and region plus
region ``ALL``, whose counts and amounts are the regions' sums).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import pandas as pd

from simulation.markets.credit import CHANNELS

if TYPE_CHECKING:
    from simulation.model import InnovationEconomy

ALL_CHANNELS = (*CHANNELS, "vc_equity", "guidance_fund_equity", "rd_subsidy")
EVENT_KINDS = ("loan", "round", "claim", "default", "exit_ipo", "exit_ma", "failure", "subsidy")


class QuarterTable:
    """Rows collected quarter by quarter, kept as column chunks; the DataFrame is built when asked for.

    Each :meth:`append` adds one chunk of rows: a sequence (list or array) per
    column. Keeping chunks instead of one dict per row keeps the per-quarter cost
    and memory of collection low; :meth:`frame` concatenates the chunks.

    Args:
        columns: the column names, in table order.
    """

    def __init__(self, columns: Sequence[str]):
        self.columns = tuple(columns)
        self._chunks: list[tuple[Sequence[Any], ...]] = []
        self.rows = 0

    def append(self, *values: Sequence[Any]) -> None:
        """Add a chunk of rows: one sequence per column (all of one length)."""
        count = len(values[0])
        if count:
            self._chunks.append(values)
            self.rows += count

    def append_lazy(self, count: int, build: Callable[[], tuple[Sequence[Any], ...]]) -> None:
        """Add a chunk of ``count`` rows whose columns ``build()`` returns when the frame is built."""
        if count:
            self._chunks.append(build)
            self.rows += count

    def frame(self) -> pd.DataFrame:
        """All rows so far as a DataFrame (an empty frame without columns before the first row)."""
        if not self.rows:
            return pd.DataFrame()
        chunks = [chunk() if callable(chunk) else chunk for chunk in self._chunks]
        data = {}
        for j, name in enumerate(self.columns):
            parts = [chunk[j] for chunk in chunks]
            if all(isinstance(part, np.ndarray) for part in parts):
                data[name] = np.concatenate(parts)
            else:
                data[name] = [value for part in parts for value in (part.tolist() if isinstance(part, np.ndarray) else part)]
        return pd.DataFrame(data)


class QuarterAccumulator:
    """Per-region sums for the current quarter (real-world units)."""

    def __init__(self, model: InnovationEconomy):
        self.model = model
        self.n_regions = len(model.region_names)
        self.values: dict[str, np.ndarray] = defaultdict(lambda: np.zeros(self.n_regions))
        self.channel_new = np.zeros((len(ALL_CHANNELS), self.n_regions))
        self.channel_deals = np.zeros((len(ALL_CHANNELS), self.n_regions))
        self._rows: np.ndarray | None = None
        self._rows_region = np.zeros(0, dtype=np.intp)

    def reset(self) -> None:
        self._rows = None
        self.values.clear()
        self.channel_new[:] = 0.0
        self.channel_deals[:] = 0.0

    def _regions(self, rows: np.ndarray) -> np.ndarray:
        """Regions of ``rows`` (as intp), remembered for the last array asked about (the phases pass the same rows often)."""
        if rows is not self._rows:
            self._rows = rows
            self._rows_region = self.model.population.column("region")[rows].astype(np.intp)
        return self._rows_region

    def _by_region(self, rows: np.ndarray, weights) -> np.ndarray:
        region = self._regions(rows)
        if np.ndim(weights) == 0:
            if weights == 1.0:  # a count: summing ones is exact, so the plain count is the same number
                return np.bincount(region, minlength=self.n_regions).astype(float)
            weights = np.full(region.shape, weights, dtype=float)
        return np.bincount(region, weights=weights, minlength=self.n_regions)

    def add(self, name: str, rows: np.ndarray, per_agent) -> None:
        """Add a count (per agent, × scale) by the agents' regions."""
        if len(rows):
            self.values[name] += self._by_region(rows, per_agent) * self.model.scale

    add_money = add  # money per real firm × scale: the same arithmetic, named for readability

    def add_channel(self, channel_index: np.ndarray, rows: np.ndarray, amount: np.ndarray) -> None:
        region = self.model.population.column("region")[rows]
        scale = self.model.scale
        cell = np.asarray(channel_index, dtype=np.intp) * self.n_regions + region
        new, deals = self.channel_new.reshape(-1), self.channel_deals.reshape(-1)
        if new[cell].any() or deals[cell].any():
            np.add.at(new, cell, amount * scale)
            np.add.at(deals, cell, scale)
        else:  # cells still empty this quarter: a bincount adds in the same order as np.add.at would
            new += np.bincount(cell, weights=amount * scale, minlength=len(new))
            deals += np.bincount(cell, weights=np.full(len(cell), scale), minlength=len(deals))

    def add_channel_name(self, channel: str, rows: np.ndarray, amount: np.ndarray) -> None:
        self.add_channel(np.full(len(rows), ALL_CHANNELS.index(channel)), rows, amount)

    def add_age_exits(self, rows: np.ndarray) -> None:
        self.model.exit_age_counts += np.bincount(
            np.minimum(self.model.population.age_years(rows, self.model.quarter_index), 15), minlength=16
        ) * self.model.scale


class EventLog(QuarterTable):
    """One row per loan, round, claim, default, exit and subsidy (amounts: RMB for all firms represented).

    Each :meth:`log` call adds its rows as one chunk (see :class:`QuarterTable`), so
    logging costs a copy of the new rows only, never a regrowth of all logged so far.
    """

    DTYPES: ClassVar[dict[str, type]] = {"quarter": np.int32, "kind": np.int8, "firm_id": np.int64, "region": np.int16,
                                         "amount_rmb": np.float64, "counterparty": np.int32, "detail": np.int16}

    def __init__(self):
        super().__init__(self.DTYPES)

    def log(self, model: InnovationEconomy, kind: str, firms: np.ndarray, per_firm_amount: np.ndarray,
            counterparty: np.ndarray, detail: np.ndarray) -> None:
        """Record one event per firm in ``firms`` (``per_firm_amount``: RMB per real firm)."""
        n = len(firms)
        values = (np.full(n, model.quarter_index), np.full(n, EVENT_KINDS.index(kind)), firms,
                  model.population.column("region")[firms], np.asarray(per_firm_amount) * model.scale, counterparty, detail)
        # copies in the log's own types (the callers' arrays may be views that change later)
        self.append(*(np.array(value, dtype=dtype) for value, dtype in zip(values, self.DTYPES.values())))
