"""The ``innofin`` command (also ``python -m simulation``): a thin layer over the Python API.

Subcommands: ``run``, ``compare``, ``list``, ``validate``, ``schema``, plus any that
``simulation.experiments.commands`` or ``simulation.app.commands`` add through
their ``add_commands(subparsers)`` function (each subcommand sets ``func`` with
``set_defaults``; ``func(args)`` returns an exit code or ``None``).

Bad input of any kind (a scenario error, a missing file, a bad ``--set``, a bad
argument) prints one line ``innofin: error: ...`` on stderr and exits with code
2, writing nothing. Ctrl-C stops cleanly with exit code 130.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from simulation.argtypes import whole_number
from simulation.scenario.loader import ScenarioError, late_changes, load_scenario, parse_value, resolve_path, shipped_scenarios

PROG = "innofin"
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXTENSION_MODULES = ("simulation.experiments.commands", "simulation.app.commands")
DOTTED_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_]+)*$")


class UsageError(ValueError):
    """Bad command-line input; the message is the one line shown after ``innofin: error:``."""


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump) and exit with code 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


# ---------------------------------------------------------------- helpers shared by subcommands
seed_value = whole_number(0)  # seeds: what numpy's generators accept


def parse_sets(items: Sequence[str] | None) -> dict[str, Any]:
    """``["relending.rate=0.01", ...]`` → ``{"relending.rate": 0.01}`` (values read as TOML)."""
    overrides: dict[str, Any] = {}
    for item in items or ():
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not DOTTED_KEY.match(key) or not text.strip():
            raise UsageError(f"--set {item!r}: expected KEY=VALUE with a dotted parameter name, e.g. --set relending.rate=0.0125")
        overrides[key] = parse_value(text.strip())
    return overrides


def run_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Dotted overrides from ``--set``, ``--quarters`` and ``--scale``."""
    overrides = parse_sets(getattr(args, "set", None))
    if getattr(args, "quarters", None) is not None:
        overrides["run.quarters"] = args.quarters
    if getattr(args, "scale", None) is not None:
        overrides["run.scale"] = args.scale
    return overrides


def scenario_label(name_or_path: str) -> str:
    """A short name for folder names: the file stem or the shipped name."""
    return Path(name_or_path).stem or "scenario"


def default_out(kind: str) -> Path:
    """``runs/<kind>-<UTC timestamp>`` in the current directory."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{kind}-{stamp}"


def check_out(path: Path) -> None:
    """Refuse an existing non-empty output folder before any work is done."""
    from simulation.outputs.folder import OutputExistsError, check_target

    try:
        check_target(path)
    except OutputExistsError as error:
        raise UsageError(str(error)) from None


def progress_bar(total: int, description: str):
    """A tqdm bar on a terminal (stderr), otherwise a silent stand-in with the same ``update``/``close``."""
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="quarter", file=sys.stderr, disable=not sys.stderr.isatty(), leave=False)


def plural(count: int, word: str) -> str:
    """``"1 quarter"``, ``"40 quarters"``."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def print_notes(scenario: Any) -> None:
    """Tell (on stderr) about scheduled changes that fall after the end of the run."""
    for note in late_changes(scenario):
        print(f"{PROG}: note: {note}", file=sys.stderr)


def headline_table(summary: dict[str, Any]) -> str:
    """The short table of headline KPIs printed after a run."""
    from simulation.outputs.headline import HEADLINE_KPIS

    width = max(len(kpi.label) for kpi in HEADLINE_KPIS)
    return "\n".join(f"  {kpi.label:<{width}}  {kpi.format(summary.get(kpi.key, float('nan')))}" for kpi in HEADLINE_KPIS)


