"""The retention run: what is past its retention is erased (daily in the daemon, and
``parcours retention run``), dead letters past theirs deleted; :func:`erase_learner` for a
person's own request."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.consents.record import withdrawn_consents
from hub.privacy.dead_letters import find_dead_letters
from hub.privacy.erasure import ACCESS, FUNNEL, PERSON, Eraser, Plan
from hub.privacy.rules import ACCESS_RULE, PersonRetention, funnel_rule_text, months_before, persons

ACCESS_BATCH = 5000  # access-log events per record
FUNNEL_TRACKING = "funnel_tracking"  # the consent purpose that covers funnel traces (hub.consents)
WITHDRAWN_RULE = ("consent to funnel tracking withdrawn: the traces it covered are erased at the next run "
                  "(RGPD art. 7(3) and 21; docs/consents.md)")


@dataclass
class RetentionPlan:
    """What a run would erase on ``today``."""

    today: dt.date
    persons: list[PersonRetention] = field(default_factory=list)  # every data past retention
    funnels: list[PersonRetention] = field(default_factory=list)  # funnel traces past retention only
    withdrawn: list[PersonRetention] = field(default_factory=list)  # funnel traces of a withdrawn consent
    access_before: dt.date | None = None
    dead_letters_before: dt.date | None = None
    kept: int = 0  # persons still within retention
    erased: int = 0  # persons erased before

    def summary(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "persons_due": len(self.persons), "funnels_due": len(self.funnels),
                "funnels_withdrawn": len(self.withdrawn),
                "access_logs_before": self.access_before.isoformat() if self.access_before else None,
                "dead_letters_before": self.dead_letters_before.isoformat() if self.dead_letters_before else None,
                "persons_kept": self.kept, "persons_erased_before": self.erased}

    @property
    def dead_letters_cutoff(self) -> float:
        """``dead_letters_before`` in epoch seconds (midnight UTC): rejects stored before it are deleted."""
        return dt.datetime.combine(self.dead_letters_before, dt.time(), dt.timezone.utc).timestamp()


async def retention_of(hub) -> dict[str, PersonRetention]:
    """Every person's retention, from the store (one pass over the events)."""
    store, config = hub.store, hub.config.hub.retention
    rows = await store.call(store.learner_last_events)
    aliases = await store.call(store.learner_alias_map)
    eu = await store.call(store.learners_funded_by, config.eu_cofunded_funders)
    return persons(rows, aliases, eu, config)


async def plan_retention(hub, today: dt.date | None = None) -> RetentionPlan:
    today = today or dt.datetime.now(dt.timezone.utc).date()
    erased = await hub.store.call(hub.store.erased_persons)
    config = hub.config.hub.retention
    plan = RetentionPlan(today, access_before=months_before(today, config.access_log_months),
                         dead_letters_before=months_before(today, config.dead_letter_months))
    # a person who withdrew consent to funnel tracking objected to it: their funnel traces go now (docs/consents.md)
    objected = {w.learner_id for w in await withdrawn_consents(hub.store, FUNNEL_TRACKING)}
    for person in (await retention_of(hub)).values():
        if person.learner_id in erased:
            plan.erased += 1
        elif today >= person.until:
            plan.persons.append(person)
        else:
            plan.kept += 1
            if person.funnel_until is not None and today >= person.funnel_until:
                plan.funnels.append(person)
            elif person.funnel_until is not None and person.learner_id in objected:
                plan.withdrawn.append(person)
    return plan


async def run_retention(hub, *, today: dt.date | None = None, dry_run: bool = False) -> dict[str, Any]:
    """Erase what is past retention on ``today``; with ``dry_run`` only say what would be."""
    store = hub.store
    eraser = Eraser(hub)
    resumed = 0 if dry_run else await eraser.resume()  # first: what it applies is no longer due
    plan = await plan_retention(hub, today)
    report: dict[str, Any] = {**plan.summary(), "dry_run": dry_run}
    # dead letters past their retention go whoever they name (one statement); those left are searched
    # once for every person due (one pass over the rejects), each batch scrubbing its persons' own
    report["dead_letters_expired"] = await store.call(store.delete_rejects_before, plan.dead_letters_cutoff,
                                                      dry_run=dry_run)
    if report["dead_letters_expired"] and not dry_run:
        hub.log.bind(component="retention").info("dead letters deleted", count=report["dead_letters_expired"],
                                                 before=report["dead_letters_before"])
    letters = await find_dead_letters(store, {p.learner_id: p.ids for p in plan.persons},
                                      not_before=plan.dead_letters_cutoff) if plan.persons else {}
    report["dead_letters_due"] = sum(len(found) for found in letters.values())
    if dry_run:
        return report
    report["resumed"] = resumed
    config = hub.config.hub.retention
    results: list[dict[str, Any]] = []
    plans = ([Plan(PERSON, p.learner_id, p.evidence_rule or funnel_rule_text(config), p.ids, "retention",
                   dead_letters=letters.get(p.learner_id, [])) for p in plan.persons]
             + [Plan(FUNNEL, p.learner_id, funnel_rule_text(config), p.ids, "retention") for p in plan.funnels]
             + [Plan(FUNNEL, p.learner_id, WITHDRAWN_RULE, p.ids, "consent withdrawn") for p in plan.withdrawn])
    for start in range(0, len(plans), config.batch):
        results += await eraser.erase(plans[start:start + config.batch])
    results += await erase_access_logs(hub, eraser, plan.access_before)
    report["erased"] = {kind: sum(1 for r in results if r["kind"] == kind) for kind in (PERSON, FUNNEL, ACCESS)}
    report["events_erased"] = sum(r["events"] for r in results)
    report["dead_letters_erased"] = sum(r.get("dead_letters", 0) for r in results)
    return report


