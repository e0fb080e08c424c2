"""The scenario schema: every model parameter, typed, bounded and documented.

A scenario is a :class:`Scenario` (pydantic v2, ``extra="forbid"``). Every
field carries its unit in its name or description and, for calibrated values,
the source in ``calibration.md`` (section number and grade A-D). Grade-D values
are modelling assumptions; their description gives the range to test.

Money is in RMB (real-world units, independent of ``run.scale``); rates are
annual fractions (0.0125 = 1.25 %) unless the name says ``_quarterly``.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

QUARTER_PATTERN = re.compile(r"^(\d{4})Q([1-4])$")

Share = Annotated[float, Field(ge=0.0, le=1.0)]
RateAnnual = Annotated[float, Field(ge=0.0, le=0.5)]
PositiveRMB = Annotated[float, Field(ge=0.0)]
PositiveFactor = Annotated[float, Field(gt=0.0, le=100.0)]
StageIndex = Annotated[int, Field(ge=0, le=3)]


def _none_string_to_none(value: Any) -> Any:
    """TOML has no null: accept the string "none" for an absent cap."""
    if isinstance(value, str) and value.strip().lower() == "none":
        return None
    return value


OptionalCap = Annotated[Annotated[float, Field(ge=0.0, le=0.5)] | None, BeforeValidator(_none_string_to_none)]


class Section(BaseModel):
    """Base of every scenario section: unknown keys are errors, assignment is validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def parse_quarter(label: str) -> tuple[int, int]:
    """Parse ``"2026Q1"`` into ``(2026, 1)``; raise ``ValueError`` otherwise."""
    match = QUARTER_PATTERN.match(str(label))
    if not match:
        raise ValueError(f"quarter must look like 2026Q1, got {label!r}")
    return int(match.group(1)), int(match.group(2))


def quarter_label(start: str, offset: int) -> str:
    """The label of the quarter ``offset`` quarters after ``start``."""
    year, q = parse_quarter(start)
    index = year * 4 + (q - 1) + offset
    return f"{index // 4}Q{index % 4 + 1}"


def quarter_offset(start: str, label: str) -> int:
    """Number of quarters from ``start`` to ``label`` (negative if before)."""
    y0, q0 = parse_quarter(start)
    y1, q1 = parse_quarter(label)
    return (y1 * 4 + q1) - (y0 * 4 + q0)


class RunSettings(Section):
    """How long, how fine and from when the simulation runs."""

    start_quarter: str = Field("2026Q1", description="First simulated quarter (YYYYQn).")
    quarters: int = Field(40, ge=1, le=400, description="Number of quarterly steps.")
    scale: float = Field(
        50.0,
        ge=1.0,
        le=10000.0,
        description="Real firms represented by one firm agent (1 = every firm). Reported counts and money are real-world.",
    )

    @field_validator("start_quarter")
    @classmethod
    def _check_quarter(cls, value: str) -> str:
        parse_quarter(value)
        return value


class RegionProfile(Section):
    """One region's profile. Defaults describe an average center; the baseline sets each."""

    firm_share: Share = Field(0.33, description="Share of the national tech-SME population (D: BTH 0.23, YRD 0.51, GBA 0.26, set so that patent shares match the §4.2 patent stock 0.26/0.49/0.25, A, given BTH's higher research productivity).")
    research_productivity: float = Field(1.0, gt=0.0, le=5.0, description="Multiplier on patent and breakthrough rates (BTH highest: basic research).")
    rd_intensity: float = Field(1.0, gt=0.0, le=5.0, description="Multiplier on firm R&D spending (regional R&D/GDP relative to 3.5 %, §5.2, A).")
    transformation_capacity: float = Field(1.0, gt=0.0, le=5.0, description="Multiplier on turning R&D into product and revenue (GBA highest).")
    supply_chain_density: Share = Field(0.3, description="Share of firms that supply an anchor firm (YRD densest).")
    vc_share: Share = Field(0.33, description="Share of national VC capital raised and invested here (§9.4, D: 0.45/0.25/0.30 ±0.05).")
    export_demand: float = Field(1.0, gt=0.0, le=5.0, description="Multiplier on revenue of growth and mature firms (GBA foreign trade).")
    is_center: bool = Field(True, description="An international S&T innovation center (false for 'rest of country').")
    center_scope: Literal["regions", "cities"] = Field(
        "regions", description="'cities': only the core cities count as the center (pre-expansion); shrinks entry and VC reach."
    )
    city_share_of_region: Share = Field(0.55, description="Share of the region's tech firms located in its core cities (used when center_scope = 'cities'; D, range 0.4-0.7).")


