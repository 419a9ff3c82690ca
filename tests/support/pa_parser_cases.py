"""The table of perf_analyzer's own command-line parser cases (``src/test_command_line_parser.cc``, the
"Testing Command Line Parser" test case), one row per leaf SUBCASE, run through perfanalyzer's
parsing and validation (the profile command's flags → RunConfig path; no server).

A row says what perf_analyzer does with the argv (refused, and the sentence it refuses with; or
accepted, and the value it parses) and what perfanalyzer must do. Where perfanalyzer refuses what
perf_analyzer accepts (or reads a value differently) on purpose, the row carries the reason, and
docs/flags.md says so (checked below).

Counting: the test case has 122 leaf SUBCASEs (the CHECK_INT_OPTION macro counts 4: valid,
negative, floating point, missing value). 119 concern flags perfanalyzer implements; the 3
``--grpc-method`` ones concern ``--service-kind=dynamic_grpc``, which perfanalyzer refuses as a
whole (kept as rows: the refusal must hold).

Sentences: where a script may grep perf_analyzer's sentence, perfanalyzer's line includes it. The
--request-count sentences are those of the perf_analyzer 2.50 binary ("request-count can not be
less than request-rate"); the newer test file spells them "--request-count ... request rate".

The tests are tests/test_pa_parser_cases.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import click

from perfanalyzer.cli.main import cli, profile_config
from perfanalyzer.config import RunConfig
from perfanalyzer.errors import OptionError

M = ("-m", "my_model")
#: perf_analyzer's test adds these for the periodic and request-parameter cases.
GRPC_STREAM = ("-i", "grpc", "--async", "--streaming")
PERIODIC = (*GRPC_STREAM, "--profile-export-file", "profile.json")


@dataclass(frozen=True)
class Case:
    """One leaf SUBCASE. ``refused``: a regex our one-line refusal must match (None: accepted).
    ``values``: dotted RunConfig attributes → the value perfanalyzer parses. ``pa``: what
    perf_analyzer does. ``differs``: the reason where perfanalyzer differs on purpose, and the
    docs/flags.md text that documents it."""

    name: str
    argv: tuple[str, ...]
    pa: str
    refused: str | None = None
    values: dict[str, Any] = field(default_factory=dict)
    differs: tuple[str, str] | None = None


def R(name: str, argv: tuple[str, ...], pa: str, ours: str, **kw: Any) -> Case:
    return Case(name, argv, pa, refused=ours, **kw)


def A(name: str, argv: tuple[str, ...], pa: str, **values: Any) -> Case:
    differs = values.pop("differs", None)
    return Case(name, argv, pa, values={k.replace("__", "."): v for k, v in values.items()},
                differs=differs)


TRUNCATES = ("perf_analyzer reads 29.5 as 29 (std::stoi); an integer flag refuses a fraction here",
             "an integer flag refuses a fraction")
PERIOD_ALONE = ("perf_analyzer accepts --request-period without --periodic-concurrency-range and "
                "ignores it", "refused without `--periodic-concurrency-range`")
LAT_FRACTION = ("-l is a float here (fractions of a ms kept); perf_analyzer truncates to 29",
                "`-l` keeps fractions of a ms")


def _int_option(flag: str, attr: str, neg_pa: str, neg_ours: str, *, fraction: Case | None = None,
                extra: tuple[str, ...] = ()) -> list[Case]:
    """CHECK_INT_OPTION's four SUBCASEs."""
    sec = f"{flag}/"
    return [
        A(sec + "valid value", (*M, *extra, flag, "2000"), "accepted, 2000", **{attr: 2000}),
        R(sec + "negative value", (*M, *extra, flag, "-2000"), neg_pa, neg_ours),
        fraction or R(sec + "floating point value", (*M, *extra, flag, "29.5"),
                      "accepted, 29", r"'29\.5' is not a valid integer", differs=TRUNCATES),
        R(sec + "missing value", (*M, *extra, flag), f"Error: Missing value for option '{flag}'",
          rf"{re.escape(flag)}.* requires an argument"),
    ]


