"""Training sessions as LHÉO 2.3 XML, validated against the LHÉO schema (``schemas/lheo.xsd``).

LHÉO (langage harmonisé d'échanges d'informations sur l'offre de formation) is the national
language in which training sessions travel from the Carif-Oref to France Travail (décret
2015-742; http://lheo.gouv.fr/2.3). The elements written here follow the order and the
cardinalities of the schema; everything the hub does not know about an action (FORMACODE, public
visé, modalités d'alternance, conditions spécifiques…) comes from the export's ``lheo`` options.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from hub.formats import MissingField, Period
from hub.journeys.actions import WEEKDAYS, TrainingAction

NS = "http://lheo.gouv.fr/2.3"
SCHEMA = Path(__file__).parent / "schemas" / "lheo.xsd"
WEEKDAY_FR = dict(zip(WEEKDAYS, ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")))
MODALITES_ENSEIGNEMENT = {"presentiel": "0", "mixte": "1", "distanciel_synchrone": "2", "foad_asynchrone": "2"}


class LheoContact(BaseModel):
    model_config = ConfigDict(extra="forbid")
    nom: str | None = Field(default=None, max_length=50, description="Contact's last name")
    prenom: str | None = Field(default=None, max_length=50, description="Contact's first name")
    telephone: str | None = Field(default=None, max_length=25, description="Contact's telephone number")
    courriel: str | None = Field(default=None, min_length=3, max_length=160, description="Contact's e-mail address")


class LheoAction(BaseModel):
    """What LHÉO needs about one training action that the hub's action does not say."""

    model_config = ConfigDict(extra="forbid")
    formacodes: list[str] = Field(default_factory=list, max_length=5,
                                  description="FORMACODE codes, the first one being the main one")
    public_vise: list[str] = Field(default_factory=list, max_length=10,
                                   description="Codes of the public aimed at (FORMACODE 'public visé', 5 digits)")
    objectif: str | None = Field(default=None, max_length=3000, description="Default: the action's objectives")
    resultats_attendus: str | None = Field(default=None, max_length=3000, description="Default: the certification")
    contenu: str | None = Field(default=None, max_length=3000, description="Content of the training")
    modalites_alternance: str | None = Field(default=None, max_length=3000,
                                             description="How training centre and workplace periods alternate")
    conditions_specifiques: str | None = Field(default=None, max_length=3000,
                                               description="Specific conditions of entry (prerequisites)")
    rythme: str | None = Field(default=None, max_length=3000, description="Default: written from the weekly pattern")
    parcours_de_formation: Literal["1", "2", "3", "4"] | None = Field(
        default=None, description="LHÉO parcours-de-formation code, dict-type-parcours (default 1)")
    code_niveau_entree: str | None = Field(default=None, pattern=r"^(\d|1[1-8])$",
                                           description="LHÉO code-niveau-entree: the level required at entry")
    niveau_entree_obligatoire: bool | None = Field(default=None, description="The entry level is mandatory")
    prise_en_charge_frais_possible: bool | None = Field(
        default=None, description="The training costs can be funded")
    modalites_entrees_sorties: Literal["0", "1"] | None = Field(
        default=None, description="LHÉO modalites-entrees-sorties code, dict-modalites-es (default 0)")
    session_numero: str | None = Field(default=None, description="Number of the session known by the Carif-Oref")
    url: str | None = Field(default=None, min_length=3, max_length=400, description="Web page of the action")
    lieu: str | None = Field(default=None, description="Address of the training place, '<street>, <postcode> "
                             "<city>' (default: the organisation's address)")

    def merged(self, defaults: LheoAction) -> LheoAction:
        data = defaults.model_dump(exclude_none=True)
        data.update({k: v for k, v in self.model_dump(exclude_none=True).items() if v not in ([], None)})
        return LheoAction.model_validate(data)


class LheoOptions(BaseModel):
    """The ``lheo`` block of a France Travail export."""

    model_config = ConfigDict(extra="forbid")
    formacode_version: str = Field(default="V13", min_length=1, max_length=20,
                                   description="Version of the FORMACODE the codes come from (attribute 'ref')")
    code_financeur: str = Field(default="4", description="dict-financeurs code written in organisme-financeur "
                                "(4: Pôle emploi, now France Travail)")
    contact: LheoContact = Field(default_factory=LheoContact, description="Contact for the training and the organisation")
    defaults: LheoAction = Field(default_factory=LheoAction, description="Values shared by every action")
    actions: dict[str, LheoAction] = Field(default_factory=dict, description="Per action id, overriding the defaults")


