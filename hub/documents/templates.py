"""Labels and texts of each document type, and the admin's overrides.

The defaults below follow the Ministry of Labour's certificat de réalisation model and the
Labour Code (L6353-1 for the attestation de fin de formation); see docs/documents.md for the
sources. An admin overrides any of them with YAML files in ``hub.documents.templates_dir``:

* ``common.yaml`` — shared keys (``font``, ``font_bold``, ``colour``, ``logo``, ``header``,
  ``footer``, ``nature_labels``, ``signature_caption``…);
* ``<document type>.yaml`` — that type's keys (``title``, ``intro``, …), which may also override
  common keys for that type only.

Only known keys are accepted, and texts may use only the placeholders listed in
``PLACEHOLDERS`` (``{learner}``, ``{action}``, ``{start}``…): a typo fails when the templates load,
naming the file and the key. Texts may use reportlab's inline markup (``<b>``, ``<i>``, ``<br/>``);
the values put into them are escaped. An empty text leaves its paragraph out.
"""

from __future__ import annotations

import copy
import string
from pathlib import Path
from typing import Any

import yaml

from hub.documents import DOCUMENT_TYPES
from hub.documents.fr import hours_fr
from hub.errors import ConfigError
from hub.journeys.actions import MODALITY_LABELS, NATURE_LABELS

PLACEHOLDERS = {
    "learner", "employer", "action", "action_id", "start", "end", "hours", "planned_hours", "attendance_rate",
    "organisation", "siret", "nda", "address", "signatory", "signatory_title", "place", "issued_on", "id",
    "verify_url", "title", "certification",
}

COMMON: dict[str, Any] = {
    "font": None,  # a TTF file; default DejaVu Sans when installed, else Bitstream Vera (shipped with reportlab)
    "font_bold": None,
    "colour": "#1f3a5f",
    "logo": None,  # an image file printed top left
    "header": ["<b>{organisation}</b>", "{address}", "SIRET : {siret}",
               "Déclaration d'activité n° {nda}"],
    "footer": "{title} n° {id}, date d'émission : {issued_on}. Authenticité : scannez le code QR ou consultez {verify_url}",
    "qr_caption": "Vérifier ce document",
    "nature_labels": dict(NATURE_LABELS),
    "modality_labels": dict(MODALITY_LABELS),
    "outcome_labels": {"acquis": "acquis", "non_acquis": "non acquis"},
    "done_at": "Fait à {place}, le {issued_on}",
    "signature_name": "{signatory}, {signatory_title}",
    "signature_caption": "Cachet et signature du responsable du dispensateur de formation",
}

