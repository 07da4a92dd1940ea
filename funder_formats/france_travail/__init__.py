"""``france_travail``: what a training organisation sends France Travail about the job-seekers it funds.

For a period (a month by default) and the enrolments funded by France Travail (``funding.approved``
with ``funder_kind: france_travail``, or the funders listed under ``funders``):

* **AIS** — attestations d'inscription à un stage: enrolments registered in the period;
* **AES** — attestations d'entrée en stage: enrolments that entered the training in the period;
* **état de présence** — the monthly attendance statement of paid trainees (a remuneration scheme
  in ``data.remuneration`` of the funding, or the export's ``default_remuneration``), hours
  attended, at a distance, absent with and without justification, unjustified absences flagged
  (pay is reduced in proportion to them, article R6341-45 of the Code du travail), and a detail
  file with one row per absent or unsigned half-day;
* **sorties** — exit and dropout notices: completions and abandonments dated in the period;
* **sessions** — the training actions of these enrolments as LHÉO 2.3 XML, validated against
  the LHÉO schema shipped in ``schemas/lheo.xsd``.

Columns, labels, separators, encoding, date and decimal formats and file names come from a
profile (``profiles/france-travail.yaml`` by default). See ``docs/formats/france_travail.md``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from funder_formats.france_travail import lheo
from funder_formats.france_travail.lheo import LheoOptions
from hub.formats import ExportRequest, ExportResult, FunderFormat, FunderFormatConfig
from hub.hookspecs import hookimpl
from hub.journeys.proofs import Gap, ProofRule
from hub.profiles import ProfileOption
from hub.profiles.enrolments import (
    DEFAULT_IDENTITY_TYPES,
    enrolment_figures,
    enrolment_values,
    funding_of,
    half_day_values,
    in_period,
    registration_report,
    scan_ledger,
    sort_key,
)
from hub.profiles.vocabulary import (
    PRESENT,
    STATUSES,
    Column,
    HalfDayColumn,
    OutputFormat,
    cells,
    check_file_name,
    file_name,
    missing_of,
    refuse_incomplete,
)

PROFILES = Path(__file__).parent / "profiles"
DOCUMENTS = ("ais", "aes", "attendance", "attendance_detail", "exits", "lheo")
TITLES = {"ais": "AIS (attestation d'inscription à un stage)", "aes": "AES (attestation d'entrée en stage)",
          "attendance": "état de présence mensuel", "attendance_detail": "détail de l'état de présence",
          "exits": "avis de sortie et d'abandon", "lheo": "sessions LHÉO"}
FUNDER_KIND = "france_travail"


class TableDocument(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str = Field(description="File name; placeholders {period}, {siret}, {nda}, {export}")
    columns: list[Column] = Field(min_length=1)

    _file = field_validator("file")(check_file_name)


class DetailDocument(TableDocument):
    columns: list[HalfDayColumn] = Field(min_length=1)
    statuses: list[Literal[STATUSES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["absent", "absent_justified", "missing"],
        description="Half-day statuses listed in the detail file")


class FranceTravailDocuments(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ais: TableDocument
    aes: TableDocument
    attendance: TableDocument
    attendance_detail: DetailDocument
    exits: TableDocument
    lheo_file: str = "LHEO_SESSIONS_{siret}_{period}.xml"

    _file = field_validator("lheo_file")(check_file_name)


class FranceTravailProfile(OutputFormat):
    """A France Travail profile: the output format and the columns of each file."""

    name: str = Field(min_length=1)
    description: str = ""
    documents: FranceTravailDocuments


class FranceTravailConfig(ProfileOption, FunderFormatConfig):
    """Keys of a ``france_travail`` export."""

    profile: str = Field(default="france-travail", description="A built-in profile name, or the path of a "
                         "profile YAML file (relative to the folder the hub runs from)")
    documents: list[Literal[DOCUMENTS]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: list(DOCUMENTS), min_length=1, description="Files to produce")
    default_remuneration: str | None = Field(
        default=None, description="Remuneration scheme of trainees whose funding gives no remuneration (data.remuneration) "
        "(e.g. AREF, RFPE); trainees with none are left out of the attendance statement")
    missing_counts_as_unjustified: bool = Field(
        default=True, description="Count a half-day with neither signature nor recorded absence as an unjustified "
        "absence in the attendance statement")
    identity_event_types: list[str] = Field(
        default_factory=lambda: list(DEFAULT_IDENTITY_TYPES),
        description="Event types read for learner.ids and first/last names")
    lheo: LheoOptions = Field(default_factory=LheoOptions, description="What LHÉO needs beyond the actions")

    profile_model = FranceTravailProfile
    profiles_dir = PROFILES


class FranceTravailFormat(FunderFormat):
    """France Travail: AIS, AES, monthly attendance statement, exit notices and LHÉO sessions."""

    kind = "france_travail"
    Config = FranceTravailConfig
    period = "month"
    format_version = "1"

    # ------------------------------------------------------------------ proof rules
    def proof_rules(self) -> list[ProofRule]:
        funders = tuple(self.config.funders) if self.config.funders else None

        def ours(report) -> bool:
            return funding_of(report, self.config.funders, {FUNDER_KIND}) is not None

        def entry(report, today: dt.date) -> list[Gap]:
            attended = any(r.status in PRESENT for r in report.half_days)
            if ours(report) and attended and "started" not in report.timeline:
                return [Gap("ft_entry_not_recorded", "attends the training but its entry is not recorded",
                            "record enrolment.started with its date: the AES states the entry date")]
            return []

        def dropout(report, today: dt.date) -> list[Gap]:
            if ours(report) and report.status == "abandoned" and not report.timeline["abandoned"].get("reason"):
                return [Gap("ft_dropout_without_reason", "abandonment recorded without its reason",
                            "record the reason with enrolment.abandoned (a correction that supersedes it): "
                            "the exit notice states it")]
            return []

        def reference(report, today: dt.date) -> list[Gap]:
            found = funding_of(report, self.config.funders, {FUNDER_KIND})
            if found and not found[1].get("reference"):
                return [Gap("ft_funding_without_reference", f"funding by {found[0]} has no reference",
                            "record the France Travail reference (data.reference of funding.approved): the "
                            "attestations quote it")]
            return []

        return [
            ProofRule(f"{self.name}:entry", entry, funders, "France Travail: the entry of an attending trainee is recorded"),
            ProofRule(f"{self.name}:dropout_reason", dropout, funders, "France Travail: a dropout has its reason"),
            ProofRule(f"{self.name}:funding_reference", reference, funders,
                      "France Travail: the funding has its reference"),
        ]

    # ------------------------------------------------------------------ export
    def export(self, request: ExportRequest) -> ExportResult:
        cfg, period = self.config, request.period
        profile: FranceTravailProfile = cfg.loaded_profile
        hub_config = request.hub_config
        tz, organisation = hub_config.timezone, hub_config.hub.organisation
        wanted = set(cfg.documents)
        facts = scan_ledger(request.events, tz, cfg.identity_event_types,
                            sessions=bool(wanted & {"attendance", "attendance_detail"}), registrations="ais" in wanted)
        rows: dict[str, list[dict]] = {doc: [] for doc in DOCUMENTS}
        unpaid: list[str] = []
        actions: dict[str, object] = {}
        def registration(report) -> None:  # AIS: the registrations of the period
            if self._in_scope(report, request):
                values = self._values(report, None, facts, period, organisation, tz, profile)
                if in_period(values["enrolment.registered_on"], period):
                    rows["ais"].append(values)

        registered, handed = set(), 0
        for report in request.journeys:  # one pass: the hub computes them chunk by chunk
            handed += 1
            if (report.learner_id, report.action_id) in facts.registrations:
                registered.add((report.learner_id, report.action_id))
                registration(report)
            funding = funding_of(report, cfg.funders, {FUNDER_KIND})
            if funding is None:
                continue
            figures = enrolment_figures(report, period, facts, hub_config, cfg.missing_counts_as_unjustified)
            values = self._values(report, figures, facts, period, organisation, tz, profile)
            if in_period(values["enrolment.entry_date"], period):
                rows["aes"].append(values)
            entered = values["enrolment.entry_date"]
            if figures.active and (entered is None or entered <= period.end):
                if values["funding.remuneration"]:
                    rows["attendance"].append(values)
                    for r in figures.half_days:
                        if r.status in profile.documents.attendance_detail.statuses:
                            rows["attendance_detail"].append({**values, **half_day_values(r, profile)})
                else:
                    unpaid.append(report.learner_name or report.learner_id)
            if in_period(report.exit_date, period):
                rows["exits"].append(values)
            if report.action is not None and period.overlaps(report.action.start, report.action.end):
                actions[report.action_id] = report.action
        # registrations whose action has not started yet: the hub hands over only the journeys
        # whose action overlaps the period
        before = len(rows["ais"])
        for key, reg in facts.registrations.items():
            if key not in registered:
                registration(registration_report(reg, hub_config.model.actions.get(reg.action)))

        result = ExportResult(records=handed + len(rows["ais"]) - before)  # those registrations count too
        tables = {doc: getattr(profile.documents, doc) for doc in DOCUMENTS if doc != "lheo" and doc in wanted}
        for doc, table in tables.items():
            rows[doc].sort(key=lambda v: (sort_key(v), v.get("halfday.date") or dt.date.min,
                                          str(v.get("halfday.part") or "")))
            for values in rows[doc]:
                result.missing.extend(missing_of(table.columns, values, profile, document=TITLES[doc],
                                                 profile=profile.name))
        xml = None
        if "lheo" in wanted and actions:
            xml, lheo_missing = lheo.build(sorted(actions.items()), cfg.lheo, organisation, period)
            result.missing.extend(lheo_missing)
        if refuse_incomplete(result, request.allow_incomplete):
            return result

        out: Path = request.out_dir
        for doc, table in tables.items():
            path = out / file_name(table.file, period=period, organisation=organisation, export=request.name)
            text = profile.csv_text([c.label for c in table.columns],
                                    (cells(table.columns, v, profile) for v in rows[doc]))
            note = profile.write(path, text)
            result.files.append(path)
            result.notes.extend([note] if note else [])
        if "lheo" in wanted:
            if xml is not None:
                path = out / file_name(profile.documents.lheo_file, period=period, organisation=organisation,
                                       export=request.name)
                path.write_bytes(xml)
                result.files.append(path)
            elif actions:
                result.notes.append("LHÉO file not written: it lacks required data (see the missing fields)")
            else:
                result.notes.append("no training session of a France Travail trainee in the period: no LHÉO file "
                                    "(LHÉO needs at least one formation)")
        result.notes.extend(self._notes(rows, unpaid, wanted))
        return result

    def _in_scope(self, report, request: ExportRequest) -> bool:
        """The enrolments this export covers: funded by France Travail, within the export's filters."""
        if funding_of(report, self.config.funders, {FUNDER_KIND}) is None:
            return False
        if self.config.actions and report.action_id not in self.config.actions:
            return False
        return not request.funder or request.funder in report.funders

    def _values(self, report, figures, facts, period, organisation, tz, profile) -> dict:
        return enrolment_values(report, funding=funding_of(report, self.config.funders, {FUNDER_KIND}),
                                person=facts.people.get(report.learner_id), figures=figures, period=period,
                                organisation=organisation, tz=tz, default_remuneration=self.config.default_remuneration,
                                exit_labels=profile.exit_labels)

    @staticmethod
    def _notes(rows: dict[str, list[dict]], unpaid: list[str], wanted: set[str]) -> list[str]:
        notes = []
        if not any(rows[doc] for doc in wanted if doc != "lheo"):
            notes.append("no learner funded by France Travail in the period: the files hold their header only")
        else:
            counts = ", ".join(f"{doc}: {len(rows[doc])}" for doc in DOCUMENTS if doc in wanted and doc != "lheo")
            notes.append(f"rows per file: {counts}")
        flagged = sorted({v["learner.name"] or v["learner.id"] for v in rows["attendance"]
                          if v["flag.unjustified_absence"]})
        if flagged and "attendance" in wanted:
            notes.append(f"unjustified absences flagged for {len(flagged)} paid trainee(s): {', '.join(flagged)} "
                         "(pay is reduced in proportion, R6341-45)")
        if unpaid and "attendance" in wanted:
            notes.append(f"not in the attendance statement, no remuneration scheme: {', '.join(sorted(set(unpaid)))} "
                         "(set data.remuneration on the funding, or default_remuneration)")
        return notes


@hookimpl
def register_funder_formats():
    return [FranceTravailFormat]
