"""Triton's QA script for perf_analyzer (qa/L0_perf_analyzer/test.sh), its perf_analyzer command
lines run with perfanalyzer (and, with --pa, with perf_analyzer through
/work/shared/tools/perf_analyzer.sh) against a real Triton serving python-backend stand-ins of its
models (scripts/qa_pa_standins.py), each case checked the way the QA script checks it: the exit
status, the sentences it greps for (or must not find), the trace file, the profile export against
the QA script's schema. Prints pass/fail per case and the totals per tool.

Not run here (listed with --list): CUDA shared memory (no GPU), the TensorRT shape-tensor model,
MPI (the QA script's Open MPI mpiexec line), and the TLS cases (an SSL Triton and an nginx proxy).

    python scripts/qa_perf_analyzer_cases.py [--pa] [--only REGEX] [--skip-slow]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from qa_pa_standins import write_data, write_repository

ERROR_STRING = "error | Request count: 0 | : 0 infer/sec"
CONC_ERROR = "error | Request count: 0 | : 0 infer/sec\\|: 0 usec|Request concurrency: 2"
SERVER_SEQUENCE_CONFLICT = "The previous sequence did not end before this sequence start"
OPTIONAL_SENTENCE = ("For batch sizes larger than 1, the same set of\ninputs must be specified "
                     "for each batch. You cannot use different set of\noptional inputs for each "
                     "individual batch.")
S = ("-s", "100")
PA_SCRIPT = "/work/shared/tools/perf_analyzer.sh"

#: The QA script's profile export schema (qa/L0_perf_analyzer/perf_analyzer_profile_export_schema
#: .json): experiments and version required, each request its timestamp and response_timestamps.
EXPORT_SCHEMA = {
    "type": "object", "required": ["experiments", "version"],
    "properties": {
        "experiments": {"type": "array", "minItems": 1, "items": {
            "type": "object", "properties": {
                "experiment": {"type": "object", "required": ["mode", "value"],
                               "properties": {"mode": {"type": "string"},
                                              "value": {"type": "integer"}}},
                "requests": {"type": "array", "items": {
                    "type": "object", "required": ["timestamp", "response_timestamps"],
                    "properties": {"timestamp": {"type": "integer"},
                                   "sequence_id": {"type": "integer"},
                                   "response_timestamps": {"type": "array",
                                                           "items": {"type": "integer"}}}}},
                "window_boundaries": {"type": "array", "items": {"type": "integer"},
                                      "uniqueItems": True}}}},
        "version": {"type": "string"}}}


@dataclass
class Case:
    name: str
    argv: list[str]
    ok: bool | None = True  # the QA script expects exit 0 (True) or non-zero (False)
    absent: list[str] = field(default_factory=list)  # grep patterns that must not match
    present: list[str] = field(default_factory=list)  # grep patterns that must match
    perl: bool = False  # grep -P
    timeout: float = 300
    check: Callable[[Path], str | None] | None = None  # extra check in the run folder
    before: Callable[[], None] | None = None


def grep(pattern: str, text: str, perl: bool) -> bool:
    """grep's matching: -P as a regex; basic (BRE) as used here: ``\\|`` alternation, the rest
    literal; a pattern with newlines is one pattern per line."""
    if perl:
        return re.search(pattern, text, re.M) is not None
    for line_pattern in pattern.split("\n"):
        if any(alt in line for alt in line_pattern.split("\\|") for line in text.splitlines()):
            return True
    return False


def cases(d: dict[str, Path], server_log: Callable[[], str], trace: Callable[[str], None],
          trace_dir: Path) -> list[Case]:
    D = {k: str(v) for k, v in d.items()}
    out: list[Case] = []
    add = out.append
    # PROTOCOL is not yet set when the QA script runs its first line: "-i -m ..." is its argv.
    add(Case("dynamic string shape, no --shape (PROTOCOL unset)",
             ["-v", "-i", "-m", "graphdef_object_object_object", "-p2000", *S], ok=False,
             absent=["input INPUT0 contains dynamic shape, provide shapes to send along with the "
                     "request"]))
    add(Case("ensemble+sequence grpc streaming -t5",
             ["-v", "-i", "grpc", "-m", "simple_savedmodel_sequence_object", "-p", "2000", "-t5",
              "--streaming", f"--input-data={D['seq_data.json']}",
              f"--input-data={D['seq_data.json']}", *S], absent=[ERROR_STRING]))

    def no_conflict(_: Path) -> str | None:
        return ("server log: " + SERVER_SEQUENCE_CONFLICT) if SERVER_SEQUENCE_CONFLICT in \
            server_log() else None
    add(Case("ensemble+sequence grpc streaming rate 100:200:50",
             ["-v", "-i", "grpc", "-m", "simple_savedmodel_sequence_object", "-p", "1000",
              "--request-rate-range", "100:200:50", "--streaming",
              f"--input-data={D['seq_data.json']}", *S], absent=[ERROR_STRING], check=no_conflict))
    for proto in ("grpc", "http"):
        P = ["-v", "-i", proto]
        for shm in ("none", "system"):
            for a in ([], ["-a"]):
                add(Case(f"{proto} int32 shm={shm} {' '.join(a)}",
                         [*P, "-m", "graphdef_int32_int32_int32", "-t", "1", "-p2000", "-b", "1",
                          *a, f"--shared-memory={shm}", *S], absent=[ERROR_STRING]))
        for b, t in (("1", "1"), ("64", "2")):
            for shm in ("none", "system"):
                for a in ([], ["-a"]):
                    add(Case(f"{proto} inception -b{b} shm={shm} {' '.join(a)}",
                             [*P, "-m", "inception_v1_graphdef", "-t", t, "-p2000", "-b", b,
                              f"--shared-memory={shm}", *a, *S], absent=[ERROR_STRING],
                             timeout=400))
        for model in ("graphdef_nobatch_int32_int32_int32", "graphdef_int32_int32_int32"):
            add(Case(f"{proto} {model} -b 1", [*P, "-m", model, "-t", "1", "-p2000", "-b", "1",
                                               *S]))
            for bad in ("0", "10"):
                add(Case(f"{proto} {model} -b {bad} (refused)",
                         [*P, "-m", model, "-t", "1", "-p2000", "-b", bad, *S], ok=False))
        M = [*P, "-m", "graphdef_int32_int32_int32"]
        add(Case(f"{proto} defaults", [*M, *S], absent=[ERROR_STRING]))
        add(Case(f"{proto} concurrency 1:5:2", [*M, "--concurrency-range", "1:5:2", *S],
                 absent=[CONC_ERROR]))
        add(Case(f"{proto} concurrency 1:5:2 json", [*M, "--concurrency-range", "1:5:2",
                                                     f"--input-data={D['int_data.json']}", *S],
                 absent=[CONC_ERROR]))
        add(Case(f"{proto} rate 1000:2000:500", [*M, "--request-rate-range", "1000:2000:500",
                                                 "-p1000", "-b", "1", "-a", *S],
                 absent=[ERROR_STRING]))
        add(Case(f"{proto} rate 1000:2000:500 json",
                 [*M, "--request-rate-range", "1000:2000:500",
                  f"--input-data={D['int_data.json']}", "-p1000", "-b", "1", "-a", *S],
                 absent=[ERROR_STRING]))
        add(Case(f"{proto} rate binary search poisson",
                 [*M, "--request-rate-range", "1000:2000:100", "-p1000", "-b", "1", "-a",
                  "--binary-search", "--request-distribution", "poisson", "-l", "10", *S],
                 absent=[ERROR_STRING]))
        # run in the background, killed after 200 s; the exit status is not checked
        add(Case(f"{proto} concurrency binary search (no hang)",
                 ["-v", "-a", "--request-distribution", "poisson", "--shared-memory", "none",
                  "--percentile", "99", "--binary-search", "--concurrency-range", "1:8:2", "-l",
                  "5", "-m", "graphdef_int32_int32_int32", "-b", "1", *S], ok=None,
                 absent=[ERROR_STRING], timeout=200))
        OBJ = [*P, "-m", "graphdef_object_object_object"]
        for shm in ("none", "system"):
            add(Case(f"{proto} string-data shm={shm}", [*OBJ, "--string-data=1", "-p2000",
                                                        f"--shared-memory={shm}", *S],
                     absent=[ERROR_STRING]))
        for shm in ("none", "system"):
            add(Case(f"{proto} string dir shm={shm}", [*OBJ, f"--input-data={D['test_data']}",
                                                       "-p2000", f"--shared-memory={shm}", *S],
                     absent=[ERROR_STRING]))
        for shm in ("none", "system"):
            add(Case(f"{proto} string json x2 shm={shm}",
                     [*OBJ, f"--input-data={D['string_data.json']}",
                      f"--input-data={D['string_data.json']}", "-p2000",
                      f"--shared-memory={shm}", *S], absent=[ERROR_STRING]))
        V = [*P, "-m", "graphdef_object_int32_int32"]
        for shm in ("none", "system"):
            add(Case(f"{proto} variable dir --shape shm={shm}",
                     [*V, f"--input-data={D['test_data']}", "--shape", "INPUT0:2,8", "--shape",
                      "INPUT1:2,8", "-p2000", f"--shared-memory={shm}", *S],
                     absent=[ERROR_STRING]))
        for shm in ("none", "system"):
            add(Case(f"{proto} variable string json with shape shm={shm}",
                     [*V, f"--input-data={D['string_data_with_shape.json']}", "--shape",
                      "INPUT0:2,8", "--shape", "INPUT1:2,8", "-p2000", f"--shared-memory={shm}",
                      *S], absent=[ERROR_STRING]))
        F = [*P, "-m", "graphdef_int32_int32_float32"]
        add(Case(f"{proto} int32_float32 --shape", [*F, "--shape", "INPUT0:2,8,2", "--shape",
                                                     "INPUT1:2,8,2", "-p2000", *S],
                 absent=[ERROR_STRING]))
        for shm in ("none", "system"):
            add(Case(f"{proto} batch of different shapes shm={shm}",
                     [*F, "--shape", "INPUT0:2,8,2", "--shape", "INPUT1:2,8,2", "-p2000", "-b",
                      "4", f"--shared-memory={shm}",
                      f"--input-data={D['int_data_diff_shape.json']}", *S], ok=False,
                     present=["The supplied shape .+ is incompatible with the model's input "
                              "shape"], perl=True))
        Q = [*P, "-m", "simple_savedmodel_sequence_object"]
        for i in (1, 2):
            add(Case(f"{proto} ensemble+sequence sync -t5 ({i})",
                     [*Q, "-p", "2000", "-t5", "--sync", f"--input-data={D['seq_data.json']}",
                      *S], absent=[ERROR_STRING]))
        add(Case(f"{proto} ensemble+sequence sync rate",
                 [*Q, "-p", "1000", "--request-rate-range", "100:200:50", "--sync",
                  f"--input-data={D['seq_data.json']}", *S], absent=[ERROR_STRING]))
        for shm in ("none", "system"):
            add(Case(f"{proto}(grpc) variable sequence vs --shape shm={shm}",
                     ["-v", "-i", "grpc", "-m", "graphdef_sequence_float32", "--shape", "INPUT:2",
                      f"--input-data={D['float_data_with_shape.json']}",
                      f"--input-data={D['float_data_with_shape.json']}", "-p2000",
                      f"--shared-memory={shm}", *S], ok=False,
                     present=["The supplied shape .+ is incompatible with the model's input "
                              "shape"], perl=True))

        def traced(_: Path) -> str | None:
            files = list(trace_dir.glob("trace.json*"))
            if not files:
                return "trace.json failed to generate"
            if not any("REQUEST_START" in f.read_text(errors="replace") for f in files):
                return "no REQUEST_START in the trace file"
            return None
        add(Case(f"{proto} trace", [*Q, "-p", "2000", "-t5", "--sync", "--trace-level",
                                    "TIMESTAMPS", "--trace-rate", "1000", "--trace-count", "100",
                                    "--log-frequency", "10",
                                    f"--input-data={D['seq_data.json']}", *S],
                 check=traced, before=lambda: trace("TIMESTAMPS")))
    INT = ["-v", "-m", "graphdef_int32_int32_int32"]
    add(Case("validation non-aligned", [*INT, f"--input-data={D['non_aligned_output.json']}", *S],
             ok=False, present=["The 'validation_data' field doesn't align with 'data' field in "
                                "the json file"]))
    add(Case("validation wrong size", [*INT, f"--input-data={D['wrong_output.json']}", *S],
             ok=False, present=["mismatch in the data provided"]))
    add(Case("validation wrong values", [*INT, f"--input-data={D['wrong_output_2.json']}", *S],
             ok=False, present=["Output doesn't match expected output"]))
    add(Case("validation right", [*INT, f"--input-data={D['output.json']}", *S],
             absent=[ERROR_STRING]))
    SQ = ["-v", "-m", "simple_savedmodel_sequence_object", "-i", "grpc", "--streaming"]
    add(Case("sequence validation wrong", [*SQ, f"--input-data={D['seq_wrong_output.json']}", *S],
             ok=False, present=["Output doesn't match expected output"]))
    add(Case("sequence validation right", [*SQ, f"--input-data={D['seq_output.json']}", *S],
             absent=[ERROR_STRING]))
    many = [a for _ in range(2 ** 9) for a in ("--input-data", D["seq_data.json"])]
    add(Case("large concurrency 1500:2000:250, 512 data files",
             ["-v", "-m", "simple_savedmodel_sequence_object", "-p", "10000",
              "--concurrency-range", "1500:2000:250", "-i", "grpc", "--streaming", *many, *S],
             absent=[ERROR_STRING], timeout=900))
    add(Case("count_windows wrong shape", ["-v", "-m", "graphdef_object_int32_int32",
                                           "--measurement-mode", "count_windows", "--shape",
                                           "INPUT0:1,8,100", "--shape", "INPUT1:2,8",
                                           "--string-data=1", *S], ok=False,
             present=["unexpected shape for input 'INPUT0' for model"]))
    add(Case("count_windows", ["-v", "-m", "graphdef_object_int32_int32", "--measurement-mode",
                               "count_windows", "--shape", "INPUT0:2,8", "--shape", "INPUT1:2,8",
                               "--string-data=1", *S], absent=[ERROR_STRING]))
    add(Case("optional inputs", ["-v", "-m", "optional", "--measurement-mode", "count_windows",
                                 f"--input-data={D['int_data_optional.json']}", *S]))
    add(Case("optional inputs -b 2 (refused)",
             ["-v", "-m", "optional", "-b", "2", "--measurement-mode", "count_windows",
              f"--input-data={D['int_data_optional.json']}", *S], ok=False,
             present=[OPTIONAL_SENTENCE]))
    add(Case("request intervals", ["-v", "-i", "grpc", "-m", "graphdef_int32_int32_int32",
                                   "--request-intervals", D["custom.schedule"]],
             absent=[ERROR_STRING], present=["Request Rate: 40"]))
    add(Case("serial sequences rate", ["-v", "-i", "http", "-m",
                                       "simple_savedmodel_sequence_object", "-p", "1000",
                                       "--request-rate-range", "100:200:50", "--serial-sequences",
                                       f"--input-data={D['seq_data.json']}", *S],
             absent=[ERROR_STRING]))
    add(Case("serial sequences intervals", ["-v", "-i", "http", "-m",
                                            "simple_savedmodel_sequence_object", "-p", "1000",
                                            "--request-intervals", D["custom.schedule"],
                                            "--serial-sequences",
                                            f"--input-data={D['seq_data.json']}", *S],
             absent=[ERROR_STRING]))

    def export_ok(run_dir: Path) -> str | None:
        import jsonschema

        try:
            doc = json.loads((run_dir / "profile_export.json").read_text())
        except (OSError, ValueError) as exc:
            return f"profile_export.json: {exc}"
        requests = doc["experiments"][0]["requests"]
        if not any(len(r["response_timestamps"]) > 1 for r in requests):
            return "no request with more than one response timestamp"
        try:
            jsonschema.validate(doc, EXPORT_SCHEMA)
        except jsonschema.ValidationError as exc:
            return f"schema: {exc.message}"
        return None
    add(Case("decoupled export", ["-v", "-m", "repeat_int32",
                                  f"--input-data={D['repeat_int32_data.json']}",
                                  "--profile-export-file", "profile_export.json", "-i", "grpc",
                                  "--async", "--streaming", *S], check=export_ok))
    add(Case("without libmpi", ["-v", "-m", "graphdef_int32_int32_int32", *S]))
    return out


NOT_RUN = [
    "CUDA shared memory: 13 per protocol (no GPU here)",
    "plan_zero_1_float32 shape tensors: 2 per protocol (TensorRT)",
    "MPI: 3 ranks under Open MPI's mpiexec with --tag-output/--timestamp-output",
    "TLS: 2 gRPC SSL cases (an SSL Triton) and 3 HTTPS cases (an nginx proxy)",
]


def with_url(argv: list[str], http: str, grpc: str) -> list[str]:
    """The QA script talks to localhost:8000/8001; the stand-in server has its own ports."""
    grpc_on = any(argv[i] == "-i" and i + 1 < len(argv) and argv[i + 1] == "grpc"
                  for i in range(len(argv)))
    return [*argv, "-u", grpc if grpc_on else http]


def run_case(tool: list[str], case: Case, http: str, grpc: str, run_dir: Path) -> tuple[bool, str]:
    run_dir.mkdir(parents=True, exist_ok=True)
    if case.before:
        case.before()
    try:
        res = subprocess.run([*tool, *with_url(case.argv, http, grpc)], capture_output=True,
                             text=True, timeout=case.timeout, cwd=run_dir, check=False)
        rc, text = res.returncode, res.stdout + res.stderr
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout or b""
        text = out.decode(errors="replace") if isinstance(out, bytes) else out
        return False, f"still running after {case.timeout:g} s"
    (run_dir / "client.log").write_text(text)
    why = []
    if case.ok is True and rc != 0:
        why.append(f"exit {rc}")
    if case.ok is False and rc == 0:
        why.append("exit 0, expected an error")
    why += [f"found {p!r}" for p in case.absent if grep(p, text, case.perl)]
    why += [f"missing {p[:60]!r}" for p in case.present if not grep(p, text, case.perl)]
    if case.check and not why:
        problem = case.check(run_dir)
        if problem:
            why.append(problem)
    if why:
        tail = [ln for ln in text.splitlines() if ln.strip()][-2:]
        return False, "; ".join(why) + " | " + " / ".join(t[:160] for t in tail)
    return True, ""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pa", action="store_true", help="also run perf_analyzer")
    ap.add_argument("--only", help="run the cases whose name matches this regex")
    ap.add_argument("--skip-slow", action="store_true", help="leave out the large-concurrency "
                    "and concurrency binary-search cases")
    ap.add_argument("--keep", help="folder for the run folders and logs (default: a temp dir)")
    ap.add_argument("--start", type=int, default=1, help="begin at this case number")
    ap.add_argument("--list", action="store_true")
    args = ap.parse_args()

    from perfanalyzer.server.launcher import TritonLauncher

    work = Path(args.keep or tempfile.mkdtemp(prefix="qa-pa-"))
    work.mkdir(parents=True, exist_ok=True)
    repo = write_repository(Path(tempfile.mkdtemp(prefix="qa-pa-models-")))
    data = write_data(work / "data")
    trace_dir = work / "trace"
    trace_dir.mkdir(exist_ok=True)
    launcher = TritonLauncher(model_repository=repo, die_with_parent=True,
                              log_path=work / "tritonserver.log", extra_args=[
        "--trace-config", f"triton,file={trace_dir / 'trace.json'}"])
    server = None if args.list else launcher.start(timeout_s=300)

    def set_trace(level: str) -> None:
        for f in trace_dir.glob("trace.json*"):
            f.unlink()
        assert server is not None
        req = urllib.request.Request(f"http://{server.http_url}/v2/trace/setting",
                                     data=json.dumps({"trace_level": [level]}).encode())
        urllib.request.urlopen(req, timeout=10).read()

    all_cases = cases(data, lambda: server.log_text() if server else "", set_trace, trace_dir)
    chosen = [c for c in all_cases if not args.only or re.search(args.only, c.name)]
    chosen = chosen[args.start - 1:]
    if args.skip_slow:
        chosen = [c for c in chosen if "large concurrency" not in c.name
                  and "concurrency binary search" not in c.name]
    if args.list:
        for c in chosen:
            print(c.name)
        print(f"{len(chosen)} cases; not run here:", *NOT_RUN, sep="\n  ")
        return 0
    tools = {"perfanalyzer": [sys.executable, "-m", "perfanalyzer"]}
    if args.pa:
        tools["perf_analyzer"] = [os.environ.get("PA_SCRIPT", PA_SCRIPT)]
    totals = {name: 0 for name in tools}
    try:
        assert server is not None
        for i, case in enumerate(chosen):
            line = []
            for name, tool in tools.items():
                t0 = time.monotonic()
                ok, why = run_case(tool, case, server.http_url, server.grpc_url,
                                   work / name / f"{i:03d}")
                if case.before:
                    set_trace("OFF")
                totals[name] += ok
                line.append(f"{name} {'PASS' if ok else 'FAIL'} ({time.monotonic() - t0:.0f}s)"
                            + (f" [{why}]" if why else ""))
            print(f"{i + 1:3d}/{len(chosen)} {case.name}: " + "; ".join(line), flush=True)
    finally:
        if server is not None:
            server.stop()
    for name, n in totals.items():
        print(f"{name}: {n} of {len(chosen)} passed")
    print("not run here:", *NOT_RUN, sep="\n  ")
    print(f"logs: {work}")
    return 0 if all(n == len(chosen) for n in totals.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
