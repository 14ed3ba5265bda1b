"""Steps the page tests share (a helper module, not a test module): sign in, solve. Import it
after `tests.web.browser.require_browser()`: it needs Playwright."""

from __future__ import annotations

from playwright.sync_api import Page, expect

SOLVE_TIMEOUT_MS = 45_000
# The distinct fill colors of the elements (for page.eval_on_selector_all).
FILLS = "els => [...new Set(els.map(e => e.getAttribute('fill')))]"


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready=true]")
    page.fill("#api-key", key)
    page.click("#login-button")
    expect(page.locator("#workspace")).to_be_visible(timeout=15_000)


def solve(page: Page, *, seed: int, time_limit_s: float = 2) -> None:
    page.select_option("#method", "heuristic")
    page.fill("#time-limit", str(time_limit_s))
    page.fill("#seed", str(seed))
    page.click("#start-run")
    expect(page.locator("#progress-state")).to_have_attribute("data-state", "finished", timeout=SOLVE_TIMEOUT_MS)
    expect(page.locator("#view-title")).to_contain_text("Plan of run")
