"""What an OPCO checks before it pays (*contrôle de service fait*), as proof rules.

They join ``parcours proofs check`` (``FunderFormat.proof_rules``) beside the default rules, which
already flag unsigned half-days and half-days without the trainer's co-signature. These add what
the OPCO's payment depends on:

* ``billable_half_days`` — a half-day signed by the learner alone that the journey counts as
  realised: an OPCO pays only half-days signed by the learner *and* the trainer (décret 2017-382;
  OPCO practice), so the hours billed would exceed what it accepts;
* ``hours_match_agreement`` — the hours the OPCO agreed to fund equal the scheduled hours of the
  action (the convention): a gap, even of 30 minutes, blocks payment. With a co-funder, the OPCO's
  hours must only not exceed them;
* ``funding_fields`` — the employer's SIRET (valid) and the OPCO's file number, without which
  the files cannot be sent.

Rules apply to enrolments funded by an OPCO this export covers (its ``funders``, else the funder
kinds in ``opco_kinds``).
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING

from funder_formats.opco.statement import opco_dossier, opco_fundings
from hub.journeys.compute import JourneyReport
from hub.journeys.proofs import Gap, ProofRule
from hub.siret import siret_valid

if TYPE_CHECKING:
    from funder_formats.opco.format import OpcoFormat

HALF = {"am": "morning", "pm": "afternoon"}


def _h(value: Decimal) -> str:
    """70.0 → 70, 3.50 → 3.5."""
    return format(Decimal(value).normalize(), "f") if value else "0"


def make_rules(fmt: OpcoFormat) -> list[ProofRule]:
    config = fmt.config
    scope = tuple(config.funders) if config.funders else None

    def billable_half_days(report: JourneyReport, today: dt.date) -> list[Gap]:
        if not config.require_trainer_cosignature or not opco_fundings(report, config):
            return []
        gaps = []
        for r in report.half_days:
            hd = r.half_day
            if hd.date >= today or r.status != "signed_without_trainer" or not r.hours:
                continue
            gaps.append(Gap(
                "opco_half_day_not_billable",
                f"{hd.date.isoformat()} {HALF[hd.half_day]}: {_h(r.hours)} h counted as realised, but the OPCO pays a "
                "half-day only when the learner and the trainer both signed it",
                "have the trainer co-sign this half-day (attendance.signed with trainer_cosigned: true); until then "
                "the OPCO export bills 0 h for it", hd.date.isoformat(), hd.half_day))
        return gaps

    def hours_match_agreement(report: JourneyReport, today: dt.date) -> list[Gap]:
        if report.action is None:
            return []
        gaps = []
        planned = report.planned_hours
        for name, fact in opco_fundings(report, config):
            approved = fact.get("hours")
            if approved in (None, ""):
                gaps.append(Gap("opco_hours_not_stated", f"{name}: the funding approval states no hours; the OPCO "
                                "checks the billed hours against the hours it agreed to fund",
                                "record the approved hours (funding.approved with hours)"))
                continue
            approved = Decimal(str(approved))
            cofunded = len(report.funders) > 1
            if (cofunded and approved > planned) or (not cofunded and approved != planned):
                gaps.append(Gap("opco_hours_mismatch",
                                f"{name}: the OPCO agreed to fund {_h(approved)} h but the action schedules {_h(planned)} h"
                                + (" (co-funded: the OPCO's share cannot exceed the schedule)" if cofunded else ""),
                                "align the schedule of the action with the funding agreement, or record the corrected "
                                "approval (a gap, even 30 minutes, blocks the payment)"))
        return gaps

    def funding_fields(report: JourneyReport, today: dt.date) -> list[Gap]:
        gaps = []
        for name, fact in opco_fundings(report, config):
            dossier = opco_dossier(report, fact, config)
            siret = dossier.employer_siret
            if not siret:
                gaps.append(Gap("opco_employer_siret_missing", f"{name}: the employer's SIRET is not recorded",
                                "give data.employer_siret on the funding.approved event"))
            elif not siret_valid(siret):
                gaps.append(Gap("opco_employer_siret_invalid", f"{name}: the employer's SIRET {siret!r} is not valid "
                                "(14 digits with a valid check digit)",
                                f"record the corrected data.employer_siret (read from {dossier.origins['employer_siret']})"))
            if not dossier.file_number:
                gaps.append(Gap("opco_dossier_missing", f"{name}: no OPCO file number",
                                "give data.dossier (or the reference) on the funding.approved event"))
        return gaps

    prefix = f"{fmt.name}."
    return [
        ProofRule(prefix + "billable_half_days", billable_half_days, scope,
                  "OPCO: every billed half-day signed by the learner and the trainer"),
        ProofRule(prefix + "hours_match_agreement", hours_match_agreement, scope,
                  "OPCO: funded hours equal to the scheduled hours of the convention"),
        ProofRule(prefix + "funding_fields", funding_fields, scope,
                  "OPCO: the employer's SIRET and the OPCO's file number are recorded"),
    ]
