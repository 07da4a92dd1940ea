"""A real SMTP server on 127.0.0.1 (aiosmtpd, in a thread of its own) that keeps every message it
is given: plain, or with STARTTLS required and a user name and password checked (its certificate,
for 127.0.0.1, is made here and written where the client can trust it). ``hold()`` makes it keep
the client waiting at the DATA command until ``release()``."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import ipaddress
import socket
import ssl
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written in ``folder``."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = folder / "smtp-cert.pem", folder / "smtp-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


class _Keeper:
    def __init__(self, server: "SmtpServer"):
        self.server = server

    async def handle_DATA(self, _server, _session, envelope):
        while not self.server._open.is_set():  # held: the client waits for the server's answer
            await asyncio.sleep(0.02)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.server.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


class SmtpServer:
    def __init__(self, *, tls_folder: Path | None = None, user: tuple[str, str] | None = None):
        self.messages: list[tuple[list[str], email.message.EmailMessage]] = []
        self.logins: list[str] = []
        self._open = threading.Event()
        self._open.set()
        self.port = free_port()
        options: dict = {}
        self.ca_file: Path | None = None
        if tls_folder is not None:
            cert, key = self_signed(tls_folder)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert, key)
            self.ca_file = cert
            options |= {"tls_context": context, "require_starttls": True}
        if user is not None:
            def check(_server, session, _envelope, mechanism, data) -> AuthResult:
                ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == user
                if ok:
                    self.logins.append(data.login.decode())
                return AuthResult(success=ok, handled=False)
            options |= {"authenticator": check, "auth_require_tls": True, "auth_required": True}
        self.controller = Controller(_Keeper(self), hostname="127.0.0.1", port=self.port, **options)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self._open.set()
        self.controller.stop()

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    async def wait_for(self, count: int, timeout: float = 10.0) -> list:
        deadline = time.monotonic() + timeout
        while len(self.messages) < count:
            assert time.monotonic() < deadline, f"{len(self.messages)} message(s) received, {count} expected"
            await asyncio.sleep(0.02)
        return self.messages
