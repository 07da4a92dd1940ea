"""Built-in funder format ``bpf``: the yearly bilan pédagogique et financier (cerfa 10443).

Computed from the ledger and the journeys: products by payer (cadre C) from payment and funding
events, trainers and their hours (E), trainees and hours followed by type, aim and NSF speciality
(F-1 to F-4), training entrusted by other organisations (G); costs (D) and the per-action
attributes the core does not model (trainee type, aim and level, NSF code, trainer status) come
from the export's configuration. Written as JSON, CSV (figures and the drill-down that lists the
enrolments behind every figure) and a printable HTML page laid out like the form. See
docs/formats/bpf.md.
"""

from __future__ import annotations

import html
import string
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, field_validator

from hub.formats import ExportRequest, ExportResult, FunderFormat, FunderFormatConfig
from hub.hookspecs import hookimpl
from hub.journeys.proofs import Gap, ProofRule
from hub.journeys.rate import RateConfig

from .compute import ALL_LINES, C_LINES, F1, F3, Bpf, compute, money_by_enrolment, _aim, _trainee_type
from hub.profiles import FileProfile, ProfileOption, check_file_name, column_model

HERE = Path(__file__).parent
PROFILES = HERE / "profiles"
TEMPLATES = HERE / "templates"
CLine = Literal[C_LINES]  # type: ignore[valid-type]
F1Letter = Literal[F1]  # type: ignore[valid-type]
FIELDS = ("cadre", "line", "label", "code", "trainees", "hours", "amount", "headcount", "value")
DETAIL_FIELDS = ("line", "label", "code", "learner_id", "learner_name", "action", "hours", "amount", "events", "note",
                 "basis")
#: the source of a cadre C amount, as the detail file says it
BASIS_LABELS = {"invoice": "facture", "funding": "décision de financement", "payment": "paiement",
                "refund": "remboursement"}
BpfColumn = column_model("BpfColumn", FIELDS)
BpfDetailColumn = column_model("BpfDetailColumn", DETAIL_FIELDS)
MONEY_EVENTS = ["payment.succeeded", "payment.refunded", "funding.approved", "invoice.issued"]


class BpfProfile(FileProfile):
    """Labels of the form's lines and the layout of the CSV files."""

    FIELDS = FIELDS
    title: str = "Bilan pédagogique et financier"
    file_name: str = "bpf-{period}.csv"
    columns: list[BpfColumn] = Field(min_length=1)  # type: ignore[valid-type]
    detail_file_name: str = "bpf-{period}-detail.csv"
    detail_columns: list[BpfDetailColumn] = Field(min_length=1)  # type: ignore[valid-type]
    json_file_name: str = "bpf-{period}.json"
    html_file_name: str = "bpf-{period}.html"
    line_labels: dict[str, str] = Field(default_factory=dict, description="Label of each line of the form")

    @field_validator("line_labels")
    @classmethod
    def _lines(cls, value: dict[str, str]) -> dict[str, str]:
        for line in value:
            if line not in ALL_LINES:
                raise ValueError(f"unknown line {line!r} (known: {', '.join(ALL_LINES)})")
        return value

    @field_validator("detail_file_name", "json_file_name", "html_file_name")
    @classmethod
    def _names(cls, value: str) -> str:
        return check_file_name(value)


class Charges(BaseModel):
    """Cadre D: the organisation's training costs of the financial year (excl. VAT)."""

    model_config = ConfigDict(extra="forbid")
    total: Decimal = Field(ge=0, description="Total costs related to the training activity")
    trainer_salaries: Decimal = Field(default=Decimal(0), ge=0, description="of which trainers' salaries")
    purchases: Decimal = Field(default=Decimal(0), ge=0, description="of which bought-in training and trainers' fees")


