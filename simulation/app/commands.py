"""``innofin app [SCENARIO] [--port P] [--host H]``: serve the classroom app on this machine.

The command checks the scenario, starts ``solara run`` on the app page (usage
telemetry off), waits until the page answers and prints its address. Ctrl-C
stops the server. The server process is also what the browser tests start.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from simulation.scenario.loader import load_scenario, shipped_scenarios

APP_FILE = Path(__file__).with_name("app.py")
SCENARIO_ENV = "INNOFIN_APP_SCENARIO"  # read by simulation.app.app.Page
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
EXIT_BAD_INPUT = 2
VIZ_MODULES = ("solara", "mesa.visualization", "networkx")
QUIET_WARNINGS = "ignore::UserWarning:solara.validate_hooks,ignore::UserWarning:solara.server.starlette"


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register the ``app`` subcommand (its handler is ``func`` in the parsed arguments)."""
    parser = subparsers.add_parser(
        "app", help="open the classroom app in a web browser (needs the 'viz' extra)",
        description="Serve the InnoFin classroom app (Mesa SolaraViz) on this machine and print its address. Ctrl-C stops it.",
    )
    parser.add_argument("scenario", nargs="?", default="baseline",
                        help=f"scenario the page opens with: a shipped name ({', '.join(shipped_scenarios()) or 'none'}) or a TOML path")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--host", default=DEFAULT_HOST, help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    parser.set_defaults(func=cmd_app)


def missing_viz_modules() -> list[str]:
    """Modules of the ``viz`` extra that cannot be found."""
    missing = []
    for name in VIZ_MODULES:
        try:
            found = importlib.util.find_spec(name) is not None
        except ModuleNotFoundError:
            found = False
        if not found:
            missing.append(name)
    return missing


def free_port(host: str = DEFAULT_HOST) -> int:
    """A TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def scenario_argument(scenario: str) -> str:
    """A shipped name as is; a file as an absolute path (the server may run elsewhere)."""
    if scenario in shipped_scenarios():
        return scenario
    path = Path(scenario)
    return str(path.resolve()) if path.is_file() else scenario


def start_server(scenario: str = "baseline", host: str = DEFAULT_HOST, port: int = DEFAULT_PORT,
                 log: int | None = subprocess.DEVNULL) -> subprocess.Popen:
    """Start ``solara run`` on the app page in a child process (not waiting for it).

    Args:
        scenario: scenario the page opens with (validated by the caller).
        host: address to listen on.
        port: TCP port.
        log: where the server's output goes (a file descriptor, ``None`` to inherit).
    """
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False", SCENARIO_ENV: scenario_argument(scenario)}
    # Two harmless start-up warnings would fill a teacher's terminal: solara's hook check of Mesa 3.3's
    # ComponentsView and its note on cookies over plain http (the app serves localhost only).
    env.setdefault("PYTHONWARNINGS", QUIET_WARNINGS)
    command = [sys.executable, "-m", "solara", "run", str(APP_FILE), "--host", host, "--port", str(port), "--production", "--no-open"]
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT if log is not None else None)


def wait_until_ready(url: str, server: subprocess.Popen, timeout_s: float = 60.0) -> float:
    """Poll ``url`` until it answers HTTP 200; returns the seconds waited.

    Raises:
        RuntimeError: the server exited or did not answer within ``timeout_s``.
    """
    started = time.perf_counter()
    while time.perf_counter() - started < timeout_s:
        if server.poll() is not None:
            raise RuntimeError(f"the app server exited with code {server.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return time.perf_counter() - started
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the app server did not answer at {url} within {timeout_s:.0f} s")


def stop_server(server: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_server`."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def cmd_app(args: argparse.Namespace) -> int:
    """Serve the app until Ctrl-C; returns the exit code."""
    load_scenario(args.scenario)  # a bad scenario raises ScenarioError: one line, exit code 2
    missing = missing_viz_modules()
    if missing:
        print(f"innofin: error: app: missing {', '.join(missing)}; install the app's extra: pip install -e '.[viz]'", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not 0 <= args.port <= 65535:
        print(f"innofin: error: --port {args.port}: must be between 0 and 65535", file=sys.stderr)
        return EXIT_BAD_INPUT
    port = args.port or free_port(args.host)
    if port_in_use(args.host, port):
        print(f"innofin: error: --port {port}: already in use on {args.host}; choose another with --port", file=sys.stderr)
        return EXIT_BAD_INPUT
    everywhere = args.host in ("0.0.0.0", "::", "")
    url = f"http://{'127.0.0.1' if everywhere else args.host}:{port}/"
    server = start_server(args.scenario, args.host, port, log=None)
    # A polite kill (SIGTERM) stops the server too, like Ctrl-C.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    try:
        seconds = wait_until_ready(url, server)
        also = f" (and at this machine's network address, port {port})" if everywhere else ""
        print(f"InnoFin app ({args.scenario}) is running at {url}{also}  (ready in {seconds:.1f} s; Ctrl-C stops it)", flush=True)
        return server.wait()
    except RuntimeError as error:
        print(f"innofin: error: app: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ninnofin: app stopped", file=sys.stderr)
        return 0
    finally:
        stop_server(server)