@lru_cache(maxsize=1)
def schema():
    import xmlschema

    return xmlschema.XMLSchema(str(SCHEMA))


def parse_address(text: str | None) -> tuple[list[str], str, str] | None:
    """'12 rue de la République, 69002 Lyon' -> (['12 rue de la République'], '69002', 'Lyon')."""
    if not text:
        return None
    match = re.fullmatch(r"\s*(.+?)\s*,?\s*(\d{5})\s+([^,]+?)\s*", text)
    if not match:
        return None
    lines = [part.strip() for part in match.group(1).split(",") if part.strip()][:4]
    return (lines, match.group(2), match.group(3)) if lines else None


def rhythm(action: TrainingAction) -> str | None:
    pattern = action.pattern
    if pattern is None:
        return None
    days = ", ".join(WEEKDAY_FR[d] for d in WEEKDAYS if d in pattern.weekdays)
    slots = [f"{s.start.replace(':', 'h')}-{s.end.replace(':', 'h')}" for s in (pattern.am, pattern.pm) if s]
    return f"{days} ; {' et '.join(slots)}" if slots else days


def _hours_text(hours: Decimal) -> str:
    text = format(hours.normalize(), "f") if hours == hours.to_integral() else str(hours)
    return f"{text.replace('.', ',')} heures"


class _Builder:
    def __init__(self):
        ET.register_namespace("", NS)

    @staticmethod
    def el(parent: ET.Element | None, tag: str, text: Any = None, **attrs: str) -> ET.Element:
        qname = f"{{{NS}}}{tag}"
        node = ET.Element(qname, attrs) if parent is None else ET.SubElement(parent, qname, attrs)
        if text is not None:
            node.text = str(text)
        return node


