#!/usr/bin/env python3
"""Check a Parcours Hub audit pack offline: python3 verify_audit_pack.py PACK.zip [--tsa-ca CA.pem ...]

Standard library and `cryptography` only (no Parcours Hub needed). Checks, naming the file at fault:
1. every file's SHA-256 and size against manifest.json, and that no file was added or removed;
2. every event of learners/*/events.ndjson (and action/events.ndjson) has its proof in proofs.ndjson (or is listed as not sealed
   yet), each evidence file and document is the one (by SHA-256) its sealed event names, and each
   proof's Merkle path (RFC 6962: leaf = SHA-256(0x00 || canonical event), node =
   SHA-256(0x01 || left || right); leaf format 2 also seals learner_id and learner_key; leaf format 3
   hashes the row's columns as stored, each a netstring: NULL as "-", else "<byte length>:<UTF-8 bytes>",
   which the proof carries as "stored", and whose decoding must be the event shown) leads to the
   root of its block, whose header is in ledger/blocks.ndjson;
3. each block header hashes to its hash and holds the previous block's hash;
4. the signed ledger head (Ed25519 over its canonical fields) with ledger/head-key.json, and that it
   names a block of the pack with the same hash;
5. each RFC 3161 token in ledger/tokens/: its message imprint is the hash of the block it anchors and
   its CMS signature verifies with the TSA certificate it carries (with --tsa-ca, that certificate must
   chain to one of the given CAs).
Exit 0 when all checks pass, 1 otherwise (2: not a readable pack).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import hashlib
import json
import sys
import zipfile

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

EVENT_FIELDS = ("id", "type", "occurred_at", "received_at", "source", "source_id", "learner", "action", "data",
                "evidence", "supersedes")
# what a format-3 leaf hashes, in this order, exactly as stored
LEAF_COLUMNS = ("id", "type", "occurred_us", "received_at", "source", "source_id", "learner", "action", "data",
                "evidence", "supersedes", "learner_id", "learner_key")
PLAIN_COLUMNS = ("id", "type", "received_at", "source", "source_id", "action", "supersedes", "learner_id", "learner_key")
HEADER_FIELDS = ("index", "first_seq", "last_seq", "count", "root", "prev_hash", "sealed_at")
HEAD_FIELDS = ("format", "block", "hash", "blocks", "events", "anchored", "time", "key")
GENESIS = "0" * 64
DIGESTS = {"2.16.840.1.101.3.4.2.1": hashes.SHA256, "2.16.840.1.101.3.4.2.2": hashes.SHA384,
           "2.16.840.1.101.3.4.2.3": hashes.SHA512, "1.3.14.3.2.26": hashes.SHA1}
MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


def canonical(value) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def column_bytes(value) -> bytes:
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value).encode()
    if isinstance(value, dict) and set(value) == {"bytes"}:  # a SQLite blob, as hex
        return bytes.fromhex(value["bytes"])
    raise ValueError(f"a stored column holds {type(value).__name__}")


def stored_form(stored: dict) -> bytes:
    """The bytes a format-3 leaf hashes after 0x00: each column as a netstring, in LEAF_COLUMNS order."""
    out = b""
    for name in LEAF_COLUMNS:
        value = stored[name]
        raw = None if value is None else column_bytes(value)
        out += b"-" if raw is None else str(len(raw)).encode() + b":" + raw
    return out


def leaf_hash(body: dict, leaf_format: int = 1) -> bytes:
    if leaf_format >= 3:
        return sha256(b"\x00" + stored_form(body["stored"]))
    return sha256(b"\x00" + canonical(body))


def format_us(micros: int) -> str:
    moment = datetime.datetime(1970, 1, 1) + datetime.timedelta(microseconds=micros)
    return moment.isoformat(timespec="microseconds") + "Z"


def stored_problem(event: dict, stored: dict) -> str | None:
    """What differs between an event of the pack and the stored columns its format-3 proof seals."""
    if "stored" in event:  # a row that could not be decoded is shown as stored
        same = all(event["stored"].get(k) == stored.get(k) for k in event["stored"])
        return None if same else "its stored columns differ"
    decoded = {k: stored[k] for k in PLAIN_COLUMNS}
    decoded["occurred_at"] = format_us(stored["occurred_us"])
    decoded["data"] = json.loads(stored["data"])
    decoded["learner"] = json.loads(stored["learner"]) if stored["learner"] else None
    decoded["evidence"] = (json.loads(stored["evidence"]) if stored["evidence"] else None) or []
    wrong = sorted(k for k, v in decoded.items() if canonical(event.get(k)) != canonical(v))
    return f"its {', '.join(wrong)} differ" if wrong else None


def header_hash(block: dict) -> str:
    fields = {k: block[k] for k in HEADER_FIELDS}
    if (block.get("leaf_format") or 1) != 1:
        fields["leaf_format"] = block["leaf_format"]
    return hashlib.sha256(canonical(fields)).hexdigest()


# --------------------------------------------------------------------------- minimal DER


def der(data: bytes, pos: int = 0) -> tuple[int, int, int]:
    """(tag, start of content, end) of the DER element at ``pos``."""
    tag, length = data[pos], data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        length = int.from_bytes(data[pos:pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, element start, content start, end) of each element between ``start`` and ``end``."""
    out = []
    while start < end:
        tag, content, stop = der(data, start)
        out.append((tag, start, content, stop))
        start = stop
    return out


