"""Provenance of a results folder: seed, scale, package versions, git commit, command line."""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import platform
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

PACKAGES = ("innofin", "mesa", "numpy", "pandas", "pyarrow", "pydantic", "matplotlib", "tqdm")
SOURCE_ROOT = Path(__file__).resolve().parents[2]


def package_versions() -> dict[str, str | None]:
    """Installed versions of Python and the packages a run depends on (``None`` if absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_commit(root: Path = SOURCE_ROOT) -> str | None:
    """The commit of the source tree (suffixed ``-dirty`` if it has changes), or ``None`` outside git."""
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10, check=True)
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    sha = commit.stdout.strip()
    return f"{sha}-dirty" if status.stdout.strip() else sha or None


def command_line(argv: list[str] | None = None) -> str:
    """The command that produced the results, quoted for a shell."""
    return shlex.join(argv if argv is not None else [Path(sys.argv[0]).name, *sys.argv[1:]])


def build_manifest(*, scenario: str, seed: Any, scale: float, quarters: int, start_quarter: str,
                   wall_time_s: float | None, command: str | None = None, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``manifest.json`` content of one run (times in seconds, UTC timestamps)."""
    manifest = {
        "scenario": scenario,
        "seed": seed if isinstance(seed, (int, str)) or seed is None else repr(seed),
        "scale": scale,
        "quarters": quarters,
        "start_quarter": start_quarter,
        "package_versions": package_versions(),
        "git_commit": git_commit(),
        "command_line": command if command is not None else command_line(),
        "wall_time_s": wall_time_s,
        "created_utc": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "platform": platform.platform(),
    }
    manifest.update(extra or {})
    return manifest
