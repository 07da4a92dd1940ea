"""Configuration of badges: ``hub.badges`` in the hub's YAML (see docs/badges.md).

Badges are opt-in (``enabled: false`` by default). Each badge names one milestone:

* ``module_completed`` — the learner completed (or passed) the LMS activity ``activity`` (a glob:
  ``mod-*`` matches any module) in an action;
* ``attendance_streak`` — ``half_days`` scheduled half-days in a row, each signed (présentiel or
  distanciel synchrone; FOAD half-days, which nobody signs, neither count nor break a streak);
* ``certification`` — a ``certification.awarded`` whose certification or code matches
  ``certification`` (a glob, ``*`` by default).

``actions`` (globs) limits a badge to some training actions.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hub.durations import Duration

MilestoneKind = Literal["module_completed", "attendance_streak", "certification"]


class BadgeConfig(BaseModel):
    """One badge: what it is called and which milestone earns it."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,59}$", description="Stable id of the badge (in URLs and events)")
    name: str = Field(min_length=1, max_length=200, description="Name of the badge, in French (shown to the learner)")
    description: str = Field(min_length=1, max_length=2000, description="What the badge recognises, in French")
    criteria: str = Field(min_length=1, max_length=2000, description="How it is earned, in French (the "
                          "Open Badges achievement's criteria narrative)")
    image: str | None = Field(default=None, pattern=r"^(https?://|data:image/)",
                              description="URL (or data: URI) of the badge's image, optional")
    kind: MilestoneKind = Field(description="module_completed, attendance_streak or certification")
    activity: str | None = Field(default=None, min_length=1, description="module_completed: the LMS activity "
                                 "id (glob)")
    half_days: int | None = Field(default=None, ge=2, le=400, description="attendance_streak: how many signed "
                                  "half-days in a row")
    certification: str = Field(default="*", min_length=1, description="certification: the certification name "
                               "or code (glob)")
    actions: list[str] = Field(default_factory=lambda: ["*"], description="Training actions (globs) where the "
                               "badge can be earned")

    @model_validator(mode="after")
    def _parameters(self) -> "BadgeConfig":
        if self.kind == "module_completed" and not self.activity:
            raise ValueError(f"badge {self.id!r}: kind module_completed needs `activity` (the LMS activity id)")
        if self.kind == "attendance_streak" and self.half_days is None:
            raise ValueError(f"badge {self.id!r}: kind attendance_streak needs `half_days` (2 or more)")
        return self

    def applies_to(self, action: str) -> bool:
        return any(fnmatch.fnmatchcase(action, glob) for glob in self.actions)


class BadgesConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=False, description="Award badges (opt-in): `parcours badges award` and the "
                          "daemon's scheduled job")
    check_every: Duration = Field(default=dt.timedelta(minutes=15), description="How often the daemon awards "
                                  "the badges earned since")
    badges: list[BadgeConfig] = Field(default_factory=list, description="The badges and their milestones")

    @model_validator(mode="after")
    def _unique(self) -> "BadgesConfig":
        seen: set[str] = set()
        for badge in self.badges:
            if badge.id in seen:
                raise ValueError(f"badge id {badge.id!r} is declared twice")
            seen.add(badge.id)
        if self.enabled and not self.badges:
            raise ValueError("badges are enabled but none is declared (hub.badges.badges)")
        return self

    def get(self, badge_id: str) -> BadgeConfig | None:
        return next((b for b in self.badges if b.id == badge_id), None)
