"""The local Triton: launcher errors, launch_for_run's cleanup, the bundled repository (simple...,
a real ResNet-50) and ``perfanalyzer serve``. Every server here is real; the ResNet-50 ONNX is built
once into a temporary cache and shared."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from perfanalyzer.errors import OptionError
from perfanalyzer.server import resnet50
from perfanalyzer.server.embedded import launch_for_run, no_server_hint, parse_launch_url
from perfanalyzer.server.launcher import (
    SHM_PREFIX,
    LaunchedServer,
    ServerLaunchError,
    TritonLauncher,
    bundled_model_repository,
    free_port,
)

pytestmark = pytest.mark.server

BUNDLED = ("simple", "simple_string", "repeat_int32", "simple_sequence", "resnet50")
# torchvision's resnet50 has 25,557,032 parameters; folding BN leaves one of its two per-channel
# parameters (26,560 channels) as the conv bias.
RESNET50_PARAMS = 25_557_032 - 26_560
RESNET50_MACS = 4_089_184_256

MODEL_PY = """
import time
class TritonPythonModel:
    def initialize(self, args):
        {init}
    def execute(self, requests):
        return []
"""
CONFIG = """
name: "{name}"
backend: "python"
max_batch_size: 0
input [ {{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 1 ] }} ]
output [ {{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 1 ] }} ]
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
"""


def _needs_server() -> None:
    if importlib.util.find_spec("pytriton") is None:
        pytest.skip("needs the server extra (nvidia-pytriton)")


def _repo_with(tmp_path: Path, name: str, init: str) -> Path:
    (tmp_path / name / "1").mkdir(parents=True)
    (tmp_path / name / "config.pbtxt").write_text(CONFIG.format(name=name))
    (tmp_path / name / "1" / "model.py").write_text(MODEL_PY.format(init=init))
    return tmp_path


def _assert_gone(server: LaunchedServer) -> None:
    """No process of the server's group, no /dev/shm segment of its prefix, no workdir."""
    assert server.process.poll() is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(server.process.pid, 0)
    assert server.shm_prefix.startswith(SHM_PREFIX)
    assert list(Path("/dev/shm").glob(f"{server.shm_prefix}*")) == []
    assert not server.workdir.exists()


def _get(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def _infer(server: Any, model: str, inputs: list[dict[str, Any]],
           parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"inputs": inputs, **({"parameters": parameters} if parameters else {})}
    req = urllib.request.Request(f"http://{server.http_url}/v2/models/{model}/infer",
                                 data=json.dumps(body).encode())
    with urllib.request.urlopen(req, timeout=60) as resp:
        return {o["name"]: o for o in json.loads(resp.read())["outputs"]}


def _infer_fp32(server: Any, model: str, name: str, x: np.ndarray, out: str) -> np.ndarray:
    """Binary-tensor request of one FP32 input; returns the FP32 output."""
    head = json.dumps({
        "inputs": [{"name": name, "datatype": "FP32", "shape": list(x.shape),
                    "parameters": {"binary_data_size": x.nbytes}}],
        "outputs": [{"name": out, "parameters": {"binary_data": True}}]}).encode()
    req = urllib.request.Request(
        f"http://{server.http_url}/v2/models/{model}/infer", data=head + x.tobytes(),
        headers={"Inference-Header-Content-Length": str(len(head))})
    with urllib.request.urlopen(req, timeout=60) as resp:
        data = resp.read()
        hl = int(resp.headers["Inference-Header-Content-Length"])
    meta = json.loads(data[:hl])["outputs"][0]
    assert meta["datatype"] == "FP32"
    return np.frombuffer(data[hl:], dtype="<f4").reshape(meta["shape"])


# --- launcher and launch_for_run -------------------------------------------------------------

def test_parse_launch_url() -> None:
    assert parse_launch_url(None) == ("127.0.0.1", 0)
    assert parse_launch_url("localhost:8000") == ("127.0.0.1", 8000)
    assert parse_launch_url("http://127.0.0.1:8001/") == ("127.0.0.1", 8001)
    assert parse_launch_url("127.0.0.2:9000") == ("127.0.0.2", 9000)
    for bad in ("example.com:8000", "10.0.0.1:8000", "localhost", "localhost:0", "localhost:x"):
        with pytest.raises(OptionError):
            parse_launch_url(bad)


def test_no_server_hint_names_both_ways() -> None:
    hint = no_server_hint("localhost:8000")
    assert "\n" not in hint and "localhost:8000" in hint
    assert "perfanalyzer serve" in hint and "--launch-server" in hint


def test_port_in_use_is_reported_before_starting(tmp_path: Path) -> None:
    _needs_server()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ServerLaunchError, match=f"--http-port: port {port} is already in use"):
            TritonLauncher(http_port=port).start()
        with pytest.raises(ServerLaunchError, match=r"already in use.*drop --launch-server"), \
                launch_for_run(f"localhost:{port}", "http", "simple"):
            pass
    with pytest.raises(OptionError, match=r"no such model.*simple_string"), \
            launch_for_run(None, "http", "nosuch"):
        pass


