"""System shared memory against the real Triton (``triton`` fixture), over HTTP and gRPC: profiles
count like without shm, inference through the plan's regions, release on every kind of exit
(in-flight requests, Ctrl-C), stale-region cleanup and the one-line errors before load. Triton
behaviour pinned in test_shm.py's docstring.
"""
from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from perfanalyzer.client import ClientOptions, InferenceClient, create_client
from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs.setup import requests_for
from perfanalyzer.profile.run import profile
from perfanalyzer.profile.settings import request_settings, shm_settings
from perfanalyzer.profile.setup import prepare_model
from perfanalyzer.shm import SystemRegion, read_numpy
from perfanalyzer.shm.plan import plan_shared_memory
from tests.support.shm import (
    PERFANALYZER,
    dead_pid,
    perfanalyzer,
    plan_cleanups,
    registered,
    run,
    segments,
    url_of,
)

server = pytest.mark.server

# -- against the real Triton -------------------------------------------------------------------
PROTOCOLS = pytest.mark.parametrize("protocol", ["http", "grpc"])


async def _profile_counts(cfg: RunConfig) -> tuple[int, int, int]:
    """(server inference-count delta over the whole run, ok records, failed records) for one
    in-process profile."""
    client = create_client(cfg.server.protocol, ClientOptions(url=cfg.server.server_url))
    try:
        before = (await client.model_statistics(cfg.server.model))[0].inference_count
        result = await profile(cfg, out=io.StringIO())
        after = (await client.model_statistics(cfg.server.model))[0].inference_count
    finally:
        await client.close()
    assert not result.failure
    assert result.points and result.buffer is not None
    status = result.buffer.status[:result.buffer.count]
    return after - before, int((status == 0).sum()), int((status != 0).sum())


@server
@PROTOCOLS
@pytest.mark.parametrize("model, shapes", [("add_sub", ()), ("identity_fp32",
                                                              (("INPUT0", (1000,)),))])
def test_profile_with_system_shm_counts_like_without(triton: Any, protocol: str, model: str,
                                                      shapes: Any) -> None:
    for mode in ("none", "system"):
        cfg = RunConfig.of(model=model, url=url_of(triton, protocol), protocol=protocol,
                        batch_size=2, concurrency_range=(2, 2, 1), measurement_interval_ms=300,
                        max_trials=3, shared_memory=mode, shapes=shapes).validate()
        delta, ok, failed = run(_profile_counts(cfg))
        assert failed == 0 and ok > 0
        assert delta == ok * 2  # every request the client counted, and nothing else
    assert segments(os.getpid()) == []
    assert run(registered(url_of(triton, protocol), protocol, f"pa_{os.getpid()}_")) == []
    assert plan_cleanups() == []


async def _plan_and_infer(url: str, protocol: str) -> tuple[Any, list[dict[str, Any]],
                                                             np.ndarray, np.ndarray, np.ndarray]:
    cfg = RunConfig.of(model="add_sub", url=url, protocol=protocol, batch_size=3,
                    shared_memory="system", input_data=("random",)).validate()
    client = create_client(protocol, ClientOptions(url=url))
    try:
        setup = await prepare_model(client, cfg)
        plain = requests_for(request_settings(cfg), setup)
        plan = await plan_shared_memory(client, shm_settings(cfg), setup, plain)
        try:
            status = await client.system_shm_status()
            req = plan.requests[0][0]
            result = await client.infer(req)
            assert result.shm_outputs == {"OUTPUT0": ("INT32", (3, 16)),
                                          "OUTPUT1": ("INT32", (3, 16))}
            out = {o.name: o.shm for o in req.outputs if o.shm is not None}
            regions = {r.name: r for r in plan.regions}
            got = [read_numpy(regions[out[n].region], "INT32", (3, 16), out[n].offset)
                   for n in ("OUTPUT0", "OUTPUT1")]
            a, b = (t.to_numpy() for t in plain[0][0].inputs)
            assert plan_cleanups() == [plan.release_sync]
        finally:
            await plan.release(client)
        assert plan_cleanups() == []
        return plan, status, a, b, np.stack(got)
    finally:
        await client.close()


