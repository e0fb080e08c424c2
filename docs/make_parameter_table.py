"""Write ``docs/parameters.md``: every scenario parameter with its default, unit, bounds and source.

The table is generated from the pydantic schema (``simulation/scenario/schema.py``),
so it follows the model as it is calibrated. Regenerate it after any change to
the schema::

    python docs/make_parameter_table.py            # writes docs/parameters.md
    python docs/make_parameter_table.py --check    # exit 1 if docs/parameters.md is out of date
                                                   # or docs/model.md names a parameter the schema lacks
"""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from simulation.scenario.schema import BankSpec, RegionProfile, Scenario

OUTPUT = Path(__file__).resolve().parent / "parameters.md"
MODEL_DOC = Path(__file__).resolve().parent / "model.md"
DOTTED_RE = re.compile(r"`([a-z_]+(?:\.[a-z_]+)+)(?:\[[a-z]\])?`")
SECTION_RE = re.compile(r"§\s?\d+(?:\.\d+)?")
# a grade letter stands after "(", ", ", "; " or "from " and before ":", ";", ",", ")", "/", " from", " assumption" or the end
GRADE_RE = re.compile(r"(?:(?<=\()|(?<=, )|(?<=; )|(?<=from ))(A/B|A/C|B/C|A|B|C|D)(?=[:;,)/]| from| assumption|$)")
STAGES = "seed, early, growth, mature"

# Units that the field name alone does not make clear (dotted key without section -> unit).
UNITS: dict[str, str] = {
    "run.start_quarter": "quarter label YYYYQn",
    "run.quarters": "quarters",
    "run.scale": "real firms per firm agent",
    "firms.population_real": "real firms",
    "firms.entry_rate_annual": "1/year (share of initial population)",
    "firms.initial_stage_shares": f"shares ({STAGES})",
    "firms.quality_sigma": "sd of z-score",
    "firms.rd_to_revenue": "share of revenue",
    "firms.revenue_sigma": "log-sd",
    "firms.growth_shock_df": "degrees of freedom",
    "firms.stage_up_quarterly": "probability per quarter (seed→early, early→growth, growth→mature)",
    "firms.patent_rate_quarterly": "patents per firm-quarter",
    "firms.hazard_by_age_annual": "probability per year, age years 1..8+",
    "firms.hazard_multiplier": "multiplier",
    "firms.hazard_quality_beta": "log-hazard per unit quality",
    "firms.distress_hazard_factor": "multiplier",
    "firms.runway_quarters": "quarters",
    "firms.funding_need_quarters": "quarters",
    "firms.max_loan_rate_by_stage": f"annual rate ({STAGES})",
    "firms.working_capital_demand_quarterly": "probability per quarter",
    "firms.working_capital_quarters": "quarters of revenue",
    "firms.anchor_share_of_mature": "share",
    "banks.pd_prior_annual": f"annual PD ({STAGES})",
    "banks.loan_term_quarters": "quarters",
    "banks.capital_ratio_min": "capital / exposure",
    "banks.capital_ratio_initial": "capital / loans",
    "credit.screening_noise": "sd of quality signal (z-score units)",
    "ip.protection": "index 0-1",
    "ip.patent_insurance_claim_rate_quarterly": "claims per insured patent per quarter",
    "insurance.take_up_subsidy_elasticity": "multiplier per unit subsidy",
    "relending.subsidy_quarters": "quarters",
    "relending.quantity_push": "threshold loosening per unit unused quota share",
    "relending.interest_subsidy_pp": "annual rate (percentage points as a fraction)",
    "vc.funds_per_region": "fund agents",
    "vc.fund_life_years": "years",
    "vc.pre_money_multiple": "pre-money / deal size (seed, A, B, C+)",
    "vc.stage_mix": "shares of budget (seed, A, B, C+)",
    "vc.deal_size_rmb": "RMB (seed, A, B, C+)",
    "vc.screening_noise": "sd of quality signal (z-score units)",
    "vc.min_signal": "quality z-score",
    "vc.fundraising_shock": "proportional change",
    "vc.ipo_window": "multiplier",
    "vc.ma_market": "multiplier",
    "vc.ipo_valuation_multiple": "exit value / base value",
    "vc.ma_valuation_multiple": "exit value / base value",
    "vc.exit_value_sigma": "log-sd",
    "vc.management_fee": "annual share of commitments",
    "guidance.deploy_years": "years",
    "guidance.life_years": "years",
    "guidance.reinvestment_requirement": "multiple of commitments",
    "guidance.signal_discount": "quality z-score",
    "spillover.rate": "share of center patents",
    "risk_pool.eligible_stages": "stage codes (0 seed, 1 early, 2 growth, 3 mature)",
    "relending.eligible_bank_kinds": "bank kinds",
    "insurance.patent_premium_rmb": "RMB per patent per year",
    "insurance.patent_claim_rmb": "RMB per claim",
    "insurance.rd_premium_rate": "share of insured R&D",
    "insurance.credit_premium_rate": "annual share of insured principal",
    "insurance.rd_failure_quarterly": "probability per quarter",
}