class FirmSettings(Section):
    """Tech-firm population, lifecycle and operations (per real firm; amounts in RMB)."""

    population_real: float = Field(550_000, ge=100, le=5_000_000, description="Tech SMEs at the start (calibration §2.1, D from A: 275k / 0.502 ≈ 548k).")
    entry_rate_annual: float = Field(0.12, ge=0.0, le=1.0, description="New firms per year as a share of the initial population (D; range 0.08-0.16).")
    initial_stage_shares: list[Share] = Field([0.25, 0.30, 0.30, 0.15], description="Share of initial firms in seed/early/growth/mature (D; ~50 % under 5 years, §5.3).")
    quality_sigma: float = Field(1.0, gt=0.0, le=3.0, description="Dispersion of latent technology quality (standard normal scaled; D).")
    rd_to_revenue: float = Field(0.06, ge=0.0, le=1.0, description="R&D / revenue of revenue-earning firms (§9.1: median ~6 %, range 3-15 %).")
    seed_rd_quarterly_rmb: float = Field(0.3e6, ge=0.0, description="Quarterly R&D budget of a seed-stage firm (D; range 0.3-1.5 m).")
    opex_quarterly_rmb: list[PositiveRMB] = Field(
        [0.2e6, 1.2e6, 4.5e6, 12.0e6],
        description="Non-R&D operating cost per quarter by stage seed/early/growth/mature (production, market promotion; D).",
    )
    revenue_quarterly_rmb: list[PositiveRMB] = Field(
        [0.0, 1.5e6, 6.0e6, 16.0e6],
        description="Median quarterly revenue by stage (D; tech-SME size consistent with RMB 13 m average loans, §2.1).",
    )
    revenue_sigma: float = Field(0.8, gt=0.0, le=3.0, description="Log-sd of firm revenue around the stage median (skewed firm sizes; D).")
    growth_shock_df: float = Field(3.0, ge=2.1, le=100.0, description="Degrees of freedom of the Student-t revenue growth shock (fat tails; D).")
    size_mean_reversion: Share = Field(0.015, description="Quarterly pull of a firm's log size back towards its stage median (D: 0.015 keeps the stationary log-sd near revenue_sigma = 0.8 with the t(3) shocks of sd 0.14; 0 = a pure random walk, whose sizes grow without bound over long runs).")
    tangible_assets_rmb: list[PositiveRMB] = Field(
        [0.2e6, 1.5e6, 12.0e6, 45.0e6],
        description="Median tangible (pledgeable) assets by stage: asset-light firms have little collateral (D).",
    )
    founder_cash_rmb: float = Field(5.0e6, ge=0.0, description="Founders' cash of an entering firm (D; range 0.5-5 m).")
    stage_up_quarterly: list[Share] = Field(
        [0.07, 0.045, 0.03],
        description="Base quarterly probability seed→early (breakthrough), early→growth (product-market fit), growth→mature (scaled; D, 4-7 years to mature, §5.3).",
    )
    patent_rate_quarterly: float = Field(0.09, ge=0.0, le=5.0, description="Expected patents per firm-quarter at average quality and R&D (D; ~7 per patenting firm, §5.1).")
    hazard_by_age_annual: list[Share] = Field(
        [0.016, 0.045, 0.065, 0.065, 0.085, 0.095, 0.10, 0.08],
        description=(
            "Annual non-financial exit hazard by age year 1..8+ (D from A): the SAIC 2013 profile (§5.3: 1.6, 6.3, 9.5, 8.5 ... 6 %) "
            "lowered in years 2-4 and raised from year 6, so that together with the failures the model generates itself "
            "(cash running out, loan default; concentrated in years 2-4) the total hazard by age matches 1.5 × SAIC (§9.1)."
        ),
    )
    hazard_multiplier: float = Field(1.5, ge=0.5, le=4.0, description="Tech-startup multiplier on the hazard (§9.1, D assumption; range 1.0-3.0).")
    hazard_quality_beta: float = Field(1.3, ge=0.0, le=3.0, description="Log-hazard slope on latent quality (D): better firms fail less.")
    distress_hazard_factor: float = Field(2.0, ge=1.0, le=20.0, description="Hazard multiplier for firms with negative cash after financing (D).")
    insolvency_quarters: int = Field(4, ge=1, le=12, description="A firm with negative cash (unpaid bills) for this many quarters in a row fails (D).")
    runway_quarters: float = Field(6.0, gt=0.0, le=20.0, description="Firms whose cash covers fewer quarters of burn apply for funding (D).")
    funding_need_quarters: float = Field(8.0, gt=0.0, le=20.0, description="A funding request covers this many quarters of net burn (D).")
    max_loan_rate_by_stage: list[Share] = Field(
        [0.045, 0.06, 0.08, 0.09],
        description="Highest effective annual loan rate a firm accepts, by stage (affordability; D).",
    )
    working_capital_demand_quarterly: Share = Field(0.03, description="Probability per quarter that a firm with revenue but no loan seeks a working-capital line (D).")
    working_capital_quarters: float = Field(1.0, gt=0.0, le=8.0, description="Size of a working-capital request in quarters of revenue (D).")
    anchor_share_of_mature: Share = Field(0.35, description="Share of mature firms acting as supply-chain anchors (D).")


