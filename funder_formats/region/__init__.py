"""``region``: the monthly absence declaration for trainees paid by a Région.

Régions pay the trainees of the programmes they fund under the public remuneration scheme, through
the ASP or a delegate, and the training organisation declares every month the absences of each
paid trainee (justified or not; unjustified absences reduce the pay in proportion, article
R6341-45 of the Code du travail). Each Région (or its delegate) asks for its own layout, so the
file is rendered by a Jinja2 template chosen by a YAML *profile*: a new Région is a profile (and,
when the generic CSV template does not fit, a template), not code. Two profiles ship as
examples: ``hauts-de-france`` and ``centre-val-de-loire``. See ``docs/formats/region.md``.

Enrolments: those funded by a Région (``funding.approved`` with ``funder_kind: region``, or the
funders listed under ``funders``), paid (``data.remuneration`` of the funding, or the export's
``default_remuneration``), with scheduled half-days in the period or an exit in it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from jinja2 import (
    FileSystemLoader,
    StrictUndefined,
    TemplateError,
    TemplateNotFound,
    TemplateSyntaxError,
)
from jinja2.sandbox import SandboxedEnvironment
from pydantic import ConfigDict, Field, PrivateAttr, field_validator, model_validator

from hub.errors import ConfigError
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
    scan_ledger,
    sort_key,
)
from hub.profiles.vocabulary import (
    STATUSES,
    Column,
    HalfDayColumn,
    OutputFormat,
    cells,
    check_file_name,
    file_name,
    missing_of,
    refuse_incomplete,
    value_of,
)

PROFILES = Path(__file__).parent / "profiles"
TEMPLATES = Path(__file__).parent / "templates"


class RegionProfile(OutputFormat):
    """A Région's monthly absence declaration: format, columns, file name and template."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1)
    region: str = Field(min_length=1, description="The Région (printed by templates)")
    description: str = ""
    file: str = Field(description="File name; placeholders {period}, {siret}, {nda}, {export}")
    template: str = Field(default="csv.j2", description="A template of the plugin (csv.j2) or a path relative "
                          "to the profile file")
    table: Literal["learners", "absences"] = Field(
        default="learners", description="The rows the generic csv.j2 template writes: one per paid trainee, or one "
        "per absent half-day")
    header: bool = Field(default=True, description="Write the header line (csv.j2)")
    columns: list[Column] = Field(default_factory=list, description="Columns of the rows about one trainee")
    absence_columns: list[HalfDayColumn] = Field(default_factory=list, description="Columns of the rows about "
                                                 "one absent half-day")
    absence_statuses: list[Literal[STATUSES]] = Field(  # type: ignore[valid-type]
        default_factory=lambda: ["absent", "absent_justified", "missing"],
        description="Half-day statuses declared as absences")
    _dir: Path | None = PrivateAttr(default=None)

    _file = field_validator("file")(check_file_name)

    @model_validator(mode="after")
    def _table(self) -> RegionProfile:
        if self.table == "learners" and not self.columns:
            raise ValueError("table 'learners' needs 'columns'")
        if self.table == "absences" and not self.absence_columns:
            raise ValueError("table 'absences' needs 'absence_columns'")
        return self

    def bind(self, path: Path) -> None:
        """Called once loaded: find and compile the template, so that a broken one is a config error."""
        self._dir = path.parent
        try:
            self.environment().get_template(self.template)
        except TemplateNotFound:
            raise ConfigError(f"{path}: template {self.template!r} not found (looked in {self._dir} and "
                              f"{TEMPLATES})") from None
        except TemplateSyntaxError as exc:
            raise ConfigError(f"{exc.filename or self.template}:{exc.lineno}: template error: {exc.message}") from None

    def environment(self) -> SandboxedEnvironment:
        folders = [str(self._dir)] if self._dir else []
        env = SandboxedEnvironment(loader=FileSystemLoader(folders + [str(TEMPLATES)]), undefined=StrictUndefined,
                                   keep_trailing_newline=True, trim_blocks=True, lstrip_blocks=True,
                                   autoescape=self.template.endswith((".xml.j2", ".html.j2")))
        env.filters["text"] = lambda value, date_format=None: self.text(value, date_format)
        return env


class RegionConfig(ProfileOption, FunderFormatConfig):
    """Keys of a ``region`` export."""

    profile: str = Field(description="A built-in profile (hauts-de-france, centre-val-de-loire) or the path of a "
                         "profile YAML file (relative to the folder the hub runs from)")
    funder_kinds: list[str] = Field(default_factory=lambda: ["region"],
                                    description="Funder kinds of the fundings declared (when 'funders' is not set)")
    default_remuneration: str | None = Field(
        default=None, description="Remuneration scheme of trainees whose funding gives no remuneration (data.remuneration); "
        "trainees with none are not declared")
    missing_counts_as_unjustified: bool = Field(
        default=True, description="Count a half-day with neither signature nor recorded absence as an unjustified absence")
    identity_event_types: list[str] = Field(default_factory=lambda: list(DEFAULT_IDENTITY_TYPES),
                                            description="Event types read for learner.ids and first/last names")

    profile_model = RegionProfile
    profiles_dir = PROFILES