class ActionBpf(BaseModel):
    """What the BPF needs about one training action that the core does not model."""

    model_config = ConfigDict(extra="forbid")
    trainee_type: F1Letter | None = Field(  # type: ignore[valid-type]
        default=None, description="F-1 type of all its trainees: a employees, b apprentices, c job-seekers, d self-funded, e others")
    aim: Literal["rncp", "rs", "cqp", "other", "bilan", "vae"] | None = Field(default=None, description="F-3 general aim")
    rncp_level: Literal["6_8", "5", "4", "3", "2", "cqp"] | None = Field(
        default=None, description="F-3 a: RNCP level (6_8 for levels 6 to 8; cqp for a CQP without level)")
    nsf: str | None = Field(default=None, pattern=r"^\d{3}[a-z]?$", description="F-4 NSF speciality code, e.g. 326 or 326t")
    nsf_label: str | None = Field(default=None, description="Label of the NSF code, printed on the form")
    trainer_status: Literal["internal", "external"] | None = Field(
        default=None, description="E: the action's trainer is internal or external (subcontracted)")
    subcontracted: bool = Field(default=False, description="F-2: the action is entrusted by you to another organisation")
    entrusted_by_of: bool = Field(default=False, description="G: the action is entrusted to you by another organisation")


def _default_types() -> dict[str, str]:
    return {"opco": "a", "employer": "a", "france_travail": "c", "self": "d"}


class BpfConfig(ProfileOption, FunderFormatConfig):
    """Keys of a ``bpf`` export."""

    profile: str = Field(default="cerfa-10443", description="Built-in profile name or path to a profile YAML")
    revenue: Literal["realised", "approval"] = Field(
        default="realised", description="Funding amounts in the year the training is realised, or of their approval")
    funder_lines: dict[str, CLine] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Cadre C line per funder name (globs), over the funder_kind default")
    payer_lines: dict[str, CLine] = Field(  # type: ignore[valid-type]
        default_factory=dict, description="Cadre C line per payment payer (globs)")
    payment_line: CLine = Field(default="C-9", description="Cadre C line of other payments (individuals)")  # type: ignore[valid-type]
    turnover: Decimal | None = Field(default=None, gt=0, description="Total turnover excl. VAT of the year (for the share of training)")
    charges: Charges | None = Field(default=None, description="Cadre D")
    trainers: dict[str, Literal["internal", "external"]] = Field(
        default_factory=dict, description="Trainer name -> internal or external (cadre E)")
    catalogue: dict[str, ActionBpf] = Field(default_factory=dict, description="Per training action id: BPF attributes")
    funder_kind_types: dict[str, F1Letter] = Field(  # type: ignore[valid-type]
        default_factory=_default_types, description="F-1 type implied by a funding's funder_kind")

    profile_model = BpfProfile
    profiles_dir = PROFILES


def cpf_rates(hub_config) -> tuple[RateConfig | None, list[str]]:
    """The settings of the CPF taux de réalisation: those of the hub's enabled export that declares
    CPF rates (the ``cpf`` export), so that the BPF counts the CPF products at the rate EDOF states."""
    found = sorted((name, cfg) for name, cfg in (getattr(hub_config, "exports", None) or {}).items()
                   if isinstance(cfg, RateConfig) and getattr(cfg, "enabled", True))
    if not found:
        return None, []
    notes = []
    if len(found) > 1:
        notes.append(f"CPF products at the taux de réalisation of the export {found[0][0]} (the first of "
                     f"{', '.join(n for n, _ in found)})")
    return found[0][1], notes


def _cadre(line: str) -> str:
    return {"C": "C", "D": "D", "E": "E", "G": "G"}.get(line[0]) or line.split("-")[0].replace("F", "F-")


