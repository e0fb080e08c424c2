"""Sensitivity indices of sweep results (SALib): Sobol first-order / total, Morris mu* and sigma.

The analysis re-creates the design's unit sample from the spec (the sampler is
seeded), averages each KPI over a point's replicates and hands both to SALib.
Indices are in shares of output variance (Sobol) or in KPI units per full
range of the parameter (Morris, unit-hypercube scaling), so levers with
different units compare directly.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from simulation.experiments.designs import expected_points, salib, salib_problem, unit_sample
from simulation.experiments.spec import SweepError, SweepSpec

ID_COLUMNS = ("run_id", "point_id", "replicate", "seed", "status", "error", "elapsed_s")


def kpi_columns(runs: pd.DataFrame, spec: SweepSpec) -> list[str]:
    """The numeric KPI columns of a runs table (everything that is not an id, a parameter or bookkeeping)."""
    skip = set(ID_COLUMNS) | set(spec.parameters)
    return [c for c in runs.columns if c not in skip and pd.api.types.is_numeric_dtype(runs[c])]


def point_means(runs: pd.DataFrame, spec: SweepSpec, kpi: str) -> np.ndarray:
    """Mean of ``kpi`` over the successful replicates of every design point (NaN where none succeeded)."""
    if kpi not in runs.columns:
        raise SweepError(f"KPI {kpi!r} not in the results (known: {', '.join(kpi_columns(runs, spec))})")
    ok = runs[runs["status"] == "ok"]
    means = ok.groupby("point_id")[kpi].mean()
    return means.reindex(range(expected_points(spec))).to_numpy(dtype=float)


def check_complete(runs: pd.DataFrame, spec: SweepSpec) -> None:
    """Raise if some design point has no successful run (SALib needs every point of the design)."""
    have = runs.loc[runs["status"] == "ok", "point_id"].nunique()
    missing = expected_points(spec) - have
    if missing:
        raise SweepError(f"{spec.design} indices: {missing} design point(s) have no successful run (failed or not yet run; see the error column)")


def _usable(y: np.ndarray) -> bool:
    """True when a KPI has a value at every point and varies at all (else its indices are undefined)."""
    return bool(np.isfinite(y).all() and np.ptp(y) > 0)


def sobol_indices(runs: pd.DataFrame, spec: SweepSpec, kpi: str, conf_level: float = 0.95, num_resamples: int = 200) -> pd.DataFrame:
    """First-order (S1) and total (ST) Sobol indices of ``kpi`` with bootstrap confidence half-widths.

    Returns one row per parameter: parameter, S1, S1_conf, ST, ST_conf (all NaN for a KPI that never varies or is undefined somewhere).
    """
    if spec.design != "sobol":
        raise SweepError(f"Sobol indices need a sobol design (this sweep is '{spec.design}')")
    sobol = salib("analyze.sobol", "sobol")

    check_complete(runs, spec)
    y = point_means(runs, spec, kpi)
    frame = pd.DataFrame({"parameter": spec.names})
    if not _usable(y):
        return frame.assign(S1=np.nan, S1_conf=np.nan, ST=np.nan, ST_conf=np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = sobol.analyze(salib_problem(spec), y, calc_second_order=spec.second_order, num_resamples=num_resamples,
                               conf_level=conf_level, seed=spec.base_seed)
    return frame.assign(S1=result["S1"], S1_conf=result["S1_conf"], ST=result["ST"], ST_conf=result["ST_conf"])


def morris_indices(runs: pd.DataFrame, spec: SweepSpec, kpi: str, conf_level: float = 0.95, num_resamples: int = 200) -> pd.DataFrame:
    """Morris elementary-effect statistics of ``kpi``: mu, mu_star, sigma and mu_star_conf per parameter."""
    if spec.design != "morris":
        raise SweepError(f"Morris indices need a morris design (this sweep is '{spec.design}')")
    morris = salib("analyze.morris", "morris")

    check_complete(runs, spec)
    y = point_means(runs, spec, kpi)
    frame = pd.DataFrame({"parameter": spec.names})
    if not _usable(y):
        return frame.assign(mu=np.nan, mu_star=np.nan, sigma=np.nan, mu_star_conf=np.nan)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        result = morris.analyze(salib_problem(spec), unit_sample(spec), y, num_resamples=num_resamples, conf_level=conf_level,
                                num_levels=spec.morris_levels, seed=spec.base_seed)
    return frame.assign(mu=np.asarray(result["mu"], dtype=float), mu_star=np.asarray(result["mu_star"], dtype=float),
                        sigma=np.asarray(result["sigma"], dtype=float), mu_star_conf=np.asarray(result["mu_star_conf"], dtype=float))


def numeric_values(column: pd.Series) -> pd.Series:
    """A parameter column as floats (booleans as 0/1; non-numeric values become NaN)."""
    return column.astype(float) if column.dtype == bool else pd.to_numeric(column, errors="coerce")


def rank_correlations(runs: pd.DataFrame, spec: SweepSpec, kpis: list[str]) -> pd.DataFrame:
    """Spearman rank correlation of each numeric parameter with each KPI over successful runs (any design)."""
    ok = runs[runs["status"] == "ok"]
    rows = []
    for parameter in spec.names:
        x = numeric_values(ok[parameter])
        for kpi in kpis:
            pair = pd.concat([x, ok[kpi]], axis=1).dropna()
            varies = len(pair) > 2 and pair.iloc[:, 0].nunique() > 1 and pair.iloc[:, 1].nunique() > 1
            rho = pair.iloc[:, 0].rank().corr(pair.iloc[:, 1].rank()) if varies else np.nan
            rows.append({"kpi": kpi, "parameter": parameter, "spearman": rho})
    return pd.DataFrame(rows)


def indices_table(runs: pd.DataFrame, spec: SweepSpec, kpis: list[str]) -> pd.DataFrame:
    """The design's indices for many KPIs in one long table (column ``kpi`` first); empty for other designs."""
    compute = {"sobol": sobol_indices, "morris": morris_indices}.get(spec.design)
    if compute is None:
        return pd.DataFrame()
    return pd.concat([compute(runs, spec, kpi).assign(kpi=kpi) for kpi in kpis], ignore_index=True).pipe(
        lambda f: f[["kpi", *[c for c in f.columns if c != "kpi"]]])
