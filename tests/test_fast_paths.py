"""The model's fast paths give the same results as the plain ones they replace."""

from __future__ import annotations

import gc

import mesa
import numpy as np
import pandas as pd
import pytest

from simulation import InnovationEconomy
from simulation.agents import TechFirm, firm
from simulation.agents.venture import irr_annual_each, irr_many, irr_quarterly_to_annual
from simulation.ledger import Ledger
from simulation.metrics import QuarterTable
from simulation.model import cyclic_gc_paused


def _registry(model: mesa.Model) -> tuple:
    firms = model.agents_by_type[TechFirm]
    return (len(model.agents), len(firms), sorted(a.unique_id for a in firms), sorted(a.row for a in firms),
            all(a in model.agents for a in firms))


@pytest.mark.parametrize("bulk", [True, False])
def test_bulk_agent_registration_matches_one_by_one(bulk, monkeypatch):
    if not bulk:
        monkeypatch.setattr(firm, "_bulk_registry", lambda model, cls: False)
    model = InnovationEconomy("baseline", rng=3, overrides={"run.scale": 2000.0})
    before = len(model.agents_by_type[TechFirm])
    last_id = max(a.unique_id for a in model.agents)
    rows = np.arange(model.population.n, model.population.n + 50)
    model.create_firm_agents(rows)
    firms = model.agents_by_type[TechFirm]
    assert len(firms) == before + 50
    new = [model.firm_agent(r) for r in rows]
    assert [a.unique_id for a in new] == list(range(last_id + 1, last_id + 51))
    assert all(isinstance(a, TechFirm) and a.model is model and a.pos is None and a in firms for a in new)
    new[0].remove()  # removed by hand first: bulk removal skips it like ``agent.remove()`` would
    model.remove_firm_agents(rows)
    assert len(model.agents_by_type[TechFirm]) == before
    assert model.firm_agent(int(rows[0])) is None and new[1] not in model.agents


def test_bulk_and_plain_registration_give_identical_runs(monkeypatch):
    fast = InnovationEconomy("baseline", rng=5, overrides={"run.scale": 2000.0}).run(3)
    monkeypatch.setattr(firm, "_bulk_registry", lambda model, cls: False)
    plain = InnovationEconomy("baseline", rng=5, overrides={"run.scale": 2000.0}).run(3)
    assert _registry(fast) == _registry(plain)
    pd.testing.assert_frame_equal(fast.timeseries(), plain.timeseries())


def test_quarter_table_builds_the_frame_of_its_chunks():
    table = QuarterTable(("quarter", "name", "value", "count"))
    assert table.frame().empty and list(table.frame().columns) == []
    table.append(["2026Q1"] * 2, ["a", "b"], np.array([1.0, 2.0]), [1, 2])
    table.append([], [], np.zeros(0), [])  # an empty chunk adds nothing
    table.append(["2026Q2"], ["a"], np.array([3.5]), [4])
    frame = table.frame()
    expected = pd.DataFrame([{"quarter": "2026Q1", "name": "a", "value": 1.0, "count": 1},
                             {"quarter": "2026Q1", "name": "b", "value": 2.0, "count": 2},
                             {"quarter": "2026Q2", "name": "a", "value": 3.5, "count": 4}])
    pd.testing.assert_frame_equal(frame, expected)


def test_irr_of_many_series_equals_each_series_alone():
    rng = np.random.default_rng(0)
    lengths = [3, 7, 7, 12, 0, 3, *rng.integers(0, 150, 40).tolist()]
    series = [[-100.0, *(rng.normal(5.0, 20.0, n) * 10 ** rng.uniform(-3, 3, n)).tolist(), 150.0] for n in lengths]
    series += [[-5.0], [1.0, 2.0], []]
    each = irr_annual_each(series)
    alone = [irr_quarterly_to_annual(s) for s in series]
    assert len(each) == len(series)
    for got, want in zip(each, alone):
        assert (np.isnan(got) and np.isnan(want)) or got == want
    padded = irr_many(series)  # one batch padded to the longest series, like the funds table
    longest = max(len(s) for s in series)
    for got, flows in zip(padded.tolist(), series):
        want = irr_quarterly_to_annual([*flows, *[0.0] * (longest - len(flows))])
        assert (np.isnan(got) and np.isnan(want)) or got == want


def test_cyclic_gc_pause_restores_the_collector_state():
    assert gc.isenabled()
    model = InnovationEconomy("baseline", rng=2, overrides={"run.scale": 2000.0})
    model.run(2, progress=lambda done, total: None)
    model.step()
    assert gc.isenabled()  # a run or a step leaves the collector as it found it
    with cyclic_gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError), cyclic_gc_paused():
        raise RuntimeError("boom")
    assert gc.isenabled()
    gc.disable()
    try:
        with cyclic_gc_paused():
            pass
        assert not gc.isenabled()  # a collector switched off by the caller stays off
    finally:
        gc.enable()


