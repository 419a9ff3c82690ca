"""Start and stop a real Triton server from the ``nvidia-pytriton`` wheel.

The wheel ships the ``tritonserver`` binary, its shared libraries and the python backend with a
stub per Python version. We copy the backend into a private directory, add the stub matching this
interpreter, put this interpreter's ``bin/`` first on PATH (the stub finds numpy that way) and give
the python backend a unique shared-memory prefix, so that everything the server leaves in /dev/shm
can be removed exactly when it stops.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import PerfAnalyzerError

DEFAULT_READY_TIMEOUT_S = 120.0
SHM_PREFIX = "pa_triton_"
MODELS_DIR = Path(__file__).with_name("models")
# Error lines Triton prints on every CPU-only start; they say nothing about what went wrong.
_NOISE = ("CudaDriverHelper has not been initialized",)
_LOADING = re.compile(r'"loading: ([^:"]+):')
_LOADED = re.compile(r"(?:successfully loaded|failed to load) '([^']+)'")


class ServerLaunchError(PerfAnalyzerError):
    """The local server could not be started (missing extra, port in use, model failed...)."""


def bundled_model_repository() -> Path:
    """The model repository shipped inside the package (same in a checkout and an installed
    wheel)."""
    return MODELS_DIR


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def host_problem(host: str) -> str | None:
    """Why the server cannot listen on ``host`` (not an address of this machine, or a name that
    does not resolve), or None when it can."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, 0))
        except socket.gaierror as exc:
            return f"{host[:100]!r} is not an address ({exc.strerror or exc})"
        except (OSError, UnicodeError, ValueError) as exc:
            return f"cannot listen on {host[:100]!r} ({getattr(exc, 'strerror', None) or exc})"
    return None


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` is taken on ``host`` (only EADDRINUSE says so; a bad host is
    :func:`host_problem`'s)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


@dataclass(frozen=True)
class TritonInstall:
    binary: Path
    libs: Path
    backend: Path
    stub: Path

    @classmethod
    def find(cls) -> TritonInstall:
        spec = importlib.util.find_spec("pytriton")
        if spec is None or not spec.submodule_search_locations:
            raise ServerLaunchError("the local Triton server needs the 'server' extra: "
                                    "pip install 'perfanalyzer[server]'")
        root = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
        site = root.parent.parent
        ver = f"{sys.version_info.major}.{sys.version_info.minor}"
        inst = cls(
            binary=root / "bin" / "tritonserver",
            libs=site / "nvidia_pytriton.libs",
            backend=root / "backends" / "python",
            stub=root / "python_backend_stubs" / ver / "triton_python_backend_stub",
        )
        for p in (inst.binary, inst.backend, inst.stub):
            if not p.exists():
                raise ServerLaunchError(f"nvidia-pytriton install is incomplete: {p} is missing")
        return inst


@dataclass
class LaunchedServer:
    """A running server. ``stop()`` (or leaving the ``with`` block) shuts it down and cleans up."""

    process: subprocess.Popen[bytes]
    http_port: int
    grpc_port: int
    metrics_port: int
    workdir: Path
    log_path: Path
    shm_prefix: str
    host: str = "127.0.0.1"
    _stopped: bool = field(default=False, repr=False)

    @property
    def http_url(self) -> str:
        return f"{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    @property
    def metrics_url(self) -> str:
        return f"{self.host}:{self.metrics_port}/metrics"

    def url(self, protocol: str) -> str:
        return self.grpc_url if protocol == "grpc" else self.http_url

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def error_lines(self, limit: int = 20) -> list[str]:
        """The server's own error lines (``E...`` log lines and failed model states)."""
        lines = [ln for ln in self.log_text().splitlines()
                 if (ln.startswith("E") or "UNAVAILABLE:" in ln or "error:" in ln.lower())
                 and not any(noise in ln for noise in _NOISE)]
        return lines[-limit:]

    def loading_models(self) -> list[str]:
        """Models the log shows as started loading but neither loaded nor failed (yet)."""
        text = self.log_text()
        done = set(_LOADED.findall(text))
        return [m for m in dict.fromkeys(_LOADING.findall(text)) if m not in done]

    def model_state(self, model: str) -> str | None:
        """``STATE`` or ``STATE: reason`` from the repository index; None if it cannot be read."""
        req = urllib.request.Request(f"http://{self.http_url}/v2/repository/index", data=b"{}")
        try:
            with urllib.request.urlopen(req, timeout=2) as resp:
                index = json.loads(resp.read())
        except (urllib.error.URLError, OSError, ValueError):
            return None
        for entry in index:
            if entry.get("name") == model:
                state, reason = entry.get("state") or "not loaded", entry.get("reason")
                return f"{state}: {reason}" if reason else str(state)
        return "not in the repository index" if isinstance(index, list) else None

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_ready(self, timeout_s: float = DEFAULT_READY_TIMEOUT_S,
                   models: Sequence[str] = ()) -> None:
        deadline = time.monotonic() + timeout_s
        paths = ["/v2/health/ready"] + [f"/v2/models/{m}/ready" for m in models]
        pending = list(paths)
        while pending:
            if not self.alive():
                raise ServerLaunchError(self._failure("exited during start-up"))
            try:
                with urllib.request.urlopen(f"http://{self.http_url}{pending[0]}", timeout=2):
                    pending.pop(0)
                    continue
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise ServerLaunchError(self._not_ready(pending[0], paths[0], timeout_s))
            time.sleep(0.1)

    def _not_ready(self, path: str, server_path: str, timeout_s: float) -> str:
        after = f"not ready after {timeout_s:g} s"
        if path == server_path:
            loading = self.loading_models()
            reason = f": still loading model {', '.join(loading)}" if loading else ""
            return self._failure(after + reason)
        model = path.split("/")[3]
        state = self.model_state(model)
        reason = f" (state {state})" if state else ""
        return self._failure(after + reason, f"Triton: model '{model}'", tail=not state)

    def _failure(self, what: str, subject: str = "Triton", tail: bool = True) -> str:
        # The log is usually deleted with the workdir right after; so quote it, not its path.
        lines = self.error_lines()
        if not lines and tail:
            lines = [ln for ln in self.log_text().splitlines()[-3:]
                     if not any(n in ln for n in _NOISE)]
        detail = ("\n  " + "\n  ".join(lines)) if lines else ""
        return f"{subject} {what}{detail}"

    def stop(self, timeout_s: float = 30.0) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        # Stubs are in the same process group; make sure none survives a crashed server.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        for seg in Path("/dev/shm").glob(f"{self.shm_prefix}*"):
            with contextlib.suppress(OSError):
                seg.unlink()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> LaunchedServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class TritonLauncher:
    """Builds the command line and environment, then starts the server."""

    model_repository: Path = field(default_factory=bundled_model_repository)
    http_port: int = 0
    grpc_port: int = 0
    metrics_port: int = 0
    host: str = "127.0.0.1"
    explicit_models: Sequence[str] | None = None  # None: load all (mode none); list: explicit mode
    extra_args: Sequence[str] = ()
    log_verbose: int = 0
    log_path: Path | None = None  # None: a file in the private workdir
    # True: the server gets SIGTERM if this process dies (even by SIGKILL), via `setpriv
    # --pdeathsig` where available. Start it from the main thread: the signal follows the thread.
    die_with_parent: bool = False

    def start(self, timeout_s: float = DEFAULT_READY_TIMEOUT_S, wait: bool = True,
              models: Sequence[str] = ()) -> LaunchedServer:
        inst = TritonInstall.find()
        repo = Path(self.model_repository)
        if not repo.is_dir():
            raise ServerLaunchError(f"--model-repository: {repo} is not a directory")
        problem = host_problem(self.host)
        if problem is not None:
            raise ServerLaunchError(f"--host: {problem}")
        ports = {}
        for name, port in (("http", self.http_port), ("grpc", self.grpc_port),
                           ("metrics", self.metrics_port)):
            if port and port_in_use(port, self.host):
                raise ServerLaunchError(f"--{name}-port: port {port} is already in use")
            ports[name] = port or free_port(self.host)
        workdir = Path(tempfile.mkdtemp(prefix="perfanalyzer-triton-"))
        backends = workdir / "backends"
        shutil.copytree(inst.backend, backends / "python",
                        ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(inst.stub, backends / "python" / "triton_python_backend_stub")
        shm_prefix = f"{SHM_PREFIX}{uuid.uuid4().hex[:8]}_"
        cmd = [
            str(inst.binary),
            f"--model-repository={repo.resolve()}",
            f"--backend-directory={backends}",
            f"--http-port={ports['http']}", f"--http-address={self.host}",
            f"--grpc-port={ports['grpc']}", f"--grpc-address={self.host}",
            f"--metrics-port={ports['metrics']}", f"--metrics-address={self.host}",
            f"--backend-config=python,shm-region-prefix-name={shm_prefix}",
            "--allow-metrics=true", "--allow-gpu-metrics=false",
            "--exit-timeout-secs=10",
            f"--log-verbose={self.log_verbose}",
        ]
        if self.explicit_models is not None:
            cmd.append("--model-control-mode=explicit")
            cmd += [f"--load-model={m}" for m in self.explicit_models]
        cmd += list(self.extra_args)
        if self.die_with_parent and (setpriv := shutil.which("setpriv")):
            cmd = [setpriv, "--pdeathsig", "TERM", "--", *cmd]
        env = dict(os.environ)
        env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
        env["LD_LIBRARY_PATH"] = os.pathsep.join(
            p for p in (str(inst.libs), env.get("LD_LIBRARY_PATH", "")) if p)
        log_path = self.log_path or workdir / "tritonserver.log"
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                                    stdin=subprocess.DEVNULL, start_new_session=True)
        # A connection is a file: with a soft limit of 1024 (a common default) a client with a
        # thousand connections would exhaust the server's, which then stops accepting.
        from ..config.safety import raise_fd_limit  # (here: the config package is not cheap)

        with contextlib.suppress(OSError, AttributeError):  # it left already; no prlimit here
            raise_fd_limit(proc.pid)
        server = LaunchedServer(process=proc, http_port=ports["http"], grpc_port=ports["grpc"],
                                metrics_port=ports["metrics"], workdir=workdir, log_path=log_path,
                                shm_prefix=shm_prefix, host=self.host)
        if wait:
            try:
                server.wait_ready(timeout_s, models)
            except BaseException:
                server.stop()
                raise
        return server

