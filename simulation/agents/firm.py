"""Tech firms: Mesa agents whose numeric state lives in the columnar population.

A :class:`TechFirm` is a real Mesa agent (counted in ``model.agents_by_type``)
that stands for ``scale`` real firms. Its state (cash, stage, patents, ...)
is a row of :class:`simulation.population.FirmPopulation`; the properties here
read that row, so per-firm inspection and vectorised updates see the same
numbers. The quarter's behaviour is applied to all firms at once by the
model's phases (see ``docs/model.md``), not by per-agent ``step`` calls.
"""

from __future__ import annotations

import itertools
import weakref
from collections import deque
from collections.abc import Iterable
from enum import IntEnum

import mesa
from mesa.agent import AgentSet


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

    @classmethod
    def create_many(cls, model: mesa.Model, rows: Iterable[int]) -> list[TechFirm]:
        """Agents for many population rows at once, registered with the model as ``TechFirm(model, row)`` would.

        Entry creates thousands of firms a quarter. Where the model keeps one of Mesa 3's
        known agent registries (see :func:`_bulk_registry`) the agents are registered in
        bulk; otherwise one by one through Mesa.
        """
        if not isinstance(rows, list):
            rows = [int(row) for row in rows]
        if not rows:
            return []
        first = cls(model, rows[0])  # the regular way; its attributes show what Mesa's constructor sets
        registry = _bulk_registry(model, cls)
        if set(vars(first)) != _FIRM_ATTRIBUTES or not registry:
            return [first, *(cls(model, row) for row in rows[1:])]
        ids = mesa.Agent._ids[model] if registry == "weak" else itertools.count(model.agent_id_counter)
        new = object.__new__
        agents = [first]
        append = agents.append
        for row in itertools.islice(rows, 1, None):
            agent = new(cls)
            agent.model = model  # plain attribute sets keep the compact shared-key instance layout
            agent.unique_id = next(ids)
            agent.pos = None
            agent.row = row
            append(agent)
        added = agents[1:]  # ``first`` registered itself
        if registry == "hard":
            model.agent_id_counter = next(ids)
            for agent_set in (model._all_agents, model._agents_by_type[cls]):
                agent_set._agents.update(dict.fromkeys(added))
            return agents
        model._agents.update(dict.fromkeys(added))
        for agent_set in (model._agents_by_type[cls], model._all_agents):
            weak = agent_set._agents
            weak.data.update(dict.fromkeys(map(weakref.ref, added, itertools.repeat(weak._remove))))
        return agents

    @classmethod
    def remove_many(cls, model: mesa.Model, agents: list[TechFirm]) -> None:
        """Remove agents from the model, as ``agent.remove()`` for each would."""
        registry = _bulk_registry(model, cls)
        if not registry:
            for agent in agents:
                agent.remove()
            return
        if registry == "hard":
            registered = model._all_agents._agents
            agents = [agent for agent in agents if agent in registered]  # ``agent.remove()`` ignores unregistered agents too
            for agent_set in (model._all_agents, model._agents_by_type[cls]):
                deque(map(agent_set._agents.__delitem__, agents), maxlen=0)
            return
        registered = model._agents
        agents = [agent for agent in agents if agent in registered]
        deque(map(registered.__delitem__, agents), maxlen=0)
        for agent_set in (model._agents_by_type[cls], model._all_agents):
            registry = agent_set._agents
            registry._dirty_len = True
            deque(map(registry.data.__delitem__, map(weakref.ref, agents)), maxlen=0)

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


def _bulk_registry(model: mesa.Model, cls: type) -> str | None:
    """Which of Mesa 3's agent registries ``model`` keeps, where bulk registration may fill it directly.

    ``"weak"``: Mesa 3.3's dict of agents and weak-keyed :class:`~mesa.agent.AgentSet` s, with ids
    from ``Agent._ids``. ``"hard"``: later Mesa 3's strong-keyed agent sets and ``agent_id_counter``,
    when nothing listens to the model's agent signals and the class is in no data registry (so
    skipping the per-agent signal changes nothing). None: register one by one through Mesa.
    """
    by_type = getattr(model, "_agents_by_type", None)
    all_agents = getattr(model, "_all_agents", None)
    if not isinstance(by_type, dict) or by_type.get(cls) is None or all_agents is None:
        return None
    sets = (by_type[cls], all_agents)
    if (type(getattr(model, "_agents", None)) is dict and isinstance(by_type[cls], AgentSet) and isinstance(all_agents, AgentSet)
            and all(isinstance(getattr(s, "_agents", None), weakref.WeakKeyDictionary) for s in sets)
            and isinstance(getattr(mesa.Agent, "_ids", None), dict)):
        return "weak"
    if (isinstance(getattr(model, "agent_id_counter", None), int) and all(type(getattr(s, "_agents", None)) is dict for s in sets)
            and not getattr(cls, "_datasets", None) and _nobody_listens(model)):
        return "hard"
    return None


def _nobody_listens(model: mesa.Model) -> bool:
    """True when no subscriber or batch would see the signals of agent registration and removal."""
    if getattr(model, "_suppress", False):
        return True
    if getattr(model, "_batch_context", None) is not None:
        return False
    has_subscribers = getattr(model, "_has_subscribers", None)
    for method in ("register_agent", "deregister_agent"):
        emitter = getattr(getattr(type(model), method, None), "_mesa_signal_emitter", None)
        if emitter is not None and (has_subscribers is None or has_subscribers(*emitter)):
            return False
    return True


_FIRM_ATTRIBUTES = {"model", "unique_id", "pos", "row"}
