"""The planner's main flow with the keyboard only (page.keyboard: Tab, Enter, Space, arrows, typing;
no clicks): sign in, upload the Iowa example through the file input, set the rules and the solver,
start a run and watch its progress, read the KPI table, go through units on the map, run again,
compare the two runs, step through the moved units, download a plan.

Also checks the progress panel: the elapsed time never goes back during a run, and the finished
state shows the run's own objective, bound and gap.
"""

from __future__ import annotations

import json
import re

from tests.instances import EXAMPLE
from tests.web.browser import require_browser

require_browser()

from playwright.sync_api import Page, expect  # noqa: E402

from tests.web.page import FILLS, SOLVE_TIMEOUT_MS  # noqa: E402

ACTIVE = "document.activeElement"


def tab_until(page: Page, predicate: str, *, back: bool = False, limit: int = 80) -> None:
    """Press Tab (Shift+Tab when `back`) until the JS `predicate` of the focused element `el` holds."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if page.evaluate(f"(el => !!({predicate}))({ACTIVE})"):
            return
        seen.append(page.evaluate(f"{ACTIVE}.id || {ACTIVE}.tagName + '.' + {ACTIVE}.className"))
    raise AssertionError(f"focus never matched {predicate!r}: {seen}")


def tab_to(page: Page, element_id: str, **kw) -> None:
    tab_until(page, f"el.id === {element_id!r}", **kw)


def retype(page: Page, text: str) -> None:
    page.keyboard.press("Control+A")
    page.keyboard.type(text)


def focus_is_visible(page: Page) -> bool:
    style = page.evaluate(f"(s => [s.outlineStyle, s.outlineWidth])(getComputedStyle({ACTIVE}))")
    return style[0] not in ("", "none") and style[1] != "0px"


def watch_progress(page: Page) -> None:
    """Record every text the elapsed field shows, with the run state at that moment."""
    page.evaluate("""() => {
        window.__elapsed = [];
        const dd = document.getElementById('progress-elapsed');
        const state = document.getElementById('progress-state');
        new MutationObserver(() => window.__elapsed.push([state.textContent.slice(4, 12), state.dataset.state, dd.textContent]))
            .observe(dd, {childList: true, characterData: true, subtree: true});
    }""")


def elapsed_seen(page: Page, run_prefix: str) -> list[tuple[str, float]]:
    rows = page.evaluate("window.__elapsed")
    return [(state, float(text.split()[0])) for run, state, text in rows if run == run_prefix and text != "–"]


def number(value: float) -> str:
    """As the page writes it (Intl.NumberFormat en-US, at most one decimal)."""
    text = f"{value:,.1f}"
    return text[:-2] if text.endswith(".0") else text


def wait_finished(page: Page) -> str:
    expect(page.locator("#progress-state")).to_have_attribute("data-state", "finished", timeout=SOLVE_TIMEOUT_MS)
    expect(page.locator("#view-title")).to_contain_text("Plan of run")
    return re.search(r"Run (\w{8})", page.locator("#progress-state").inner_text()).group(1)


def test_main_flow_with_the_keyboard_only(page: Page, web_server, artifacts):
    choosers = []
    page.on("filechooser", lambda chooser: choosers.append(chooser))  # intercepts file dialogs from the start (no race with the key press)
    page.goto(web_server.url)
    page.wait_for_selector("body[data-ready=true]")
    expect(page.locator("#api-key")).to_be_focused()
    page.keyboard.type(web_server.key)
    page.keyboard.press("Enter")
    expect(page.locator("#scenario-select")).to_be_focused()

    # Upload: the link jumps to the upload form; Space on the file input opens the file chooser.
    tab_to(page, "goto-upload")
    page.keyboard.press("Enter")
    expect(page.locator("#upload-heading")).to_be_focused()
    tab_to(page, "json-file", limit=1)
    page.keyboard.press("Space")
    for _ in range(50):
        if choosers:
            break
        page.wait_for_timeout(100)
    assert len(choosers) == 1, "Space on the file input opened no file chooser"
    choosers[0].set_files(str(EXAMPLE))
    tab_to(page, "upload-json", limit=1)
    page.keyboard.press("Enter")
    expect(page.locator("#upload-status")).to_contain_text("99 units")
    expect(page.locator("#scenario-select")).to_be_focused()  # back to the top: rules and Start run are next
    expect(page.locator("#scenario-select option:checked")).to_contain_text("Iowa counties")

    # Rules and solver options, then Enter starts the run.
    tab_to(page, "tol-workload")
    retype(page, "6")
    tab_to(page, "method")
    page.keyboard.press("a")  # auto: exact with a heuristic warm start, so there is a bound and a gap
    expect(page.locator("#method")).to_have_value("auto")
    tab_to(page, "time-limit", limit=1)
    retype(page, "4")
    assert focus_is_visible(page)
    tab_to(page, "seed", limit=1)
    retype(page, "1")
    watch_progress(page)
    page.keyboard.press("Enter")
    expect(page.locator("#progress-state")).to_have_attribute("data-state", "running", timeout=SOLVE_TIMEOUT_MS)
    first = wait_finished(page)

    with web_server.client() as client:
        runs = client.get("/runs").json()["data"]
        run = next(r for r in runs if r["id"].startswith(first))
    assert run["method"] == "auto" and run["time_limit_s"] == 4 and run["seed"] == 1
    seen = elapsed_seen(page, first)
    assert any(state == "running" for state, _ in seen), seen
    values = [v for _, v in seen]
    assert values == sorted(values), f"elapsed went back: {seen}"
    assert seen[-1][0] == "finished" and seen[-1][1] >= run["elapsed_s"] - 0.05, (seen, run)
    assert seen[-1][1] > 0
    expect(page.locator("#progress-objective")).to_have_text(number(run["objective"]))
    assert run["bound"] is not None and run["gap"] is not None, run
    expect(page.locator("#progress-bound")).to_have_text(number(run["bound"]))
    expect(page.locator("#progress-gap")).to_have_text(f"{run['gap'] * 100:.2f} %")
    expect(page.locator("#kpi-table thead")).to_contain_text("workload deviation (±6 %)")
    page.screenshot(path=str(artifacts / "keyboard_after_run.png"))

    # Units on the map: the picker outlines the unit and shows its tooltip; KPI rows highlight a territory.
    tab_to(page, "unit-select")
    assert focus_is_visible(page)
    page.keyboard.press("ArrowDown")
    tip = page.locator(".leaflet-tooltip")
    expect(tip).to_contain_text("Territory T")
    expect(tip).to_contain_text("workload")
    expect(page.locator("#unit-details")).to_contain_text("Territory T")
    page.keyboard.type("Polk")  # typing jumps to the unit by name
    expect(tip).to_contain_text("Polk")
    expect(page.locator("path.unit-marker[stroke='#f0a500']")).to_have_count(1)
    tab_until(page, "el.closest('#kpi-table tbody tr')")
    assert focus_is_visible(page)
    faded = page.eval_on_selector_all("path.unit-marker", "els => els.filter(e => e.getAttribute('fill-opacity') === '0.12').length")
    assert 0 < faded < 99

    # A second run with another seed (back up with Shift+Tab), then compare the two.
    tab_to(page, "seed", back=True)
    retype(page, "2")
    tab_until(page, "el.id === 'method'", back=True)
    page.keyboard.press("h")
    expect(page.locator("#method")).to_have_value("heuristic")
    tab_to(page, "time-limit", limit=1)
    page.keyboard.press("Enter")  # Enter in a text field submits the form (on a <select> it does not)
    expect(page.locator("#progress-state")).not_to_contain_text(first)
    second = wait_finished(page)
    assert second != first
    tab_to(page, "compare-base")
    expect(page.locator("#compare-base option:checked")).to_contain_text(first)
    tab_to(page, "compare-button")
    assert focus_is_visible(page)
    page.keyboard.press("Enter")
    expect(page.locator("#compare-panel")).to_be_visible()
    moved = page.locator("#moved-units tbody tr[data-unit]")
    assert moved.count() > 1
    expect(page.locator("path.unit-marker.moved")).to_have_count(moved.count())

    tab_until(page, "el.matches('#moved-units tr[data-unit]')")
    expect(moved.nth(0)).to_be_focused()
    expect(tip).to_contain_text("moves T")
    page.keyboard.press("ArrowDown")
    expect(moved.nth(1)).to_be_focused()
    name = moved.nth(1).locator("th").inner_text()
    expect(tip).to_contain_text(name)
    page.screenshot(path=str(artifacts / "keyboard_compare.png"))

    # Download the second run's GeoJSON from the keyboard.
    tab_until(page, f"el.matches('#downloads button') && el.getAttribute('aria-label').includes('{second}') && el.textContent === 'GeoJSON'",
              back=True)
    assert focus_is_visible(page)
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert download.value.suggested_filename == f"plan-{second}.geojson"
    assert len(json.loads(open(download.value.path()).read())["features"]) == 99
    assert len(page.eval_on_selector_all("path.unit-marker", FILLS)) >= 4
