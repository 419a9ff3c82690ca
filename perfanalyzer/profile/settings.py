"""The narrow settings each layer below the conductor receives, built from the run's
configuration: one function per settings type. Only the conductors (profile, search, mpi, cli)
see the whole :class:`~perfanalyzer.config.RunConfig`; the layers below read what is built here."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from ..client.base import ClientOptions, TlsOptions
from ..config import RunConfig
from ..config.goodput import parse_goodput
from ..inputs.setup import RequestSettings
from ..load.settings import LoadSettings
from ..measure.point import WindowPlan
from ..measure.prometheus import ScrapeSettings, default_metrics_url
from ..measure.stabilizer import Criteria
from ..shm.plan import ShmSettings

if TYPE_CHECKING:
    from ..server.embedded import ServerLaunchSettings


def client_options(cfg: RunConfig) -> ClientOptions:
    """The client's options (transport group, -u, -i, --input-tensor-format)."""
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
                         verify_host=t.ssl_https_verify_host != 0,
                         cert_der=t.ssl_https_client_certificate_type == "der",
                         key_der=t.ssl_https_private_key_type == "der")
        compression = t.http_compression
    return ClientOptions(url=url, headers=dict(t.headers), tls=tls,
                         compression=compression,
                         response_compression=t.http_response_compression,
                         connect_timeout_s=t.connect_timeout_s,
                         request_timeout_s=t.request_timeout_s,
                         binary_tensors=cfg.inputs.input_tensor_format == "binary",
                         grpc_transport=t.grpc_transport,
                         keepalive_time_ms=t.grpc_keepalive_time_ms,
                         keepalive_timeout_ms=t.grpc_keepalive_timeout_ms,
                         channel_args=t.grpc_channel_args, endpoint=t.endpoint,
                         orca_format=t.orca_format or "")


def request_settings(cfg: RunConfig) -> RequestSettings:
    """What every request carries besides its data."""
    return RequestSettings(model=cfg.server.model, model_version=cfg.server.model_version,
                           binary_outputs=cfg.inputs.output_tensor_format == "binary",
                           parameters=tuple(cfg.inputs.request_parameters))


def shm_settings(cfg: RunConfig) -> ShmSettings:
    """The shared-memory stage's settings (--shared-memory, --output-shared-memory-size)."""
    i = cfg.inputs
    return ShmSettings(kind=i.shared_memory, batch_size=i.batch_size,
                       output_size=i.output_shared_memory_size,
                       output_size_given=i.output_shared_memory_size_given,
                       protocol=cfg.server.protocol, client=client_options(cfg))


def load_settings(cfg: RunConfig) -> LoadSettings:
    """The load layer's settings: levels, schedules, sequences, senders, worker processes."""
    load, i, m, t = cfg.load, cfg.inputs, cfg.measurement, cfg.transport
    return LoadSettings(
        mode=load.mode, model=cfg.server.model,
        concurrency_range=load.concurrency_range, request_rate_range=load.request_rate_range,
        request_distribution=load.request_distribution, request_burstiness=load.request_burstiness,
        request_intervals=load.request_intervals, fixed_schedule=load.fixed_schedule,
        input_data=tuple(i.input_data), seed=i.seed, max_threads=load.max_threads,
        request_count=m.request_count, warmup_request_count=m.warmup_request_count,
        batch_size=i.batch_size,
        sequence_length=load.sequence_length, sequence_length_given=load.sequence_length_given,
        sequence_length_variation=load.sequence_length_variation,
        sequence_id_range=load.sequence_id_range, num_of_sequences=load.num_of_sequences,
        serial_sequences=load.serial_sequences,
        streaming=load.streaming, endpoint=t.endpoint, orca_format=t.orca_format,
        export_tensors=cfg.output.export_tensors, on_mismatch=i.on_mismatch,
        shared_memory=i.shared_memory, requests=request_settings(cfg),
        workers=load.workers, protocol=cfg.server.protocol, client=client_options(cfg),
        event_loop=t.event_loop)


def scrape_settings(cfg: RunConfig) -> ScrapeSettings | None:
    """What --collect-metrics scrapes (the URL defaults from -u's host), or None without it."""
    out = cfg.output
    if not out.collect_metrics:
        return None
    url = out.metrics_url or default_metrics_url(cfg.server.server_url)
    return ScrapeSettings(url=url, interval_s=out.metrics_interval_ms / 1000.0)


def server_launch_settings(cfg: RunConfig) -> ServerLaunchSettings:
    """What ``--launch-server`` starts, and whether the run scrapes the server's metrics."""
    from ..server.embedded import ServerLaunchSettings

    srv = cfg.server
    return ServerLaunchSettings(
        url=srv.url, protocol=srv.protocol, model=srv.model,
        model_repository=srv.model_repository,
        wants_metrics_url=cfg.output.collect_metrics and not cfg.output.metrics_url)


@contextlib.contextmanager
def served(cfg: RunConfig) -> Iterator[RunConfig]:
    """``--launch-server``: the server for this run, and the configuration pointed at it;
    without the flag, ``cfg`` unchanged (and no launcher imported)."""
    if not cfg.server.launch_server:
        yield cfg
        return
    from ..server.embedded import server_for_run

    with server_for_run(server_launch_settings(cfg)) as at:
        changes: dict[str, Any] = {"url": at.url}
        if at.metrics_url is not None:
            changes["metrics_url"] = at.metrics_url
        yield cfg.replace(**changes)


def throughput_only_accepted(cfg: RunConfig, sequence: bool = False) -> bool:
    """Whether a point whose throughput settled but latency did not is kept ("throughput only"):
    only in perf_analyzer's async mode, which ``-a`` asks for and ``--streaming`` or a sequence
    model force on (never under ``--sync``). perfanalyzer sends asynchronously by default, but
    judges a run as perf_analyzer judges the mode its user asked for (its default is synchronous)."""
    load = cfg.load
    return load.async_mode and (load.async_flag or load.streaming or sequence)


def window_plan(cfg: RunConfig, cores: float = 1.0, sequence: bool = False) -> WindowPlan:
    """The plan of a run's windows (``cores``: the CPU the load may use, for saturation marks;
    ``sequence``: the model is a sequence model)."""
    m = cfg.measurement
    return WindowPlan(
        count_windows=m.count_windows,
        interval_s=m.measurement_interval_ms / 1000.0,
        request_count=m.request_count or m.measurement_request_count,
        criteria=Criteria(stability_pct=m.stability_percentage, max_trials=m.max_trials,
                          window_count=m.stability_windows,
                          latency_threshold_ns=m.latency_threshold_ns,
                          async_mode=throughput_only_accepted(cfg, sequence)),
        percentile=m.percentile, adaptive=m.adaptive, single_window=m.request_count > 0,
        batch_size=cfg.inputs.batch_size, warmup_requests=m.warmup_request_count, cores=cores,
        latency_from=m.latency_from, goodput=parse_goodput(m.goodput))


__all__ = ["client_options", "load_settings", "request_settings", "scrape_settings", "served",
           "server_launch_settings", "shm_settings", "throughput_only_accepted", "window_plan"]
