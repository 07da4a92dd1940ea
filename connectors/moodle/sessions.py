"""Connection sessions and virtual-class presence from a stream of log rows, in id order.

A *session* of a learner is a run of their logged events in which no two consecutive events
are ``gap`` or more apart. A log-in always opens a new session and a log-out closes the current
one. A session is emitted only once it is closed: by the learner's next event after the gap,
by a log-in or log-out, or when the clock (the time of the latest rows read, or the wall clock
once the whole log has been read) is more than ``gap`` past its last event. Open sessions live
in the cursor: one small entry per learner active within the last ``gap``.

BigBlueButton: ``meeting_joined`` opens a presence that ``meeting_left`` (or ``meeting_ended``
for everyone in that meeting) closes. While a learner is in a meeting, their session is not
closed for inactivity: nothing is logged during a live class. A join that is never closed is
emitted after ``vc_max`` with an unknown leaving time and a duration of 0 (an underestimate,
never an invention).
"""

from __future__ import annotations

import collections
from typing import Any

LOGIN, LOGOUT, ACTIVITY, VC_JOIN, VC_LEFT = range(5)
MAX_COURSES = 10


class Sessioniser:
    def __init__(self, gap: float, vc_max: float, state: dict[str, Any] | None = None):
        self.gap = float(gap)
        self.vc_max = float(vc_max)
        state = state or {}
        # user -> [start, last, count, first_id, last_id, opened_by_login (0/1), [course ids]]
        self.open: dict[int, list[Any]] = {int(k): list(v) for k, v in (state.get("open") or {}).items()}
        # "user:cm" -> [joined, join_id, course]
        self.vc: dict[str, list[Any]] = {k: list(v) for k, v in (state.get("vc") or {}).items()}
        self._in_vc: collections.Counter[int] = collections.Counter(int(k.split(":")[0]) for k in self.vc)
        self.out: list[tuple[str, dict[str, Any]]] = []

    # ------------------------------------------------------------------ state
    def state(self) -> dict[str, Any]:
        return {"open": {str(k): v for k, v in self.open.items()}, "vc": dict(self.vc)}

    def take(self) -> list[tuple[str, dict[str, Any]]]:
        out, self.out = self.out, []
        return out

    # ------------------------------------------------------------------ feeding
    def feed(self, log_id: int, user: int, t: int, kind: int, course: int | None = None,
             cm: int | None = None) -> None:
        if kind == LOGIN:
            if user in self.open:
                # a log-in right after activity ends that session; after the gap, inactivity already had
                self._close(user, "login" if self._continues(user, t) else "inactivity")
            self._new(user, log_id, t, course, login=True)
        elif kind == LOGOUT:
            if user in self.open and self._continues(user, t):
                self._extend(user, log_id, t, course)
                self._close(user, "logout")
            else:
                if user in self.open:
                    self._close(user, "inactivity")
                self._new(user, log_id, t, course, login=False)
                self._close(user, "logout")
        else:
            self._activity(user, log_id, t, course)
            if kind == VC_JOIN:
                key = f"{user}:{cm}"
                if key in self.vc:
                    self._vc_close(key, None, None, "joined_again")
                self.vc[key] = [t, log_id, course]
                self._in_vc[user] += 1
            elif kind == VC_LEFT:
                key = f"{user}:{cm}"
                if key in self.vc:
                    self._vc_close(key, t, log_id, "left")
                else:
                    self.out.append(("vc", {"user": user, "cm": cm, "course": course, "joined": None, "left": t,
                                            "join_id": None, "left_id": log_id, "closed_by": "left_without_join"}))

    def end_meeting(self, cm: int, t: int) -> None:
        """A meeting ended (``meeting_ended``): everyone still in it has left at ``t``."""
        for key in [k for k in self.vc if k.endswith(f":{cm}")]:
            self._vc_close(key, t, None, "meeting_ended")

    def close_idle(self, clock: float) -> None:
        """Close what ``clock`` (a Unix time) proves finished."""
        for key in [k for k, v in self.vc.items() if clock - v[0] > self.vc_max]:
            self._vc_close(key, None, None, "timeout")
        for user in [u for u, s in self.open.items() if clock - s[1] > self.gap and not self._in_vc.get(u)]:
            self._close(user, "inactivity")

    # ------------------------------------------------------------------ internals
    def _continues(self, user: int, t: int) -> bool:
        start, last = self.open[user][0], self.open[user][1]
        if self._in_vc.get(user) and t >= start:
            return True
        return t - last < self.gap and start - t < self.gap

    def _activity(self, user: int, log_id: int, t: int, course: int | None) -> None:
        if user in self.open:
            if self._continues(user, t):
                self._extend(user, log_id, t, course)
                return
            self._close(user, "inactivity")
        self._new(user, log_id, t, course, login=False)

    def _new(self, user: int, log_id: int, t: int, course: int | None, *, login: bool) -> None:
        self.open[user] = [t, t, 1, log_id, log_id, 1 if login else 0, [course] if course and course > 1 else []]

    def _extend(self, user: int, log_id: int, t: int, course: int | None) -> None:
        s = self.open[user]
        s[0], s[1] = min(s[0], t), max(s[1], t)
        s[2] += 1
        s[4] = log_id
        if course and course > 1 and course not in s[6] and len(s[6]) < MAX_COURSES:
            s[6].append(course)

    def _close(self, user: int, reason: str) -> None:
        start, last, count, first_id, last_id, login, courses = self.open.pop(user)
        self.out.append(("session", {"user": user, "start": start, "end": last, "count": count,
                                     "first_id": first_id, "last_id": last_id,
                                     "opened_by": "login" if login else "activity", "closed_by": reason,
                                     "courses": courses}))

    def _vc_close(self, key: str, left: int | None, left_id: int | None, reason: str) -> None:
        joined, join_id, course = self.vc.pop(key)
        user, cm = (int(p) for p in key.split(":"))
        if left is not None and user in self.open and left >= self.open[user][0]:
            self.open[user][1] = max(self.open[user][1], left)  # present until the meeting ended
        self._in_vc[user] -= 1
        if self._in_vc[user] <= 0:
            del self._in_vc[user]
        self.out.append(("vc", {"user": user, "cm": cm, "course": course, "joined": joined, "left": left,
                                "join_id": join_id, "left_id": left_id, "closed_by": reason}))
