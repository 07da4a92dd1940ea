"""The screenshots of the user guides (docs/guides/*.md), taken in the real browser of
tests/web/test_browser.py on the demo data: each role signs in as a person does (password, then the
TOTP code) and goes through the tasks its guide describes; every page is checked with axe-core
before it is photographed. The PNGs are written to docs/guides/img/ (1280 px wide, at most 1600 px
high, reduced to a 256-colour palette): run it after a change of the pages, then commit the images.

    ./dev test tests/web/test_guide_screenshots.py -m slow -q -p no:randomly
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pyotp
import pytest

from tests.documents.conftest import HUB_EXTRA
from tests.web.conftest import ACTION, PASSWORD, events_of
from tests.web.test_browser import Page, browser, pytestmark as browser_marks  # noqa: F401  (the fixture)
from tests.web.test_email_link import link_in, linked, smtp  # noqa: F401  (the fixtures)
from tests.web.test_learner_data import issue_for
from tests.web.test_oidc import make_oidc_site, oidc_site, provider  # noqa: F401  (the fixtures)
from tests.web.test_trainer_alerts import raise_alert, start_inès

pytestmark = [*browser_marks, pytest.mark.slow]
IMG = Path(__file__).resolve().parents[2] / "docs" / "guides" / "img"
WIDTH, MAX_HEIGHT = 1280, 1600
#: OPCO Atlas's export, for the funder's « Exports » page
EXPORT = """
exports:
  opco-atlas:
    kind: opco
    profile: atlas
    funders: [opco-atlas]
    outputs: [attendance_csv]
"""


class Guide(Page):
    """The browser of the browser tests, with screenshots sized to the page and kept small."""

    async def shot(self, name: str, css: str | None = None) -> None:
        """The page (or one element of it) as docs/guides/img/<name>.png, after axe-core found no
        serious or critical violation on it."""
        assert await self.accessibility_problems() == [], name
        if css is None:
            # the viewport sized to the page's content (the body's height, not the window's)
            height = await self(self.driver.execute_script, "return document.body.scrollHeight")
            await self(self.driver.execute_cdp_cmd, "Emulation.setDeviceMetricsOverride", {
                "width": WIDTH, "height": min(max(int(height), 400), MAX_HEIGHT), "deviceScaleFactor": 1, "mobile": False})
            try:
                png = await self(self.driver.get_screenshot_as_png)
            finally:
                await self(self.driver.execute_cdp_cmd, "Emulation.clearDeviceMetricsOverride", {})
        else:
            element = await self(self.driver.find_element, "css selector", css)
            png = await self(lambda: element.screenshot_as_png)
        save_small(png, IMG / f"{name}.png")

    async def sign_out(self) -> None:
        await self.click("sign-out")
        await self.wait_for(lambda: self.driver.current_url.endswith("/app/login"))


def save_small(png: bytes, path: Path) -> None:
    """A screenshot reduced to a 256-colour palette and written optimised: a page of text and tables
    keeps every word legible at a fraction of the size."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > WIDTH:  # a device pixel ratio above 1
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
    assert 1000 < path.stat().st_size < 400_000, (path, path.stat().st_size)


