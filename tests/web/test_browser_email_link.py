"""Sign-in by e-mail link in a real browser (Debian's chromium, as tests/web/test_browser.py): a
learner asks for a link on the sign-in page, the message arrives at a real SMTP server, the learner
opens the link, presses the button, types the TOTP code and reaches the journey; each page is
checked with axe-core and screenshotted."""

from __future__ import annotations

import pyotp

from tests.web.test_browser import Page, browser, pytestmark  # noqa: F401 — the fixture and the marks
from tests.web.test_email_link import link_in, linked, smtp  # noqa: F401 — the fixtures


async def test_a_learner_signs_in_by_the_link_received_by_mail(linked, smtp, browser, tmp_path):  # noqa: F811
    page = Page(browser, linked.url, tmp_path)
    browser.set_script_timeout(30)
    await page.open("/app/login")
    assert await page.accessibility_problems() == []
    await page.screenshot("sign-in-with-link")
    await page.fill("link-email", "theo@demo.example")
    await page.click("send-link")
    await page.wait_for(lambda: "valable 15 min" in browser.find_element("id", "link-sent").text)
    assert await page.accessibility_problems() == []
    await page.screenshot("link-sent")

    (_, message), = await smtp.wait_for(1)
    await page.open(link_in(message))  # the address of the message, on this test's server
    await page.wait_for(lambda: browser.find_elements("id", "use-link"))
    assert await page.accessibility_problems() == []
    await page.screenshot("link-confirm")
    await page.click("use-link")
    await page.wait_for(lambda: "/app/login/code" in browser.current_url)
    await page.fill("code", pyotp.TOTP(linked.secrets["learner"]).now())
    await page.click("verify-code")
    await page.wait_for(lambda: "/app/login" not in browser.current_url)
    await page.open("/app/learner/journey")
    await page.wait_for(lambda: "Théo Garnier" in browser.page_source)
    await page.screenshot("journey-after-link")
