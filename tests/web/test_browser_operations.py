"""The operations pages in a real browser (see tests/web/test_browser.py for the set-up): an admin
finds a dead letter, opens it, replays it with the "Rejouer" button and sees it delivered; reads the
connectors' health, refreshed in place; lists the funder exports with their versions. Each page is
checked with axe-core (no serious or critical violation) and screenshotted in the test's folder."""

from __future__ import annotations

from urllib.parse import quote

from hub.formats import Period
from tests.conftest import event
from tests.web.test_browser import Page, browser, pytestmark  # noqa: F401 (the browser fixture, the skip)
from tests.web.test_operations import EXPORTS, sink


async def test_an_admin_replays_a_dead_letter_and_reads_the_connectors_health(make_site, browser, sink_peer, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    site = await make_site(sink(sink_peer.url) + "\n" + EXPORTS.strip("\n"))
    await site.hub.export("opco-atlas", Period.parse("2026-10"), allow_incomplete=True)
    sink_peer.statuses = [400]
    (event_id,) = (await site.hub.append([event(1)], source=None)).ids
    assert (await site.hub.dispatcher.deliver_due("crm")).dead == 1
    (letter,) = await site.hub.store.call(site.hub.store.dead_letters, sink="crm")
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)

    await page.open("/app/manager/dead-letters")
    assert "/app/login" in browser.current_url
    await page.sign_in(site, "admin", "/app/manager/dead-letters")
    row = await page.text(f'#dead-letters [data-letter="{letter.id}"]')
    assert "vers crm" in row and "HTTP 400" in row
    assert await page.accessibility_problems() == []
    await page.screenshot("operations-dead-letters")

    await page((await page(browser.find_element, By.LINK_TEXT, letter.id)).click)
    await page.wait_for(lambda: browser.current_url.endswith(f"/app/manager/dead-letters/{quote(letter.id)}"))
    assert event_id in await page.text("#letter")
    assert await page.accessibility_problems() == []
    await page.screenshot("operations-dead-letter")
    await page.click("replay")  # the sink answers 200 now
    await page.wait_for(lambda: browser.find_element(By.ID, "replayed").is_displayed())
    assert "1 envoi(s) remis en file" in await page.text("#replayed")
    assert sink_peer.ids == [event_id]
    assert await page.accessibility_problems() == []
    await page.screenshot("operations-replayed")

    await page.open("/app/manager/connectors")
    assert "en service" in await page.text('#connectors [data-connector="demo"]')
    assert "1 envoyé(s)" in await page.text('#connectors [data-connector="crm"]')
    await site.hub.append([event(2), event(3)], source=None)  # two more wait for crm: the page shows them by itself
    await page.wait_for(lambda: "2 en attente" in browser.find_element(By.CSS_SELECTOR, '#connectors [data-connector="crm"]').text,
                        timeout=15)
    assert await page.accessibility_problems() == []
    await page.screenshot("operations-connectors")

    await page.open("/app/manager/exports")
    assert "en vigueur" in await page.text('[data-export="opco-atlas"]')
    assert await page.accessibility_problems() == []
    await page.screenshot("operations-exports")
