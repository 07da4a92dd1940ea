"""The bilan pédagogique et financier (cerfa 10443) computed from the ledger and the journeys.

Every figure keeps the list of the enrolments (learner × training action) behind it, so that
each number of the form can be explained. Sources of each cadre (details and sources in
docs/formats/bpf.md):

* C (products excl. VAT, by payer): from the invoices when the enrolment (or its action) has
  ``invoice.issued`` events — each amount excl. VAT on the line of its payer, in the year of its
  date, credit notes deducted; otherwise ``payment.succeeded`` / ``payment.refunded`` at their
  date, on the line of their payer, and ``funding.approved`` amounts on the line of the funder,
  recognised in the year the training is realised (amount × realised hours ÷ planned hours,
  cumulated, so an action across two years is split by its attendance and a dropout yields only
  what was realised; a CPF funding: amount × the taux de réalisation the ``cpf`` export declares,
  spread the same way), or in the year of approval (``revenue: approval``). Each entry of the
  drill-down says its ``basis``: invoice, funding, payment or refund;
* D (costs): from the export's configuration (the ledger holds no costs);
* E (trainers): the action's trainer, internal or external (configuration), and the scheduled
  hours of the in-person and synchronous half-days held in the year (one learner present);
* F-1 to F-4, G (trainees and hours followed): each enrolment with realised hours in the year;
  its type, aim and NSF speciality from the export's per-action configuration and the
  ``funding.approved`` ``funder_kind``.

Amounts are rounded to the euro and hours to the hour, half-up (BPF notice). The hours of F and G:
each line its exact hours rounded, each total the sum of its lines (a note says when that is not the
exact total rounded). C and E: each total its exact sum rounded once, the lines rounded so that they
add up to it (largest remainder). docs/formats/bpf.md says why.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Iterable

from hub.formats import MissingField
from hub.journeys.dossier import dossier_from
from hub.journeys.projection import add_funding
from hub.journeys.rate import RateConfig, RateProblem

ZERO = Decimal(0)
C_LINES = ("C-1", "C-2a", "C-2b", "C-2c", "C-2d", "C-2e", "C-2f", "C-2g", "C-2h", "C-3", "C-4", "C-5", "C-6",
           "C-7", "C-8", "C-9", "C-10", "C-11")
F1 = ("a", "b", "c", "d", "e")
F3 = ("a-6_8", "a-5", "a-4", "a-3", "a-2", "a-cqp", "b", "c", "d", "e", "f")
KIND_LINES = {"opco": "C-2h", "cpf": "C-2e", "france_travail": "C-7", "region": "C-6", "employer": "C-1",
              "self": "C-9", "other": "C-11"}
TYPE_ORDER = ("b", "a", "c", "e", "d")  # when funders suggest several types: apprentice, employee, job-seeker…
ALL_LINES = (
    *C_LINES, "C-total", "C-share", "D-total", "D-salaries", "D-purchases", "E-internal", "E-external", "E-total",
    *(f"F1-{x}" for x in F1), "F1-total", "F2", *(f"F3-{x}" for x in F3), "F3-total",
    *(f"F4-{i}" for i in range(1, 6)), "F4-others", "F4-total", "G",
)


def euros(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def whole_hours(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), ROUND_HALF_UP))


def apportion(values: list[Decimal]) -> list[int]:
    """Round ``values`` to integers that add up to their exact sum rounded half-up (largest remainder)."""
    import math

    total = int(sum(values, ZERO).quantize(Decimal(1), ROUND_HALF_UP))
    floors = [math.floor(v) for v in values]
    extra = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    out = list(floors)
    for i in order[:max(extra, 0)]:
        out[i] += 1
    return out


@dataclass
class Entry:
    """One enrolment (or action, for cadre E) behind a figure."""

    learner_id: str | None
    learner_name: str | None
    action: str | None
    hours: Decimal | None = None
    amount: Decimal | None = None
    events: list[str] = field(default_factory=list)
    note: str = ""
    basis: str | None = None  # cadre C: invoice, funding, payment or refund

    def as_dict(self) -> dict[str, Any]:
        return {"learner_id": self.learner_id, "learner_name": self.learner_name, "action": self.action,
                "hours": None if self.hours is None else str(self.hours.quantize(Decimal("0.01"), ROUND_HALF_UP)),
                "amount": None if self.amount is None else str(self.amount.quantize(Decimal("0.01"), ROUND_HALF_UP)),
                "events": self.events, "note": self.note, **({"basis": self.basis} if self.basis else {})}


@dataclass
class Figure:
    line: str
    trainees: int | None = None
    hours: int | None = None
    amount: int | None = None
    headcount: int | None = None
    value: str | None = None
    code: str | None = None  # NSF code of an F-4 line
    entries: list[Entry] = field(default_factory=list)
    exact_hours: Decimal = ZERO
    exact_amount: Decimal = ZERO

    def as_dict(self, labels: dict[str, str]) -> dict[str, Any]:
        return {"line": self.line, "label": labels.get(self.line, self.line), "code": self.code,
                "trainees": self.trainees, "hours": self.hours, "amount": self.amount,
                "headcount": self.headcount, "value": self.value}


@dataclass
class Money:
    """Payments and fundings of one enrolment, from the ledger stream."""

    payments: list[dict[str, Any]] = field(default_factory=list)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    fundings: dict[str, dict[str, Any]] = field(default_factory=dict)  # funder -> last approval
    invoices: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)  # (number, kind) -> last stated
    learner_name: str | None = None


def money_by_enrolment(events: Iterable[dict[str, Any]]) -> dict[tuple[str | None, str | None], Money]:
    out: dict[tuple[str | None, str | None], Money] = defaultdict(Money)
    superseded: set[str] = set()
    rows = []
    for e in events:
        if e.get("supersedes"):
            superseded.add(e["supersedes"])
        rows.append(e)
    for e in rows:
        if e["id"] in superseded:
            continue
        money = out[(e.get("learner_id"), e.get("action"))]
        if not money.learner_name and e.get("learner"):
            money.learner_name = (e["learner"] or {}).get("name")
        item = {"event": e["id"], "at": e["occurred_at"], **e["data"]}
        if e["type"] == "payment.succeeded":
            money.payments.append(item)
        elif e["type"] == "payment.refunded":
            money.refunds.append(item)
        elif e["type"] == "funding.approved":
            add_funding(money.fundings, e["data"]["funder"], item)
        elif e["type"] == "invoice.issued":  # an invoice sent again under another id is the same invoice
            money.invoices[(item["number"], item.get("kind", "invoice"))] = item
    return out


def _date(at: str, tz) -> dt.date:
    return dt.datetime.fromisoformat(at.replace("Z", "+00:00")).astimezone(tz).date()


def _glob(mapping: dict[str, str], name: str | None) -> str | None:
    if not name:
        return None
    for pattern, line in mapping.items():
        if fnmatch.fnmatchcase(name, pattern):
            return line
    return None


# ---------------------------------------------------------------------------- hours in the year


def realised_until(report, points: list[dt.date]) -> list[Decimal]:
    """Realised hours of a journey on or before each of ``points``, in one pass over its half-days.

    In-person and synchronous hours by the date of their half-day; the FOAD hours (a total in the
    journey) split by the share of the scheduled FOAD hours on or before the point (by the share of
    the action's days when no FOAD half-day is scheduled).
    """
    dated: list[tuple[dt.date, Decimal]] = []
    foad_days: list[tuple[dt.date, Decimal]] = []
    for r in report.half_days:
        hd = r.half_day
        if hd.modality == "foad_asynchrone":
            foad_days.append((hd.date, hd.hours))
        elif r.hours:
            dated.append((hd.date, r.hours))
    figure = report.realised.get("foad_asynchrone")
    foad = figure.value if figure is not None else ZERO
    foad_total = sum((h for _, h in foad_days), ZERO)
    action = report.action
    out = []
    for point in points:
        hours = sum((h for d, h in dated if d <= point), ZERO)
        if foad:
            if foad_total:
                share = sum((h for d, h in foad_days if d <= point), ZERO) / foad_total
            elif action is None or point >= action.end:
                share = Decimal(1)
            elif point < action.start:
                share = ZERO
            else:
                share = Decimal((point - action.start).days + 1) / Decimal((action.end - action.start).days + 1)
            hours += foad * share
        out.append(hours)
    return out


# ---------------------------------------------------------------------------- the computation


@dataclass
class YearJourney:
    """What the BPF keeps of one journey: who, which action, its funders, realised hours."""

    learner_id: str
    action_id: str
    learner_name: str | None
    action: Any  # hub.journeys.actions.TrainingAction | None
    funders: dict[str, dict[str, Any]]
    before: Decimal  # realised hours before the year
    through: Decimal  # realised hours through the end of the year
    journey: Any = None  # the JourneyReport, for the CPF taux de réalisation (None when there is no CPF funding)


@dataclass
class Bpf:
    figures: dict[str, Figure]
    header: dict[str, Any]
    missing: list[MissingField]
    notes: list[str]
    f4: list[Figure]


def compute(cfg, *, period, journeys, money: dict, organisation, tz, rates: RateConfig | None = None) -> Bpf:
    """The form for ``period``: each cadre from the journeys, the ledger's ``money`` and ``cfg``;
    ``rates``: the settings of the CPF taux de réalisation (the hub's ``cpf`` export), if any."""
    figures: dict[str, Figure] = {line: Figure(line) for line in ALL_LINES
                                  if not (line.startswith("F4-") and line != "F4-total")}
    missing: list[MissingField] = []
    reports, held_by_action = _year_journeys(journeys, period)
    _products(cfg, figures, missing, money, reports, period, tz, rates)
    _costs(cfg, figures, missing)
    year = list(reports.values())
    _trainers(cfg, figures, missing, year, held_by_action)
    notes: list[str] = []
    f4 = _trainees(cfg, figures, missing, year, money, notes)
    header = _header(organisation, period, year, missing)  # A, B, H
    return Bpf(figures, header, missing, notes, f4)


def _year_journeys(journeys, period) -> tuple[dict[tuple[str, str], YearJourney], dict[str, dict[Any, Decimal]]]:
    """One pass over the journeys (computed chunk by chunk by the hub), keeping what the form needs:
    each enrolment's realised hours before and through the year, and per action the scheduled
    hours of the in-person and synchronous half-days held in the year (cadre E)."""
    reports: dict[tuple[str, str], YearJourney] = {}
    held_by_action: dict[str, dict[Any, Decimal]] = defaultdict(dict)
    for r in journeys:
        before, through = realised_until(r, [period.start - dt.timedelta(days=1), period.end])
        cpf = any(f.get("funder_kind") == "cpf" for f in r.funders.values())
        reports[(r.learner_id, r.action_id)] = YearJourney(r.learner_id, r.action_id, r.learner_name, r.action,
                                                           r.funders, before, through, r if cpf else None)
        held = held_by_action[r.action_id]
        for hd in r.half_days:
            if hd.hours > 0 and hd.half_day.modality != "foad_asynchrone" and period.start <= hd.half_day.date <= period.end:
                held.setdefault(hd.half_day.key, hd.half_day.hours)
    return reports, held_by_action


# ----------------------------------------------------------------------------- C: products


def _products(cfg, figures: dict[str, Figure], missing: list[MissingField], money: dict,
              reports: dict[tuple[str, str], YearJourney], period, tz, rates: RateConfig | None = None) -> None:
    """Cadre C: the invoices of the year of each enrolment that has some (or whose action has); for
    the others, payments and refunds of the year and fundings as realised (or approved) in it."""
    planned_of: dict[str, Decimal] = {}  # TrainingAction.schedule() is costly: once per action
    invoiced_actions = {action for (learner, action), m in money.items() if learner is None and m.invoices}

    def add(line: str, amount: Decimal, entry: Entry) -> None:
        fig = figures[line]
        fig.exact_amount += amount
        entry.amount = amount
        fig.entries.append(entry)

    for (learner_id, action_id), m in sorted(money.items(), key=lambda kv: (str(kv[0][1]), str(kv[0][0]))):
        report = reports.get((learner_id, action_id))
        name = (report.learner_name if report else None) or m.learner_name

        def entry(**kw) -> Entry:
            return Entry(learner_id, name, action_id, **kw)

        if m.invoices or (learner_id is not None and action_id in invoiced_actions):
            _invoices(cfg, m, period, add, entry)
            continue
        _payments(cfg, m, period, tz, add, entry)
        for funder, f in sorted(m.fundings.items()):
            line = _glob(cfg.funder_lines, funder) or KIND_LINES.get(f.get("funder_kind", "other"), "C-11")
            found = _funding_amount(cfg, funder, f, report, period, tz, planned_of, rates,
                                    who=name or str(learner_id), action_id=action_id)
            if isinstance(found, MissingField):
                missing.append(found)
            elif found is not None:
                amount, note = found
                add(line, amount, entry(events=[f["event"]], note=note, basis="funding"))
    _products_total(cfg, figures, missing)


def _invoices(cfg, m: Money, period, add, entry) -> None:
    """The invoices dated in the year on the line of their payer (its funder's line when the invoice
    names the funding it bills); credit notes deducted."""
    for (number, kind), inv in sorted(m.invoices.items()):
        day = dt.date.fromisoformat(str(inv["date"]))
        if not period.start <= day <= period.end:
            continue
        line = (_glob(cfg.funder_lines, inv.get("funder")) or _glob(cfg.payer_lines, inv.get("payer_name"))
                or KIND_LINES.get(inv["payer_kind"], "C-11"))
        amount = Decimal(str(inv["amount_ht"]))
        what = "credit note" if kind == "credit_note" else "invoice"
        payer = inv.get("payer_name") or inv.get("funder") or inv["payer_kind"]
        add(line, -amount if kind == "credit_note" else amount,
            entry(events=[inv["event"]], basis="invoice",
                  note=f"{what} {number} of {day.isoformat()} to {payer} ({inv['payer_kind']}): {amount} excl. VAT"))


def _payments(cfg, m: Money, period, tz, add, entry) -> None:
    """The payments of the year on the line of their payer; refunds on the line of their payment."""
    refs = {}
    for p in m.payments:
        line = _glob(cfg.payer_lines, p.get("payer")) or cfg.payment_line
        refs[p.get("reference")] = line
        if period.start <= _date(p["at"], tz) <= period.end:
            add(line, Decimal(str(p["amount"])),
                entry(events=[p["event"]], note=f"payment by {p.get('payer') or 'unknown payer'}", basis="payment"))
    for r in m.refunds:
        if period.start <= _date(r["at"], tz) <= period.end:
            line = refs.get(r.get("reference")) or cfg.payment_line
            add(line, -Decimal(str(r["amount"])), entry(events=[r["event"]], note="refund", basis="refund"))


def _funding_amount(cfg, funder: str, f: dict[str, Any], report: YearJourney | None, period, tz,
                    planned_of: dict[str, Decimal], rates: RateConfig | None = None, *, who: str, action_id: str
                    ) -> tuple[Decimal, str] | MissingField | None:
    """The part of a funding that is a product of the year, with its note; what is missing to compute
    it; or None when none of it is."""
    if f.get("amount") is None:
        return MissingField(who, f"amount ({funder})", f"funding.approved of {funder} has no amount: cadre C needs it")
    amount = Decimal(str(f["amount"]))
    if cfg.revenue == "approval":
        if period.start <= _date(f["at"], tz) <= period.end:
            return amount, f"{funder}: approved amount"
        return None
    if report is None:
        return None  # no journey in the year: nothing of this action was realised in it
    if report.action is None:
        return MissingField(who, "action", f"training action {action_id!r} is not "
                            "configured: its funding cannot be spread over the realised hours")
    if report.action_id not in planned_of:
        planned_of[report.action_id] = report.action.total_planned_hours()
    planned = planned_of[report.action_id]
    if not planned:
        return MissingField(who, "planned_hours", f"action {action_id} has no planned hours")
    share = (min(report.through, planned) - min(report.before, planned)) / planned
    if not share:
        return None
    if f.get("funder_kind") == "cpf" and rates is not None and report.journey is not None:
        return _cpf_amount(funder, amount, report, rates, planned, period, tz, who)
    return amount * share, f"{funder}: {amount} × {share.quantize(Decimal('0.0001'))} realised in {period.label}"


def _cpf_amount(funder: str, amount: Decimal, report: YearJourney, rates: RateConfig, planned: Decimal, period, tz,
                who: str) -> tuple[Decimal, str] | MissingField:
    """A CPF funding: the CDC pays the price × the declared taux de réalisation (CP-OF art. 5.1), the
    rate the hub's EDOF declaration states (:mod:`hub.journeys.rate`); spread over the years by the
    realised hours, like the other fundings."""
    rate = rates.rate_of(report.journey, tz, report.journey.exit_date)
    if isinstance(rate, RateProblem):
        return MissingField(who, rate.field, f"CPF product of {funder}: {rate.message}")
    realised = min(report.through, planned)
    year = realised - min(report.before, planned)
    spread = year / realised if realised else ZERO
    value = amount * Decimal(rate.value) / 100 * spread
    return value, (f"{funder}: {amount} × taux de réalisation {rate.value} % ({rate.basis}, as declared on EDOF) × "
                   f"{spread.quantize(Decimal('0.0001'))} of the realised hours in {period.label}")


def _products_total(cfg, figures: dict[str, Figure], missing: list[MissingField]) -> None:
    for line, value in zip(C_LINES, apportion([figures[line].exact_amount for line in C_LINES])):
        figures[line].amount = value
    total = figures["C-total"]
    total.amount = sum(figures[line].amount for line in C_LINES)
    total.entries = [e for line in C_LINES for e in figures[line].entries]
    if cfg.turnover:
        figures["C-share"].value = str(euros(Decimal(total.amount) * 100 / cfg.turnover))
    else:
        missing.append(MissingField("(organisation)", "turnover", "the organisation's total turnover excl. VAT "
                                    "(chiffre d'affaires global) is needed for the share of training: set exports.<name>.turnover"))


# ----------------------------------------------------------------------------- D: costs


def _costs(cfg, figures: dict[str, Figure], missing: list[MissingField]) -> None:
    """Cadre D, from the configuration (the ledger holds no costs)."""
    if cfg.charges is None:
        missing.append(MissingField("(organisation)", "charges", "cadre D (costs) is not in the ledger: set "
                                    "exports.<name>.charges.total, .trainer_salaries and .purchases"))
        return
    figures["D-total"].amount = euros(cfg.charges.total)
    figures["D-salaries"].amount = euros(cfg.charges.trainer_salaries)
    figures["D-purchases"].amount = euros(cfg.charges.purchases)


# ----------------------------------------------------------------------------- E: trainers


def _trainers(cfg, figures: dict[str, Figure], missing: list[MissingField], journeys: list[YearJourney],
              held_by_action: dict[str, dict[Any, Decimal]]) -> None:
    """Cadre E: each action's trainer, internal or external, and the hours of the half-days held."""
    actions = {r.action_id: r.action for r in journeys}
    trainers: dict[str, set[str]] = {"internal": set(), "external": set()}
    for action_id in sorted(actions):
        action, held = actions[action_id], held_by_action[action_id]
        if action is None or not held:
            continue
        settings = cfg.catalogue.get(action_id)
        trainer = action.trainer
        if not trainer:
            missing.append(MissingField(f"(action {action_id})", "trainer", "no trainer on the action: cadre E needs one"))
            continue
        status = (settings.trainer_status if settings else None) or cfg.trainers.get(trainer)
        if status is None:
            missing.append(MissingField(f"(action {action_id})", "trainer_status",
                                        f"is {trainer} internal or external? set exports.<name>.trainers or "
                                        f"catalogue.{action_id}.trainer_status"))
            continue
        hours = sum(held.values(), ZERO)
        line = "E-internal" if status == "internal" else "E-external"
        trainers[status].add(trainer)
        fig = figures[line]
        fig.exact_hours += hours
        fig.entries.append(Entry(None, None, action_id, hours=hours, note=f"{trainer}: {len(held)} half-day(s) held"))
    e_hours = apportion([figures["E-internal"].exact_hours, figures["E-external"].exact_hours])
    for (status, line), hours in zip((("internal", "E-internal"), ("external", "E-external")), e_hours):
        figures[line].headcount = len(trainers[status])
        figures[line].hours = hours
    figures["E-total"].headcount = figures["E-internal"].headcount + figures["E-external"].headcount
    figures["E-total"].hours = figures["E-internal"].hours + figures["E-external"].hours
    figures["E-total"].entries = figures["E-internal"].entries + figures["E-external"].entries


# ----------------------------------------------------------------------------- F, G: trainees and hours

_ACTION_GAPS = {"aim": "F-3: the general aim of the action is unknown (set catalogue.<action>.aim)",
                "rncp_level": "F-3: an RNCP certification needs its level (set catalogue.<action>.rncp_level)",
                "nsf": "F-4: the NSF speciality code is unknown (set catalogue.<action>.nsf)"}


def _trainees(cfg, figures: dict[str, Figure], missing: list[MissingField], journeys: list[YearJourney],
              money: dict, notes: list[str]) -> list[Figure]:
    """Cadres F-1 to F-4 and G: each enrolment with realised hours in the year; the F-4 lines."""
    nsf: dict[str, Figure] = {}
    action_missing: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in sorted(journeys, key=lambda r: (r.action_id, r.learner_name or "", r.learner_id)):
        hours = r.through - r.before
        if hours > 0:
            _count_trainee(cfg, figures, missing, nsf, action_missing, r, hours, money.get((r.learner_id, r.action_id)))
    for (action_id, what), names in sorted(action_missing.items()):
        missing.append(MissingField(f"(action {action_id})", what, f"{_ACTION_GAPS[what]}; {len(names)} trainee(s): "
                                    f"{', '.join(names[:5])}" + ("…" if len(names) > 5 else "")))
    f4 = _specialities(nsf)
    notes.extend(_round_trainees(figures, f4))
    return f4


def _count_trainee(cfg, figures: dict[str, Figure], missing: list[MissingField], nsf: dict[str, Figure],
                   action_missing: dict[tuple[str, str], list[str]], r: YearJourney, hours: Decimal,
                   money: Money | None) -> None:
    """Add one enrolment's hours of the year to its lines: G, or its F-1 type, F-2, F-3 aim and F-4 speciality."""
    name = r.learner_name or r.learner_id
    settings = cfg.catalogue.get(r.action_id)
    entry = Entry(r.learner_id, r.learner_name, r.action_id, hours=hours)

    def add(line: str, fig: Figure | None = None) -> None:
        fig = fig or figures[line]
        fig.exact_hours += hours
        fig.trainees = (fig.trainees or 0) + 1
        fig.entries.append(entry)

    if settings is not None and settings.entrusted_by_of:
        add("G")
        return
    ttype = _trainee_type(cfg, settings, r, money)
    if ttype is None:
        missing.append(MissingField(name, "trainee_type", f"F-1: the type of trainee is unknown for {r.action_id} "
                                    "(set catalogue.<action>.trainee_type, funding.approved data.trainee_type, "
                                    "or map its funder_kind in funder_kind_types)"))
    else:
        add(f"F1-{ttype}")
        add("F1-total")
    if settings is not None and settings.subcontracted:
        add("F2")
    aim = _aim(settings, r.action)
    if aim is None:
        action_missing[(r.action_id, "aim")].append(name)
    elif aim == "a-?":
        action_missing[(r.action_id, "rncp_level")].append(name)
    else:
        add(f"F3-{aim}")
        add("F3-total")
    code = settings.nsf if settings else None
    if not code:
        action_missing[(r.action_id, "nsf")].append(name)
    else:
        add("F4", nsf.setdefault(code, Figure("F4", code=code, value=(settings.nsf_label or ""))))
        add("F4-total")


def _specialities(nsf: dict[str, Figure]) -> list[Figure]:
    """F-4: the five specialities with the most hours, then the others together."""
    ranked = sorted(nsf.values(), key=lambda f: (-f.exact_hours, -(f.trainees or 0), f.code or ""))
    f4 = []
    for i, fig in enumerate(ranked[:5], start=1):
        fig.line = f"F4-{i}"
        f4.append(fig)
    others = Figure("F4-others")
    for fig in ranked[5:]:
        others.exact_hours += fig.exact_hours
        others.trainees = (others.trainees or 0) + (fig.trainees or 0)
        others.entries.extend(fig.entries)
    f4.append(others)
    return f4


def _round_trainees(figures: dict[str, Figure], f4: list[Figure]) -> list[str]:
    """Whole hours per line, each line its exact hours rounded half-up (the notice: to the nearest
    whole number); each total of F-1, F-3 and F-4 the sum of its printed lines. Returns a note for
    each total that is not its exact sum rounded, or that differs from F-1's."""
    for fig in [*(figures[k] for k in figures if k[0] in "FG"), *f4]:
        if fig.line.endswith("-total"):
            continue
        fig.hours = whole_hours(fig.exact_hours)
        fig.trainees = fig.trainees or 0
    notes = []
    groups = (("F-1", "F1-total", [figures[f"F1-{x}"] for x in F1]), ("F-3", "F3-total", [figures[f"F3-{x}"] for x in F3]),
              ("F-4", "F4-total", f4))
    for cadre, total_line, parts in groups:
        total = figures[total_line]
        total.hours = sum(p.hours for p in parts)
        total.trainees = sum(p.trainees for p in parts)
        total.exact_hours = sum((p.exact_hours for p in parts), ZERO)
        if total.hours != whole_hours(total.exact_hours):
            notes.append(f"{cadre}: its lines, each rounded to the nearest hour, add up to {total.hours} h, the "
                         f"total printed; the exact hours ({_hours_text(total.exact_hours)} h) round to "
                         f"{whole_hours(total.exact_hours)} h")
    f1 = figures["F1-total"].hours
    for cadre, total_line, _ in groups[1:]:
        if figures[total_line].hours != f1:
            notes.append(f"{cadre} totals {figures[total_line].hours} h and F-1 {f1} h: the same hours, rounded line by "
                         "line over other lines")
    return notes


def _hours_text(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01"), ROUND_HALF_UP).normalize(), "f")


def _trainee_type(cfg, settings, report, money: Money | None) -> str | None:
    if settings is not None and settings.trainee_type:
        return settings.trainee_type
    found = set()
    for name in sorted(report.funders):
        fact = report.funders[name]
        explicit = dossier_from([fact]).trainee_type
        if explicit in F1:
            return explicit
        mapped = cfg.funder_kind_types.get(fact.get("funder_kind", "other"))
        if mapped:
            found.add(mapped)
    if not report.funders and money is not None and money.payments:
        found.add(cfg.funder_kind_types.get("self", "d"))
    for letter in TYPE_ORDER:
        if letter in found:
            return letter
    return None


def _aim(settings, action) -> str | None:
    if settings is not None and settings.aim:
        if settings.aim == "rncp":
            return f"a-{settings.rncp_level}" if settings.rncp_level else "a-?"
        return {"rs": "b", "cqp": "c", "other": "d", "bilan": "e", "vae": "f"}[settings.aim]
    if action is None:
        return None
    if action.nature == "bilan_competences":
        return "e"
    if action.nature == "vae":
        return "f"
    cert = (action.certification or "").strip().upper()
    if cert.startswith("RS"):
        return "b"
    if cert.startswith("RNCP"):
        return "a-?"
    return None


def _header(organisation, period, journeys, missing: list[MissingField]) -> dict[str, Any]:
    org = organisation
    if org is None:
        missing.append(MissingField("(organisation)", "organisation", "cadre A needs hub.organisation (name, SIRET, NDA)"))
    elif not org.nda:
        missing.append(MissingField("(organisation)", "nda", "cadre A needs the numéro de déclaration d'activité "
                                    "(hub.organisation.nda)"))
    if org is not None and not org.representative:
        missing.append(MissingField("(organisation)", "representative", "cadre H needs the manager "
                                    "(hub.organisation.representative)"))
    actions = {r.action_id: r.action for r in journeys if r.action is not None}
    distance = any(a.modality != "presentiel" or any(hd.modality != "presentiel" for hd in a.schedule())
                   for a in actions.values()
                   if a.start <= period.end and a.end >= period.start)
    return {
        "A": {"name": org.name if org else None, "siret": org.siret if org else None, "nda": org.nda if org else None,
              "address": org.address if org else None},
        "B": {"start": period.start.isoformat(), "end": period.end.isoformat(), "distance": distance},
        "H": {"name": org.representative if org else None, "title": org.representative_title if org else None},
    }
