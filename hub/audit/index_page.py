"""The auditor's HTML pages: ``index.html`` at the top of the pack (learners, ledger files, how to
check) and one ``index.html`` per learner (each event with its evidence and its proof's place).

Self-contained (inline style, no script, no remote resource): they open offline from the unzipped
folder, and every link is relative.
"""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = ("body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}"
         "table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border-bottom:1px solid #ccc;padding:.3em .5em;"
         "text-align:left;vertical-align:top;font-size:.92em}th{background:#e8edf3}h1,h2{color:#1f3a5f}"
         "code{font-size:.9em}.note{color:#555;font-size:.9em}")


def _page(title: str) -> str:
    return (f'<!DOCTYPE html>\n<html lang="fr"><head><meta charset="utf-8"><title>{escape(title)}</title>'
            f"<style>{STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n")


def _link(href: str, text: str) -> str:
    return f'<a href="{escape(href)}">{escape(text)}</a>'


def pack_index(manifest: dict[str, Any], learners: list[dict[str, Any]]) -> str:
    """The top page: what was selected, the learners with their files, the ledger's files."""
    sel = manifest["selection"]
    criteria = {"sample": f"échantillon aléatoire de {sel.get('size')} apprenant(s), graine {sel.get('seed')}",
                "learners": "apprenants désignés : " + ", ".join(sel.get("learners", [])),
                "funder": f"financés par {sel.get('funder')}, formation sur la période {sel.get('period')}"}[sel["mode"]]
    ledger = manifest["ledger"]
    out = [_page(f"Paquet d'audit — action {manifest['action']}"),
           f"<p>Généré le {escape(manifest['generated_at'])} par Parcours Hub. Sélection : {escape(criteria)}.</p>",
           f"<p>Registre : blocs {ledger['first_block']} à {ledger['last_block']} "
           f"(événements {ledger['first_seq']} à {ledger['last_seq']}).</p>",
           "<h2>Apprenants</h2><table><tr><th>Apprenant</th><th>Statut</th><th>Événements</th><th>Pièces</th>"
           "<th>Documents</th><th>Fichiers</th></tr>"]
    for learner in learners:
        folder = learner["folder"]
        files = " · ".join([_link(f"{folder}/index.html", "détail"), _link(f"{folder}/resume-parcours.pdf", "résumé (PDF)"),
                            _link(f"{folder}/events.ndjson", "événements"), _link(f"{folder}/proofs.ndjson", "preuves")])
        out.append(f"<tr><td>{escape(learner['name'] or learner['id'])}<br><code>{escape(learner['id'])}</code></td>"
                   f"<td>{escape(learner['status'])}</td><td>{learner['events']}</td><td>{learner['evidence']}</td>"
                   f"<td>{learner['documents']}</td><td>{files}</td></tr>")
    out.append("</table>")
    wide = manifest.get("action_wide")
    if wide:
        out.append(f"<h2>Émargements du formateur pour toute l'action</h2><p>{wide['events']} signature(s) du "
                   "formateur, sans apprenant nommé, qui contresignent la demi-journée de chaque apprenant : "
                   + " · ".join([_link("action/events.ndjson", "événements"), _link("action/proofs.ndjson", "preuves")]
                                + [_link(f, f.rsplit("/", 1)[-1][:28]) for f in sorted(wide["files"].values())])
                   + "</p>")
    out.append("<h2>Registre scellé</h2><ul>")
    out.append(f"<li>{_link('ledger/blocks.ndjson', 'en-têtes de blocs')} (chaînés par leur empreinte)</li>")
    if manifest["ledger"].get("tokens"):
        out.append("<li>jetons d'horodatage RFC 3161 : "
                   + ", ".join(_link(t, t.rsplit("/", 1)[-1]) for t in manifest["ledger"]["tokens"]) + "</li>")
    if manifest["ledger"].get("head"):
        out.append(f"<li>{_link('ledger/head.json', 'tête signée du registre')} et "
                   f"{_link('ledger/head-key.json', 'sa clé publique')}</li>")
    out.append("</ul><h2>Vérifier ce paquet</h2><p>Voir " + _link("README.txt", "README.txt")
               + " : <code>python3 verify_audit_pack.py paquet.zip</code> recalcule l'empreinte de chaque fichier "
               "(manifest.json), chaque preuve d'inclusion, la chaîne des blocs, la tête signée et les jetons "
               "d'horodatage.</p></body></html>\n")
    return "".join(out)


def learner_page_head(learner: dict[str, Any]) -> str:
    """The start of a learner's page; rows (:func:`event_row`) and :data:`LEARNER_PAGE_END` follow."""
    return "".join([
        _page(f"{learner['name'] or learner['id']} — action {learner['action']}"),
        f"<p>Identifiant : <code>{escape(learner['id'])}</code> · statut : {escape(learner['status'])} · ",
        _link("resume-parcours.pdf", "résumé du parcours (PDF)"), " · ", _link("events.ndjson", "événements (NDJSON)"),
        " · ", _link("proofs.ndjson", "preuves d'inclusion (NDJSON, une ligne par événement scellé, dans le même ordre)"),
        " · ", _link("../../index.html", "retour"), "</p>",
        "<table><tr><th>#</th><th>Date</th><th>Type</th><th>Événement</th><th>Preuve</th><th>Pièces</th></tr>\n"])


def event_row(number: int, event: dict[str, Any], where: tuple[int, int] | None, files: list[str]) -> str:
    """One event of a learner's page: ``where`` is (block, leaf) of its proof, None when not sealed yet;
    ``files`` the pack files of its evidence, relative to the learner's folder."""
    place = f"bloc {where[0]}, feuille {where[1]}" if where else "pas encore scellé"
    links = " ".join(_link(f, f.rsplit("/", 1)[-1][:28]) for f in files) or "—"
    return (f"<tr><td>{number}</td><td>{escape(str(event.get('occurred_at') or ''))}</td>"
            f"<td>{escape(str(event['type']))}</td><td><code>{escape(event['id'])}</code></td><td>{escape(place)}</td>"
            f"<td>{links}</td></tr>\n")


LEARNER_PAGE_END = "</table></body></html>\n"
