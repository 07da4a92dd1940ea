"""The funder's pages and the isolation the issue asks for: a funder never reaches another
funder's learner by any route, id guessing included. On the demo data OPCO Atlas funds six
learners of ACT-2026-REACT-01, France Travail three (Hugo Lefèvre co-funded by the Région), the
CPF two."""

from __future__ import annotations

import html
import posixpath
import re
import secrets
from urllib.parse import quote

import pyotp

from hub.runtime.server import build_app
from hub.web.accounts import Accounts
from hub.web.i18n import number
from hub.web.roles import Scopes
from tests.documents.conftest import HUB_EXTRA
from tests.web.conftest import ACTION, PASSWORD, Person
from tests.web.test_authz_matrix import web_routes

ATLAS = {"Camille Dubois", "Chloé N'Diaye", "Éloïse Martin-Durand", "Théo Garnier", "Inès Haddad",
         "Maximilien-Alexandre de La Tour d'Auvergne"}
FRANCE_TRAVAIL = {"Yasmine Benali", "Hugo Lefèvre", "Lucas Bernard"}
CPF = {"Manon Rousseau", "Nathan Fournier"}


def text(body: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)))


async def enrolments_by_funder(hub) -> dict[str, list[tuple[str, str, str]]]:
    """funder -> [(learner id, action, learner name)] of the enrolments it funds, from the journeys."""
    found: dict[str, list[tuple[str, str, str]]] = {}
    for report in await hub.journey_reports(action=ACTION):
        for funder in report.funders:
            found.setdefault(funder, []).append((report.learner_id, report.action_id, report.learner_name))
    return found


async def sign_in_as(site, email: str, secret: str) -> Person:
    person = Person(site)
    first = await person.post("/app/login", {"email": email, "password": PASSWORD})
    assert first.status == 303, first.body[:200]
    done = await person.post("/app/login/code", {"code": pyotp.TOTP(secret).now(), "next": "/app/"})
    assert done.status == 303 and done.headers["Location"] == "/app/", done.body[:200]
    return person


def fill(route: str, learner: str, action: str) -> str:
    """A route of the web app with its path parameters given (learner, action, anything else)."""
    def value(match: re.Match) -> str:
        name = match[1]
        return quote({"learner": learner, "action": action}.get(name, learner), safe="")
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", value, route)


async def test_the_funder_lists_only_its_enrolments_with_hours_rate_and_documents(site, people):
    funded = await enrolments_by_funder(site.hub)
    assert {name for _, _, name in funded["opco-atlas"]} == ATLAS  # the demo as this test reads it
    funder = people()
    await funder.sign_in("funder")
    page = await funder.get("/app/funder/enrolments")
    assert page.status == 200
    body = text(page.body)
    for name in ATLAS:
        assert name in body
    for name in FRANCE_TRAVAIL | CPF:
        assert name not in body, f"{name} (another funder's learner) is listed to OPCO Atlas"
    listed = set(re.findall(r'data-learner="([^"]+)"', page.body))
    assert listed == {learner for learner, _, _ in funded["opco-atlas"]}
    theo = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Théo Garnier")
    assert f"{number(theo.realised_hours, 'fr')} h / {number(theo.planned_hours, 'fr')} h" in body  # 64,53 h
    english = text((await funder.get("/app/funder/enrolments", headers={"Accept-Language": "en"})).body)
    assert "Funded enrolments" in english and "Documents issued" in english