TYPES: dict[str, dict[str, Any]] = {
    "certificat_realisation": {
        "title": "Certificat de réalisation",
        "intro": "Je soussigné(e) <b>{signatory}</b>, représentant légal du dispensateur de l'action concourant "
                 "au développement des compétences <b>{organisation}</b>, atteste que :",
        "beneficiary": "<b>{learner}</b>",
        "beneficiary_employer": "<b>{learner}</b>, salarié(e) de l'entreprise <b>{employer}</b>,",
        "followed": "a suivi l'action <b>{action}</b>",
        "nature_heading": "Nature de l'action concourant au développement des compétences :",
        "dates": "qui s'est déroulée du <b>{start}</b> au <b>{end}</b>",
        "duration": "pour une durée de <b>{hours}</b>.",
        # printed when the enrolment has distance hours: {distance_rule} is the rule that counted them
        "distance_note": "Action réalisée en tout ou partie à distance : la durée indiquée compte {distance_rule}.",
        "distance_rules": {
            "connection": "le temps de connexion de l'apprenant, dans la limite de {daily_cap} par jour",
            "estimates": "le temps estimé pour réaliser chaque activité pédagogique achevée",
            "capped_at_planned": "dans la limite de la durée prévue à distance",
            "synchrone": "pour les classes virtuelles, le temps de présence, dans la limite de la durée de chaque "
                         "demi-journée",
            "foad_and": ", plus ",
            "separator": " ; ",
        },
        "retention": "Sans préjudice des délais imposés par les règles fiscales, comptables ou commerciales, je "
                     "m'engage à conserver l'ensemble des pièces justificatives qui ont permis d'établir le présent "
                     "certificat pendant une durée de 3 ans à compter de la fin de l'année du dernier paiement. En "
                     "cas de cofinancement des fonds européens, la durée de conservation est étendue conformément "
                     "aux obligations conventionnelles spécifiques.",
    },
    "attestation_assiduite": {
        "title": "Attestation d'assiduité",
        "intro": "<b>{organisation}</b> atteste que <b>{learner}</b> a suivi l'action <b>{action}</b> du "
                 "<b>{start}</b> au <b>{end}</b>, avec l'assiduité suivante :",
        "rows": {
            "planned_hours": "Durée prévue", "hours": "Durée réalisée", "attendance_rate": "Taux d'assiduité",
            "modality": "dont {modality}", "half_days": "Demi-journées émargées",
            "absent_justified": "Demi-journées d'absence justifiée", "absent": "Demi-journées d'absence non justifiée",
            "activities_completed": "Activités à distance achevées",
        },
        "half_days_value": "{signed} sur {scheduled}",
        "closing": "Attestation établie pour servir et valoir ce que de droit.",
    },
    "attestation_fin_formation": {
        "title": "Attestation de fin de formation",
        "intro": "En application de l'article L. 6353-1 du Code du travail, <b>{organisation}</b> atteste que "
                 "<b>{learner}</b> a suivi l'action <b>{action}</b> du <b>{start}</b> au <b>{end}</b>.",
        "nature_label": "Nature de l'action",
        "objectives_label": "Objectifs de l'action",
        "duration_label": "Durée de l'action",
        "followed_label": "Durée suivie",
        "results_label": "Résultats de l'évaluation des acquis de la formation",
        "no_results": "Aucune évaluation des acquis n'a été enregistrée.",
        "certification_label": "Certification visée",
        "certifications_label": "Certification obtenue",
        "outcome_labels": {"completed": "Formation suivie jusqu'à son terme.",
                           "abandoned": "Formation interrompue le {end}."},
    },
    "releve_competences": {
        "title": "Relevé de compétences",
        "intro": "<b>{organisation}</b> atteste des résultats obtenus par <b>{learner}</b> dans le cadre de "
                 "l'action <b>{action}</b> (du {start} au {end}).",
        "objectives_label": "Compétences visées",
        "results_label": "Résultats des évaluations",
        "columns": ["Évaluation", "Résultat", "Appréciation", "Date"],
        "no_results": "Aucun résultat d'évaluation n'a été enregistré.",
        "certification_label": "Certification visée",
        "certifications_label": "Certification obtenue",
    },
}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _placeholders(value: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(value, str):
        for _, name, _, _ in string.Formatter().parse(value):
            if name is not None:
                names.add(name.split(".")[0].split("[")[0])
    elif isinstance(value, dict):
        for v in value.values():
            names |= _placeholders(v)
    elif isinstance(value, list):
        for v in value:
            names |= _placeholders(v)
    return names


LOCAL_PLACEHOLDERS = {"modality", "signed", "scheduled", "distance_rule", "daily_cap"}
# What verification compares with the PDF's text: every type's texts must print these.
REQUIRED = {
    "certificat_realisation": {"learner", "action", "start", "end", "hours"},
    "attestation_assiduite": {"learner", "action", "start", "end"},  # hours: printed in the table
    "attestation_fin_formation": {"learner", "action", "start", "end"},
    "releve_competences": {"learner", "action", "start", "end"},
}


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the template: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: a template is a mapping of keys to texts")
    return data


def _check(path: Path, data: dict[str, Any], allowed: set[str]) -> None:
    problems = []
    for key, value in data.items():
        if key not in allowed:
            problems.append(f"{path}: {key}: unknown key (known: {', '.join(sorted(allowed))})")
            continue
        if key in ("font", "font_bold", "logo", "colour"):
            continue
        bad = _placeholders(value) - PLACEHOLDERS - LOCAL_PLACEHOLDERS
        if bad:
            problems.append(f"{path}: {key}: unknown placeholder(s) {', '.join('{' + b + '}' for b in sorted(bad))} "
                            f"(known: {', '.join(sorted(PLACEHOLDERS))})")
    if problems:
        raise ConfigError(problems)


def load_templates(folder: str | Path | None = None) -> dict[str, dict[str, Any]]:
    """Every type's template: defaults, then ``common.yaml``, then ``<type>.yaml`` from ``folder``."""
    common = dict(COMMON)
    overrides: dict[str, dict[str, Any]] = {}
    if folder:
        root = Path(folder)
        if not root.is_dir():
            raise ConfigError(f"{root}: templates folder not found")
        path = root / "common.yaml"
        if path.exists():
            data = _read(path)
            _check(path, data, set(COMMON))
            common = _merge(common, data)
        for doc_type in DOCUMENT_TYPES:
            path = root / f"{doc_type}.yaml"
            if path.exists():
                data = _read(path)
                _check(path, data, set(COMMON) | set(TYPES[doc_type]))
                overrides[doc_type] = data
        strays = [p.name for p in root.glob("*.yaml") if p.stem not in DOCUMENT_TYPES and p.stem != "common"]
        if strays:
            raise ConfigError(f"{root}: unknown template file(s) {', '.join(sorted(strays))} (expected common.yaml "
                              f"or one of {', '.join(f'{t}.yaml' for t in DOCUMENT_TYPES)})")
    merged = {t: _merge(_merge(common, TYPES[t]), overrides.get(t, {})) for t in DOCUMENT_TYPES}
    problems = []
    for doc_type, template in merged.items():
        used = _placeholders({k: v for k, v in template.items() if k not in ("header", "footer")})
        lacking = REQUIRED[doc_type] - used
        if lacking:
            problems.append(f"{folder}: {doc_type}: the texts must print {', '.join('{' + n + '}' for n in sorted(lacking))} "
                            "(verification compares them with the PDF's text)")
    note = merged["certificat_realisation"].get("distance_note")
    if note and "distance_rule" not in _placeholders(note):
        problems.append(f"{folder}: certificat_realisation: distance_note must print {{distance_rule}} (the rule that "
                        "counted the distance hours: a certificat must not describe another computation)")
    if problems:
        raise ConfigError(problems)
    return merged


def distance_rule(distance: dict[str, Any], texts: dict[str, str]) -> str:
    """The rule that counted an enrolment's distance hours (the certificat's ``distance`` field), in
    the words of ``texts`` (a template's ``distance_rules``); values are plain text, unescaped."""
    parts = []
    foad = distance.get("foad")
    if foad:
        counted = [texts["connection"].format(daily_cap=hours_fr(foad["connection_daily_cap"]))]
        if foad.get("activity_estimates"):
            counted.append(texts["estimates"])
        text = texts["foad_and"].join(counted)
        if foad.get("capped_at_planned"):
            text += ", " + texts["capped_at_planned"]
        parts.append(text)
    if distance.get("synchrone"):
        parts.append(texts["synchrone"])
    return texts["separator"].join(parts)
