from ffwd.adapters.report.page import render
from ffwd.adapters.report.quality import compare_table, summarize
from tests.unit.report.tables import original, shuffled

COLUMNS = ["id", "segment", "age", "income", "joined", "bio"]


def page(edit=lambda rows: rows, name="demo"):
    ours = edit(original(100))
    report = summarize(name, {"people": compare_table(COLUMNS, ours, shuffled(ours), ["bio"])})
    return report, render(report)


def test_the_page_shows_the_overall_accuracy():
    report, html = page()
    assert f"{report['accuracy']:.1%}" in html
    assert "Overall accuracy" in html


def test_values_from_data_are_escaped():
    def hostile(rows):
        return [{**r, "bio": "<script>alert(1)</script> is nice", "segment": "<b>&"} for r in rows]

    _, html = page(hostile, name="<img src=x onerror=alert(1)>")
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>&" not in html and "&lt;b&gt;&amp;" in html
    assert "<img" not in html


def test_the_page_needs_nothing_from_outside():
    _, html = page()
    assert "<script" not in html and "<link" not in html and " src=" not in html
    assert html.count("<svg") >= 5
