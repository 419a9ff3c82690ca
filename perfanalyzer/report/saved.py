"""A saved run (``--profile-export-file`` JSON) back into a :class:`RunResult`, without a server.

The records are put back into a :class:`RecordBuffer` in their original order, on the original
``perf_counter_ns`` clock (the export keeps both anchors), and every window and load point is
recomputed with the same :func:`summarize` / :func:`merge` code as the live run, so the console text
and the CSV of a re-report are byte-identical to the live run's.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..client.base import stats_from_json
from ..client.orca import OrcaWindow
from ..config import LoadMode
from ..config.goodput import GoodputLimits, parse_goodput
from ..errors import OptionError
from ..inputs.model import ModelTraits
from ..measure.metrics import ClientLoad, ServerDelta, summarize
from ..measure.prometheus import scrapes_from_json
from ..measure.stabilizer import Verdict
from ..measure.window import PointResult, Window, merge
from ..records import RecordBuffer
from ..results import RunResult
from ..results.combine import combine_runs
from .export import SCHEMA_VERSION

_COLUMNS = ("intended", "sent", "first", "last", "status", "responses", "sequence", "send_ns",
            "recv_ns")


class SavedRunError(OptionError):
    """The file is not a perfanalyzer run export this version can read (names file and field)."""


def read_json(path: str | os.PathLike[str]) -> Any:
    """Parse a JSON file; one-line :class:`SavedRunError` naming the file when it is not JSON."""
    try:
        with Path(path).open(encoding="utf-8") as fh:
            return json.load(fh)
    except OSError as exc:
        raise SavedRunError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SavedRunError(f"{path}: not a JSON file ({exc})") from None
    except RecursionError:
        raise SavedRunError(f"{path}: not a run export (JSON nested too deeply to read)") from None


def saved_part(doc: Any, path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``perfanalyzer`` object of an export, after checking its schema version."""
    if not isinstance(doc, dict) or "experiments" not in doc:
        raise SavedRunError(f"{path}: not a profile export (no 'experiments' key)")
    ours = doc.get("perfanalyzer")
    if not isinstance(ours, dict):
        raise SavedRunError(f"{path}: no 'perfanalyzer' key: a perf_analyzer export without "
                            "perfanalyzer's run data cannot be re-reported")
    version = ours.get("schema_version")
    if version != SCHEMA_VERSION:
        raise SavedRunError(f"{path}: perfanalyzer.schema_version is {version!r}; this "
                            f"perfanalyzer reads schema version {SCHEMA_VERSION}")
    return ours


def load_run(path: str | os.PathLike[str]) -> RunResult:
    """Rebuild the run saved in ``path`` (raises :class:`SavedRunError` naming file and field).
    A ``--repeat N`` export gives the pooled run with its N runs as ``replicates``."""
    return load_doc(read_json(path), path)


def load_doc(doc: Any, path: str | os.PathLike[str]) -> RunResult:
    """:func:`load_run` on an export already parsed (``path`` names it in errors): the HTML
    report of a live run is built from its export this way, so it equals a re-report's."""
    try:
        return _load_doc(doc, path)
    except SavedRunError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, AttributeError, OverflowError,
            RecursionError) as exc:
        # a field of the wrong type or shape that no specific check named: still one line
        raise SavedRunError(f"{path}: not a run this perfanalyzer can read (a field has the "
                            f"wrong type or shape: {type(exc).__name__}: {str(exc)[:100]})"
                            ) from None


def _load_doc(doc: Any, path: str | os.PathLike[str]) -> RunResult:
    ours = saved_part(doc, path)
    repeats = ours.get("repeats")
    if not repeats:
        return _Loader(path, doc, ours).run()
    if not isinstance(repeats, list):
        raise SavedRunError(f"{path}: perfanalyzer.repeats: not a list")
    experiments = doc["experiments"] if isinstance(doc["experiments"], list) else []
    runs, offset = [], 0
    for k, part in enumerate([ours, *repeats]):
        where = "perfanalyzer" if k == 0 else f"perfanalyzer.repeats[{k - 1}]"
        points = part.get("points") if isinstance(part, dict) else None
        if not isinstance(points, list):
            raise SavedRunError(f"{path}: {where}.points: missing")
        sub = {"experiments": experiments[offset:offset + len(points)]}
        runs.append(_Loader(path, sub, part).run())
        offset += len(points)
    if offset != len(experiments):
        raise SavedRunError(f"{path}: experiments: {len(experiments)} experiments but the runs "
                            f"hold {offset} points")
    return combine_runs(runs)


