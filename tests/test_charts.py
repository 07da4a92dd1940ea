"""The SVG charts: well-formed, proportional, accessible, escaped; bad figures refused."""

import xml.etree.ElementTree as ET

import pytest

from hub.charts import PALETTE, bar_chart, grouped_bar_chart, line_chart

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def test_bars_are_proportional_and_the_figures_are_said_in_words():
    svg = bar_chart("Heures réalisées", [("Action A", 10), ("Action B", 5), ("Action C", None)],
                    chart_id="hours", unit=" h", fmt=lambda v: f"{v:g}".replace(".", ","))
    root = parse(svg)
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "hours-title hours-desc"
    assert root.find(f"{SVG}title").text == "Heures réalisées"
    assert root.find(f"{SVG}desc").text == "Action A: 10 h; Action B: 5 h; Action C: —"
    widths = [float(rect.get("width")) for rect in root.iter(f"{SVG}rect")]
    assert len(widths) == 2 and widths[0] == pytest.approx(2 * widths[1])
    assert "style" not in svg


def test_a_fixed_maximum_sets_the_scale():
    half = parse(bar_chart("Taux", [("x", 50)], chart_id="rate", maximum=100, width=480))
    (rect,) = half.iter(f"{SVG}rect")
    assert float(rect.get("width")) == pytest.approx((480 - 180 - 70) / 2)


def test_text_is_escaped():
    svg = bar_chart("<script>", [("a & <b>", 1)], chart_id="esc")
    root = parse(svg)
    assert root.find(f"{SVG}title").text == "<script>"
    assert "<script>" not in svg


def test_grouped_bars_one_colour_per_series_with_a_legend():
    root = parse(grouped_bar_chart("Réalisé / prévu", ["A", "B"], [("Réalisé", [7, 3.5]), ("Prévu", [14, 14])],
                                   chart_id="rp"))
    fills = [rect.get("fill") for rect in root.iter(f"{SVG}rect")]
    assert fills == [PALETTE[0], PALETTE[1], PALETTE[0], PALETTE[1], PALETTE[0], PALETTE[1]]  # legend, then bars
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "Réalisé" in texts and "Prévu" in texts
    assert root.find(f"{SVG}desc").text == "A: Réalisé 7, Prévu 14; B: Réalisé 3.5, Prévu 14"


def test_a_line_breaks_where_a_value_is_missing():
    root = parse(line_chart("Assiduité", ["S1", "S2", "S3", "S4", "S5"], [("Taux", [90, 80, None, 70, 60])],
                            chart_id="trend", maximum=100))
    lines = list(root.iter(f"{SVG}polyline"))
    assert [len(p.get("points").split()) for p in lines] == [2, 2]
    assert len(list(root.iter(f"{SVG}circle"))) == 4


@pytest.mark.parametrize("bad", [-1, float("nan"), float("inf"), "3", True])
def test_bad_figures_are_refused_with_their_position(bad):
    with pytest.raises(ValueError, match=r"bars\[1\]"):
        bar_chart("t", [("a", 1), ("b", bad)], chart_id="bad")


def test_series_of_the_wrong_length_and_bad_ids_are_refused():
    with pytest.raises(ValueError, match="series 'x' has 1 values for 2 categories"):
        grouped_bar_chart("t", ["a", "b"], [("x", [1])], chart_id="g")
    with pytest.raises(ValueError, match="chart_id"):
        bar_chart("t", [("a", 1)], chart_id='x" onload="alert(1)')


def test_empty_charts_still_render():
    assert parse(bar_chart("t", [], chart_id="e")).find(f"{SVG}desc").text == "—"
    assert parse(line_chart("t", [], [], chart_id="l")) is not None
