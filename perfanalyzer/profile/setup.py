"""Before any load: connect, check the model, build every request payload once."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..client import ClientOptions, InferenceClient, create_client
from ..client.base import InferRequest, RequestedOutput, TlsOptions
from ..client.errors import OptionError, ServerError, TransportError
from ..client.http import make_ssl_context
from ..config import RunConfig
from ..inputs import DataOptions, InputData, ModelIO, load_input_data, model_io
from ..load.factory import check_load_options
from ..measure.result import ModelTraits
from ..redact import redact_url
from .reach import DEFAULT_CONNECT_TIMEOUT_S, ServerUnavailable, probe_tcp, probe_tls, startup

T = TypeVar("T")
CONNECT_TIMEOUT_S = DEFAULT_CONNECT_TIMEOUT_S  # the default; --connect-timeout sets it


def client_options(cfg: RunConfig) -> ClientOptions:
    if cfg.protocol == "grpc":
        tls = TlsOptions(enabled=cfg.ssl_grpc_use_ssl, ca_file=cfg.ssl_grpc_root_certifications_file,
                         cert_file=cfg.ssl_grpc_certificate_chain_file,
                         key_file=cfg.ssl_grpc_private_key_file)
        compression = cfg.grpc_compression_algorithm
    else:
        url = cfg.server_url
        tls = TlsOptions(enabled=url.startswith("https://") or bool(
                             cfg.ssl_https_ca_certificates_file
                             or cfg.ssl_https_client_certificate_file),
                         ca_file=cfg.ssl_https_ca_certificates_file,
                         cert_file=cfg.ssl_https_client_certificate_file,
                         key_file=cfg.ssl_https_private_key_file,
                         verify_peer=bool(cfg.ssl_https_verify_peer),
                         verify_host=cfg.ssl_https_verify_host != 0)
        compression = cfg.http_compression
    return ClientOptions(url=cfg.server_url, headers=dict(cfg.headers), tls=tls,
                         compression=compression, connect_timeout_s=cfg.connect_timeout_s,
                         request_timeout_s=cfg.request_timeout_s,
                         binary_tensors=cfg.input_tensor_format == "binary")


def no_server_hint(url: str) -> str:
    try:
        from ..server.embedded import no_server_hint as hint

        return hint(url)
    except ImportError:  # pragma: no cover - the server module always ships
        return (f"no inference server is listening at {url}; start one with `perfanalyzer serve` "
                "or add --launch-server")


def _tls(cfg: RunConfig) -> bool:
    return client_options(cfg).tls.enabled


def within_startup(cfg: RunConfig, call: Awaitable[T]) -> Awaitable[T]:
    """``call`` under --startup-timeout, its transport failures as one precise line."""
    return startup(call, url=cfg.server_url, protocol=cfg.protocol, tls=_tls(cfg),
                   timeout_s=cfg.startup_timeout_s)


async def connect(cfg: RunConfig) -> InferenceClient:
    # a plain TCP connect first: only "refused" means no server (issue 13)
    await probe_tcp(cfg.server_url, cfg.protocol, cfg.connect_timeout_s,
                    no_server_hint(cfg.server_url))
    opts = client_options(cfg)
    if cfg.protocol == "grpc" and opts.tls.enabled:  # gRPC would not say why TLS failed
        await probe_tls(cfg.server_url, cfg.protocol, make_ssl_context(opts.tls),
                        cfg.connect_timeout_s)
    client = create_client(cfg.protocol, opts)
    try:  # the first call also connects: it gets both deadlines
        live = await startup(client.is_server_live(), url=cfg.server_url, protocol=cfg.protocol,
                             tls=opts.tls.enabled,
                             timeout_s=cfg.startup_timeout_s + cfg.connect_timeout_s)
    except BaseException:
        await client.close()
        raise
    if not live:
        await client.close()
        raise ServerUnavailable(f"the server at {redact_url(cfg.server_url)} is not live")
    if cfg.protocol == "http" and cfg.input_tensor_format == "binary" \
            and not await within_startup(cfg, _has_extension(client, "binary_tensor_data")):
        # KServe servers without Triton's binary extension (KServe Python server, MLServer...).
        await client.close()
        client = create_client(cfg.protocol, dataclasses.replace(client_options(cfg),
                                                                 binary_tensors=False))
    return client


async def _has_extension(client: InferenceClient, name: str) -> bool:
    try:
        meta = await client.server_metadata()
    except ServerError:
        return False
    return name in (meta.get("extensions") or [])


@dataclass(frozen=True)
class ModelSetup:
    metadata: dict[str, Any]
    config: dict[str, Any]
    io: ModelIO
    traits: ModelTraits
    data: InputData
    #: The requests to send (per stream, per step), once rewritten for shared memory; None: build
    #: them with :func:`requests_for`.
    requests: list[list[InferRequest]] | None = None


async def describe_model(client: InferenceClient, cfg: RunConfig) -> tuple[dict[str, Any],
                                                                          dict[str, Any]]:
    try:
        metadata = await client.model_metadata(cfg.model, cfg.model_version)
    except ServerError as exc:
        names = await _model_names(client)
        have = f"; the server has: {', '.join(names)}" if names else ""
        raise ServerError(exc.status, f"-m: model '{cfg.model}' is not available "
                          f"({exc.message}){have}") from exc
    try:
        config = await client.model_config(cfg.model, cfg.model_version)
    except ServerError:
        config = {}  # servers without Triton's model-configuration extension: metadata only
    return metadata, config


async def _model_names(client: InferenceClient) -> list[str]:
    try:
        index = await client.repository_index()
    except (ServerError, TransportError):
        return []
    return sorted({str(m.get("name")) for m in index if m.get("name")})


async def prepare_model(client: InferenceClient, cfg: RunConfig) -> ModelSetup:
    """Read metadata and config, validate the flags against the model, build the input data."""
    metadata, config = await describe_model(client, cfg)
    io = model_io(metadata, config)
    if cfg.shared_memory != "none":  # cuda-python/GPU, server extension, output sizes
        from ..shm.plan import check_shared_memory

        await check_shared_memory(client, cfg, io)
    traits = ModelTraits(
        name=cfg.model, version=cfg.model_version, decoupled=io.is_decoupled,
        sequence=io.is_sequence, ensemble=io.is_ensemble,
        cache_enabled=bool((config.get("response_cache") or {}).get("enable")),
        composing=tuple(io.composing_models), max_batch_size=io.max_batch_size)
    if traits.decoupled and not cfg.streaming:
        raise OptionError(f"-m: model '{cfg.model}' is decoupled; profile it with -i grpc "
                          "--streaming")
    check_load_options(cfg, io)
    data = load_input_data(io, DataOptions(
        batch_size=cfg.batch_size, input_data=cfg.input_data, shapes=dict(cfg.shapes),
        string_length=cfg.string_length, string_data=cfg.string_data, seed=cfg.seed,
        memory_limit_bytes=int(cfg.input_memory_limit_mb * 2**20)))  # issue 13
    return ModelSetup(metadata=metadata, config=config, io=io, traits=traits, data=data)


def requests_for(cfg: RunConfig, setup: ModelSetup) -> list[list[InferRequest]]:
    """One InferRequest per data step, per stream (before any shared-memory rewriting)."""
    binary = cfg.output_tensor_format == "binary"
    outputs = tuple(RequestedOutput(o.name, binary=binary) for o in setup.io.outputs)
    return [[InferRequest(model=cfg.model, version=cfg.model_version, inputs=step.inputs,
                          outputs=outputs) for step in stream]
            for stream in setup.data.streams]