@server
@PROTOCOLS
def test_infer_through_the_plans_regions(triton: Any, protocol: str) -> None:
    url = url_of(triton, protocol)
    plan, status, a, b, got = run(_plan_and_infer(url, protocol))
    ours = sorted((r["name"], r["key"], r["offset"], r["byte_size"]) for r in status
                  if r["name"].startswith(plan.prefix))
    p = plan.prefix
    assert ours == [(f"{p}in0", f"/{p}in0", 0, 3 * 64), (f"{p}in1", f"/{p}in1", 0, 3 * 64),
                    (f"{p}out0", f"/{p}out0", 0, 3 * 64), (f"{p}out1", f"/{p}out1", 0, 3 * 64)]
    assert a.shape == (3, 16) and not np.array_equal(a, b)
    np.testing.assert_array_equal(got[0], a + b)
    np.testing.assert_array_equal(got[1], a - b)
    assert run(registered(url, protocol, p)) == []
    assert segments(os.getpid()) == []


async def _release_sync_while_in_flight(url: str, protocol: str) -> tuple[int, str]:
    cfg = RunConfig.of(model="delay", url=url, protocol=protocol, shared_memory="system").validate()
    client = create_client(protocol, ClientOptions(url=url))
    try:
        setup = await prepare_model(client, cfg)
        plan = await plan_shared_memory(client, shm_settings(cfg), setup,
                                        requests_for(request_settings(cfg), setup))
        prepared = client.prepare(plan.requests[0][0])
        tasks = [asyncio.create_task(client.send(prepared)) for _ in range(4)]
        await asyncio.sleep(0.02)  # on the server now (each takes 50 ms)
        plan.release_sync()  # what the second Ctrl-C runs, from inside the loop
        left = len(await registered(url, protocol, plan.prefix))
        results = await asyncio.gather(*tasks, return_exceptions=True)
        return left, repr([r for r in results if isinstance(r, BaseException)])
    finally:
        await client.close()


@server
@PROTOCOLS
def test_sync_release_waits_out_in_flight_requests(triton: Any, protocol: str) -> None:
    left, errors = run(_release_sync_while_in_flight(url_of(triton, protocol), protocol))
    assert left == 0
    assert errors == "[]"
    assert segments(os.getpid()) == []
    assert plan_cleanups() == []


