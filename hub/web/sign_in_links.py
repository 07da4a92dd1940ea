"""Sign-in links sent by e-mail to learners (``hub.web.email_link``, docs/web-app.md).

Asking for a link answers at once with the same words whatever the address: finding the account,
making the link and sending it happen afterwards, in a task of their own, so that neither the
answer nor its time tells whether an address has an account. Only an enabled learner account gets
a message; any other address is recorded as a refused sign-in (``access.sign_in``, step
``email_link``) and gets none. The link's token is kept as its SHA-256 only, works once and
expires (hub.web.sessions); the message is sent through the configured SMTP server
(hub.web.mailer) in the language of the page it was asked from.
"""

from __future__ import annotations

import asyncio
from typing import Any

from hub.web import PREFIX, i18n
from hub.web.accounts import Accounts, AccountError, normalise_email
from hub.web.mailer import Mailer, MailError
from hub.web.sessions import Sessions
from hub.web.settings import EmailLinkConfig


SENDING_AT_ONCE = 4  # SMTP exchanges under way at once; the other requests wait their turn


def link_path(token: str) -> str:
    return f"{PREFIX}/login/link/{token}"


class SignInLinks:
    def __init__(self, settings: EmailLinkConfig, accounts: Accounts, sessions: Sessions, *, organisation: str,
                 log: Any):
        self.settings, self.accounts, self.sessions, self.log = settings, accounts, sessions, log
        self.organisation = organisation
        self.mailer = Mailer(settings.smtp) if settings.smtp is not None else None
        self._tasks: set[asyncio.Task] = set()
        self._sending = asyncio.Semaphore(SENDING_AT_ONCE)

    @property
    def minutes(self) -> int:
        return int(self.settings.link_lifetime.total_seconds() // 60)

    def send_later(self, email: str, language: str, remote: str | None) -> None:
        """Find the account of ``email`` and send it a link, in a task of its own (see the module)."""
        task = asyncio.get_running_loop().create_task(self._send_guarded(email, language, remote))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def wait(self) -> None:
        """Let the links being sent go (the daemon stopping)."""
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _send_guarded(self, email: str, language: str, remote: str | None) -> None:
        async with self._sending:  # a few at a time, whatever the number of requests
            try:
                await self._send(email, language, remote)
            except Exception as exc:  # a task of its own: nobody else would hear of it
                self.log.error("sign-in link not sent", error=f"{type(exc).__name__}: {exc}")

    async def _send(self, email: str, language: str, remote: str | None) -> None:
        try:
            address = normalise_email(email)
        except AccountError:
            await self.accounts.link_refused(email, None, "unknown_email", remote)
            return
        store = self.accounts.store
        account = await store.call(store.account_by_email, address)
        reason = ("unknown_email" if account is None else "disabled" if account["disabled_at"] is not None
                  else "not_learner" if account["role"] != "learner" else None)
        if reason is not None:
            await self.accounts.link_refused(address, account, reason, remote)
            return
        token = await self.sessions.open_link(account["id"], self.settings.link_lifetime.total_seconds())
        _ = i18n.translator(language)
        url = f"{self.settings.public_url}{link_path(token)}"
        text = _("link.mail.body", name=account["name"] or address, organisation=self.organisation, url=url,
                 minutes=self.minutes)
        try:
            await self.mailer.send(address, _("link.mail.subject", organisation=self.organisation), text)
        except MailError as exc:
            self.log.warning("sign-in link not sent", account=account["id"], error=str(exc))
            return
        self.log.info("sign-in link sent", account=account["id"])
