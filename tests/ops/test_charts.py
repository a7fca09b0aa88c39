"""The dashboard's SVG charts: accessible (role, title, label), scaled to the page, every text escaped,
bars as tall as their values on a 1-2-5 axis."""

import re

import pytest

from ops.charts import Series, bar_chart, hbar_chart, line_chart, nice_top

pytestmark = pytest.mark.fast


@pytest.mark.parametrize(("peak", "top", "step"), [(0, 1.0, 0.25), (3, 3, 1), (0.012, 0.015, 0.005), (47, 60, 20), (100, 100, 25)])
def test_the_axis_top_is_a_round_step_at_or_above_the_peak(peak, top, step):
    assert nice_top(peak) == pytest.approx((top, step))


@pytest.mark.parametrize("draw", [bar_chart, line_chart, hbar_chart])
def test_a_chart_is_an_accessible_svg_that_escapes_every_name(draw):
    svg = draw(title="Spend <by> provider", labels=["a<b", "c"], series=[Series("<script>x</script>", [1, 2])], summary='"quoted"')

    assert svg.startswith('<svg class="ops-chart" viewBox="0 0 420 ')
    assert 'width="100%" role="img" aria-label="Spend &lt;by&gt; provider. &quot;quoted&quot;"' in svg
    assert "<title>Spend &lt;by&gt; provider</title>" in svg
    assert "<script>" not in svg
    assert "&lt;script&gt;x&lt;/script&gt;" in svg  # the legend


def test_stacked_bars_are_as_tall_as_their_values():
    svg = bar_chart(title="t", labels=["d1", "d2"], series=[Series("a", [1, 0]), Series("b", [3, 2])])
    heights = [float(h) for h in re.findall(r'<rect x="[\d.]+" y="[\d.]+" width="[\d.]+" height="([\d.]+)" fill', svg)]
    # The axis tops at 4 (the tallest stack): 190 units of plot, so 1 -> 47.5, 3 -> 142.5, 2 -> 95 (no bar for the 0).
    assert heights == [47.5, 142.5, 95.0]


def test_an_empty_chart_says_so():
    assert "Nothing in this range" in bar_chart(title="t", labels=["d1"], series=[])
    assert "Nothing in this range" in hbar_chart(title="t", labels=[], series=[])


def test_the_axis_has_no_tick_above_its_top():
    svg = bar_chart(title="t", labels=["d1"], series=[Series("a", [0.012])], unit="$")
    ticks = re.findall(r'text-anchor="end">([^<]+)<', svg)
    assert ticks == ["$0", "$0.005", "$0.01", "$0.015"]