class BankSpec(Section):
    """One bank agent (or a group of banks modelled as one agent)."""

    name: str
    kind: Literal["large_state", "joint_stock", "city_rural", "policy_other"]
    market_share: Share = Field(description="Share of tech loans (§2.3, §9.2; B + D).")
    region: Annotated[str | None, BeforeValidator(_none_string_to_none)] = Field(None, description="Home region of a city/rural bank (lends only there); none = national.")
    industry_research: Share = Field(0.5, description="Industry research capability and local soft information: lowers screening noise (0-1; D: large banks 0.5-0.7, city/rural banks 0.6 for local knowledge).")


def _default_banks() -> list[BankSpec]:
    return [
        BankSpec(name="ICBC", kind="large_state", market_share=0.136, industry_research=0.7),
        BankSpec(name="CCB", kind="large_state", market_share=0.117, industry_research=0.7),
        BankSpec(name="ABC", kind="large_state", market_share=0.107, industry_research=0.6),
        BankSpec(name="BOC", kind="large_state", market_share=0.104, industry_research=0.6),
        BankSpec(name="BOCOM", kind="large_state", market_share=0.045, industry_research=0.55),
        BankSpec(name="PSBC", kind="large_state", market_share=0.035, industry_research=0.5),
        BankSpec(name="Joint-stock banks", kind="joint_stock", market_share=0.20, industry_research=0.6),
        BankSpec(name="BTH city & rural banks", kind="city_rural", market_share=0.052, region="BTH", industry_research=0.6),
        BankSpec(name="YRD city & rural banks", kind="city_rural", market_share=0.098, region="YRD", industry_research=0.65),
        BankSpec(name="GBA city & rural banks", kind="city_rural", market_share=0.050, region="GBA", industry_research=0.6),
        BankSpec(name="Policy & other banks", kind="policy_other", market_share=0.056, industry_research=0.5),
    ]


