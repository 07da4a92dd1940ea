"""The web app in a real browser: Debian's chromium, headless, driven by Selenium through
chromium-driver (.ci/run installs both). A trainer signs in with the second factor, sees the day's
attendance, watches a co-signature arrive live (htmx over server-sent events), signs out; a
learner reads its journey; a funder lists the enrolments it funds and opens one; an auditor opens
a link, sees the sample, downloads its audit pack, and is refused once the link is revoked; each
page is checked with axe-core (no serious or critical violation) and screenshotted in the test's
folder. Skipped, with the reason, only where /usr/bin/chromium is absent."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pyotp
import pytest

from tests.web.conftest import ACTION, PASSWORD

CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
AXE = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
pytestmark = [pytest.mark.browser, pytest.mark.skipif(
    not (CHROMIUM.exists() and DRIVER.exists()),
    reason="needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver; .ci/run installs them)")]


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                     "--window-size=1280,900", "--lang=fr-FR"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"intl.accept_languages": "fr-FR,fr"})
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


class Page:
    """The browser, each call run in a thread: the daemon under test serves on this test's event loop."""

    def __init__(self, driver, base: str, shots: Path):
        self.driver, self.base, self.shots = driver, base, shots

    async def __call__(self, fn, *args):
        return await asyncio.to_thread(fn, *args)

    async def open(self, path: str) -> None:
        await self(self.driver.get, self.base + path)

    async def fill(self, field_id: str, text: str) -> None:
        from selenium.webdriver.common.by import By

        element = await self(self.driver.find_element, By.ID, field_id)
        await self(element.clear)
        await self(element.send_keys, text)

    async def click(self, element_id: str) -> None:
        from selenium.webdriver.common.by import By

        await self((await self(self.driver.find_element, By.ID, element_id)).click)

    async def text(self, css: str) -> str:
        from selenium.webdriver.common.by import By

        return await self(lambda: self.driver.find_element(By.CSS_SELECTOR, css).text)

    async def wait_for(self, predicate, timeout: float = 10.0) -> None:
        from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

        def holds() -> bool:
            try:
                return predicate()
            except (StaleElementReferenceException, NoSuchElementException):  # htmx swapped it meanwhile
                return False

        loop = asyncio.get_running_loop()
        ends = loop.time() + timeout
        while not await self(holds):
            assert loop.time() < ends, f"timed out on {self.driver.current_url}"
            await asyncio.sleep(0.1)

    async def sign_in(self, site, role: str, lands_on: str) -> None:
        """Sign in as ``role`` on the sign-in page the browser shows: password, then the TOTP code,
        and wait for the page it lands on (a part of its address)."""
        await self.fill("email", site.emails[role])
        await self.fill("password", PASSWORD)
        await self.click("sign-in")
        await self.wait_for(lambda: "/app/login/code" in self.driver.current_url)
        await self.fill("code", pyotp.TOTP(site.secrets[role]).now())
        await self.click("verify-code")
        await self.wait_for(lambda: "/app/login" not in self.driver.current_url and lands_on in self.driver.current_url)

    async def screenshot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        assert await self(self.driver.save_screenshot, str(path))
        assert path.stat().st_size > 1000
        return path

    async def accessibility_problems(self) -> list[str]:
        """axe-core's serious and critical violations of the page (WCAG 2.x A and AA rules)."""
        await self(self.driver.execute_script, AXE.read_text(encoding="utf-8"))
        result = await self(self.driver.execute_async_script, """
            const done = arguments[arguments.length - 1];
            axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
               .then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify([{id: 'axe', impact: 'critical', help: String(e), nodes: []}])));
        """)
        return [f"{v['impact']}: {v['id']} — {v['help']} ({len(v['nodes'])} element(s): "
                f"{[n.get('target') for n in v['nodes'][:3]]})"
                for v in json.loads(result) if v["impact"] in ("serious", "critical")]


async def refreshed_live(page: Page, site, shown) -> None:
    """Théo's co-signature of 7 October, morning, arrives: the open page shows it without a reload
    (a mark left in the window survives; htmx fetched the page's live region again)."""
    before = await page(shown)
    await page(page.driver.execute_script, "window.stillHere = true")
    await asyncio.sleep(1.5)  # the page's event stream is open
    await site.hub.append([{
        "type": "attendance.signed", "occurred_at": "2026-10-07T12:35:00+02:00", "source_id": "cosign-theo",
        "learner": {"ref": "apprenant-04", "email": "theo.garnier@example.fr"}, "action": ACTION,
        "data": {"date": "2026-10-07", "half_day": "am", "signer": "learner", "trainer_cosigned": True}}],
        source="back-office")
    await page.wait_for(lambda: shown() != before, timeout=15)
    assert await page(page.driver.execute_script, "return window.stillHere === true")


