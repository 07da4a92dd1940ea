import json
import subprocess
import sys
from pathlib import Path

import pytest

from hub.config import json_schema, parse_config
from hub.errors import ConfigError
from hub.plugins import load_plugins

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def classes():
    return load_plugins(env={}).connector_classes()


def problems(text, classes, env=None, **kw):
    with pytest.raises(ConfigError) as err:
        parse_config(text, classes, filename="hub.yaml", env=env or {}, **kw)
    return err.value.problems


def test_minimal_config_is_valid(classes):
    cfg = parse_config("", classes, env={})
    assert cfg.hub.timezone == "Europe/Paris" and cfg.connectors == {} and cfg.model.routes == []


def test_malformed_yaml_names_the_line(classes):
    (msg,) = problems("hub:\n  name: ok\n  bad: [unclosed\n", classes)
    assert msg.startswith("hub.yaml:") and "invalid YAML" in msg


def test_unknown_key_names_file_line_and_path(classes):
    text = "hub:\n  name: x\n  http:\n    port: 8080\n    colour: blue\n"
    assert problems(text, classes) == ["hub.yaml:5: hub.http.colour: unknown key"]


def test_invalid_value_in_connector_names_its_line(classes):
    text = (
        "connectors:\n"
        "  out:\n"
        "    kind: webhook_out\n"
        "    url: not a url\n"
        "    secret: ${env:HOOK_SECRET}\n"
    )
    (msg,) = problems(text, classes, env={"HOOK_SECRET": "s3cr3t-value"})
    assert msg.startswith("hub.yaml:4: connectors.out.url: ")
    assert "s3cr3t-value" not in msg


def test_missing_env_variable(classes):
    text = "connectors:\n  out:\n    kind: webhook_out\n    url: https://x.example\n    secret: ${env:NOPE}\n"
    assert problems(text, classes) == ["hub.yaml:5: connectors.out.secret: environment variable NOPE is not set"]


def test_secret_written_in_clear_is_refused(classes):
    text = "connectors:\n  out:\n    kind: webhook_out\n    url: https://x.example\n    secret: plain-text-secret\n"
    (msg,) = problems(text, classes)
    assert msg.startswith("hub.yaml:5: connectors.out.secret: secrets must come from")
    assert "plain-text-secret" not in msg


def test_file_secret_and_env_default(classes, tmp_path):
    (tmp_path / "hook.key").write_text("from-a-file\n")
    text = (
        "hub:\n  http:\n    port: ${env:PORT:-9090}\n"
        "connectors:\n  out:\n    kind: webhook_out\n    url: https://x.example\n    secret: ${file:hook.key}\n"
    )
    cfg = parse_config(text, classes, env={}, base_dir=tmp_path)
    assert cfg.hub.http.port == 9090
    assert cfg.connectors["out"].secret.get_secret_value() == "from-a-file"
    (msg,) = problems(text.replace("hook.key", "missing.key"), classes, base_dir=tmp_path)
    assert msg.startswith("hub.yaml:8: connectors.out.secret: cannot read secret file missing.key")


def test_unknown_kind_lists_known_kinds(classes):
    (msg,) = problems("connectors:\n  lms:\n    kind: moodel\n", classes)
    assert msg.startswith("hub.yaml:3: connectors.lms.kind: unknown connector kind 'moodel'")
    assert "file_drop" in msg and "ndjson_out" in msg


def test_route_to_undefined_or_non_sink_connector(classes):
    text = (
        "connectors:\n"
        "  inbox: {kind: file_drop, path: inbox}\n"
        "routes:\n"
        "  - name: r1\n"
        "    from: [inbox, ghost]\n"
        "    to: [inbox, nowhere]\n"
    )
    msgs = problems(text, classes)
    assert "hub.yaml:5: routes[0].from: route 'r1' names connector 'ghost', which is not defined" in msgs
    assert "hub.yaml:6: routes[0].to: connector 'inbox' (kind file_drop) is not an event sink" in msgs
    assert "hub.yaml:6: routes[0].to: route 'r1' names connector 'nowhere', which is not defined" in msgs


def test_duplicate_keys_and_route_names(classes):
    msgs = problems("hub:\n  name: a\n  name: b\n", classes)
    assert msgs == ["hub.yaml:3: hub.name: duplicate key"]
    text = "connectors:\n  a: {kind: ndjson_out, directory: out}\nroutes:\n  - {name: r, from: '*', to: a}\n  - {name: r, from: '*', to: a}\n"
    assert problems(text, classes) == ["hub.yaml:5: routes[1].name: another route is named 'r' (routes[0], line 4)"]


def test_unknown_key_suggests_the_closest_one(classes):
    assert problems("hub:\n  http:\n    prot: 8080\n", classes) == [
        "hub.yaml:3: hub.http.prot: unknown key (did you mean 'port'?)"]
    text = "connectors:\n  out:\n    kind: ndjson_out\n    directory: out\n    prefx: a\n"
    assert problems(text, classes) == ["hub.yaml:5: connectors.out.prefx: unknown key (did you mean 'prefix'?)"]
    text = "actions:\n  a1:\n    title: T\n    start: 2026-01-05\n    end: 2026-01-09\n    patern: {}\n"
    assert problems(text, classes) == ["hub.yaml:6: actions.a1.patern: unknown key (did you mean 'pattern'?)"]
    text = "routes:\n  - {name: r, from: '*', to: a, whn: {}}\nconnectors:\n  a: {kind: ndjson_out, directory: o}\n"
    assert problems(text, classes) == ["hub.yaml:2: routes[0].whn: unknown key (did you mean 'when'?)"]
    assert problems("hub:\n  zzz: 1\n", classes) == ["hub.yaml:2: hub.zzz: unknown key"]


