"""A small, hand-made history whose insights are known: one action of a week (mornings in the
classroom, afternoons in FOAD), four learners, program views, contacts from two channels."""

from __future__ import annotations

ACTION = "ACT-INS-01"
OTHER = "ACT-INS-02"
CONFIG = f"""
actions:
  {ACTION}:
    title: "Analyse de données"
    modality: mixte
    start: 2026-10-05
    end: 2026-10-09
    pattern:
      weekdays: [mon, tue, wed, thu, fri]
      am: {{start: "09:00", end: "12:00", modality: presentiel}}
      pm: {{start: "14:00", end: "17:00", modality: foad_asynchrone}}
  {OTHER}:
    title: "Bureautique"
    start: 2026-11-02
    end: 2026-11-03
    pattern:
      weekdays: [mon, tue]
      am: {{start: "09:00", end: "12:00"}}
"""


def _learner(ref: str) -> dict:
    return {"ref": ref, "email": f"{ref}@example.fr", "name": f"Apprenant {ref}"}


def ev(source_id: str, type_: str, at: str, ref: str | None = None, action: str | None = ACTION, **data) -> dict:
    out = {"type": type_, "occurred_at": at, "source_id": source_id, "data": data}
    if ref:
        out["learner"] = _learner(ref)
    if action:
        out["action"] = action
    return out


def events() -> list[dict]:
    out = []
    for i in range(5):
        out.append(ev(f"view-{i}", "prospect.program_viewed", f"2026-09-0{i + 1}T10:00:00+02:00", program="data",
                      consent=True))
    out.append(ev("view-other", "prospect.program_viewed", "2026-09-01T10:00:00+02:00", action=OTHER,
                  program="bureautique", consent=True))
    for ref, origin in (("l1", "salon"), ("l2", "site web"), ("l3", "site web")):
        out.append(ev(f"contact-{ref}", "prospect.contact_created", "2026-09-10T10:00:00+02:00", ref, None,
                      email=f"{ref}@example.fr", origin=origin))
    for ref in ("l1", "l2", "l3", "l4"):
        out.append(ev(f"reg-{ref}", "enrolment.registered", "2026-09-15T10:00:00+02:00", ref))
    for ref in ("l1", "l2", "l4"):
        out.append(ev(f"start-{ref}", "enrolment.started", "2026-10-05T09:00:00+02:00", ref, date="2026-10-05"))
        for day in ("05", "06"):
            out.append(ev(f"sig-{ref}-{day}", "attendance.signed", f"2026-10-{day}T09:05:00+02:00", ref,
                          date=f"2026-10-{day}", half_day="am", trainer_cosigned=True))
    # l1: sessions then completions, each module after its own session; a quiz of 20 minutes
    out += [
        ev("s1-l1", "lms.session", "2026-10-05T15:00:00+02:00", "l1", start="2026-10-05T14:00:00+02:00",
           end="2026-10-05T15:00:00+02:00", duration_seconds=3600),
        ev("m1-l1", "lms.activity_completed", "2026-10-05T15:30:00+02:00", "l1", activity="m1", activity_name="Module 1",
           estimated_minutes=30),
        ev("s2-l1", "lms.session", "2026-10-06T16:00:00+02:00", "l1", start="2026-10-06T14:00:00+02:00",
           end="2026-10-06T16:00:00+02:00", duration_seconds=7200),
        ev("m2-l1", "lms.activity_completed", "2026-10-06T16:30:00+02:00", "l1", activity="m2", activity_name="Module 2",
           estimated_minutes=60),
        ev("q2-l1", "lms.quiz_attempted", "2026-10-06T16:50:00+02:00", "l1", activity="q2", activity_name="Quiz 2",
           started_at="2026-10-06T16:30:00+02:00", finished_at="2026-10-06T16:50:00+02:00"),
        ev("m3-l1", "lms.activity_completed", "2026-10-07T16:00:00+02:00", "l1", activity="m3", estimated_minutes=45),
        ev("done-l1", "enrolment.completed", "2026-10-09T17:00:00+02:00", "l1", date="2026-10-09"),
        ev("cert-l1", "certification.awarded", "2026-10-20T10:00:00+02:00", "l1", certification="Analyste"),
    ]
    # l2: module 1, then a quiz, then leaves (dropout at module 2, stopped after the quiz)
    out += [
        ev("m1-l2", "lms.activity_completed", "2026-10-05T16:00:00+02:00", "l2", activity="m1", activity_name="Module 1",
           estimated_minutes=30),
        ev("q2-l2", "lms.quiz_attempted", "2026-10-06T15:00:00+02:00", "l2", activity="q2", activity_name="Quiz 2"),
        ev("quit-l2", "enrolment.abandoned", "2026-10-07T10:00:00+02:00", "l2", date="2026-10-07"),
    ]
    # l4 (no contact): modules 1 and 2 (module 1 twice: once failed), leaves; a download after leaving is not its last
    out += [
        ev("m1-l4-fail", "lms.activity_completed", "2026-10-05T15:00:00+02:00", "l4", activity="m1", state="fail"),
        ev("m1-l4", "lms.activity_completed", "2026-10-05T16:10:00+02:00", "l4", activity="m1", estimated_minutes=30),
        ev("m2-l4", "lms.activity_completed", "2026-10-06T16:40:00+02:00", "l4", activity="m2", estimated_minutes=60),
        ev("quit-l4", "enrolment.abandoned", "2026-10-07T10:00:00+02:00", "l4", date="2026-10-07"),
        ev("dl-l4", "lms.resource_downloaded", "2026-10-08T10:00:00+02:00", "l4", resource="r9", resource_name="Support"),
    ]
    return out
