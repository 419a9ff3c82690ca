"""The option table's policy (``modes``, ``figures``, ``mpi_agree``, ``search_refused``, help): the
lists derived from it equal the hand lists they replaced, written here as they were, so nothing
moved; and MPI ranks agree on -a (it changes how stability is judged)."""

from __future__ import annotations

import click
import pytest

from perfanalyzer.cli.main import cli, profile_config
from perfanalyzer.cli.search_cmd import _REFUSED
from perfanalyzer.config import LoadMode, RunConfig
from perfanalyzer.config import defaults as d
from perfanalyzer.config.option import entries
from perfanalyzer.config.policy import GROUP_CLASSES, table
from perfanalyzer.config.table import GROUPS
from perfanalyzer.config.validate import PERIODIC_REFUSED, RULES, RUN_RULES
from perfanalyzer.errors import OptionError
from perfanalyzer.gate.provenance import IGNORED_CONFIG
from perfanalyzer.mpi import world

OLD_PERIODIC_REFUSED = (
    ("measurement", "measurement_mode", "time_windows", "--measurement-mode"),
    ("measurement", "measurement_interval_ms", d.DEFAULT_MEASUREMENT_INTERVAL_MS, "-p"),
    ("measurement", "measurement_request_count", d.DEFAULT_MEASUREMENT_REQUEST_COUNT,
     "--measurement-request-count"),
    ("measurement", "stability_percentage", d.DEFAULT_STABILITY_PCT, "-s"),
    ("measurement", "max_trials", d.DEFAULT_MAX_TRIALS, "-r"),
    ("measurement", "stability_windows", d.DEFAULT_STABILITY_WINDOWS, "--stability-windows"),
    ("measurement", "request_count", 0, "--request-count"),
    ("measurement", "warmup_request_count", 0, "--warmup-request-count"),
    ("measurement", "adaptive", False, "--adaptive"),
    ("measurement", "latency_threshold_ms", 0.0, "-l"),
    ("measurement", "latency_from", "sent", "--latency-from"),
    ("measurement", "repeat", 1, "--repeat"),
    ("load", "binary_search", False, "--binary-search"),
    ("load", "request_distribution", "constant", "--request-distribution"),
    ("load", "request_burstiness", None, "--request-burstiness"),
    ("load", "max_threads", 0, "--max-threads"),
    ("load", "enable_mpi", False, "--enable-mpi"),
    ("output", "filename", None, "-f"),
    ("output", "verbose_csv", False, "--verbose-csv"),
    ("output", "csv_all_points", False, "--csv-all-points"),
    ("output", "csv_streaming", False, "--csv-streaming"),
    ("output", "baseline", None, "--baseline"),
)

OLD_IGNORED_CONFIG = frozenset({
    "filename", "profile_export_file", "html", "events", "quiet", "verbose", "verbose_csv", "baseline",
    "collect_metrics", "metrics_url", "metrics_interval_ms", "concurrency_range", "request_rate_range",
    "binary_search", "latency_threshold_ms", "model_repository",
    "ssl_grpc_root_certifications_file", "ssl_grpc_private_key_file",
    "ssl_grpc_certificate_chain_file", "ssl_https_ca_certificates_file",
    "ssl_https_client_certificate_file", "ssl_https_private_key_file", "repeat",
})

OLD_LOAD_FIELDS = (
    ("mode", "the load mode"), ("concurrency_range", "--concurrency-range"),
    ("request_rate_range", "--request-rate-range"),
    ("request_distribution", "--request-distribution"),
    ("request_burstiness", "--request-burstiness"),
    ("request_intervals", "--request-intervals"), ("binary_search", "--binary-search"),
    ("latency_threshold_ms", "-l/--latency-threshold"), ("max_threads", "--max-threads"),
    ("batch_size", "-b/--batch-size"), ("async_mode", "--sync"), ("streaming", "--streaming"),
    ("measurement_mode", "--measurement-mode"),
    ("measurement_interval_ms", "-p/--measurement-interval"),
    ("measurement_request_count", "--measurement-request-count"),
    ("stability_percentage", "-s/--stability-percentage"), ("max_trials", "-r/--max-trials"),
    ("stability_windows", "--stability-windows"), ("percentile", "--percentile"),
    ("request_count", "--request-count"), ("warmup_request_count", "--warmup-request-count"),
    ("adaptive", "--adaptive"),
)

OLD_SEARCH_REFUSED = {
    "latency_threshold_ms": ("-l", 0.0, "use --latency-budget-ms (the sweep stops there)"),
    "filename": ("-f", None, "each candidate's CSV is written in --output-dir"),
    "profile_export_file": ("--profile-export-file", None,
                            "each candidate's export is written in --output-dir"),
    "baseline": ("--baseline", None, "a search has no baseline gate"),
    "html": ("--html", None, "the search writes its summary in --output-dir"),
    "events": ("--events", None, "a search runs many sweeps; follow its summary in --output-dir"),
    "periodic_concurrency_range": ("--periodic-concurrency-range", None,
                                   "a search compares stable load points; the periodic mode "
                                   "measures none"),
    "request_period": ("--request-period", None, "only used by --periodic-concurrency-range, "
                       "which a search does not run"),
    "repeat": ("--repeat", 1, "the finalists are re-measured as --replicates runs"),
}