class BankSettings(Section):
    """Banks: balance sheets, pricing and capital (rates annual)."""

    banks: list[BankSpec] = Field(default_factory=_default_banks, description="Bank agents with tech-loan market shares (§9.2).")
    initial_tech_loans_rmb: float = Field(3.63e12, ge=0.0, description="Tech-SME loan balance at the start (§2.1, A: 3.63 trn end-2025).")
    base_rate: RateAnnual = Field(0.030, description="1-year LPR (§9.2: 3.0 %, verify; range 2.5-3.45 %).")
    funding_cost: RateAnnual = Field(0.016, description="Marginal funding cost of term lending (D: above the 1.23 % average deposit cost of §2.4, B; range 1.1-1.8 %).")
    operating_cost: RateAnnual = Field(0.005, description="Operating cost of an SME loan, per year of principal (D).")
    max_debt_to_revenue: float = Field(0.8, ge=0.0, le=10.0, description="Banks cap a firm's total unsecured debt at this multiple of annual revenue, on top of pledgeable collateral, IP and receivables (D; range 0.5-2).")
    capital_ratio_min: Share = Field(0.105, description="Minimum capital / risk-weighted tech loans (Basel III with buffers; A).")
    capital_ratio_initial: Share = Field(0.14, description="Initial capital / tech loans (D; large banks ~14-18 %).")
    capital_top_up_ratio: Share = Field(0.13, description="Parent banks inject capital to keep the tech book's capital ratio at least here (tech loans are a small part of their balance sheets; 0 = never; D).")
    capital_charge: RateAnnual = Field(0.004, description="Cost of capital added to the loan rate (D).")
    max_expected_loss: RateAnnual = Field(0.035, description="Highest expected annual loss rate (PD × LGD after risk sharing) a bank accepts (D).")
    max_pd: Share = Field(0.10, description="Highest estimated annual PD a bank lends at, whatever the collateral (D; range 0.04-0.15).")
    lgd_unsecured: Share = Field(0.70, description="Loss given default, credit loan (§9.2, D; 50-90 %).")
    lgd_collateral: Share = Field(0.35, description="LGD, collateralised loan (§9.2, D; 20-50 %).")
    collateral_haircut: Share = Field(0.5, description="Collateral value counted per yuan of tangible assets (D).")
    loan_term_quarters: int = Field(4, ge=2, le=40, description="Term of new loans; interest quarterly, principal at maturity (1-year SME loans; relending requires ≥ 6 months, §1, A).")
    rollover_probability: Share = Field(0.6, description="Probability that a performing loan is rolled over at maturity (the firm keeps its credit line; D, range 0.5-0.9).")
    default_after_quarters: int = Field(4, ge=1, le=12, description="Quarters in arrears after which a loan defaults and the firm fails (D; NPL from the first quarter overdue).")
    renewal_without_repayment: bool = Field(True, description="Loans of firms that pay their interest are renewed at maturity without repaying principal (无还本续贷; lever).")
    pd_prior_annual: list[Share] = Field([0.10, 0.06, 0.05, 0.03], description="Bank's prior annual PD by stage before firm-specific signals (D).")


class CreditAssessment(Section):
    """How banks assess credit (levers from the source: 'optimize credit assessment')."""

    tech_flow_weight: Share = Field(0.5, description="0 = collateral and guarantees only; 1 = technology flow (IP, R&D) only (D; lever).")
    screening_noise: float = Field(1.0, ge=0.0, le=5.0, description="Sd of the bank's signal of latent quality, before data and AI (D).")
    data_sharing: Share = Field(0.2, description="Data shared with governments, parks, research institutions (0-1): cuts noise.")
    ai_assessment: Share = Field(0.2, description="Big-data / AI credit assessment adoption (0-1): cuts noise.")
    uncertainty_aversion: float = Field(1.0, ge=0.0, le=3.0, description="Banks judge a firm at its posterior mean quality minus this many posterior sds: the less they know, the more cautious (D).")
    noise_cut_data_sharing: Share = Field(0.6, description="Largest noise reduction from full data sharing (D).")
    noise_cut_ai: Share = Field(0.35, description="Largest noise reduction from full AI assessment (D).")
    noise_cut_research: Share = Field(0.3, description="Largest noise reduction from full industry research capability (D).")


class IPSettings(Section):
    """Intellectual property protection and IP pledge loans."""

    protection: Share = Field(0.6, description="IP protection strength (0-1): raises patent value, recovery and pledge demand (lever).")
    value_per_patent_rmb: float = Field(4.0e6, ge=0.0, description="Appraised value of a patent at full protection (D; 854 bn / 37k firms ≈ 23 m per pledging firm, §3).")
    pledge_ltv: Share = Field(0.30, description="Loan / appraised IP value (§3, C: ≈30 %; range 20-50 %).")
    appraisal_cost: Share = Field(0.025, description="Appraisal fee as share of appraised value (§3, C: 2-3 %).")
    recovery_on_disposal: Share = Field(0.25, description="Recovery on disposal of pledged IP, share of principal at protection 0.6 (§3, D: ~22 %; range 5-50 %).")
    patent_insurance_claim_rate_quarterly: Share = Field(0.004, description="Infringement claims per insured patent per quarter at protection 0 (falls with protection; D).")