async def erase_access_logs(hub, eraser: Eraser, before: dt.date) -> list[dict[str, Any]]:
    store = hub.store
    before_us = int(dt.datetime.combine(before, dt.time(), dt.timezone.utc).timestamp() * 1_000_000)
    rule = ACCESS_RULE.format(months=hub.config.hub.retention.access_log_months)
    results: list[dict[str, Any]] = []
    while True:
        last = await store.call(store.last_block)
        events = await store.call(store.erasable_access_events, before_us=before_us,
                                  until_seq=last["last_seq"] if last else 0, limit=ACCESS_BATCH)
        if not events:
            return results
        done = await eraser.erase([Plan(ACCESS, None, rule, reason="retention", events=events)])
        if not done:
            return results
        results += done


async def pseudonymise_kind(hub, learner_id: str, kind: str, *, rule: str, reason: str | None = None) -> list[dict[str, Any]]:
    """Erase one kind of data (``funnel``, or ``person``: everything) of one person now, whatever its
    retention: what a withdrawal of consent to funnel tracking calls. Returns the records made."""
    store = hub.store
    canonical = await store.call(store.canonical_learner, learner_id)
    ids = [canonical, *await store.call(store.learner_aliases, canonical)]
    return await Eraser(hub).erase([Plan(kind, canonical, rule, ids, reason)])


@dataclass
class ErasureOutcome:
    learner_id: str
    erased: bool
    records: list[dict[str, Any]] = field(default_factory=list)
    refused_rule: str | None = None
    until: dt.date | None = None
    refusal_event: str | None = None
    already: bool = False


async def erase_learner(hub, learner_id: str, *, reason: str, actor: str | None = None,
                        today: dt.date | None = None) -> ErasureOutcome:
    """A person's request for erasure (or objection) of learner ``learner_id`` (a hub id, resolved to the
    learner it is merged into). Before the end of retention it is refused, and the refusal recorded
    (``privacy.erasure_refused``); funnel traces are erased at once all the same, no law requiring them
    kept against the person's wish. After it, the person is erased everywhere."""
    from hub.ingest.audit import whoami
    from hub.ulid import new_ulid

    store, config = hub.store, hub.config.hub.retention
    today = today or dt.datetime.now(dt.timezone.utc).date()
    canonical = await store.call(store.canonical_learner, learner_id)
    if canonical in await store.call(store.erased_persons):
        return ErasureOutcome(canonical, True, already=True)
    person = (await retention_of(hub)).get(canonical)
    reason = (f"request by the person ({reason})" if reason else "request by the person") + f"; handled by {actor or whoami()}"
    if person is None:  # a learner with no event: nothing in the ledger; the registry entry alone
        person = PersonRetention(canonical, ids=[canonical, *await store.call(store.learner_aliases, canonical)])
        person.funnel_until = today
    keeping = person.keeping_rule(today, config)
    if keeping is None:
        eraser = Eraser(hub)
        records = await eraser.erase([Plan(PERSON, canonical, f"erasure on request after retention: "
                                                f"{person.evidence_rule or funnel_rule_text(config)}", person.ids, reason)])
        if not records:  # no event to erase: the registry and account alone
            await store.call(store.apply_erasures, [{"record": f"registry:{canonical}", "learner_id": canonical,
                                                     "kind": PERSON, "rows": [], "person": person.ids}],
                             at=dt.datetime.now().timestamp())
            await eraser.finish()
        return ErasureOutcome(canonical, True, records)
    rule, until = keeping
    funnel = await Eraser(hub).erase([Plan(FUNNEL, canonical, "funnel traces erased on the person's request "
                                          "(RGPD art. 17(1)(c) and 21(3))", person.ids, reason)])
    item = {"type": "privacy.erasure_refused", "occurred_at": dt.datetime.now(dt.timezone.utc).isoformat(),
            "source_id": new_ulid(),
            "data": {"learner": canonical, "rule": rule, "until": until.isoformat(), "reason": reason,
                     "details": {"actor": actor or whoami()}}}
    event_id = (await hub.append([item], source="hub")).ids[0]
    return ErasureOutcome(canonical, False, funnel, refused_rule=rule, until=until, refusal_event=event_id)