#: The texts cli/help_texts.py gave options declared without help.
OLD_HELP = {
    "protocol": "Protocol: http or grpc.",
    "request_distribution": "Gaps between sends in request-rate mode: constant (1/rate), "
                            "poisson (exponential) or gamma (see --request-burstiness).",
    "measurement_mode": "time_windows: windows of -p ms; count_windows: windows of "
                        "--measurement-request-count requests.",
    "string_length": "Length of generated strings for BYTES inputs.",
    "input_tensor_format": "How HTTP sends input tensors: binary or json.",
    "output_tensor_format": "How HTTP asks for output tensors: binary or json.",
    "shared_memory": "Pass tensors through system or CUDA shared memory instead of the request.",
    "sequence_id_range": "Sequence ids to use (end 0 or omitted: unbounded).",
    "ssl_grpc_use_ssl": "Use TLS for gRPC.",
    "ssl_grpc_root_certifications_file": "gRPC TLS: root certificates (PEM).",
    "ssl_grpc_private_key_file": "gRPC TLS: client private key (PEM).",
    "ssl_grpc_certificate_chain_file": "gRPC TLS: client certificate chain (PEM).",
    "ssl_https_verify_peer": "HTTPS: verify the server's certificate (1) or not (0).",
    "ssl_https_verify_host": "HTTPS: verify the server's host name (2) or not (0; 1 acts as 2).",
    "ssl_https_ca_certificates_file": "HTTPS: CA certificates to verify the server with.",
    "ssl_https_client_certificate_file": "HTTPS: client certificate (see "
                                         "--ssl-https-client-certificate-type).",
    "ssl_https_private_key_file": "HTTPS: client private key (see --ssl-https-private-key-type).",
    "grpc_compression_algorithm": "Compress gRPC requests: none, gzip or deflate.",
    "verbose_csv": "Add perf_analyzer's verbose columns to -f's CSV (Avg latency, "
                   "request/response, response wait; GPU columns with --collect-metrics).",
}


def test_periodic_refusals_are_the_old_hand_list() -> None:
    assert sorted(PERIODIC_REFUSED) == sorted(OLD_PERIODIC_REFUSED)


def test_the_gate_ignores_the_keys_it_ignored() -> None:
    assert IGNORED_CONFIG == OLD_IGNORED_CONFIG


def test_mpi_ranks_agree_on_the_old_flags_and_on_a() -> None:
    assert sorted(world.LOAD_FIELDS) == sorted((*OLD_LOAD_FIELDS, ("async_flag", "-a/--async")))
    assert world.LOAD_FIELDS[0] == ("mode", "the load mode")


def test_search_refuses_what_it_refused() -> None:
    assert _REFUSED == OLD_SEARCH_REFUSED


def test_help_texts_moved_onto_their_options() -> None:
    params = {p.name: p for p in cli.commands["profile"].params}
    for name, text in OLD_HELP.items():
        param = params[name]
        assert isinstance(param, click.Option) and param.help == text, name


def test_every_cross_field_rule_is_listed_once() -> None:
    assert len(set(RULES)) == len(RULES)


def test_policy_names_real_modes() -> None:
    modes = {m.value for m in LoadMode}
    for entry in entries(RunConfig):
        assert set(entry.option.modes) <= modes, entry.name


def _info(rank: int, **flags: object) -> world.RankInfo:
    return world.rank_info(RunConfig.of(model="m", **flags), rank)


def test_ranks_merging_one_model_must_agree_on_a() -> None:
    """-a keeps a point whose latency did not settle ("throughput only"): ranks that judge
    stability differently cannot cut windows together."""
    infos = [_info(0, async_flag=True), _info(1)]
    with pytest.raises(OptionError, match=r"ranks 0 and 1 .* different -a/--async "
                                          r"\(True vs False\)"):
        world.form_group(infos, 1)
    assert world.form_group([_info(0, async_flag=True), _info(1, async_flag=True)], 1).merged


def test_a_flag_only_periodic_mode_uses_is_refused_elsewhere() -> None:
    for mode_flags in ((), ("--request-rate-range", "5")):
        ctx = cli.commands["profile"].make_context(
            "profile", ["-m", "M", *mode_flags, "--request-period", "5"])
        with pytest.raises(OptionError, match=r"^--request-period: only used by "
                                              r"--periodic-concurrency-range$"):
            profile_config(ctx.params)


@pytest.mark.parametrize(("flags", "message"), [
    ({"batch_sizes": (1, 2), "baseline": "b.json"}, "--baseline: compares one sweep"),
    ({"batch_sizes": (1, 2), "periodic_concurrency_range": (1, 4, 1)},
     "--periodic-concurrency-range: one run; not with a -b list"),
    ({"batch_sizes": (1, 2), "html": "r.html"}, "--html: reports one sweep"),
    ({"batch_sizes": (1, 2), "events": "e.jsonl"}, "--events: reports one sweep"),
    ({"html": "r.html", "periodic_concurrency_range": (1, 4, 1)},
     "--html: a periodic concurrency run has one window"),
    ({"batch_sizes": (1, 2), "repeat": 2}, "--repeat: repeats one sweep"),
    ({"enable_mpi": True, "events": "e.jsonl"}, "--events: not with --enable-mpi"),
    ({"enable_mpi": True, "repeat": 2}, "--repeat: not with --enable-mpi"),
    ({"enable_mpi": True, "batch_sizes": (1, 2)}, "--enable-mpi: one sweep per rank"),
])
def test_the_profile_commands_own_rules(flags: dict[str, object], message: str) -> None:
    cfg = RunConfig.of(model="m", **flags)
    with pytest.raises(OptionError, match=f"^{message}"):
        for rule in RUN_RULES:
            rule(cfg)


def test_one_sweep_passes_the_profile_commands_rules() -> None:
    cfg = RunConfig.of(model="m", enable_mpi=True, html="r.html", repeat=1)
    for rule in RUN_RULES:
        rule(cfg)


def test_the_policy_walks_the_table_in_its_order() -> None:
    assert [(g, cls) for g, cls in GROUP_CLASSES] == list(GROUPS.items())
    assert [e.name for e in table()] == [e.name for e in entries(RunConfig)]