def build(actions: list[tuple[str, TrainingAction]], options: LheoOptions, organisation: Any,
          period: Period) -> tuple[bytes | None, list[MissingField]]:
    """The LHÉO document of ``actions``, or the fields it lacks (one MissingField per gap)."""
    missing: list[MissingField] = []
    org_where = "organisation"
    address = parse_address(getattr(organisation, "address", None))
    if organisation is None:
        missing.append(MissingField(org_where, "hub.organisation", "LHÉO needs the organisation's SIRET, NDA, name "
                                    "and address: set hub.organisation in the configuration"))
    else:
        if not organisation.nda:
            missing.append(MissingField(org_where, "hub.organisation.nda", "LHÉO numero-activite needs the 11-digit "
                                        "numéro de déclaration d'activité"))
        if address is None:
            missing.append(MissingField(org_where, "hub.organisation.address", "LHÉO needs an address written "
                                        "'<street>, <postcode> <city>' (e.g. '12 rue de la République, 69002 Lyon')"))
    per_action = []
    for action_id, action in actions:
        merged = options.actions.get(action_id, LheoAction()).merged(options.defaults)
        where = f"action {action_id}"
        needs = {
            "lheo.public_vise": (merged.public_vise, "at least one code of public visé (5 digits)"),
            "lheo.contenu": (merged.contenu, "the content of the training (contenu-formation)"),
            "lheo.modalites_alternance": (merged.modalites_alternance, "modalites-alternance (text)"),
            "lheo.conditions_specifiques": (merged.conditions_specifiques, "conditions-specifiques (text)"),
            "lheo.objectif": (merged.objectif or "\n".join(action.objectives),
                              "objectif-formation: objectives of the action, or lheo.objectif"),
            "lheo.resultats_attendus": (merged.resultats_attendus or action.certification,
                                        "resultats-attendus: the action's certification, or lheo.resultats_attendus"),
            "lheo.rythme": (merged.rythme or rhythm(action), "rythme-formation: a weekly pattern, or lheo.rythme"),
        }
        for name, (value, what) in needs.items():
            if not value:
                missing.append(MissingField(where, name, f"LHÉO needs {what}: set exports.<name>.lheo.actions."
                                            f"{action_id} or lheo.defaults"))
        if merged.lieu and parse_address(merged.lieu) is None:
            missing.append(MissingField(where, "lheo.lieu", "write the address '<street>, <postcode> <city>'"))
        bad = [c for c in merged.public_vise + merged.formacodes if not re.fullmatch(r"\d{5}", c)]
        if bad:
            missing.append(MissingField(where, "lheo.codes", f"FORMACODE and public-visé codes have 5 digits: {bad}"))
        per_action.append((action_id, action, merged))
    if missing:
        return None, missing

    b = _Builder()
    root = b.el(None, "lheo")
    offres = b.el(root, "offres")
    for action_id, action, m in per_action:
        f = b.el(offres, "formation", numero=action_id)
        domaine = b.el(f, "domaine-formation")
        for code in m.formacodes:
            b.el(domaine, "code-FORMACODE", code, ref=options.formacode_version)
        b.el(f, "intitule-formation", action.title)
        b.el(f, "objectif-formation", m.objectif or "\n".join(action.objectives))
        b.el(f, "resultats-attendus", m.resultats_attendus or action.certification)
        b.el(f, "contenu-formation", m.contenu)
        b.el(f, "certifiante", "1" if action.certification else "0")
        _coordonnees(b, b.el(f, "contact-formation"), options.contact, address)
        b.el(f, "parcours-de-formation", m.parcours_de_formation or "1")
        b.el(f, "code-niveau-entree", m.code_niveau_entree or "0")
        if m.url:
            b.el(b.el(f, "url-formation"), "urlweb", m.url)
        a = b.el(f, "action", numero=action_id)
        b.el(a, "rythme-formation", m.rythme or rhythm(action))
        for code in m.public_vise:
            b.el(a, "code-public-vise", code, ref=options.formacode_version)
        b.el(a, "niveau-entree-obligatoire", "1" if m.niveau_entree_obligatoire else "0")
        b.el(a, "modalites-alternance", m.modalites_alternance)
        b.el(a, "modalites-enseignement", MODALITES_ENSEIGNEMENT.get(action.modality, "1"))
        b.el(a, "conditions-specifiques", m.conditions_specifiques)
        b.el(a, "prise-en-charge-frais-possible", "0" if m.prise_en_charge_frais_possible is False else "1")
        lieu = b.el(a, "lieu-de-formation")
        _coordonnees(b, lieu, None, parse_address(m.lieu) or address)
        b.el(a, "modalites-entrees-sorties", m.modalites_entrees_sorties or "0")
        s = b.el(a, "session", numero=m.session_numero or action_id)
        periode = b.el(s, "periode")
        b.el(periode, "debut", action.start.strftime("%Y%m%d"))
        b.el(periode, "fin", action.end.strftime("%Y%m%d"))
        _adresse(b, b.el(s, "adresse-inscription"), address)
        planned = action.total_planned_hours()
        b.el(a, "duree-indicative", _hours_text(planned))
        if planned == planned.to_integral():
            b.el(a, "nombre-heures-total", str(int(planned)))
        financeur = b.el(a, "organisme-financeur")
        b.el(financeur, "code-financeur", options.code_financeur)
        _organisme(b, f, organisation, options.contact, address)
    ET.indent(root, space="  ")
    data = ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"
    errors = list(schema().iter_errors(data.decode("utf-8")))
    if errors:
        return None, [MissingField("LHÉO", "lheo.xsd", f"{e.path}: {e.reason}") for e in errors[:20]]
    return data, []


def _adresse(b: _Builder, parent: ET.Element, address: tuple[list[str], str, str]) -> None:
    lines, postcode, city = address
    node = b.el(parent, "adresse")
    for line in lines:
        b.el(node, "ligne", line[:50])
    b.el(node, "codepostal", postcode)
    b.el(node, "ville", city[:50])


def _coordonnees(b: _Builder, parent: ET.Element, contact: LheoContact | None, address) -> None:
    node = b.el(parent, "coordonnees")
    if contact and contact.nom:
        b.el(node, "nom", contact.nom)
    if contact and contact.prenom:
        b.el(node, "prenom", contact.prenom)
    _adresse(b, node, address)
    if contact and contact.telephone:
        b.el(b.el(node, "telfixe"), "numtel", contact.telephone)
    if contact and contact.courriel:
        b.el(node, "courriel", contact.courriel)


def _organisme(b: _Builder, formation: ET.Element, organisation: Any, contact: LheoContact, address) -> None:
    o = b.el(formation, "organisme-formation-responsable")
    b.el(o, "numero-activite", organisation.nda)
    b.el(b.el(o, "SIRET-organisme-formation"), "SIRET", organisation.siret)
    b.el(o, "nom-organisme", organisation.name)
    b.el(o, "raison-sociale", organisation.name)
    _coordonnees(b, b.el(o, "coordonnees-organisme"), None, address)
    _coordonnees(b, b.el(o, "contact-organisme"), contact, address)