# ---------------------------------------------------------------- subcommands
def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario and write its results folder."""
    from simulation.api import release
    from simulation.model import InnovationEconomy
    from simulation.outputs import write_run

    scenario = load_scenario(args.scenario, run_overrides(args))
    out = Path(args.out) if args.out else default_out(scenario_label(args.scenario))
    check_out(out)
    print_notes(scenario)
    quarters = scenario.run.quarters
    started = time.perf_counter()
    model = InnovationEconomy(scenario, rng=args.seed)
    bar = progress_bar(quarters, scenario.name)
    try:
        model.run(quarters, progress=lambda done, total: bar.update(1))
    finally:
        bar.close()
    run_time = time.perf_counter() - started
    write_run(model, out, scenario=scenario, seed=args.seed, wall_time_s=round(run_time, 3))
    summary = model.summary()
    release(model)
    print(f"{scenario.name}: {plural(quarters, 'quarter')} from {scenario.run.start_quarter}, seed {args.seed}, "
          f"scale {scenario.run.scale:g}, {run_time:.1f} s")
    print(headline_table(summary))
    print(f"results: {out}")
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    """Compare scenarios over common random numbers."""
    from simulation.experiments.compare import compare_scenarios

    overrides = run_overrides(args)
    if len(args.scenarios) < 2:
        raise UsageError(f"compare needs at least two scenarios (got {args.scenarios[0]!r}); the first is the reference, "
                         "e.g. innofin compare baseline relending_off")
    scenarios = {}
    for name in args.scenarios:
        label = scenario_label(name)
        if label in scenarios:
            raise UsageError(f"scenario {name!r} is given twice")
        scenarios[label] = load_scenario(name, overrides)
    if args.seeds < 1:
        raise UsageError(f"--seeds {args.seeds}: must be at least 1")
    out = Path(args.out) if args.out else default_out("compare-" + "-vs-".join(scenarios))
    check_out(out)
    for scenario in scenarios.values():
        print_notes(scenario)
    result = compare_scenarios(scenarios, seeds=args.seeds, base_seed=args.seed, out_dir=out, jobs=args.jobs,
                               progress=not args.quiet)
    print(result.table_text())
    print(f"results: {out}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List the shipped scenarios with their questions."""
    shipped = shipped_scenarios()
    width = max((len(name) for name in shipped), default=0)
    for name, path in shipped.items():
        try:
            question = load_scenario(path).question or "(no question given)"
        except ScenarioError as error:
            question = f"INVALID: {error}"
        print(f"{name:<{width}}  {question}")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Check scenario files without running them."""
    for name in args.files:
        path = resolve_path(name)
        scenario = load_scenario(path)
        changes = f", {len(scenario.schedule)} scheduled change(s)" if scenario.schedule else ""
        print(f"{name}: valid (scenario '{scenario.name}', {plural(scenario.run.quarters, 'quarter')} from {scenario.run.start_quarter}{changes})")
        print_notes(scenario)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON schema of scenario files."""
    from simulation.scenario.schema import Scenario

    text = json.dumps(Scenario.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


# ---------------------------------------------------------------- the parser
def _add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quarters", type=int, metavar="Q", help="quarters to simulate (default: the scenario's run.quarters)")
    parser.add_argument("--scale", type=float, metavar="S", help="real firms per firm agent (default: the scenario's run.scale; 1000 is quick)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", default=[],
                        help="change a parameter, e.g. --set relending.rate=0.01 (repeatable)")


def build_parser() -> argparse.ArgumentParser:
    """The full ``innofin`` parser, including subcommands added by extension modules."""
    parser = OneLineParser(prog=PROG, description="InnoFin: agent-based simulation of China's innovation-finance ecosystem.")
    from simulation import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser("run", help="run one scenario and write a results folder",
                         description="Run one scenario and write a results folder (tables, summary, dashboard, report).")
    run.add_argument("scenario", nargs="?", default="baseline", metavar="SCENARIO",
                     help="a shipped scenario name (see 'innofin list') or a .toml path (default: baseline)")
    run.add_argument("--seed", type=seed_value, default=0, metavar="N", help="random seed, a whole number >= 0 (default 0)")
    _add_run_options(run)
    run.add_argument("--out", metavar="DIR", help="results folder to create (default: runs/<scenario>-<timestamp>)")
    run.set_defaults(func=cmd_run)

    compare = sub.add_parser("compare", help="compare scenarios with common random numbers",
                             description="Run each scenario with the same seeds and report paired differences against the first.")
    compare.add_argument("scenarios", nargs="+", metavar="SCENARIO", help="two or more scenarios; the first is the reference")
    compare.add_argument("--seeds", type=int, default=10, metavar="R", help="replications per scenario (default 10)")
    compare.add_argument("--seed", type=seed_value, default=0, metavar="N", help="base seed the replication seeds are drawn from (default 0)")
    _add_run_options(compare)
    compare.add_argument("--jobs", type=int, default=None, metavar="J", help="worker processes (default: number of CPUs; 1 = no pool)")
    compare.add_argument("--out", metavar="DIR", help="results folder to create (default: runs/compare-<A>-vs-<B>-<timestamp>)")
    compare.add_argument("--quiet", action="store_true", help="no progress bar")
    compare.set_defaults(func=cmd_compare)

    lister = sub.add_parser("list", help="list the shipped scenarios and their questions")
    lister.set_defaults(func=cmd_list)

    validate = sub.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("files", nargs="+", metavar="FILE", help="scenario .toml files (or shipped names)")
    validate.set_defaults(func=cmd_validate)

    schema = sub.add_parser("schema", help="print the JSON schema of scenario files (for editors)")
    schema.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")
    schema.set_defaults(func=cmd_schema)

    for module_name in EXTENSION_MODULES:
        module = _optional_module(module_name)
        if module is not None and hasattr(module, "add_commands"):
            module.add_commands(sub)
    return parser


def _optional_module(name: str):
    """Import an extension module if it exists; ``None`` if it (or its package) is absent."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name and (name == error.name or name.startswith(error.name + ".")):
            return None
        raise


def _fail(message: str) -> int:
    print(f"{PROG}: error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``innofin``; returns the exit code."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        code = args.func(args)
        sys.stdout.flush()  # a reader that went away shows here, inside the handlers below, not at exit
        return 0 if code is None else int(code)
    except KeyboardInterrupt:
        print(f"\n{PROG}: interrupted; nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader went away (innofin schema | head): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (ScenarioError, UsageError) as error:
        return _fail(str(error))
    except FileExistsError as error:
        return _fail(str(error))
    except OSError as error:
        where = f"{error.filename}: " if error.filename else ""
        return _fail(f"{where}{error.strerror or error}")


if __name__ == "__main__":
    sys.exit(main())