def test_remove_all_agents_removes_firms_and_institutions():
    model = InnovationEconomy("baseline", rng=4, overrides={"run.scale": 2000.0}).run(2)
    assert len(model.agents_by_type[TechFirm]) > 0
    model.remove_all_agents()
    assert len(model.agents) == 0
    assert all(len(agent_set) == 0 for agent_set in model.agents_by_type.values())
    assert model.firm_agent(0) is None


def test_round_trips_post_like_transfers_one_by_one():
    rng = np.random.default_rng(7)
    amounts = (rng.lognormal(15, 3, 40) * (rng.random(40) < 0.9)).tolist()  # some zero fees are skipped

    def ledger_with_funds():
        book = Ledger(lambda: np.zeros(3), 10.0)
        households = book.open("Households", "households")
        funds = [book.open(f"fund {i}", "venture_funds") for i in range(40)]
        book.transfer(households, funds[3], 12345.678, "seed_money")
        return book, households, funds

    one_by_one, households, funds = ledger_with_funds()
    for account, amount in zip(funds, amounts):
        one_by_one.transfer(households, account, amount, "capital_call_private")
        one_by_one.transfer(account, households, amount, "management_fee")
    batched, _, _ = ledger_with_funds()
    batched.round_trips(households, funds, amounts, "capital_call_private", "management_fee")
    assert batched.balance.tolist() == one_by_one.balance.tolist()
    assert dict(batched.flows.by_kind) == dict(one_by_one.flows.by_kind)
    assert dict(batched.flows.by_pair) == dict(one_by_one.flows.by_pair)
    assert (batched.gross_total, batched.transactions) == (one_by_one.gross_total, one_by_one.transactions)
    with pytest.raises(ValueError, match="non-finite"):
        batched.round_trips(households, funds[:2], [1.0, float("nan")], "capital_call_private", "management_fee")


def _fill_one_group(wanted: np.ndarray, budget: float, min_share: float = 0.25) -> np.ndarray:
    """The plain rule for one group: requests in order until the budget runs out."""
    if budget <= 0.0:
        return np.zeros(len(wanted))
    start = np.cumsum(wanted) - wanted
    granted = np.minimum(np.maximum(budget - start, 0.0), wanted)
    granted[(granted < min_share * wanted) | (wanted <= 0)] = 0.0
    return granted


def test_grouped_vc_matching_equals_matching_group_by_group():
    """All region x round groups at once give, bit for bit, what each group alone would."""
    from simulation.markets.equity import _FundPool, _Groups

    rng = np.random.default_rng(11)
    for _ in range(30):
        keys = np.sort(rng.choice(12, size=int(rng.integers(1, 8)), replace=False))
        counts = rng.integers(1, 60, size=len(keys))
        starts = np.cumsum(counts) - counts
        groups = _Groups(keys, starts, counts)
        wanted = rng.lognormal(14, 1, size=int(counts.sum())) * (rng.random(int(counts.sum())) < 0.8)
        budget = rng.lognormal(16, 1, size=len(keys)) * (rng.random(len(keys)) < 0.9)
        pools = []
        for _g in keys:
            n_funds = int(rng.integers(1, 12))
            pools.append(_FundPool(rng.permutation(20)[:n_funds], rng.lognormal(17, 1, size=(n_funds, 4)), scale=275.0))
        granted = groups.fill(wanted, budget)
        hit = np.flatnonzero(granted > 0)
        owners = groups.owners(pools, granted, hit)
        sums = groups.sums(granted)
        for g, (start, count) in enumerate(zip(starts, counts)):
            piece = slice(start, start + count)
            expected = _fill_one_group(wanted[piece], budget[g])
            assert np.array_equal(granted[piece], expected)
            assert sums[g] == expected.sum()
            mine = hit[(hit >= start) & (hit < start + count)]
            part = granted[mine]
            edges = np.cumsum(pools[g].room[:, keys[g] % 4])
            position = np.cumsum(part) - 0.5 * part
            expected_owner = np.minimum(np.searchsorted(edges, position, side="right"), len(edges) - 1)
            assert np.array_equal(owners[np.isin(hit, mine)], pools[g].index[expected_owner])


def _draw_ahead_ready(streams, names, n):
    """Streams with a first-use plan for ``names`` (uniform draws of ``n``) and a quarter started ahead."""
    for name in names:
        streams.rows(name, "uniform", n)
    streams.begin_quarter(n)
    streams.new_quarter(n)


@pytest.mark.parametrize("then", ["other kind", "other size", "direct use", "unused"])
def test_a_draw_made_ahead_but_not_asked_for_is_undone(then):
    from simulation.draws import Streams

    n = 30_000
    ahead, plain = Streams({"x": 1, "y": 2}), Streams({"x": 1, "y": 2})
    plain.rows("x", "uniform", n), plain.rows("y", "uniform", n)
    with ahead.ahead():
        _draw_ahead_ready(ahead, ["x", "y"], n)
        assert set(ahead._pending) == {"x", "y"}
        if then == "other kind":
            assert np.array_equal(ahead.rows("x", "normal", n), plain.rows("x", "normal", n))
        elif then == "other size":
            assert np.array_equal(ahead.rows("x", "uniform", n + 1), plain.rows("x", "uniform", n + 1))
        elif then == "direct use":
            assert np.array_equal(ahead["x"].poisson(2.0, 7), plain["x"].poisson(2.0, 7))
        assert np.array_equal(ahead.rows("y", "uniform", n), plain.rows("y", "uniform", n))  # made ahead and used
    assert not ahead._pending
    for name in ("x", "y"):  # after the block both streams continue exactly where the plain ones do
        assert np.array_equal(ahead.rows(name, "uniform", 5), plain.rows(name, "uniform", 5))


