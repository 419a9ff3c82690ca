"""Before any load: connect, check the model, build every request payload once."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from ..client import ClientOptions, InferenceClient, create_client
from ..client.base import InferRequest, RequestedOutput, TlsOptions
from ..config import RunConfig
from ..errors import ConnectError, OptionError, ServerError, TransportError
from ..inputs import DataOptions, InputData, ModelIO, load_input_data, model_io
from ..load.factory import check_load_options
from ..measure.result import ModelTraits

CONNECT_TIMEOUT_S = 10.0


class ServerUnavailable(TransportError):
    """Nothing answered at the URL (exit 99), with a hint on how to start a server."""


def client_options(cfg: RunConfig) -> ClientOptions:
    t, url = cfg.transport, cfg.server.server_url
    if cfg.server.protocol == "grpc":
        tls = TlsOptions(enabled=t.ssl_grpc_use_ssl, ca_file=t.ssl_grpc_root_certifications_file,
                         cert_file=t.ssl_grpc_certificate_chain_file,
                         key_file=t.ssl_grpc_private_key_file)
        compression = t.grpc_compression_algorithm
    else:
        tls = TlsOptions(enabled=url.startswith("https://") or bool(
                             t.ssl_https_ca_certificates_file or t.ssl_https_client_certificate_file),
                         ca_file=t.ssl_https_ca_certificates_file,
                         cert_file=t.ssl_https_client_certificate_file,
                         key_file=t.ssl_https_private_key_file,
                         verify_peer=bool(t.ssl_https_verify_peer),
                         verify_host=t.ssl_https_verify_host != 0)
        compression = t.http_compression
    return ClientOptions(url=url, headers=dict(t.headers), tls=tls,
                         compression=compression, connect_timeout_s=CONNECT_TIMEOUT_S,
                         binary_tensors=cfg.inputs.input_tensor_format == "binary")


def no_server_hint(url: str) -> str:
    try:
        from ..server.embedded import no_server_hint as hint

        return hint(url)
    except ImportError:  # pragma: no cover - the server module always ships
        return (f"no inference server is listening at {url}; start one with `perfanalyzer serve` "
                "or add --launch-server")


async def connect(cfg: RunConfig) -> InferenceClient:
    client = create_client(cfg.server.protocol, client_options(cfg))
    try:
        live = await client.is_server_live()
    except ConnectError as exc:
        await client.close()
        raise ServerUnavailable(no_server_hint(cfg.server.server_url)) from exc
    except BaseException:
        await client.close()
        raise
    if not live:
        await client.close()
        raise ServerUnavailable(f"the server at {cfg.server.server_url} is not live")
    if cfg.server.protocol == "http" and cfg.inputs.input_tensor_format == "binary" \
            and not await _has_extension(client, "binary_tensor_data"):
        # KServe servers without Triton's binary extension (KServe Python server, MLServer...).
        await client.close()
        client = create_client(cfg.server.protocol, dataclasses.replace(client_options(cfg),
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
        metadata = await client.model_metadata(cfg.server.model, cfg.server.model_version)
    except ServerError as exc:
        names = await _model_names(client)
        have = f"; the server has: {', '.join(names)}" if names else ""
        raise ServerError(exc.status, f"-m: model '{cfg.server.model}' is not available "
                          f"({exc.message}){have}") from exc
    try:
        config = await client.model_config(cfg.server.model, cfg.server.model_version)
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
    if cfg.inputs.shared_memory != "none":  # cuda-python/GPU, server extension, output sizes
        from ..shm.plan import check_shared_memory

        await check_shared_memory(client, cfg, io)
    traits = ModelTraits(
        name=cfg.server.model, version=cfg.server.model_version, decoupled=io.is_decoupled,
        sequence=io.is_sequence, ensemble=io.is_ensemble,
        cache_enabled=bool((config.get("response_cache") or {}).get("enable")),
        composing=tuple(io.composing_models), max_batch_size=io.max_batch_size)
    if traits.decoupled and not cfg.load.streaming:
        raise OptionError(f"-m: model '{cfg.server.model}' is decoupled; profile it with -i grpc "
                          "--streaming")
    check_load_options(cfg, io)
    data = load_input_data(io, DataOptions(
        batch_size=cfg.inputs.batch_size, input_data=cfg.inputs.input_data, shapes=dict(cfg.inputs.shapes),
        string_length=cfg.inputs.string_length, string_data=cfg.inputs.string_data, seed=cfg.inputs.seed))
    return ModelSetup(metadata=metadata, config=config, io=io, traits=traits, data=data)


def requests_for(cfg: RunConfig, setup: ModelSetup) -> list[list[InferRequest]]:
    """One InferRequest per data step, per stream (before any shared-memory rewriting)."""
    binary = cfg.inputs.output_tensor_format == "binary"
    outputs = tuple(RequestedOutput(o.name, binary=binary) for o in setup.io.outputs)
    return [[InferRequest(model=cfg.server.model, version=cfg.server.model_version, inputs=step.inputs,
                          outputs=outputs) for step in stream]
            for stream in setup.data.streams]
