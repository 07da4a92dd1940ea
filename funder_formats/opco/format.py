"""The ``opco`` funder format: attendance statements, subrogation bundles, API CFA certificates.

``export`` runs in two passes over the journeys the hub selected:

1. the enrolments of the export (one per OPCO funding) with their learner-level values, and every
   field the OPCO requires that is missing (all of them, per learner); when some are missing and
   ``--allow-incomplete`` is not given, nothing is written;
2. the lines of each enrolment, written as they are computed (CSV, XLSX, the learner's bundle,
   the apprentice's API CFA certificate), then dropped: memory holds one enrolment's lines at a
   time, plus one entry per counted FOAD event and per issued certificate.

The ledger is read at most twice (FOAD connection time; certificates), each as one stream.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from funder_formats.opco import api_cfa
from funder_formats.opco.bundle import (
    certificate_problem,
    read_certificates,
    summary,
    summary_json,
    summary_text,
    write_zip,
)
from funder_formats.opco.config import OpcoConfig
from funder_formats.opco.profile import COLUMNS, ColumnSpec, Formatter, Profile
from funder_formats.opco.rules import make_rules
from funder_formats.opco.statement import (
    Enrolment,
    add_totals,
    build_rows,
    enrolments,
    foad_by_day,
    foad_event_ids,
    opco_fundings,
    read_foad_traces,
)
from funder_formats.opco.writers import CsvTable, XlsxBook, csv_bytes
from hub.blobs import BlobStore
from hub.documents.fr import slug
from hub.siret import siret_valid
from hub.formats import ExportRequest, ExportResult, FunderFormat, MissingField
from hub.journeys.proofs import DEFAULT_RULES, check

BUNDLE_INDEX = [("dossier", "N° de dossier"), ("learner_last_name", "Nom"), ("learner_first_name", "Prénom"),
                ("employer_siret", "SIRET employeur"), ("window_start", "Période du"), ("window_end", "Période au"),
                ("hours_realised", "Heures réalisées"), ("hours_billable", "Heures facturables")]


def today(tz: dt.tzinfo) -> dt.date:
    """The day of the export (a function, so that tests can fix it)."""
    return dt.datetime.now(tz).date()


def _safe(value: Any) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(value or "")).strip("-.") or "x"


@dataclasses.dataclass
class _Selection:
    """The first pass: the enrolments of the export, in the files' order, and what was left out."""

    items: list[Enrolment] = dataclasses.field(default_factory=list)
    foad_events: set[str] = dataclasses.field(default_factory=set)  # ids of the FOAD events they counted
    not_ended: int = 0  # end_of_action: OPCO-funded enrolments that did not end in the period
    unconfigured: int = 0  # OPCO-funded enrolments of actions missing from the configuration


@dataclasses.dataclass
class _Attachments:
    """What the bundles and API CFA certificates carry besides the lines."""

    blobs: BlobStore
    certs: dict
    bundled: list[Enrolment]
    apprentices: list[Enrolment]


@dataclasses.dataclass
class _Written:
    """The second pass: the files written and what they counted."""

    writer: _Writers
    files: list[Path] = dataclasses.field(default_factory=list)
    skipped_upcoming: int = 0
    api_cfa: int = 0


