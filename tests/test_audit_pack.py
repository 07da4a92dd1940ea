"""The audit pack (hub.audit, `parcours audit-pack`, POST /api/audit-packs) and its standalone verifier
(docs/verify_audit_pack.py), on the demo data sealed in several blocks and time-stamped by a real
`openssl ts` TSA (tests/fakes/tsa.py)."""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import random
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from hub.audit import build as build_mod
from hub.audit.build import AuditPackError, build_audit_pack
from hub.audit.selection import Selection, SelectionError
from hub.documents.issue import issue_documents
from hub.documents.keys import KeyRing
from hub.documents.services import services_of
from hub.documents.settings import keys_dir
from hub.ledger.integrity import check_proof, prove, seal
from tests.conftest import event
from tests.documents.conftest import HUB_EXTRA, PUBLIC_URL, TODAY
from tests.fakes.tsa import openssl_or_skip, tsa_peer_fixture, tsa_pki_fixture  # noqa: F401  (fixtures)
from tests.test_journeys import DEMO_ACTION, ROOT, demo_config

VERIFIER = ROOT / "docs" / "verify_audit_pack.py"
LEDGER = """\
  ledger:
    max_block_events: 100
    tsa_url: "{url}"
    tsa_ca: "{ca}"
    tsa_timeout: 5s
"""


async def audited_hub(make_hub, workdir, tsa_peer):
    """The demo (543 events) sealed in blocks of 100, the newest anchored; then the certificates issued,
    a signed sheet kept as evidence, sealed and anchored again: blocks 0–6, anchors on 5 and 6."""
    hub = await make_hub(HUB_EXTRA + LEDGER.format(url=tsa_peer.url, ca=tsa_peer.pki.ca) + demo_config(workdir))
    hub.config.hub.http.public_url = PUBLIC_URL
    assert (await hub.pull("demo")).appended == 543
    await hub.seal()
    KeyRing(keys_dir(hub.config)).generate()
    await issue_documents(services_of(hub), action=DEMO_ACTION, today=TODAY)
    sheet = await asyncio.to_thread(hub.blobs.put, b"%PDF-1.4 feuille d'emargement signee", media_type="application/pdf",
                                    name="emargement-2026-10-05.pdf")
    await hub.append([{"type": "attendance.signed", "occurred_at": "2026-10-05T12:30:00+02:00", "source_id": "sheet-1",
                       "learner": {"ref": "apprenant-01", "email": "camille.martin@example.fr"}, "action": DEMO_ACTION,
                       "data": {"date": "2026-10-05", "half_day": "am", "modality": "presentiel", "signer": "learner"},
                       "evidence": [sheet.model_dump(exclude_none=True)]}], source="emargement")
    trainer = await asyncio.to_thread(hub.blobs.put, b"%PDF-1.4 feuille du formateur, 7 octobre",
                                      media_type="application/pdf", name="formateur-2026-10-07.pdf")
    await hub.append([{"type": "attendance.signed", "occurred_at": "2026-10-07T12:40:00+02:00", "source_id": "trainer-1",
                       "action": DEMO_ACTION, "data": {"date": "2026-10-07", "half_day": "am", "modality": "presentiel",
                                                       "signer": "trainer", "trainer_name": "Sophie Lambert"},
                       "evidence": [trainer.model_dump(exclude_none=True)]}], source="emargement")
    await hub.seal()
    blocks = await hub.store.call(lambda: list(hub.store.iter_blocks()))
    assert [b["index"] for b in blocks if b["anchor"]] == [5, 6]
    return hub


def verify(pack: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(VERIFIER), str(pack), *extra], capture_output=True, text=True, timeout=120)


