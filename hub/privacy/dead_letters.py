"""Dead letters reached by erasure: the rejects (records that never became events) that name a
person being erased, found and scrubbed (docs/retention.md, section 2).

**Finding them.** A person is named in a reject by what the registry knows of them: their e-mail
(``learners.email`` and ``email:`` keys), the source's reference of a ``src:<source>:<ref>`` key
(looked for in that source's rejects only: another source's ``17`` is someone else) and the value
of an ``id:<namespace>:<value>`` key (anywhere). :class:`Finder` holds those of a whole run in
sets; each reject's payload is decoded once and its values looked up in them, so one pass over
the rejects serves any number of persons (:func:`find_dead_letters`). A value names the person
when it *is* one of their ids (a string, or a number under an id-like key such as ``userid``), or
contains their e-mail. The person's name alone is not searched for (homonyms), only scrubbed.

**Scrubbing them** (:func:`scrub`): in a reject that names the person, the same fields as an
erased event's are replaced by :data:`ERASED` (:data:`hub.privacy.pseudonymise.PERSONAL_KEYS`,
at any depth, plus the usual names of the same fields in raw source records:
:data:`RAW_PERSONAL_KEYS`), and the ``learner`` reference of an event-shaped record; any other
value equal to one of the person's ids, and their e-mail and name inside any text (the error
message too), are replaced as well. A payload that cannot be decoded, or is bare text, is replaced
whole by a marker saying it was erased, when and by which record. The reject's source, stage,
reason and time stay: ``parcours dlq list`` still shows it, marked erased, and a replay refuses it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable

from hub.privacy.pseudonymise import PERSONAL_KEYS

ERASED = "[erased]"
PAGE = 5000  # rejects read per store call

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TOKEN_SPLIT = re.compile(r"[\s,;|\"'<>()\[\]{}=]+")


@functools.lru_cache(maxsize=4096)
def _norm(key: str) -> str:
    """A field name compared by its letters: lower case, accents and separators dropped (``Prénom`` -> ``prenom``)."""
    return re.sub(r"[^a-z]", "", unicodedata.normalize("NFKD", key.lower()))


#: the raw-record names of personal fields (normalised: lower case, letters only), beside the events' ones
RAW_PERSONAL_KEYS = frozenset({_norm(k) for k in PERSONAL_KEYS} | {
    "fullname", "givenname", "familyname", "surname", "username", "displayname", "mail", "emailaddress", "useremail",
    "mobile", "mobilephone", "phonenumber", "telephone", "tel", "address", "addressline", "street", "postcode",
    "postalcode", "zipcode", "birthdate", "dateofbirth", "birthday", "birthplace", "nir", "socialsecuritynumber",
    "ip", "ipaddress", "useragent", "nom", "prenom", "nomcomplet", "courriel", "adresse", "datenaissance",
    "datedenaissance", "portable",
})
_ID_KEY = re.compile(r"(id|ref|user|learner|contact|student|trainee|apprenant|stagiaire)s?$")


def _id_like(key: str) -> bool:
    """Whether a number under ``key`` (normalised) may be a person's id: ``userid``, ``contactref``…"""
    return bool(_ID_KEY.search(key))


@dataclass
class Needles:
    """What names one person (or the persons of one erasure) in a reject."""

    emails: set[str] = field(default_factory=set)  # lower case
    ids: set[str] = field(default_factory=set)  # anywhere (``id:`` keys)
    source_ids: dict[str, set[str]] = field(default_factory=dict)  # source -> its references (``src:`` keys)
    names: set[str] = field(default_factory=set)  # scrubbed from text, never searched for

    @classmethod
    def of(cls, identity: dict[str, Any]) -> "Needles":
        """From :meth:`hub.store.base.PrivacyStore.learner_identities`'s row."""
        out = cls()
        if identity.get("email"):
            out.emails.add(str(identity["email"]).lower())
        if identity.get("name") and len(str(identity["name"]).strip()) >= 3:
            out.names.add(str(identity["name"]).strip())
        for key in identity.get("keys") or []:
            kind, _, rest = str(key).partition(":")
            if kind == "email" and rest:
                out.emails.add(rest.lower())
            elif kind == "src":
                where, _, ref = rest.partition(":")
                if ref:
                    out.source_ids.setdefault(where.partition("/")[0], set()).add(ref)
            elif kind == "id":
                value = rest.partition(":")[2]
                if value:
                    out.ids.add(value)
        return out

    def merge(self, other: "Needles") -> "Needles":
        out = Needles(self.emails | other.emails, self.ids | other.ids, {}, self.names | other.names)
        for source in {*self.source_ids, *other.source_ids}:
            out.source_ids[source] = self.source_ids.get(source, set()) | other.source_ids.get(source, set())
        return out

    def ids_in(self, source: str) -> set[str]:
        return self.ids | self.source_ids.get(source, set())


class Finder:
    """The needles of many persons in sets, each pointing to its person: which persons a reject names."""

    def __init__(self, needles: dict[str, Needles]):
        self.emails: dict[str, set[str]] = {}
        self.ids: dict[str, set[str]] = {}
        self.source_ids: dict[tuple[str, str], set[str]] = {}
        for person, found in needles.items():
            for email in found.emails:
                self.emails.setdefault(email, set()).add(person)
            for value in found.ids:
                self.ids.setdefault(value, set()).add(person)
            for source, refs in found.source_ids.items():
                for ref in refs:
                    self.source_ids.setdefault((source, ref), set()).add(person)

    def persons_in(self, reject: dict[str, Any]) -> set[str]:
        """The persons named by ``reject`` (a row of :meth:`hub.store.base.PrivacyStore.reject_page`)."""
        source, out = reject["source"], set()
        strings, emails = _values(reject["payload"])
        emails |= {m.group(0).lower() for m in _EMAIL.finditer(reject.get("error") or "")}
        for email in emails:
            out |= self.emails.get(email, set())
        for value in strings:
            out |= self.ids.get(value, set())
            out |= self.source_ids.get((source, value), set())
        return out


