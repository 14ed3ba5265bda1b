"""The planner's page in a real browser (Debian's Chromium via Playwright) against a real server.

Upload the bundled Iowa example through the page's file input, solve it twice (heuristic,
2 s, two seeds), see 4 territory colors on the map and 4 KPI rows, compare the two runs
with the moved units outlined, download a plan; then the keyboard-only flow: sign in, start
a run with Enter, cancel it from the keyboard and keep its best plan.
Screenshots go to tests/web/artifacts/.
"""

from __future__ import annotations

import json

from tests.instances import EXAMPLE
from tests.web.browser import require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.web.page import FILLS, SOLVE_TIMEOUT_MS, sign_in, solve  # noqa: E402


def test_upload_solve_map_compare_download(page: Page, web_server, artifacts):
    sign_in(page, web_server.url, web_server.key)
    page.set_input_files("#json-file", str(EXAMPLE))
    page.click("#upload-json")
    expect(page.locator("#upload-status")).to_contain_text("99 units")
    expect(page.locator("#scenario-select option:checked")).to_contain_text("Iowa counties")
    expect(page.locator("#k")).to_have_value("4")
    expect(page.locator("#tol-workload")).to_have_value("5")

    solve(page, seed=1)
    expect(page.locator("path.unit-marker")).to_have_count(99)
    fills = page.eval_on_selector_all("path.unit-marker", FILLS)
    assert len(fills) == 4, fills
    rows = page.locator("#kpi-table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.first.locator("th")).to_contain_text("T")
    expect(page.locator("#kpi-table .devbar")).to_have_count(8)  # workload and potential per territory
    box = page.locator("#map").bounding_box()
    assert box["width"] > 700 and box["height"] > 300, box  # readable at 1280x800
    page.locator("path.unit-marker").nth(0).hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text("Territory T")
    page.screenshot(path=str(artifacts / "map_after_solve.png"))

    solve(page, seed=2)
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    expect(page.locator("#compare-button")).to_be_enabled()
    page.click("#compare-button")
    expect(page.locator("#compare-panel")).to_be_visible()
    moved_rows = page.locator("#moved-units tbody tr[data-unit]").count()
    with web_server.client() as client:
        runs = client.get("/runs").json()["data"]
        expected = client.post("/compare", json={"run_ids": [runs[1]["id"], runs[0]["id"]]}).json()["diffs"][0]["moved_units"]
    assert moved_rows == expected
    expect(page.locator("path.unit-marker.moved")).to_have_count(expected)
    assert expected > 0, "two seeds gave the same plan: nothing to highlight"
    expect(page.locator("#view-title")).to_contain_text(f"{expected} units move")
    expect(page.locator("#compare-kpis tbody tr").first).to_be_visible()
    expect(page.locator("#compare-territories tbody tr")).to_have_count(4)
    page.locator("path.unit-marker.moved").first.hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text("moves T")
    page.screenshot(path=str(artifacts / "comparison.png"))

    with page.expect_download() as download:
        page.locator("#downloads button", has_text="CSV").last.click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".csv")
    lines = open(path).read().splitlines()
    assert lines[0].startswith("id,") and len(lines) == 100
    with page.expect_download() as download:
        page.locator("#downloads button", has_text="GeoJSON").last.click()
    assert len(json.loads(open(download.value.path()).read())["features"]) == 99