@pytest.mark.slow
def test_broken_model_shows_the_servers_error_lines(tmp_path: Path) -> None:
    _needs_server()
    repo = _repo_with(tmp_path, "broken", 'raise RuntimeError("broken on purpose")')
    with pytest.raises(ServerLaunchError) as info:
        TritonLauncher(model_repository=repo, explicit_models=["broken"]).start(timeout_s=60)
    msg = str(info.value)
    assert msg.startswith("Triton exited during start-up")
    assert "failed to load 'broken'" in msg and "RuntimeError: broken on purpose" in msg
    assert "CudaDriverHelper" not in msg  # CPU-only noise is filtered out


@pytest.mark.slow
def test_launch_for_run_serves_simple_and_stops_on_exception(
        capsys: pytest.CaptureFixture[str]) -> None:
    _needs_server()
    seen: list[LaunchedServer] = []
    port = free_port()
    with pytest.raises(KeyboardInterrupt), \
            launch_for_run(f"localhost:{port}", "grpc", "simple", timeout_s=120) as server:
        seen.append(server)
        assert server.grpc_port == port and server.http_port != port
        assert _get(f"http://{server.http_url}/v2/models/simple/ready") == 200
        # Only the model under test is loaded; waiting for another one says why it is not ready.
        with pytest.raises(ServerLaunchError, match=r"^Triton: model 'resnet50' not ready after "
                           r"0\.5 s \(state not loaded\)$"):
            server.wait_ready(0.5, ["resnet50"])
        a, b = list(range(16)), [5] * 16
        out = _infer(server, "simple", [
            {"name": "INPUT0", "datatype": "INT32", "shape": [1, 16], "data": a},
            {"name": "INPUT1", "datatype": "INT32", "shape": [1, 16], "data": b}])
        assert out["OUTPUT0"]["data"] == [x + 5 for x in a]
        assert out["OUTPUT1"]["data"] == [x - 5 for x in a]
        assert server.url("grpc") == server.grpc_url
        raise KeyboardInterrupt  # a BaseException: the hardest case for cleanup
    _assert_gone(seen[0])
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'simple'" in err[0] and seen[0].grpc_url in err[0]


# --- the ResNet-50 builder ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def resnet50_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A cache dir holding the ONNX, built once for this module (and the build time measured)."""
    pytest.importorskip("onnx")
    cache = tmp_path_factory.mktemp("pa_cache")
    t0 = time.perf_counter()
    path = resnet50.ensure_model(cache)
    build_s = time.perf_counter() - t0
    assert path == resnet50.cached_path(cache) and path.is_file()
    assert build_s < 60, f"building ResNet-50 took {build_s:.1f} s"
    yield cache


def test_resnet50_is_resnet50_sized(resnet50_cache: Path) -> None:
    import onnx

    model = onnx.load(str(resnet50.cached_path(resnet50_cache)))
    onnx.checker.check_model(model)
    assert resnet50.count_parameters(model) == RESNET50_PARAMS
    assert resnet50.count_macs(model) == RESNET50_MACS
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    assert len(convs) == 1 + 16 * 3 + 4  # stem, 16 bottlenecks, 4 projection shortcuts
    # v1.5: the strided conv of each downsampling block is the 3×3 one.
    strided = [n for n in convs
               if next(a.ints for a in n.attribute if a.name == "strides") == [2, 2]]
    kernels = sorted(next(a.ints for a in n.attribute if a.name == "kernel_shape")[0]
                     for n in strided)
    assert kernels == [1, 1, 1, 3, 3, 3, 7]


