"""Every option in ``perfanalyzer --help`` (and every subcommand's) has help text, and every profile
option changes the run's configuration or is refused in one line — never accepted and ignored."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import click
import pytest

from perfanalyzer.cli.main import cli
from perfanalyzer.errors import OptionError
from tests.support.cli_runs import cli_config as _cfg

BASE = ("-m", "M")

#: One sample use per profile option (its first spelling); each must change the config or be refused.
SAMPLES: dict[str, tuple[str, ...]] = {
    "-m": ("-m", "other"), "-x": ("-x", "2"), "-b": ("-b", "4"), "-u": ("-u", "h:9000"),
    "-i": ("-i", "grpc"), "-v": ("-v",), "--sync": ("--sync",), "--streaming": ("--streaming",),
    "-H": ("-H", "A:b"), "--concurrency-range": ("--concurrency-range", "2"),
    "--request-rate-range": ("--request-rate-range", "5"),
    "--request-distribution": ("--request-distribution", "poisson"),
    "--request-intervals": ("--request-intervals", "f.txt"),
    "--binary-search": ("--binary-search",), "-l": ("-l", "5"), "--max-threads": ("--max-threads", "3"),
    "--workers": ("--workers", "2"), "--measurement-mode": ("--measurement-mode", "count_windows"),
    "-p": ("-p", "100"), "--measurement-request-count": ("--measurement-request-count", "7"),
    "-s": ("-s", "5"), "-r": ("-r", "4"), "--stability-windows": ("--stability-windows", "4"),
    "--percentile": ("--percentile", "95"), "--request-count": ("--request-count", "9"),
    "--warmup-request-count": ("--warmup-request-count", "3"), "--adaptive": ("--adaptive",),
    "--input-data": ("--input-data", "zero"), "--shape": ("--shape", "IN:3"),
    "--string-length": ("--string-length", "5"), "--string-data": ("--string-data", "x"),
    "--input-tensor-format": ("--input-tensor-format", "json"),
    "--output-tensor-format": ("--output-tensor-format", "json"),
    "--shared-memory": ("--shared-memory", "system"),
    "--output-shared-memory-size": ("--output-shared-memory-size", "64"),
    "--sequence-length": ("--sequence-length", "5"),
    "--sequence-length-variation": ("--sequence-length-variation", "5"),
    "--sequence-id-range": ("--sequence-id-range", "5:9"),
    "--num-of-sequences": ("--num-of-sequences", "2"), "--serial-sequences": ("--serial-sequences",),
    "--ssl-grpc-use-ssl": ("--ssl-grpc-use-ssl",),
    "--ssl-grpc-root-certifications-file": ("--ssl-grpc-root-certifications-file", "r.pem"),
    "--ssl-grpc-private-key-file": ("--ssl-grpc-private-key-file", "k.pem"),
    "--ssl-grpc-certificate-chain-file": ("--ssl-grpc-certificate-chain-file", "c.pem"),
    "--ssl-https-verify-peer": ("--ssl-https-verify-peer", "0"),
    "--ssl-https-verify-host": ("--ssl-https-verify-host", "0"),
    "--ssl-https-ca-certificates-file": ("--ssl-https-ca-certificates-file", "ca.pem"),
    "--ssl-https-client-certificate-file": ("--ssl-https-client-certificate-file", "c.pem"),
    "--ssl-https-private-key-file": ("--ssl-https-private-key-file", "k.pem"),
    "--grpc-compression-algorithm": ("--grpc-compression-algorithm", "gzip"),
    "--http-compression": ("--http-compression", "gzip"), "-f": ("-f", "x.csv"),
    "--http-response-compression": ("--http-response-compression", "deflate"),
    "--grpc-keepalive-time": ("--grpc-keepalive-time", "1000"),
    "--grpc-keepalive-timeout": ("--grpc-keepalive-time", "1000", "--grpc-keepalive-timeout", "5"),
    "--grpc-channel-arg": ("--grpc-channel-arg", "grpc.max_send_message_length=-1"),
    "--grpc-transport": ("--grpc-transport", "grpcio"), "--event-loop": ("--event-loop", "asyncio"),
    "--verbose-csv": ("--verbose-csv",), "--profile-export-file": ("--profile-export-file", "x.json"),
    "--html": ("--html", "r.html"), "-q": ("-q",), "--events": ("--events", "e.jsonl"),
    "--collect-metrics": ("--collect-metrics",), "--metrics-url": ("--metrics-url", "h:1/metrics"),
    "--metrics-interval": ("--metrics-interval", "10"), "--baseline": ("--baseline", "b.json"),
    "--launch-server": ("--launch-server",), "--model-repository": ("--model-repository", "repo"),
    "--enable-mpi": ("--enable-mpi",), "--csv-all-points": ("--csv-all-points",),
    "--latency-from": ("--latency-from", "scheduled"), "--export-tensors": ("--export-tensors",),
    "--bls-composing-models": ("--bls-composing-models", "a:1,b"),
    "--secret-header": ("--secret-header", "X-Key"), "--connect-timeout": ("--connect-timeout", "3"),
    "--startup-timeout": ("--startup-timeout", "3"), "--request-timeout": ("--request-timeout", "3"),
    "--force": ("--force",), "-a": ("-a",), "--on-mismatch": ("--on-mismatch", "count"),
    "--input-memory-limit": ("--input-memory-limit", "64"),
    "--repeat": ("--repeat", "3"), "--model-ready-timeout": ("--model-ready-timeout", "5"),
    "--seed": ("--seed", "5"), "--service-kind": ("--service-kind", "openai"), "-t": ("-t", "3"),
    "-d": ("-d", "-l", "5"), "-c": ("-c", "3"), "-z": ("-z",), "--data-directory": ("--data-directory", "d"),
    "--trace-level": ("--trace-level", "TIMESTAMPS"), "--trace-rate": ("--trace-rate", "5"),
    "--trace-count": ("--trace-count", "5"), "--log-frequency": ("--log-frequency", "5"),
    "--request-parameter": ("--request-parameter", "a:1:int"),
    "--ssl-https-client-certificate-type": ("--ssl-https-client-certificate-type", "DER"),
    "--ssl-https-private-key-type": ("--ssl-https-private-key-type", "DER"),
    "--model-signature-name": ("--model-signature-name", "s"), "--endpoint": ("--endpoint", "generate"),
    "--session-concurrency": ("--session-concurrency", "2"), "--grpc-method": ("--grpc-method", "g"),
    "--proto": ("--proto", "p"), "--triton-server-directory": ("--triton-server-directory", "/opt"),
    "--fixed-schedule": ("--fixed-schedule",),
    "--periodic-concurrency-range": ("--periodic-concurrency-range", "1:4"),
    "--request-period": ("--request-period", "5"),
    "--goodput": ("--goodput", "ttfr:30 itl:5"), "--orca-format": ("--orca-format", "json"),
    "--request-burstiness": ("--request-burstiness", "0.5"), "--csv-streaming": ("--csv-streaming",),
}
_PERIODIC_NEEDS = ("-i", "grpc", "--streaming", "--profile-export-file", "x.json")
#: Flags that need others to be accepted: the sample is judged against BASE + these.
COMPANIONS: dict[str, tuple[str, ...]] = {
    "--periodic-concurrency-range": _PERIODIC_NEEDS,
    "--request-period": (*_PERIODIC_NEEDS, "--periodic-concurrency-range", "1:4"),
    "--grpc-compression-algorithm": ("-i", "grpc"),
    "--grpc-keepalive-time": ("-i", "grpc"),
    "--grpc-keepalive-timeout": ("-i", "grpc"),
    "--grpc-channel-arg": ("-i", "grpc"),
    "--csv-streaming": ("-f", "x.csv"),
    "--request-burstiness": ("--request-rate-range", "5", "--request-distribution", "gamma"),
}
#: Options that change nothing in the config by design, with the reason.
BY_DESIGN = {
    "--config": "reads other flags from a file (tests/test_config_file.py)",
    "--help": "prints help",
}


def _options(cmd: click.Command) -> list[click.Option]:
    return [p for p in cmd.params if isinstance(p, click.Option)]


def _commands() -> list[tuple[str, click.Command]]:
    """The main command and every subcommand (they are imported when asked for)."""
    ctx = click.Context(cli)
    out: list[tuple[str, click.Command]] = [("perfanalyzer", cli)]
    for name in cli.list_commands(ctx):
        cmd = cli.get_command(ctx, name)
        assert cmd is not None
        out.append((f"perfanalyzer {name}", cmd))
    return out


@pytest.mark.parametrize(("path", "cmd"), _commands(), ids=lambda v: str(v))
def test_every_option_has_help_text(path: str, cmd: click.Command) -> None:
    ctx = click.Context(cmd, info_name=path)
    missing = [p.opts[0] for p in _options(cmd) if not p.hidden and not (p.help or "").strip()]
    help_opt = cmd.get_help_option(ctx)
    assert help_opt is not None and help_opt.help
    assert missing == [], f"{path}: options without help text: {missing}"
    text = cmd.get_help(ctx)
    assert "None]" not in text and "None;" not in text, f"{path}: a range shown as None"


def test_help_lists_every_profile_option() -> None:
    res = subprocess.run([sys.executable, "-m", "perfanalyzer", "--help"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert res.returncode == 0
    for opt in _options(cli.commands["profile"]):
        assert opt.opts[0] in res.stdout, opt.opts


def _first(opt: click.Option) -> str:
    return opt.opts[0]


@pytest.mark.parametrize("opt", [o for o in _options(cli.commands["profile"])], ids=_first)
def test_every_profile_option_changes_something_or_is_refused(opt: click.Option) -> None:
    name = _first(opt)
    if name in BY_DESIGN:
        return
    assert name in SAMPLES, f"{name}: add a sample use to SAMPLES (or a reason to BY_DESIGN)"
    companions = COMPANIONS.get(name, ())
    base = _cfg(*BASE, *companions)
    args: Any = SAMPLES[name]
    try:
        cfg = _cfg(*BASE, *companions, *args)
    except OptionError as exc:
        assert "\n" not in str(exc) and str(exc)
        return
    assert cfg != base, f"{name} was accepted and changed nothing"
