"""The insights page in a real browser (Debian's chromium, as tests/web/test_browser.py): a manager
signs in, reads the tables and their charts, filters by a period, and the page has no serious or
critical accessibility violation (axe-core); screenshotted in the test's folder."""

from __future__ import annotations

from tests.web.conftest import ACTION
from tests.web.test_browser import Page, browser, pytestmark  # noqa: F401  (the fixture and the skip)


async def test_a_manager_reads_what_the_journeys_teach(site, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/manager/insights")
    await page.sign_in(site, "manager", "/app/manager/insights")
    assert "mod-state" in await page.text('table[data-table="modules"]')
    assert "quiz-mod-react" in await page.text('table[data-table="stops"]')
    charts = await page(browser.find_elements, By.CSS_SELECTOR, "figure.chart svg[role=img]")
    assert len(charts) == 6
    assert await page.accessibility_problems() == []
    await page.screenshot("manager-insights")

    # the date picker's typing order follows the browser's locale: set its value as the picker does
    await page(browser.execute_script, "document.getElementById('insights-from').value = '2026-12-01'")
    await page.click("insights-apply")
    await page.wait_for(lambda: "from=2026-12-01" in browser.current_url)
    assert "0 inscriptions" in await page.text("#insights-count")
    assert f"action={ACTION}" not in browser.current_url  # every action of the scope
    assert await page.accessibility_problems() == []
