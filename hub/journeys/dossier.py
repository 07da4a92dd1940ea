"""The dossier of an enrolment: employer, employer SIRET, the funder's file number and the other
facts of the funding decision that documents and funder formats print. Read here, and only here.

Since the vocabulary has them, these are typed fields of the ``funding.approved`` data (and, for
the employer, of ``enrolment.agreement_signed``): ``employer_name``, ``employer_siret``,
``dossier``, ``remuneration``, ``trainee_type``, ``subrogation``. Events recorded before were
sealed with the same facts in their free-form ``details`` and are never rewritten, so each field
falls back to its old ``details`` key — by default the key of the same name (``employer`` too for
the employer's name); a format may name other keys (the OPCO export's ``fields``).

Which fact wins: the funding decision the document or export is about (or, when it is about no
funding in particular, the funders in name order), then the agreement; on each event the typed
field, then the old ``details`` key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hub.siret import normalise

#: the fields of the dossier, and the ``details`` keys older events hold them under
LEGACY_KEYS: dict[str, tuple[str, ...]] = {
    "employer_name": ("employer_name", "employer"),
    "employer_siret": ("employer_siret",),
    "dossier": ("dossier",),
    "remuneration": ("remuneration",),
    "trainee_type": ("trainee_type",),
    "subrogation": ("subrogation",),
}
FIELDS = tuple(LEGACY_KEYS)
_FALSE = ("false", "non", "no", "0")


@dataclass(frozen=True)
class Dossier:
    """What the dossier states; ``origins`` says, per field, the event and the key it was read from."""

    employer_name: str | None = None
    employer_siret: str | None = None
    dossier: str | None = None
    remuneration: str | None = None
    trainee_type: str | None = None
    subrogation: bool | None = None
    reference: str | None = None  # the funding decision's reference
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def file_number(self) -> str | None:
        """The funder's file number: ``dossier``, else the funding decision's reference."""
        return self.dossier or self.reference


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _typed(name: str, value: Any) -> Any:
    if name == "subrogation":
        return not (value is False or str(value).strip().lower() in _FALSE)
    if name == "employer_siret":
        return normalise(str(value))
    return str(value).strip()


def dossier_from(facts: Sequence[Mapping[str, Any]],
                 legacy_keys: Mapping[str, str | Sequence[str]] | None = None) -> Dossier:
    """The dossier stated by ``facts`` (journey facts: an event's data with ``event`` and ``at``),
    the first that states a field winning. ``legacy_keys`` replaces the ``details`` keys of fields."""
    keys = dict(LEGACY_KEYS)
    for name, override in (legacy_keys or {}).items():
        keys[name] = (override,) if isinstance(override, str) else tuple(override)
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}
    for fact in facts:
        details = fact.get("details")
        details = details if isinstance(details, dict) else {}
        for name in FIELDS:
            if name in values:
                continue
            if _present(fact.get(name)):
                values[name], origins[name] = _typed(name, fact[name]), f"{fact.get('event')}: data.{name}"
                continue
            for key in keys[name]:
                if _present(details.get(key)):
                    values[name], origins[name] = _typed(name, details[key]), f"{fact.get('event')}: details.{key}"
                    break
    reference = next((str(f["reference"]).strip() for f in facts if _present(f.get("reference"))
                      and "funder" in f), None)
    return Dossier(**values, reference=reference, origins=origins)


def dossier_of(report: Any, funding: Mapping[str, Any] | None = None,
               legacy_keys: Mapping[str, str | Sequence[str]] | None = None) -> Dossier:
    """The dossier of a journey (:class:`hub.journeys.compute.JourneyReport`): from ``funding`` (a
    fact of ``report.funders``) or, without one, from its funders in name order; then from its
    agreement."""
    fundings = [funding] if funding is not None else [report.funders[n] for n in sorted(report.funders)]
    agreement = report.timeline.get("agreement_signed") or {}
    return dossier_from([*fundings, agreement], legacy_keys)
