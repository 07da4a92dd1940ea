"""Until when each learner's personal data is kept (the durations of ``hub.retention``; their legal
sources are in docs/retention.md).

- Evidence of training (every event of the learner that is neither a funnel trace nor an access
  log): ``evidence_years`` (``eu_cofunded_years`` for a learner funded by an EU co-funded funder)
  counted from 1 January after the year of the learner's last piece of evidence.
- Funnel traces (``prospect.*``): ``funnel_years`` from the person's last contact, their last event.
- The person as a whole (registry, web account, blobs, every remaining event): once both have passed.
- Access logs (``access.*``): ``access_log_months`` from each event, whoever it is about.
- Dead letters (rejects): ``dead_letter_months`` from when each was stored, whoever it is about.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.privacy.settings import RetentionConfig

EVIDENCE_RULE = ("evidence of training kept {years} years after the end of the year of the last piece "
                 "(hub.retention.{key}: funders' and the State's control of training spending, docs/retention.md)")
FUNNEL_RULE = ("sales-funnel traces kept {years} years after the last contact "
               "(hub.retention.funnel_years: CNIL, référentiel gestion commerciale, docs/retention.md)")
ACCESS_RULE = ("access logs kept {months} months (hub.retention.access_log_months: CNIL recommendation on "
               "logging of 2021, docs/retention.md)")


def add_years(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def months_before(day: dt.date, months: int) -> dt.date:
    total = day.year * 12 + day.month - 1 - months
    year, month = divmod(total, 12)
    return dt.date(year, month + 1, min(day.day, 28))


def _date(us: int | None) -> dt.date | None:
    return None if us is None else dt.datetime.fromtimestamp(us / 1e6, dt.timezone.utc).date()


@dataclass
class PersonRetention:
    """One person (a learner and the learners merged into it) and until when their data is kept."""

    learner_id: str
    ids: list[str] = field(default_factory=list)
    first_us: int | None = None
    last_us: int | None = None
    evidence_until: dt.date | None = None  # None: no evidence
    evidence_rule: str | None = None
    funnel_until: dt.date | None = None

    @property
    def until(self) -> dt.date:
        """The first day everything about the person may be erased."""
        return max(d for d in (self.evidence_until, self.funnel_until) if d is not None)

    def keeping_rule(self, today: dt.date, config: RetentionConfig) -> tuple[str, dt.date] | None:
        """The rule that still keeps the person's data on ``today`` and until when, or None."""
        if self.evidence_until is not None and today < self.evidence_until:
            return self.evidence_rule or "", self.evidence_until
        if self.funnel_until is not None and today < self.funnel_until:
            return funnel_rule_text(config), self.funnel_until
        return None


def funnel_rule_text(config: RetentionConfig) -> str:
    return FUNNEL_RULE.format(years=config.funnel_years)


def persons(rows: list[dict[str, Any]], aliases: dict[str, str], eu_funded: set[str],
            config: RetentionConfig) -> dict[str, PersonRetention]:
    """Each person's retention from :meth:`hub.store.base.PrivacyStore.learner_last_events` rows, the
    store's merges (alias -> learner) and the learner keys funded by an EU co-funded funder."""
    out: dict[str, PersonRetention] = {}
    evidence: dict[str, int] = {}
    for row in rows:
        canonical = aliases.get(row["learner_id"], row["learner_id"])
        person = out.setdefault(canonical, PersonRetention(canonical))
        person.ids.append(row["learner_id"])
        person.last_us = max(person.last_us or row["last_us"], row["last_us"])
        if row.get("evidence_us") is not None:
            evidence[canonical] = max(evidence.get(canonical, row["evidence_us"]), row["evidence_us"])
    for canonical, person in out.items():
        if canonical not in person.ids:
            person.ids.insert(0, canonical)
        person.funnel_until = add_years(_date(person.last_us), config.funnel_years)
        if canonical in evidence:
            eu = bool(set(person.ids) & eu_funded)
            years, key = (config.eu_cofunded_years, "eu_cofunded_years") if eu else (config.evidence_years, "evidence_years")
            person.evidence_until = dt.date(_date(evidence[canonical]).year + 1 + years, 1, 1)
            person.evidence_rule = EVIDENCE_RULE.format(years=years, key=key)
    return out