def rewrite(pack: Path, out: Path, change: dict, *, manifest_too: bool = False) -> Path:
    """A copy of ``pack`` with entries replaced (name -> function of the bytes); the manifest's hashes
    updated too when ``manifest_too`` (so that only the deeper checks can catch the change)."""
    with zipfile.ZipFile(pack) as src:
        entries = {i.filename: src.read(i.filename) for i in src.infolist()}
    for name, fn in change.items():
        entries[name] = fn(entries[name])
        if manifest_too:
            manifest = json.loads(entries["manifest.json"])
            manifest["files"][name] = {"sha256": hashlib.sha256(entries[name]).hexdigest(), "bytes": len(entries[name])}
            entries["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(out, "w") as dst:
        for name, data in entries.items():
            dst.writestr(name, data)
    return out


def flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0x01]) + data[middle + 1:]


@pytest.fixture
async def demo_pack(make_hub, workdir, tsa_peer):
    hub = await audited_hub(make_hub, workdir, tsa_peer)
    out = workdir / "packs" / "audit.zip"
    result = await build_audit_pack(services_of(hub), hub.head_file(), Selection(DEMO_ACTION, sample=5, seed=7), out)
    return hub, out, result


async def test_the_demo_pack_holds_every_piece_and_the_standalone_verifier_checks_it(demo_pack, tsa_peer):
    hub, out, result = demo_pack
    assert out.exists() and not list(out.parent.glob(".*")), "no temporary file or scratch folder is left"
    assert out.stat().st_mode & 0o777 == 0o600, "personal data: the owner's only"
    run = verify(out, "--tsa-ca", str(tsa_peer.pki.ca))
    assert run.returncode == 0, run.stdout + run.stderr
    assert "ledger/tokens/block-6.tsr: block 6 time-stamped" in run.stdout and "ledger/head.json: signed head" in run.stdout
    with zipfile.ZipFile(out) as z:
        names = set(z.namelist())
        manifest = json.loads(z.read("manifest.json"))
        assert manifest["seed"] == 7 and manifest["selection"]["mode"] == "sample" and len(manifest["learners"]) == 5
        assert set(manifest["files"]) == names - {"manifest.json"}
        assert manifest["ledger"]["last_block"] == 6 and manifest["ledger"]["head"]["block"] == 6
        key = json.loads(z.read("ledger/head-key.json"))  # the head is signed with the active document key
        assert key["key"].startswith("document:") and key["public_key"] == KeyRing(keys_dir(hub.config)).get(
            key["key"].split(":", 1)[1]).raw.hex()
        assert {"README.txt", "index.html", "ledger/blocks.ndjson", "ledger/tokens/block-5.tsr",
                "ledger/tokens/block-6.tsr", "ledger/head.json", "ledger/head-key.json"} <= names
        for learner in manifest["learners"]:
            folder, lid = learner["folder"], learner["id"]
            events = [json.loads(line) for line in z.read(f"{folder}/events.ndjson").splitlines()]
            stored = [e for e in await hub.store.call(hub.store.events_of_learners, [lid], until_seq=10**9)
                      if e["action"] in (DEMO_ACTION, None)]
            assert [e["id"] for e in events] == [e["id"] for e in stored], "every event about the learner, in order"
            assert len(z.read(f"{folder}/proofs.ndjson").splitlines()) == len(events)  # all sealed
            assert z.read(f"{folder}/resume-parcours.pdf").startswith(b"%PDF")
            issued = [e for e in events if e["type"] == "document.issued"]
            for event in issued:  # the certificate's PDF, byte for byte what the blob store holds
                ref = event["evidence"][0]
                assert z.read(f"{folder}/documents/{ref['name']}") == hub.blobs.get(ref["sha256"])
            page = z.read(f"{folder}/index.html").decode()
            assert page.count("<tr><td>") == len(events) and "résumé du parcours" in page
            for link in re.findall(r'href="([^"]+)"', page):
                target = str(Path(folder, link)).replace("learners/../../", "") if link.startswith("../") else f"{folder}/{link}"
                assert target in names or link == "../../index.html", link
        wide = manifest["action_wide"]  # the trainer's signature of the whole action, with its proof and sheet
        assert wide["events"] == 1 and not wide["unsealed_events"] and list(wide["files"].values()) == [
            f"action/evidence/{next(iter(wide['files']))}.pdf"]
        assert z.read(next(iter(wide["files"].values()))) == b"%PDF-1.4 feuille du formateur, 7 octobre"
        assert len(z.read("action/proofs.ndjson").splitlines()) == 1
        index = z.read("index.html").decode()
        assert 'href="action/events.ndjson"' in index
        assert all(f'href="{learner["folder"]}/index.html"' in index for learner in manifest["learners"])
        assert '<html lang="fr">' in index and "http" not in index.split("<body>")[0]
    assert result.seed == 7 and result.events == sum(x["events"] for x in manifest["learners"])
    with zipfile.ZipFile(out) as z:  # each line of proofs.ndjson is what `parcours prove` prints and checks
        lines = [json.loads(x) for x in z.read("learners/001/proofs.ndjson").splitlines()]
    for line in lines:
        assert line["block"]["leaf_format"] == 3 and set(line["event"]) == {"stored"}  # the row as stored
        assert line == await hub.store.call(prove, hub.store, line["event"]["stored"]["id"])
    assert {len(x["anchor_chain"]) for x in lines} >= {0, 1} and all(x["anchor"] for x in lines)
    line = lines[0]
    ok, message = check_proof(line, tsa_ca=[tsa_peer.pki.ca])
    assert ok and "time-stamped" in message, message


