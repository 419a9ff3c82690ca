"""The search's report: ``summary.md`` (top configurations against the default one), ``pareto.png``
(throughput vs latency of every measured point, the Pareto front drawn) and ``config.pbtxt`` (the
best configuration, ready to drop into a model repository)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from ..report.outfile import write_output
from ..report.plots import DPI, save
from ..report.repeat import fmt_interval
from .composite import CompositeCandidate
from .modelconfig import merged_config, to_pbtxt
from .objective import Objective
from .ranking import Row, beats_default, rank, values
from .runner import SearchConfig, SearchOutcome
from .space import Candidate
from .store import BEST_DIR, CONFIG, FLAG, PARETO, SUMMARY, CandidateResult, PointFigures, Store
from .together import model_reports


def ranked(results: Sequence[CandidateResult]) -> list[CandidateResult]:
    """Candidates with a score, best first (ties: the earlier measured)."""
    scored = [r for r in results if r.score is not None]
    return sorted(scored, key=lambda r: -(r.score or 0.0))


def pareto_front(points: Sequence[PointFigures]) -> list[PointFigures]:
    """Points no other point beats on both throughput (higher) and latency (lower), by latency."""
    front: list[PointFigures] = []
    for p in sorted(points, key=lambda q: (q.latency_ms, -q.throughput)):
        if not front or p.throughput > front[-1].throughput:
            front.append(p)
    return front


def pareto_figure(results: Sequence[CandidateResult], obj: Objective,
                  best: Candidate | None) -> Figure:
    fig = Figure(figsize=(8, 5.5), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    everything = [p for r in results for p in r.points]
    for i, r in enumerate(results):
        if not r.points:
            continue
        xs = [p.throughput for p in r.points]
        ys = [p.latency_ms for p in r.points]
        is_best = best is not None and r.candidate.key == best.key
        ax.plot(xs, ys, marker="*" if is_best else "o", linestyle="-", linewidth=0.6,
                markersize=10 if is_best else 4, alpha=1.0 if is_best else 0.6,
                color=f"C{i % 10}", label=r.candidate.key + (" (best)" if is_best else ""),
                gid=r.candidate.key)
    front = pareto_front(everything)
    if front:
        ax.step([p.throughput for p in front], [p.latency_ms for p in front], where="post",
                color="k", linewidth=1.5, label="Pareto front", gid="pareto")
    if obj.latency_budget_ms > 0:
        ax.axhline(obj.latency_budget_ms, color="r", linestyle="--", linewidth=1,
                   label=f"budget {obj.latency_budget_ms:g} ms")
    ax.set_xlabel("Throughput (infer/s)")
    ax.set_ylabel(f"Latency, {obj.latency_label} (ms)")
    ax.set_title("Model configurations: throughput vs latency (each line: one concurrency sweep)")
    ax.set_xlim(left=0)
    ax.set_ylim(bottom=0)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")
    return fig


def _pct(x: float) -> str:
    return f"{x * 100:+.1f}"


def _change(row: Row) -> str:
    c = row.vs_default
    if c is None:
        return ""
    return f"{_pct(c.estimate)} % [{_pct(c.lo)} %, {_pct(c.hi)} %]"


def _note(row: Row, rank: int, runs: int) -> str:
    if row.final is None:
        return "not re-measured"
    if row.interval is None:
        return f"no replicate run counted (of {runs}: none stable under the limits)"
    counted = f"{row.interval.runs} of {len(row.final.points)} runs"
    if rank == 1:
        return f"best; {counted}"
    return ("within noise of the best; " if row.within_noise else "") + counted




def _row(rank: int, row: Row, level_name: str, runs: int, default_key: str) -> str:
    r = row.result
    note = _note(row, rank, runs) + ("; the default" if r.candidate.key == default_key else "")
    b = r.best
    if b is None:  # the default, measured only in its replicates (at the best's level)
        note += "; no point counted in the exploration: measured at the best's level"
    level = f"{b.level:g}" if b else f"{row.final.level:g}" if row.final else ""
    figures = f"{b.throughput:.1f} | {b.latency_ms:.2f}" if b else " | "
    objective = fmt_interval(row.interval) if row.interval is not None else ""
    return (f"| {rank} | `{r.candidate.key}` | " + " | ".join(r.candidate.settings().values())
            + f" | {level} | {figures} | {objective} | "
            f"{_change(row)} | {note} |")


def _verdict(sc: SearchConfig, out: SearchOutcome, rows: list[Row]) -> list[str]:
    """What the re-measurement says about the best against the default."""
    obj = sc.objective
    if sc.replicates < 2:
        return ["Not re-measured (--replicates 0): the ranking is by single measurements, which "
                "do not account for run-to-run noise.", ""]
    if not out.finals:
        return ["The finalists were not re-measured (the search stopped first): the ranking is "
                "by single measurements.", ""]
    base = out.finals.get(out.default.key)
    if base is None or not values(obj, base):
        return ["The default has no replicate run that counted (not re-measured, or unstable "
                "or over a limit in every run): no change against it is measured.", ""]
    wins = beats_default(obj, rows)
    if not wins:
        return ["**No configuration beat the default measurably**: the 95 % interval of every "
                "finalist's change against the default includes zero (or lies on the worse "
                "side).", ""]
    top = wins[0]
    return [f"Measurably better than the default: `{top.result.candidate.key}`, "
            f"{obj.figure_label} {_change(top)} (95 % interval)"
            + (f", and {len(wins) - 1} more finalist(s)" if len(wins) > 1 else "") + ".", ""]


def summary_text(sc: SearchConfig, out: SearchOutcome, level_name: str, model: str) -> str:
    obj = sc.objective
    rows = rank(obj, out.results, out.finals, out.default.key)
    budget = f"{obj.latency_budget_ms:g} ms on {obj.latency_label}" \
        if obj.latency_budget_ms > 0 else "none"
    lines = [f"# Configuration search: {model}", "",
             f"- Objective: {obj.figure_label if obj.kind == 'weighted' else obj.kind} "
             f"(latency budget: {budget}"
             + (f", minimum throughput {obj.min_throughput:g} infer/s" if obj.min_throughput
                else "") + ")",
             *([f"- Constraints: {', '.join(str(c) for c in obj.constraints)}"]
               if obj.constraints else []),
             f"- Mode: {sc.mode}; candidates measured: {len(out.results)}"
             + (f" ({out.resumed} from an earlier run)" if out.resumed else "")
             + ("; INTERRUPTED before the search finished" if out.interrupted else ""),
             f"- Re-measured: the {sc.finalists} best and the default, {sc.replicates} runs each "
             f"at their best {level_name.lower()}; objective = mean of the runs ± half-width of "
             f"its 95 % t-interval; vs default = change of the mean with its 95 % interval"
             if sc.replicates >= 2 else "- Not re-measured (--replicates 0)", ""]
    head = list(out.default.settings())
    lines += ["| rank | candidate | " + " | ".join(head)
              + f" | best {level_name.lower()} | throughput (infer/s) | "
              f"{obj.latency_label} (ms) | objective: {obj.figure_label}, 95 % | "
              f"vs default [95 %] | note |",
              "|" + "---|" * (len(head) + 8)]
    shown = rows[:sc.top]
    for i, row in enumerate(shown, 1):
        lines.append(_row(i, row, level_name, sc.replicates, out.default.key))
    for i, row in enumerate(rows[sc.top:], sc.top + 1):
        if row.result.candidate.key == out.default.key:
            lines.append(_row(i, row, level_name, sc.replicates, out.default.key))
    lines.append("")
    lines += _verdict(sc, out, rows)
    if rows:
        top = rows[0].result.candidate
        where = (f"each model's configuration is in `{BEST_DIR}/MODEL/{CONFIG}` ("
                 + ", ".join(f"`{BEST_DIR}/{m}/{CONFIG}`" for m in out.originals) + ")"
                 if isinstance(top, CompositeCandidate)
                 else f"its model configuration is in `{CONFIG}`")
        lines += [f"Best: `{top.key}`; {where} (the client batch, {top.client_batch}, is a "
                  f"client setting: -b {top.client_batch}).", ""]
    else:
        lines += ["No candidate met the constraints (a point counts only when its candidate's "
                  "profile.csv holds it: stable, under the budget, within every limit): no "
                  "config.pbtxt was written.",
                  ""]
    lines += [f"The default (the model's configuration before the search) is "
              f"`{out.default.key}`.", ""]
    infeasible = [r for r in out.results if r.best is None and not r.error]
    if infeasible:
        lines += ["Infeasible candidates (no point met every limit; the limits the closest "
                  "stable point broke):", ""]
        lines += [f"- `{r.candidate.key}`: {obj.why_infeasible(r.points, level_name)}"
                  for r in infeasible]
        lines.append("")
    for r in out.results:
        if r.error:
            lines.append(f"- `{r.candidate.key}`: {r.error}")
    lines += ["", f"Every candidate's sweep: `candidates/KEY/profile.csv` and `export.json`; the "
              f"finalists' replicate runs: `candidates/KEY/final.json` and `final-export.json`; "
              f"all points: `{PARETO}.png`."]
    return "\n".join(lines) + "\n"


def ranking_json(sc: SearchConfig, out: SearchOutcome) -> list[dict[str, Any]]:
    """The ranking as search.json holds it."""
    rows = rank(sc.objective, out.results, out.finals, out.default.key)
    wins = {r.result.candidate.key for r in beats_default(sc.objective, rows)}
    doc = []
    for i, row in enumerate(rows, 1):
        b = row.result.best
        iv, ch = row.interval, row.vs_default
        doc.append({
            "rank": i, "candidate": row.result.candidate.key,
            "default": row.result.candidate.key == out.default.key,
            "level": b.level if b else row.final.level if row.final else None,
            "throughput": b.throughput if b else None, "latency_ms": b.latency_ms if b else None,
            "objective": None if iv is None else {
                "figure": sc.objective.figure_label, "mean": iv.mean,
                "half_width": iv.half_width, "runs": iv.runs, "confidence": iv.confidence},
            "vs_default": None if ch is None else {
                "estimate": ch.estimate, "lo": ch.lo, "hi": ch.hi, "confidence": ch.confidence},
            "within_noise_of_best": row.within_noise,
            "beats_default_measurably": row.result.candidate.key in wins})
    return doc


def write_report(sc: SearchConfig, out: SearchOutcome, level_name: str, model: str) -> list[Path]:
    root = Path(sc.output_dir)
    written = [root / SUMMARY]
    write_output(root / SUMMARY, summary_text(sc, out, level_name, model), FLAG)
    rows = rank(sc.objective, out.results, out.finals, out.default.key)
    best = rows[0].result.candidate if rows else None
    Store(root).save_ranking(ranking_json(sc, out))
    pareto = pareto_figure(out.results, sc.objective, best)
    written += save(pareto, root, PARETO, ("png",))
    from ..report.html.markdown_page import write_markdown_page  # Jinja2 only here

    written.append(write_markdown_page(
        root / "summary.html", "Configuration search", summary_text(sc, out, level_name, model),
        [(pareto, "Throughput vs latency of every measured point; black: the Pareto front")]))
    if isinstance(out.default, CompositeCandidate):
        written += _write_best_models(root, out, best)
        if out.default.together:
            written += model_reports(root, tuple(out.originals), out.results, sc.objective,
                                     level_name)
    elif best is not None:
        write_output(root / CONFIG, to_pbtxt(merged_config(out.original, best)), FLAG)
        written.append(root / CONFIG)
    elif (root / CONFIG).is_file() and not (root / CONFIG).is_symlink():
        (root / CONFIG).unlink()  # an earlier run's best is not this run's
    return written


def _write_best_models(root: Path, out: SearchOutcome, best: Candidate | None) -> list[Path]:
    """``best/MODEL/config.pbtxt`` for every searched model (an earlier run's are removed when
    this run has no best)."""
    store = Store(root)
    written = []
    for model, config in out.originals.items():
        path = store.best_dir(model) / CONFIG
        if isinstance(best, CompositeCandidate):
            write_output(path, to_pbtxt(merged_config(config, best.part(model))), FLAG)
            written.append(path)
        elif path.is_file() and not path.is_symlink():
            path.unlink()
    return written
