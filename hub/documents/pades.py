"""PAdES signature of issued PDFs with the admin's X.509 certificate (pyHanko), and its check.

Optional: used only when ``hub.documents.pades`` names a certificate and its key. The signature
is a PAdES baseline signature (``ETSI.CAdES.detached``) added as an incremental update, so the
embedded data and the QR code are untouched. The SHA-256 recorded in the ledger is that of the
signed file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from hub.errors import ConfigError

if TYPE_CHECKING:
    from hub.documents.settings import PadesConfig


class PadesSigner:
    """Loads the certificate and key once; :meth:`sign` signs one PDF."""

    def __init__(self, config: "PadesConfig", resolve=lambda p: p, location: str | None = None):
        try:
            from pyhanko.sign import signers
        except ImportError:
            raise ConfigError("hub.documents.pades needs pyHanko: pip install pyhanko") from None
        passphrase = config.key_passphrase.get_secret_value().encode() if config.key_passphrase else None
        try:
            self._signer = signers.SimpleSigner.load(
                str(resolve(config.key)), str(resolve(config.certificate)),
                ca_chain_files=tuple(str(resolve(c)) for c in config.chain), key_passphrase=passphrase)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"hub.documents.pades: cannot load the certificate or key: {exc}") from None
        if self._signer is None:
            raise ConfigError("hub.documents.pades: cannot load the certificate or key (wrong passphrase?)")
        self.config = config
        self.location = config.location or location

    @property
    def subject(self) -> str:
        return self._signer.signing_cert.subject.human_friendly

    def sign(self, pdf: bytes) -> bytes:
        from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
        from pyhanko.sign import fields, signers

        writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
        meta = signers.PdfSignatureMetadata(field_name=self.config.field_name, md_algorithm="sha256",
                                            subfilter=fields.SigSeedSubFilter.PADES, reason=self.config.reason,
                                            location=self.location)
        out = signers.sign_pdf(writer, meta, signer=self._signer)
        return out.getvalue()


@dataclass
class PadesCheck:
    present: bool
    intact: bool = False
    covers_whole_file: bool = False
    signer: str | None = None
    trusted: bool | None = None  # None: no trust roots given
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check(pdf: bytes, trust_roots: list[bytes] | None = None) -> PadesCheck:
    """Is there a PAdES signature, is it intact and does it cover the whole file? (pyHanko)"""
    try:
        from pyhanko.pdf_utils.reader import PdfFileReader
        from pyhanko.sign.validation import validate_pdf_signature
        from pyhanko_certvalidator import ValidationContext
    except ImportError:
        return PadesCheck(present=False, detail="pyHanko not installed: PAdES signature not checked")
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signatures = reader.embedded_signatures
    except Exception as exc:
        return PadesCheck(present=False, detail=f"unreadable PDF structure: {exc}")
    if not signatures:
        return PadesCheck(present=False)
    sig = signatures[-1]
    roots = []
    if trust_roots:
        from asn1crypto import pem, x509

        for blob in trust_roots:
            der = pem.unarmor(blob)[2] if pem.detect(blob) else blob
            roots.append(x509.Certificate.load(der))
    context = ValidationContext(trust_roots=roots, allow_fetching=False) if roots else ValidationContext(allow_fetching=False)
    try:
        status = validate_pdf_signature(sig, context)
    except Exception as exc:
        return PadesCheck(present=True, detail=f"signature could not be validated: {exc}")
    from pyhanko.sign.validation.status import SignatureCoverageLevel

    return PadesCheck(
        present=True, intact=bool(status.intact and status.valid),
        covers_whole_file=status.coverage == SignatureCoverageLevel.ENTIRE_FILE,
        signer=status.signing_cert.subject.human_friendly if status.signing_cert else None,
        trusted=bool(status.trusted) if roots else None,
        detail=status.summary(),
    )
