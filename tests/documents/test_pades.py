"""PAdES: with an X.509 certificate configured, PDFs are also signed (pyHanko) — checked with
pyHanko's validation API against a throwaway CA made with openssl."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from hub.documents.issue import issue_documents
from hub.documents.keys import KeyRing
from hub.documents.services import services_of
from hub.documents.settings import DocumentsConfig, PadesConfig, keys_dir
from hub.documents.verify import load_record, verify_bytes
from tests.documents.conftest import TODAY, learner_id


def make_ca(folder):
    if shutil.which("openssl") is None:
        (pytest.fail if os.environ.get("CI") else pytest.skip)("openssl not installed")
    if not os.environ.get("CI"):
        pytest.importorskip("pyhanko")

    def run(*args):
        subprocess.run(args, cwd=folder, check=True, capture_output=True)

    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "30",
        "-subj", "/CN=Test Hub Root CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "signer.key", "-out", "signer.csr",
        "-subj", "/CN=Parcours Demo Signer/O=Parcours Demo Formation SAS")
    (folder / "signer.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n")
    run("openssl", "x509", "-req", "-in", "signer.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "signer.crt", "-days", "30", "-extfile", "signer.ext")
    return folder / "ca.crt", folder / "signer.crt", folder / "signer.key"


async def test_pades_signed_pdf_validates_with_pyhanko(demo_hub, tmp_path):
    ca, cert, key = make_ca(tmp_path)
    settings = DocumentsConfig(pades=PadesConfig(certificate=str(cert), key=str(key), chain=[str(ca)]))
    who = await learner_id(demo_hub, "Camille Dubois")
    (doc,) = (await issue_documents(services_of(demo_hub), learner_id=who, today=TODAY, settings=settings)).issued
    pdf = demo_hub.blobs.get(doc.sha256)

    import io

    from asn1crypto import pem, x509
    from pyhanko.pdf_utils.reader import PdfFileReader
    from pyhanko.sign.validation import async_validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    root = x509.Certificate.load(pem.unarmor(ca.read_bytes())[2])
    status = await async_validate_pdf_signature(signature, ValidationContext(trust_roots=[root], allow_fetching=False))
    assert status.bottom_line and status.intact and status.valid and status.trusted
    assert "Parcours Demo Signer" in status.signing_cert.subject.human_friendly
    assert status.coverage.name == "ENTIRE_FILE"
    # the hub's own verification reports it; the ledger's SHA-256 is that of the signed file
    keys = KeyRing(keys_dir(demo_hub.config)).lookup()
    verdict = await verify_bytes(pdf, keys=keys, load=lambda d: load_record(services_of(demo_hub), d), use_qr=False,
                                 trust_roots=[ca.read_bytes()])
    assert verdict.status == "valid" and verdict.pades["intact"] and verdict.pades["trusted"]
    # one byte changed inside the signed range
    index = pdf.index(b"/Producer")
    broken = pdf[:index] + b"/Producex" + pdf[index + 9:]
    verdict = await verify_bytes(broken, keys=keys, use_qr=False, trust_roots=[ca.read_bytes()])
    assert verdict.status == "altered"
