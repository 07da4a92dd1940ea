"""``hub.retention``: how long each kind of personal data is kept (docs/retention.md gives the
legal source of each default)."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field

from hub.durations import Duration


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description="Run the retention job in the daemon")
    run_every: Duration = Field(default=dt.timedelta(days=1), description="How often the daemon runs the retention job")
    evidence_years: int = Field(
        default=6, ge=1, le=50,
        description="Evidence of training (attendance, LMS traces, assessments, funding, invoices, documents), "
                    "in years from 1 January after the year of the learner's last piece of evidence")
    eu_cofunded_years: int = Field(
        default=10, ge=1, le=50,
        description="The same for learners funded by one of eu_cofunded_funders (ESF+ control period)")
    eu_cofunded_funders: list[str] = Field(
        default_factory=list, description="Funders (as in funding.approved) whose funding is EU co-funded")
    funnel_years: int = Field(
        default=3, ge=1, le=50,
        description="Sales-funnel traces (prospect.*), in years from the person's last contact (their last event)")
    access_log_months: int = Field(
        default=12, ge=1, le=120, description="Access logs (access.*), in months from each event")
    dead_letter_months: int = Field(
        default=3, ge=1, le=24,
        description="Dead letters (records rejected at the map or validate stage, replayed or not), in months "
                    "from when they were stored: then deleted, whoever they are about")
    batch: int = Field(default=200, ge=1, le=10_000, description="Learners erased per sealed batch of records")