async def test_a_trainer_signs_in_sees_the_day_live_and_signs_out(site, browser, tmp_path):
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)

    await page.open("/app/trainer/today?date=2026-10-07")
    assert "/app/login" in browser.current_url  # not signed in: the sign-in page, then back here
    assert await page.accessibility_problems() == []
    await page.screenshot("1-sign-in")
    await page.fill("email", site.emails["trainer"])
    await page.fill("password", PASSWORD)
    await page.click("sign-in")
    await page.wait_for(lambda: "/app/login/code" in browser.current_url)
    assert await page.accessibility_problems() == []
    await page.fill("code", pyotp.TOTP(site.secrets["trainer"]).now())
    await page.click("verify-code")
    # the code page's own address names the page asked for (?next=…): wait until it is left
    await page.wait_for(lambda: "/app/login" not in browser.current_url and "/app/trainer/today" in browser.current_url)

    morning = '[data-half-day="2026-10-07/am"]'
    assert "Théo Garnier" in await page.text(f"{morning} .partial")
    assert await page.accessibility_problems() == []
    await page.screenshot("2-today")

    await refreshed_live(page, site, lambda: browser.find_element("css selector", f"{morning} .signed").text)
    assert "Théo Garnier" in await page.text(f"{morning} .signed")  # htmx fetched the weeks again
    assert "co-signature" not in await page.text(morning)
    await page.screenshot("3-today-after-co-signature")

    await page.click("sign-out")
    await page.wait_for(lambda: browser.current_url.endswith("/app/login"))
    await page.open("/app/trainer/today")
    assert "/app/login" in browser.current_url
    assert [e["data"]["outcome"] for e in await site.hub.store.call(
        lambda: list(site.hub.store.iter_events(types=["access.sign_in"])))] == ["success"]
    assert sorted(p.name for p in tmp_path.glob("*.png")) == ["1-sign-in.png", "2-today.png",
                                                             "3-today-after-co-signature.png"]


async def test_a_learner_signs_in_and_reads_its_journey(site, browser, tmp_path):
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/")
    await page.sign_in(site, "learner", "/app/")
    assert browser.current_url.endswith("/app/")
    assert await page.accessibility_problems() == []
    from selenium.webdriver.common.by import By

    await page((await page(browser.find_element, By.LINK_TEXT, "Mon parcours")).click)
    await page.wait_for(lambda: "/app/learner/journey" in browser.current_url)
    assert "celle du formateur manque" in await page.text(".needed")
    assert await page.accessibility_problems() == []
    await page.screenshot("learner-journey")
    await refreshed_live(page, site, lambda: page.driver.find_element("css selector", "#live-region").text)
    assert not browser.find_elements(By.CSS_SELECTOR, ".needed")  # nothing left to do for Théo
    # « Télécharger mes données »: the form posts with its CSRF token, the download is recorded
    await page((await page(browser.find_element, By.ID, "data-export")).click)
    for _ in range(200):
        exported = await site.hub.store.call(lambda: list(site.hub.store.iter_events(types=["privacy.data_exported"])))
        if exported:
            break
        await asyncio.sleep(0.05)
    assert [e["data"]["channel"] for e in exported] == ["web"]
    await page.open("/app/trainer/today")
    assert "403" in browser.title or "not open to your role" in browser.page_source


async def test_a_funder_signs_in_lists_its_enrolments_and_opens_one(site, browser, tmp_path):
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/funder/enrolments")
    assert "/app/login" in browser.current_url  # not signed in: the sign-in page, then back here
    await page.sign_in(site, "funder", "/app/funder/enrolments")

    listed = await page.text("#funded tbody")
    assert "Théo Garnier" in listed and "Hugo Lefèvre" not in listed  # OPCO Atlas's, not France Travail's
    assert await page.accessibility_problems() == []
    await page.screenshot("funder-enrolments")
    from selenium.webdriver.common.by import By

    await page((await page(browser.find_element, By.LINK_TEXT, "Théo Garnier")).click)
    await page.wait_for(lambda: "/app/funder/enrolments/" in browser.current_url and ACTION in browser.current_url)
    assert "Théo Garnier" in await page.text("h1")
    assert "sans co-signature" in await page.text("table")  # 7 October, morning
    assert await page.accessibility_problems() == []
    await page.screenshot("funder-enrolment")
    await refreshed_live(page, site, lambda: page.driver.find_element("css selector", "table").text)
    await page.open("/app/trainer/today")
    assert "403" in browser.title or "not open to your role" in browser.page_source