def test_resnet50_cache_is_reused_and_keyed_by_builder_version(
        resnet50_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = resnet50.cached_path(resnet50_cache)
    mtime = path.stat().st_mtime_ns
    assert resnet50.ensure_model(resnet50_cache) == path
    assert path.stat().st_mtime_ns == mtime
    assert sorted(p.name for p in resnet50_cache.iterdir()) == [path.name]  # no temp file left
    monkeypatch.setattr(resnet50, "BUILDER_VERSION", "other")
    assert resnet50.cached_path(resnet50_cache) != path
    monkeypatch.setenv(resnet50.CACHE_ENV, str(resnet50_cache))
    assert resnet50.cache_dir() == resnet50_cache


def test_resnet50_inference_is_finite(resnet50_cache: Path) -> None:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    session = ort.InferenceSession(str(resnet50.cached_path(resnet50_cache)), opts,
                                   providers=["CPUExecutionProvider"])
    x = np.random.default_rng(1).standard_normal((2, 3, 224, 224)).astype(np.float32)
    (y,) = session.run(["output"], {"input": x})
    assert y.shape == (2, 1000) and y.dtype == np.float32
    assert np.isfinite(y).all() and 0.01 < float(y.std()) < 100
    assert not np.allclose(y[0], y[1])  # the output depends on the input


def test_resnet50_builds_standalone(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    out = tmp_path / "sub" / "r50.onnx"
    code = f"from perfanalyzer.server.resnet50 import build; build({str(out)!r})"
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120)
    print(f"standalone ResNet-50 build: {time.perf_counter() - t0:.1f} s")
    assert out.stat().st_size > 25_000_000 * 4
    assert [p.name for p in out.parent.iterdir()] == ["r50.onnx"]


# --- the bundled repository --------------------------------------------------------------------

@pytest.fixture(scope="module")
def bundled(resnet50_cache: Path) -> Iterator[LaunchedServer]:
    _needs_server()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(resnet50.CACHE_ENV, str(resnet50_cache))
        launcher = TritonLauncher(model_repository=bundled_model_repository(),
                                  explicit_models=list(BUNDLED))
        server = launcher.start(timeout_s=170, models=BUNDLED)
    try:
        yield server
    finally:
        server.stop()
        _assert_gone(server)


def test_bundled_repository_ships_the_examples() -> None:
    repo = bundled_model_repository()
    assert sorted(p.name for p in repo.iterdir() if p.is_dir()) == sorted(BUNDLED)
    for name in BUNDLED:
        assert (repo / name / "config.pbtxt").is_file() and (repo / name / "1" / "model.py").is_file()
    assert not list(repo.rglob("*.onnx"))  # generated on first use, never shipped


@pytest.mark.slow
def test_bundled_resnet50_matches_onnxruntime(bundled: LaunchedServer,
                                              resnet50_cache: Path) -> None:
    import onnxruntime as ort

    rng = np.random.default_rng(2)
    xs = [rng.random((n, 3, 224, 224), dtype=np.float32) for n in (2, 1, 3, 1)]
    # Concurrent requests may be batched together by the server: each must get its own rows.
    with ThreadPoolExecutor(len(xs)) as pool:
        ys = list(pool.map(lambda x: _infer_fp32(bundled, "resnet50", "input", x, "output"), xs))
    session = ort.InferenceSession(str(resnet50.cached_path(resnet50_cache)),
                                   providers=["CPUExecutionProvider"])
    for x, y in zip(xs, ys, strict=True):
        assert y.shape == (len(x), 1000) and np.isfinite(y).all()
        np.testing.assert_allclose(y, session.run(["output"], {"input": x})[0],
                                   rtol=1e-4, atol=1e-4)
    # The server used the pre-built file: nothing else appeared in the cache.
    assert [p.name for p in resnet50_cache.iterdir()] == [resnet50.cached_path(resnet50_cache).name]


@pytest.mark.slow
def test_bundled_simple_and_simple_string(bundled: LaunchedServer) -> None:
    a = np.arange(32, dtype=np.int32).reshape(2, 16)
    b = np.full((2, 16), -7, dtype=np.int32)
    out = _infer(bundled, "simple", [
        {"name": "INPUT0", "datatype": "INT32", "shape": [2, 16], "data": a.ravel().tolist()},
        {"name": "INPUT1", "datatype": "INT32", "shape": [2, 16], "data": b.ravel().tolist()}])
    assert out["OUTPUT0"]["shape"] == [2, 16]
    assert out["OUTPUT0"]["data"] == (a + b).ravel().tolist()
    assert out["OUTPUT1"]["data"] == (a - b).ravel().tolist()
    out = _infer(bundled, "simple_string", [
        {"name": "INPUT0", "datatype": "BYTES", "shape": [1, 16], "data": [str(i) for i in range(16)]},
        {"name": "INPUT1", "datatype": "BYTES", "shape": [1, 16], "data": ["100"] * 16}])
    assert out["OUTPUT0"]["data"] == [str(i + 100) for i in range(16)]
    assert out["OUTPUT1"]["data"] == [str(i - 100) for i in range(16)]


@pytest.mark.slow
def test_bundled_repeat_int32_and_simple_sequence(bundled: LaunchedServer) -> None:
    req = urllib.request.Request(
        f"http://{bundled.http_url}/v2/models/repeat_int32/generate_stream",
        data=json.dumps({"IN": [9, 8, 7]}).encode())
    with urllib.request.urlopen(req, timeout=30) as resp:
        events = [json.loads(ln[6:]) for ln in resp.read().decode().splitlines()
                  if ln.startswith("data: ")]
    assert [(e["IDX"], e["OUT"]) for e in events] == [(0, 9), (1, 8), (2, 7)]
    sums = []
    for i, value in enumerate((3, 4, 5)):
        out = _infer(bundled, "simple_sequence",
                     [{"name": "INPUT", "datatype": "INT32", "shape": [1, 1], "data": [value]}],
                     {"sequence_id": 42, "sequence_start": i == 0, "sequence_end": i == 2})
        sums.append(out["OUTPUT"]["data"][0])
    assert sums == [3, 7, 12]


# --- perfanalyzer serve ------------------------------------------------------------------------

def _serve_cli(args: list[str]) -> Any:
    from perfanalyzer.cli.serve import serve

    return CliRunner().invoke(serve, args)


def test_serve_bad_options_exit_3(tmp_path: Path) -> None:
    res = _serve_cli(["--model-repository", str(tmp_path / "nope")])
    assert res.exit_code == 3 and "is not a directory" in res.output
    res = _serve_cli(["--model", "nosuch"])
    assert res.exit_code == 3 and "no such model" in res.output and "resnet50" in res.output
    res = _serve_cli(["--http-port", "70000"])
    assert res.exit_code == 3
    res = _serve_cli(["--http-port", "9000", "--grpc-port", "9000"])
    assert res.exit_code == 3 and "must differ" in res.output


def test_serve_exit_codes_through_the_main_command(capsys: pytest.CaptureFixture[str]) -> None:
    from perfanalyzer.cli.main import main

    for args in (["serve", "--model", "nosuch"], ["serve", "--http-port", "x"]):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 3, capsys.readouterr().err


def test_serve_port_in_use_and_missing_extra_exit_99(monkeypatch: pytest.MonkeyPatch) -> None:
    _needs_server()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        res = _serve_cli(["--grpc-port", str(port), "--http-port", "0", "--metrics-port", "0"])
    assert res.exit_code == 99
    assert res.output.strip() == (f"perfanalyzer serve: error: --grpc-port: port {port} is "
                                  "already in use")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "pytriton" else real_find_spec(name, *a))
    res = _serve_cli(["--http-port", "0"])
    assert res.exit_code == 99 and "pip install 'perfanalyzer[server]'" in res.output