# Sources for parameters whose schema description names none (marked "(doc)" in the table).
SOURCE_NOTES: dict[str, str] = {
    "run.start_quarter": "§0 note, A (Jan-2026 policy settings)",
    "run.quarters": "run setting",
    "run.scale": "§9 conventions, D",
    "banks.renewal_without_repayment": "lever switch",
    "credit.data_sharing": "lever, D (sweep 0-1)",
    "credit.ai_assessment": "lever, D (sweep 0-1)",
    "ip.protection": "lever, D (sweep 0-1)",
    "linkage.enabled": "lever switch (§4.5)",
    "supply_chain.enabled": "lever switch",
    "supply_chain.anchor_coverage": "lever, D (sweep 0-1)",
    "guarantee.enabled": "lever switch (§7.1)",
    "risk_pool.eligible_stages": "§7.2, D",
    "insurance.rd_loss_enabled": "lever switch (§6)",
    "insurance.credit_enabled": "lever switch (§6)",
    "insurance.patent_enabled": "lever switch (§6)",
}


def unit_of(key: str, field_name: str, default: Any, bounds: str) -> str:
    """The unit of a parameter: explicit table first, then the naming conventions of the schema."""
    generic = "regions.*." + field_name if key.startswith("regions.") else key
    if key in UNITS:
        return UNITS[key]
    if generic.startswith("regions.*."):
        region_units = {
            "firm_share": "share of national firms", "vc_share": "share of national VC", "supply_chain_density": "share of firms",
            "city_share_of_region": "share", "is_center": "switch", "center_scope": "'regions' or 'cities'",
        }
        return region_units.get(field_name, "multiplier")
    if isinstance(default, bool):
        return "switch"
    if field_name.endswith("_rmb"):
        return "RMB per year" if "annual" in field_name else "RMB"
    if field_name.endswith("_quarterly"):
        return "per quarter"
    if field_name.endswith("_annual") or "rate" in field_name or field_name in {"fee", "funding_cost", "operating_cost", "capital_charge", "max_expected_loss"}:
        return "annual rate" if bounds.endswith("0.5]") or "rate" in field_name else "annual share"
    if bounds == "[0, 1]":
        return "share 0-1"
    return ""


def bounds_of(field) -> str:
    """Allowed range from the field's constraints, as ``[low, high]`` (``(`` for strict bounds)."""
    low = high = None
    low_strict = high_strict = False
    metadata = list(field.metadata)
    annotation = field.annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        for inner in getattr(arg, "__metadata__", ()) or ():
            metadata.extend(getattr(inner, "metadata", []) or [])
    for item in metadata:
        if hasattr(item, "ge"):
            low = item.ge
        if hasattr(item, "gt"):
            low, low_strict = item.gt, True
        if hasattr(item, "le"):
            high = item.le
        if hasattr(item, "lt"):
            high, high_strict = item.lt, True
    if low is None and high is None:
        return ""

    def fmt(value):
        return "" if value is None else f"{value:g}"

    return f"{'(' if low_strict else '['}{fmt(low)}, {fmt(high)}{')' if high_strict else ']'}"