class BpfFormat(FunderFormat):
    """BPF: the yearly bilan pédagogique et financier (cerfa 10443), with its drill-down."""

    kind = "bpf"
    Config = BpfConfig
    period = "year"
    format_version = "1"

    def export(self, request: ExportRequest) -> ExportResult:
        cfg: BpfConfig = self.config  # type: ignore[assignment]
        tz = request.hub_config.timezone
        money = money_by_enrolment(request.events(types=MONEY_EVENTS))
        rates, rate_notes = cpf_rates(request.hub_config)
        bpf = compute(cfg, period=request.period, journeys=request.journeys, money=money,
                      organisation=request.hub_config.hub.organisation, tz=tz, rates=rates)
        bpf.notes.extend(rate_notes)
        # the form is due every year, activity or not: it is never an empty period
        result = ExportResult(missing=bpf.missing, notes=list(bpf.notes), records=1)
        if bpf.missing and not request.allow_incomplete:
            return result
        profile = cfg.loaded_profile
        label = request.period.label
        figures = self._figures(bpf)
        labels = profile.line_labels
        out = request.out_dir
        json_path = out / profile.name_for(label, request.name, profile.json_file_name)
        json_path.write_bytes(orjson.dumps({
            "form": "cerfa 10443", "period": {"label": label, "start": request.period.start.isoformat(),
                                              "end": request.period.end.isoformat()},
            "header": bpf.header,
            "figures": [f.as_dict(labels) for f in figures],
            "drilldown": {f.line: [e.as_dict() for e in f.entries] for f in figures if f.entries},
        }, option=orjson.OPT_INDENT_2) + b"\n")
        csv_path = out / profile.name_for(label, request.name)
        rows = [{**f.as_dict(labels), "cadre": _cadre(f.line)} for f in figures]
        result.notes.extend(profile.write(csv_path, rows))
        detail_path = out / profile.name_for(label, request.name, profile.detail_file_name)
        detail = [{"line": f.line, "label": labels.get(f.line, f.line), "code": f.code, **e.as_dict(),
                   "hours": e.hours, "amount": e.amount, "events": " ".join(e.events),
                   "basis": BASIS_LABELS.get(e.basis or "")}
                  for f in figures if not f.line.endswith("-total") for e in f.entries]
        result.notes.extend(profile.write(detail_path, detail, profile.detail_columns))
        html_path = out / profile.name_for(label, request.name, profile.html_file_name)
        html_path.write_text(render_html(bpf, profile, label, figures), encoding="utf-8")
        result.files.extend([json_path, csv_path, detail_path, html_path])
        trainees = bpf.figures["F1-total"].trainees or 0
        if not trainees and not bpf.figures["C-total"].amount:
            result.notes.append(f"no training activity recorded in {label}: the BPF is filed with zeros "
                                "(every organisation with an NDA files one, activity or not)")
        else:
            result.notes.append(f"{trainees} trainee(s), {bpf.figures['F1-total'].hours} hour(s), "
                                f"{bpf.figures['C-total'].amount} € of products in {label}")
        return result

    @staticmethod
    def _figures(bpf: Bpf) -> list:
        order = [line for line in ALL_LINES if not (line.startswith("F4-") and line != "F4-total")]
        figs = [bpf.figures[line] for line in order]
        at = order.index("F4-total")
        return figs[:at] + bpf.f4 + figs[at:]

    def proof_rules(self) -> list[ProofRule]:
        cfg: BpfConfig = self.config  # type: ignore[assignment]

        def attributes(report, today):
            settings = cfg.catalogue.get(report.action_id)
            gaps = []
            if settings is None or not settings.nsf:
                gaps.append(Gap("bpf_no_nsf", f"action {report.action_id} has no NSF speciality code (BPF F-4)",
                                f"set catalogue.{report.action_id}.nsf in the bpf export"))
            aim = _aim(settings, report.action)
            if aim is None or aim == "a-?":
                gaps.append(Gap("bpf_no_aim", f"action {report.action_id} has no general aim"
                                + (" level" if aim == "a-?" else "") + " (BPF F-3)",
                                f"set catalogue.{report.action_id}.aim (and rncp_level for RNCP)"))
            if not (settings and settings.entrusted_by_of) and _trainee_type(cfg, settings, report, None) is None \
                    and report.funders:
                gaps.append(Gap("bpf_no_trainee_type", "the type of trainee (BPF F-1) is unknown",
                                "set catalogue.<action>.trainee_type or funding.approved data.trainee_type"))
            return gaps

        return [ProofRule(f"{self.name}:bpf_attributes", attributes,
                          description="what the BPF needs of every enrolment: type, aim, NSF speciality")]


# ---------------------------------------------------------------------------- printable page


def _n(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, int):
        return f"{value:,}".replace(",", "\u202f")
    return html.escape(str(value))