async def test_the_journey_summary_is_in_french(demo_pack, tmp_path):
    from tests.documents.conftest import pdftotext

    hub, out, _ = demo_pack
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
        learner = manifest["learners"][0]
        text = " ".join(pdftotext(z.read(f"{learner['folder']}/resume-parcours.pdf"), tmp_path).split())
    report = (await hub.journey_reports(action=DEMO_ACTION, learner_id=learner["id"]))[0]
    assert "Résumé du parcours" in text and report.learner_name in text and "Demi-journées prévues" in text
    assert "heures prévues des demi-journées qui comptent (présentiel)" in text and "somme des modalités" in text
    assert "Taux d'assiduité" in text and "scheduled" not in text and "Documents émis" in text


async def test_evidence_blobs_of_a_learner_are_in_the_pack(make_hub, workdir, tsa_peer):
    hub = await audited_hub(make_hub, workdir, tsa_peer)
    out = workdir / "camille.zip"
    await build_audit_pack(services_of(hub), hub.head_file(),
                           Selection(DEMO_ACTION, learners=("email:camille.martin@example.fr",)), out)
    with zipfile.ZipFile(out) as z:
        sheets = [n for n in z.namelist() if n.startswith("learners/") and "/evidence/" in n]
        assert len(sheets) == 1 and z.read(sheets[0]) == b"%PDF-1.4 feuille d'emargement signee"
        assert sheets[0].endswith(".pdf") and sheets[0].split("/")[-1].startswith(
            hashlib.sha256(z.read(sheets[0])).hexdigest())
    assert verify(out).returncode == 0


@pytest.mark.parametrize("victim", ["events.ndjson", "proofs.ndjson", "resume-parcours.pdf", "index.html", "documents/",
                                    "ledger/blocks.ndjson", "ledger/tokens/block-6.tsr", "ledger/head.json", "README.txt"])
async def test_one_byte_flipped_in_any_file_fails_the_verifier_which_names_it(demo_pack, tmp_path, victim):
    _, out, _ = demo_pack
    with zipfile.ZipFile(out) as z:
        name = next(n for n in sorted(z.namelist()) if victim in n)
    run = verify(rewrite(out, tmp_path / "tampered.zip", {name: flip}))
    assert run.returncode == 1 and f"FAIL {name}: its SHA-256 does not match manifest.json" in run.stderr, run.stderr


