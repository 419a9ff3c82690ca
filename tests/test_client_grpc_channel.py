"""GrpcClient without Triton: refused / silent listeners, an in-process grpc.aio server (channels
used round robin, metadata, auth hook), TLS and mutual TLS, option errors, channel args and the
converter unit tests.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import numpy as np
import pytest

from perfanalyzer._proto import grpc_service_pb2 as pb
from perfanalyzer._proto import model_config_pb2 as mc
from perfanalyzer.client import _convert
from perfanalyzer.client.base import (
    ClientOptions,
    InferRequest,
    InputTensor,
    RequestedOutput,
    ShmRef,
    TlsOptions,
    basic_auth,
)
from perfanalyzer.client.grpc import GrpcClient
from perfanalyzer.errors import ConnectError, OptionError, RequestTimeout, TransportError
from perfanalyzer.server.launcher import free_port as _free_port
from tests.support.aio import aio
from tests.support.infer_requests import ADD_SUB

# -- no Triton needed ----------------------------------------------------------------------------

@aio
async def test_refused_connection_fails_fast() -> None:
    async with GrpcClient(ClientOptions(url=f"127.0.0.1:{_free_port()}")) as c:
        t0 = time.perf_counter()
        with pytest.raises(ConnectError):
            await c.is_server_live()
        assert time.perf_counter() - t0 < 2.0


@aio
async def test_connect_timeout_against_a_silent_listener() -> None:
    with socket.socket() as listener:  # accepts TCP, never speaks HTTP/2
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"127.0.0.1:{listener.getsockname()[1]}"
        async with GrpcClient(ClientOptions(url=url, connect_timeout_s=0.3)) as c:
            t0 = time.perf_counter()
            with pytest.raises(ConnectError, match=r"within 0\.3 s"):
                await c.send(c.prepare(ADD_SUB))
            assert 0.25 < time.perf_counter() - t0 < 2.0


@asynccontextmanager
async def fake_server(seen: list[dict[str, str]],
                      credentials: grpc.ServerCredentials | None = None) -> AsyncIterator[int]:
    """An in-process gRPC server answering ServerLive and ModelInfer (an empty response),
    recording each call's metadata plus ``:peer`` (the client's address: one per connection)."""
    def record(context: grpc.aio.ServicerContext) -> None:
        meta = {k: str(v) for k, v in context.invocation_metadata() or ()}
        seen.append({**meta, ":peer": context.peer()})

    async def live(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        record(context)
        return pb.ServerLiveResponse(live=True).SerializeToString()

    async def infer(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
        record(context)
        return pb.ModelInferResponse(model_name="fake").SerializeToString()

    srv = grpc.aio.server()
    srv.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        "inference.GRPCInferenceService",
        {"ServerLive": grpc.unary_unary_rpc_method_handler(live),
         "ModelInfer": grpc.unary_unary_rpc_method_handler(infer)}),))
    addr = "127.0.0.1:0"
    port = srv.add_secure_port(addr, credentials) if credentials else srv.add_insecure_port(addr)
    await srv.start()
    try:
        yield port
    finally:
        await srv.stop(None)


@aio
async def test_connections_are_separate_channels_used_round_robin() -> None:
    seen: list[dict[str, str]] = []
    async with fake_server(seen) as port:
        for connections, peers in ((0, 1), (3, 3)):
            seen.clear()
            opts = ClientOptions(url=f"127.0.0.1:{port}", connections=connections)
            async with GrpcClient(opts) as c:
                prepared = c.prepare(ADD_SUB)
                for _ in range(6):
                    await c.send(prepared)
            by_peer = [m[":peer"] for m in seen]
            assert len(set(by_peer)) == peers
            assert all(by_peer.count(p) == 6 // peers for p in set(by_peer))


@aio
async def test_wait_until_ready_times_out_without_server() -> None:
    async with GrpcClient(ClientOptions(url=f"127.0.0.1:{_free_port()}")) as c:
        with pytest.raises(RequestTimeout, match="server not ready"):
            await c.wait_until_ready(0.3)


@aio
async def test_headers_and_auth_hook_travel_as_metadata() -> None:
    seen: list[dict[str, str]] = []
    calls = []

    def hook(headers: dict[str, str]) -> None:
        calls.append(1)
        headers["X-Token"] = f"t{len(calls)}"

    async with fake_server(seen) as port:
        opts = ClientOptions(url=f"127.0.0.1:{port}", headers={"X-Run": "r1"}, auth=hook)
        async with GrpcClient(opts) as c:
            assert await c.is_server_live() and await c.is_server_live()
        async with GrpcClient(ClientOptions(url=f"grpc://127.0.0.1:{port}",
                                            auth=basic_auth("user", "pw"))) as c:
            assert await c.is_server_live()
    assert [(m["x-run"], m["x-token"]) for m in seen[:2]] == [("r1", "t1"), ("r1", "t2")]
    assert seen[2]["authorization"] == "Basic dXNlcjpwdw=="


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    cert, key = d / "cert.pem", d / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@aio
async def test_tls_and_mutual_tls(tls_files: tuple[Path, Path]) -> None:
    cert, key = tls_files
    pair = [(key.read_bytes(), cert.read_bytes())]
    mutual = grpc.ssl_server_credentials(pair, root_certificates=cert.read_bytes(),
                                         require_client_auth=True)
    seen: list[dict[str, str]] = []
    async with fake_server(seen, mutual) as port:
        url = f"127.0.0.1:{port}"
        full = TlsOptions(enabled=True, ca_file=str(cert), cert_file=str(cert), key_file=str(key))
        async with GrpcClient(ClientOptions(url=url, tls=full)) as c:
            assert await c.is_server_live() is True
        no_cert = TlsOptions(enabled=True, ca_file=str(cert))
        async with GrpcClient(ClientOptions(url=url, tls=no_cert)) as c:
            with pytest.raises(ConnectError):
                await c.is_server_live()
        async with GrpcClient(ClientOptions(url=url)) as c:  # plain text to a TLS server
            with pytest.raises(TransportError):
                await c.is_server_live()
    assert len(seen) == 1


def test_option_errors() -> None:
    with pytest.raises(OptionError, match="compression"):
        GrpcClient(ClientOptions(url="x:1", compression="brotli"))
    with pytest.raises(OptionError, match="verify"):
        GrpcClient(ClientOptions(url="x:1", tls=TlsOptions(enabled=True, verify_peer=False)))
    with pytest.raises(OptionError, match="CA"):
        GrpcClient(ClientOptions(url="x:1", tls=TlsOptions(enabled=True, ca_file="/no/such")))


def test_channel_args() -> None:
    args = dict(_convert.channel_args(ClientOptions(
        url="x:1", keepalive_time_ms=5000, connections=4,
        channel_args=(("grpc.max_receive_message_length", 1234), ("grpc.primary_user_agent", "pa")))))
    assert args["grpc.max_send_message_length"] == 2**31 - 1
    assert args["grpc.max_receive_message_length"] == 1234  # the user's value wins
    assert args["grpc.keepalive_time_ms"] == 5000 and args["grpc.keepalive_timeout_ms"] == 20000
    assert args["grpc.use_local_subchannel_pool"] == 1 and args["grpc.primary_user_agent"] == "pa"
    assert "grpc.keepalive_time_ms" not in dict(_convert.channel_args(ClientOptions(url="x:1")))


def test_message_to_dict_ints_enums_defaults() -> None:
    cfg = mc.ModelConfig(name="m", max_batch_size=4)
    cfg.input.add(name="I", data_type=mc.TYPE_INT64, dims=[-1, 2**40])
    cfg.dynamic_batching.max_queue_delay_microseconds = 2**63 - 1
    cfg.dynamic_batching.priority_queue_policy[3].max_queue_size = 9
    d = _convert.message_to_dict(cfg)
    assert d["input"][0]["dims"] == [-1, 2**40] and d["input"][0]["data_type"] == "TYPE_INT64"
    assert d["input"][0]["format"] == "FORMAT_NONE" and d["input"][0]["optional"] is False
    assert d["dynamic_batching"]["max_queue_delay_microseconds"] == 2**63 - 1
    assert d["dynamic_batching"]["priority_queue_policy"]["3"]["max_queue_size"] == 9
    assert d["output"] == [] and d["parameters"] == {} and d["backend"] == ""
    assert "sequence_batching" not in d and "optimization" not in d
    seq = mc.ModelSequenceBatching()
    seq.control_input.add(name="S").control.add(fp32_false_true=[0.1, 1.0])
    assert _convert.message_to_dict(seq)["control_input"][0]["control"][0][
        "fp32_false_true"] == [0.1, 1.0]


def test_build_request_parameters_and_raw_contents() -> None:
    req = InferRequest(model="m", version="2", request_id="q", sequence_id=2**64 - 1,
                       sequence_start=True, priority=3, timeout_us=500,
                       parameters={"flag": True, "ratio": 0.5, "tag": "x"},
                       inputs=(InputTensor.from_numpy("A", np.array([1, 2], np.int32)),
                               InputTensor("S", "FP32", (4,), shm=ShmRef("r", 16, 8)),
                               InputTensor.from_numpy("B", np.array([b"hi"], np.object_))),
                       outputs=(RequestedOutput("O", class_count=2),
                                RequestedOutput("P", shm=ShmRef("r", 8))))
    msg = _convert.build_infer_request(req)
    params = _convert.params_to_dict(msg.parameters)
    assert params == {"flag": True, "ratio": 0.5, "tag": "x", "sequence_id": -1,
                      "sequence_start": True, "sequence_end": False, "priority": 3,
                      "timeout": 500}
    assert msg.parameters["sequence_id"].WhichOneof("parameter_choice") == "int64_param"
    assert list(msg.raw_input_contents) == [np.array([1, 2], "<i4").tobytes(), b"\x02\0\0\0hi"]
    assert _convert.params_to_dict(msg.inputs[1].parameters) == {
        "shared_memory_region": "r", "shared_memory_byte_size": 16, "shared_memory_offset": 8}
    assert _convert.params_to_dict(msg.outputs[0].parameters) == {"classification": 2}
    assert "shared_memory_offset" not in msg.outputs[1].parameters
    assert (msg.model_name, msg.model_version, msg.id) == ("m", "2", "q")