async def test_one_enrolment_shows_its_half_days_and_its_documents_with_their_verify_page(make_site):
    site = await make_site(hub_extra=HUB_EXTRA)  # documents need the organisation's identity
    theo = next(r for r in await site.hub.journey_reports(action=ACTION) if r.learner_name == "Théo Garnier")
    funder = Person(site)
    await funder.sign_in("funder")
    path = f"/app/funder/enrolments/{theo.learner_id}/{ACTION}"
    before = await funder.get(path)
    assert before.status == 200
    assert "Aucun document émis pour l'instant." in text(before.body)
    statuses = re.findall(r'data-status="([^"]+)"', before.body)
    assert statuses == [r.status for r in theo.half_days]
    assert "signed_without_trainer" in statuses  # 7 October morning: no co-signature

    from hub.documents.issue import issue_documents, revoke_document
    from hub.documents.keys import KeyRing
    from hub.documents.services import services_of
    from hub.documents.settings import keys_dir
    KeyRing(keys_dir(site.hub.config)).generate()
    # a certificate issued for Théo appears, with its verify link
    run = await issue_documents(services_of(site.hub), learner_id=theo.learner_id, allow_incomplete=True,
                                doc_type="certificat_realisation")
    issued = [d for d in run.issued if d.learner_id == theo.learner_id]
    assert issued, run
    after = await funder.get(path)
    assert f'href="/verify/{issued[0].id}"' in after.body
    assert "Certificat de réalisation" in text(after.body)
    listing = await funder.get("/app/funder/enrolments")
    row = re.search(rf'data-learner="{theo.learner_id}".*?</tr>', listing.body, re.S)
    assert row and re.search(r"<td>1</td>\s*</tr>", row[0])
    await revoke_document(services_of(site.hub), issued[0].id, "erreur de date", actor="test")  # revoked: gone
    assert f'/verify/{issued[0].id}' not in (await funder.get(path)).body
    await funder.close()


async def test_a_funder_never_reaches_another_funders_learner_by_any_route(site, people):
    """Signed in as France Travail: every GET route of /app/, its path parameters filled with OPCO
    Atlas's and the CPF's learner and action ids and with guessed ones (the same ids as query
    parameters too): a route with path parameters answers 403 or 404, no route shows their
    learners or answers a server error; its own enrolments open; no list names the others."""
    made = await Accounts(site.hub.store, site.hub.append).add(
        "ft@demo.example", "funder", Scopes(funders=("france-travail",)), password=PASSWORD, name="France Travail",
        with_totp=True, actor="test")
    france_travail = await sign_in_as(site, "ft@demo.example", made[1].totp_secret)
    try:
        funded = await enrolments_by_funder(site.hub)
        others = [e for f, found in funded.items() if f not in ("france-travail", "region-cvl") for e in found
                  if e[2] not in FRANCE_TRAVAIL]
        assert {name for _, _, name in others} == ATLAS | CPF
        own = funded["france-travail"]
        routes = [route for (method, route) in web_routes(build_app(site.hub)) if method == "GET"
                  and not route.startswith("/app/static/")]
        assert "/app/funder/enrolments/{learner}/{action}" in routes
        guesses = [(learner, action) for learner, action, _ in others]
        guesses += [("01" + secrets.token_hex(12).upper(), ACTION), (own[0][0], "ACT-2026-OTHER-99"),
                    ("email:camille.dubois@example.fr", ACTION), ("..", ACTION), ("%00", ACTION),
                    (others[0][0], "*"), ("*", ACTION), ("' OR 1=1 --", ACTION)]
        wrong = []
        for route in routes:
            for learner, action in guesses:
                # path parameters filled, and the same ids offered as query parameters to every route
                path = fill(route, learner, action) + f"?learner={quote(learner)}&action={quote(action)}&date=2026-10-07"
                page = await france_travail.get(path)
                # ("..": the client resolves /app/audit/.. to /app/, another page: only the name check applies)
                if "{" in route and page.status not in (403, 404) and \
                        posixpath.normpath(path.split("?")[0]).startswith(route.split("{")[0]):
                    wrong.append(f"{path}: {page.status}")
                if page.status >= 500:
                    wrong.append(f"{path}: {page.status} (a server error)")
                if any(name in text(page.body) for name in ATLAS | CPF):
                    wrong.append(f"{path}: shows another funder's learner")
        assert not wrong, "\n".join(wrong)
        for learner, action, _name in own:  # its own enrolments open
            assert (await france_travail.get(fill("/app/funder/enrolments/{learner}/{action}", learner, action))).status == 200
        for path in ("/app/", "/app/funder/enrolments", "/app/funder/exports"):
            body = text((await france_travail.get(path)).body)
            leaked = [name for name in ATLAS | CPF if name in body]
            assert not leaked, f"{path} shows {leaked}"
        listing = text((await france_travail.get("/app/funder/enrolments")).body)
        assert all(name in listing for name in FRANCE_TRAVAIL)
    finally:
        await france_travail.close()


