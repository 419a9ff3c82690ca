"""Trace settings (set for the run, restored after, also after an error), --request-parameter on the
wire (HTTP and gRPC), HTTPS certificate/key types PEM and DER."""

from __future__ import annotations

import asyncio
import io
import json
import re
import shutil
import ssl
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from perfanalyzer._proto import grpc_service_pb2 as pb
from perfanalyzer.client import create_client
from perfanalyzer.client.base import InferRequest, TlsOptions
from perfanalyzer.client.http import make_ssl_context
from perfanalyzer.errors import OptionError
from perfanalyzer.inputs.parameters import typed_parameters
from perfanalyzer.profile.run import profile
from perfanalyzer.profile.settings import client_options, request_settings
from tests.support.cli_runs import cli_config as _cfg


def _settings(url: str, model: str = "add_sub") -> dict[str, Any]:
    with urllib.request.urlopen(f"http://{url}/v2/models/{model}/trace/setting", timeout=5) as r:
        return dict(json.loads(r.read()))


@pytest.mark.server
def test_trace_settings_hold_during_the_run_and_are_restored(triton: Any) -> None:
    before = _settings(triton.http_url)
    seen: list[dict[str, Any]] = []
    cfg = _cfg("-u", triton.http_url, "-m", "add_sub", "-p", "200", "-s", "1000", "-r", "3",
               "--trace-rate", "7", "--trace-count", "3", "--log-frequency", "2")
    asyncio.run(profile(cfg, out=io.StringIO(),
                        on_point=lambda run, p: seen.append(_settings(triton.http_url))))
    assert seen and seen[0]["trace_rate"] == "7" and seen[0]["trace_count"] == "3"
    assert seen[0]["log_frequency"] == "2"
    assert _settings(triton.http_url) == before


@pytest.mark.server
def test_refused_trace_setting_is_one_line_and_changes_nothing(triton: Any) -> None:
    before = _settings(triton.http_url)
    # This Triton has no trace file: it refuses a trace level (and the rate asked with it).
    res = subprocess.run([sys.executable, "-m", "perfanalyzer", "-u", triton.http_url, "-m",
                          "add_sub", "--trace-level", "TIMESTAMPS", "--trace-rate", "9"],
                         capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 99
    assert len(res.stderr.strip().splitlines()) == 1 and "trace settings" in res.stderr
    assert _settings(triton.http_url) == before



def test_request_parameters_parse_and_type() -> None:
    cfg = _cfg("-m", "M", "--request-parameter", "flag:true:bool", "--request-parameter",
               "n:-7:int", "--request-parameter", "s:a:b:string")
    assert typed_parameters(cfg.inputs.request_parameters) == {"flag": True, "n": -7, "s": "a:b"}
    for bad in ("x:1:float", "x:maybe:bool", "x:1.5:int", "x"):
        with pytest.raises(OptionError, match="--request-parameter"):
            _cfg("-m", "M", "--request-parameter", bad)


@pytest.mark.server
def test_request_parameters_go_on_the_wire(triton: Any) -> None:
    from perfanalyzer.inputs.setup import requests_for

    for proto, url in (("http", triton.http_url), ("grpc", triton.grpc_url)):
        cfg = _cfg("-u", url, "-i", proto, "-m", "add_sub", "--request-parameter", "n:7:int",
                   "--request-parameter", "tag:abc:string")
        setup = type("S", (), {"data": type("D", (), {"streams": [[type("St", (), {
            "inputs": ()})()]]})(), "io": type("I", (), {"outputs": ()})()})()
        (req,), = requests_for(request_settings(cfg), setup)  # type: ignore[arg-type]
        assert isinstance(req, InferRequest)
        client = create_client(proto, client_options(cfg))
        prepared = client.prepare(req)
        if proto == "http":
            assert b'"n":7' in prepared.wire and b'"tag":"abc"' in prepared.wire
        else:
            msg = pb.ModelInferRequest.FromString(prepared.payload)
            assert msg.parameters["n"].int64_param == 7
            assert msg.parameters["tag"].string_param == "abc"
        asyncio.run(client.close())


@pytest.mark.server
def test_server_accepts_request_parameters(triton: Any) -> None:
    cfg = _cfg("-u", triton.grpc_url, "-i", "grpc", "-m", "add_sub", "-p", "200", "-s", "1000",
               "-r", "3", "--request-parameter", "n:7:int")
    run = asyncio.run(profile(cfg, out=io.StringIO()))
    assert run.points[0].merged.completed > 0 and run.points[0].merged.errors == 0


@pytest.fixture(scope="module")
def cert_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj",
                    "/CN=localhost", "-days", "1", "-keyout", str(d / "key.pem"), "-out",
                    str(d / "cert.pem")], check=True, capture_output=True)
    subprocess.run(["openssl", "x509", "-in", str(d / "cert.pem"), "-outform", "DER", "-out",
                    str(d / "cert.der")], check=True, capture_output=True)
    subprocess.run(["openssl", "pkey", "-in", str(d / "key.pem"), "-outform", "DER", "-out",
                    str(d / "key.der")], check=True, capture_output=True)
    subprocess.run(["openssl", "rsa", "-in", str(d / "key.pem"), "-traditional", "-outform",
                    "DER", "-out", str(d / "key_rsa.der")], check=True, capture_output=True)
    return d


@pytest.mark.parametrize(("cert", "key", "types"), [
    ("cert.pem", "key.pem", ()),
    ("cert.der", "key.der", ("--ssl-https-client-certificate-type", "DER",
                             "--ssl-https-private-key-type", "DER")),
    ("cert.der", "key_rsa.der", ("--ssl-https-client-certificate-type", "DER",
                                 "--ssl-https-private-key-type", "DER")),
    ("cert.pem", "key.der", ("--ssl-https-private-key-type", "der")),
])
def test_https_certificate_and_key_types(cert_files: Path, cert: str, key: str,
                                         types: tuple[str, ...]) -> None:
    cfg = _cfg("-m", "M", "-u", "https://localhost:8000",
               "--ssl-https-client-certificate-file", str(cert_files / cert),
               "--ssl-https-private-key-file", str(cert_files / key), *types)
    ctx = make_ssl_context(client_options(cfg).tls)
    assert isinstance(ctx, ssl.SSLContext)
    if types:  # the same files read as PEM (the type ignored) cannot load
        plain = TlsOptions(enabled=True, cert_file=str(cert_files / cert),
                           key_file=str(cert_files / key))
        with pytest.raises(OptionError, match=re.escape("TLS: cannot load")):
            make_ssl_context(plain)