class LinkageSettings(Section):
    """Investment-loan (equity-debt) linkage through banks' investment arms (§4.5)."""

    enabled: bool = Field(True, description="Banks offer loans plus equity/warrants to growth firms.")
    warrant_share: Share = Field(0.05, description="Equity share the bank's investment arm takes per linkage loan (D; 0-20 %).")
    pd_relief: Share = Field(0.35, description="Share of expected loss banks forgo on linkage loans thanks to equity upside (D).")
    valuation_ltv: Share = Field(0.05, description="Extra debt capacity of linkage loans as a share of the firm's last valuation (venture-debt practice; D, 0-0.3).")
    equity_per_loan: Share = Field(0.10, description="Equity invested by the investment arm per yuan of linkage loan (D).")


class SupplyChainSettings(Section):
    """Supply-chain (scenario) finance against anchor firms' receivables."""

    enabled: bool = Field(True, description="Banks lend to suppliers against receivables on anchor firms.")
    anchor_coverage: Share = Field(0.5, description="Share of anchor firms whose receivables banks accept (lever).")
    advance_rate: Share = Field(0.8, description="Loan / receivable (D).")


class GuaranteeSettings(Section):
    """Government financing guarantees with risk splits (§7.1)."""

    enabled: bool = Field(True)
    bank_share: Share = Field(0.20, description="Bank's share of a guaranteed loan's loss (§7.1, A: ≥ 20 %).")
    guarantor_share: Share = Field(0.40, description="Originating (regional) guarantor's share (§7.1, A: 4222).")
    reguarantor_share: Share = Field(0.20, description="Provincial re-guarantor's share (§7.1, A).")
    national_share: Share = Field(0.20, description="National Financing Guarantee Fund share (§7.1, A: 20 %; tech plan 30-40 %).")
    fee: RateAnnual = Field(0.01, description="Guarantee fee per year of principal (§7.1, A: target < 1 %; market 2-3 %).")
    max_pd: Share = Field(0.05, description="Highest estimated annual PD a guarantor accepts (D; tolerated compensation rate 5 %, §7.1, A).")
    cap_per_firm_rmb: PositiveRMB = Field(30.0e6, description="Per-firm guaranteed balance cap (§7.1, A: 30 m).")
    fund_capital_rmb: PositiveRMB = Field(60.0e9, description="Capital of all regional guarantee funds together (D).")

    @model_validator(mode="after")
    def _shares_add_up(self) -> GuaranteeSettings:
        total = self.bank_share + self.guarantor_share + self.reguarantor_share + self.national_share
        if abs(total - 1.0) > 1e-6:
            raise ValueError(f"guarantee shares must add up to 1 (bank + guarantor + reguarantor + national = {total:.3f})")
        return self


class RiskPoolSettings(Section):
    """Regional loan risk-compensation pools (§7.2)."""

    share: Share = Field(0.5, description="Share of principal loss compensated on eligible early-stage loans (§7.2: 30-55 %; 90 % Zhuhai first loans).")
    budget_annual_rmb: PositiveRMB = Field(6.0e9, description="Annual pool funding across regions (D; Guangzhou ~0.2 bn/yr; range 2-20 bn).")
    eligible_stages: list[StageIndex] = Field([0, 1], description="Stages whose loans are covered (0 seed, 1 early, 2 growth, 3 mature).")


