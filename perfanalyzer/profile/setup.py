"""Before any load: connect, check the model, build every request payload once."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable
from typing import Any, TypeVar

from ..client import InferenceClient, create_client
from ..client.http import make_ssl_context
from ..config import RunConfig
from ..errors import OptionError, RequestTimeout, ServerError, TransportError
from ..inputs import DataOptions, load_input_data, model_io
from ..inputs.model import ModelTraits
from ..inputs.no_config import batch_dimension
from ..inputs.setup import ModelSetup
from ..load.factory import check_load_options
from ..measure.server_stats import composing_models
from ..redact import redact_url
from .reach import ServerUnavailable, headers_size, probe_tcp, probe_tls, startup
from .settings import client_options, load_settings, shm_settings

T = TypeVar("T")


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
    return startup(call, url=cfg.server.server_url, protocol=cfg.server.protocol, tls=_tls(cfg),
                   timeout_s=cfg.transport.startup_timeout_s,
                   header_bytes=headers_size(cfg.transport.headers))


async def connect(cfg: RunConfig) -> InferenceClient:
    # a plain TCP connect first: only "refused" means no server
    url, protocol, tr = cfg.server.server_url, cfg.server.protocol, cfg.transport
    await probe_tcp(url, protocol, tr.connect_timeout_s, no_server_hint(url))
    opts = client_options(cfg)
    if protocol == "grpc" and opts.tls.enabled:  # gRPC would not say why TLS failed
        await probe_tls(url, protocol, make_ssl_context(opts.tls), tr.connect_timeout_s)
    client = create_client(protocol, opts)
    try:  # the first call also connects: it gets both deadlines
        live = await startup(client.is_server_live(), url=url, protocol=protocol,
                             tls=opts.tls.enabled,
                             timeout_s=tr.startup_timeout_s + tr.connect_timeout_s,
                             header_bytes=headers_size(tr.headers))
    except BaseException:
        await client.close()
        raise
    if not live:
        await client.close()
        raise ServerUnavailable(f"the server at {redact_url(cfg.server.server_url)} is not live")
    if cfg.server.model_ready_timeout_s > 0:
        try:
            await wait_for_model(client, cfg)
        except BaseException:
            await client.close()
            raise
    if cfg.server.protocol == "http" and cfg.inputs.input_tensor_format == "binary" \
            and not await within_startup(cfg, _has_extension(client, "binary_tensor_data")):
        # KServe servers without Triton's binary extension (KServe Python server, MLServer...).
        await client.close()
        client = create_client(cfg.server.protocol, dataclasses.replace(client_options(cfg),
                                                                 binary_tensors=False))
    return client


#: How often the model's readiness is asked while --model-ready-timeout waits.
MODEL_READY_POLL_S = 0.25


async def wait_for_model(client: InferenceClient, cfg: RunConfig) -> None:
    """--model-ready-timeout: poll the model's readiness until it is ready (a model still loading
    is not yet), or fail once the time is up, naming the flag."""
    model, version = cfg.server.model, cfg.server.model_version
    timeout_s = cfg.server.model_ready_timeout_s
    try:  # the outer bound: one readiness call that hangs cannot outlast the wait
        await asyncio.wait_for(client.wait_until_ready(timeout_s, model=model, version=version,
                                                       poll_s=MODEL_READY_POLL_S),
                               timeout_s + cfg.transport.connect_timeout_s + 1)
    except (RequestTimeout, asyncio.TimeoutError) as exc:
        why = str(exc) or "no answer to the readiness call"
        raise ServerUnavailable(f"--model-ready-timeout {timeout_s:g}: model '{model}' is not "
                                f"ready after {timeout_s:g} s ({why})") from exc


async def _has_extension(client: InferenceClient, name: str) -> bool:
    try:
        meta = await client.server_metadata()
    except ServerError:
        return False
    return name in (meta.get("extensions") or [])


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


async def _has_sequence_step(client: InferenceClient, config: dict[str, Any]) -> bool:
    """Whether any composing model of an ensemble (nested ones expanded) has sequence batching."""
    for name in await composing_models(client, config):
        if (await client.model_config(name)).get("sequence_batching") is not None:
            return True
    return False


async def _model_names(client: InferenceClient) -> list[str]:
    try:
        index = await client.repository_index()
    except (ServerError, TransportError):
        return []
    return sorted({str(m.get("name")) for m in index if m.get("name")})


async def prepare_model(client: InferenceClient, cfg: RunConfig) -> ModelSetup:
    """Read metadata and config, validate the flags against the model, build the input data."""
    metadata, config = await describe_model(client, cfg)
    config, note = batch_dimension(metadata, config, cfg.inputs.batch_size)  # no model config
    io = model_io(metadata, config)
    if io.is_ensemble and not io.is_sequence and await _has_sequence_step(client, config):
        # perf_analyzer's rule: an ensemble with a stateful step is a sequence model (its
        # requests carry a sequence id and start/end flags, which Triton passes on)
        io = dataclasses.replace(io, is_sequence=True)
    if cfg.inputs.shared_memory != "none":  # cuda-python/GPU, server extension, output sizes
        from ..shm.plan import check_shared_memory

        await check_shared_memory(client, shm_settings(cfg), io)
    traits = ModelTraits(
        name=cfg.server.model, version=cfg.server.model_version, decoupled=io.is_decoupled,
        sequence=io.is_sequence, ensemble=io.is_ensemble,
        cache_enabled=bool((config.get("response_cache") or {}).get("enable")),
        composing=tuple(io.composing_models), max_batch_size=io.max_batch_size)
    if traits.decoupled and not (cfg.load.streaming
                                 or cfg.transport.endpoint == "generate_stream"):
        raise OptionError(f"-m: model '{cfg.server.model}' is decoupled; profile it with -i grpc "
                          "--streaming or -i http --endpoint generate_stream")
    check_load_options(load_settings(cfg), io)
    data = load_input_data(io, DataOptions(
        batch_size=cfg.inputs.batch_size, input_data=cfg.inputs.input_data, shapes=dict(cfg.inputs.shapes),
        string_length=cfg.inputs.string_length, string_data=cfg.inputs.string_data, seed=cfg.inputs.seed,
        memory_limit_bytes=int(cfg.inputs.input_memory_limit_mb * 2**20)))
    return ModelSetup(metadata=metadata, config=config, io=io, traits=traits, data=data,
                      notes=(note,) if note else ())


