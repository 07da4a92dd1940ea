"""Sending a message through the configured SMTP server (hub.web.settings.SmtpConfig).

The standard library's ``smtplib`` in a worker thread: a sign-in link is one short message now and
then, which needs no other dependency; the thread keeps the event loop free while the server
answers. STARTTLS and SMTPS verify the server's certificate (the system's CAs, or ``ca_file``).
Errors say what failed and where, never the password.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from email.message import EmailMessage

from hub.errors import HubError
from hub.web.settings import SmtpConfig


class MailError(HubError):
    """A message the server did not take."""


class Mailer:
    def __init__(self, settings: SmtpConfig):
        self.settings = settings

    def _tls(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.settings.ca_file)

    def _send(self, message: EmailMessage) -> None:
        s = self.settings
        timeout = s.timeout.total_seconds()
        where = f"SMTP {s.host}:{s.port}"
        try:
            if s.security == "tls":
                client: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=timeout, context=self._tls())
            else:
                client = smtplib.SMTP(s.host, s.port, timeout=timeout)
            with client:
                if s.security == "starttls":
                    client.starttls(context=self._tls())
                if s.username is not None and s.password is not None:
                    client.login(s.username, s.password.get_secret_value())
                client.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"{where}: the server refused the sign-in of {s.username} ({exc.smtp_code})") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"{where}: the server answered {exc.smtp_code}") from None
        except smtplib.SMTPException as exc:
            raise MailError(f"{where}: {type(exc).__name__}") from None
        except (OSError, ssl.SSLError) as exc:
            raise MailError(f"{where}: {type(exc).__name__}: {exc.strerror or exc}") from None

    async def send(self, to: str, subject: str, text: str) -> None:
        """Send a plain-text message to ``to``; MailError when the server does not take it."""
        message = EmailMessage()
        message["From"] = self.settings.from_address
        message["To"] = to
        message["Subject"] = subject
        message.set_content(text)
        await asyncio.to_thread(self._send, message)