async def test_the_guides_screenshots_each_role_on_the_demo(make_site, browser, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By

    from hub.audit.links import create_link, revoke_link
    from hub.audit.selection import Selection

    from hub.formats import Period

    site = await make_site(EXPORT, hub_extra=HUB_EXTRA)  # documents need the organisation's identity
    october = Period.parse("2026-10")
    await site.hub.export("opco-atlas", october, allow_incomplete=True)  # the demo data lacks the dossiers
    await site.hub.export("opco-atlas", october, allow_incomplete=True, force=True)
    reports = {r.learner_name: r for r in await site.hub.journey_reports(action=ACTION)}
    theo = reports["Théo Garnier"].learner_id
    await issue_for(site, theo)  # a certificat de réalisation to download
    alert_id = await raise_alert(site.hub, reports["Lucas Bernard"])
    await start_inès(site.hub)  # an enrolment in progress on which the rules raise an alert now
    page = Guide(browser, site.url, tmp_path)
    browser.set_script_timeout(30)

    # signing in: the address and password, then the second factor
    await page.open("/app/trainer/today?date=2026-10-07")
    await page.fill("email", site.emails["trainer"])
    await page.shot("connexion")
    await page.fill("password", PASSWORD)
    await page.click("sign-in")
    await page.wait_for(lambda: "/app/login/code" in browser.current_url)
    await page.shot("code")
    await page.fill("code", pyotp.TOTP(site.secrets["trainer"]).now())
    await page.click("verify-code")
    await page.wait_for(lambda: "/app/login" not in browser.current_url and "/app/trainer/today" in browser.current_url)

    # the trainer: today, the alerts, a follow-up recorded
    assert "Théo Garnier" in await page.text('[data-half-day="2026-10-07/am"] .partial')
    await page.shot("formateur-aujourdhui")
    await page.open("/app/trainer/alerts")
    assert "Lucas Bernard" in await page.text("table.drifting tbody")
    await page.shot("formateur-alertes")
    await page.fill(f"note-{alert_id}", "Appel le 13/10 : Lucas reprend lundi, point avec la référente")
    await page.click(f"record-{alert_id}")
    await page.wait_for(lambda: browser.current_url.endswith(f"#alert-{alert_id}"))
    assert "suivie" in await page.text(f"#alert-{alert_id} h4")
    await page.shot("formateur-suivi-enregistre", f"#alert-{alert_id}")
    await page.sign_out()

    # the manager: the actions, one action, one enrolment's explain trail, insights, an audit link
    await page.open("/app/")
    await page.sign_in(site, "manager", "/app/")
    await page.shot("responsable-accueil")
    await page.open("/app/manager/actions")
    await page.shot("responsable-actions")
    await page.open(f"/app/manager/actions/{ACTION}")
    await page.shot("responsable-action")
    await page((await page(browser.find_element, By.LINK_TEXT, "Théo Garnier")).click)
    await page.wait_for(lambda: "/app/manager/enrolments/" in browser.current_url)
    assert "sans co-signature" in await page.text('#explain [data-half-day="2026-10-07/am"]')
    await page.shot("responsable-inscription")
    await page.open("/app/manager/insights")
    await page.shot("responsable-enseignements")
    await page.open("/app/audit-links")
    await page.fill("sample", "5")
    await page.fill("label", "Certificateur Qualiopi")
    await page.click("make-link")
    await page.wait_for(lambda: browser.find_elements(By.ID, "made-url"))
    await page.shot("responsable-liens-audit")
    audit_url = await page(lambda: browser.find_element(By.ID, "made-url").get_attribute("value"))
    await page.sign_out()

    # the admin: every action in scope
    await page.open("/app/")
    await page.sign_in(site, "admin", "/app/")
    await page.shot("administrateur-accueil")
    await page.sign_out()

    # the learner: the journey, « Mes données », a consent withdrawn
    await page.open("/app/")
    await page.sign_in(site, "learner", "/app/")
    await page.open("/app/learner/journey")
    assert "celle du formateur manque" in await page.text(".needed")
    await page.shot("apprenant-parcours")
    await page.open("/app/learner/data")
    await page.shot("apprenant-donnees")
    await page.click("withdraw-funnel_tracking")
    await page.wait_for(lambda: "done=withdraw" in browser.current_url)
    assert "Consentement retiré le" in await page.text("#state-funnel_tracking")
    await page.shot("apprenant-consentement-retire")
    assert [e["data"]["channel"] for e in await events_of(site.hub, "consent.withdrawn")] == ["web"]
    await page.click("give-funnel_tracking")  # the demo's learner keeps its consent
    await page.wait_for(lambda: "done=give" in browser.current_url)
    await page.sign_out()

    # the funder: its enrolments, one of them, its exports
    await page.open("/app/")
    await page.sign_in(site, "funder", "/app/")
    await page.open("/app/funder/enrolments")
    assert "Hugo Lefèvre" not in await page.text("#funded tbody")  # France Travail's learner
    await page.shot("financeur-inscriptions")
    await page((await page(browser.find_element, By.LINK_TEXT, "Théo Garnier")).click)
    await page.wait_for(lambda: "/app/funder/enrolments/" in browser.current_url)
    await page.shot("financeur-inscription")
    await page.open("/app/funder/exports")
    assert "en vigueur" in await page.text("main")
    await page.shot("financeur-exports")
    await page.sign_out()

    # the auditor: the link the manager made, no account
    await page.open(audit_url.split(site.url, 1)[1])
    await page.shot("auditeur-echantillon")
    first = await page(lambda: browser.find_element(By.CSS_SELECTOR, "#sample tbody tr th a"))
    await page(first.click)
    await page.wait_for(lambda: "/learners/" in browser.current_url)
    await page.shot("auditeur-apprenant")
    link, token = await create_link(site.hub, Selection(ACTION, sample=2, seed=1), dt.timedelta(days=1), actor="test")
    await revoke_link(site.hub.store, site.hub.append, link.id, actor="test")
    await page.open(f"/app/audit/{token}")
    assert "Lien révoqué" in await page.text("h1")
    await page.shot("auditeur-lien-revoque")



async def test_the_guides_screenshots_a_learner_signing_in_by_e_mail_link(linked, smtp, browser, tmp_path):  # noqa: F811
    page = Guide(browser, linked.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/login")
    await page.fill("link-email", linked.emails["learner"])
    await page.click("send-link")
    await page.wait_for(lambda: "valable 15 min" in browser.find_element("id", "link-sent").text)
    await page.shot("apprenant-lien-demande")
    (_, message), = await smtp.wait_for(1)
    await page.open(link_in(message))  # the address of the message, on this test's server
    await page.wait_for(lambda: browser.find_elements("id", "use-link"))
    await page.shot("apprenant-lien-confirmation")
    await page.click("use-link")
    await page.wait_for(lambda: "/app/login/code" in browser.current_url)  # the learner's second factor follows


async def test_the_guides_screenshots_the_staff_sign_in_with_the_organisations_provider(oidc_site, browser, tmp_path):  # noqa: F811
    page = Guide(browser, oidc_site.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/login")
    assert "Se connecter avec Google Workspace" in await page.text("main")
    await page.shot("connexion-fournisseur")