async def test_a_file_added_or_removed_fails(demo_pack, tmp_path):
    _, out, _ = demo_pack
    extra = rewrite(out, tmp_path / "added.zip", {})
    with zipfile.ZipFile(extra, "a") as z:
        z.writestr("learners/001/evidence/forged.pdf", b"%PDF forged")
    run = verify(extra)
    assert run.returncode == 1 and "learners/001/evidence/forged.pdf: is in the pack but not in manifest.json" in run.stderr


async def test_a_tampered_proof_path_fails_even_with_the_manifest_rehashed(demo_pack, tmp_path):
    _, out, _ = demo_pack

    def tamper(data: bytes) -> bytes:
        lines = data.splitlines()
        proof = json.loads(lines[2])
        side, sibling = proof["path"][0]
        proof["path"][0] = [side, ("0" if sibling[0] != "0" else "1") + sibling[1:]]
        lines[2] = json.dumps(proof).encode()
        return b"\n".join(lines) + b"\n"

    run = verify(rewrite(out, tmp_path / "path.zip", {"learners/002/proofs.ndjson": tamper}, manifest_too=True))
    assert run.returncode == 1, run.stdout
    assert "FAIL learners/002/proofs.ndjson: line 3 (event " in run.stderr and "Merkle path does not lead" in run.stderr


async def test_an_event_edited_with_its_manifest_hash_fails_against_its_proof(demo_pack, tmp_path):
    _, out, _ = demo_pack

    def edit(data: bytes) -> bytes:
        lines = data.splitlines()
        event = json.loads(lines[0])
        event["occurred_at"] = "2026-01-01T00:00:00.000000Z"
        return b"\n".join([json.dumps(event).encode(), *lines[1:]]) + b"\n"

    run = verify(rewrite(out, tmp_path / "event.zip", {"learners/001/events.ndjson": edit}, manifest_too=True))
    assert run.returncode == 1 and "learners/001/events.ndjson: line 1: event" in run.stderr
    assert "is not the event its proof seals" in run.stderr


async def test_evidence_replaced_with_its_manifest_hash_fails_against_its_sealed_event(demo_pack, tmp_path):
    _, out, _ = demo_pack
    with zipfile.ZipFile(out) as z:
        document = next(n for n in sorted(z.namelist()) if "/documents/" in n)
    run = verify(rewrite(out, tmp_path / "doc.zip", {document: lambda pdf: pdf.replace(b"%PDF-1.4", b"%PDF-1.7", 1)},
                         manifest_too=True))
    assert run.returncode == 1 and f"FAIL {document}: is not the evidence sealed with event" in run.stderr, run.stderr


async def test_the_trainers_sheet_replaced_fails_against_its_sealed_event(demo_pack, tmp_path):
    _, out, _ = demo_pack
    with zipfile.ZipFile(out) as z:
        sheet = next(n for n in z.namelist() if n.startswith("action/evidence/"))
    run = verify(rewrite(out, tmp_path / "trainer.zip", {sheet: lambda _: b"%PDF-1.4 une autre feuille"}, manifest_too=True))
    assert run.returncode == 1 and f"FAIL {sheet}: is not the evidence sealed with event" in run.stderr, run.stderr


async def test_a_tsa_token_for_another_digest_is_refused(demo_pack, tmp_path, tsa_peer):
    _, out, _ = demo_pack
    with zipfile.ZipFile(out) as z:
        other = z.read("ledger/tokens/block-5.tsr")
        blocks = {json.loads(line)["index"]: json.loads(line) for line in z.read("ledger/blocks.ndjson").splitlines()}
    swapped = rewrite(out, tmp_path / "swapped.zip", {"ledger/tokens/block-6.tsr": lambda _: other}, manifest_too=True)
    run = verify(swapped, "--tsa-ca", str(tsa_peer.pki.ca))
    assert run.returncode == 1 and "FAIL ledger/tokens/block-6.tsr: time-stamp token of block 6: the token " \
                                   "time-stamps" in run.stderr, run.stderr
    # the oracle agrees: openssl ts -verify accepts the token for block 5's hash, refuses it for block 6's
    (tmp_path / "t.der").write_bytes(other)
    for index, expected in ((5, 0), (6, 1)):
        oracle = subprocess.run([openssl_or_skip(), "ts", "-verify", "-digest", blocks[index]["hash"], "-in",
                                 str(tmp_path / "t.der"), "-token_in", "-CAfile", str(tsa_peer.pki.ca)],
                                capture_output=True, text=True, timeout=60)
        assert (oracle.returncode != 0) == bool(expected), oracle.stdout + oracle.stderr