async def test_a_manager_signs_in_opens_an_action_and_an_enrolments_explain_trail(site, browser, tmp_path):
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/manager/actions")
    assert "/app/login" in browser.current_url  # not signed in: the sign-in page, then back here
    await page.sign_in(site, "manager", "/app/manager/actions")
    assert ACTION in await page.text("#actions tbody")
    assert await page.accessibility_problems() == []
    await page.screenshot("manager-actions")
    from selenium.webdriver.common.by import By

    title = site.hub.config.model.actions[ACTION].title
    await page((await page(browser.find_element, By.LINK_TEXT, title)).click)
    await page.wait_for(lambda: browser.current_url.endswith(f"/app/manager/actions/{ACTION}"))
    assert "Théo Garnier" in await page.text("#enrolments tbody")
    assert "→" in await page.text(".gaps")  # each gap says what closes it
    assert await page.accessibility_problems() == []
    await page.screenshot("manager-action")

    await page((await page(browser.find_element, By.LINK_TEXT, "Théo Garnier")).click)
    await page.wait_for(lambda: "/app/manager/enrolments/" in browser.current_url)
    morning = await page.text('#explain [data-half-day="2026-10-07/am"]')
    assert "sans co-signature" in morning
    assert await page.accessibility_problems() == []
    await page.screenshot("manager-enrolment")
    link = await page(browser.find_element, By.CSS_SELECTOR, '#explain [data-half-day="2026-10-07/am"] a.event')
    await page(link.click)
    await page.wait_for(lambda: "/app/manager/events/" in browser.current_url)
    assert "attendance.signed" in await page.text("#event")
    assert await page.accessibility_problems() == []
    await page.open("/app/funder/enrolments")
    assert "403" in browser.title or "not open to your role" in browser.page_source


async def test_an_auditor_opens_the_link_sees_the_sample_and_downloads_the_pack(site, browser, tmp_path):
    import datetime as dt
    import zipfile

    from selenium.webdriver.common.by import By

    from hub.audit.links import create_link, revoke_link
    from hub.audit.selection import Selection

    link, token = await create_link(site.hub, Selection(ACTION, sample=4, seed=3), dt.timedelta(days=7), actor="test")
    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    await page(browser.execute_cdp_cmd, "Browser.setDownloadBehavior",
               {"behavior": "allow", "downloadPath": str(downloads)})

    await page.open(f"/app/audit/{token}")  # no account: the link is the credential
    rows = await page(lambda: browser.find_elements(By.CSS_SELECTOR, "#sample tbody tr"))
    shown = await page(lambda: [r.get_attribute("data-learner") for r in rows])
    assert shown == list(link.learners)
    assert await page.accessibility_problems() == []
    await page.screenshot("audit-sample")

    first = await page(lambda: browser.find_element(By.CSS_SELECTOR, "#sample tbody tr th a"))
    name = await page(lambda: first.text)
    await page(first.click)
    await page.wait_for(lambda: f"/learners/{link.learners[0]}" in browser.current_url)
    assert name in await page.text("h1") and await page.text("#events tbody")
    assert await page.accessibility_problems() == []
    await page.screenshot("audit-learner")

    await page.open(f"/app/audit/{token}")
    await page.click("download-pack")
    await page.wait_for(lambda: [p for p in downloads.glob("*.zip")], timeout=60)
    (zipped,) = downloads.glob("*.zip")
    with zipfile.ZipFile(zipped) as z:
        assert [x["id"] for x in json.loads(z.read("manifest.json"))["learners"]] == list(link.learners)
    viewed = await site.hub.store.call(lambda: list(site.hub.store.iter_events(types=["access.audit_viewed"])))
    assert [e["data"]["what"] for e in viewed] == ["index", "learner", "index", "pack"]

    await revoke_link(site.hub.store, site.hub.append, link.id, actor="test")
    await page.open(f"/app/audit/{token}")
    assert "Lien révoqué" in await page.text("h1") and not browser.find_elements(By.ID, "sample")
    assert await page.accessibility_problems() == []
    await page.screenshot("audit-revoked")


async def test_an_admin_makes_an_audit_link_with_the_form(site, browser, tmp_path):
    from selenium.webdriver.common.by import By

    page = Page(browser, site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/audit-links")
    await page.sign_in(site, "admin", "/app/audit-links")
    assert await page.accessibility_problems() == []
    await page.fill("sample", "3")
    await page.fill("label", "Certificateur Qualiopi")
    await page.click("make-link")
    await page.wait_for(lambda: browser.find_elements(By.ID, "made-url"))
    url = await page(lambda: browser.find_element(By.ID, "made-url").get_attribute("value"))
    assert "/app/audit/" in url and "Certificateur Qualiopi" in await page.text("#links")
    assert await page.accessibility_problems() == []
    await page.screenshot("audit-links")
    await page.open(url.split(site.url, 1)[1])
    assert len(await page(lambda: browser.find_elements(By.CSS_SELECTOR, "#sample tbody tr"))) == 3
