"""The ``opco`` funder format: attendance statements, subrogation bundles, API CFA certificates.

``export`` reads the journeys the hub selected once, as the hub computes them (a page at a time,
in learner-id order), and for each enrolment (one per OPCO funding) computes at once its
learner-level values, its lines and their totals, every field the OPCO requires that is missing,
and its bundle and API CFA certificate (written to a scratch folder). Its values and lines go to a
spool on disk (:mod:`funder_formats.opco.spool`), the enrolment is dropped. Then, unless fields are
missing and ``--allow-incomplete`` is not given (nothing is written), the spool is merged in the
files' order (action, learner's name) into the statement (CSV, XLSX) and its summary, and the
bundles and certificates get their names. Memory holds one page of journeys, the spool's current
run and one key per run; what grows with the organisation is on disk, and the list of missing
fields.

The ledger is read at most once, for the certificates (bundles, API CFA).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import re
import tempfile
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
from funder_formats.opco.spool import SortedSpool
from funder_formats.opco.statement import (
    Enrolment,
    add_totals,
    build_rows,
    enrolments,
    foad_by_day,
    opco_fundings,
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
class _Read:
    """The pass over the journeys: what it counted, and what is missing, by enrolment (sort key)."""

    enrolments: int = 0
    not_ended: int = 0  # end_of_action: OPCO-funded enrolments that did not end in the period
    unconfigured: int = 0  # OPCO-funded enrolments of actions missing from the configuration
    skipped_upcoming: int = 0  # half-days not yet held
    not_subrogated: int = 0  # enrolments without a bundle (subrogation: false)
    apprentices: int = 0
    api_cfa: int = 0  # API CFA certificates written
    missing: list[tuple[tuple, MissingField]] = dataclasses.field(default_factory=list)
    lacking: list[tuple[tuple, list[MissingField]]] = dataclasses.field(default_factory=list)  # API CFA fields


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
        signed_on = today(hub_config.timezone)  # the date the files are produced (API CFA dateSignature)
        outputs = set(config.outputs)
        certs = {}
        if "subrogation_bundle" in outputs or ("api_cfa" in outputs and config.api_cfa.attach_certificate):
            certs = read_certificates(request.events)
        result = ExportResult()
        with tempfile.TemporaryDirectory(prefix="opco-spool-", dir=request.out_dir) as scratch:
            folder = Path(scratch)
            spool = SortedSpool(folder)
            try:
                attached = _Attachments(self, request, profile, folder, certs, signed_on)
                read = self._read(request, profile, spool, attached)
                result.missing = self._missing(read, profile, hub_config.hub.organisation)
                if result.missing and not request.allow_incomplete:
                    return result  # the scratch folder goes, and with it the bundles made on the way
                writer = self._write(request, profile, spool, folder)
            finally:
                spool.close()
        result.files = writer.files
        result.notes = self._notes(request, profile, read, writer)
        return result

    def _read(self, request: ExportRequest, profile: Profile, spool: SortedSpool, attached: _Attachments) -> _Read:
        """The one pass over the journeys (computed a page at a time): each enrolment's values,
        lines, totals, missing fields, bundle and API CFA certificate, then its values and lines
        spooled under its place in the files."""
        config, hub_config = self.config, request.hub_config
        organisation, outputs = hub_config.hub.organisation, set(config.outputs)
        used = self._used(profile)
        read = _Read()
        for report in request.journeys:
            if report.action is None and opco_fundings(report, config, request.funder):
                read.unconfigured += 1  # no schedule: no half-day to state
                continue
            found = enrolments(report, config, request.period, organisation, request.funder)
            if not found:
                if config.statement == "end_of_action" and report.action and opco_fundings(report, config, request.funder):
                    read.not_ended += 1
                continue
            foad = foad_by_day(report, hub_config.rules_for(report.action_id))
            for enr in found:
                enr.rows = build_rows(enr, config, foad)
                add_totals(enr)
                key = enr.sort_key()
                read.enrolments += 1
                read.skipped_upcoming += enr.skipped_upcoming
                bundled = "subrogation_bundle" in outputs and self._subrogated(enr)
                read.not_subrogated += "subrogation_bundle" in outputs and not bundled
                read.missing.extend((key, m) for m in self._enrolment_missing(enr, profile, used, attached, bundled))
                files = []
                if bundled:
                    files.append(attached.bundle(enr))
                if "api_cfa" in outputs and api_cfa.applies(enr):
                    read.apprentices += 1
                    lacking = self._api_cfa_lacking(enr, request, attached.signed_on)
                    if lacking:
                        read.lacking.append((key, lacking))
                    made = attached.api_cfa(enr, foad)
                    if made is not None:
                        files.append(made)
                        read.api_cfa += 1
                spool.add(key, (enr.values, enr.rows, files))
        return read

    def _write(self, request: ExportRequest, profile: Profile, spool: SortedSpool, folder: Path) -> _Writers:
        """The spooled enrolments in the files' order: their lines written (statement, summary), their
        bundles and certificates named (a second bundle of the same name gets ``-2``) and indexed."""
        writer = _Writers(self, request, profile, set(self.config.outputs))
        try:
            for values, rows, files in spool:
                writer.lines(values, rows)
                for kind, scratch_name, parts in files:
                    os.replace(folder / scratch_name, writer.path(kind, **parts))
                    if kind == "bundle" and writer.index is not None:
                        writer.index.write(None, values)
        finally:
            writer.close()
        return writer

    def _notes(self, request: ExportRequest, profile: Profile, read: _Read, writer: _Writers) -> list[str]:
        """What the files leave out, and why."""
        config, outputs, notes = self.config, set(self.config.outputs), []
        label = request.period.label + (f", funder {request.funder}" if request.funder else "")
        if not read.enrolments:
            notes.append(f"no enrolment funded by an OPCO has training in {label}: the statement holds only "
                         "its header" if config.statement == "monthly" else
                         f"no enrolment funded by an OPCO ended in {label}: the statement holds only its header")
        if read.unconfigured:
            notes.append(f"{read.unconfigured} OPCO-funded enrolment(s) of training actions missing from the "
                         "configuration (actions:) were left out: without a schedule there is no half-day to state")
        if read.not_ended:
            notes.append(f"{read.not_ended} OPCO-funded enrolment(s) did not end in {request.period.label}: "
                         "they will be in the end-of-action statement of the period they end in")
        if read.skipped_upcoming:
            notes.append(f"{read.skipped_upcoming} half-day(s) not yet held were left out")
        if writer.formatter.transliterated:
            notes.append(f"{writer.formatter.transliterated} value(s) had characters that "
                         f"{profile.csv.encoding} cannot write: transliterated in the CSV files")
        if "api_cfa" in outputs:
            if not read.apprentices:
                notes.append("api_cfa: no apprenticeship enrolment (action nature: apprentissage) in the export")
            elif read.api_cfa < read.apprentices:
                notes.append(f"api_cfa: {read.apprentices - read.api_cfa} apprentice(s) without an échéance "
                             f"ending in {request.period.label}: no certificate this period")
        if read.not_subrogated:
            notes.append(f"{read.not_subrogated} enrolment(s) without subrogation (funding.approved subrogation: false): "
                         "no bundle")
        return notes

    # ------------------------------------------------------------------ checks
    def _subrogated(self, enr: Enrolment) -> bool:
        return enr.dossier.subrogation is not False

    @staticmethod
    def _used(profile: Profile) -> set[str]:
        """The columns the files carry, and those the profile requires."""
        return {s.column for s in profile.columns + profile.summary_columns} | set(profile.required)

    def _enrolment_missing(self, enr: Enrolment, profile: Profile, used: set[str], attached: _Attachments,
                           bundled: bool) -> list[MissingField]:
        """What one enrolment lacks: the profile's required fields, a valid employer SIRET, the
        certificate its bundle needs."""
        missing: list[MissingField] = []
        v, f = enr.values, self.config.fields
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
        if bundled:
            problem = certificate_problem(attached.certs.get(enr.key), enr, attached.blobs)
            if problem:
                missing.append(MissingField(enr.label, "certificat_realisation", problem))
        return missing

    def _api_cfa_lacking(self, enr: Enrolment, request: ExportRequest, day: dt.date) -> list[MissingField]:
        """The fields an apprentice's API CFA certificate lacks (none without an échéance this period)."""
        due, problem = api_cfa.echeance(enr, self.config, request.period)
        if due is None:
            return []
        _, lacking = api_cfa.certificate(enr, due, problem, Decimal(0), self.config,
                                         request.hub_config.hub.organisation, day, None)
        return lacking

    def _missing(self, read: _Read, profile: Profile, organisation) -> list[MissingField]:
        """Every missing field, in the files' order: the organisation's, each enrolment's, then the
        API CFA certificates' (a field already listed for the learner is not listed again)."""
        missing: list[MissingField] = []
        used = self._used(profile) | ({"of_siret"} if read.apprentices else set())
        org_fields = {"of_name": "name", "of_siret": "siret", "of_nda": "nda"}
        for column, attr in org_fields.items():
            if read.enrolments and column in used and not getattr(organisation, attr, None):
                missing.append(MissingField("(organisation)", f"hub.organisation.{attr}",
                                            f"the files carry {COLUMNS[column].label!r}: set hub.organisation.{attr}"))
        read.missing.sort(key=lambda item: item[0])  # stable: an enrolment's own order is kept
        missing.extend(m for _, m in read.missing)
        read.lacking.sort(key=lambda item: item[0])
        for _, lacking in read.lacking:
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


