"""The follow-up of dropout alerts in a real browser (the chromium of tests/web/test_browser.py): a
trainer opens the follow-up page, sees who is drifting and why, records a follow-up with the form
and finds it listed under the alert; the week's chart on the today page; a manager's charts and
the same section on the action page; a manager records the follow-up of a dropout-risk flag from the
action page. Each page is checked with axe-core and screenshotted."""

from __future__ import annotations

from tests.web import test_browser as in_browser
from tests.web.conftest import ACTION, events_of
from tests.web.test_risk_list import flag_nina
from tests.web.test_trainer_alerts import raise_alert, start_inès

pytestmark = in_browser.pytestmark
browser = in_browser.browser  # the fixture: Debian's chromium, headless
Page = in_browser.Page


async def shoot(page, css: str, name: str) -> None:
    """A screenshot of one element of the page (a chart, an alert), in the test's folder."""
    element = await page(page.driver.find_element, "css selector", css)
    path = page.shots / f"{name}.png"
    assert await page(element.screenshot, str(path)) and path.stat().st_size > 1000


async def test_a_trainer_records_a_follow_up_from_the_page_and_sees_it_listed(site, browser, tmp_path):
    reports = {r.learner_name: r for r in await site.hub.journey_reports(action=ACTION)}
    alert_id = await raise_alert(site.hub, reports["Lucas Bernard"])
    ines = await start_inès(site.hub)
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/trainer/alerts")
    assert "/app/login" in browser.current_url
    await page.sign_in(site, "trainer", "/app/trainer/alerts")
    drifting = await page.text("table.drifting tbody")
    assert "Lucas Bernard" in drifting and "Inès Morel" in drifting and "en baisse" in drifting
    assert "sans suivi" in await page.text(f"#alert-{alert_id}")
    assert await page.accessibility_problems() == []
    await page.screenshot("trainer-alerts")

    note = "Appel le 13/10 : Lucas reprend lundi, point avec la référente"
    await page.fill(f"note-{alert_id}", note)
    await page.click(f"record-{alert_id}")
    await page.wait_for(lambda: browser.current_url.endswith(f"#alert-{alert_id}"))
    listed = await page.text(f"#alert-{alert_id} .follow-ups")
    assert f"{site.emails['trainer']} : {note}" in listed
    assert "suivie" in await page.text(f"#alert-{alert_id} h4")
    assert "Lucas Bernard" not in await page.text("table.drifting tbody")  # followed up, no rule fires on him
    assert ines and "Inès Morel" in await page.text("table.drifting tbody")
    (event,) = await events_of(site.hub, "alert.followed_up")
    assert event["data"] == {"alert": alert_id, "action_taken": note, "by": site.emails["trainer"]}
    assert await page.accessibility_problems() == []
    await shoot(page, f"#alert-{alert_id}", "trainer-alert-followed-up")


async def test_a_manager_reads_the_charts_and_the_follow_ups_of_an_action(site, browser, tmp_path):
    lucas = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Lucas Bernard")
    alert_id = await raise_alert(site.hub, lucas)
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/manager/actions")
    await page.sign_in(site, "manager", "/app/manager/actions")
    assert await page(lambda: browser.find_element("css selector", "figure.chart svg").get_attribute("role")) == "img"
    assert await page.accessibility_problems() == []
    await shoot(page, "figure.chart", "manager-hours-chart")
    await page.open("/app/trainer/today?date=2026-10-07")  # the trainer's week, as a manager opens it too
    assert await page.accessibility_problems() == []
    await shoot(page, "figure.chart", "trainer-week-chart")
    await page.click("week-chart-1-figures")  # the chart's figures, in a table
    assert "Sans co-signature" in await page.text("figure.chart table")
    await page.open(f"/app/manager/actions/{ACTION}")
    assert "sans suivi" in await page.text(f"#alert-{alert_id}")
    assert await page.accessibility_problems() == []
    await shoot(page, "#attendance-weeks + figure", "manager-attendance-weeks")
    await page.fill(f"note-{alert_id}", "Entretien avec Lucas")
    await page.click(f"record-{alert_id}")
    await page.wait_for(lambda: f"/app/manager/actions/{ACTION}#alert-{alert_id}" in browser.current_url)
    assert f"{site.emails['manager']} : Entretien avec Lucas" in await page.text(f"#alert-{alert_id} .follow-ups")


async def test_a_manager_records_the_follow_up_of_a_risk_flag_from_the_action_page(site, browser, tmp_path):
    flag = await flag_nina(site.hub)
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open(f"/app/manager/actions/{ACTION}")
    await page.sign_in(site, "manager", f"/app/manager/actions/{ACTION}")
    assert "pas encore de suivi" in await page.text(f"#risk-{flag}")
    await page.click(f"risk-open-{flag}")  # the form folds under its summary
    assert await page.accessibility_problems() == []
    note = "Appel à Nina : reprise lundi"
    await page.fill(f"risk-note-{flag}", note)
    await page.click(f"risk-record-{flag}")
    await page.wait_for(lambda: browser.current_url.endswith(f"/app/manager/actions/{ACTION}#risk-{flag}"))
    assert note in await page.text(f"#risk-{flag}") and "pas encore de suivi" not in await page.text(f"#risk-{flag}")
    (event,) = await events_of(site.hub, "alert.followed_up")
    assert event["data"] == {"alert": flag, "action_taken": note, "by": site.emails["manager"]}
    assert await page.accessibility_problems() == []
    await shoot(page, "section.risk-list", "manager-risk-follow-up")