async def test_a_token_altered_or_under_another_ca_is_refused(demo_pack, tmp_path, tsa_peer):
    _, out, _ = demo_pack
    run = verify(out, "--tsa-ca", str(tsa_peer.pki.other_ca))
    assert run.returncode == 1 and "does not chain to the given CA(s)" in run.stderr
    run = verify(out, "--tsa-ca", str(tmp_path / "missing.pem"))
    assert run.returncode == 2 and "FAIL --tsa-ca: cannot read the CA certificate(s)" in run.stderr

    def alter_signature(token: bytes) -> bytes:  # the last bytes are the signature's
        return token[:-3] + bytes([token[-3] ^ 0x40]) + token[-2:]

    run = verify(rewrite(out, tmp_path / "sig.zip", {"ledger/tokens/block-6.tsr": alter_signature}, manifest_too=True))
    assert run.returncode == 1 and "FAIL ledger/tokens/block-6.tsr: time-stamp token of block 6: the token's " \
                                   "signature does not verify" in run.stderr, run.stderr


async def test_a_forged_head_or_a_broken_chain_fails(demo_pack, tmp_path):
    _, out, _ = demo_pack

    def forge(data: bytes) -> bytes:
        head = json.loads(data)
        head["events"] += 1
        return json.dumps(head).encode()

    run = verify(rewrite(out, tmp_path / "head.zip", {"ledger/head.json": forge}, manifest_too=True))
    assert run.returncode == 1 and "FAIL ledger/head.json: its signature does not verify" in run.stderr

    def unchain(data: bytes) -> bytes:
        lines = data.splitlines()
        return b"\n".join(lines[:1] + lines[2:]) + b"\n"  # a block left out

    run = verify(rewrite(out, tmp_path / "chain.zip", {"ledger/blocks.ndjson": unchain}, manifest_too=True))
    assert run.returncode == 1 and "FAIL ledger/blocks.ndjson: line 2: block" in run.stderr and "does not chain" in run.stderr


