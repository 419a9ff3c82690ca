"""A Triton started for one perfanalyzer run (``--launch-server``), and the hint printed when no
server listens at the URL.

``launch_for_run`` loads only the model under test (plus, for an ensemble, its composing models),
so that a run against ``simple`` does not wait for ResNet-50 to load.
"""

from __future__ import annotations

import contextlib
import ipaddress
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

from .. import cleanup
from ..errors import OptionError
from .launcher import (
    LaunchedServer,
    ServerLaunchError,
    TritonLauncher,
    bundled_model_repository,
    port_in_use,
)

DEFAULT_LAUNCH_TIMEOUT_S = 180.0
_LOOPBACK_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost")


def no_server_hint(url: str) -> str:
    """One line for "nothing is listening at URL", saying how to get a server there."""
    return (f"no server is listening at {url}: start one with `perfanalyzer serve` (in another "
            f"terminal), or add --launch-server to start one for this run")


def parse_launch_url(url: str | None) -> tuple[str, int]:
    """``(bind host, port)`` for ``-u`` under ``--launch-server``; port 0 means "any free port".

    Only loopback addresses can be launched on (``localhost:8000``, ``127.0.0.1:8001``, optionally
    with an ``http://`` / ``grpc://`` prefix or a trailing path); anything else is an OptionError.
    """
    if url is None or not url.strip():
        return "127.0.0.1", 0
    rest = url.strip()
    for scheme in ("http://", "https://", "grpc://", "grpcs://"):
        if rest.lower().startswith(scheme):
            rest = rest[len(scheme):]
    rest = rest.split("/", 1)[0]
    host, sep, port_text = rest.rpartition(":")
    if not sep:
        host, port_text = rest, ""
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise OptionError(f"-u {url}: --launch-server needs HOST:PORT with a port in 1..65535")
    if host.lower() in _LOOPBACK_NAMES or not host:
        return "127.0.0.1", int(port_text)
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        addr = None
    if addr is None or addr.version != 4 or not addr.is_loopback:
        raise OptionError(f"-u {url}: --launch-server can only start a server on this machine; "
                          f"use a loopback address such as localhost:{port_text}")
    return host, int(port_text)


def _check_model(repo: Path, model: str) -> None:
    if not repo.is_dir():
        raise OptionError(f"--model-repository: {repo} is not a directory")
    if not (repo / model / "config.pbtxt").is_file():
        names = sorted(p.name for p in repo.iterdir() if (p / "config.pbtxt").is_file())
        raise OptionError(f"-m {model}: no such model in {repo} (models there: "
                          f"{', '.join(names) or 'none'})")


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """While active, SIGTERM raises SystemExit(143) in the main thread (if SIGTERM still has its
    default action), so ``finally`` blocks run and the server is stopped."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        yield
        return

    def _raise(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


@contextlib.contextmanager
def launch_for_run(url: str | None, protocol: str, model: str, *,
                   model_repository: Path | None = None,
                   timeout_s: float = DEFAULT_LAUNCH_TIMEOUT_S) -> Iterator[LaunchedServer]:
    """Start Triton for one run and stop it when the block ends (normally, on an exception, on
    KeyboardInterrupt, or on SIGTERM while SIGTERM has its default action).

    The server serves ``model_repository`` (default: the bundled one) on loopback and loads only
    ``model``. ``url`` names the port of ``protocol`` ("http" or "grpc"); the other ports are free
    ones; ``url=None`` picks free ports for all. Returns once ``model`` is ready, after printing
    one line to stderr saying where the server listens.

    Raises OptionError for a URL that is not loopback or a model not in the repository, and
    ServerLaunchError (with the server's own error lines) when the port is taken, the server
    cannot start, or the model is not ready within ``timeout_s``.
    """
    host, port = parse_launch_url(url)
    repo = Path(model_repository) if model_repository is not None else bundled_model_repository()
    _check_model(repo, model)
    if port and port_in_use(port, host):
        raise ServerLaunchError(
            f"--launch-server: port {port} of -u {url} is already in use; if a server is already "
            f"running there, drop --launch-server")
    grpc = protocol.lower() == "grpc"
    # The parent-death signal follows the thread that started the server: main thread only.
    main = threading.current_thread() is threading.main_thread()
    launcher = TritonLauncher(model_repository=repo, host=host,
                              http_port=0 if grpc else port, grpc_port=port if grpc else 0,
                              explicit_models=[model], die_with_parent=main)
    with _sigterm_raises():
        server = launcher.start(timeout_s=timeout_s, models=[model])
        try:
            print(f"perfanalyzer: started Triton serving '{model}' from {repo} (HTTP "
                  f"{server.http_url}, gRPC {server.grpc_url}); it stops when the run ends",
                  file=sys.stderr, flush=True)
            yield server
        finally:
            server.stop()


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerLaunchSettings:
    """What ``--launch-server`` reads of a run's configuration."""

    #: -u: the port of ``protocol`` to serve on ('': free ports)
    url: str
    protocol: str
    model: str
    model_repository: str | None
    #: --collect-metrics without --metrics-url: the run scrapes the launched server's own port
    wants_metrics_url: bool


@dataclass(frozen=True, slots=True)
class ServedAt:
    """Where the launched server listens, for the run to point at."""

    url: str
    #: its metrics endpoint when the run scrapes it (``wants_metrics_url``), else None
    metrics_url: str | None


@contextlib.contextmanager
def server_for_run(launch: ServerLaunchSettings) -> Iterator[ServedAt]:
    """``--launch-server``: the bundled (or ``--model-repository``) server for this run, and
    where it listens. A second Ctrl-C exits at once (os._exit): the server is registered with the
    cleanup stack so it goes down with us then too."""
    repo = Path(launch.model_repository) if launch.model_repository else None
    with launch_for_run(launch.url or None, launch.protocol, launch.model,
                        model_repository=repo) as srv:
        stop = cleanup.register(lambda: srv.stop(timeout_s=2))
        try:
            # the metrics endpoint is its own port, not -u's host:8002
            yield ServedAt(srv.url(launch.protocol),
                           srv.metrics_url if launch.wants_metrics_url else None)
        finally:
            cleanup.unregister(stop)
