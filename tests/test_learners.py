"""One learner across systems: linking, conflicts never merged silently, resolutions in the ledger."""

import json
import subprocess
import sys

from hub.learners import LearnerResolver, key_kind, keys_for, legacy_key, mapping_key, site_segment
from tests.conftest import event

CONFIG = """
connectors:
  out: {kind: ndjson_out, directory: out}
  atlas: {kind: ndjson_out, directory: atlas}
routes:
  - {name: atlas, from: "*", when: {funders: [opco-atlas]}, to: atlas}
"""


def person(ref, email=None, name=None, **ids):
    out = {"ref": ref}
    if email:
        out["email"] = email
    if name:
        out["name"] = name
    if ids:
        out["ids"] = ids
    return out


def ev(i, source, learner, type_="lms.progress", **kw):
    return {**event(i, type_, **kw), "source": source, "learner": learner}


async def learner_of(hub, event_id):
    row = await hub.store.call(lambda: hub.store.conn.execute("SELECT learner_id FROM events WHERE id = ?", (event_id,)).fetchone())
    return row[0]


def test_keys_follow_match_on():
    src, linking, other = keys_for("moodle", person("17", " Camille.Dubois@Example.FR ", nir="185"), {"email"})
    assert src == "src:moodle:17" and linking == ["email:camille.dubois@example.fr"] and other == ["id:nir:185"]
    assert keys_for("crm", person("5", nir="185"), {"nir"})[1] == ["id:nir:185"]
    assert mapping_key("email", "A@B.fr") == "email:a@b.fr" and mapping_key("moodle", "17") == "src:moodle:17"
    assert mapping_key("id:nir", "185") == "id:nir:185"


def test_a_site_scoped_ref_is_keyed_with_its_site():
    """Ids unique only within a site or tenant (an xAPI account on its homePage) say so with `site`."""
    src, _, _ = keys_for("lrs", {"ref": "42", "site": "https://Moodle.example.fr:8443/lms/"}, {"email"})
    assert src == "src:lrs/moodle.example.fr%3A8443/lms:42" and key_kind(src) == "src:lrs/moodle.example.fr%3A8443/lms"
    assert legacy_key(src) == "src:lrs:42" and legacy_key("src:moodle:17") is None
    assert site_segment("tenant-7") == "tenant-7" and site_segment("http://example.org/") == "example.org"
    assert mapping_key("lrs/https://autre-lms.example.com", "42") == "src:lrs/autre-lms.example.com:42"


async def test_same_email_in_two_sources_is_one_learner(make_hub):
    hub = await make_hub(CONFIG)
    r = await hub.append([
        ev(1, "moodle", person("17", "camille@example.fr", "Camille Dubois")),
        ev(2, "crm", person("c-501", "CAMILLE@example.fr")),
        ev(3, "stripe", person("cus_9", "camille@example.fr", stripe_customer="cus_9")),
    ], source=None)
    ids = {await learner_of(hub, i) for i in r.ids}
    assert len(ids) == 1
    learner = await hub.store.call(hub.store.learner, ids.pop())
    assert set(learner["keys"]) == {"src:moodle:17", "src:crm:c-501", "src:stripe:cus_9", "email:camille@example.fr"}
    assert await hub.store.call(hub.store.learner_conflicts) == []


async def test_two_accounts_sharing_an_email_are_a_conflict_not_a_merge(make_hub):
    hub = await make_hub(CONFIG)
    a = (await hub.append([ev(1, "moodle", person("17", "family@example.fr", "Léa"))], source=None)).ids[0]
    b = (await hub.append([ev(2, "moodle", person("18", "family@example.fr", "Hugo"))], source=None)).ids[0]
    la, lb = await learner_of(hub, a), await learner_of(hub, b)
    assert la != lb
    (conflict,) = await hub.store.call(hub.store.learner_conflicts)
    assert set(conflict["learners"]) == {la, lb} and "email:family@example.fr" in conflict["reason"]
    # a third event of the second account is still attributed to it, and the conflict is not repeated
    c = (await hub.append([ev(3, "moodle", person("18", "family@example.fr"))], source=None)).ids[0]
    assert await learner_of(hub, c) == lb
    assert len(await hub.store.call(hub.store.learner_conflicts)) == 1


async def test_conflicting_links_from_two_sources(make_hub):
    hub = await make_hub(CONFIG)
    await hub.append([ev(1, "moodle", person("17", "a@example.fr")),
                                     ev(2, "crm", person("c1", "b@example.fr"))], source=None)
    # the CRM now says c1's e-mail is a@… : it designates two learners
    r = await hub.append([ev(3, "crm", person("c1", "a@example.fr"))], source=None)
    (conflict,) = await hub.store.call(hub.store.learner_conflicts)
    crm_learner = await learner_of(hub, r.ids[0])
    assert conflict["learners"][0] == crm_learner and len(conflict["learners"]) == 2


