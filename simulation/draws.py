"""The model's named random streams, with whole-population draws made ahead on a second thread.

Each phase of a quarter draws from its own stream (``"hazard"``, ``"order"``, ...),
one value per population row, so that paired runs give each firm the same
numbers (common random numbers). Those draws depend only on the population's row
count, so a worker thread can make them before the phases ask: the first
whole-population draw of each stream in a quarter is made ahead, in the order
the streams were first used in the previous quarter.

It is made in two parts. At the start of a quarter (:meth:`Streams.begin_quarter`)
the worker draws for the rows the population already has; once the quarter's
entrants are added (:meth:`Streams.new_quarter`) it draws the rest. numpy's
generators make each value from the values before it only, so ``n`` draws in two
parts are the ``n`` draws made at once (a test checks this for each kind), and the
first part overlaps with entry instead of holding up the first phase. A first part
still waiting in the worker's queue when the entrants are added is replaced by one
draw of all the rows, queued in the order of use.

The results are the same, bit for bit, with or without drawing ahead: a stream's
state is saved before its draw ahead, and restored if the phase then asks for
something else (another kind of draw, another size, a direct use of the
generator) or the run stops first. numpy's generators release the GIL while they
fill an array, so the worker thread runs alongside the model's Python code.
"""

from __future__ import annotations

import math
import statistics
import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import numpy as np

# Below this many population rows a quarter's draws take well under a millisecond: not worth a thread.
DRAW_AHEAD_MIN_ROWS = 20_000

# The interpreter's thread switch interval while drawing ahead (seconds; Python's default is 0.005).
# The model's main thread runs long stretches of Python (agent registration) that would otherwise
# hold up the start of the worker's draws by up to the default interval each time.
SWITCH_INTERVAL_S = 0.001

# Up to this mean P(K = 0) = e^-mean is a normal double and Poisson counts are found exactly;
# above it (far beyond any count the model makes) a normal approximation is used.
POISSON_EXACT_MAX_MEAN = 700.0

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
        self._pending: dict[str, tuple[_Request, list[Future], dict]] = {}  # request, its parts, state before
        self._first_use: dict[str, _Request | None] = {}  # this quarter, in order (None: used directly)
        self._plan: dict[str, _Request | None] = {}  # the previous quarter's first uses
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
            asked, parts, state = pending
            values = [part.result() for part in parts]
            if asked == request:
                return values[0] if len(values) == 1 else np.concatenate(values)
            self._generators[name].bit_generator.state = state
        return self._draw(name, request)

    def begin_quarter(self, n: int) -> None:
        """A quarter starts with ``n`` population rows: draw ahead for them (inside :meth:`ahead` only)."""
        self._plan, self._first_use = self._first_use, {}
        if self._executor is None or n < DRAW_AHEAD_MIN_ROWS:
            return
        for name, request in self._plan.items():
            if request is not None:
                self._submit(name, request[0], n, request[2])

    def new_quarter(self, n: int) -> None:
        """The population has its ``n`` rows for this quarter: draw the rest ahead (inside :meth:`ahead` only)."""
        if self._executor is None or n < DRAW_AHEAD_MIN_ROWS:
            return
        for name, request in self._plan.items():
            if request is None or (name in self._first_use and name not in self._pending):
                continue  # used directly, or already drawn this quarter
            self._submit(name, request[0], n, request[2])

    def _submit(self, name: str, kind: str, n: int, args: tuple[Any, ...]) -> None:
        """Have the worker draw stream ``name`` up to ``n`` values of ``kind`` (after any part it already has)."""
        pending = self._pending.get(name)
        if pending is None:
            state = self._generators[name].bit_generator.state
            self._pending[name] = ((kind, n, args), [self._executor.submit(self._draw, name, (kind, n, args))], state)
            return
        (asked_kind, asked_n, asked_args), parts, state = pending
        if (asked_kind, asked_args) != (kind, args) or n <= asked_n:
            return
        if len(parts) == 1 and parts[0].cancel():  # not started yet: one draw of all n instead, in this queue position
            parts = [self._executor.submit(self._draw, name, (kind, n, args))]
        else:
            parts.append(self._executor.submit(self._draw, name, (kind, n - asked_n, args)))
        self._pending[name] = ((kind, n, args), parts, state)

    @contextmanager
    def ahead(self) -> Iterator[None]:
        """Draw ahead on a worker thread inside this block; on leaving it, unused draws are undone."""
        if self._executor is not None:  # nested: the outer block already draws ahead
            yield
            return
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="innofin-draws")
        switch_interval = sys.getswitchinterval()
        # the worker needs the GIL to start each draw: let the interpreter hand it over within 1 ms, not 5
        sys.setswitchinterval(min(switch_interval, SWITCH_INTERVAL_S))
        try:
            yield
        finally:
            sys.setswitchinterval(switch_interval)
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
            _, parts, state = pending
            for part in parts:
                part.result()
            self._generators[name].bit_generator.state = state


def poisson_from_uniforms(mean: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Poisson counts with means ``mean`` (>= 0) from uniform draws ``u`` in [0, 1), one each, by inverting the CDF.

    Each count is the smallest k with P(K <= k) > u, so it depends only on its own
    mean and draw: a firm keeps its random number when other firms' means change
    (common random numbers), which a generator's sequential Poisson draws do not give.
    Terms P(K = k) = P(K = k - 1) * mean / k are added until the draw is passed; the loop
    runs over the still-undecided values only, and with means below one most are decided
    at k = 0. Means above :data:`POISSON_EXACT_MAX_MEAN` use the normal approximation
    with continuity correction.
    """
    mean = np.asarray(mean, dtype=float)
    u = np.asarray(u, dtype=float)
    counts = np.zeros(mean.shape, dtype=np.int64)
    large = mean > POISSON_EXACT_MAX_MEAN
    term = np.exp(-np.where(large, 0.0, mean))  # P(K = 0)
    todo = np.flatnonzero((u >= term) & ~large)
    term, cdf, m, draw = term[todo], term[todo], mean[todo], u[todo]
    k = 0
    while len(todo):
        k += 1
        counts[todo] = k
        term = term * m / k
        cdf = cdf + term
        more = (draw >= cdf) & (term > 0.0)  # a term that underflows ends the (rounding-limited) far tail
        todo, term, cdf, m, draw = todo[more], term[more], cdf[more], m[more], draw[more]
    if large.any():
        normal = statistics.NormalDist()
        for i in np.flatnonzero(large).tolist():
            z = normal.inv_cdf(min(max(float(u[i]), 1e-300), 1.0 - 1e-16))
            counts[i] = max(0, math.floor(mean[i] + math.sqrt(mean[i]) * z + 0.5))
    return counts
