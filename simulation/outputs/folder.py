"""Write a results folder all at once: into a hidden sibling first, then rename.

If anything fails (an error, or Ctrl-C / ``KeyboardInterrupt``) while the
folder is being written, the half-written sibling is removed and the target
folder never appears.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path


class OutputExistsError(FileExistsError):
    """The output folder already exists and is not empty."""


def check_target(out_dir: Path) -> None:
    """Refuse to write into an existing non-empty folder (raises :class:`OutputExistsError`)."""
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise OutputExistsError(f"{out_dir}: output folder already exists; choose another --out or remove it")


@contextlib.contextmanager
def atomic_folder(out_dir: str | Path) -> Iterator[Path]:
    """Yield a temporary folder next to ``out_dir``; rename it to ``out_dir`` on success.

    Example:
        >>> with atomic_folder("runs/baseline") as tmp:   # doctest: +SKIP
        ...     (tmp / "summary.json").write_text("{}")
    """
    out_dir = Path(out_dir)
    check_target(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.partial-{uuid.uuid4().hex[:12]}"
    try:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.mkdir()
    except OSError as error:  # name the folder asked for, not the hidden temporary one
        raise OSError(error.errno, f"cannot create the results folder ({error.strerror})", str(out_dir)) from None
    try:
        yield tmp
        check_target(out_dir)
        if out_dir.exists():
            out_dir.rmdir()  # an empty folder we may replace
        os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
