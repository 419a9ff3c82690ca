"""A :class:`~perfanalyzer.gate.compare.Comparison` as a console table, GitHub markdown or JSON."""

from __future__ import annotations

import json
import math
from typing import Any

from ..report.repeat import plain
from .checks import higher_is_better
from .compare import IMPROVEMENT, NOISE, OK, REGRESSION, Comparison, Row, Significance

HEADER = ("metric", "baseline", "current", "change", "threshold", "interval of change", "verdict")
RULE = "#" * 88
JSON_VERSION = 1


def unit_of(column: str) -> str:
    return "infer/s" if higher_is_better(column) else "us"


def fmt_value(column: str, value: float) -> str:
    """``1037230 us``, ``79.8312 infer/s``: plain digits, never scientific notation."""
    return f"{plain(value)} {unit_of(column)}"


def _signed(value: float) -> str:
    text = plain(value)
    return text if text.startswith("-") else "+" + text


def fmt_change(row: Row) -> str:
    pct = row.change_pct
    text = f"{pct:+.1f}%" if math.isfinite(pct) else ("+inf%" if pct > 0 else "-inf%")
    if row.check is not None and not row.check.relative:
        text += f" ({_signed(row.delta)} {unit_of(row.metric)})"
    return text


def fmt_significance(sig: Significance, column: str) -> str:
    """``95% bounds [-15.2%, -11.0%] (3v3 runs)`` (each a one-sided 95 % bound);
    ``n/a (1 vs 1 run)``; ``n/a (CSV)``."""
    if not sig.judged or sig.ci is None:
        return sig.reason
    lo, hi = sig.ci
    runs = f"({sig.samples[0]}v{sig.samples[1]} runs)"
    if sig.ci_relative:
        return f"{sig.confidence:.0%} bounds [{lo:+.1f}%, {hi:+.1f}%] {runs}"
    return f"{sig.confidence:.0%} bounds [{_signed(lo)}, {_signed(hi)}] {unit_of(column)} {runs}"


def row_cells(row: Row) -> list[str]:
    return [f"{row.level:g}", row.metric, fmt_value(row.metric, row.baseline),
            fmt_value(row.metric, row.current), fmt_change(row),
            row.check.threshold_text if row.check else "-",
            fmt_significance(row.significance, row.metric), row.verdict]


def summary_line(cmp: Comparison) -> str:
    """One line: RESULT: pass / REGRESSION / cannot compare, with counts."""
    if cmp.error:
        return f"RESULT: cannot compare: {cmp.error}"
    checked = [r for r in cmp.rows if r.check is not None]
    counts = {v: sum(r.verdict == v for r in checked) for v in (REGRESSION, IMPROVEMENT, NOISE, OK)}
    tail = (f"{len(checked)} checks at {len(cmp.matched)} load points: "
            f"{counts[REGRESSION]} regression(s), {counts[IMPROVEMENT]} improvement(s), "
            f"{counts[NOISE]} within noise, {counts[OK]} ok")
    if cmp.regressions:
        where = "; ".join(f"{r.metric} {fmt_change(r)} at {cmp.level_name} {r.level:g}"
                          for r in cmp.regressions)
        return f"RESULT: REGRESSION ({where}) — {tail}"
    return f"RESULT: pass, no regression — {tail}"


def warning_lines(cmp: Comparison) -> list[str]:
    lines = []
    if cmp.warnings:
        lines += ["WARNING: baseline and current were NOT measured under the same conditions;",
                  "WARNING: a change below may come from that and not from the code under test:",
                  *(f"  - {w}" for w in cmp.warnings)]
    if cmp.unstable:
        lines += ["WARNING: some compared load points did not stabilize:",
                  *(f"  - {w}" for w in cmp.unstable)]
    return lines


