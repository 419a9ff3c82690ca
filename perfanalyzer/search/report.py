"""The search's report: ``summary.md`` (top configurations against the default one), ``pareto.png``
(throughput vs latency of every measured point, the Pareto front drawn) and ``config.pbtxt`` (the
best configuration, ready to drop into a model repository)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from ..report.outfile import write_output
from ..report.plots import DPI, save
from .modelconfig import merged_config, to_pbtxt
from .objective import Objective
from .runner import SearchConfig, SearchOutcome
from .space import Candidate
from .store import CONFIG, FLAG, PARETO, SUMMARY, CandidateResult, PointFigures


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


def _row(rank: str, r: CandidateResult, default: CandidateResult | None,
         level_name: str) -> str:
    s = r.candidate.settings()
    b = r.best
    thr = f"{b.throughput:.1f}" if b else ""
    lat = f"{b.latency_ms:.2f}" if b else ""
    level = f"{b.level:g}" if b else ""
    gain = ""
    if b and default is not None and default.best and default.best.throughput > 0:
        gain = f"{(b.throughput / default.best.throughput - 1) * 100:+.1f} %"
    return (f"| {rank} | `{r.candidate.key}` | " + " | ".join(s.values())
            + f" | {level} | {thr} | {lat} | {gain} |")


def summary_text(sc: SearchConfig, out: SearchOutcome, level_name: str, model: str) -> str:
    obj = sc.objective
    order = ranked(out.results)
    default = next((r for r in out.results if r.candidate.key == out.default.key), None)
    budget = f"{obj.latency_budget_ms:g} ms on {obj.latency_label}" \
        if obj.latency_budget_ms > 0 else "none"
    lines = [f"# Configuration search: {model}", "",
             f"- Objective: {obj.kind} (latency budget: {budget}"
             + (f", minimum throughput {obj.min_throughput:g} infer/s" if obj.min_throughput
                else "") + ")",
             f"- Mode: {sc.mode}; candidates measured: {len(out.results)}"
             + (f" ({out.resumed} from an earlier run)" if out.resumed else "")
             + ("; INTERRUPTED before the search finished" if out.interrupted else ""), ""]
    head = list(out.default.settings())
    lines += ["| rank | candidate | " + " | ".join(head)
              + f" | best {level_name.lower()} | throughput (infer/s) | "
              f"{obj.latency_label} (ms) | vs default |",
              "|" + "---|" * (len(head) + 6)]
    for i, r in enumerate(order[:sc.top], 1):
        lines.append(_row(str(i), r, default, level_name))
    if default is not None and default not in order[:sc.top]:
        lines.append(_row("default", default, default, level_name))
    lines.append("")
    if order:
        top = order[0].candidate
        lines += [f"Best: `{top.key}`; its model configuration is in `{CONFIG}` (the client "
                  f"batch, {top.client_batch}, is a client setting: -b {top.client_batch}).", ""]
    else:
        lines += ["No candidate met the constraints (a point counts only when its candidate's "
                  "profile.csv holds it: stable, under the budget): no config.pbtxt was written.",
                  ""]
    if default is not None:
        lines += [f"The default (the model's configuration before the search) is "
                  f"`{default.candidate.key}`.", ""]
    failed = [r for r in out.results if r.error]
    for r in failed:
        lines.append(f"- `{r.candidate.key}`: {r.error}")
    lines += ["", f"Every candidate's sweep: `candidates/KEY/profile.csv` and `export.json`; "
              f"all points: `{PARETO}.png`."]
    return "\n".join(lines) + "\n"


def write_report(sc: SearchConfig, out: SearchOutcome, level_name: str, model: str) -> list[Path]:
    root = Path(sc.output_dir)
    written = [root / SUMMARY]
    write_output(root / SUMMARY, summary_text(sc, out, level_name, model), FLAG)
    order = ranked(out.results)
    best = order[0].candidate if order else None
    pareto = pareto_figure(out.results, sc.objective, best)
    written += save(pareto, root, PARETO, ("png",))
    from ..report.html.markdown_page import write_markdown_page  # Jinja2 only here

    written.append(write_markdown_page(
        root / "summary.html", "Configuration search", summary_text(sc, out, level_name, model),
        [(pareto, "Throughput vs latency of every measured point; black: the Pareto front")]))
    if best is not None:
        write_output(root / CONFIG, to_pbtxt(merged_config(out.original, best)), FLAG)
        written.append(root / CONFIG)
    elif (root / CONFIG).is_file() and not (root / CONFIG).is_symlink():
        (root / CONFIG).unlink()  # an earlier run's best is not this run's
    return written