def _range_invalid(flag: str, base: tuple[str, ...]) -> list[Case]:
    """CheckInvalidRange's five SUBCASEs."""
    sec = f"{flag}/"
    f = re.escape(flag)
    return [
        R(sec + "too many input values", (*base, flag, "200:100:25:10"),
          f"Failed to parse {flag}. The value does not match <start:end:step>.",
          rf"{f}: expected .*200:100:25:10"),
        R(sec + "invalid start value", (*base, flag, "bad:400:10"),
          f"Failed to parse {flag}. Invalid value provided: bad:400:10", rf"{f}: 'bad:400:10'"),
        R(sec + "invalid end value", (*base, flag, "100:bad:10"),
          f"Failed to parse {flag}. Invalid value provided: 100:bad:10", rf"{f}: '100:bad:10'"),
        R(sec + "invalid step value", (*base, flag, "100:400:bad"),
          f"Failed to parse {flag}. Invalid value provided: 100:400:bad", rf"{f}: '100:400:bad'"),
        R(sec + "no input values", (*base, flag), f"Error: Missing value for option '{flag}'",
          rf"{f}.* requires an argument"),
    ]


NEEDS_M = r"-m: a model name is required"

CASES: list[Case] = [
    R("with no parameters", (), "Failed to parse -m (model name). The value must be specified.",
      NEEDS_M),
    R("Invalid Short Option", ("-x",), "Error: Invalid short option '-x'",
      r"'-x' requires an argument"),
    R("Invalid Long Option", ("--invalid-option",),
      "Error: Invalid long option '--invalid-option'", r"No such option '--invalid-option'"),
    A("with min parameters", M, "accepted, concurrency 1", server__model="my_model",
      load__concurrency_range=(1, 1, 1), load__mode="concurrency"),
    # --streaming
    R("--streaming/without model", ("--streaming",),
      "Failed to parse -m (model name). The value must be specified.", NEEDS_M),
    R("--streaming/with model", (*M, "--streaming"),
      "Streaming is only allowed with gRPC protocol and Triton C API.",
      r"--streaming: .*gRPC protocol \(-i grpc\)"),
    R("--streaming/with model last", ("--streaming", *M),
      "Streaming is only allowed with gRPC protocol and Triton C API.",
      r"--streaming: .*gRPC protocol \(-i grpc\)"),
    # --max-threads
    A("--max-threads/set to 1", (*M, "--max-threads", "1"), "accepted, 1", load__max_threads=1),
    A("--max-threads/set to max", (*M, "--max-threads", "65535"), "accepted, 65535",
      load__max_threads=65535),
    R("--max-threads/missing value", (*M, "--max-threads"),
      "Error: Missing value for option '--max-threads'", r"--max-threads.* requires an argument"),
    R("--max-threads/bad value", (*M, "--max-threads", "bad"),
      "refused (the test passes argc 4: the missing-value message)",
      r"'bad' is not a valid integer"),
    # --sequence-length
    A("--sequence-length/set to 2000", (*M, "--sequence-length", "2000"), "accepted, 2000",
      load__sequence_length=2000),
    A("--sequence-length/set to 0", (*M, "--sequence-length", "0"),
      "accepted, the default 20 (with a warning)", load__sequence_length=20),
    # --sequence-length-variation
    A("--sequence-length-variation/non-negative", (*M, "--sequence-length-variation", "33.3"),
      "accepted, 33.3", load__sequence_length_variation=33.3),
    R("--sequence-length-variation/negative", (*M, "--sequence-length-variation", "-10"),
      "Failed to parse --sequence-length-variation. The value must be >= 0.0.",
      r"--sequence-length-variation -10(\.0)?: The value must be >= 0\.0\."),
    # --percentile
    A("--percentile/set to 25", (*M, "--percentile", "25"), "accepted, 25",
      measurement__percentile=25),
    R("--percentile/set to 225", (*M, "--percentile", "225"),
      "Failed to parse --percentile. The value must be -1 for not reporting or in range (0, 100).",
      r"--percentile: expected 1\.\.99, got 225"),
    A("--percentile/set to -1", (*M, "--percentile", "-1"), "accepted, average latency",
      measurement__percentile=-1),
    # --data-directory (perf_client's spelling of --input-data DIR)
    R("--data-directory/set to /usr/data", (*M, "--data-directory", "/usr/data"),
      "accepted, user_data ['/usr/data'] (the directory is read later, at load)",
      r"--input-data /usr/data: no such file or directory",
      differs=("files the run reads are checked before any connection",
               "a path that does not exist is refused before any connection")),
    R("--data-directory/call twice",
      (*M, "--data-directory", "/usr/data", "--data-directory", "/another/dir"),
      "accepted, user_data ['/usr/data', '/another/dir']",
      r"Got unexpected extra argument|Option '--data-directory' does not take|"
      r"--input-data /(usr/data|another/dir): no such file",
      differs=("files the run reads are checked before any connection",
               "a path that does not exist is refused before any connection")),
    # --sequence-id-range
    A("--sequence-id-range/One arg", (*M, "--sequence-id-range", "53"), "accepted, start 53",
      load__sequence_id_range=(53, 0)),
    A("--sequence-id-range/Two args", (*M, "--sequence-id-range", "53:67"),
      "accepted, start 53, range 14", load__sequence_id_range=(53, 67)),
    R("--sequence-id-range/Three args", (*M, "--sequence-id-range", "53:67:92"),
      "Failed to parse --sequence-id-range. The value does not match <start:end>.",
      r"--sequence-id-range: expected START\[:END\], got '53:67:92'"),
    R("--sequence-id-range/Not a number", (*M, "--sequence-id-range", "BAD"),
      "Failed to parse --sequence-id-range. Invalid value provided: BAD",
      r"--sequence-id-range: 'BAD' must be integers"),
    R("--sequence-id-range/Not a number 2", (*M, "--sequence-id-range", "53:BAD"),
      "Failed to parse --sequence-id-range. Invalid value provided: 53:BAD",
      r"--sequence-id-range: '53:BAD' must be integers"),
    # --input-tensor-format
    A("--input-tensor-format/binary", (*M, "--input-tensor-format", "binary"), "accepted, binary",
      inputs__input_tensor_format="binary"),
    A("--input-tensor-format/json", (*M, "--input-tensor-format", "json"), "accepted, json",
      inputs__input_tensor_format="json"),
    R("--input-tensor-format/invalid", (*M, "--input-tensor-format", "invalid"),
      "Failed to parse --input-tensor-format. Unsupported type provided: 'invalid'. The available "
      "options are 'binary' or 'json'.", r"--input-tensor-format.*'invalid'.*binary.*json"),
    # --shape
    A("--shape/expected input, single shape", (*M, "--shape", "input_name:1,2,3"),
      "accepted", inputs__shapes=(("input_name", (1, 2, 3)),)),
    A("--shape/expected input, multiple shapes",
      (*M, "--shape", "input_name:1,2,3", "--shape", "alpha:10,24",
       "--shape", "beta:10,200,34,15,9000"), "accepted",
      inputs__shapes=(("input_name", (1, 2, 3)), ("alpha", (10, 24)),
                      ("beta", (10, 200, 34, 15, 9000)))),
    R("--shape/using negative dims", (*M, "--shape", "input_name:-1,2,3"),
      "Failed to parse --shape. The dimensions of input tensor must be > 0.",
      r"--shape input_name:-1,2,3: every dim must be > 0"),
    R("--shape/equals sign, not colon", (*M, "--shape", "input_name=-1,2,3"),
      "Failed to parse --shape. There must be a colon after input name.",
      r"--shape input_name=-1,2,3: expected name:d1,d2"),
    R("--shape/missing shape", (*M, "--shape", "input_name"),
      "Failed to parse --shape. There must be a colon after input name.",
      r"--shape input_name: expected name:d1,d2"),
    R("--shape/missing colon", (*M, "--shape", "input_name1,2,3"),
      "Failed to parse --shape. There must be a colon after input name.",
      r"--shape input_name1,2,3: expected name:d1,d2"),
    R("--shape/bad shapes - a,b,c", (*M, "--shape", "input_name:a,b,c"),
      "Failed to parse --shape. Invalid value provided: input_name:a,b,c",
      r"--shape input_name:a,b,c: dims must be integers"),
    R("--shape/bad shapes - [1,2,3]", (*M, "--shape", "input_name:[1,2,3]"),
      "Failed to parse --shape. Invalid value provided: input_name:[1,2,3]",
      r"--shape input_name:\[1,2,3\]: dims must be integers"),
    # --measurement-interval
    A("-p/set to 500/Long form", (*M, "--measurement-interval", "500"), "accepted, 500",
      measurement__measurement_interval_ms=500),
    A("-p/set to 500/Short form", (*M, "-p", "500"), "accepted, 500",
      measurement__measurement_interval_ms=500),
    R("-p/set to -200/Long form", (*M, "--measurement-interval", "-200"),
      "Failed to parse --measurement-interval (-p). The value must be > 0 msec.",
      r"-p: --measurement-interval must be > 0"),
    R("-p/set to -200/Short form", (*M, "-p", "-200"),
      "Failed to parse --measurement-interval (-p). The value must be > 0 msec.",
      r"-p: --measurement-interval must be > 0"),
    R("-p/non-numeric/Long form", (*M, "--measurement-interval", "foobar"),
      "Failed to parse --measurement-interval. Invalid value provided: foobar",
      r"'--measurement-interval'.*'foobar' is not a valid integer"),
    R("-p/non-numeric/Short form", (*M, "-p", "foobar"),
      "Failed to parse -p. Invalid value provided: foobar",
      r"'-p'.*'foobar' is not a valid integer"),
    # --concurrency-range
    A("--concurrency-range/start provided", (*M, "--concurrency-range", "100"),
      "accepted, start 100 (one level)", load__concurrency_range=(100, 100, 1)),
    A("--concurrency-range/start:end provided", (*M, "--concurrency-range", "100:400"),
      "accepted, 100..400 step 1", load__concurrency_range=(100, 400, 1)),
    A("--concurrency-range/start:end:step provided", (*M, "--concurrency-range", "100:400:10"),
      "accepted, 100..400 step 10", load__concurrency_range=(100, 400, 10)),
    *_range_invalid("--concurrency-range", M),
    R("--concurrency-range/wrong separator", (*M, "--concurrency-range", "100,400,10"),
      "accepted as start 100 (end and step silently dropped; the test marks it a bug, TMA-1307)",
      r"--concurrency-range: '100,400,10' must be integers",
      differs=("a value perf_analyzer silently misreads is refused",
               "a range written `100,400,10` is refused")),
    R("--concurrency-range/end and latency threshold are 0",
      (*M, "--concurrency-range", "100:0:25", "--latency-threshold", "0"),
      "The end of the search range and the latency limit can not be both 0 (or 0.0) "
      "simultaneously",
      r"--concurrency-range: end 0 \(no limit\) needs -l/--latency-threshold"),
    A("--concurrency-range/end < 16", (*M, "--concurrency-range", "10:10"),
      "accepted, max threads 4", load__concurrency_range=(10, 10, 1), load__max_threads=0),
    A("--concurrency-range/end = 16", (*M, "--concurrency-range", "10:16"),
      "accepted, max threads 4", load__concurrency_range=(10, 16, 1), load__max_threads=0),
    A("--concurrency-range/end > 16", (*M, "--concurrency-range", "10:40"),
      "accepted, max threads 40 (one client thread per slot)",
      load__concurrency_range=(10, 40, 1), load__max_threads=0,
      differs=("--max-threads caps rate modes only; concurrency slots are tasks, not threads",
               "perfanalyzer has no thread pool")),
    # --periodic-concurrency-range
    R("--periodic-concurrency-range/start provided",
      (*PERIODIC, *M, "--periodic-concurrency-range", "100"),
      "Failed to parse --periodic-concurrency-range. Both <start> and <end> values must be "
      "provided.", r"--periodic-concurrency-range: both START and END must be given"),
    A("--periodic-concurrency-range/start:end provided",
      (*PERIODIC, *M, "--periodic-concurrency-range", "100:400"), "accepted, 100..400 step 1",
      load__periodic_concurrency_range=(100, 400, 1), load__mode="periodic_concurrency"),
    A("--periodic-concurrency-range/start:end:step provided",
      (*PERIODIC, *M, "--periodic-concurrency-range", "100:400:10"),
      "accepted, 100..400 step 10", load__periodic_concurrency_range=(100, 400, 10)),
    *_range_invalid("--periodic-concurrency-range", (*PERIODIC, *M)),
    R("--periodic-concurrency-range/more than one load mode",
      (*PERIODIC, *M, "--periodic-concurrency-range", "100:400", "--concurrency-range", "10:40"),
      "Cannot use both PeriodicConcurrency and Concurrency inference load modes.",
      r"mutually exclusive|Cannot use both"),
    R("--periodic-concurrency-range/no export file specified",
      (*GRPC_STREAM, *M, "--periodic-concurrency-range", "100:400"),
      "Must provide --profile-export-file when using the --periodic-concurrency-range option.",
      r"Must provide --profile-export-file when using the --periodic-concurrency-range option"),
    R("--periodic-concurrency-range/step is not factor of range size",
      (*PERIODIC, *M, "--periodic-concurrency-range", "100:400:7"),
      "Failed to parse --periodic-concurrency-range. The <step> value must be a factor of the "
      "range size (<end> - <start>).", r"--periodic-concurrency-range: STEP 7 must divide "
      r"END - START \(300\)"),
    R("--periodic-concurrency-range/step is zero",
      (*PERIODIC, *M, "--periodic-concurrency-range", "10:400:0"),
      "Failed to parse --periodic-concurrency-range. The <step> value must be > 0.",
      r"--periodic-concurrency-range: STEP must be > 0, got 0"),
    # --request-period (perf_analyzer's test gives it without --periodic-concurrency-range)
    R("--request-period/valid value", (*M, "--request-period", "2000"), "accepted, 2000",
      r"--request-period.*--periodic-concurrency-range", differs=PERIOD_ALONE),
    R("--request-period/negative value", (*M, "--request-period", "-2000"),
      "Failed to parse --request-period. The value must be > 0",
      r"--request-period(: only used by --periodic-concurrency-range| must be > 0)"),
    R("--request-period/floating point value", (*M, "--request-period", "29.5"),
      "accepted, 29", r"'29\.5' is not a valid integer", differs=TRUNCATES),
    R("--request-period/missing value", (*M, "--request-period"),
      "Error: Missing value for option '--request-period'",
      r"--request-period.* requires an argument"),
    R("--request-period/set to 0", (*M, "--request-period", "0"),
      "Failed to parse --request-period. The value must be > 0",
      r"--request-period(: only used by --periodic-concurrency-range| must be > 0)"),
    # --request-parameter
    A("--request-parameter/valid parameter",
      (*M, *GRPC_STREAM, "--request-parameter", "max_tokens:256:int"), "accepted",
      inputs__request_parameters=(("max_tokens", "256", "int"),)),
    R("--request-parameter/missing type",
      (*M, *GRPC_STREAM, "--request-parameter", "max_tokens:256"),
      "Failed to parse --request-parameter. The value does not match <name:value:type>.",
      r"--request-parameter: expected NAME:VALUE:TYPE.*'max_tokens:256'"),
    # --latency-threshold
    *_int_option("--latency-threshold", "measurement.latency_threshold_ms",
                 "Failed to parse --latency-threshold (-l). The value must be >= 0 msecs.",
                 r"-l.*must be >= 0",
                 fraction=A("--latency-threshold/floating point value",
                            (*M, "--latency-threshold", "29.5"), "accepted, 29",
                            measurement__latency_threshold_ms=29.5, differs=LAT_FRACTION)),
    A("--latency-threshold/set to 0", (*M, "--latency-threshold", "0"), "accepted, no limit",
      measurement__latency_threshold_ms=0),
    # --stability-percentage
    A("-s/valid value", (*M, "--stability-percentage", "80"), "accepted, 0.8",
      measurement__stability_percentage=80),
    A("-s/set to 0", (*M, "--stability-percentage", "0"), "accepted, 0",
      measurement__stability_percentage=0),
    R("-s/negative value", (*M, "--stability-percentage", "-20"),
      "Failed to parse --stability-percentage (-s). The value must be >= 0.0.",
      r"-s: --stability-percentage must be >= 0"),
    A("-s/floating point value", (*M, "--stability-percentage", "29.5"), "accepted, 0.295",
      measurement__stability_percentage=29.5),
    R("-s/missing value", (*M, "--stability-percentage"),
      "Error: Missing value for option '--stability-percentage'",
      r"--stability-percentage.* requires an argument"),
    # --max-trials
    *_int_option("--max-trials", "measurement.max_trials",
                 "Failed to parse --max-trials (-r). The value must be > 0.",
                 r"-r: --max-trials must be >= 1"),
    R("--max-trials/set to 0", (*M, "--max-trials", "0"),
      "Failed to parse --max-trials (-r). The value must be > 0.",
      r"-r: --max-trials must be >= 1"),
    # --request-count
    A("--request-count/valid value", (*M, "--request-count", "500"),
      "accepted, 500, count_windows of 500", measurement__request_count=500,
      measurement__count_windows=True),
    R("--request-count/negative value", (*M, "--request-count", "-2"),
      "Failed to parse --request-count. The value must be > 0.", r"--request-count.*>= 0"),
    R("--request-count/less than request rate",
      (*M, "--request-count", "2", "--request-rate-range", "5"),
      "--request-count can not be less than request rate",
      r"request-count can not be less than request-rate \(5\)"),
    R("--request-count/less than concurrency",
      (*M, "--request-count", "2", "--concurrency-range", "5"),
      "--request-count can not be less than concurrency",
      r"request-count can not be less than concurrency \(5\)"),
    R("--request-count/multiple request rate",
      (*M, "--request-count", "20", "--request-rate-range", "5:6:1"),
      "--request-count not supported with multiple request rate values in one run",
      r"request-count not supported with multiple request-rate values in one run"),
    R("--request-count/multiple concurrency",
      (*M, "--request-count", "20", "--concurrency-range", "5:6:1"),
      "--request-count not supported with multiple concurrency values in one run",
      r"request-count not supported with multiple concurrency values in one run"),
    R("--request-count/mode and count are overwritten",
      (*M, "--request-count", "2000", "--measurement-mode", "time_windows",
       "measurement-request-count", "30"),
      "accepted, count_windows of 2000 (the stray words 'measurement-request-count 30', "
      "written without dashes, are silently ignored)",
      r"unexpected extra arguments \(measurement-request-count 30\)",
      differs=("a stray word on the command line is refused, not ignored",
               "a stray word on the command line")),
    A("--request-count/zero value (no override to measurement mode)",
      (*M, "--request-count", "0", "--measurement-mode", "time_windows"),
      "accepted, time_windows", measurement__request_count=0,
      measurement__measurement_mode="time_windows", measurement__count_windows=False),
    A("--request-count/zero value (no override to measurement request count)",
      (*M, "--request-count", "0", "--measurement-mode", "count_windows",
       "--measurement-request-count", "50"),
      "accepted, count_windows of 50", measurement__request_count=0,
      measurement__measurement_mode="count_windows", measurement__measurement_request_count=50),
    # --warmup-request-count
    A("--warmup-request-count/valid nonzero value", (*M, "--warmup-request-count", "500"),
      "accepted, 500", measurement__warmup_request_count=500),
    A("--warmup-request-count/zero value", (*M, "--warmup-request-count", "0"), "accepted, 0",
      measurement__warmup_request_count=0),
    R("--warmup-request-count/negative value", (*M, "--warmup-request-count", "-2"),
      "Failed to parse --warmup-request-count. The value must be >= 0.",
      r"--warmup-request-count.*>= 0"),
    R("--warmup-request-count/multiple request rate",
      (*M, "--warmup-request-count", "20", "--request-rate-range", "5:6:1"),
      "--warmup-request-count not supported with multiple request rate values in one run",
      r"--warmup-request-count not supported with multiple request rate values in one run"),
    R("--warmup-request-count/multiple concurrency",
      (*M, "--warmup-request-count", "20", "--concurrency-range", "5:6:1"),
      "--warmup-request-count not supported with multiple concurrency values in one run",
      r"--warmup-request-count not supported with multiple concurrency values in one run"),
    # metrics
    R("--collect-metrics/with --service-kind != triton",
      (*M, "--collect-metrics", "--service-kind", "tfserving", "-i", "grpc"),
      "Server-side metric collection is only supported with Triton client backend.",
      r"--service-kind"),
    R("--metrics-url/missing --collect-metrics", (*M, "--metrics-url", "localhost:8002/metrics"),
      "Must specify --collect-metrics when using the --metrics-url option.",
      r"--metrics-url requires --collect-metrics"),
    R("--metrics-interval/missing --collect-metrics", (*M, "--metrics-interval", "1000"),
      "Must specify --collect-metrics when using the --metrics-interval option.",
      r"--metrics-interval requires --collect-metrics"),
    R("--metrics-interval/metrics interval 0",
      (*M, "--collect-metrics", "--metrics-interval", "0"),
      "Failed to parse --metrics-interval. The value must be > 0 msecs.",
      r"--metrics-interval.*> 0"),
    # --bls-composing-models
    A("--bls-composing-models/one model", (*M, "--bls-composing-models", "a"), "accepted",
      server__bls_composing_models=(("a", ""),)),
    *[A(f"--bls-composing-models/lists with no version/{v}", (*M, "--bls-composing-models", v),
        "accepted, a b c", server__bls_composing_models=(("a", ""), ("b", ""), ("c", "")))
      for v in ("a,b,c", "a, b, c", "a,b, c", "a, b,c", "a, b,  c")],
    *[A(f"--bls-composing-models/list with version/{v}", (*M, "--bls-composing-models", v),
        "accepted, a:1 b:2 c:1",
        server__bls_composing_models=(("a", "1"), ("b", "2"), ("c", "1")))
      for v in ("a:1,b:2,c:1", "a:1, b:2, c:1", "a:1,  b:2, c:1", "a:1 ,  b:2, c:1")],
    A("--bls-composing-models/list with some versions", (*M, "--bls-composing-models", "a,b:3,c"),
      "accepted", server__bls_composing_models=(("a", ""), ("b", "3"), ("c", ""))),
    A("--bls-composing-models/multiple versions of the same model",
      (*M, "--bls-composing-models", "a:1,b,a:2"), "accepted",
      server__bls_composing_models=(("a", "1"), ("b", ""), ("a", "2"))),
    # --grpc-method: --service-kind=dynamic_grpc, refused here as a whole
    R("--grpc-method/correct full grpc method name",
      (*M, "--grpc-method", "hello.world.ServiceName/MethodName"), "accepted",
      r"--grpc-method: not supported", differs=(
          "--service-kind=dynamic_grpc is not supported, so its flags are refused",
          "refused (dynamic_grpc only)")),
    R("--grpc-method/more than one slash",
      (*M, "--grpc-method", "hello.world/ServiceName/MethodName"),
      "Received gRPC method name 'hello.world/ServiceName/MethodName' that does not match the "
      "format: <package>.<service>/<method>.", r"--grpc-method: not supported"),
    R("--grpc-method/no slash", (*M, "--grpc-method", "hello.world.ServiceName.MethodName"),
      "Received gRPC method name 'hello.world.ServiceName.MethodName' that does not match the "
      "format: <package>.<service>/<method>.", r"--grpc-method: not supported"),
]


def outcome(argv: tuple[str, ...]) -> tuple[str, RunConfig | str]:
    """("accepted", config) or ("refused", the one line perfanalyzer prints), as ``main`` would."""
    try:
        ctx = cli.commands["profile"].make_context("profile", list(argv))
        return "accepted", profile_config(ctx.params)
    except click.UsageError as exc:
        return "refused", exc.format_message()
    except OptionError as exc:
        return "refused", str(exc)