def format_default(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 1e-3):
            mantissa, exponent = f"{value:.4g}".split("e") if "e" in f"{value:.4g}" else (f"{value:.4g}", "")
            return f"{value:.4g}" if not exponent else f"{mantissa}e{int(exponent)}"
        return f"{value:g}"
    if isinstance(value, list):
        return "[" + ", ".join(format_default(v) for v in value) + "]"
    return str(value)


def source_of(description: str) -> str:
    """Calibration section(s) and grade(s) named in a description; 'not stated' when absent."""
    sections = sorted(set(SECTION_RE.findall(description)), key=lambda s: [int(x) for x in s.strip("§ ").split(".")])
    grades = []
    for match in GRADE_RE.findall(description):
        for grade in match.split("/"):
            if grade not in grades:
                grades.append(grade)
    grades = sorted(grades)
    if not sections and not grades:
        return "not stated"
    return " ".join(part for part in (", ".join(s.replace("§ ", "§") for s in sections), "/".join(grades)) if part)


def escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def leaf_rows(model: type[BaseModel], instance: BaseModel, prefix: str) -> list[dict[str, str]]:
    """One row per scalar or list field of a section (nested sections are walked)."""
    rows = []
    for name, field in model.model_fields.items():
        key = f"{prefix}{name}"
        value = getattr(instance, name)
        if isinstance(value, BaseModel):
            rows.extend(leaf_rows(type(value), value, key + "."))
            continue
        if key in {"name", "question", "extends", "schedule", "regions", "banks.banks"}:
            continue
        bounds = bounds_of(field)
        description = field.description or ""
        rows.append({
            "key": key, "default": format_default(value), "unit": unit_of(key, name, value, bounds), "bounds": bounds,
            "source": source_of(description) if source_of(description) != "not stated" or key not in SOURCE_NOTES else SOURCE_NOTES[key] + " (doc)",
            "description": description,
        })
    return rows


def table(rows: list[dict[str, str]], columns: list[tuple[str, str]]) -> str:
    head = "| " + " | ".join(title for _, title in columns) + " |"
    rule = "|" + "|".join("---" for _ in columns) + "|"
    body = ["| " + " | ".join(escape(row[col]) if col != "key" else f"`{row[col]}`" for col, _ in columns) + " |" for row in rows]
    return "\n".join([head, rule, *body])