def oid(raw: bytes) -> str:
    parts, value = [raw[0] // 40, raw[0] % 40], 0
    for byte in raw[1:]:
        value = value << 7 | byte & 0x7F
        if not byte & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def check_token(token: bytes, block_hash: str, cas: list) -> str:
    """Check an RFC 3161 token against the block hash it should time-stamp; its genTime. ValueError if not."""
    _, c, e = der(token)
    signed = children(token, c, e)[1]
    _, sd_c, sd_e = der(token, signed[2])  # [0] EXPLICIT SignedData
    parts = children(token, sd_c, sd_e)
    encap = parts[2]
    econtent = children(token, encap[2], encap[3])[1]  # [0] EXPLICIT OCTET STRING (the TSTInfo)
    _, os_c, os_e = der(token, econtent[2])
    tst = token[os_c:os_e]
    _, t_c, t_e = der(tst)
    tst_parts = children(tst, t_c, t_e)
    imprint = children(tst, tst_parts[2][2], tst_parts[2][3])
    algorithm = children(tst, imprint[0][2], imprint[0][3])[0]
    if oid(tst[algorithm[2]:algorithm[3]]) != "2.16.840.1.101.3.4.2.1":
        raise ValueError("the token's imprint is not a SHA-256 digest")
    stamped = tst[imprint[1][2]:imprint[1][3]].hex()
    if stamped != block_hash:
        raise ValueError(f"the token time-stamps {stamped[:16]}…, not the block's hash {block_hash[:16]}…")
    gen_time = tst[tst_parts[4][2]:tst_parts[4][3]].decode()
    certs = [x509.load_der_x509_certificate(token[start:stop]) for _, start, _, stop in
             children(token, parts[3][2], parts[3][3])] if parts[3][0] == 0xA0 else []
    signer_infos = parts[-1]
    signer = children(token, signer_infos[2], signer_infos[3])[0]
    fields = children(token, signer[2], signer[3])
    sid, digest_alg, attrs, _sig_alg, signature = fields[1], fields[2], fields[3], fields[4], fields[5]
    algorithm = children(token, digest_alg[2], digest_alg[3])[0]
    digest = DIGESTS[oid(token[algorithm[2]:algorithm[3]])]
    if attrs[0] != 0xA0:
        raise ValueError("the token has no signed attributes")
    found = None
    for _, _, a_c, a_e in children(token, attrs[2], attrs[3]):
        kind, values = children(token, a_c, a_e)
        if oid(token[kind[2]:kind[3]]) == MESSAGE_DIGEST:
            value = children(token, values[2], values[3])[0]
            found = token[value[2]:value[3]]
    h = hashes.Hash(digest())
    h.update(tst)
    if found != h.finalize():
        raise ValueError("the token's signed digest does not match its content (altered token)")
    cert = signer_certificate(token, sid, certs)
    signed_bytes = b"\x31" + token[attrs[1] + 1:attrs[3]]  # signed as a SET OF, not with the [0] tag
    key = cert.public_key()
    sig = token[signature[2]:signature[3]]
    try:
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(sig, signed_bytes, padding.PKCS1v15(), digest())
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(sig, signed_bytes, ec.ECDSA(digest()))
        elif isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, signed_bytes)
        else:
            raise ValueError(f"unsupported TSA key {type(key).__name__}")
    except InvalidSignature:
        raise ValueError("the token's signature does not verify with its TSA certificate") from None
    if cas and not chains_to(cert, certs, cas):
        raise ValueError(f"the TSA certificate {cert.subject.rfc4514_string()} does not chain to the given CA(s)")
    return gen_time