def test_upload_errors_are_shown_next_to_the_field(page: Page, web_server, tmp_path):
    sign_in(page, web_server.url, web_server.key)
    bad = json.loads(EXAMPLE.read_text())
    bad["units"][2]["lat"] = 123.0
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(bad))
    page.set_input_files("#json-file", str(path))
    page.click("#upload-json")
    error = page.locator("#json-file-error")
    expect(error).to_contain_text(f"units[2] (id '{bad['units'][2]['id']}').lat")
    expect(page.locator("#json-file")).to_have_attribute("aria-invalid", "true")

    units = tmp_path / "units.csv"
    units.write_text("id,lat,lon,workload\na,41.0,-93.0,1\nb,41.1,-93.1,lots\nc,41.2,-93.2,1\n")
    page.set_input_files("#units-file", str(units))
    page.fill("#csv-k", "2")
    page.click("#upload-csv")
    expect(page.locator("#units-file-error")).to_contain_text("units.csv line 3 (id 'b').workload: 'lots' is not a number")
    expect(page.locator("#units-file")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#json-file-error")).to_be_empty()


def focused(page: Page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def tab_to(page: Page, target: str, limit: int = 30) -> list[str]:
    """Press Tab until `target` has focus; the ids passed on the way."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        seen.append(focused(page))
        if seen[-1] == target:
            return seen
    raise AssertionError(f"never reached #{target} with Tab: {seen}")


def test_keyboard_only_sign_in_start_and_cancel(page: Page, web_server, artifacts):
    with web_server.client() as client:
        scenario = json.loads(EXAMPLE.read_text())
        scenario["name"] = "Iowa, keyboard"
        assert client.post("/scenarios", json=scenario).status_code == 201
    page.goto(web_server.url)
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#api-key")).to_be_focused()  # the page opens ready to type the key
    page.keyboard.type(web_server.key)
    page.keyboard.press("Enter")
    expect(page.locator("#workspace")).to_be_visible()
    expect(page.locator("#scenario-select")).to_be_focused()
    expect(page.locator("#scenario-select option:checked")).to_contain_text("Iowa, keyboard")

    order = tab_to(page, "method")
    assert order[order.index("k"):] == ["k", "bal-workload", "tol-workload", "bal-potential", "tol-potential",
                                        "contiguity", "method"], order
    page.keyboard.press("h")  # a focused <select> picks the option starting with the typed letter
    expect(page.locator("#method")).to_have_value("heuristic")
    tab_to(page, "time-limit", limit=1)
    page.keyboard.press("Control+A")
    page.keyboard.type("20")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none"), "no visible focus"
    page.keyboard.press("Enter")  # Enter in a field submits the run form
    expect(page.locator("#progress-state")).to_have_attribute("data-state", "running", timeout=SOLVE_TIMEOUT_MS)
    expect(page.locator("#progress-objective")).not_to_have_text("–", timeout=SOLVE_TIMEOUT_MS)
    expect(page.locator("#progress-elapsed")).not_to_have_text("–")
    page.screenshot(path=str(artifacts / "live_progress.png"))
    assert tab_to(page, "cancel-run", limit=3)[-2:] == ["start-run", "cancel-run"]
    page.keyboard.press("Enter")
    expect(page.locator("#progress-state")).to_have_attribute("data-state", "cancelled", timeout=SOLVE_TIMEOUT_MS)
    expect(page.locator("#progress-state")).to_contain_text("kept the best plan")
    expect(page.locator("#kpi-table tbody tr")).to_have_count(4)
    assert len(page.eval_on_selector_all("path.unit-marker", FILLS)) == 4
    page.reload()  # the key is kept for the tab's session
    expect(page.locator("#workspace")).to_be_visible()
    expect(page.locator("#login-form")).to_be_hidden()


def test_rules_errors_by_field_and_saved_as_a_new_version(page: Page, web_server):
    with web_server.client() as client:
        scenario = json.loads(EXAMPLE.read_text())
        scenario["name"] = "Iowa, rules"
        assert client.post("/scenarios", json=scenario).status_code == 201
    sign_in(page, web_server.url, web_server.key)
    page.select_option("#scenario-select", label="Iowa, rules (v1, 99 units, k=4)")
    expect(page.locator("#view-title")).to_have_text("Iowa, rules: 99 units (not solved yet)")
    page.fill("#k", "1000")
    page.click("#start-run")
    expect(page.locator("#k-error")).to_contain_text("territories: 1000 territories but only 99 units")
    expect(page.locator("#k")).to_be_focused()
    page.fill("#k", "4")
    page.fill("#tol-workload", "2000")
    page.click("#start-run")
    expect(page.locator("#tol-workload-error")).to_contain_text("balance[0].tolerance")
    expect(page.locator("#k-error")).to_be_empty()

    page.fill("#tol-workload", "8")
    solve(page, seed=3, time_limit_s=1)
    expect(page.locator("#scenario-info")).to_contain_text("version 2")
    expect(page.locator("#runs-table tbody tr").first).to_contain_text("v2")
    expect(page.locator("#kpi-table thead")).to_contain_text("workload deviation (±8 %)")
    with web_server.client() as client:
        sid = next(s["id"] for s in client.get("/scenarios").json()["data"] if s["name"] == "Iowa, rules")
        saved = client.get(f"/scenarios/{sid}").json()
    assert saved["version"] == 2
    assert saved["scenario"]["balance"] == [{"measure": "workload", "tolerance": 0.08},
                                            {"measure": "potential", "tolerance": 0.1}]


def test_rep_homes_are_marked(page: Page, web_server, artifacts):
    scenario = json.loads(EXAMPLE.read_text())
    scenario["name"] = "Iowa, reps"
    scenario["reps"] = [{"id": "r-nw", "lat": 42.9, "lon": -95.4}, {"id": "r-ne", "lat": 42.9, "lon": -92.0},
                        {"id": "r-sw", "lat": 41.1, "lon": -94.9}, {"id": "r-se", "lat": 41.2, "lon": -91.8}]
    with web_server.client() as client:
        assert client.post("/scenarios", json=scenario).status_code == 201
    sign_in(page, web_server.url, web_server.key)
    page.select_option("#scenario-select", label="Iowa, reps (v1, 99 units, k=4)")
    expect(page.locator("#view-title")).to_have_text("Iowa, reps: 99 units (not solved yet)")
    expect(page.locator(".rep-home")).to_have_count(4)
    solve(page, seed=0, time_limit_s=1)
    expect(page.locator(".rep-home")).to_have_count(4)
    expect(page.locator("#kpi-table thead")).to_contain_text("Rep")
    reps = page.locator("#kpi-table tbody tr td:nth-of-type(1)").all_inner_texts()
    assert sorted(reps) == ["r-ne", "r-nw", "r-se", "r-sw"], reps
    page.locator(".rep-home").first.hover()
    expect(page.locator(".leaflet-tooltip")).to_contain_text("Home of rep")
    page.screenshot(path=str(artifacts / "reps.png"))
    # the keyboard reaches rep homes through the unit picker: focus it, pick with the keyboard
    page.mouse.move(0, 0)
    page.locator("#unit-select").focus()
    page.keyboard.press("End")
    expect(page.locator("#unit-select")).to_have_value("rep:r-se")
    expect(page.locator(".leaflet-tooltip.unit-tip")).to_contain_text("Home of rep r-se")
    expect(page.locator("#unit-details")).to_contain_text("Home of rep r-se, territory T")
