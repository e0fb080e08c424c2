"""Tech firms: Mesa agents whose numeric state lives in the columnar population.

A :class:`TechFirm` is a real Mesa agent (counted in ``model.agents_by_type``)
that stands for ``scale`` real firms. Its state (cash, stage, patents, ...)
is a row of :class:`simulation.population.FirmPopulation`; the properties here
read that row, so per-firm inspection and vectorised updates see the same
numbers. The quarter's behaviour is applied to all firms at once by the
model's phases (see ``docs/model.md``), not by per-agent ``step`` calls.
"""

from __future__ import annotations

from enum import IntEnum

import mesa


class Stage(IntEnum):
    """Lifecycle stage of a tech firm."""

    SEED = 0  # R&D, no revenue
    EARLY = 1  # prototype, first sales
    GROWTH = 2  # scaling production and market promotion
    MATURE = 3


class ExitKind(IntEnum):
    """How a firm left the population (NONE while alive)."""

    NONE = 0
    IPO = 1
    ACQUISITION = 2
    FAILURE = 3


class TechFirm(mesa.Agent):
    """An asset-light, high-growth, high-risk technology firm.

    Args:
        model: the :class:`~simulation.model.InnovationEconomy`.
        row: this firm's row in ``model.population``.
    """

    def __init__(self, model: mesa.Model, row: int):
        super().__init__(model)
        self.row = int(row)

    def _get(self, column: str):
        return self.model.population.column(column)[self.row]

    @property
    def region(self) -> str:
        return self.model.region_names[int(self._get("region"))]

    @property
    def stage(self) -> Stage:
        return Stage(int(self._get("stage")))

    @property
    def alive(self) -> bool:
        return bool(self._get("alive"))

    @property
    def exit_kind(self) -> ExitKind:
        return ExitKind(int(self._get("exit_kind")))

    @property
    def quality(self) -> float:
        """Latent technology quality (z-score); no financier observes it directly."""
        return float(self._get("quality"))

    @property
    def cash_rmb(self) -> float:
        """Cash per real firm (RMB)."""
        return float(self._get("cash"))

    @property
    def debt_rmb(self) -> float:
        """Outstanding bank debt per real firm (RMB)."""
        return float(self._get("debt"))

    @property
    def revenue_rmb(self) -> float:
        """Revenue of the last quarter per real firm (RMB)."""
        return float(self._get("revenue"))

    @property
    def patents(self) -> float:
        return float(self._get("patents"))

    @property
    def age_quarters(self) -> int:
        return int(self.model.quarter_index - self._get("born_q"))

    def history(self):
        """This firm's financing and exit events (a DataFrame)."""
        events = self.model.events_table()
        return events[events["firm_id"] == self.row].reset_index(drop=True)
