"""click keyword arguments → a validated, frozen :class:`RunConfig`."""

from __future__ import annotations

from typing import Any

from ..client.errors import OptionError
from ..config import LoadMode, RunConfig, parse_range
from ..config import options as d
from ..inputs import parse_shape


def _header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise OptionError(f"-H: expected 'Name:Value', got {text!r}")
    return name.strip(), value.strip()


def _sequence_id_range(text: str | None) -> tuple[int, int]:
    if not text:
        return (1, 0)
    parts = text.split(":")
    try:
        nums = [int(p) for p in parts]
    except ValueError:
        raise OptionError(f"--sequence-id-range: expected START[:END] integers, got {text!r}") \
            from None
    if len(nums) > 2:
        raise OptionError(f"--sequence-id-range: expected START[:END], got {text!r}")
    return (nums[0], nums[1] if len(nums) > 1 else 0)


def _mode(kw: dict[str, Any]) -> LoadMode:
    chosen = [flag for flag, key in (("--concurrency-range", "concurrency_range"),
                                     ("--request-rate-range", "request_rate_range"),
                                     ("--request-intervals", "request_intervals")) if kw.get(key)]
    if len(chosen) > 1:
        raise OptionError(f"Cannot use both {chosen[0]} and {chosen[1]} inference load modes")
    if kw.get("request_rate_range"):
        return LoadMode.REQUEST_RATE
    if kw.get("request_intervals"):
        return LoadMode.CUSTOM_INTERVALS
    return LoadMode.CONCURRENCY


def config_from_kwargs(kw: dict[str, Any]) -> RunConfig:
    """Build and validate the config (raises OptionError naming the flag)."""
    if not kw.get("model"):
        raise OptionError("-m: a model name is required")
    if kw.get("async_flag") and kw.get("sync"):
        raise OptionError("-a/--async and --sync are mutually exclusive")
    mode = _mode(kw)
    conc = (parse_range(kw["concurrency_range"], "--concurrency-range", integer=True)
            if kw.get("concurrency_range") else (1.0, 1.0, 1.0))
    rate = (parse_range(kw["request_rate_range"], "--request-rate-range", integer=False)
            if kw.get("request_rate_range") else (1.0, 1.0, 1.0))
    seq_len = kw.get("sequence_length")
    cfg = RunConfig(
        model=kw["model"], model_version=kw.get("model_version") or "",
        batch_size=kw["batch_size"], url=kw.get("url") or "",
        protocol=kw["protocol"].lower(), verbose=kw.get("verbose", 0),
        async_mode=not kw.get("sync"), streaming=kw.get("streaming", False),
        headers=tuple(_header(h) for h in kw.get("headers", ())),
        mode=mode, concurrency_range=conc, request_rate_range=rate,
        request_distribution=kw["request_distribution"],
        request_intervals=kw.get("request_intervals"), binary_search=kw["binary_search"],
        latency_threshold_ms=kw["latency_threshold"], max_threads=kw["max_threads"],
        workers=kw["workers"],
        measurement_mode=kw["measurement_mode"], measurement_interval_ms=kw["measurement_interval"],
        measurement_request_count=kw["measurement_request_count"],
        stability_percentage=kw["stability_percentage"], max_trials=kw["max_trials"],
        stability_windows=kw["stability_windows"],
        percentile=kw["percentile"], request_count=kw["request_count"],
        warmup_request_count=kw["warmup_request_count"], adaptive=kw["adaptive"],
        input_data=tuple(kw.get("input_data") or ("random",)),
        shapes=tuple(parse_shape(s) for s in kw.get("shapes", ())),
        string_length=kw["string_length"], string_data=kw.get("string_data"),
        input_tensor_format=kw["input_tensor_format"],
        output_tensor_format=kw["output_tensor_format"],
        shared_memory=kw["shared_memory"],
        output_shared_memory_size=kw["output_shared_memory_size"] or d.DEFAULT_OUTPUT_SHM_SIZE,
        output_shared_memory_size_given=kw["output_shared_memory_size"] is not None,
        sequence_length=seq_len or 20, sequence_length_given=seq_len is not None,
        sequence_length_variation=kw["sequence_length_variation"],
        sequence_id_range=_sequence_id_range(kw.get("sequence_id_range")),
        num_of_sequences=kw["num_of_sequences"], serial_sequences=kw["serial_sequences"],
        ssl_grpc_use_ssl=kw["ssl_grpc_use_ssl"],
        ssl_grpc_root_certifications_file=kw.get("ssl_grpc_root_certifications_file"),
        ssl_grpc_private_key_file=kw.get("ssl_grpc_private_key_file"),
        ssl_grpc_certificate_chain_file=kw.get("ssl_grpc_certificate_chain_file"),
        ssl_https_verify_peer=kw["ssl_https_verify_peer"],
        ssl_https_verify_host=kw["ssl_https_verify_host"],
        ssl_https_ca_certificates_file=kw.get("ssl_https_ca_certificates_file"),
        ssl_https_client_certificate_file=kw.get("ssl_https_client_certificate_file"),
        ssl_https_private_key_file=kw.get("ssl_https_private_key_file"),
        grpc_compression_algorithm=kw["grpc_compression_algorithm"],
        http_compression=kw["http_compression"],
        filename=kw.get("filename"), verbose_csv=kw["verbose_csv"],
        profile_export_file=kw.get("profile_export_file"),
        collect_metrics=kw["collect_metrics"], metrics_url=kw.get("metrics_url"),
        metrics_interval_ms=kw["metrics_interval"], baseline=kw.get("baseline"),
        repeat=kw.get("repeat", 1),  # gate (issue 15)
        launch_server=kw["launch_server"], model_repository=kw.get("model_repository"),
        seed=kw["seed"],
    )
    return cfg.validate()