def test_route_type_glob_matching_no_event_type_is_a_warning_of_check(tmp_path):
    (tmp_path / "hub.yaml").write_text(
        "connectors:\n  out: {kind: ndjson_out, directory: out}\nroutes:\n  - name: r1\n    from: '*'\n"
        "    when:\n      types: [lms.sesion.*, lms.*]\n    to: out\n")
    run = subprocess.run([sys.executable, "-m", "hub.cli", "check", "--config", "hub.yaml"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stderr.splitlines() == [
        "warning: hub.yaml:7: routes[0].when.types: route 'r1': 'lms.sesion.*' matches no known event type "
        "(did you mean 'lms.session'?) (`parcours check --json` lists them)"]
    run = subprocess.run([sys.executable, "-m", "hub.cli", "check", "--config", "hub.yaml", "--json"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=60)
    report = json.loads(run.stdout)
    assert len(report["warnings"]) == 1 and "lms.session" in report["event_types"]


def test_bad_schedule_and_timezone(classes):
    text = "hub:\n  timezone: Mars/Olympus\nconnectors:\n  inbox:\n    kind: file_drop\n    path: x\n    schedule: {cron: '61 * * * *'}\n"
    msgs = problems(text, classes)
    assert any(m.startswith("hub.yaml:2: hub.timezone:") and "unknown time zone" in m for m in msgs)
    text = "connectors:\n  inbox:\n    kind: file_drop\n    path: x\n    schedule: {every: 5 minutes}\n"
    (msg,) = problems(text, classes)
    assert msg.startswith("hub.yaml:5: connectors.inbox.schedule.every:") and "invalid duration" in msg


def test_schedule_on_a_sink_is_refused(classes):
    text = "connectors:\n  out:\n    kind: ndjson_out\n    directory: out\n    schedule: {every: 5m}\n"
    (msg,) = problems(text, classes)
    assert msg == "hub.yaml:5: connectors.out.schedule: kind 'ndjson_out' is not a pull source"


def test_reserved_connector_names(classes):
    (msg,) = problems("connectors:\n  api: {kind: ndjson_out, directory: x}\n", classes)
    assert "reserved" in msg


def test_schema_is_generated_from_models_and_committed(classes):
    schema = json_schema(classes, load_plugins(env={}).funder_format_classes())
    kinds = {v["$ref"].rsplit("_", 1)[-1] for v in schema["properties"]["connectors"]["additionalProperties"]["oneOf"]}
    assert {"file_drop", "ndjson_out", "webhook_out"} <= {k.replace("drop", "drop") for k in kinds} | {
        d.removeprefix("connector_") for d in schema["$defs"] if d.startswith("connector_")}
    committed = json.loads((ROOT / "config" / "schema.json").read_text())
    assert committed == schema, "config/schema.json is stale: run `parcours config-schema -o config/schema.json`"


def test_demo_and_starter_configs_are_valid(classes, monkeypatch, tmp_path):
    monkeypatch.chdir(ROOT)
    from hub.config import load_config

    host = load_plugins(env={})
    cfg = load_config(ROOT / "config" / "demo.yaml", classes, env={}, format_classes=host.funder_format_classes())
    assert "demo-files" in cfg.pull_sources()
    assert sorted({e.kind for e in cfg.exports.values()}) == ["bpf", "cpf", "france_travail", "opco", "region"]
    starter = (ROOT / "hub" / "starter.yaml").read_text()
    (tmp_path / "config" / "secrets").mkdir(parents=True)
    (tmp_path / "config" / "secrets" / "admin-token").write_text("x" * 20)  # as `parcours init` writes it
    cfg = parse_config(starter, classes, env={}, base_dir=tmp_path)
    assert cfg.connectors["imports"].kind == "file_drop"


def test_check_command_exit_codes(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("hub:\n  colour: blue\n")
    run = subprocess.run([sys.executable, "-m", "hub.cli", "check", "--config", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2
    assert f"{bad}:2: hub.colour: unknown key" in run.stderr
    good = tmp_path / "good.yaml"
    good.write_text("connectors:\n  out: {kind: ndjson_out, directory: out}\nroutes:\n  - {name: all, from: '*', to: out}\n")
    run = subprocess.run([sys.executable, "-m", "hub.cli", "check", "--json", "--config", str(good)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    data = json.loads(run.stdout)
    assert data["connectors"][0]["name"] == "out" and data["routes"][0]["to"] == ["out"]
    assert data["exports"] == []
    demo = subprocess.run([sys.executable, "-m", "hub.cli", "check", "--config", "config/demo.yaml"], cwd=ROOT,
                          capture_output=True, text=True)
    assert demo.returncode == 0, demo.stderr
    assert "  bpf                  bpf            cron 0 6 15 1 *, period 2026" in demo.stdout
    assert "opco-atlas-facturation opco           by hand (parcours export); funders opco-atlas" in demo.stdout
