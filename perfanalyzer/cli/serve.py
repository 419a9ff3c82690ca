"""``perfanalyzer serve``: run a local Triton in the foreground until Ctrl-C or SIGTERM.

Exit codes: 0 after Ctrl-C / SIGTERM, 3 for a bad option, 99 when the server cannot start (missing
``server`` extra, port in use, a model that fails to load or is not ready in time) or dies.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn

import click

from ..errors import EXIT_GENERIC, EXIT_OK, EXIT_OPTION, OptionError, PerfAnalyzerError
from .floats import FiniteFloat

DEFAULT_HTTP_PORT = 8000
DEFAULT_GRPC_PORT = 8001
DEFAULT_METRICS_PORT = 8002
DEFAULT_HOST = "127.0.0.1"
DEFAULT_READY_TIMEOUT_S = 180.0
POLL_S = 0.2
PROG = "perfanalyzer serve"


class _Stop(BaseException):
    """Raised by the SIGINT/SIGTERM handler to unwind to the clean shutdown."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


class _OptionUsageError(click.UsageError):
    exit_code = EXIT_OPTION


class _ServeCommand(click.Command):
    """Bad options exit with 3 (perf_analyzer's option-error code), also when run standalone."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _OptionUsageError:
            raise
        except click.UsageError as exc:
            raise _OptionUsageError(exc.format_message(), exc.ctx) from exc


def _fail(message: str, code: int = EXIT_GENERIC) -> NoReturn:
    click.echo(f"{PROG}: error: {message}", err=True)
    sys.exit(code)


@contextlib.contextmanager
def _stop_on_signals() -> Iterator[None]:
    """SIGINT and SIGTERM raise ``_Stop`` once; later ones are ignored while shutting down."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}

    def handler(signum: int, frame: FrameType | None) -> None:
        for s in saved:
            signal.signal(s, signal.SIG_IGN)
        raise _Stop(signum)

    for s in saved:
        signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in saved.items():
            signal.signal(s, h)


def _check_options(repo: Path, models: Sequence[str], ports: dict[str, int],
                   host: str = DEFAULT_HOST) -> None:
    from ..server.launcher import host_problem

    problem = host_problem(host)
    if problem is not None:
        raise OptionError(f"--host: {problem}")
    if not repo.is_dir():
        raise OptionError(f"--model-repository: {repo} is not a directory")
    for m in models:
        if not (repo / m / "config.pbtxt").is_file():
            names = sorted(p.name for p in repo.iterdir() if (p / "config.pbtxt").is_file())
            raise OptionError(f"--model {m}: no such model in {repo} (models there: "
                              f"{', '.join(names) or 'none'})")
    taken = [p for p in ports.values() if p]
    if len(taken) != len(set(taken)):
        raise OptionError("--http-port, --grpc-port and --metrics-port must differ")


def _ready_models(http_url: str) -> list[str]:
    req = urllib.request.Request(f"http://{http_url}/v2/repository/index", data=b"{}")
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            index: list[dict[str, Any]] = json.loads(resp.read())
    except (urllib.error.URLError, OSError, ValueError):
        return []
    return sorted({e["name"] for e in index if e.get("state") == "READY"})


class _LogStreamer(threading.Thread):
    """Copies the server's log to stderr as it grows (``--verbose``), until the server is gone."""

    def __init__(self, server: Any) -> None:
        super().__init__(name="serve-log", daemon=True)
        self.server = server

    def run(self) -> None:
        pos = 0
        while True:
            finished = not self.server.alive()
            with contextlib.suppress(OSError), open(self.server.log_path, "rb") as f:
                f.seek(pos)
                chunk = f.read()
                pos += len(chunk)
                if chunk:
                    sys.stderr.write(chunk.decode(errors="replace"))
                    sys.stderr.flush()
            if finished:
                return
            time.sleep(POLL_S)


def _banner(server: Any, repo: Path) -> str:
    models = _ready_models(server.http_url)
    example = "simple" if "simple" in models else (models[0] if models else "MODEL")
    return "\n".join([
        f"{PROG}: Triton is ready, serving {repo}",
        f"  models   {', '.join(models) or '(none)'}",
        f"  HTTP     http://{server.http_url}",
        f"  gRPC     {server.grpc_url}",
        f"  metrics  http://{server.metrics_url}",
        f"Try: perfanalyzer -m {example} -u {server.http_url}",
        "Press Ctrl-C to stop.",
    ])