def test_drawing_ahead_gives_the_same_run_bit_for_bit(monkeypatch):
    """A run with its population draws made on a second thread equals the run without."""
    import threading

    from simulation import draws

    made_ahead = []
    draw = draws.Streams._draw

    def spy(self, name, request):
        if threading.current_thread().name.startswith("innofin-draws"):
            made_ahead.append(name)
        return draw(self, name, request)

    monkeypatch.setattr(draws.Streams, "_draw", spy)
    overrides = {"run.scale": 20.0, "banks.renewal_without_repayment": True}
    ahead = InnovationEconomy("baseline", rng=5, overrides=overrides).run(3)
    assert ahead.population.n >= draws.DRAW_AHEAD_MIN_ROWS and len(made_ahead) >= 20
    monkeypatch.setattr(draws, "DRAW_AHEAD_MIN_ROWS", 10**12)
    plain = InnovationEconomy("baseline", rng=5, overrides=overrides).run(3)
    ahead.step(), plain.step()  # a step outside run(): the streams were left where the plain run's are
    for table in ("timeseries", "events_table", "funds_table"):
        pd.testing.assert_frame_equal(getattr(ahead, table)(), getattr(plain, table)())
    assert np.array_equal(ahead.population.column("cash"), plain.population.column("cash"))


@pytest.mark.parametrize("kind, args", [("uniform", ()), ("normal", ()), ("student_t", (3.0,))])
def test_a_draw_in_two_parts_is_the_draw_made_at_once(kind, args):
    """What drawing ahead in two parts relies on: numpy makes each value from the ones before it only."""
    from simulation.draws import Streams

    whole, parts = Streams({"x": 11}), Streams({"x": 11})
    first = parts.rows("x", kind, 1_000, *args)
    rest = parts.rows("x", kind, 234, *args)
    assert np.array_equal(whole.rows("x", kind, 1_234, *args), np.concatenate([first, rest]))


@pytest.mark.parametrize("first_part", ["made", "still queued"])
def test_a_quarter_drawn_ahead_in_two_parts_equals_the_plain_draws(first_part):
    import threading

    from simulation.draws import Streams

    seeds = {"u": 1, "n": 2, "t": 3}
    requests = {"u": ("uniform",), "n": ("normal",), "t": ("student_t", 3.0)}
    n_before, n_after = 30_000, 31_500
    ahead, plain = Streams(seeds), Streams(seeds)
    for streams in (ahead, plain):  # a previous quarter, which sets the plan
        for name, (kind, *args) in requests.items():
            streams.rows(name, kind, 25_000, *args)
    release = threading.Event()
    with ahead.ahead():
        if first_part == "still queued":
            ahead._executor.submit(release.wait)  # the worker is busy until the entrants are added
        ahead.begin_quarter(n_before)
        if first_part == "made":
            for _, parts, _ in ahead._pending.values():
                parts[0].result()
        ahead.new_quarter(n_after)
        release.set()
        parts_per_stream = {name: len(parts) for name, (_, parts, _) in ahead._pending.items()}
        for name, (kind, *args) in requests.items():
            assert np.array_equal(ahead.rows(name, kind, n_after, *args), plain.rows(name, kind, n_after, *args))
    assert parts_per_stream == {name: 2 if first_part == "made" else 1 for name in requests}
    for name in seeds:  # both continue alike afterwards
        assert np.array_equal(ahead.rows(name, "uniform", 5), plain.rows(name, "uniform", 5))


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("group_range", [3, 40_000])
def test_rank_orders_equal_the_stable_sorts_they_replace(ties, group_range):
    from simulation.groups import best_first_within_groups, stable_argsort

    rng = np.random.default_rng(8)
    score = rng.normal(size=5_000)
    if ties:
        score = np.round(score, 1)  # many equal scores
    group = rng.integers(0, group_range, 5_000)
    assert np.array_equal(stable_argsort(score), np.argsort(score, kind="stable"))
    assert np.array_equal(best_first_within_groups(group, score), np.lexsort((-score, group)))


def test_drawing_ahead_shortens_the_thread_switch_interval_and_restores_it():
    import sys

    from simulation.draws import SWITCH_INTERVAL_S, Streams

    before = sys.getswitchinterval()
    streams = Streams({"x": 1})
    with streams.ahead():
        assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL_S))
        with streams.ahead():  # nested: unchanged
            assert sys.getswitchinterval() == pytest.approx(min(before, SWITCH_INTERVAL_S))
    assert sys.getswitchinterval() == before