class OpcoFormat(FunderFormat):
    """OPCO: attendance statements (CSV, XLSX), subrogation bundles and API CFA certificates."""

    kind = "opco"
    Config = OpcoConfig
    period = "month"
    format_version = "1"
    config: OpcoConfig

    def proof_rules(self) -> list:
        return make_rules(self)

    # ------------------------------------------------------------------ export
    def export(self, request: ExportRequest) -> ExportResult:
        config, profile = self.config, self.config.loaded_profile
        hub_config = request.hub_config
        organisation = hub_config.hub.organisation
        signed_on = today(hub_config.timezone)  # the date the files are produced (API CFA dateSignature)
        outputs = set(config.outputs)
        chosen = self._select(request)
        items = chosen.items
        blobs = BlobStore(hub_config.blobs_dir)
        bundled = [e for e in items if "subrogation_bundle" in outputs and self._subrogated(e)]
        apprentices = [e for e in items if "api_cfa" in outputs and api_cfa.applies(e)]
        certs = {}
        if bundled or (apprentices and config.api_cfa.attach_certificate):
            certs = read_certificates(request.events, {e.key for e in bundled + apprentices})

        result = ExportResult()
        result.missing = self._missing(items, profile, organisation, certs, blobs, bundled, apprentices, request, signed_on)
        if result.missing and not request.allow_incomplete:
            return result
        written = self._write(request, profile, chosen, _Attachments(blobs, certs, bundled, apprentices), signed_on)
        result.files = written.files
        result.notes = self._notes(request, profile, chosen, written, apprentices)
        return result

    def _select(self, request: ExportRequest) -> _Selection:
        """First pass over the journeys (computed chunk by chunk): the enrolments, without their
        journeys, and the FOAD events they counted. The second pass (``_write``) computes the
        journeys again in the files' order, one at a time."""
        config, organisation = self.config, request.hub_config.hub.organisation
        chosen = _Selection()
        for report in request.journeys:
            if report.action is None and opco_fundings(report, config, request.funder):
                chosen.unconfigured += 1  # no schedule: no half-day to state
                continue
            found = enrolments(report, config, request.period, organisation, request.funder)
            if not found and config.statement == "end_of_action" and report.action and opco_fundings(report, config, request.funder):
                chosen.not_ended += 1
            chosen.foad_events |= foad_event_ids(found)
            for enr in found:
                enr.report = None
            chosen.items.extend(found)
        chosen.items.sort(key=Enrolment.sort_key)
        return chosen

    def _write(self, request: ExportRequest, profile: Profile, chosen: _Selection, attached: _Attachments,
               signed_on: dt.date) -> _Written:
        """Second pass: each enrolment's lines computed in the files' order and written at once
        (statement, bundle, API CFA certificate), then dropped."""
        hub_config, organisation = request.hub_config, request.hub_config.hub.organisation
        traces = read_foad_traces(request.events, chosen.foad_events, hub_config.timezone,
                                  any(hub_config.rules_for(e.action_id).foad_count_activity_estimates for e in chosen.items))
        chosen.foad_events = set()  # memory: the traces are read
        as_of = min(request.period.end + dt.timedelta(days=1), signed_on)  # the hub computed the journeys as of then
        writer = _Writers(self, request, profile, set(self.config.outputs), as_of, signed_on)
        written = _Written(writer)
        bundled_keys = {id(e) for e in attached.bundled}
        apprentice_keys = {id(e) for e in attached.apprentices}
        rules = list(DEFAULT_RULES) + self.proof_rules()
        by_key: dict[tuple[str, str], list[Enrolment]] = {}
        for enr in chosen.items:  # in the files' order; an enrolment funded by two OPCOs has two entries
            by_key.setdefault(enr.key, []).append(enr)
        try:
            for report in request.journeys.fetch(by_key):
                for enr in by_key[(report.learner_id, report.action_id)]:
                    enr.report = report
                    foad = foad_by_day(report, hub_config.rules_for(enr.action_id), traces)
                    enr.rows = build_rows(enr, self.config, foad)
                    add_totals(enr)
                    written.skipped_upcoming += enr.skipped_upcoming
                    writer.lines(enr)
                    cert = attached.certs.get(enr.key)
                    if id(enr) in bundled_keys:
                        writer.bundle(enr, cert, attached.blobs, rules, organisation)
                    if id(enr) in apprentice_keys:
                        written.api_cfa += writer.api_cfa(enr, foad, cert, attached.blobs, organisation)
                    enr.rows = enr.report = None
        finally:
            writer.close()
        written.files = writer.files
        return written

    def _notes(self, request: ExportRequest, profile: Profile, chosen: _Selection, written: _Written,
               apprentices: list[Enrolment]) -> list[str]:
        """What the files leave out, and why."""
        config, outputs, notes = self.config, set(self.config.outputs), []
        label = request.period.label + (f", funder {request.funder}" if request.funder else "")
        if not chosen.items:
            notes.append(f"no enrolment funded by an OPCO has training in {label}: the statement holds only "
                         "its header" if config.statement == "monthly" else
                         f"no enrolment funded by an OPCO ended in {label}: the statement holds only its header")
        if chosen.unconfigured:
            notes.append(f"{chosen.unconfigured} OPCO-funded enrolment(s) of training actions missing from the "
                         "configuration (actions:) were left out: without a schedule there is no half-day to state")
        if chosen.not_ended:
            notes.append(f"{chosen.not_ended} OPCO-funded enrolment(s) did not end in {request.period.label}: "
                         "they will be in the end-of-action statement of the period they end in")
        if written.skipped_upcoming:
            notes.append(f"{written.skipped_upcoming} half-day(s) not yet held were left out")
        if written.writer.formatter.transliterated:
            notes.append(f"{written.writer.formatter.transliterated} value(s) had characters that "
                         f"{profile.csv.encoding} cannot write: transliterated in the CSV files")
        if "api_cfa" in outputs:
            if not apprentices:
                notes.append("api_cfa: no apprenticeship enrolment (action nature: apprentissage) in the export")
            elif written.api_cfa < len(apprentices):
                notes.append(f"api_cfa: {len(apprentices) - written.api_cfa} apprentice(s) without an échéance "
                             f"ending in {request.period.label}: no certificate this period")
        not_subrogated = sum(1 for e in chosen.items if "subrogation_bundle" in outputs and not self._subrogated(e))
        if not_subrogated:
            notes.append(f"{not_subrogated} enrolment(s) without subrogation (funding.approved subrogation: false): "
                     "no bundle")
        return notes

    # ------------------------------------------------------------------ checks
    def _subrogated(self, enr: Enrolment) -> bool:
        return enr.dossier.subrogation is not False

    def _missing(self, items, profile: Profile, organisation, certs, blobs, bundled, apprentices,
                 request: ExportRequest, day: dt.date) -> list[MissingField]:
        missing: list[MissingField] = []
        used = {s.column for s in profile.columns + profile.summary_columns} | set(profile.required)
        org_fields = {"of_name": "name", "of_siret": "siret", "of_nda": "nda"}
        if apprentices:
            used |= {"of_siret"}
        for column, attr in org_fields.items():
            if items and column in used and not getattr(organisation, attr, None):
                missing.append(MissingField("(organisation)", f"hub.organisation.{attr}",
                                            f"the files carry {COLUMNS[column].label!r}: set hub.organisation.{attr}"))
        f = self.config.fields
        bundled_ids = {id(e) for e in bundled}
        for enr in items:
            v = enr.values
            for column in profile.required:
                if column.startswith("of_"):
                    continue
                if v.get(column) in (None, ""):
                    missing.append(MissingField(enr.label, column, _how(column, f, enr)))
            siret = v.get("employer_siret")
            if siret and "employer_siret" in used and not siret_valid(siret):
                missing.append(MissingField(enr.label, "employer_siret",
                                            f"{siret!r} is not a valid SIRET (14 digits with a valid check digit): "
                                            f"correct {enr.dossier.origins.get('employer_siret', 'data.employer_siret')} "
                                            f"of the {enr.funder} funding"))
            if id(enr) in bundled_ids:
                problem = certificate_problem(certs.get(enr.key), enr, blobs)
                if problem:
                    missing.append(MissingField(enr.label, "certificat_realisation", problem))
        for enr in apprentices:
            due, problem = api_cfa.echeance(enr, self.config, request.period)
            if due is None:
                continue
            _, lacking = api_cfa.certificate(enr, due, problem, Decimal(0), self.config, organisation, day, None)
            seen = {(m.learner, m.field) for m in missing}
            for m in lacking:
                same = api_cfa.SAME_AS.get(m.field)
                if same == "hub.organisation.siret" and ("(organisation)", same) in seen:
                    continue
                if same and (m.learner, same) in seen:
                    continue
                if same == "hub.organisation.siret":
                    m = MissingField("(organisation)", same, "the API CFA certificate needs the training organisation's "
                                     "SIRET: set hub.organisation.siret")
                missing.append(m)
                seen.add((m.learner, m.field))
        return missing


