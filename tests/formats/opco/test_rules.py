"""The OPCO's proof rules, in ``parcours proofs check`` (hub.proof_gaps) beside the default rules."""

from __future__ import annotations

from tests.formats.opco.conftest import open_demo, open_edge
from tests.test_journeys import DEMO_ACTION

EXPORTS = """
exports:
  atlas: {kind: opco, funders: [opco-atlas]}
"""


def _gaps(found, name):
    entry = next((e for e in found if e.learner_name == name), None)
    return [] if entry is None else [(rule, gap.code) for rule, gap in entry.gaps]


async def test_rules_join_proofs_check_for_the_opco_enrolments_only(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS)
    names = [r.name for r in hub.proof_rules()]
    assert {"atlas.billable_half_days", "atlas.hours_match_agreement", "atlas.funding_fields"} <= set(names)
    found = await hub.proof_gaps(action=DEMO_ACTION)
    assert _gaps(found, "Théo Garnier") == [("half_days", "half_day_no_trainer_signature"),
                                             ("atlas.billable_half_days", "opco_half_day_not_billable")]
    theo = next(e for e in found if e.learner_name == "Théo Garnier").gaps[1][1]
    assert theo.date == "2026-10-07" and theo.half_day == "am" and "3.5 h counted as realised" in theo.message
    assert _gaps(found, "Camille Dubois") == []
    # France Travail and CPF learners are not the OPCO's: no OPCO gap for Lucas Bernard (dropout)
    assert not [g for g in _gaps(found, "Lucas Bernard") if g[0].startswith("atlas.")]


async def test_missing_employer_fields_and_hours_that_differ_from_the_agreement(make_hub, workdir):
    hub = await open_demo(make_hub, workdir, EXPORTS, details=False)
    await hub.append([{
        "type": "funding.approved", "occurred_at": "2026-09-20T10:00:00+02:00", "source_id": "pec-camille-2",
        "learner": {"ref": "apprenant-01", "email": "camille.dubois@example.fr"}, "action": DEMO_ACTION,
        "data": {"funder": "opco-atlas", "funder_kind": "opco", "hours": "69.5", "reference": "PEC-OPCO-ATLAS-2600",
                 "details": {"employer_siret": "44101234500018"}}}], source=None)
    found = await hub.proof_gaps(action=DEMO_ACTION, funder="opco-atlas")
    assert _gaps(found, "Camille Dubois") == [("atlas.hours_match_agreement", "opco_hours_mismatch"),
                                               ("atlas.funding_fields", "opco_employer_siret_invalid")]
    assert _gaps(found, "Chloé N'Diaye") == [("atlas.funding_fields", "opco_employer_siret_missing")]
    entry = next(e for e in found if e.learner_name == "Camille Dubois")
    assert "agreed to fund 69.5 h but the action schedules 70 h" in entry.gaps[0][1].message


async def test_a_co_funded_enrolment_may_have_fewer_opco_hours(make_hub, workdir):
    hub = await open_edge(make_hub, workdir, EXPORTS)
    found = await hub.proof_gaps(action="ACT-EDGE-01")
    assert not [g for g in _gaps(found, "David Nguyen") if g[0].startswith("atlas.")]  # 56 h of 112, with the CPF
    assert ("atlas.billable_half_days", "opco_half_day_not_billable") in _gaps(found, "Chloé Wiśniewska")