class InsuranceSettings(Section):
    """Technology insurance (§6)."""

    rd_loss_enabled: bool = Field(True, description="R&D loss insurance offered.")
    credit_enabled: bool = Field(True, description="Loan credit insurance offered to banks on early-stage loans.")
    patent_enabled: bool = Field(True, description="Patent infringement insurance offered.")
    rd_premium_rate: Share = Field(0.025, description="Premium / insured R&D budget (§9.5, D: 1-3 %).")
    rd_coverage: Share = Field(0.5, description="Payout / failed R&D cost (§9.5, D: 30-70 %).")
    rd_failure_quarterly: Share = Field(0.012, description="Probability per quarter that an insured R&D project fails outright (D).")
    credit_premium_rate: Share = Field(0.012, description="Credit insurance premium per year of insured principal (D).")
    credit_coverage: Share = Field(0.3, description="Share of a loss on an insured loan paid by the insurer (D).")
    patent_premium_rmb: PositiveRMB = Field(8_000.0, description="Annual premium per insured patent (D).")
    patent_claim_rmb: PositiveRMB = Field(300_000.0, description="Average infringement claim (D).")
    premium_subsidy: Share = Field(0.0, description="Government share of premiums (§6, A: first-set 80 %; lever 0-100 %).")
    take_up_base: Share = Field(0.10, description="Take-up among eligible firms at zero subsidy (§9.5, D: ~10 %; 5-40 %).")
    take_up_subsidy_elasticity: float = Field(2.0, ge=0.0, le=10.0, description="Take-up multiplies by (1 + elasticity × subsidy) (D).")
    insurer_capital_rmb: PositiveRMB = Field(20.0e9, description="Capital the insurers allocate to tech lines (D).")


class SubsidySettings(Section):
    """Government R&D subsidies."""

    rd_subsidy_share: Share = Field(0.15, description="Share of a selected firm's R&D paid by the government (D).")
    budget_annual_rmb: PositiveRMB = Field(20.0e9, description="Annual R&D subsidy budget across regions (D).")


class RelendingSettings(Section):
    """PBoC science-and-technology innovation relending (§1, §9.3)."""

    quota_rmb: PositiveRMB = Field(1.2e12, description="Facility quota (§1, A: 1.2 trn from 2026-01; 800 bn in 2025).")
    rate: RateAnnual = Field(0.0125, description="Relending rate to banks (§1, A: 1.25 % from 2026-01; 1.50 % in 2025).")
    refinanced_share: Share = Field(0.60, description="Share of an eligible loan's principal refinanced (§1, A: 60 %).")
    eligible_bank_kinds: list[Literal["large_state", "joint_stock", "city_rural", "policy_other"]] = Field(
        ["large_state", "joint_stock", "policy_other"], description="Bank kinds that may use the facility (§1, A: 21 national FIs)."
    )
    loan_rate_cap: OptionalCap = Field(None, description="Cap on rates of relending-funded loans; 'none' for no cap (§1, A: none; 2022 tool 3.2 %).")
    interest_subsidy_pp: RateAnnual = Field(0.015, description="Fiscal interest subsidy to borrowers of eligible loans, percentage points per year (§1, A: 1.5 pp).")
    subsidy_quarters: int = Field(8, ge=0, le=40, description="Quarters the interest subsidy lasts (§1, A: 2 years).")
    first_loan_earmark: Share = Field(0.20, description="Share of the quota reserved for firms' first loans (§1, A: 100 of 500 bn).")
    pass_through: Share = Field(1.0, description="Share of the bank's funding saving passed to the loan rate (D).")
    quantity_push: float = Field(0.5, ge=0.0, le=3.0, description="Loosening of the bank's loss threshold per unit of unused quota share (supervisory pressure; D).")


