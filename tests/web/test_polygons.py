"""Units with polygon geometry on the map: filled with their territory's color, territories outlined,
centers dotted, moved units hatched in a comparison; hover and the unit picker show a unit's measures.

The scenario is a made-up jittered grid of quadrilateral cells (tests/instances/polygons.py), not real
boundaries. Screenshots at 1280x800 go to tests/web/artifacts/.
"""

from __future__ import annotations

from tests.instances import polygon_grid
from tests.web.browser import require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.web.page import FILLS, sign_in, solve  # noqa: E402

ROWS, COLS, K = 8, 12, 5


def test_polygons_colored_by_territory_outlined_and_compared(page: Page, web_server, artifacts):
    scenario = polygon_grid(ROWS, COLS, K, balance=[{"measure": "workload", "tolerance": 0.1}])
    scenario["name"] = "Polygon grid"
    with web_server.client() as client:
        assert client.post("/scenarios", json=scenario).status_code == 201
    sign_in(page, web_server.url, web_server.key)
    page.select_option("#scenario-select", label=f"Polygon grid (v1, {ROWS * COLS} units, k={K})")
    shapes = page.locator("path.unit-shape")
    expect(shapes).to_have_count(ROWS * COLS)  # before solving: the areas, in one neutral color
    assert page.eval_on_selector_all("path.unit-shape", FILLS) == ["#8a8f98"]

    # seeds 3 and 4 converge within the limit, to different plans: something to compare (two
    # seeds cut short by the clock can end on the same plan)
    solve(page, seed=3, time_limit_s=10)
    expect(shapes).to_have_count(ROWS * COLS)
    expect(page.locator("path.unit-marker:not(.unit-shape)")).to_have_count(0)  # no points on top of the areas
    fills = page.eval_on_selector_all("path.unit-shape", FILLS)
    assert len(fills) == K, fills
    # polygons are areas, not dots: together they cover a good part of the map
    box = page.locator("#map").bounding_box()
    area = page.eval_on_selector_all("path.unit-shape", "els => els.reduce((s, e) => { const b = e.getBBox(); return s + b.width * b.height; }, 0)")
    assert area > 0.25 * box["width"] * box["height"], (area, box)
    expect(page.locator("path.territory-border")).to_have_count(K)
    expect(page.locator("path.center-dot")).to_have_count(K)
    shapes.nth(ROWS * COLS // 2).hover()
    tip = page.locator(".leaflet-tooltip")
    expect(tip).to_contain_text("Territory T")
    expect(tip).to_contain_text("workload")

    # Focusing a KPI row fades the other territories
    page.locator("#kpi-table tbody tr").first.focus()
    faded = page.eval_on_selector_all("path.unit-shape", "els => els.filter(e => e.getAttribute('fill-opacity') === '0.12').length")
    in_first = page.eval_on_selector("#kpi-table tbody tr td.num", "td => +td.textContent")
    assert faded == ROWS * COLS - in_first, (faded, in_first)
    page.locator("#kpi-table tbody tr").first.blur()

    page.focus("#unit-select")
    page.keyboard.press("ArrowDown")
    expect(tip).to_contain_text("Cell 0-0")
    expect(page.locator("#unit-details")).to_contain_text("Territory T")
    outlined = page.locator("path.unit-shape[stroke='#f0a500']")
    expect(outlined).to_have_count(1)
    page.screenshot(path=str(artifacts / "polygons_plan.png"))

    solve(page, seed=4, time_limit_s=10)
    page.click("#compare-button")
    expect(page.locator("#compare-panel")).to_be_visible()
    moved = page.locator("#moved-units tbody tr[data-unit]").count()
    assert moved > 0, "two seeds gave the same plan: nothing to highlight"
    expect(page.locator("path.unit-shape.moved")).to_have_count(moved)
    expect(page.locator("path.moved-hatch")).to_have_count(moved)
    assert page.locator("#moved-hatch").count() == 1  # the hatch pattern the overlays fill with
    expect(page.locator("#view-summary")).to_contain_text("hatched")
    page.screenshot(path=str(artifacts / "polygons_compare.png"))


def test_rep_homes_over_polygons(page: Page, web_server, artifacts):
    scenario = polygon_grid(ROWS, COLS, 3, balance=[{"measure": "workload", "tolerance": 0.15}])
    scenario["name"] = "Polygon grid, reps"
    corners = [(0.2, 0.2), (0.8, 0.5), (0.3, 0.85)]  # fractions of the grid's extent (lon, lat)
    scenario["reps"] = [{"id": f"rep-{i + 1}", "lat": 41.0 + f_lat * ROWS * 0.25, "lon": -94.0 + f_lon * COLS * 0.25}
                        for i, (f_lon, f_lat) in enumerate(corners)]
    with web_server.client() as client:
        assert client.post("/scenarios", json=scenario).status_code == 201
    sign_in(page, web_server.url, web_server.key)
    page.select_option("#scenario-select", label=f"Polygon grid, reps (v1, {ROWS * COLS} units, k=3)")
    solve(page, seed=0, time_limit_s=2)
    expect(page.locator(".rep-home")).to_have_count(3)
    assert len(page.eval_on_selector_all("path.unit-shape", FILLS)) == 3
    expect(page.locator("path.territory-border")).to_have_count(3)
    page.locator(".rep-home").first.hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text("Home of rep")
    page.screenshot(path=str(artifacts / "polygons_reps.png"))
