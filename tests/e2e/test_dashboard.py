"""The dashboard, driven like a user in Debian's headless Chromium through Playwright:
the demo flow run, its eight fit task runs and the Kendall tau artifact are visible."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.stack import FIT_NAMES

pytestmark = pytest.mark.slow
CHROMIUM = Path("/usr/bin/chromium")


def test_dashboard_shows_the_run_its_fits_and_the_tau_table(stack, demo_run, tmp_path):
    assert CHROMIUM.exists(), "install it: apt-get install -y chromium (make test does, as root)"
    from playwright.sync_api import sync_playwright

    _, run, _ = demo_run
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{stack.url}/runs")
            # The dashboard asks for the password: the line in $PREFECT_HOME/ufo-auth.
            page.locator("input[type=password]").fill(stack.auth_file.read_text().strip())
            page.keyboard.press("Enter")
            page.get_by_text(run.name).first.wait_for(timeout=30_000)
            page.screenshot(path=tmp_path / "runs.png")

            page.goto(f"{stack.url}/runs/flow-run/{run.id}")
            page.get_by_text(run.name).first.wait_for(timeout=30_000)
            page.get_by_text("Completed").first.wait_for(timeout=30_000)
            page.get_by_text("Task Runs", exact=True).first.click()
            page.get_by_placeholder("Search by run name").fill("fit-")
            for name in FIT_NAMES:
                page.get_by_text(name, exact=True).first.wait_for(timeout=20_000)
            page.screenshot(path=tmp_path / "fit-task-runs.png", full_page=True)

            page.get_by_text("Artifacts", exact=True).first.click()
            page.get_by_text("kendall-tau", exact=True).first.click()
            page.get_by_text("average", exact=True).first.wait_for(timeout=20_000)
            for name in ("cplfw", "vehicleid", "sop"):
                assert page.get_by_text(name, exact=True).count() >= 1
            page.screenshot(path=tmp_path / "kendall-tau.png", full_page=True)
        finally:
            browser.close()
    for shot in ("runs.png", "fit-task-runs.png", "kendall-tau.png"):
        assert (tmp_path / shot).stat().st_size > 10_000