class VentureSettings(Section):
    """Venture capital funds, rounds and exits (§4, §9.4)."""

    fundraising_annual_rmb: PositiveRMB = Field(0.55e12, description="New commitments to funds investing in tech SMEs per year (§9.4: 0.55 trn deployed; D).")
    funds_per_region: int = Field(8, ge=1, le=200, description="Market VC fund agents per region at the start (D).")
    fund_life_years: int = Field(10, ge=3, le=30, description="Market fund life, 7+3 years (§4.3, A).")
    deal_size_rmb: list[PositiveRMB] = Field([15e6, 60e6, 160e6, 400e6], description="Deal size seed/A/B/C+ (§4.1, D: 42 % first-round deals with ~9 % of 0.55 trn ≈ 15 m; A-C+ at 2 × the §9.4 assumption of 30/80/200 m, the top of its ×0.5-×2 range, towards the ~75 m all-stage median and ~8,000 deals a year).")
    pre_money_multiple: list[PositiveFactor] = Field([3.0, 4.0, 4.5, 5.0], description="Pre-money valuation / deal size by stage (D).")
    stage_mix: list[Share] = Field([0.10, 0.35, 0.35, 0.20], description="Share of a market fund's quarterly budget for seed/A/B/C+ rounds (§4.1, C: seed ≈ 9 % of capital).")
    follow_on_quarters: int = Field(6, ge=1, le=40, description="VC-backed early/growth firms seek a follow-on round this many quarters after the last (D; 18-24 months between rounds).")
    screening_noise: float = Field(0.8, ge=0.0, le=5.0, description="Sd of a VC's signal of latent quality (D).")
    min_signal: float = Field(0.4, ge=-3.0, le=3.0, description="Lowest signal (quality z-score) a fund invests in (D).")
    fundraising_shock: float = Field(0.0, ge=-0.9, le=2.0, description="Proportional change in fundraising (§10: −45 % … +30 %).")
    ipo_window: float = Field(1.0, ge=0.0, le=3.0, description="IPO probability multiplier (§10: 0.3-1.5).")
    ma_market: float = Field(1.0, ge=0.0, le=3.0, description="M&A exit probability multiplier (D).")
    ipo_rate_quarterly: Share = Field(0.0003, description="Base IPO probability per quarter of a VC-backed growth/mature firm (D; ~90 STAR listings/yr).")
    ma_rate_quarterly: Share = Field(0.0015, description="Base acquisition probability per quarter of a growth/mature firm (D).")
    ipo_valuation_multiple: float = Field(3.0, gt=0.0, le=50.0, description="Median IPO valuation / last post-money (D; gives ≈3.5× book multiples, §4.4).")
    exit_value_sigma: float = Field(1.0, gt=0.0, le=3.0, description="Log-sd of exit values (heavy-tailed outcomes; D).")
    ma_valuation_multiple: float = Field(1.6, gt=0.0, le=20.0, description="Median M&A price / last post-money (D).")
    management_fee: Share = Field(0.02, description="Annual management fee on commitments (D).")


class GuidanceSettings(Section):
    """Government guidance funds (§4.3)."""

    national_fund_rmb: PositiveRMB = Field(1.0e12, description="National VC Guidance Fund total scale incl. sub-funds (§4.3, A: ~1 trn).")
    regional_fund_rmb: PositiveRMB = Field(150.0e9, description="Regional guidance funds across all regions (D; each ≥ 50 bn, §4.3).")
    deploy_years: float = Field(10.0, gt=0.0, le=30.0, description="Years over which guidance money is invested (§4.3, A: 10 investment years).")
    life_years: int = Field(20, ge=3, le=30, description="Guidance fund life (§4.3, A: 20 years).")
    early_share: Share = Field(0.70, description="Share invested in seed/early stage (§4.3, A: ≥ 70 %).")
    coinvest_share: Share = Field(0.3, description="Guidance fund's share of a co-invested round (D).")
    reinvestment_requirement: float = Field(1.0, ge=0.0, le=3.0, description="返投 ratio: multiple of commitments to invest in the home region (§10: 0-1.5).")
    max_deal_rmb: PositiveRMB = Field(50.0e6, description="Cap per deal (§4.3, A: 50 m).")
    national_public_share: Share = Field(0.10, description="Central fiscal share of the national fund (§4.3, A: 100 bn of ~1 trn); the rest is private LP money.")
    regional_public_share: Share = Field(0.40, description="Government share of regional guidance funds' commitments (D; range 0.2-0.8).")
    signal_discount: float = Field(0.3, ge=0.0, le=3.0, description="Guidance funds accept signals this much lower than market funds (patient capital; D).")


class SpilloverSettings(Section):
    """Knowledge spill-overs from the centers to the rest of the country."""

    rate: Share = Field(0.05, description="Share of the centers' new patents that spill over as knowledge elsewhere (D).")


class ScheduledChange(Section):
    """A change of parameters at a given quarter (levers can change over time)."""

    quarter: str = Field(description="Quarter from which the values apply (YYYYQn).")
    set: dict[str, Any] = Field(description="Dotted parameter names and their new values.")

    @field_validator("quarter")
    @classmethod
    def _check_quarter(cls, value: str) -> str:
        parse_quarter(value)
        return value