def render_html(bpf: Bpf, profile: BpfProfile, label: str, figures: list) -> str:
    labels = profile.line_labels
    f = bpf.figures
    h = bpf.header

    def row(line: str, *cells: Any, fig=None) -> str:
        text = labels.get(line, line)
        if fig is not None and fig.code:
            text = f"{fig.code} — {fig.value or ''}".rstrip(" —")
        tds = "".join(f'<td class="num">{_n(c)}</td>' for c in cells)
        return f'<tr id="{line}"><th class="code">{html.escape(line)}</th><td>{html.escape(text)}</td>{tds}</tr>'

    def table(head: list[str], body: list[str]) -> str:
        ths = "".join(f'<th class="num">{html.escape(x)}</th>' for x in head)
        return f'<table><thead><tr><th></th><th></th>{ths}</tr></thead><tbody>{"".join(body)}</tbody></table>'

    sections = []
    a = h["A"]
    sections.append(("A", "Identification de l'organisme",
                     f'<dl><dt>Raison sociale</dt><dd>{_n(a["name"])}</dd><dt>N° de déclaration d\'activité</dt>'
                     f'<dd>{_n(a["nda"])}</dd><dt>SIRET</dt><dd>{_n(a["siret"])}</dd><dt>Adresse</dt><dd>{_n(a["address"])}</dd></dl>'))
    b = h["B"]
    sections.append(("B", "Exercice comptable",
                     f'<dl><dt>Du</dt><dd>{_n(b["start"])}</dd><dt>au</dt><dd>{_n(b["end"])}</dd>'
                     f'<dt>Formations en tout ou partie à distance</dt><dd>{"oui" if b["distance"] else "non"}</dd></dl>'))
    c_rows = [row(line, f[line].amount) for line in C_LINES] + [row("C-total", f["C-total"].amount),
                                                                  row("C-share", f["C-share"].value)]
    sections.append(("C", "Origine des produits de l'organisme (hors taxes, en euros)", table(["Montant"], c_rows)))
    sections.append(("D", "Charges de l'organisme (hors taxes, en euros)",
                     table(["Montant"], [row(x, f[x].amount) for x in ("D-total", "D-salaries", "D-purchases")])))
    sections.append(("E", "Personnes dispensant des heures de formation",
                     table(["Nombre", "Heures"], [row(x, f[x].headcount, f[x].hours) for x in ("E-internal", "E-external", "E-total")])))
    sections.append(("F-1", "Type de stagiaires de l'organisme",
                     table(["Stagiaires", "Heures"], [row(f"F1-{x}", f[f"F1-{x}"].trainees, f[f"F1-{x}"].hours) for x in F1]
                           + [row("F1-total", f["F1-total"].trainees, f["F1-total"].hours)])))
    sections.append(("F-2", "Activité sous-traitée de l'organisme",
                     table(["Stagiaires", "Heures"], [row("F2", f["F2"].trainees, f["F2"].hours)])))
    sections.append(("F-3", "Objectif général des prestations dispensées",
                     table(["Stagiaires", "Heures"], [row(f"F3-{x}", f[f"F3-{x}"].trainees, f[f"F3-{x}"].hours) for x in F3]
                           + [row("F3-total", f["F3-total"].trainees, f["F3-total"].hours)])))
    sections.append(("F-4", "Spécialités de formation (les cinq principales)",
                     table(["Stagiaires", "Heures"], [row(fig.line, fig.trainees, fig.hours, fig=fig) for fig in bpf.f4]
                           + [row("F4-total", f["F4-total"].trainees, f["F4-total"].hours)])))
    sections.append(("G", "Stagiaires dont la formation a été confiée à votre organisme par un autre organisme",
                     table(["Stagiaires", "Heures"], [row("G", f["G"].trainees, f["G"].hours)])))
    hh = h["H"]
    sections.append(("H", "Personne ayant la qualité de dirigeant",
                     f'<dl><dt>Nom</dt><dd>{_n(hh["name"])}</dd><dt>Qualité</dt><dd>{_n(hh["title"])}</dd></dl>'))
    body = "\n".join(f'<section class="cadre" id="cadre-{k}"><h2><span>Cadre {k}</span> {html.escape(t)}</h2>{c}</section>'
                     for k, t, c in sections)
    template = string.Template((TEMPLATES / "bpf.html").read_text(encoding="utf-8"))
    return template.substitute(title=html.escape(f"{profile.title} — {label}"), period=html.escape(label),
                               organisation=_n(a["name"]), body=body)


# ---------------------------------------------------------------------------- hooks


@hookimpl
def register_funder_formats():
    return [BpfFormat]