def _how(column: str, f, enr: Enrolment) -> str:
    where = {
        "employer_siret": "data.employer_siret", "employer_name": "data.employer_name",
        "dossier": "data.dossier (or the funding's reference)", "funding_reference": "reference",
        "funding_hours": "hours", "funding_amount": "amount",
        "learner_last_name": f"details.{f.learner_last_name}", "learner_first_name": f"details.{f.learner_first_name}",
    }.get(column)
    if where:
        return f"required by the profile: give {where} on the {enr.funder} funding.approved event"
    return f"required by the profile: no source gave {COLUMNS[column].description}"


class _Writers:
    """The files of one export, opened as the outputs ask, written enrolment by enrolment."""

    def __init__(self, fmt: OpcoFormat, request: ExportRequest, profile: Profile, outputs: set[str], as_of: dt.date,
                 signed_on: dt.date):
        self.fmt, self.request, self.profile, self.outputs = fmt, request, profile, outputs
        self.as_of, self.signed_on = as_of, signed_on
        self.config = fmt.config
        self.formatter = Formatter(profile)
        self.files: list[Path] = []
        self._names: set[str] = set()
        self.tables: list[tuple[Any, bool]] = []  # (table, summary?)
        self.index: CsvTable | None = None
        self.book: XlsxBook | None = None
        if "attendance_csv" in outputs:
            self.tables.append((CsvTable(self._path("statement", ext="csv"), profile, profile.columns, self.formatter), False))
            if profile.summary_columns:
                self.tables.append((CsvTable(self._path("summary", ext="csv"), profile, profile.summary_columns,
                                             self.formatter), True))
        if "attendance_xlsx" in outputs:
            self.book = XlsxBook(self._path("statement", ext="xlsx"), profile,
                                 dt.datetime.combine(request.period.end, dt.time()))
            self.tables.append((self.book.sheet(profile.xlsx.statement_sheet, profile.columns), False))
            if profile.summary_columns:
                self.tables.append((self.book.sheet(profile.xlsx.summary_sheet, profile.summary_columns), True))
        if "subrogation_bundle" in outputs:
            specs = [ColumnSpec(column=c, label=label) for c, label in BUNDLE_INDEX]
            self.index = CsvTable(self._path("bundle_index", ext="csv"), profile, specs, self.formatter)

    def _path(self, kind: str, **values: Any) -> Path:
        template = getattr(self.profile.files, kind)
        name = template.format(export=_safe(self.fmt.name), profile=_safe(self.profile.name),
                               period=_safe(self.request.period.label), **values)
        stem, dot, ext = name.rpartition(".")
        candidate, n = name, 1
        while candidate in self._names:
            n += 1
            candidate = f"{stem}-{n}{dot}{ext}" if dot else f"{name}-{n}"
        self._names.add(candidate)
        path = self.request.out_dir / candidate
        self.files.append(path)
        return path

    def lines(self, enr: Enrolment) -> None:
        for table, is_summary in self.tables:
            if is_summary:
                table.write(None, enr.values)
            else:
                for row in enr.rows or []:
                    table.write(row, enr.values)

    def bundle(self, enr: Enrolment, cert, blobs: BlobStore, rules, organisation) -> None:
        found = check([enr.report], rules, today=self.as_of)
        gaps = found[0].gaps if found else []
        problem = certificate_problem(cert, enr, blobs)
        data = summary(enr, gaps, cert, problem, organisation)
        members = [
            ("etat-presence.csv", csv_bytes(self.profile, self.profile.columns, ((row, enr.values) for row in enr.rows or []))),
            ("synthese-preuves.json", summary_json(data)),
            ("synthese-preuves.txt", summary_text(data, self.profile).encode("utf-8")),
        ]
        if cert is not None and cert.pdf_sha256 and blobs.exists(cert.pdf_sha256):
            members.append(("certificat-realisation.pdf", blobs.get(cert.pdf_sha256)))
        path = self._path("bundle", dossier=_safe(enr.values.get("dossier")),
                          learner=slug(enr.report.learner_name or enr.report.learner_id))
        write_zip(path, members, self.request.period.end)
        if self.index is not None:
            self.index.write(None, enr.values)

    def api_cfa(self, enr: Enrolment, foad, cert, blobs: BlobStore, organisation) -> int:
        due, problem = api_cfa.echeance(enr, self.config, self.request.period)
        if due is None:
            return 0
        span = dataclasses.replace(enr, window=(due["dateDebut"], due["dateFin"]), rows=None, skipped_upcoming=0)
        duree = sum((r["hours_realised"] for r in build_rows(span, self.config, foad)), Decimal(0))
        pdf = blobs.get(cert.pdf_sha256) if cert is not None and cert.pdf_sha256 and blobs.exists(cert.pdf_sha256) else None
        body, _ = api_cfa.certificate(enr, due, problem, duree, self.config, organisation, self.signed_on, pdf)
        path = self._path("api_cfa", dossier=_safe(enr.values.get("dossier")),
                          learner=slug(enr.report.learner_name or enr.report.learner_id),
                          type=body["typeCertificat"].lower())
        path.write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return 1

    def close(self) -> None:
        for table, _ in self.tables:
            if isinstance(table, CsvTable):
                table.close()
        if self.book is not None:
            self.book.close()
        if self.index is not None:
            self.index.close()