def test_the_verifier_imports_nothing_but_the_standard_library_and_cryptography():
    tree = ast.parse(VERIFIER.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0
            roots.add(node.module.split(".")[0])
    assert "hub" not in roots
    assert roots - set(sys.stdlib_module_names) == {"cryptography"}, roots


# --------------------------------------------------------------------------- bad input: no file


async def test_unknown_action_empty_sample_and_unknown_learner_are_clear_errors_and_write_nothing(
        make_hub, workdir, tsa_peer):
    hub = await audited_hub(make_hub, workdir, tsa_peer)
    out = workdir / "out" / "pack.zip"
    cases = [(Selection("ACT-NOPE", sample=3), "unknown training action 'ACT-NOPE' (known: ACT-2026-REACT-01)"),
             (Selection(DEMO_ACTION, funder="OPCO Nulle Part", period="2026-10"),
              "empty sample: no learner of action ACT-2026-REACT-01 funded by OPCO Nulle Part with training in 2026-10"),
             (Selection(DEMO_ACTION, learners=("email:nobody@example.fr",)), "unknown learner 'email:nobody@example.fr'")]
    for selection, message in cases:
        with pytest.raises(SelectionError) as caught:
            await build_audit_pack(services_of(hub), hub.head_file(), selection, out)
        assert str(caught.value) == message
        assert not out.parent.exists() or not list(out.parent.iterdir())
    with pytest.raises(SelectionError, match="empty sample: --sample must be at least 1"):
        Selection(DEMO_ACTION, sample=0)


async def test_a_funder_and_a_period_select_the_learners_it_financed_then(make_hub, workdir, tsa_peer):
    hub = await audited_hub(make_hub, workdir, tsa_peer)
    reports = await hub.journey_reports(action=DEMO_ACTION)
    funders = sorted({f for r in reports for f in r.funders})
    funder = max(funders, key=lambda f: sum(f in r.funders for r in reports))
    expected = sorted(r.learner_id for r in reports if funder in r.funders)
    assert 0 < len(expected) < len(reports)
    result = await build_audit_pack(services_of(hub), hub.head_file(),
                                    Selection(DEMO_ACTION, funder=funder, period="2026-10"), workdir / "f.zip")
    assert result.learners == expected and result.seed is None
    with pytest.raises(SelectionError, match=f"no learner of action {DEMO_ACTION} funded by {funder} with training "
                                             "in 2025"):
        await build_audit_pack(services_of(hub), hub.head_file(), Selection(DEMO_ACTION, funder=funder, period="2025"),
                               workdir / "g.zip")
    assert verify(workdir / "f.zip").returncode == 0 and not (workdir / "g.zip").exists()


async def test_a_full_disk_leaves_no_partial_file(make_hub, workdir, tsa_peer, monkeypatch):
    import errno

    from hub.audit import zipfile_out

    hub = await audited_hub(make_hub, workdir, tsa_peer)
    out = workdir / "out" / "pack.zip"
    out.parent.mkdir()
    real = zipfile_out.open_private

    class FullDisk:
        """The pack's file, on a disk that fills up after 300 kB."""

        def __init__(self, path):
            self.fh, self.written = real(path), 0

        def write(self, data):
            self.written += len(data)
            if self.written > 300_000:
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.fh.write(data)

        def __getattr__(self, name):
            return getattr(self.fh, name)

    monkeypatch.setattr(zipfile_out, "open_private", FullDisk)
    with pytest.raises(AuditPackError, match=r"cannot write the audit pack .*pack.zip: No space left on device; "
                                              "nothing was kept"):
        await build_audit_pack(services_of(hub), hub.head_file(), Selection(DEMO_ACTION, sample=4, seed=1), out)
    assert list(out.parent.iterdir()) == []


async def test_a_seeded_sample_is_reproducible_and_the_seed_is_in_the_manifest(make_hub, workdir, tsa_peer):
    hub = await audited_hub(make_hub, workdir, tsa_peer)
    services, head = services_of(hub), hub.head_file()
    first = await build_audit_pack(services, head, Selection(DEMO_ACTION, sample=4, seed=2026), workdir / "a.zip")
    again = await build_audit_pack(services, head, Selection(DEMO_ACTION, sample=4, seed=2026), workdir / "b.zip")
    other = await build_audit_pack(services, head, Selection(DEMO_ACTION, sample=4, seed=1), workdir / "c.zip")
    assert first.learners == again.learners != other.learners and len(first.learners) == 4
    population = sorted(s["learner_id"] for s in await hub.store.call(hub.store.journeys, action=DEMO_ACTION))
    assert first.learners == sorted(random.Random(2026).sample(population, 4))
    drawn = await build_audit_pack(services, head, Selection(DEMO_ACTION, sample=3), workdir / "d.zip")
    with zipfile.ZipFile(workdir / "d.zip") as z:
        manifest = json.loads(z.read("manifest.json"))
    assert manifest["seed"] == drawn.seed is not None and manifest["selection"]["seed"] == drawn.seed
    assert drawn.learners == sorted(random.Random(drawn.seed).sample(population, 3))


async def test_the_builder_reads_events_a_page_at_a_time_and_copies_blobs_in_chunks(make_hub, workdir, tsa_peer,
                                                                                     monkeypatch):
    from hub.audit import zipfile_out

    hub = await audited_hub(make_hub, workdir, tsa_peer)
    monkeypatch.setattr(build_mod, "PAGE", 7)
    monkeypatch.setattr(build_mod, "GROUP", 2)
    monkeypatch.setattr(zipfile_out, "CHUNK", 5)
    pages, store = [], hub.store
    real = store.learner_events_page

    def paged(*args, **kwargs):
        page = real(*args, **kwargs)
        pages.append((kwargs["limit"], len(page)))
        return page

    monkeypatch.setattr(store, "learner_events_page", paged)
    for unbounded in ("events_of_learners", "journeys", "iter_blocks"):  # reads that return everything at once
        monkeypatch.setattr(store, unbounded, lambda *a, **k: pytest.fail("an unbounded read"))
    copies = {}
    real_write = zipfile_out.PackFile.write_chunks

    def recording(self, name, source):
        chunks = list(source)
        if "/evidence/" in name or "/documents/" in name:
            copies[name] = max(len(c) for c in chunks)
        return real_write(self, name, chunks)

    monkeypatch.setattr(zipfile_out.PackFile, "write_chunks", recording)
    result = await build_audit_pack(services_of(hub), hub.head_file(), Selection(DEMO_ACTION, sample=5, seed=3),
                                    workdir / "paged.zip")
    assert all(limit == 7 and size <= 7 for limit, size in pages)
    assert len(pages) >= result.events // 7 and result.events > 100
    assert copies and set(copies.values()) == {5}, "blobs are copied a chunk at a time"
    assert verify(workdir / "paged.zip").returncode == 0



# --------------------------------------------------------------------------- the admin API and the command line


async def test_the_admin_api_writes_the_pack_and_answers_its_path(make_hub, workdir, tsa_peer, aiohttp_server_factory):
    import aiohttp

    from hub.runtime.server import build_app
    from tests.conftest import TOKEN

    hub = await audited_hub(make_hub, workdir, tsa_peer)
    server = await aiohttp_server_factory(build_app(hub))
    url = f"http://127.0.0.1:{server.port}/api/audit-packs"
    auth = {"Authorization": f"Bearer {TOKEN}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(url, json={"action": DEMO_ACTION, "sample": 2}) as response:
            assert response.status == 401
        async with http.post(url, json={"action": "ACT-NOPE", "sample": 2}, headers=auth) as response:
            assert response.status == 400 and "unknown training action 'ACT-NOPE'" in (await response.json())["error"]
        async with http.post(url, json={"action": DEMO_ACTION, "sample": 2, "learners": ["x"]}, headers=auth) as response:
            assert response.status == 400 and "choose one selection" in (await response.json())["error"]
        assert not (workdir / "var" / "audit-packs").exists() or not list((workdir / "var" / "audit-packs").iterdir())
        async with http.post(url, json={"action": DEMO_ACTION, "sample": 2, "seed": 5}, headers=auth) as response:
            assert response.status == 201, await response.text()
            answer = await response.json()
    path = Path(answer["path"])
    assert path.parent == hub.config.data_dir / "audit-packs" and path.exists() and answer["seed"] == 5
    assert answer["bytes"] == path.stat().st_size and len(answer["learners"]) == 2
    assert verify(path).returncode == 0


async def test_the_command_prints_the_seed_it_chose_and_refuses_bad_input_without_writing(make_hub, workdir, tsa_peer):
    from click.testing import CliRunner

    from hub.cli import main

    await audited_hub(make_hub, workdir, tsa_peer)

    async def parcours(*args):  # in-process, in a thread: this loop serves the TSA
        result = await asyncio.wait_for(asyncio.to_thread(CliRunner().invoke, main, [*args, "--config", "hub.yaml"]), 120)
        return result.exit_code, result.stdout, result.stderr

    code, out, err = await parcours("audit-pack", "--action", DEMO_ACTION, "--sample", "3", "--out", "p.zip")
    assert code == 0, err
    seed = int(out.split("seed ", 1)[1].split()[0])
    assert f"(give --seed {seed} to draw the same sample again)" in out and "wrote p.zip: 3 learner(s)" in out
    assert json.loads(zipfile.ZipFile(workdir / "p.zip").read("manifest.json"))["seed"] == seed
    code, out, err = await parcours("audit-pack", "--action", "ACT-NOPE", "--sample", "3", "--out", "q.zip")
    assert code == 1 and "error: unknown training action 'ACT-NOPE'" in err
    code, out, err = await parcours("audit-pack", "--action", DEMO_ACTION, "--sample", "0", "--out", "q.zip")
    assert code == 2 and "empty sample" in err
    code, out, err = await parcours("audit-pack", "--action", DEMO_ACTION, "--learners", "email:camille.martin@example.fr",
                                    "--seed", "3", "--out", "q.zip")
    assert code == 2 and "--seed goes with --sample" in err
    assert not (workdir / "q.zip").exists() and not [p for p in workdir.iterdir() if p.name.startswith(".")]


async def test_a_pack_on_each_store(make_hub, each_store_url, workdir):
    """The store reads the builder pages with (a learner's events, an action's learner ids) on SQLite and
    PostgreSQL alike; events appended after the last seal are packed without a proof and named as such."""
    hub = await make_hub("actions:\n  ACT-1: {title: Action test, start: 2026-10-05, end: 2026-10-09}\n",
                         store_url=each_store_url)
    await hub.append([event(i) for i in range(40)], source=None)
    await hub.store.call(seal, hub.store, max_events=15)
    await hub.append([event(i) for i in range(40, 45)] + [event(45, action=None)], source=None)
    out = workdir / "store.zip"
    result = await build_audit_pack(services_of(hub), hub.head_file(),
                                    Selection("ACT-1", learners=("email:u3@example.fr", "email:u5@example.fr")), out)
    assert result.events == 13 and result.unsealed == 2  # u3: 3, 10, …, 38 and 45 (no action); u5: 5, 12, …, 40
    with zipfile.ZipFile(out) as z:
        manifest = json.loads(z.read("manifest.json"))
    assert [len(x["unsealed_events"]) for x in manifest["learners"]] == [1, 1]
    assert manifest["ledger"]["first_block"] == 0 and manifest["ledger"]["last_block"] == 2
    run = verify(out)
    assert run.returncode == 0, run.stderr


async def test_a_request_cut_by_the_timeout_stops_the_builder_and_keeps_nothing(make_hub, workdir, tsa_peer,
                                                                                aiohttp_server_factory, monkeypatch):
    import datetime as dt
    import threading

    import aiohttp

    from hub.audit import summary
    from hub.runtime.server import build_app
    from tests.conftest import TOKEN

    hub = await audited_hub(make_hub, workdir, tsa_peer)
    hub.config.hub.http.request_timeout = dt.timedelta(seconds=0.5)
    release = threading.Event()
    real = summary.render_summary

    def slow(*args, **kwargs):  # the first summary takes longer than the request may
        release.wait(10)
        return real(*args, **kwargs)

    monkeypatch.setattr(build_mod, "render_summary", slow)
    server = await aiohttp_server_factory(build_app(hub))
    async with aiohttp.ClientSession() as http:
        async with http.post(f"http://127.0.0.1:{server.port}/api/audit-packs", json={"action": DEMO_ACTION, "sample": 3},
                             headers={"Authorization": f"Bearer {TOKEN}"}) as response:
            assert response.status == 503 and "timed out" in (await response.json())["error"]
    folder = hub.config.data_dir / "audit-packs"
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")], "the pack was being written"
    release.set()
    for _ in range(200):
        if not list(folder.iterdir()):
            break
        await asyncio.sleep(0.05)
    assert list(folder.iterdir()) == [], "the builder gave up and removed its temporary file and scratch folder"
