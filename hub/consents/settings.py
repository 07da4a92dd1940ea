"""``hub.consents`` in the hub's YAML: the purposes of processing that need the person's consent.

Each purpose has an id, the version of its text (a new version asks every person again: a
consent counts only for the version it was given to), its French label and text as the learner
reads them, whether the organisation carries it out at all (``allowed``), what applies before the
person chooses (``default``) and the event types whose collection it covers (``collects``).
Without a ``hub.consents`` section the two built-in purposes below apply.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

PURPOSE_ID = r"^[a-z][a-z0-9_]*$"


class Purpose(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: str = Field(default="1", min_length=1, max_length=40,
                         description="Version of the text; raising it asks every person for consent again")
    label: str = Field(min_length=1, max_length=200, description="French label shown to the learner")
    text: str = Field(min_length=1, max_length=4000, description="French text the learner consents to")
    allowed: bool = Field(default=True, description="The organisation carries out this processing and offers the "
                                                    "choice; false: never done for anyone, whatever was recorded")
    default: Literal["given", "refused"] = Field(
        default="refused", description="What applies before the person chooses (refused: opt-in required)")
    collects: list[str] = Field(
        default_factory=list, description="Event-type globs whose collection needs this consent (e.g. prospect.*): "
                                          "without it, ingest withholds them")
    recipient: Literal["employer"] | None = Field(
        default=None, description="Whom the purpose shares data with, when it names one (the learner's page "
                                  "records the employer of the dossier as the consent's scope)")


def default_purposes() -> dict[str, Purpose]:
    return {
        "funnel_tracking": Purpose(
            label="Suivi du parcours commercial",
            text="Nous enregistrons les pages de formation que vous consultez et les étapes de votre inscription "
                 "(prise de contact, demande d'information) pour vous proposer la formation adaptée.",
            default="given", collects=["prospect.*"]),
        "employer_progress": Purpose(
            label="Progression partagée avec votre employeur",
            text="Nous transmettons à votre employeur votre assiduité et votre progression dans la formation.",
            default="refused", recipient="employer"),
    }


class ConsentsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    purposes: dict[str, Purpose] = Field(
        default_factory=default_purposes,
        description="Purposes by id (lowercase letters, digits, _): funnel_tracking and employer_progress by default")

    @model_validator(mode="after")
    def _ids(self) -> "ConsentsConfig":
        import re

        for name in self.purposes:
            if not re.match(PURPOSE_ID, name) or len(name) > 60:
                raise ValueError(f"purpose {name!r}: ids are lowercase letters, digits and '_' (60 at most)")
        return self

    def covering(self, event_type: str) -> list[str]:
        """The purposes whose consent the collection of ``event_type`` needs."""
        return [name for name, p in self.purposes.items()
                if any(g == event_type or fnmatch.fnmatchcase(event_type, g) for g in p.collects)]
