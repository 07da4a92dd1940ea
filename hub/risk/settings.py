"""The ``hub.risk`` configuration section: when the dropout-risk score flags an enrolment, which
model it trains, and how often the daemon flags."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.durations import Duration


class RiskConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    enabled: bool = Field(default=True, description="The daemon scores the enrolments in progress and flags those "
                          "above the threshold (`risk.flagged` events)")
    threshold: float = Field(default=0.5, gt=0, lt=1, description="Flag an enrolment whose dropout risk (0-1) "
                             "reaches this (with the rules alone: the share of the alert rules that fire)")
    model: Literal["logistic_regression", "gradient_boosting"] = Field(
        default="logistic_regression", description="The model `parcours risk train` fits")
    min_finished: int = Field(default=100, ge=10, description="Finished enrolments (completed or abandoned) needed "
                              "to train a model; below, the rules score alone")
    min_dropouts: int = Field(default=10, ge=2, description="Abandoned enrolments needed among them")
    top_k: int = Field(default=20, ge=1, description="k of the precision at the top k reported by `parcours risk "
                       "evaluate`")
    flag_every: Duration = Field(default=dt.timedelta(hours=1), description="How often the daemon flags")
