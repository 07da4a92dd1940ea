"""« Mes données » in a real browser (Debian's chromium through chromium-driver, as
tests/web/test_browser.py): the learner opens the page from the navigation, withdraws the funnel
consent and gives it again with the buttons, downloads their certificat de réalisation; each step
is an event, the page passes axe-core (no serious or critical violation) and is screenshotted in
the test's folder. Skipped, with the reason, where /usr/bin/chromium is absent."""

from __future__ import annotations

import hashlib

from tests.documents.conftest import HUB_EXTRA
from tests.web.conftest import THEO, events_of
from tests.web.test_browser import Page, browser, pytestmark  # noqa: F401  (the browser fixture, the skip)
from tests.web.test_learner_data import issue_for


async def test_a_learner_withdraws_and_gives_a_consent_and_downloads_a_document(make_site, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    site = await make_site(hub_extra=HUB_EXTRA)  # documents need the organisation's identity
    theo = await site.hub.store.call(site.hub.store.learner_by_key, f"email:{THEO}")
    doc = await issue_for(site, theo)
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await page(browser.execute_cdp_cmd, "Browser.setDownloadBehavior",
               {"behavior": "allow", "downloadPath": str(downloads)})

    await page.open("/app/")
    await page.sign_in(site, "learner", "/app/")
    await page((await page(browser.find_element, By.LINK_TEXT, "Mes données")).click)
    await page.wait_for(lambda: "/app/learner/data" in browser.current_url)
    assert "opco-atlas" in await page.text(".recipient")
    assert await page.accessibility_problems() == []
    await page.screenshot("learner-data")

    await page.click("withdraw-funnel_tracking")
    await page.wait_for(lambda: "done=withdraw" in browser.current_url)
    assert "Votre retrait est enregistré" in await page.text("#consent-done")
    assert "Consentement retiré le" in await page.text("#state-funnel_tracking")
    assert await page.accessibility_problems() == []
    await page.screenshot("learner-data-withdrawn")
    await page.click("give-funnel_tracking")
    await page.wait_for(lambda: "done=give" in browser.current_url)
    assert "Consentement donné le" in await page.text("#state-funnel_tracking")
    assert [e["data"]["channel"] for e in await events_of(site.hub, "consent.withdrawn")] == ["web"]
    assert [e["data"]["purpose"] for e in await events_of(site.hub, "consent.given")] == ["funnel_tracking"]

    await page.click(f"download-{doc.id}")
    await page.wait_for(lambda: [p for p in downloads.glob("*.pdf")], timeout=30)
    (pdf,) = downloads.glob("*.pdf")
    assert hashlib.sha256(pdf.read_bytes()).hexdigest() == doc.sha256
    (downloaded,) = await events_of(site.hub, "access.document_downloaded")
    assert downloaded["data"]["document"] == doc.id