@pytest.mark.slow
def test_serve_model_never_ready_times_out_with_the_reason(tmp_path: Path) -> None:
    _needs_server()
    repo = _repo_with(tmp_path, "stuck", "time.sleep(3600)")
    t0 = time.monotonic()
    res = _serve_cli(["--model-repository", str(repo), "--http-port", "0", "--grpc-port", "0",
                      "--metrics-port", "0", "--ready-timeout", "4"])
    assert res.exit_code == 99, res.output
    assert "Triton not ready after 4 s: still loading model stuck" in res.output
    assert "loading: stuck:1" in res.output  # the server's own last log lines
    assert time.monotonic() - t0 < 60


@pytest.mark.slow
def test_serve_subprocess_answers_and_exits_0_on_sigint() -> None:
    _needs_server()
    code = "from perfanalyzer.cli.serve import serve; serve()"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "--http-port", "0", "--grpc-port", "0",
         "--metrics-port", "0", "--model", "simple"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        banner = "".join(lines)
        assert "models   simple\n" in banner, banner + (proc.stderr.read() if proc.stderr else "")
        http = next(ln.split("http://")[1].strip() for ln in lines if "HTTP" in ln)
        assert _get(f"http://{http}/v2/health/ready") == 200
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, err
    assert "SIGINT: stopping Triton" in err and err.strip().endswith("stopped")
    with pytest.raises(OSError):
        _get(f"http://{http}/v2/health/ready")


def test_wheel_package_data_includes_nested_model_files() -> None:
    """setuptools' package-data glob must reach the model files two levels down."""
    tomllib = pytest.importorskip("tomllib")
    pyproject = Path(__file__).parents[1] / "pyproject.toml"
    globs = tomllib.loads(pyproject.read_text())["tool"]["setuptools"]["package-data"]
    pkg = Path(__file__).parents[1] / "perfanalyzer"
    matched = {p for g in globs["perfanalyzer"] for p in pkg.glob(g) if p.is_file()}
    for name in BUNDLED:
        assert pkg / "server" / "models" / name / "1" / "model.py" in matched
        assert pkg / "server" / "models" / name / "config.pbtxt" in matched