class _Attachments:
    """An enrolment's own files, made during the pass while its journey is at hand: the subrogation
    bundle and the API CFA certificate, written to the scratch folder under a provisional name
    and named in the files' order afterwards (``OpcoFormat._write``)."""

    def __init__(self, fmt: OpcoFormat, request: ExportRequest, profile: Profile, folder: Path, certs: dict,
                 signed_on: dt.date):
        self.fmt, self.request, self.profile, self.folder = fmt, request, profile, folder
        self.config, self.certs, self.signed_on = fmt.config, certs, signed_on
        self.blobs = BlobStore(request.hub_config.blobs_dir)
        self.organisation = request.hub_config.hub.organisation
        self.as_of = min(request.period.end + dt.timedelta(days=1), signed_on)  # the hub computed the journeys as of then
        self.rules = list(DEFAULT_RULES) + fmt.proof_rules()
        self._made = 0

    def _scratch(self, ext: str) -> str:
        self._made += 1
        return f"{self._made}.{ext}"

    def bundle(self, enr: Enrolment) -> tuple[str, str, dict[str, str]]:
        """The bundle's zip: (kind, provisional name, the parts of its final name)."""
        cert = self.certs.get(enr.key)
        found = check([enr.report], self.rules, today=self.as_of)
        gaps = found[0].gaps if found else []
        problem = certificate_problem(cert, enr, self.blobs)
        data = summary(enr, gaps, cert, problem, self.organisation)
        members = [
            ("etat-presence.csv", csv_bytes(self.profile, self.profile.columns, ((row, enr.values) for row in enr.rows or []))),
            ("synthese-preuves.json", summary_json(data)),
            ("synthese-preuves.txt", summary_text(data, self.profile).encode("utf-8")),
        ]
        if cert is not None and cert.pdf_sha256 and self.blobs.exists(cert.pdf_sha256):
            members.append(("certificat-realisation.pdf", self.blobs.get(cert.pdf_sha256)))
        name = self._scratch("zip")
        write_zip(self.folder / name, members, self.request.period.end)
        return "bundle", name, {"dossier": _safe(enr.values.get("dossier")),
                                "learner": slug(enr.report.learner_name or enr.report.learner_id)}

    def api_cfa(self, enr: Enrolment, foad) -> tuple[str, str, dict[str, str]] | None:
        """The apprentice's API CFA certificate (None: no échéance ends in the period)."""
        due, problem = api_cfa.echeance(enr, self.config, self.request.period)
        if due is None:
            return None
        cert = self.certs.get(enr.key)
        span = dataclasses.replace(enr, window=(due["dateDebut"], due["dateFin"]), rows=None, skipped_upcoming=0)
        duree = sum((r["hours_realised"] for r in build_rows(span, self.config, foad)), Decimal(0))
        blobs = self.blobs
        pdf = blobs.get(cert.pdf_sha256) if cert is not None and cert.pdf_sha256 and blobs.exists(cert.pdf_sha256) else None
        body, _ = api_cfa.certificate(enr, due, problem, duree, self.config, self.organisation, self.signed_on, pdf)
        name = self._scratch("json")
        (self.folder / name).write_text(json.dumps(body, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return "api_cfa", name, {"dossier": _safe(enr.values.get("dossier")),
                                 "learner": slug(enr.report.learner_name or enr.report.learner_id),
                                 "type": body["typeCertificat"].lower()}


class _Writers:
    """The files of one export, opened as the outputs ask, written enrolment by enrolment in the files' order."""

    def __init__(self, fmt: OpcoFormat, request: ExportRequest, profile: Profile, outputs: set[str]):
        self.fmt, self.request, self.profile, self.outputs = fmt, request, profile, outputs
        self.formatter = Formatter(profile)
        self.files: list[Path] = []
        self._names: set[str] = set()
        self.tables: list[tuple[Any, bool]] = []  # (table, summary?)
        self.index: CsvTable | None = None
        self.book: XlsxBook | None = None
        if "attendance_csv" in outputs:
            self.tables.append((CsvTable(self.path("statement", ext="csv"), profile, profile.columns, self.formatter), False))
            if profile.summary_columns:
                self.tables.append((CsvTable(self.path("summary", ext="csv"), profile, profile.summary_columns,
                                             self.formatter), True))
        if "attendance_xlsx" in outputs:
            self.book = XlsxBook(self.path("statement", ext="xlsx"), profile,
                                 dt.datetime.combine(request.period.end, dt.time()))
            self.tables.append((self.book.sheet(profile.xlsx.statement_sheet, profile.columns), False))
            if profile.summary_columns:
                self.tables.append((self.book.sheet(profile.xlsx.summary_sheet, profile.summary_columns), True))
        if "subrogation_bundle" in outputs:
            specs = [ColumnSpec(column=c, label=label) for c, label in BUNDLE_INDEX]
            self.index = CsvTable(self.path("bundle_index", ext="csv"), profile, specs, self.formatter)

    def path(self, kind: str, **values: Any) -> Path:
        """The path of a new file of the export, named by the profile (``-2``… when the name is taken)."""
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

    def lines(self, values: dict[str, Any], rows: list[dict[str, Any]] | None) -> None:
        for table, is_summary in self.tables:
            if is_summary:
                table.write(None, values)
            else:
                for row in rows or []:
                    table.write(row, values)

    def close(self) -> None:
        for table, _ in self.tables:
            if isinstance(table, CsvTable):
                table.close()
        if self.book is not None:
            self.book.close()
        if self.index is not None:
            self.index.close()
