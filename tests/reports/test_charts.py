"""SVG charts: accessible, escaped, whole-number ticks at small numbers."""

from itertools import pairwise

from catalyst_hub.reports.charts import (
    CHAR_WIDTH,
    LABEL_GAP,
    bar_chart,
    line_chart,
    nice_ticks,
    x_labels,
)


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


def _spans(labels, plot_width=640 - 56 - 16):
    """The estimated horizontal extent of each x label drawn (centred on its slot)."""
    slot = plot_width / len(labels)
    return [
        (
            (i + 0.5) * slot - len(text) * CHAR_WIDTH / 2,
            (i + 0.5) * slot + len(text) * CHAR_WIDTH / 2,
        )
        for i, text in x_labels(labels, plot_width)
    ]


def test_x_labels_never_overlap_and_keep_the_last_day():
    for n in range(1, 400):
        labels = [f"{1 + i // 28:02d}-{1 + i % 28:02d}" for i in range(n)]
        shown = x_labels(labels, 568)
        assert shown[-1] == (n - 1, labels[-1])
        spans = _spans(labels)
        assert all(a[1] + LABEL_GAP <= b[0] + 1e-6 for a, b in pairwise(spans)), n
    # 30 days: not "12-0112-02" any more, and a fair number of them
    assert 5 <= len(x_labels([f"12-{d:02d}" for d in range(1, 31)], 568)) <= 15


def test_few_categories_are_all_shown_and_shortened_to_fit():
    steps = ["login", "start_server", "open_environment", "upload_file", "run_code"]
    steps += ["use_git", "save_work", "stop_server"]
    shown = x_labels(steps, 568)
    assert [i for i, _ in shown] == list(range(8))
    assert shown[0] == (0, "login")
    assert shown[2][1].endswith("…") and len(shown[2][1]) < len("open_environment")
    spans = _spans(steps)
    assert all(a[1] + LABEL_GAP <= b[0] + 1e-6 for a, b in pairwise(spans))
    svg = str(bar_chart("c3", "t", "d", steps, [("n", list(range(8)))], "x", "y"))
    assert "open_environment" in svg  # in the bar's title, whole
