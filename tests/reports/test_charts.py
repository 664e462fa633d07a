"""SVG charts: accessible, escaped, whole-number ticks at small numbers."""

from catalyst_hub.reports.charts import bar_chart, line_chart, nice_ticks


def test_ticks_are_whole_numbers_for_small_counts():
    assert nice_ticks(0, 2) == [0, 1, 2]
    assert nice_ticks(0, 3) == [0, 1, 2, 3]
    assert nice_ticks(0, 34)[-1] >= 34
    assert all(float(t).is_integer() for t in nice_ticks(0, 34))
    assert nice_ticks(-1, 2)[0] == -1
    assert nice_ticks(0, 0) == [0, 1]


def test_line_chart_is_accessible_and_escaped():
    svg = str(
        line_chart(
            "c1",
            "Title <b>",
            "Desc & more",
            ["a<", "b"],
            [("<script>", [1, 2]), ("two", [0, 1])],
            "x",
            "y",
        )
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'role="img"' in svg and 'aria-labelledby="c1-title c1-desc"' in svg
    assert '<title id="c1-title">Title &lt;b&gt;</title>' in svg
    assert '<desc id="c1-desc">Desc &amp; more</desc>' in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<circle") == 4


def test_bar_chart_draws_negative_bars():
    svg = str(
        bar_chart("c2", "t", "d", ["w1", "w2"], [("new", [1, 2]), ("dormant", [0, -1])], "x", "y")
    )
    assert svg.count("</rect>") == 4  # bars carry a <title>; legend swatches do not
    assert 'data-series="dormant"' in svg