class _Loader:
    def __init__(self, path: str | os.PathLike[str], doc: dict[str, Any],
                 ours: dict[str, Any]) -> None:
        self.path = path
        self.doc = doc
        self.ours = ours
        clock = self.get(ours, "clock", "perfanalyzer.clock")
        self.offset = (int(self.get(clock, "wall_anchor_ns", "perfanalyzer.clock"))
                       - int(self.get(clock, "clock_anchor_ns", "perfanalyzer.clock")))

    def fail(self, where: str, what: str) -> SavedRunError:
        return SavedRunError(f"{self.path}: {where}: {what}")

    def get(self, obj: Any, key: str, where: str) -> Any:
        if not isinstance(obj, Mapping) or key not in obj:
            return self._missing(where, key)
        return obj[key]

    def number(self, obj: Any, key: str, where: str) -> float:
        value = self.get(obj, key, where)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.fail(f"{where}.{key}", f"expected a number, got {str(value)[:40]!r}")
        return float(value)

    def _missing(self, where: str, key: str) -> Any:
        raise self.fail(f"{where}.{key}", "missing")

    def run(self) -> RunResult:
        ours, g = self.ours, self.get
        clock = g(ours, "clock", "perfanalyzer")
        run = RunResult(
            mode=LoadMode(str(g(ours, "mode", "perfanalyzer"))), model=self.model(),
            batch_size=int(g(ours, "batch_size", "perfanalyzer")),
            percentile=int(g(ours, "percentile", "perfanalyzer")),
            server_stats=bool(g(ours, "server_stats", "perfanalyzer")),
            server_stats_reason=str(ours.get("server_stats_reason", "")),
            wall_anchor_ns=int(clock["wall_anchor_ns"]),
            clock_anchor_ns=int(clock["clock_anchor_ns"]),
            config=dict(ours.get("config") or {}), provenance=dict(ours.get("provenance") or {}),
            interrupted=bool(ours.get("interrupted", False)), failure=str(ours.get("failure", "")),
        )
        periodic = ours.get("periodic")  # --periodic-concurrency-range
        run.periodic = dict(periodic) if isinstance(periodic, Mapping) else None
        run.buffer = self.buffer()
        points = g(ours, "points", "perfanalyzer")
        for k, p in enumerate(points):
            run.points.append(self.point(run, p, f"perfanalyzer.points[{k}]"))
        return run

    def model(self) -> ModelTraits:
        raw = self.get(self.ours, "model", "perfanalyzer")
        names = {f.name for f in dataclasses.fields(ModelTraits)}
        kw = {k: v for k, v in raw.items() if k in names}
        kw["composing"] = tuple(kw.get("composing") or ())
        kw["nested_ensembles"] = tuple(kw.get("nested_ensembles") or ())
        kw["indirect"] = tuple(kw.get("indirect") or ())
        try:
            return ModelTraits(**kw)
        except TypeError as exc:
            raise self.fail("perfanalyzer.model", str(exc)) from None

    def buffer(self) -> RecordBuffer:
        """All records in their original order, checked against the windows' lo/hi."""
        ours, doc = self.ours, self.doc
        errors = self.get(ours, "errors", "perfanalyzer")
        points = self.get(ours, "points", "perfanalyzer")
        experiments = self.get(doc, "experiments", "")
        if len(experiments) != len(points):
            raise self.fail("experiments", f"{len(experiments)} experiments but "
                            f"{len(points)} perfanalyzer.points")
        parts: list[tuple[str, Sequence[Any]]] = []
        for k, (exp, p) in enumerate(zip(experiments, points, strict=True)):
            where = f"perfanalyzer.points[{k}]"
            before = self.get(p, "unwindowed_requests", where)
            windowed = self.get(exp, "requests", f"experiments[{k}]")
            self._check_windows(p, where, sum(len(x) for _, x in parts) + len(before),
                                len(windowed))
            parts += [(f"{where}.unwindowed_requests", before),
                      (f"experiments[{k}].requests", windowed)]
        parts.append(("perfanalyzer.trailing_requests",
                      self.get(ours, "trailing_requests", "perfanalyzer")))
        total = sum(len(x) for _, x in parts)
        buf = RecordBuffer(max(total, 1))
        for message in errors[1:]:
            buf.error_code(str(message))
        for where, reqs in parts:
            self._fill(buf, reqs, where, len(errors))
        return buf

    def _check_windows(self, p: Any, where: str, lo: int, n: int) -> None:
        windows = self.get(p, "windows", where)
        edge = lo
        for i, w in enumerate(windows):
            if (self.get(w, "lo", f"{where}.windows[{i}]") != edge
                    or self.get(w, "hi", f"{where}.windows[{i}]") < edge):
                raise self.fail(f"{where}.windows[{i}]", "lo/hi do not match the saved requests")
            edge = w["hi"]
        if edge - lo != n:
            raise self.fail(f"{where}.windows", f"cover {edge - lo} requests, the experiment "
                            f"holds {n}")

    def _fill(self, buf: RecordBuffer, reqs: Sequence[Any], where: str, n_errors: int) -> None:
        if not reqs:
            return
        try:
            cols = {
                "sent": [r["timestamp"] for r in reqs],
                "intended": [r["intended_timestamp"] for r in reqs],
                "first": [r["response_timestamps"][0] for r in reqs],
                "last": [r["response_timestamps"][-1] for r in reqs],
                "status": [r["status"] for r in reqs],
                "responses": [r["response_count"] for r in reqs],
                "sequence": [r.get("sequence_id", 0) for r in reqs],
                "send_ns": [r.get("client_send_ns", 0) for r in reqs],
                "recv_ns": [r.get("client_recv_ns", 0) for r in reqs],
            }
        except (KeyError, IndexError, TypeError):
            raise self._bad_request(reqs, where) from None
        lo, hi = buf.count, buf.count + len(reqs)
        for name in _COLUMNS:
            arr = np.asarray(cols[name], dtype=np.int64)
            if name in ("sent", "intended", "first", "last"):
                arr = arr - np.int64(self.offset)
            getattr(buf, name)[lo:hi] = arr
        bad = int(np.max(buf.status[lo:hi], initial=0))
        if bad >= n_errors or int(np.min(buf.status[lo:hi], initial=0)) < 0:
            raise self.fail(where, f"status {bad} is not an index into perfanalyzer.errors")
        buf.count = hi
        for j, r in enumerate(reqs):  # streaming: every response time, as exported
            if len(r["response_timestamps"]) > 2:
                buf.response_times[lo + j] = tuple(int(t) - self.offset
                                                   for t in r["response_timestamps"])

    def _bad_request(self, reqs: Sequence[Any], where: str) -> SavedRunError:
        for i, r in enumerate(reqs):
            for key in ("timestamp", "intended_timestamp", "response_timestamps", "status",
                        "response_count"):
                if not isinstance(r, Mapping) or key not in r:
                    return self.fail(f"{where}[{i}].{key}", "missing")
            if not r["response_timestamps"]:
                return self.fail(f"{where}[{i}].response_timestamps", "empty")
        return self.fail(where, "malformed request")

    def point(self, run: RunResult, p: Any, where: str) -> PointResult:
        assert run.buffer is not None
        pcts = (run.percentile,) if run.percentile > 0 else ()
        goodput = self.goodput(run)
        windows: list[Window] = []
        for i, w in enumerate(self.get(p, "windows", where)):
            wh = f"{where}.windows[{i}]"
            summary = summarize(
                run.buffer.view(int(w["lo"]), int(w["hi"])),
                start_ns=int(self.get(w, "start_ns", wh)) - self.offset,
                end_ns=int(self.get(w, "end_ns", wh)) - self.offset,
                batch_size=run.batch_size, server=self.server(w.get("server"), wh),
                client=ClientLoad(**self.get(w, "client", wh)), percentiles=pcts,
                sent=int(self.get(w, "sent", wh)), late_sends=int(self.get(w, "late_sends", wh)),
                cores=float(w.get("cores", 1.0)), goodput=goodput)
            windows.append(Window(int(w.get("index", i)), int(w["lo"]), int(w["hi"]), summary,
                                  scrapes_from_json(w.get("metrics_scrapes", ()), self.offset),
                                  self.orca(w.get("orca"), wh)))
        rng = self.get(p, "merged_windows", where)
        first, count = int(rng["first"]), int(rng["count"])
        if not windows or count < 1 or first < 0 or first + count > len(windows):
            raise self.fail(f"{where}.merged_windows", f"{rng} does not fit {len(windows)} windows")
        return PointResult(level=self.number(p, "level", where), windows=tuple(windows),
                           verdict=self.verdict(self.get(p, "verdict", where), where),
                           merged=merge(windows[first:first + count], run.buffer, pcts),
                           interrupted=bool(p.get("interrupted", False)))

    def orca(self, raw: Any, where: str) -> OrcaWindow | None:
        if raw is None:
            return None
        try:
            return OrcaWindow.from_json(raw)
        except (KeyError, TypeError, ValueError, AttributeError):
            raise self.fail(f"{where}.orca", "not answers/sums/counts") from None

    def goodput(self, run: RunResult) -> GoodputLimits | None:
        """The run's --goodput limits, as its config recorded them."""
        try:
            return parse_goodput(run.settings.goodput, "perfanalyzer.config.goodput")
        except OptionError as exc:
            raise self.fail("perfanalyzer.config.goodput", str(exc)) from None

    def server(self, raw: Any, where: str) -> ServerDelta | None:
        if raw is None:
            return None
        try:
            return ServerDelta(model=stats_from_json(raw["model"]),
                               composing=tuple(stats_from_json(c) for c in raw["composing"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise self.fail(f"{where}.server", f"malformed ({exc})") from None

    def verdict(self, raw: Any, where: str) -> Verdict:
        names = {f.name for f in dataclasses.fields(Verdict)}
        kw: dict[str, Any] = {k: (math.inf if v is None and k.endswith("spread") else v)
                              for k, v in raw.items() if k in names}
        try:
            return Verdict(**kw)
        except TypeError as exc:
            raise self.fail(f"{where}.verdict", str(exc)) from None


def console_text(run: RunResult, *, table: bool = True) -> str:
    """What the live run printed on stdout, rebuilt: the statistics note, the settings block,
    every point's block and the final table (same functions, same order as the live run).
    A ``--repeat N`` run: each run's text after its header, the across-runs figures, the table."""
    from . import console

    if run.replicates:
        from .repeat import intervals_text, run_header

        # a run recorded without --repeat (or before it existed): its replicates say how many
        n = run.settings.repeat if run.settings.repeat > 1 else len(run.replicates)
        text = "".join(run_header(k, n) + console_text(r, table=False)
                       for k, r in enumerate(run.replicates, 1))
        return text + intervals_text(run) + (console.table_text(run) + "\n" if table else "")

    st = run.settings
    parts = []
    if not run.server_stats:
        parts.append(f"Server statistics are not reported: {run.server_stats_reason}\n")
    parts.append(console.settings_text(
        batch_size=st.batch_size, count_windows=st.count_windows,
        interval_ms=st.measurement_interval_ms, request_count=st.window_requests,
        async_mode=st.async_mode, percentile=st.percentile, mode=st.mode.value,
        streaming=st.streaming, distribution=st.request_distribution,
        burstiness=st.request_burstiness or 1.0) + "\n")
    parts += [console.point_text(run, p, st.protocol) for p in run.points]
    if run.points and table:
        parts.append(console.table_text(run) + "\n")
    return "".join(parts)


__all__ = ["SavedRunError", "console_text", "load_doc", "load_run", "read_json", "saved_part"]
