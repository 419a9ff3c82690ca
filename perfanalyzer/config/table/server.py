"""The option table's server group: which server and model."""

from __future__ import annotations

from dataclasses import dataclass

from .. import defaults as d
from .. import parse as p
from ..choices import (
    SERVICE_KINDS,
    TRACE_LEVELS,
    finite_nonneg,
)
from ..option import opt


@dataclass(frozen=True, kw_only=True)
class ServerConfig:
    """Which server and model."""

    model: str = opt("", "-m", "--model-name", help="Model to profile (required).")
    service_kind: str = opt("triton", "--service-kind", choices=SERVICE_KINDS, show_default=True,
                            check=lambda v: v == "triton",
                            message="--service-kind {value}: only 'triton' (KServe v2 over "
                            "HTTP/gRPC) is supported",
                            help="Only 'triton' (KServe v2 over HTTP/gRPC) is supported; the "
                            "others are refused.")
    model_version: str = opt("", "-x", "--model-version", help="Model version (default: latest).")
    url: str = opt("", "-u", "--url", help="Server URL (default localhost:8000 for HTTP, "
                   "localhost:8001 for gRPC).")
    protocol: str = opt("http", "-i", "--protocol", choices=("http", "grpc"), ignore_case=True,
                        show_default=True,
                        help="Protocol: http or grpc.")
    launch_server: bool = opt(False, "--launch-server", switch=True,
                              help="Start a local Triton with the bundled models for this run.")
    model_repository: str | None = opt(None, "--model-repository",
                                       help="Model repository for --launch-server.",
                                       figures=False)
    model_ready_timeout_s: float = opt(
        0.0, "--model-ready-timeout", kind=float, metavar="SECONDS", check=finite_nonneg,
        message="--model-ready-timeout: expected seconds >= 0, got {value}",
        help="Wait up to this long for the model to be ready (the server's model readiness "
        "endpoint), e.g. while it loads, instead of failing at once (0 = no wait).")
    # Triton's trace settings for the model, set for the run and restored after (profile/trace.py)
    trace_level: str | None = opt(None, "--trace-level", metavar="OFF|TIMESTAMPS|TENSORS",
                                  check=lambda v: v is None or v in TRACE_LEVELS,
                                  message="--trace-level: expected OFF, TIMESTAMPS or TENSORS, "
                                  "got {value!r}",
                                  help="Set the model's Triton trace level for the run (v2/models/"
                                  "M/trace/setting; restored afterwards; HTTP only).")
    trace_rate: int | None = opt(None, "--trace-rate", kind=int, metavar="N",
                                 check=lambda v: v is None or v >= 1,
                                 message="--trace-rate must be >= 1, got {value}",
                                 help="Trace every N-th request (Triton trace setting, restored "
                                 "after).")
    trace_count: int | None = opt(None, "--trace-count", kind=int, metavar="N",
                                  check=lambda v: v is None or v >= -1,
                                  message="--trace-count must be >= -1 (-1 = no limit), got {value}",
                                  help="Stop tracing after N traces, -1 = no limit (restored "
                                  "after).")
    log_frequency: int | None = opt(None, "--log-frequency", kind=int, metavar="N",
                                    check=lambda v: v is None or v >= 0,
                                    message="--log-frequency must be >= 0, got {value}",
                                    help="Triton writes the trace file every N traces, 0 = at the "
                                    "end (restored after).")
    # composing models: their own CSV rows, as perf_analyzer's
    bls_composing_models: tuple[tuple[str, str], ...] = opt(
        (), "--bls-composing-models", cli_default=None, metavar="NAME[:VERSION],...",
        parse=p.bls_models, help="Models a BLS model calls: their server statistics are read "
        "and each gets its own CSV <name>_v<version>.<filename>.")

    @property
    def server_url(self) -> str:
        if self.url:
            return self.url
        return d.DEFAULT_GRPC_URL if self.protocol == "grpc" else d.DEFAULT_HTTP_URL