async def test_merge_resolution_moves_keys_and_routes_by_merged_funding(make_hub):
    hub = await make_hub(CONFIG)
    # funding recorded in the CRM for one account, LMS traces from another account of the same person
    await hub.append([ev(1, "crm", person("c1", "x@example.fr"), "funding.approved",
                                        data={"funder": "opco-atlas"})], source=None)
    lms = (await hub.append([ev(2, "moodle", person("42", "x.perso@example.fr"))], source=None)).ids[0]
    counts = await hub.store.call(hub.store.outbox_counts)
    assert ("atlas", "pending") in counts and counts[("atlas", "pending")] == 1  # only the funding event itself
    # an admin links them with an explicit mapping (same person, two e-mails)
    changes = await hub.store.call(hub.store.apply_learner_mapping,
                                   {"L-0042": ["email:x@example.fr", "src:moodle:42"]}, at=0)
    assert any("merged" in c for c in changes)
    funded = await learner_of(hub, (await hub.append(
        [ev(3, "moodle", person("42", "x.perso@example.fr"))], source=None)).ids[0])
    assert funded == await hub.store.call(hub.store.canonical_learner, await learner_of(hub, lms))
    counts = await hub.store.call(hub.store.outbox_counts)
    assert counts[("atlas", "pending")] == 2


async def test_keep_apart_silences_the_conflict(make_hub):
    hub = await make_hub(CONFIG)
    await hub.append([ev(1, "moodle", person("17", "f@example.fr")), ], source=None)
    await hub.append([ev(2, "moodle", person("18", "f@example.fr"))], source=None)
    (conflict,) = await hub.store.call(hub.store.learner_conflicts)
    result = await hub.store.call(hub.store.resolve_learner_conflict, conflict["id"], merge_into=None, at=1)
    assert result["resolution"] == "kept apart"
    await hub.append([ev(3, "moodle", person("18", "f@example.fr"))], source=None)
    assert await hub.store.call(hub.store.learner_conflicts) == []


def test_resolver_is_pure_and_batch_aware():
    resolver = LearnerResolver(["email"])
    res = resolver.resolve(
        [("e1", "m", person("1", "a@x.fr")), ("e2", "c", person("9", "a@x.fr")), ("e3", "m", person("2", "a@x.fr"))],
        lookup=lambda keys: {}, learner_kinds=lambda ids: {},
    )
    assert res.learner_ids[0] == res.learner_ids[1] != res.learner_ids[2]
    assert len(res.new_learners) == 2 and len(res.conflicts) == 1


def test_cli_conflicts_resolve_and_show(tmp_path):
    def parcours(*args):
        return subprocess.run([sys.executable, "-m", "hub.cli", *args, "--config", "hub.yaml"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=60)

    (tmp_path / "inbox").mkdir()
    lines = [ev(1, "x", person("17", "twin@example.fr", "Inès")), ev(2, "x", person("18", "twin@example.fr", "Ines H."))]
    (tmp_path / "inbox" / "a.ndjson").write_text("\n".join(json.dumps(l) for l in lines) + "\n")
    (tmp_path / "map.csv").write_text("learner,source,value\nL-1,inbox,17\nL-1,id:nir,2850775123456\n")
    (tmp_path / "hub.yaml").write_text(
        "hub: {data_dir: var, store: {url: 'sqlite:///var/hub.db'}, learners: {mapping_file: map.csv}}\n"
        "connectors:\n  inbox: {kind: file_drop, path: inbox, settle_seconds: 0}\n"
    )
    assert parcours("sync", "inbox").returncode == 0
    listing = json.loads(parcours("learners", "conflicts", "--json").stdout)
    (conflict,) = listing
    names = {l["name"] for l in conflict["learners"]}
    assert "L-1" in names  # the mapping file created the learner of inbox:17
    keep = conflict["learners"][0]["id"]
    out = parcours("learners", "resolve", str(conflict["id"]), "--merge-into", keep, "--reason", "same person")
    assert out.returncode == 0, out.stderr
    assert "merged into" in out.stdout
    shown = json.loads(parcours("learners", "show", "src:inbox:18", "--json").stdout)
    assert shown["id"] == keep and "id:nir:2850775123456" in shown["keys"] and shown["merged"]
    assert parcours("learners", "resolve", str(conflict["id"]), "--keep-apart").returncode == 2
    (tmp_path / "map.csv").write_text("learner,source\nL-1,inbox\n")
    bad = parcours("learners", "conflicts")
    assert bad.returncode == 2 and "map.csv:1: expected the columns learner,source,value" in bad.stderr
