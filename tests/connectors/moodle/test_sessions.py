"""Sessionisation rules, on hand-made streams (no database)."""

from __future__ import annotations

import json

from connectors.moodle.sessions import ACTIVITY, LOGIN, LOGOUT, VC_JOIN, VC_LEFT, Sessioniser

GAP = 30 * 60
T0 = 1_800_000_000  # any Unix time


def run(rows, *, gap=GAP, clock=None, vc_max=4 * 3600):
    s = Sessioniser(gap, vc_max)
    for row in rows:
        s.feed(*row)
    if clock is not None:
        s.close_idle(clock)
    return s


def sessions(s):
    return [o for kind, o in s.take() if kind == "session"]


def test_a_gap_shorter_than_the_inactivity_gap_keeps_the_session():
    s = run([(1, 7, T0, LOGIN), (2, 7, T0 + GAP - 1, ACTIVITY), (3, 7, T0 + 2 * GAP - 2, ACTIVITY)], clock=T0 + 10 * GAP)
    [one] = sessions(s)
    assert (one["start"], one["end"], one["count"], one["closed_by"]) == (T0, T0 + 2 * GAP - 2, 3, "inactivity")


def test_a_gap_equal_to_the_inactivity_gap_starts_a_new_session():
    s = run([(1, 7, T0, ACTIVITY), (2, 7, T0 + GAP, ACTIVITY)], clock=T0 + 10 * GAP)
    first, second = sessions(s)
    assert (first["start"], first["end"], first["closed_by"]) == (T0, T0, "inactivity")
    assert (second["start"], second["first_id"], second["opened_by"]) == (T0 + GAP, 2, "activity")


def test_login_opens_and_logout_closes():
    s = run([(1, 7, T0, LOGIN), (2, 7, T0 + 60, ACTIVITY), (3, 7, T0 + 90, LOGIN), (4, 7, T0 + 100, LOGOUT)])
    first, second = sessions(s)
    assert (first["end"], first["closed_by"]) == (T0 + 60, "login")
    assert (second["start"], second["end"], second["opened_by"], second["closed_by"]) == (T0 + 90, T0 + 100, "login",
                                                                                         "logout")
    assert s.open == {}


def test_a_logout_after_the_gap_is_a_moment_of_presence():
    s = run([(1, 7, T0, LOGIN), (2, 7, T0 + GAP + 5, LOGOUT)])
    first, second = sessions(s)
    assert first["closed_by"] == "inactivity" and first["end"] == T0
    assert (second["start"], second["end"], second["closed_by"]) == (T0 + GAP + 5, T0 + GAP + 5, "logout")


def test_open_sessions_wait_for_the_clock():
    s = run([(1, 7, T0, LOGIN), (2, 8, T0 + 100, LOGIN)])
    s.close_idle(T0 + GAP)  # user 7: exactly the gap, not more
    assert sessions(s) == [] and set(s.open) == {7, 8}
    s.close_idle(T0 + GAP + 1)
    assert [o["user"] for o in sessions(s)] == [7] and set(s.open) == {8}


def test_the_state_is_small_json_and_resumes_exactly():
    rows = [(i, 100 + i % 5, T0 + i * 40, LOGIN if i < 5 else ACTIVITY) for i in range(1, 60)]
    whole = run(rows, clock=T0 + 10_000)
    expected = whole.take()
    part = Sessioniser(GAP, 4 * 3600)
    out = []
    for chunk in (rows[:17], rows[17:41], rows[41:]):
        part = Sessioniser(GAP, 4 * 3600, json.loads(json.dumps(part.state())))
        for row in chunk:
            part.feed(*row)
        out += part.take()
    part.close_idle(T0 + 10_000)
    out += part.take()
    assert out == expected
    assert len(json.dumps(whole.state())) < 100


def test_a_live_class_keeps_the_session_open_and_gives_presence():
    rows = [(1, 7, T0, LOGIN), (2, 7, T0 + 120, VC_JOIN, 21, 2101), (3, 7, T0 + 120 + 5580, VC_LEFT, 21, 2101),
            (4, 7, T0 + 5800, LOGOUT)]
    s = Sessioniser(GAP, 4 * 3600)
    for row in rows[:2]:
        s.feed(*row)
    s.close_idle(T0 + 3600)  # an hour of silence: the learner is in the meeting
    assert s.take() == [] and 7 in s.open
    for row in rows[2:]:
        s.feed(*row)
    out = s.take()
    [vc] = [o for k, o in out if k == "vc"]
    [session] = [o for k, o in out if k == "session"]
    assert (vc["joined"], vc["left"], vc["closed_by"], vc["cm"]) == (T0 + 120, T0 + 5700, "left", 2101)
    assert (session["start"], session["end"], session["closed_by"]) == (T0, T0 + 5800, "logout")


def test_meeting_ended_closes_everyone_and_extends_their_session():
    s = run([(1, 7, T0, VC_JOIN, 21, 2101), (2, 8, T0 + 10, VC_JOIN, 21, 2101), (3, 9, T0 + 20, VC_JOIN, 21, 2102)])
    s.end_meeting(2101, T0 + 4000)
    s.close_idle(T0 + 4000 + GAP + 1)
    out = s.take()
    vcs = {o["user"]: o for k, o in out if k == "vc"}
    assert {u: (v["left"], v["closed_by"]) for u, v in vcs.items()} == {7: (T0 + 4000, "meeting_ended"),
                                                                       8: (T0 + 4000, "meeting_ended")}
    ends = {o["user"]: o["end"] for k, o in out if k == "session"}
    assert ends == {7: T0 + 4000, 8: T0 + 4000}
    assert set(s.vc) == {"9:2102"} and set(s.open) == {9}, "user 9 is still in another meeting"


def test_a_join_never_closed_times_out_with_an_unknown_end():
    s = run([(1, 7, T0, VC_JOIN, 21, 2101)], vc_max=3600)
    s.close_idle(T0 + 3601)
    vc = [o for k, o in s.take() if k == "vc"][0]
    assert (vc["joined"], vc["left"], vc["closed_by"]) == (T0, None, "timeout")
    assert s.vc == {}


def test_a_left_without_join_is_kept():
    s = run([(5, 7, T0, VC_LEFT, 21, 2101)])
    vc = [o for k, o in s.take() if k == "vc"][0]
    assert (vc["joined"], vc["left"], vc["closed_by"]) == (None, T0, "left_without_join")


def test_out_of_order_times_within_the_gap_stay_in_the_session():
    s = run([(1, 7, T0 + 100, LOGIN), (2, 7, T0 + 40, ACTIVITY), (3, 7, T0 + 160, ACTIVITY)], clock=T0 + 10 * GAP)
    [one] = sessions(s)
    assert (one["start"], one["end"], one["count"]) == (T0 + 40, T0 + 160, 3)


def test_courses_are_kept_but_not_the_site_course():
    s = run([(1, 7, T0, ACTIVITY, 1), (2, 7, T0 + 1, ACTIVITY, 3), (3, 7, T0 + 2, ACTIVITY, 4), (4, 7, T0 + 3, ACTIVITY, 3)],
            clock=T0 + 10 * GAP)
    assert sessions(s)[0]["courses"] == [3, 4]
