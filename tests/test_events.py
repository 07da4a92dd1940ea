import pytest

from hub.events import CORE_EVENT_TYPES, EventData, EventTypeRegistry, EventValidationError
from hub.ulid import new_ulid, new_ulids, ulid_time_ms
from tests.conftest import event


def test_core_vocabulary_covers_design():
    expected = {
        "prospect.program_viewed", "prospect.contact_created", "enrolment.registered", "enrolment.terms_accepted",
        "enrolment.agreement_signed", "funding.approved", "payment.succeeded", "payment.refunded",
        "invoice.issued", "invoice.paid",
        "enrolment.started", "attendance.signed", "attendance.absent", "lms.session", "lms.activity_completed",
        "lms.quiz_attempted", "lms.resource_downloaded", "lms.media_played", "lms.virtual_class_attended",
        "lms.progress", "lms.tutor_interaction", "assessment.graded", "certification.awarded",
        "enrolment.completed", "enrolment.abandoned", "document.issued", "document.revoked", "badge.awarded", "badge.revoked", "alert.raised",
        "alert.followed_up", "compliance.deadline_due", "compliance.deadline_missed", "admin.action",
        "access.sign_in", "access.sign_out", "access.audit_viewed", "risk.flagged", "privacy.data_exported",
        "privacy.rectified", "access.document_downloaded", "consent.given", "consent.withdrawn",
        "privacy.erased", "privacy.erasure_refused",
    }
    assert set(CORE_EVENT_TYPES) == expected


def test_valid_batch_is_normalised():
    reg = EventTypeRegistry()
    out = reg.validate_batch([event(1), event(2, "attendance.signed", data={"date": "2026-10-05", "half_day": "am"})])
    assert out[0]["occurred_at"].utcoffset().total_seconds() == 7200
    assert out[1]["data"].half_day == "am" and out[1]["data"].modality == "presentiel"


def test_unknown_type_is_refused_with_known_list():
    with pytest.raises(EventValidationError) as err:
        EventTypeRegistry().validate_batch([event(0), event(1, "lms.teleported")])
    (index, path, msg), = err.value.problems
    assert index == 1 and path == "type"
    assert "unknown event type 'lms.teleported'" in msg and "lms.session" in msg


def test_invalid_data_names_the_field_path():
    bad = event(3, "attendance.signed", data={"date": "2026-10-05", "half_day": "evening"})
    with pytest.raises(EventValidationError) as err:
        EventTypeRegistry().validate_batch([event(0), bad])
    assert err.value.problems[0][0] == 1
    assert err.value.problems[0][1] == "data.half_day"


def test_naive_time_and_unknown_keys_are_refused():
    with pytest.raises(EventValidationError) as err:
        EventTypeRegistry().validate_batch([event(0, occurred_at="2026-10-05T10:00:00"), {**event(1), "colour": "red"}])
    problems = {(i, p) for i, p, _ in err.value.problems}
    assert (0, "occurred_at") in problems and (1, "colour") in problems


def test_session_end_before_start_is_refused():
    bad = event(0, "lms.session", data={"start": "2026-10-05T10:00:00Z", "end": "2026-10-05T09:00:00Z", "duration_seconds": 0})
    with pytest.raises(EventValidationError, match="end is before start"):
        EventTypeRegistry().validate_batch([bad])


def test_program_view_needs_consent():
    bad = event(0, "prospect.program_viewed", data={"program": "x", "consent": False})
    with pytest.raises(EventValidationError, match="consent"):
        EventTypeRegistry().validate_batch([bad])


def test_plugins_register_types():
    class Badge(EventData):
        badge: str

    reg = EventTypeRegistry()
    reg.register("gamification.badge_earned", Badge)
    out = reg.validate_batch([event(0, "gamification.badge_earned", data={"badge": "gold"})])
    assert out[0]["data"].badge == "gold"
    with pytest.raises(ValueError, match="dotted lowercase"):
        reg.register("Badge", Badge)
    with pytest.raises(TypeError):
        reg.register("x.y", dict)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("lms.session", Badge)


def test_ulids_are_monotonic_and_timed():
    import time

    batch = new_ulids(3000)  # crosses several 1024 blocks of the low bits
    singles = [new_ulid() for _ in range(50)]
    everything = batch + singles
    assert everything == sorted(everything) and len(set(everything)) == len(everything)
    assert all(len(u) == 26 for u in everything)
    assert abs(ulid_time_ms(singles[-1]) - time.time() * 1000) < 1000