def console_text(cmp: Comparison) -> str:
    """The table printed by ``perfanalyzer compare`` (and after a ``--baseline`` profile)."""
    out = [f"perfanalyzer compare: baseline {cmp.baseline} vs current {cmp.current}"]
    if cmp.warnings or cmp.unstable:
        out += [RULE, *warning_lines(cmp), RULE]
    if cmp.rows:
        table = [[cmp.level_name, *HEADER], *(row_cells(r) for r in cmp.rows)]
        widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
        out.append("")
        for cells in table:
            out.append("  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip())
    if cmp.rows:
        out += ["", f"Method: {cmp.method}"]
    if cmp.notes:
        out += ["", "Notes:", *(f"  - {n}" for n in cmp.notes)]
    out += ["", summary_line(cmp)]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def markdown_text(cmp: Comparison) -> str:
    """A summary for CI job pages (GitHub step summary): verdict, warnings, table, notes."""
    icon, word = {"pass": ("✅", "no regression"), "regression": ("❌", "regression"),
                  "error": ("⚠️", "cannot compare")}[cmp.status]
    out = [f"### {icon} perfanalyzer compare: {word}", "",
           f"Baseline `{cmp.baseline}` vs current `{cmp.current}`.", ""]
    if cmp.warnings:
        out += ["> [!WARNING]", "> **Baseline and current were not measured under the same "
                "conditions**; a change below may come from that:",
                *(f"> - {_md(w)}" for w in cmp.warnings), ""]
    if cmp.unstable:
        out += ["> [!WARNING]", "> **Some compared load points did not stabilize**:",
                *(f"> - {_md(w)}" for w in cmp.unstable), ""]
    if cmp.rows:
        head = [cmp.level_name, *HEADER]
        out.append("| " + " | ".join(head) + " |")
        out.append("|" + "|".join(["---:", "---", "---:", "---:", "---:", "---:", "---", "---"]) + "|")
        for row in cmp.rows:
            cells = [_md(c) for c in row_cells(row)]
            if row.verdict == REGRESSION:
                cells[-1] = f"**{cells[-1]}**"
            out.append("| " + " | ".join(cells) + " |")
        out.append("")
        out.append(f"Method: {_md(cmp.method)}.")
        out.append("")
    out += [f"- {_md(n)}" for n in cmp.notes]
    out += ["", f"**{_md(summary_line(cmp))}**"]
    return "\n".join(out) + "\n"


def _num(x: float | None) -> float | None:
    return x if x is None or math.isfinite(x) else None


def _row_json(row: Row) -> dict[str, Any]:
    sig = row.significance
    ci_unit = "%" if sig.ci_relative else unit_of(row.metric)
    return {
        "level": row.level, "metric": row.metric, "baseline": row.baseline,
        "current": row.current, "change_pct": _num(row.change_pct), "delta": _num(row.delta),
        "check": row.check.spec if row.check else None,
        "threshold": row.check.threshold_text if row.check else None,
        "significance_judged": sig.judged, "significant": sig.significant if sig.judged else None,
        "ci": [_num(x) for x in sig.ci] if sig.ci else None,
        "ci_unit": ci_unit if sig.ci else None, "confidence": sig.confidence,
        "ci_two_sided_confidence": 2.0 * sig.confidence - 1.0 if sig.ci else None,
        "no_spread": [side for side, f in zip(("baseline", "current"), sig.flat, strict=True)
                      if f],
        "df": sig.df, "method": sig.method or None, "runs": list(sig.samples),
        "interval": fmt_significance(sig, row.metric), "verdict": row.verdict,
    }


def json_dict(cmp: Comparison) -> dict[str, Any]:
    """The machine-readable verdict (``--json FILE``); ``status`` is pass / regression / error."""
    checked = [r for r in cmp.rows if r.check is not None]
    return {
        "version": JSON_VERSION, "status": cmp.status, "exit_code": cmp.exit_code,
        "error": cmp.error or None, "baseline": cmp.baseline, "current": cmp.current,
        "level_name": cmp.level_name or None, "alpha": cmp.alpha,
        "confidence": 1.0 - cmp.alpha, "method": cmp.method if not cmp.error else None,
        "runs": {"baseline": cmp.runs[0], "current": cmp.runs[1]},
        "warnings": list(cmp.warnings), "unstable_points": list(cmp.unstable),
        "notes": list(cmp.notes),
        "matched": list(cmp.matched), "only_in_baseline": list(cmp.only_baseline),
        "only_in_current": list(cmp.only_current),
        "checks": [{"spec": c.spec, "metric": c.column, "fails_on": "rise" if c.sign > 0 else "drop",
                    "amount": c.amount, "unit": "%" if c.relative else unit_of(c.column)}
                   for c in cmp.checks],
        "counts": {v: sum(r.verdict == v for r in checked)
                   for v in (REGRESSION, IMPROVEMENT, NOISE, OK)},
        "rows": [_row_json(r) for r in cmp.rows],
        "summary": summary_line(cmp),
    }


def json_text(cmp: Comparison) -> str:
    return json.dumps(json_dict(cmp), indent=2, allow_nan=False) + "\n"


__all__ = ["console_text", "json_dict", "json_text", "markdown_text", "summary_line"]
