"""One learner across systems: the learner registry's linking rules.

Every event about a learner carries what its source knows (``learner.ref`` in that source, an
e-mail, other ids such as ``stripe_customer`` or ``nir``). Each becomes a *key*:

* ``src:<connector>:<ref>`` — always linking (the same id in the same source is the same person);
  ``src:<connector>/<site>:<ref>`` when the source says its ids are unique only within a site or
  tenant (``learner.site``: an xAPI account's homePage), so account 42 of two sites is two people;
* ``email:<normalised e-mail>`` — linking when ``email`` is in ``hub.learners.match_on``;
* ``id:<namespace>:<value>`` — linking when the namespace is in ``match_on`` (e.g. ``nir``);
* keys from the admin's mapping file (``hub.learners.mapping_file``) link unconditionally.

Keys resolve to one hub learner id. Links are never merged silently: when an event's keys point
at two different learners, or would give a learner a second ref in the same source (two Moodle
accounts sharing one e-mail) or a second value of one id namespace, the event is attributed to
the learner its source key designates and a *conflict* is recorded for an admin
(``parcours learners conflicts`` / ``resolve``). Resolutions are events in the ledger.
"""

from __future__ import annotations

import csv
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from hub.errors import ConfigError
from hub.ulid import new_ulid


def normalise_email(email: str) -> str:
    return unicodedata.normalize("NFC", email.strip()).lower()


def site_segment(site: str) -> str:
    """How a site names itself in a key: ``moodle.example.fr`` for ``https://Moodle.example.fr/``
    (scheme and trailing slashes dropped, host lower-cased), ``:`` and ``%`` escaped so that the key
    still splits on ``:``; a tenant id that is not a URL is kept as is (escaped the same way)."""
    text = site.strip()
    scheme, sep, rest = text.partition("://")
    if sep and scheme.isalpha():
        host, slash, path = rest.partition("/")
        text = host.lower() + slash + path
    return text.rstrip("/").replace("%", "%25").replace(":", "%3A")


def source_key(source: str, learner: dict) -> str:
    """``src:<connector>:<ref>``, or ``src:<connector>/<site>:<ref>`` when the reference names a site."""
    site = learner.get("site")
    where = f"{source}/{site_segment(site)}" if site else source
    return f"src:{where}:{learner['ref']}"


def legacy_key(key: str) -> str | None:
    """The key a site-scoped source key had before sites were part of it (``src:lrs:42`` for
    ``src:lrs/moodle.example.fr:42``), or None for a key without a site."""
    if not key.startswith("src:"):
        return None
    where, _, ref = key[4:].partition(":")
    connector, slash, _site = where.partition("/")
    return f"src:{connector}:{ref}" if slash else None


def keys_for(source: str, learner: dict | None, match_on: set[str]) -> tuple[str | None, list[str], list[str]]:
    """(source key, linking keys, other keys) of one event's learner reference."""
    if not learner:
        return None, [], []
    src = source_key(source, learner)
    linking: list[str] = []
    other: list[str] = []
    email = learner.get("email")
    if email:
        (linking if "email" in match_on else other).append(f"email:{normalise_email(email)}")
    for namespace, value in sorted((learner.get("ids") or {}).items()):
        (linking if namespace in match_on else other).append(f"id:{namespace}:{value}")
    return src, linking, other


def key_kind(key: str) -> str:
    """``src:moodle`` for ``src:moodle:17``, ``id:nir`` for ``id:nir:…``, ``email`` for e-mails."""
    if key.startswith("email:"):
        return "email"
    return ":".join(key.split(":", 2)[:2])


def reference_key(reference: str) -> str | None:
    """The registry key a learner reference given on the command line names (``email:…``,
    normalised; ``src:<connector>:<ref>`` as is), or None when it is a hub learner id."""
    if ":" not in reference:
        return None
    return f"email:{normalise_email(reference[6:])}" if reference.startswith("email:") else reference


def _signature(learner: dict | None) -> tuple:
    if not learner:
        return ()
    ids = learner.get("ids")
    return (learner.get("ref"), learner.get("site"), learner.get("email"), learner.get("name"),
            tuple(sorted(ids.items())) if ids else ())


@dataclass
class Conflict:
    event_id: str
    keys: list[str]
    learners: list[str]
    reason: str


@dataclass
class Resolution:
    learner_ids: list[str | None]
    new_learners: list[tuple[str, str | None, str | None]] = field(default_factory=list)  # id, name, email
    new_keys: list[tuple[str, str, str]] = field(default_factory=list)  # key, learner id, origin
    conflicts: list[Conflict] = field(default_factory=list)