def render() -> str:
    """The whole ``parameters.md`` text."""
    scenario = Scenario()
    columns = [("key", "key"), ("default", "default"), ("unit", "unit"), ("bounds", "allowed"), ("source", "source (calibration.md § / grade)"),
               ("description", "description")]
    sections: dict[str, list[dict[str, str]]] = {}
    for row in leaf_rows(Scenario, scenario, ""):
        sections.setdefault(row["key"].split(".")[0], []).append(row)
    titles = {name: (Scenario.model_fields[name].annotation.__doc__ or "").strip().split("\n")[0] for name in sections}

    parts = [
        "# InnoFin parameters",
        "",
        "<!-- generated file: do not edit by hand -->",
        ("Generated from `simulation/scenario/schema.py` by `python docs/make_parameter_table.py`; "
        "regenerate after any change to the schema (`--check` tells whether this file is current)."),
        "",
        ("Every parameter is a dotted key that a scenario file, a `--set` override, `simulate(**{key: value})` "
        "or a sweep can change. Money is in RMB (real-world units, independent of `run.scale`); rates are annual "
        "fractions (0.0125 = 1.25 %) unless the unit says otherwise. Lists by stage are in the order seed, early, "
        "growth, mature (VC lists: seed, A, B, C+)."),
        "",
        ("**Source** gives the section of [calibration.md](calibration.md) and its reliability grade: A official, B industry data, "
        "C secondary, D derived or an explicit modelling assumption (the description gives the range to test). "
        "\"(doc)\" marks a source added by this documentation because the schema description names none; "
        "\"not stated\" marks a parameter with no source at all: treat it as D."),
        "",
    ]
    for name, rows in sections.items():
        parts += [f"## `{name}` — {titles[name]}", "", table(rows, columns), ""]

    region_fields = list(RegionProfile.model_fields)
    parts += ["## `regions.<name>` — region profiles", "",
              ("The baseline has three regions; a scenario may change any value or add a region "
              "(e.g. a rest-of-country region with `is_center = false`). Keys are `regions.<name>.<field>`."), ""]
    head = "| field | " + " | ".join(scenario.regions) + " | generic default | unit | allowed | description |"
    parts += [head, "|" + "---|" * (len(scenario.regions) + 6)]
    generic = RegionProfile.model_construct(**{k: f.default for k, f in RegionProfile.model_fields.items()})
    for field_name in region_fields:
        field = RegionProfile.model_fields[field_name]
        values = " | ".join(format_default(getattr(profile, field_name)) for profile in scenario.regions.values())
        bounds = bounds_of(field)
        parts.append(f"| `{field_name}` | {values} | {format_default(getattr(generic, field_name))} | "
                     f"{unit_of('regions.x.' + field_name, field_name, field.default, bounds)} | {bounds} | {escape(field.description or '')} |")
    parts.append("")

    parts += ["## `banks.banks` — bank agents", "",
              ("One agent per large state bank and one per group of similar banks. City and rural banks lend only in "
              "their home region. Market shares: calibration §2.3 and §9.2 (B for the big four, D for the rest); "
              "industry research capability: D."), ""]
    bank_fields = list(BankSpec.model_fields)
    parts += ["| " + " | ".join(bank_fields) + " |", "|" + "---|" * len(bank_fields)]
    for bank in scenario.banks.banks:
        parts.append("| " + " | ".join(format_default(getattr(bank, f)) for f in bank_fields) + " |")
    parts.append("")
    return "\n".join(parts)


def _is_code(dotted: str) -> bool:
    """True for a reference to model code that shares a section's name (e.g. `credit.lend`)."""
    head, _, rest = dotted.partition(".")
    for module_name in (f"simulation.markets.{head}", f"simulation.{head}"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if hasattr(module, rest.split(".")[0]):
            return True
    return False


def unknown_keys_in(text: str) -> list[str]:
    """Dotted parameter names quoted in ``text`` (as `section.key`) that the schema does not have."""
    sections = set(Scenario.model_fields)
    known = {row["key"] for row in leaf_rows(Scenario, Scenario(), "")}
    region_fields = set(RegionProfile.model_fields)
    known |= {f"{name}.{field}" for name in sections for field in getattr(Scenario.model_fields[name].annotation, "model_fields", {})}
    unknown = []
    for key in DOTTED_RE.findall(text):
        head = key.split(".")[0]
        if head not in sections or key in known or key in sections or _is_code(key):
            continue
        if head == "regions" and key.split(".")[-1] in region_fields:
            continue
        if key not in unknown:
            unknown.append(key)
    return unknown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Write docs/parameters.md from the scenario schema.")
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/parameters.md is not current")
    parser.add_argument("--output", type=Path, default=OUTPUT, help="where to write (default docs/parameters.md)")
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.is_file() else ""
        status = 0
        if current != text:
            print(f"{args.output}: out of date; run python docs/make_parameter_table.py", file=sys.stderr)
            status = 1
        if MODEL_DOC.is_file():
            for key in unknown_keys_in(MODEL_DOC.read_text(encoding="utf-8")):
                print(f"{MODEL_DOC}: names `{key}`, which is not a scenario parameter", file=sys.stderr)
                status = 1
        return status
    args.output.write_text(text, encoding="utf-8")
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