def _values(payload: str) -> tuple[set[str], set[str]]:
    """The values of a stored payload that may be ids (strings, numbers under id-like keys) and the
    e-mails in it (lower case). Text that is not JSON is cut into tokens."""
    parsed = _decode(payload)
    strings: set[str] = set()
    emails: set[str] = set()
    if parsed is _UNREADABLE or isinstance(parsed, str):
        text = payload if parsed is _UNREADABLE else parsed
        emails.update(m.group(0).lower() for m in _EMAIL.finditer(text))
        strings.update(t for t in _TOKEN_SPLIT.split(text) if t)
        return strings, emails
    stack: list[tuple[str, Any]] = [("", parsed)]
    while stack:
        key, value = stack.pop()
        if isinstance(value, dict):
            stack.extend((_norm(str(k)), v) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((key, v) for v in value)
        elif isinstance(value, str):
            strings.add(value)
            if "@" in value:
                emails.update(m.group(0).lower() for m in _EMAIL.finditer(value))
        elif isinstance(value, int) and not isinstance(value, bool) and _id_like(key):
            strings.add(str(value))
    return strings, emails


_UNREADABLE = object()


def _decode(payload: str) -> Any:
    try:
        return json.loads(payload)
    except (ValueError, TypeError):
        return _UNREADABLE


async def identities(store, learner_ids: Iterable[str]) -> list[dict[str, Any]]:
    ids = list(dict.fromkeys(learner_ids))
    return await store.call(store.learner_identities, ids) if ids else []


async def needles_of(store, persons: dict[str, list[str]]) -> dict[str, Needles]:
    """Each person's needles (``persons``: person -> its learner ids, merged ones included), from the registry."""
    owner = {i: person for person, ids in persons.items() for i in ids}
    out = {person: Needles() for person in persons}
    for identity in await identities(store, owner):
        person = owner[identity["learner_id"]]
        out[person] = out[person].merge(Needles.of(identity))
    return out


async def find_dead_letters(store, persons: dict[str, list[str]], *,
                            not_before: float | None = None) -> dict[str, list[int]]:
    """The rejects naming each of ``persons`` (person -> its learner ids): one pass over the rejects,
    a page at a time; with ``not_before``, rejects stored before it (epoch seconds) are left out."""
    needles = await needles_of(store, persons)
    finder = Finder(needles)
    found: dict[str, list[int]] = {}
    if not (finder.emails or finder.ids or finder.source_ids):
        return found
    after = 0
    while True:
        page = await store.call(store.reject_page, after_id=after, limit=PAGE)
        for reject in page:
            if not_before is not None and reject["created_at"] < not_before:
                continue
            for person in finder.persons_in(reject):
                found.setdefault(person, []).append(reject["id"])
        if len(page) < PAGE:
            return found
        after = page[-1]["id"]


def scrub(reject: dict[str, Any], needles: Needles, *, record: str, at: float) -> tuple[int, str, str, str | None]:
    """``reject`` with the personal values of ``needles``' persons replaced: ``(id, payload, error,
    source_id)`` as :meth:`hub.store.base.PrivacyStore.apply_erasures` writes them."""
    ids = needles.ids_in(reject["source"])
    parsed = _decode(reject["payload"])
    if parsed is _UNREADABLE or not isinstance(parsed, (dict, list)):
        when = dt.datetime.fromtimestamp(at, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        payload: Any = {"erased": when, "record": record,
                        "note": "the payload could not be read field by field: it was removed whole"}
    else:
        payload = _scrub_value(parsed, "", needles, ids)
    source_id = reject.get("source_id")
    if source_id is not None and (source_id in ids or source_id.lower() in needles.emails):
        source_id = ERASED
    return (reject["id"], json.dumps(payload, ensure_ascii=False, separators=(",", ":")),
            _scrub_text(reject.get("error") or "", needles, ids), source_id)


def _scrub_value(value: Any, key: str, needles: Needles, ids: set[str]) -> Any:
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            name = _norm(str(k))
            if v not in (None, "", [], {}) and (name in RAW_PERSONAL_KEYS or (name == "learner" and isinstance(v, dict))):
                out[k] = ERASED
            else:
                out[k] = _scrub_value(v, name, needles, ids)
        return out
    if isinstance(value, list):
        return [_scrub_value(v, key, needles, ids) for v in value]
    if isinstance(value, str):
        if value in ids or value.lower() in needles.emails:
            return ERASED
        return _scrub_text(value, needles, set())
    if isinstance(value, int) and not isinstance(value, bool) and _id_like(key) and str(value) in ids:
        return ERASED
    return value


def _scrub_text(text: str, needles: Needles, ids: set[str]) -> str:
    """``text`` with the e-mails and names of ``needles`` (any case) and the ``ids`` (as whole words) replaced."""
    words = needles.emails | needles.names
    lowered = text.lower()
    if any(w.lower() in lowered for w in words):
        pattern = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
        text = re.sub(pattern, ERASED, text, flags=re.IGNORECASE)
    for value in sorted(ids, key=len, reverse=True):
        if value in text:
            text = re.sub(rf"(?<![\w.@-]){re.escape(value)}(?![\w@-])", ERASED, text)
    return text
