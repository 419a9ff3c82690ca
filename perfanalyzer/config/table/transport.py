"""The option table's transport group: how requests travel."""

from __future__ import annotations

from dataclasses import dataclass

from .. import defaults as d
from .. import parse as p
from ..choices import (
    COMPRESSION,
    EVENT_LOOPS,
    GRPC_TRANSPORTS,
    KEY_TYPES,
)
from ..choices import finite_nonneg as _finite_nonneg
from ..choices import nonneg as _nonneg
from ..choices import pos as _pos
from ..defaults import (
    DEFAULT_CONNECT_TIMEOUT_S,
    DEFAULT_REQUEST_TIMEOUT_S,
    DEFAULT_STARTUP_TIMEOUT_S,
)
from ..option import opt


@dataclass(frozen=True, kw_only=True)
class TransportConfig:
    """How requests travel: headers, TLS, compression."""

    headers: tuple[tuple[str, str], ...] = opt((), "-H", "--header", param="headers",
                                               multiple=True, parse=p.headers,
                                               help="HTTP header 'Name:Value' (repeatable).")
    ssl_grpc_use_ssl: bool = opt(False, "--ssl-grpc-use-ssl", switch=True,
                                 help="Use TLS for gRPC.")
    ssl_grpc_root_certifications_file: str | None = opt(None, "--ssl-grpc-root-certifications-file",
        figures=False, help="gRPC TLS: root certificates (PEM).")
    ssl_grpc_private_key_file: str | None = opt(None, "--ssl-grpc-private-key-file",
                                                figures=False, help="gRPC TLS: client private key (PEM).")
    ssl_grpc_certificate_chain_file: str | None = opt(None, "--ssl-grpc-certificate-chain-file",
        figures=False, help="gRPC TLS: client certificate chain (PEM).")
    ssl_https_verify_peer: int = opt(1, "--ssl-https-verify-peer", kind=int, bounds=(0, 1),
                                     help="HTTPS: verify the server's certificate (1) or not (0).")
    ssl_https_verify_host: int = opt(2, "--ssl-https-verify-host", kind=int, bounds=(0, 2),
                                     help="HTTPS: verify the server's host name (2) or not (0; 1 acts as 2).")
    ssl_https_ca_certificates_file: str | None = opt(None, "--ssl-https-ca-certificates-file",
        figures=False, help="HTTPS: CA certificates to verify the server with.")
    ssl_https_client_certificate_file: str | None = opt(None,
                                                        "--ssl-https-client-certificate-file",
                                                        figures=False, help="HTTPS: client "
                                                        "certificate (see "
                                                        "--ssl-https-client-certificate-type).")
    ssl_https_private_key_file: str | None = opt(None, "--ssl-https-private-key-file",
        figures=False, help="HTTPS: client private key (see --ssl-https-private-key-type).")
    ssl_https_client_certificate_type: str = opt(
        "pem", "--ssl-https-client-certificate-type", choices=KEY_TYPES, ignore_case=True,
        show_default=True, help="Format of --ssl-https-client-certificate-file: PEM or DER.")
    ssl_https_private_key_type: str = opt(
        "pem", "--ssl-https-private-key-type", choices=KEY_TYPES, ignore_case=True,
        show_default=True, help="Format of --ssl-https-private-key-file: PEM or DER.")
    grpc_compression_algorithm: str = opt("none", "--grpc-compression-algorithm",
                                          choices=COMPRESSION,
                                          help="Compress gRPC requests: none, gzip or deflate.")
    http_compression: str = opt("none", "--http-compression", choices=COMPRESSION,
                                help="Compress HTTP request bodies (perfanalyzer extension).")
    http_response_compression: str = opt(
        "none", "--http-response-compression", choices=COMPRESSION,
        help="Ask for compressed HTTP responses (Accept-Encoding; decoded where read). Over gRPC "
        "the server's setting decides, and both transports accept gzip and deflate "
        "(perfanalyzer extension).")
    grpc_transport: str = opt("lean", "--grpc-transport", choices=GRPC_TRANSPORTS,
                              cli_default=None, given="grpc_transport_given",
                              help="gRPC send path: lean (perfanalyzer's own HTTP/2 connections, "
                              "less client CPU) or grpcio (grpc.aio) [default: lean]. TLS, "
                              "request compression or --grpc-channel-arg use grpcio. Recorded in "
                              "the run's provenance (perfanalyzer extension).")
    grpc_transport_given: bool = False
    grpc_keepalive_time_ms: int = opt(
        0, "--grpc-keepalive-time", kind=int, metavar="MS", check=_nonneg,
        message="--grpc-keepalive-time: expected milliseconds >= 0, got {value}",
        help="gRPC keepalive: PING each connection every MS ms, with or without calls in flight, "
        "on both transports (0 = off; the Triton client's KeepAliveOptions).")
    grpc_keepalive_timeout_ms: int = opt(
        d.DEFAULT_KEEPALIVE_TIMEOUT_MS, "--grpc-keepalive-timeout", kind=int, metavar="MS", show_default=True,
        check=_pos, message="--grpc-keepalive-timeout: expected milliseconds > 0, got {value}",
        help="gRPC keepalive: a connection whose PING is not acknowledged within MS ms is "
        "closed and its calls fail.")
    grpc_channel_args: tuple[tuple[str, int | str], ...] = opt(
        (), "--grpc-channel-arg", param="grpc_channel_arg", multiple=True, metavar="NAME=VALUE",
        parse=p.channel_args, help="A grpc.aio channel argument (repeatable; an integer VALUE is "
        "passed as one); the requests then go through the grpcio transport (the lean one has no "
        "channel arguments).")
    endpoint: str = opt(
        "infer", "--endpoint", choices=("infer", "generate", "generate_stream"),
        show_default=True, help="HTTP: KServe's infer, or Triton's generate extension: generate "
        "(one JSON answer) or generate_stream (server-sent events, one per response; time to "
        "first response and inter-response time as with --streaming). Inputs become JSON fields "
        "named after them, --request-parameter values the request's parameters. (perf_analyzer's "
        "--endpoint is an OpenAI path.)")
    orca_format: str | None = opt(
        None, "--orca-format", choices=("text", "json"), help="HTTP: send "
        "'endpoint-load-metrics-format' with every inference request and average the "
        "'endpoint-load-metrics' (ORCA) answers' metrics per window, shown with the server "
        "figures and in the export (Triton sends them with the TensorRT-LLM backend).")
    event_loop: str = opt("auto", "--event-loop", choices=EVENT_LOOPS, show_default=True,
                          help="Event loop: uvloop, asyncio, or auto (uvloop when installed). "
                          "Recorded in the run's provenance (perfanalyzer extension).")
    # --- never harm, never hang: secrets and time limits ---
    secret_headers: tuple[str, ...] = opt(
        (), "--secret-header", multiple=True, cli_default=(), metavar="NAME",
        help="Treat this -H header's value as a secret: never written or printed (repeatable; "
        "Authorization, Proxy-Authorization, Cookie and Set-Cookie always are).")
    connect_timeout_s: float = opt(
        DEFAULT_CONNECT_TIMEOUT_S, "--connect-timeout", kind=float, show_default=True,
        check=_finite_nonneg, message="--connect-timeout: expected seconds >= 0, got {value}",
        help="Seconds to open a connection (0 = no limit).")
    startup_timeout_s: float = opt(
        DEFAULT_STARTUP_TIMEOUT_S, "--startup-timeout", kind=float, show_default=True,
        check=_finite_nonneg, message="--startup-timeout: expected seconds >= 0, got {value}",
        help="Seconds for each start-up call (health, metadata, config, statistics) before the "
        "run ends (0 = no limit).")
    request_timeout_s: float = opt(
        DEFAULT_REQUEST_TIMEOUT_S, "--request-timeout", kind=float, show_default=True,
        check=_finite_nonneg, message="--request-timeout: expected seconds >= 0, got {value}",
        help="Seconds before a request counts as failed (0 = no limit).")