def _start(args: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*PERFANALYZER, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _wait_for_regions(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> list[str]:
    deadline = time.monotonic() + timeout_s
    while not segments(proc.pid):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never created its regions"
        time.sleep(0.02)
    return segments(proc.pid)


@server
@pytest.mark.slow
@PROTOCOLS
@pytest.mark.parametrize("presses", [1, 2])
def test_ctrl_c_mid_window_leaves_nothing_behind(triton: Any, protocol: str,
                                                 presses: int) -> None:
    url = url_of(triton, protocol)
    proc = _start(["-m", "add_sub", "-i", protocol, "-u", url, "--shared-memory", "system",
                   "-p", "2000", "--concurrency-range", "4"])
    try:
        made = _wait_for_regions(proc)
        assert [s.rsplit("_", 1)[1] for s in made] == ["in0", "in1", "out0", "out1"]
        time.sleep(1.5)  # mid-window, requests in flight
        proc.send_signal(signal.SIGINT)
        if presses == 2:
            time.sleep(0.005)
            proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if presses == 1:
        assert proc.returncode == 130, err
    else:  # 130 from the handler's exit; -SIGINT when the second press came after it was gone
        assert proc.returncode in (130, -signal.SIGINT), err
    assert segments(proc.pid) == []
    assert run(registered(url, protocol, f"pa_{proc.pid}_")) == []


async def _register_fake(url: str, protocol: str, regions: list[SystemRegion]) -> None:
    client = create_client(protocol, ClientOptions(url=url))
    try:
        for r in regions:
            await r.register(client)
    finally:
        await client.close()


@server
@pytest.mark.slow
@PROTOCOLS
def test_stale_regions_of_a_crashed_run_are_cleaned_at_start(triton: Any, protocol: str) -> None:
    url = url_of(triton, protocol)
    gone = dead_pid()
    stale = SystemRegion(f"pa_{gone}_0badc0de_in0", 64)
    stale_key_only = SystemRegion("notebook_in", 64, key=f"pa_{gone}_0badc0de_nb")
    live = SystemRegion(f"pa_{os.getpid()}_0badc0de_in0", 64)  # a concurrent, live run
    try:
        run(_register_fake(url, protocol, [stale, stale_key_only, live]))
        stale.close()
        stale_key_only.close()  # as if the process died: segments stay, names registered
        proc = perfanalyzer("-m", "add_sub", "-i", protocol, "-u", url, "--shared-memory",
                            "system", "-p", "200", "-r", "1")
        assert proc.returncode in (0, 2), proc.stderr
        names = [r["name"] for r in run(registered(url, protocol, ""))]
        assert stale.name not in names and "notebook_in" not in names
        assert live.name in names
        assert not Path("/dev/shm", stale.key).exists()
        assert not Path("/dev/shm", stale_key_only.key).exists()
        assert Path("/dev/shm", live.key).exists()
    finally:
        for r in (stale, stale_key_only, live):
            r.destroy()

        async def unregister_all() -> None:
            client = create_client(protocol, ClientOptions(url=url))
            try:
                for r in (stale, stale_key_only, live):
                    await r.unregister(client)
            finally:
                await client.close()

        run(unregister_all())


async def _inference_count(url: str, protocol: str, model: str) -> int:
    client: InferenceClient = create_client(protocol, ClientOptions(url=url))
    try:
        return (await client.model_statistics(model))[0].inference_count
    finally:
        await client.close()


@server
@PROTOCOLS
def test_output_size_too_small_exits_3_before_any_request(triton: Any, protocol: str) -> None:
    url = url_of(triton, protocol)
    before = run(_inference_count(url, protocol, "add_sub"))
    proc = perfanalyzer("-m", "add_sub", "-i", protocol, "-u", url, "--shared-memory", "system",
                        "--output-shared-memory-size", "16")
    assert proc.returncode == 3
    assert proc.stderr == ("error: --output-shared-memory-size 16: output 'OUTPUT0' (INT32 [16]) "
                           "needs 64 bytes per batch element\n")
    assert run(_inference_count(url, protocol, "add_sub")) == before
    assert run(registered(url, protocol, "pa_")) == []


def _gpu_usable() -> bool:
    try:
        from perfanalyzer.shm.cuda import device_count

        return device_count() > 0
    except OptionError:
        return False


@server
def test_cuda_without_cuda_python_or_gpu_exits_3(triton: Any) -> None:
    if _gpu_usable():
        pytest.skip("a GPU is usable here; tests/test_shm_cuda.py covers --shared-memory cuda")
    before = run(_inference_count(triton.http_url, "http", "add_sub"))
    proc = perfanalyzer("-m", "add_sub", "-u", triton.http_url, "--shared-memory", "cuda")
    assert proc.returncode == 3
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: --shared-memory cuda")
    assert ("cuda-python" in proc.stderr) or ("GPU" in proc.stderr)
    assert run(_inference_count(triton.http_url, "http", "add_sub")) == before


@server
@PROTOCOLS
def test_sequences_and_streaming_with_system_shared_memory(triton: Any, protocol: str) -> None:
    """Sequence requests and streamed decoupled requests read their inputs from the regions."""
    url = url_of(triton, protocol)
    base = {"url": url, "protocol": protocol, "shared_memory": "system",
            "measurement_interval_ms": 300, "stability_percentage": 100.0, "max_trials": 3}
    seq = RunConfig.of(model="sequence_acc", concurrency_range=(2, 2, 1), sequence_length=4,
                    sequence_length_given=True, **base).validate()
    run_ = run(profile(seq, out=io.StringIO()))
    assert run_.buffer is not None and run_.buffer.count > 0
    assert int((run_.buffer.view().status != 0).sum()) == 0
    if protocol == "grpc":
        stream = RunConfig.of(model="repeat", streaming=True, shapes=(("IN", (4,)),),
                           **base).validate()
        srun = run(profile(stream, out=io.StringIO()))
        (point,) = srun.points
        assert point.merged.errors == 0
        assert point.merged.responses == 4 * point.merged.completed
    assert segments(os.getpid()) == []
    assert plan_cleanups() == []