class RegionFormat(FunderFormat):
    """Région: the monthly absence declaration of paid trainees, rendered from a profile's template."""

    kind = "region"
    Config = RegionConfig
    period = "month"
    format_version = "1"

    def proof_rules(self) -> list[ProofRule]:
        funders = tuple(self.config.funders) if self.config.funders else None

        def ours(report) -> bool:
            return funding_of(report, self.config.funders, self.config.funder_kinds) is not None

        def justification(report, today: dt.date) -> list[Gap]:
            if not ours(report):
                return []
            return [Gap("region_justified_absence_without_reason",
                        f"{r.half_day.date.isoformat()} {r.half_day.half_day}: absence marked justified without its "
                        "reason", "record the reason with the absence (attendance.absent data.reason) and keep the "
                        "supporting document: the Région checks justified absences",
                        r.half_day.date.isoformat(), r.half_day.half_day)
                    for r in report.half_days if r.status == "absent_justified" and not r.proof]

        def dropout(report, today: dt.date) -> list[Gap]:
            if ours(report) and report.status == "abandoned" and not report.timeline["abandoned"].get("reason"):
                return [Gap("region_dropout_without_reason", "abandonment recorded without its reason",
                            "record the reason with enrolment.abandoned: the declaration states it")]
            return []

        return [ProofRule(f"{self.name}:absence_reason", justification, funders,
                          "Région: a justified absence has its reason"),
                ProofRule(f"{self.name}:dropout_reason", dropout, funders, "Région: a dropout has its reason")]

    def export(self, request: ExportRequest) -> ExportResult:
        cfg, period = self.config, request.period
        profile: RegionProfile = cfg.loaded_profile
        hub_config = request.hub_config
        tz, organisation = hub_config.timezone, hub_config.hub.organisation
        facts = scan_ledger(request.events, tz, cfg.identity_event_types, sessions=True)
        learners: list[dict[str, Any]] = []
        absences: list[dict[str, Any]] = []
        unpaid: list[str] = []
        for report in request.journeys:
            funding = funding_of(report, cfg.funders, cfg.funder_kinds)
            if funding is None:
                continue
            figures = enrolment_figures(report, period, facts, hub_config, cfg.missing_counts_as_unjustified)
            if not (figures.active or in_period(report.exit_date, period)):
                continue
            values = enrolment_values(report, funding=funding, person=facts.people.get(report.learner_id),
                                      figures=figures, period=period, organisation=organisation, tz=tz,
                                      default_remuneration=cfg.default_remuneration, exit_labels=profile.exit_labels)
            if not values["funding.remuneration"]:
                unpaid.append(report.learner_name or report.learner_id)
                continue
            learners.append(values)
            absences.extend({**values, **half_day_values(r, profile)} for r in figures.half_days
                            if r.status in profile.absence_statuses)
        learners.sort(key=sort_key)
        absences.sort(key=lambda v: (sort_key(v), v["halfday.date"], v["halfday.part"]))

        result = ExportResult()
        for values in learners:
            result.missing.extend(missing_of(profile.columns, values, profile, document="déclaration",
                                             profile=profile.name))
        for values in absences:
            result.missing.extend(missing_of(profile.absence_columns, values, profile, document="absences",
                                             profile=profile.name))
        if refuse_incomplete(result, request.allow_incomplete):
            return result

        text = self._render(profile, learners, absences, organisation, period, request.name)
        path = request.out_dir / file_name(profile.file, period=period, organisation=organisation, export=request.name)
        note = profile.write(path, text)
        result.files.append(path)
        result.notes.extend([note] if note else [])
        if not learners:
            result.notes.append(f"no paid trainee of {profile.region} in the period: the declaration is empty")
        else:
            unjustified = [v for v in learners if v["flag.unjustified_absence"]]
            result.notes.append(f"{len(learners)} trainee(s) declared, {len(absences)} absent half-day(s), "
                                f"{len(unjustified)} trainee(s) with unjustified absences")
        if unpaid:
            result.notes.append(f"not declared, no remuneration scheme: {', '.join(sorted(set(unpaid)))} "
                                "(set data.remuneration on the funding, or default_remuneration)")
        return result

    @staticmethod
    def _render(profile: RegionProfile, learners, absences, organisation, period, export: str) -> str:
        def row(columns, values):
            return {"cells": cells(columns, values, profile), "fields": Fields(values)}

        def csv(values) -> str:  # one line, separated and quoted as the profile says, without its end
            line = profile.csv_text(None, [[v if isinstance(v, str) else profile.text(v) for v in values]])
            return line.removesuffix(profile.line_terminator)

        totals = {
            "learners": len(learners),
            "absent_half_days": len(absences),
            "hours_absent_justified": sum((v["hours.absent_justified_period"] for v in learners), start=0),
            "hours_absent_unjustified": sum((v["hours.absent_unjustified_period"] for v in learners), start=0),
        }
        context = {
            "profile": {"name": profile.name, "region": profile.region, "description": profile.description},
            "organisation": organisation, "period": period, "export": export,
            "table": profile.table, "include_header": profile.header,
            "learner_header": [c.label for c in profile.columns],
            "absence_header": [c.label for c in profile.absence_columns],
            "learners": [row(profile.columns, v) for v in learners],
            "absences": [row(profile.absence_columns, v) for v in absences],
            "totals": totals, "csv": csv, "text": profile.text,
        }
        try:
            text = profile.environment().get_template(profile.template).render(context)
        except TemplateError as exc:
            raise ConfigError(f"template {profile.template!r} of profile {profile.name!r}: {exc}") from None
        lines = text.replace("\r\n", "\n").split("\n")
        return profile.line_terminator.join(line.rstrip("\r") for line in lines)


class Fields(dict):
    """A row's typed values for templates: ``row.fields['hours.present_period']``, ``row.fields['ids.nir']``."""

    def __missing__(self, key: str):
        return value_of(self, key)


@hookimpl
def register_funder_formats():
    return [RegionFormat]