EXPORTS = """
exports:
  opco-atlas:
    kind: opco
    profile: atlas
    funders: [opco-atlas]
    outputs: [attendance_csv]
  france-travail:
    kind: france_travail
    funders: [france-travail]
  atlas-and-cpf:
    kind: opco
    profile: atlas
    funders: [opco-atlas, cpf]
"""


async def test_the_funder_sees_the_versions_of_its_own_exports_only(make_site):
    site = await make_site(EXPORTS)
    from hub.formats import Period
    october = Period.parse("2026-10")
    first = await site.hub.export("opco-atlas", october, allow_incomplete=True)  # the demo data lacks the dossiers
    second = await site.hub.export("opco-atlas", october, allow_incomplete=True, force=True)
    assert (first.version, second.version) == (1, 2) and first.missing
    assert (await site.hub.export("atlas-and-cpf", october, allow_incomplete=True)).version == 1
    funder = Person(site)
    try:
        await funder.sign_in("funder")
        page = await funder.get("/app/funder/exports")
        assert page.status == 200
        assert re.findall(r'data-export="([^"]+)"', page.body) == ["opco-atlas"]  # not France Travail's, not the shared one
        rows = re.findall(r'data-period="([^"]+)" data-version="(\d+)">(.*?)</tr>', page.body, re.S)
        assert [(p, v) for p, v, _ in rows] == [("2026-10", "2"), ("2026-10", "1")]
        assert "en vigueur" in text(rows[0][2]) and "remplacée" in text(rows[1][2])
        assert all(name in rows[1][2] for name in first.files if name != "manifest.json")
        assert "incomplète (forcée)" in text(rows[0][2])
        missing = first.missing[0]
        assert f"{missing.learner} : {missing.field}" in text(rows[1][2])
        assert not any(name in text(page.body) for name in CPF)  # the shared export names the CPF's learners
        # its files download, each download recorded; any other export's, or a file no manifest lists, is 404
        csv = next(name for name in second.files if name.endswith(".csv"))
        link = f"/app/funder/exports/opco-atlas/2026-10/v2/{csv}"
        assert f'href="{link}"' in page.body
        download = await funder.get(link)
        assert download.status == 200 and download.body == (second.folder / csv).read_bytes().decode()
        recorded = await site.hub.store.call(lambda: list(site.hub.store.iter_events(types=["admin.action"])))
        assert [(e["data"]["actor"], e["data"]["command"], e["data"]["target"]) for e in recorded][-1] == (
            "atlas@demo.example", "export download", f"opco-atlas/2026-10/v2/{csv}")
        for path in (f"/app/funder/exports/atlas-and-cpf/2026-10/v1/{csv}", f"/app/funder/exports/france-travail/2026-10/v1/{csv}",
                     "/app/funder/exports/opco-atlas/2026-10/v2/hub.yaml", "/app/funder/exports/opco-atlas/2026-10/v2/..%2F..%2Fhub.yaml",
                     f"/app/funder/exports/opco-atlas/2026-10/v9/{csv}", f"/app/manager/exports/opco-atlas/2026-10/v2/{csv}"):
            assert (await funder.get(path)).status in (403, 404), path
    finally:
        await funder.close()