class LearnerResolver:
    """Pure linking logic; the store supplies lookups and applies the resolution in its transaction."""

    def __init__(self, match_on: Iterable[str] = ("email",)):
        self.match_on = set(match_on)

    def resolve(
        self,
        events: list[tuple[str, str, dict | None]],  # (event id, source, learner reference)
        lookup: Callable[[list[str]], dict[str, str]],  # key -> learner id
        learner_kinds: Callable[[list[str]], dict[str, dict[str, str]]],  # learner -> {single-valued kind: key}
        separated: Callable[[list[str]], set[frozenset[str]]] = lambda ids: set(),
    ) -> Resolution:
        # a batch repeats the same few learners: resolve each distinct reference once
        distinct: dict[tuple, int] = {}
        slots: list[int] = []
        parsed = []
        wanted = set()
        for event_id, source, learner in events:
            signature = (source, _signature(learner))
            slot = distinct.get(signature)
            if slot is None:
                slot = distinct[signature] = len(parsed)
                src, linking, other = keys_for(source, learner, self.match_on)
                parsed.append((event_id, learner, src, linking, other))
                if src and not src.startswith("src:hub:"):
                    wanted.update([src, *linking])
                    old = legacy_key(src)
                    if old:
                        wanted.add(old)
            slots.append(slot)
        owner = dict(lookup(sorted(wanted)))
        kinds: dict[str, dict[str, str]] = learner_kinds(sorted(set(owner.values())))
        apart = separated(sorted(set(owner.values())))
        result = Resolution([])
        seen_conflicts: set[tuple] = set()

        def attach(key: str, learner_id: str) -> None:
            owner[key] = learner_id
            result.new_keys.append((key, learner_id, "event"))
            kind = key_kind(key)
            if kind != "email":
                kinds.setdefault(learner_id, {})[kind] = key

        for event_id, learner, src, linking, _other in parsed:
            if src is None:
                result.learner_ids.append(None)
                continue
            if src.startswith("src:hub:"):  # the hub's own events name the learner by its hub id
                result.learner_ids.append(learner["ref"])
                continue
            found = {owner[k] for k in [src, *linking] if k in owner}
            chosen = owner.get(src)
            shared = None  # (legacy key, its learner, the other site's key) when two sites claim it
            old = legacy_key(src)
            if chosen is None and old and old in owner:
                rival = _other_site(kinds.get(owner[old], {}), src, old)
                if rival is None:
                    chosen = owner[old]  # the key before sites existed, used by this site only so far
                else:
                    shared = (old, owner[old], rival)
                    found.discard(owner[old])
            if chosen is None and len(found) == 1:
                candidate = next(iter(found))
                clash = kinds.get(candidate, {}).get(key_kind(src))
                if clash and clash != src:
                    found = {candidate, "(new)"}  # a second account in one source: not the same person for sure
                else:
                    chosen = candidate
            if chosen is None:
                chosen = new_ulid()
                result.new_learners.append((chosen, learner.get("name"), learner.get("email")))
                kinds.setdefault(chosen, {})
            if owner.get(src) != chosen:
                attach(src, chosen)
            others = sorted((found - {chosen, "(new)"}))
            if others and frozenset([chosen, *others]) not in apart and not any(
                frozenset([chosen, o]) in apart for o in others
            ):
                signature = (chosen, tuple(others))
                if signature not in seen_conflicts:
                    seen_conflicts.add(signature)
                    reason = (
                        f"{src} shares {', '.join(k for k in linking if owner.get(k) in others)} with another learner"
                    )
                    result.conflicts.append(Conflict(event_id, [src, *linking], [chosen, *others], reason))
            if shared is not None and chosen != shared[1] and frozenset([chosen, shared[1]]) not in apart:
                old, previous, rival = shared
                result.conflicts.append(Conflict(event_id, [src, old, rival], [chosen, previous], (
                    f"{old} was written before sites were told apart and is now claimed by {rival} and {src}: "
                    f"the events stored under {old} may be of either person")))
            for key in linking:
                if key in owner:
                    continue
                kind = key_kind(key)
                existing = kinds.get(chosen, {}).get(kind)
                if kind != "email" and existing and existing != key:
                    signature = (chosen, key)
                    if signature not in seen_conflicts:
                        seen_conflicts.add(signature)
                        result.conflicts.append(Conflict(event_id, [src, key], [chosen],
                                                         f"{key} differs from {existing} for the same learner"))
                    continue
                attach(key, chosen)
            result.learner_ids.append(chosen)
        result.learner_ids = [result.learner_ids[slot] for slot in slots]
        return result


def _other_site(kinds: dict[str, str], src: str, old: str) -> str | None:
    """Another site's key for the same connector and ref among a learner's keys (by kind), if any."""
    connector, ref = old[4:].split(":", 1)
    for kind, key in kinds.items():
        if kind.startswith(f"src:{connector}/") and key != src and key[len(kind) + 1:] == ref:
            return key
    return None


def mapping_key(source: str, value: str) -> str:
    """A mapping-file row's key: ``email``, ``id:<namespace>`` or a connector name."""
    source, value = source.strip(), value.strip()
    if source == "email":
        return f"email:{normalise_email(value)}"
    if source.startswith("id:"):
        return f"id:{source[3:]}:{value}"
    connector, _, site = source.partition("/")  # a connector reading several sites: lrs/https://moodle.example.fr
    return source_key(connector, {"ref": value, "site": site or None})


def read_mapping(path: Path) -> dict[str, list[str]]:
    """Read ``learner,source,value`` rows; errors name the file and line."""
    groups: dict[str, list[str]] = {}
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            if reader.fieldnames is None or not {"learner", "source", "value"} <= set(reader.fieldnames):
                raise ConfigError(f"{path}:1: expected the columns learner,source,value")
            for row in reader:
                line = reader.line_num
                if not all((row.get(c) or "").strip() for c in ("learner", "source", "value")):
                    raise ConfigError(f"{path}:{line}: learner, source and value must all be set")
                groups.setdefault(row["learner"].strip(), []).append(mapping_key(row["source"], row["value"]))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the learner mapping file: {exc.strerror}") from None
    return groups
