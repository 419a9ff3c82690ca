"""A markdown summary as a self-contained page (the search's summary.html): the subset the
summaries use becomes HTML, everything else stays escaped text, figures are inline."""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure

from perfanalyzer.report.html.markdown_page import markdown_html, markdown_page
from perfanalyzer.search.report import write_report
from perfanalyzer.search.runner import SearchConfig, SearchOutcome
from perfanalyzer.search.space import Candidate
from perfanalyzer.search.store import CandidateResult, PointFigures, Store
from tests.support.html_checks import figures, self_contained_problems


def test_markdown_subset_becomes_html_and_the_rest_is_escaped() -> None:
    html = str(markdown_html("# Title `x`\n\n- one **two**\n- <b>three</b>\n\n"
                             "| a | b \\| c |\n|---|---:|\n| `k` | 1 |\n\nplain <script>x</script>"))
    assert "<h1>Title <code>x</code></h1>" in html
    assert "<li>one <strong>two</strong></li><li>&lt;b&gt;three&lt;/b&gt;</li>" in html
    assert "<th>a</th><th>b | c</th>" in html and "<td><code>k</code></td><td>1</td>" in html
    assert "---" not in html  # the separator row is not a body row
    assert "<p>plain &lt;script&gt;x&lt;/script&gt;</p>" in html


def _pt(level: float, throughput: float, latency_ms: float) -> PointFigures:
    return PointFigures(level=level, throughput=throughput, latency_ms=latency_ms, stable=True)


def test_search_report_writes_summary_html_with_the_pareto_figure(tmp_path: Path) -> None:
    default = Candidate(instance_count=1, max_batch_size=0, dynamic_batching=False)
    other = Candidate(instance_count=2, max_batch_size=0, dynamic_batching=False)
    results = [CandidateResult(candidate=c, points=pts, score=pts[-1].throughput, best=pts[-1])
               for c, pts in ((default, (_pt(1, 100.0, 2.0),
                                         _pt(2, 150.0, 3.0))),
                              (other, (_pt(1, 120.0, 1.5),
                                       _pt(2, 210.0, 2.5))))]
    outcome = SearchOutcome(original={"name": "m"}, default=default, results=results)
    Store(tmp_path).open({"model": "m"})  # the search's settings file, as a search starts it
    written = write_report(SearchConfig(output_dir=str(tmp_path)), outcome, "Concurrency", "m")
    page = tmp_path / "summary.html"
    assert page in written
    text = page.read_text(encoding="utf-8")
    assert self_contained_problems(text) == []
    assert "<h1>Configuration search: m</h1>" in text
    assert f"<code>{other.key}</code>" in text  # the ranked table, as in summary.md
    assert [n for n, _ in figures(text)] == [
        "Throughput vs latency of every measured point; black: the Pareto front"]


def test_markdown_page_inlines_each_figure() -> None:
    fig = Figure()
    fig.add_subplot().plot([0, 1], [1, 0])
    text = markdown_page("T", "text", [(fig, "a line")])
    assert self_contained_problems(text) == [] and [n for n, _ in figures(text)] == ["a line"]