def _default_regions() -> dict[str, RegionProfile]:
    return {
        "BTH": RegionProfile(
            firm_share=0.23, research_productivity=1.2, rd_intensity=1.23, transformation_capacity=0.80,
            supply_chain_density=0.25, vc_share=0.25, export_demand=0.9,
        ),
        "YRD": RegionProfile(
            firm_share=0.51, research_productivity=1.0, rd_intensity=1.0, transformation_capacity=1.0,
            supply_chain_density=0.40, vc_share=0.45, export_demand=1.0,
        ),
        "GBA": RegionProfile(
            firm_share=0.26, research_productivity=0.9, rd_intensity=1.0, transformation_capacity=1.3,
            supply_chain_density=0.35, vc_share=0.30, export_demand=1.25,
        ),
    }


class Scenario(Section):
    """A whole scenario: metadata, run settings and every lever."""

    name: str = Field("baseline", description="Short name of the scenario.")
    question: str = Field("", description="The question the scenario answers.")
    extends: str | None = Field(None, description="Parent scenario file this one changes (resolved by the loader).")
    run: RunSettings = Field(default_factory=RunSettings)
    regions: dict[str, RegionProfile] = Field(default_factory=_default_regions)
    firms: FirmSettings = Field(default_factory=FirmSettings)
    banks: BankSettings = Field(default_factory=BankSettings)
    credit: CreditAssessment = Field(default_factory=CreditAssessment)
    ip: IPSettings = Field(default_factory=IPSettings)
    linkage: LinkageSettings = Field(default_factory=LinkageSettings)
    supply_chain: SupplyChainSettings = Field(default_factory=SupplyChainSettings)
    guarantee: GuaranteeSettings = Field(default_factory=GuaranteeSettings)
    risk_pool: RiskPoolSettings = Field(default_factory=RiskPoolSettings)
    insurance: InsuranceSettings = Field(default_factory=InsuranceSettings)
    subsidy: SubsidySettings = Field(default_factory=SubsidySettings)
    relending: RelendingSettings = Field(default_factory=RelendingSettings)
    vc: VentureSettings = Field(default_factory=VentureSettings)
    guidance: GuidanceSettings = Field(default_factory=GuidanceSettings)
    spillover: SpilloverSettings = Field(default_factory=SpilloverSettings)
    schedule: list[ScheduledChange] = Field(default_factory=list, description="Lever changes at given quarters.")

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if not self.regions:
            raise ValueError("regions: at least one region is required")
        share = sum(r.firm_share for r in self.regions.values())
        if share <= 0:
            raise ValueError("regions: firm_share must be positive somewhere")
        bank_regions = {b.region for b in self.banks.banks if b.region is not None}
        unknown = bank_regions - set(self.regions)
        if unknown:
            raise ValueError(f"banks.banks: region {sorted(unknown)} is not one of {sorted(self.regions)}")
        for stage_list_name in ("opex_quarterly_rmb", "revenue_quarterly_rmb", "tangible_assets_rmb", "initial_stage_shares", "max_loan_rate_by_stage"):
            if len(getattr(self.firms, stage_list_name)) != 4:
                raise ValueError(f"firms.{stage_list_name}: needs 4 values (seed, early, growth, mature)")
        if len(self.firms.stage_up_quarterly) != 3:
            raise ValueError("firms.stage_up_quarterly: needs 3 values (seed→early, early→growth, growth→mature)")
        if len(self.vc.deal_size_rmb) != 4 or len(self.vc.pre_money_multiple) != 4 or len(self.vc.stage_mix) != 4:
            raise ValueError("vc.deal_size_rmb and vc.pre_money_multiple: need 4 values (seed, A, B, C+)")
        if len(self.banks.pd_prior_annual) != 4:
            raise ValueError("banks.pd_prior_annual: needs 4 values (seed, early, growth, mature)")
        for change in self.schedule:
            if quarter_offset(self.run.start_quarter, change.quarter) < 0:
                raise ValueError(f"schedule: quarter {change.quarter} is before run.start_quarter {self.run.start_quarter}")
        return self
