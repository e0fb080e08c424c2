"""The model's named random streams, with whole-population draws made ahead on a second thread.

Each phase of a quarter draws from its own stream (``"hazard"``, ``"order"``, ...),
one value per population row, so that paired runs give each firm the same
numbers (common random numbers). Those draws depend only on the population's row
count, which is fixed once the quarter's entrants are added; so while the main
thread works through the quarter, a worker thread can already make them. The
first whole-population draw of each stream in a quarter is made ahead, in the
order the streams were first used in the previous quarter.

The results are the same, bit for bit, with or without drawing ahead: a stream's
state is saved before its draw ahead, and restored if the phase then asks for
something else (another kind of draw, another size, a direct use of the
generator) or the run stops first. numpy's generators release the GIL while they
fill an array, so the worker thread runs alongside the model's Python code.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

# Below this many population rows a quarter's draws take well under a millisecond: not worth a thread.
DRAW_AHEAD_MIN_ROWS = 20_000

# kind of draw -> numpy Generator method (its leading arguments are the request's ``args``)
_METHODS = {"uniform": "random", "normal": "standard_normal", "student_t": "standard_t"}

_Request = tuple[str, int, tuple[Any, ...]]  # kind, number of values, leading arguments


class Streams:
    """Named numpy generators; ``streams[name]`` gives one for direct use, :meth:`rows` a whole-population draw.

    Args:
        seeds: stream name -> seed.
    """

    def __init__(self, seeds: dict[str, int]):
        self._generators = {name: np.random.default_rng(seed) for name, seed in seeds.items()}
        self._pending: dict[str, tuple[_Request, Future, dict]] = {}
        self._first_use: dict[str, _Request | None] = {}  # this quarter, in order (None: used directly)
        self._executor: ThreadPoolExecutor | None = None

    def __getitem__(self, name: str) -> np.random.Generator:
        """The generator of stream ``name``, for draws of other shapes (a draw made ahead is undone first)."""
        self._undo(name)
        self._first_use.setdefault(name, None)
        return self._generators[name]

    def rows(self, name: str, kind: str, n: int, *args: Any) -> np.ndarray:
        """``n`` values (one per population row) of ``kind`` ("uniform", "normal", "student_t" with its df) from stream ``name``."""
        request = (kind, int(n), args)
        self._first_use.setdefault(name, request)
        pending = self._pending.pop(name, None)
        if pending is not None:
            asked, future, state = pending
            values = future.result()
            if asked == request:
                return values
            self._generators[name].bit_generator.state = state
        return self._draw(name, request)

    def new_quarter(self, n: int) -> None:
        """The population has its ``n`` rows for this quarter: start drawing ahead (inside :meth:`ahead` only)."""
        plan, self._first_use = self._first_use, {}
        if self._executor is None or n < DRAW_AHEAD_MIN_ROWS:
            return
        for name, request in plan.items():
            if request is None or name in self._pending:
                continue
            kind, _, args = request
            ahead = (kind, int(n), args)
            state = self._generators[name].bit_generator.state
            self._pending[name] = (ahead, self._executor.submit(self._draw, name, ahead), state)

    @contextmanager
    def ahead(self) -> Iterator[None]:
        """Draw ahead on a worker thread inside this block; on leaving it, unused draws are undone."""
        if self._executor is not None:  # nested: the outer block already draws ahead
            yield
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="innofin-draws")
        try:
            yield
        finally:
            for name in list(self._pending):
                self._undo(name)
            self._executor.shutdown()
            self._executor = None

    def _draw(self, name: str, request: _Request) -> np.ndarray:
        kind, n, args = request
        return getattr(self._generators[name], _METHODS[kind])(*args, n)

    def _undo(self, name: str) -> None:
        pending = self._pending.pop(name, None)
        if pending is not None:
            _, future, state = pending
            future.result()
            self._generators[name].bit_generator.state = state
