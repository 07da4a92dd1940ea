"""Built-in funder format ``cpf``: EDOF declarations for CPF-funded enrolments (Caisse des Dépôts).

For every CPF dossier, the declarations the training organisation makes on EDOF — the entry
(actual date) and the exit with its *service fait* (exit date, full or partial completion,
taux de réalisation, duration not completed, force majeure, exit reason) — as a file ready for
the organisation's EDOF work, with the deadline of each (3 working days, French public holidays
counted) and, optionally, pushed through Wedof's public API. Deadlines become
``compliance.deadline_due`` / ``compliance.deadline_missed`` events that routes can send on.
See docs/formats/cpf.md for the rules and their sources.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import Field, field_validator

from hub.connector import Schedule
from hub.durations import Duration
from hub.formats import (
    ExportRequest,
    ExportResult,
    FunderFormat,
    FunderFormatConfig,
    MissingField,
)
from hub.hookspecs import hookimpl
from hub.journeys.calendar import REGIONS, WorkingCalendar, calendar_name
from hub.journeys.proofs import Gap, ProofRule
from hub.journeys.rate import RateConfig
from hub.plugin_runtime import JobSpec, PluginRuntime
from hub.profiles import FileProfile, ProfileOption, column_model, dedupe

from .declarations import (
    Declaration,
    cpf_funding,
    deadline_items,
    declarations_of,
    declared_item,
    declared_keys,
    dossier_number,
)
from .wedof import WedofClient, WedofPush

PROFILES = Path(__file__).parent / "profiles"
FIELDS = ("declaration", "dossier", "learner_id", "learner_name", "learner_email", "action", "action_title",
          "entry_date", "exit_date", "completion", "rate", "rate_basis", "units_done", "units_total",
          "planned_hours", "realised_hours", "absence_hours", "force_majeure", "exit_reason", "due_date", "status")
CpfColumn = column_model("CpfColumn", FIELDS)


class CpfProfile(FileProfile):
    """Layout of the EDOF declarations file."""

    FIELDS = FIELDS
    file_name: str = "cpf-edof-{period}.csv"
    columns: list[CpfColumn] = Field(min_length=1)  # type: ignore[valid-type]


class CpfConfig(ProfileOption, FunderFormatConfig, RateConfig):
    """Keys of a ``cpf`` export (``unit`` and ``action_settings``: the taux de réalisation, which the
    BPF reads too)."""

    profile: str = Field(default="edof", description="Built-in profile name (edof, edof-iso) or path to a profile YAML")
    regions: list[str] = Field(default_factory=list, description=f"Local public holidays to add: {', '.join(REGIONS)}")
    closed_dates: list[dt.date] = Field(default_factory=list, description="Other days not counted as working days")
    details_file: bool = Field(default=True, description="Also write <file>-details.json (rules, milestones, events)")
    deadline_check: Schedule | None = Field(
        default=None, description="When the hub checks the declaration deadlines and emits compliance events (and pushes)")
    deadline_lookback: Duration = Field(
        default=dt.timedelta(days=45), description="How far back the deadline check looks for entries and exits")
    wedof: WedofPush | None = Field(default=None, description="Push the declarations through Wedof's API")

    profile_model = CpfProfile
    profiles_dir = PROFILES

    @field_validator("regions")
    @classmethod
    def _regions(cls, value: list[str]) -> list[str]:
        for region in value:
            calendar_name(region)
        return value

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(self.regions, self.closed_dates)


class CpfFormat(FunderFormat):
    """CPF / EDOF: entry, exit and service-fait declarations per dossier, with their deadlines."""

    kind = "cpf"
    Config = CpfConfig
    period = "month"
    format_version = "1"

    @staticmethod
    def now() -> dt.datetime:
        """The current time (tests replace it)."""
        return dt.datetime.now(dt.timezone.utc)

    # ------------------------------------------------------------------ computing
    def declarations(self, journeys, *, tz, declared, now, start=None, end=None) -> tuple[list[Declaration], list[MissingField]]:
        cfg: CpfConfig = self.config  # type: ignore[assignment]
        calendar = cfg.calendar()
        decls: list[Declaration] = []
        missing: list[MissingField] = []
        for report in journeys:
            found, undated = declarations_of(report, cfg=cfg, tz=tz, calendar=calendar, declared=declared,
                                             now=now, start=start, end=end)
            decls.extend(found)
            missing.extend(undated)
            for d in found:
                missing.extend(d.missing)
        decls.sort(key=_in_file_order)
        return decls, dedupe(missing)

    def push(self, decls: list[Declaration], *, today: dt.date, now: dt.datetime) -> tuple[list[dict], list[dict], list[str]]:
        """Push the complete, undeclared declarations through Wedof. Returns (events, log, notes)."""
        cfg: CpfConfig = self.config  # type: ignore[assignment]
        if cfg.wedof is None:
            return [], [], []
        client = WedofClient(cfg.wedof)
        events, log, notes = [], [], []
        for d in decls:
            if d.declared or d.missing or d.date > today or not d.dossier:
                continue
            if d.declaration == "entree":
                outcome = client.declare_entry(d.dossier, d.date)
            else:
                code = client.code_for(d.completion or "partielle", d.exit_reason, bool(d.force_majeure))
                outcome = client.declare_service_done(d.dossier, date=d.date, code=code,
                                                      absence_hours=d.absence_hours or 0,
                                                      force_majeure=bool(d.force_majeure),
                                                      training_hours=d.planned_hours or 0)
            log.append({"dossier": d.dossier, "declaration": d.declaration, "date": d.date.isoformat(),
                        "ok": outcome.ok, "http_status": outcome.status, "message": outcome.message})
            if outcome.ok:
                d.late = now > d.due_at
                d.declared, d.status = True, "declaree"
                events.append(declared_item(d, export=self.name, via="wedof", status=outcome.status, now=now))
            else:
                notes.append(f"Wedof push failed for dossier {d.dossier} ({d.declaration} {d.date}): {outcome.message}")
        return events, log, notes

    # ------------------------------------------------------------------ export
    def export(self, request: ExportRequest) -> ExportResult:
        cfg: CpfConfig = self.config  # type: ignore[assignment]
        tz = request.hub_config.timezone
        now = self.now()
        today = now.astimezone(tz).date()
        declared = declared_keys(request.events(types=["admin.action"]))
        journeys = (j for j in request.journeys if cpf_funding(j) is not None)  # streamed: declarations are light
        decls, missing = self.declarations(journeys, tz=tz, declared=declared, now=now,
                                           start=request.period.start, end=request.period.end)
        result = ExportResult(missing=missing)
        if missing and not request.allow_incomplete:
            return result
        profile = cfg.loaded_profile
        if request.dry_run:  # nothing leaves the hub in a dry run
            events, log, notes = [], [], (["dry run: nothing pushed through Wedof"] if cfg.wedof else [])
        else:
            events, log, notes = self.push(decls, today=today, now=now)
        path = request.out_dir / profile.name_for(request.period.label, request.name)
        result.notes.extend(profile.write(path, [d.row() for d in decls]))
        result.files.append(path)
        if cfg.details_file:
            details = request.out_dir / (path.stem + "-details.json")
            details.write_text(json.dumps({
                "period": request.period.label, "profile": cfg.profile,
                "declarations": [d.detail() for d in decls], **({"wedof": log} if cfg.wedof else {}),
            }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            result.files.append(details)
        if not decls:
            result.notes.append(f"no CPF entry or exit in {request.period.label}: {path.name} has its header only")
        else:
            late = sum(1 for d in decls if d.status == "en_retard")
            result.notes.append(f"{len(decls)} EDOF declaration(s) in {request.period.label}"
                                + (f", {late} past their deadline" if late else ""))
        result.notes.extend(notes)
        result.events.extend(deadline_items(decls, export=request.name, now=now, tz=tz))
        result.events.extend(events)
        return result

    # ------------------------------------------------------------------ proof rules
    def proof_rules(self) -> list[ProofRule]:
        cfg: CpfConfig = self.config  # type: ignore[assignment]

        def dossier(report, today):
            fact = cpf_funding(report)
            if fact is None or dossier_number(fact):
                return []
            return [Gap("cpf_no_dossier", "CPF funding without a dossier number",
                        "record the EDOF dossier number in funding.approved data.dossier (or data.reference)")]

        def entry(report, today):
            if cpf_funding(report) is None or "started" in report.timeline:
                return []
            if any(r.hours > 0 for r in report.half_days) or report.status in ("completed", "abandoned"):
                return [Gap("cpf_no_entry", "the learner attended but no entry (enrolment.started) is recorded: "
                            "EDOF needs the actual entry date within 3 working days",
                            "record enrolment.started with its date")]
            return []

        def milestones(report, today):
            if cpf_funding(report) is None or report.action is None or report.status != "completed":
                return []
            settings = cfg.settings_for(report.action_id)
            if cfg.basis_for(report.action_id, report.action) != "milestones":
                return []
            if not settings.milestones:
                return [Gap("cpf_no_milestones", f"action {report.action_id} is at a distance or mixed but has no "
                            "milestones (jalons) configured", "configure its milestones in the cpf export")]
            from hub.journeys.rate import milestones_rate

            rate = milestones_rate(report, settings.milestones, dt.timezone.utc, None)
            return [Gap("cpf_milestone_not_traced", f"milestone {m['id']} ({m['label'] or m['id']}) has no trace",
                        "import the LMS completion or assessment that proves it")
                    for m in rate.milestones if m["credit"] in ("0", "0.00")]

        return [ProofRule(f"{self.name}:cpf_dossier", dossier, description="a CPF dossier number for every CPF funding"),
                ProofRule(f"{self.name}:cpf_entry", entry, description="an entry date for every CPF learner who attended"),
                ProofRule(f"{self.name}:cpf_milestones", milestones,
                          description="every milestone of a distance or mixed CPF path traced")]


# ---------------------------------------------------------------------------- scheduled deadline check


def _in_file_order(d: Declaration) -> tuple:
    return (d.date, {"entree": 0, "sortie": 1}[d.declaration], d.learner_name or "", d.dossier or "")


async def check_deadlines(runtime: PluginRuntime, name: str) -> dict[str, int]:
    """Emit the deadline events of recent CPF entries and exits (and push them when configured)."""
    fmt: CpfFormat = runtime.funder_format(name)
    cfg: CpfConfig = fmt.config  # type: ignore[assignment]
    tz = runtime.timezone
    now = fmt.now()
    today = now.astimezone(tz).date()
    declared = declared_keys([event async for page in runtime.events(types=["admin.action"]) for event in page])
    since = today - dt.timedelta(days=max(cfg.deadline_lookback.days, 1))
    decls = []  # the CPF journeys only, page by page
    async for page in runtime.journey_pages(today=today):
        reports = [r for r in page if cpf_funding(r) is not None and (not cfg.actions or r.action_id in cfg.actions)
                   and (not cfg.funders or set(r.funders) & set(cfg.funders))]
        decls.extend(fmt.declarations(reports, tz=tz, declared=declared, now=now, start=since, end=today)[0])
    decls.sort(key=_in_file_order)
    events, _log, notes = await asyncio.to_thread(fmt.push, decls, today=today, now=now)
    for note in notes:
        runtime.log.warning("cpf push", export=name, note=note)
    items = deadline_items(decls, export=name, now=now, tz=tz) + events
    if not items:
        return {"declarations": len(decls), "appended": 0}
    result = await runtime.append(items, source="hub")
    return {"declarations": len(decls), "appended": result.appended}


# ---------------------------------------------------------------------------- hooks


@hookimpl
def register_funder_formats():
    return [CpfFormat]


@hookimpl
def register_jobs(config: Any):
    jobs = []
    for name, cfg in (getattr(config, "exports", None) or {}).items():
        if isinstance(cfg, CpfConfig) and cfg.enabled and cfg.deadline_check is not None:
            jobs.append(JobSpec(f"cpf-deadlines:{name}", cfg.deadline_check,
                                lambda runtime, n=name: check_deadlines(runtime, n)))
    return jobs