def _ignore_signals() -> None:
    if threading.current_thread() is threading.main_thread():
        for s in (signal.SIGINT, signal.SIGTERM):
            signal.signal(s, signal.SIG_IGN)


def _serve_forever(server: Any, repo: Path, models: Sequence[str], timeout_s: float,
                   verbose: int) -> NoReturn:
    """Wait until ready, print where, then block until the server dies (an error)."""
    if verbose:
        _LogStreamer(server).start()
    server.wait_ready(timeout_s, models)
    click.echo(_banner(server, repo))
    while server.alive():
        time.sleep(POLL_S)
    detail = "".join(f"\n  {ln}" for ln in server.error_lines())
    _fail(f"Triton exited unexpectedly (status {server.process.returncode}){detail}")


def _run(launcher: Any, repo: Path, models: Sequence[str], timeout_s: float,
         verbose: int) -> int:
    """Start and serve until SIGINT/SIGTERM (returns 0); the server is stopped however this ends,
    with further signals ignored meanwhile. Raises PerfAnalyzerError or SystemExit."""
    server = None
    with _stop_on_signals():
        try:
            server = launcher.start(timeout_s=timeout_s, wait=False)
            _serve_forever(server, repo, models, timeout_s, verbose)
        except _Stop as stop:
            click.echo(f"{PROG}: {signal.Signals(stop.signum).name}: stopping Triton...",
                       err=True)
            server_was = server
            server = None
            _ignore_signals()
            if server_was is not None:
                server_was.stop()
            click.echo(f"{PROG}: stopped", err=True)
            return EXIT_OK
        finally:
            if server is not None:
                _ignore_signals()
                server.stop()


def _serve(model_repository: Path | None, http_port: int, grpc_port: int, metrics_port: int,
           host: str, model: tuple[str, ...], verbose: int, ready_timeout: float) -> None:
    """Run a local Triton Inference Server in the foreground (Ctrl-C stops it).

    Serves the bundled example models (simple, simple_string, repeat_int32, simple_sequence,
    resnet50) unless --model-repository names another repository. Port 0 picks a free port.
    """
    from ..server.launcher import TritonLauncher, bundled_model_repository

    repo = Path(model_repository) if model_repository else bundled_model_repository()
    ports = {"http": http_port, "grpc": grpc_port, "metrics": metrics_port}
    try:
        _check_options(repo, model, ports, host)
        launcher = TritonLauncher(
            model_repository=repo, http_port=http_port, grpc_port=grpc_port,
            metrics_port=metrics_port, host=host, explicit_models=list(model) or ["*"],
            log_verbose=1 if verbose > 1 else 0, die_with_parent=True)
        code = _run(launcher, repo, model, ready_timeout, verbose)
    except PerfAnalyzerError as exc:
        _fail(str(exc), exc.exit_code)
    sys.exit(code)


_PORT = click.IntRange(0, 65535)

serve = click.command(
    "serve", cls=_ServeCommand,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)(
    click.option("--model-repository", type=click.Path(path_type=Path), default=None,
                 help="Model repository to serve [default: the bundled examples].")(
    click.option("--http-port", type=_PORT, default=DEFAULT_HTTP_PORT, show_default=True,
                 help="HTTP/REST port (0: any free port).")(
    click.option("--grpc-port", type=_PORT, default=DEFAULT_GRPC_PORT, show_default=True,
                 help="gRPC port (0: any free port).")(
    click.option("--metrics-port", type=_PORT, default=DEFAULT_METRICS_PORT, show_default=True,
                 help="Prometheus metrics port (0: any free port).")(
    click.option("--host", default=DEFAULT_HOST, show_default=True,
                 help="Address to listen on (0.0.0.0: every interface).")(
    click.option("--model", multiple=True, metavar="NAME",
                 help="Load only this model (repeatable) [default: every model].")(
    click.option("-v", "--verbose", count=True,
                 help="Stream the server's log to stderr (-vv: Triton's verbose log).")(
    click.option("--ready-timeout", type=FiniteFloat(min=0, min_open=True),
                 default=DEFAULT_READY_TIMEOUT_S, show_default=True, metavar="SECONDS",
                 help="How long to wait for the models to be ready.")(
        _serve)))))))))

__all__ = ["serve"]
