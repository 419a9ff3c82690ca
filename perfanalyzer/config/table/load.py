"""The option table's load group: when requests go: the load mode, its levels, sequences."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import defaults as d
from .. import parse as p
from ..choices import StrChoice
from ..choices import nonneg as _nonneg
from ..choices import pos as _pos
from ..defaults import (
    MAX_CONCURRENCY,
)
from ..option import opt


class LoadMode(StrChoice):
    """Which load a run applies (str-valued: the saved run and the CSV hold the value)."""

    CONCURRENCY = "concurrency"
    REQUEST_RATE = "request_rate"
    CUSTOM_INTERVALS = "custom_intervals"
    PERIODIC = "periodic_concurrency"


#: ``modes`` of a flag periodic mode does not use (it measures the whole run once: no windows, no
#: stability check, no CSV), and of a flag only periodic mode uses.
NOT_PERIODIC = tuple(m.value for m in LoadMode if m is not LoadMode.PERIODIC)
PERIODIC_ONLY = (LoadMode.PERIODIC.value,)


@dataclass(frozen=True, kw_only=True)
class LoadConfig:
    """When requests go: the load mode, its levels, sequences."""

    async_flag: bool = opt(False, "-a", "--async", switch=True,
                           help="perf_analyzer's async mode: requests are asynchronous either way "
                           "(the default); with -a a point whose throughput settled but latency "
                           "did not within -r windows is kept (\"throughput only\"), as "
                           "perf_analyzer does in that mode.",
                           mpi_agree=True)
    async_mode: bool = opt(True, "--sync", switch=True, param="sync", cli_default=False,
                           parse=lambda v, _f: not v, help="Synchronous semantics: one blocking "
                           "request per concurrency slot (same load shape as async in perfanalyzer).",
                           mpi_agree=True)
    streaming: bool = opt(False, "--streaming", switch=True,
                          help="gRPC bidirectional streaming (decoupled models).",
                          mpi_agree=True)
    #: Derived from which of the three load flags was given (see config.build).
    mode: LoadMode = LoadMode.CONCURRENCY
    concurrency_range: tuple[int, int, int] = opt(
        (1, 1, 1), "--concurrency-range", cli_default=None, metavar="START[:END[:STEP]]",
        parse=p.int_range, help="Concurrency sweep (default 1). END 0 = until -l is exceeded.",
        figures=False, mpi_agree=True)
    request_rate_range: tuple[float, float, float] = opt(
        (1.0, 1.0, 1.0), "--request-rate-range", cli_default=None, metavar="START[:END[:STEP]]",
        parse=p.float_range, help="Request-rate sweep in requests/s (floats): open-loop load.",
        figures=False, mpi_agree=True)
    request_distribution: str = opt("constant", "--request-distribution",
                                    choices=("constant", "poisson", "gamma"), show_default=True,
                                    modes=NOT_PERIODIC, mpi_agree=True,
                                    help="Gaps between sends in request-rate mode: constant (1/rate), "
                                    "poisson (exponential) or gamma (see --request-burstiness).")
    request_burstiness: float | None = opt(
        None, "--request-burstiness", kind=float, metavar="B",
        check=lambda v: v is None or (math.isfinite(v) and v > 0),
        message="--request-burstiness must be a finite number > 0, got {value}",
        help="With --request-distribution gamma: the gaps' shape [default: 1]. 1 = Poisson "
        "arrivals, below 1 burstier, above 1 steadier (coefficient of variation 1/sqrt(B)).",
        modes=NOT_PERIODIC, mpi_agree=True)
    request_intervals: str | None = opt(None, "--request-intervals", metavar="FILE",
                                        help="Custom send intervals in µs, one per line, looped.",
                                        mpi_agree=True)
    fixed_schedule: bool = opt(False, "--fixed-schedule", switch=True,
                               help="Send each request at its --input-data entry's \"timestamp\" "
                               "(ms), in order: one window of all entries (less "
                               "--warmup-request-count).")
    # perf_analyzer's periodic concurrency mode (load/periodic.py)
    periodic_concurrency_range: tuple[int, int, int] | None = opt(
        None, "--periodic-concurrency-range", metavar="START:END[:STEP]", parse=p.periodic_range,
        help="Streaming: send START requests, then STEP more each time every request of the last "
        "step got --request-period responses, up to END requests; one record set, no windows "
        "(needs --streaming and --profile-export-file).",
        search_refused="a search compares stable load points; the periodic mode measures none")
    request_period: int = opt(10, "--request-period", kind=int, cli_default=None, check=_pos,
                              metavar="N", message="--request-period must be > 0, got {value}",
                              help="Responses each request of a step gets before the next step "
                              "starts [default: 10]; with --periodic-concurrency-range only.",
                              modes=PERIODIC_ONLY,
                              search_refused="only used by --periodic-concurrency-range, which a "
                              "search does not run")
    binary_search: bool = opt(False, "--binary-search", switch=True,
                              help="Binary search between START and END for the highest load "
                              "under -l (STEP = precision).",
                              modes=NOT_PERIODIC, figures=False, mpi_agree=True)
    max_threads: int = opt(0, "--max-threads", kind=int, check=_nonneg,
                           message="--max-threads must be >= 0, got {value}",
                           help="Cap on requests in flight in request-rate modes (0 = the default "
                           "cap, 1024); sends it holds back go late and are counted.",
                           modes=NOT_PERIODIC, mpi_agree=True)
    workers: int = opt(0, "--workers", kind=int, check=_nonneg,
                       message="--workers must be >= 0, got {value}",
                       help="Load worker processes (0 = automatic).")
    # --- MPI (perfanalyzer/mpi) ---
    enable_mpi: bool = opt(False, "--enable-mpi", switch=True,
                           help="Run as one rank under mpiexec: ranks start levels and cut windows "
                           "together; ranks on the same model and URL merge their load (needs the "
                           "mpi extra).",
                           modes=NOT_PERIODIC)
    # --- end MPI ---
    # never harm: ceilings, see config/safety.py
    force: bool = opt(False, "--force", switch=True, help="Allow a concurrency above "
                      f"{MAX_CONCURRENCY} and more --workers than cores.")
    sequence_length: int = opt(d.DEFAULT_SEQUENCE_LENGTH, "--sequence-length", kind=int,
                               cli_default=None, given="sequence_length_given", check=_pos,
                               message="--sequence-length {value}: The sequence length must be "
                               "> 0 (0 means the default)",
                               help=f"Requests per sequence (default {d.DEFAULT_SEQUENCE_LENGTH}; "
                               "0: the default, as perf_analyzer reads it).")
    sequence_length_given: bool = False
    sequence_length_variation: float = opt(
        d.DEFAULT_SEQUENCE_LENGTH_VARIATION, "--sequence-length-variation", kind=float,
        show_default=True, check=_nonneg, help="± % around --sequence-length.",
        message="--sequence-length-variation {value}: The value must be >= 0.0.")
    sequence_id_range: tuple[int, int] = opt((1, 0), "--sequence-id-range", cli_default=None,
                                             metavar="START[:END]", parse=p.id_range,
                                             help="Sequence ids to use (end 0 or omitted: unbounded).")
    num_of_sequences: int = opt(d.DEFAULT_NUM_OF_SEQUENCES, "--num-of-sequences", kind=int,
                                show_default=True, check=lambda v: v >= 1,
                                message="--num-of-sequences must be >= 1, got {value}",
                                help="Live sequences in request-rate modes.")
    serial_sequences: bool = opt(False, "--serial-sequences", switch=True,
                                 help="At most one request in flight per sequence.")