def signer_certificate(token: bytes, sid, certs: list):
    if sid[0] == 0x30:  # issuerAndSerialNumber
        issuer, serial = children(token, sid[2], sid[3])
        wanted_issuer, wanted_serial = token[issuer[1]:issuer[3]], int.from_bytes(token[serial[2]:serial[3]], "big")
        match = [c for c in certs if c.issuer.public_bytes() == wanted_issuer and c.serial_number == wanted_serial]
    else:  # [0] subjectKeyIdentifier
        wanted = token[sid[2]:sid[3]]
        match = [c for c in certs if _ski(c) == wanted]
    if not match:
        raise ValueError("the token does not carry the certificate that signed it")
    return match[0]


def _ski(cert) -> bytes | None:
    try:
        return cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return None


def chains_to(cert, carried: list, cas: list) -> bool:
    current = cert
    for _ in range(8):
        for issuer in cas + [c for c in carried if c != current]:
            if current.issuer == issuer.subject:
                try:
                    current.verify_directly_issued_by(issuer)
                except (ValueError, TypeError, InvalidSignature):
                    continue
                if issuer in cas:
                    return True
                current = issuer
                break
        else:
            return False
    return False


# --------------------------------------------------------------------------- the pack


class Pack:
    def __init__(self, path: str, cas: list):
        self.zip = zipfile.ZipFile(path)
        self.cas = cas
        self.problems: list[str] = []
        self.digests: dict[str, str] = {}  # file -> its SHA-256, as computed

    def fail(self, name: str, message: str) -> None:
        self.problems.append(f"{name}: {message}")

    def read(self, name: str) -> bytes:
        return self.zip.read(name)

    def check_files(self) -> dict:
        manifest = json.loads(self.read("manifest.json"))
        listed = manifest.get("files", {})
        present = {i.filename for i in self.zip.infolist() if not i.is_dir()} - {"manifest.json"}
        for name in sorted(present - set(listed)):
            self.fail(name, "is in the pack but not in manifest.json (added)")
        for name in sorted(set(listed) - present):
            self.fail(name, "is in manifest.json but not in the pack (removed)")
        for name in sorted(present & set(listed)):
            digest, size = hashlib.sha256(), 0
            with self.zip.open(name) as fh:
                for chunk in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(chunk)
                    size += len(chunk)
            self.digests[name] = digest.hexdigest()
            if digest.hexdigest() != listed[name]["sha256"] or size != listed[name]["bytes"]:
                self.fail(name, "its SHA-256 does not match manifest.json (the file was altered)")
        return manifest

    def check_blocks(self, manifest: dict) -> dict:
        name, blocks, previous = "ledger/blocks.ndjson", {}, None
        for number, line in enumerate(self.read(name).splitlines(), start=1):
            block = json.loads(line)
            if header_hash(block) != block["hash"]:
                self.fail(name, f"line {number}: block {block['index']}'s header does not hash to its hash")
            if previous is not None and (block["index"] != previous["index"] + 1 or block["prev_hash"] != previous["hash"]):
                self.fail(name, f"line {number}: block {block['index']} does not chain to block {previous['index']}")
            if block["index"] == 0 and block["prev_hash"] != GENESIS:
                self.fail(name, "block 0 does not start the chain")
            blocks[block["index"]] = previous = block
        for index, block in sorted(blocks.items()):
            anchor = block.get("anchor")
            if anchor:
                try:
                    gen_time = check_token(self.read(anchor["token"]), block["hash"], self.cas)
                    print(f"ok   {anchor['token']}: block {index} time-stamped {gen_time} ({anchor['tsa']})")
                except (ValueError, IndexError, KeyError) as exc:
                    self.fail(anchor["token"], f"time-stamp token of block {index}: {exc}")
        return blocks

    def check_head(self, manifest: dict, blocks: dict) -> None:
        if not manifest["ledger"].get("head"):
            return
        head, key = json.loads(self.read("ledger/head.json")), json.loads(self.read("ledger/head-key.json"))
        body = {k: head[k] for k in HEAD_FIELDS}
        if body["key"] != key["key"]:
            self.fail("ledger/head-key.json", "is not the key the head names")
            return
        try:
            public = ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(key["public_key"]))
            public.verify(base64.b64decode(head["signature"]), canonical(body))
        except (InvalidSignature, ValueError):
            self.fail("ledger/head.json", "its signature does not verify with ledger/head-key.json")
            return
        block = blocks.get(body["block"])
        if block is None or block["hash"] != body["hash"]:
            self.fail("ledger/head.json", f"names block {body['block']}, which the pack's chain does not hold as signed")
        else:
            print(f"ok   ledger/head.json: signed head of {body['time']} (block {body['block']}), key {key['public_key'][:16]}…")

    def check_learner(self, learner: dict, blocks: dict) -> int:
        folder = learner["folder"]
        proofs = {}
        for number, line in enumerate(self.read(f"{folder}/proofs.ndjson").splitlines(), start=1):
            proof = json.loads(line)
            name = f"{folder}/proofs.ndjson"
            event_id = (proof["event"].get("stored") or proof["event"])["id"]
            problem = self.proof_problem(proof, blocks)
            if problem:
                self.fail(name, f"line {number} (event {event_id}): {problem}")
            proofs[event_id] = proof
        unsealed = set(learner.get("unsealed_events") or [])
        count = 0
        for number, line in enumerate(self.read(f"{folder}/events.ndjson").splitlines(), start=1):
            event = json.loads(line)
            count += 1
            for ref in event.get("evidence") or []:  # each evidence file is the one its event names
                path = learner.get("files", {}).get(ref.get("sha256"))
                if path is None:
                    self.fail(f"{folder}/events.ndjson", f"line {number}: evidence {ref.get('sha256')} of event "
                                                         f"{event['id']} is not in the pack")
                elif self.digests.get(path) != ref["sha256"]:
                    self.fail(path, f"is not the evidence sealed with event {event['id']} (its SHA-256 differs)")
            proof = proofs.get(event["id"])
            if proof is None:
                if event["id"] not in unsealed:
                    self.fail(f"{folder}/events.ndjson", f"line {number}: event {event['id']} has no proof")
                continue
            block = proof["block"]
            if (block.get("leaf_format") or 1) >= 3:
                problem = stored_problem(event, proof["event"]["stored"])
                if problem:
                    self.fail(f"{folder}/events.ndjson", f"line {number}: event {event['id']} is not the event its "
                                                         f"proof seals ({problem})")
                continue
            fields = EVENT_FIELDS + (("learner_id", "learner_key") if (block.get("leaf_format") or 1) >= 2 else ())
            body = {"stored": event["stored"]} if "stored" in event else {k: event.get(k) for k in fields}
            if canonical(body) != canonical(proof["event"]):
                self.fail(f"{folder}/events.ndjson", f"line {number}: event {event['id']} is not the event its proof seals")
        return count

    @staticmethod
    def proof_problem(proof: dict, blocks: dict) -> str | None:
        block = proof["block"]
        if header_hash(block) != block["hash"]:
            return "its block header does not hash to its hash"
        known = blocks.get(block["index"])
        if known is None or known["hash"] != block["hash"]:
            return f"block {block['index']} is not the block of ledger/blocks.ndjson"
        node = leaf_hash(proof["event"], block.get("leaf_format") or 1)
        for side, sibling in proof["path"]:
            other = bytes.fromhex(sibling)
            node = sha256(b"\x01" + other + node) if side == "left" else sha256(b"\x01" + node + other)
        if node.hex() != block["root"]:
            return f"its Merkle path does not lead to block {block['index']}'s root"
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pack")
    parser.add_argument("--tsa-ca", action="append", default=[], help="PEM file of a CA the TSA must chain to")
    args = parser.parse_args(argv)
    try:
        cas = [c for path in args.tsa_ca for c in x509.load_pem_x509_certificates(open(path, "rb").read())]
    except (OSError, ValueError) as exc:
        print(f"FAIL --tsa-ca: cannot read the CA certificate(s) ({exc})", file=sys.stderr)
        return 2
    try:
        pack = Pack(args.pack, cas)
        manifest = pack.check_files()
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        print(f"FAIL {args.pack}: not a readable audit pack ({exc})", file=sys.stderr)
        return 2
    try:
        blocks = pack.check_blocks(manifest)
        pack.check_head(manifest, blocks)
        folders = manifest["learners"] + ([manifest["action_wide"]] if manifest.get("action_wide") else [])
        events = sum(pack.check_learner(folder, blocks) for folder in folders)
        unsealed = sum(len(folder.get("unsealed_events") or []) for folder in folders)
    except (KeyError, ValueError, TypeError, IndexError) as exc:
        pack.fail(args.pack, f"unreadable content ({type(exc).__name__}: {exc})")
        events = unsealed = 0
    for problem in pack.problems:
        print(f"FAIL {problem}", file=sys.stderr)
    if pack.problems:
        return 1
    print(f"ok   {len(manifest['files'])} files match manifest.json; {events - unsealed} events of "
          f"{len(manifest['learners'])} learner(s) proved in blocks {manifest['ledger']['first_block']}–"
          f"{manifest['ledger']['last_block']}" + (f"; {unsealed} not sealed yet when packed (no proof)" if unsealed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
