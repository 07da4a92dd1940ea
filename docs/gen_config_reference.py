#!/usr/bin/env python3
"""Regenerate the per-key reference tables of docs/configuration.md from the configuration models.

The tables between ``<!-- BEGIN GENERATED -->`` and ``<!-- END GENERATED -->`` are built from
the pydantic models of :mod:`hub.config` (``HubConfig`` and its sections), the fields every
connector accepts (:class:`hub.connector.ConnectorConfig`, ``Schedule``, ``DeliveryOverrides``)
and the ``Config`` model of each connector kind shipped with parcours-hub (found through
``hub.plugins.load_plugins().connector_classes()``, the same door the hub uses).

    python docs/gen_config_reference.py            rewrite docs/configuration.md
    python docs/gen_config_reference.py --check    exit 1 if docs/configuration.md is stale
                                                   (or a key has no description)
    python docs/gen_config_reference.py --stdout   print the generated section

Third-party connector kinds installed in the same environment are left out unless
``--include-third-party`` is given, so that the check does not depend on what a developer
happens to have installed. A field's description comes from its model (``Field(description=…)``);
``SUPPLEMENT`` below only fills in fields whose model has none, and ``NOTES`` adds remarks that
belong to the docs rather than to the code. A key with no description at all fails the script
(and so the docs test): the reference documents every key.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from pydantic import BaseModel, SecretStr  # noqa: E402
from pydantic.fields import FieldInfo  # noqa: E402
from pydantic_core import PydanticUndefined  # noqa: E402

from hub import config as hub_config  # noqa: E402
from hub.connector import ConnectorConfig, DeliveryOverrides, Schedule  # noqa: E402
from hub.durations import format_duration, parse_duration  # noqa: E402
from hub.formats import FunderFormatConfig  # noqa: E402

DOC = ROOT / "docs" / "configuration.md"
BEGIN = "<!-- BEGIN GENERATED -->"
END = "<!-- END GENERATED -->"
OWN_DISTRIBUTION = "parcours-hub"

# Descriptions for fields whose model gives none (keyed "Model.field"). The model wins when it has one.
SUPPLEMENT: dict[str, str] = {
    "HubSection.timezone": "IANA time zone of schedules (`every`/`cron`) and of the connectors' local dates",
    "HubSection.store": "Where the ledger, outbox, cursors and dead letters live",
    "HubSection.http": "The daemon's HTTP listener and admin API",
    "HubSection.delivery": "Default delivery policy of every sink (a sink may override some keys)",
    "HubSection.logging": "Log level and format",
    "HubSection.learners": "How one learner's records are linked across sources",
    "HubSection.ledger": "How the daemon seals new events into Merkle blocks",
    "HttpConfig.host": "Listen address of `parcours run` (`--host` overrides it)",
    "HttpConfig.port": "Listen port of `parcours run` (`--port` overrides it)",
    "HttpConfig.max_body_bytes": "Largest request body accepted (webhooks, `/api/events`); larger ones get HTTP 413",
    "HttpConfig.request_timeout": (
        "Time limit of one HTTP request served by the hub (then 503) and total time limit of the "
        "connectors' shared HTTP session; a sink's `deliver` call is given 4 × this value"
    ),
    "DeliveryConfig.batch_size": "Events handed to a sink in one `deliver` call",
    "DeliveryConfig.max_attempts": "Attempts before a delivery becomes a dead letter (the first attempt counts)",
    "DeliveryConfig.backoff_initial": "Multiplier of the random exponential backoff between attempts",
    "DeliveryConfig.backoff_max": "Longest wait between two attempts (a `Retry-After` from the peer can be longer)",
    "DeliveryConfig.pause_for": "How long a paused sink waits before it tries again (at least the peer's `Retry-After`)",
    "DeliveryConfig.poll_interval": "How often an idle sink loop looks for due deliveries (new events wake it at once)",
    "DeliveryConfig.rate_limit": (
        "Most events handed to a sink per second (`N/s`), minute (`N/min`) or hour (`N/h`), so that a backlog "
        "drains without flooding the sink; a batch then holds at most one second's worth; unset: no limit"
    ),
    "LoggingConfig.level": "Lowest level written",
    "Route.name": "Unique route name, recorded on every queued delivery",
    "Route.when": "Conditions on the event; all given conditions must hold",
    "Route.enabled": "`false` keeps the route in the file but queues nothing through it",
    "ConnectorConfig.kind": "Connector kind, as listed by `parcours connectors list`",
    "ConnectorConfig.enabled": "`false` keeps the block but the connector is not opened, pulled or delivered to",
    "Schedule.every": "Run at this interval, and once at start-up (minimum `1s`)",
    "Schedule.cron": "Five-field crontab expression (minute hour day month weekday) in `hub.timezone`",
    "DeliveryOverrides.batch_size": "Overrides `hub.delivery.batch_size` for this sink",
    "DeliveryOverrides.max_attempts": "Overrides `hub.delivery.max_attempts` for this sink",
    "DeliveryOverrides.max_age": "Overrides `hub.delivery.max_age` for this sink",
    "DeliveryOverrides.rate_limit": "Overrides `hub.delivery.rate_limit` for this sink (e.g. `20/s`)",
    "FileDropConfig.csv_delimiter": "Field separator of CSV files (one character, e.g. `;`)",
    "FileDropConfig.encoding": "Text encoding of the files (`utf-8-sig` strips a spreadsheet's byte-order mark)",
    "NdjsonOutConfig.prefix": "File name prefix: the current file is `<prefix>.ndjson`",
    "AlertsConfig.check_every": "How often the daemon evaluates the alert rules on enrolments in progress",
    "PadesConfig.field_name": "Name of the PDF signature field the PAdES signature goes in",
    "PadesConfig.reason": "Reason recorded in the PAdES signature",
}

# Keys met by the last render() without a description: the reference is then incomplete and
# both the check and the rewrite fail.
UNDOCUMENTED: list[str] = []

# Remarks appended to a field's description (keyed "Model.field").
NOTES: dict[str, str] = {
    "StoreConfig.url": "A relative SQLite path is relative to the working directory; it does not follow `data_dir`",
    "HubSection.data_dir": "Relative to the working directory",
    "HttpConfig.admin_token": "At least 16 characters; must come from `${env:…}` or `${file:…}`",
    "HttpConfig.public_url": "Not used yet by this version",
    "RouteWhen.types": "A single string is accepted",
    "RouteWhen.actions": "A single string is accepted; events without an action never match",
    "RouteWhen.funders": (
        "Matched against the `data.funder` of `funding.approved` events for the same learner and action; "
        "a single string is accepted"
    ),
    "Route.from_": "A single string is accepted; `hub` names the hub's own events",
    "Route.to": "A single string is accepted",
    "WebhookOutConfig.headers": "`Content-Type`, `Parcours-Signature` and `Parcours-Delivery` cannot be overridden",
    "FileDropConfig.path": "Relative to the working directory",
    "NdjsonOutConfig.directory": "Relative to the working directory; created on first delivery",
}


# ---------------------------------------------------------------------------- type rendering


def _strip_annotated(tp: Any) -> tuple[Any, list[Any]]:
    meta: list[Any] = []
    while typing.get_origin(tp) is typing.Annotated:
        args = typing.get_args(tp)
        tp, meta = args[0], meta + list(args[1:])
    return tp, meta


def _is_duration(tp: Any, meta: list[Any]) -> bool:
    return tp is dt.timedelta and any(getattr(m, "func", None) is parse_duration for m in meta)


def _non_none(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        optional = len(args) < len(typing.get_args(tp))
        if len(args) == 1:
            return args[0], optional
    return tp, False


def _anchor(section: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", section.lower()).strip("-")
    return "cfg-" + slug


def _md(text: str) -> str:
    """Escape Markdown/HTML specials outside `code` spans (model descriptions are plain text)."""
    parts = text.split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;").replace("*", "\\*").replace("|", "\\|")
    return "`".join(parts)


def render_type(tp: Any, meta: list[Any], links: dict[type, str]) -> str:
    tp, _optional = _non_none(tp)
    tp, more = _strip_annotated(tp)
    meta = meta + more
    if _is_duration(tp, meta):
        return "duration"
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return " \\| ".join(f"`{v}`" for v in typing.get_args(tp))
    if origin in (list, tuple, set):
        (item,) = typing.get_args(tp)[:1] or (Any,)
        inner = render_type(item, [], links)
        return f"list of {inner}s" if re.fullmatch(r"[a-z]+", inner) else f"list of: {inner}"
    if origin is dict:
        key, value = typing.get_args(tp)
        return f"mapping of {render_type(key, [], links)} to {render_type(value, [], links)}"
    if tp is SecretStr:
        return "secret string"
    if tp is str:
        return "string"
    if tp is int:
        return "integer"
    if tp is float:
        return "number"
    if tp is bool:
        return "boolean"
    if tp is Any:
        return "any"
    if isinstance(tp, type) and tp.__name__ == "Decimal":
        return "decimal"
    if tp is dt.date:
        return "date (YYYY-MM-DD)"
    if tp is dt.time:
        return "time (HH:MM)"
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        target = links.get(tp)
        return f"mapping ([`{target}`](#{_anchor(target)}))" if target else "mapping"
    if isinstance(tp, type) and tp.__name__ in ("AnyHttpUrl", "HttpUrl", "AnyUrl"):
        return "URL (http or https)"
    return getattr(tp, "__name__", str(tp))


def render_constraints(info: FieldInfo) -> str:
    out = []
    for m in info.metadata:
        name = type(m).__name__
        if name == "Ge":
            out.append(f"≥ {m.ge}")
        elif name == "Gt":
            out.append(f"> {m.gt}")
        elif name == "Le":
            out.append(f"≤ {m.le}")
        elif name == "Lt":
            out.append(f"< {m.lt}")
        elif name == "MinLen":
            out.append(f"min length {m.min_length}")
        elif name == "MaxLen":
            out.append(f"max length {m.max_length}")
        elif getattr(m, "pattern", None):
            out.append(f"pattern `{m.pattern}`")
    return ", ".join(out)


def _value(value: Any) -> str:
    if isinstance(value, dt.timedelta):
        return f"`{format_duration(value)}`"
    if isinstance(value, bool):
        return "`true`" if value else "`false`"
    if isinstance(value, (int, float)):
        return f"`{value:g}`" if isinstance(value, float) else f"`{value}`"
    if isinstance(value, str):
        return f"`{value}`"
    if isinstance(value, (list, dict)):
        from pydantic_core import to_jsonable_python

        def plain(v: Any) -> Any:
            if isinstance(v, dt.timedelta):
                return format_duration(v)
            if isinstance(v, BaseModel):
                return v.model_dump(mode="json", exclude_defaults=True)
            return to_jsonable_python(v)

        data = [plain(v) for v in value] if isinstance(value, list) else {k: plain(v) for k, v in value.items()}
        return f"`{json.dumps(data, ensure_ascii=False)}`".replace("|", "\\|")
    if isinstance(value, BaseModel):
        return "(see its table)"
    return f"`{value}`"


def render_default(info: FieldInfo) -> str:
    if info.is_required():
        return "**required**"
    if info.default_factory is not None:
        return _value(info.default_factory())
    if info.default is None or info.default is PydanticUndefined:
        return "—"
    return _value(info.default)


def describe(model: type[BaseModel], name: str, info: FieldInfo) -> str:
    key = f"{model.__name__}.{name}"
    text = info.description or SUPPLEMENT.get(key)
    if not text:
        for base in model.__mro__[1:]:  # inherited field: the base model's supplement applies
            text = SUPPLEMENT.get(f"{getattr(base, '__name__', '')}.{name}")
            if text:
                break
    if not text:
        UNDOCUMENTED.append(key)
        text = "*(undocumented)*"
    note = NOTES.get(key)
    text = text.rstrip(".")
    if note:
        text += f". {note}"
    return _md(text + ".")


def table(model: type[BaseModel], links: dict[type, str], *, skip: set[str] = frozenset()) -> list[str]:
    lines = ["| Key | Type | Default | Meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if name in skip:
            continue
        key = info.alias or name
        tp = render_type(info.annotation, list(info.metadata), links)
        constraints = render_constraints(info)
        if constraints:
            tp += f" ({constraints})"
        lines.append(f"| `{key}` | {tp} | {render_default(info)} | {describe(model, name, info)} |")
    return lines


# ---------------------------------------------------------------------------- document


def connector_classes(include_third_party: bool) -> dict[str, type]:
    from hub.plugins import load_plugins

    host = load_plugins(env={})  # ignore PARCOURS_LOAD_PLUGINS / PARCOURS_DISABLED_PLUGINS
    out = {}
    for kind, cls in host.connector_classes().items():
        origin = host.connector_origin(kind)
        info = next((i for i in host.infos if i.name == origin), None)
        if include_third_party or (info is not None and info.distribution == OWN_DISTRIBUTION):
            out[kind] = cls
    return out


INTROS: dict[str, str] = {
    "hub": "The organisation and the hub's own settings.",
    "hub.delivery": "Defaults for every sink; `connectors.<name>.delivery` overrides `batch_size`, `max_attempts`, "
                    "`max_age` and `rate_limit` per sink.",
    "connectors.<name>": "Keys every connector accepts, whatever its kind.",
    "connectors.<name>.schedule": "Pull sources only. Give exactly one of `every` or `cron`; without a schedule a "
                                  "source is pulled only by `parcours run --once` and `parcours sync`.",
    "connectors.<name>.delivery": "Sinks only. Unset keys fall back to `hub.delivery`.",
    "routes[]": "Each item of the `routes` list.",
    "exports.<name>": "Keys every funder export accepts, whatever its kind (`opco`, `france_travail`, `region`, "
                      "`cpf`, `bpf`); each kind's own keys are on its page in docs/formats/. With a `schedule`, the "
                      "daemon and `parcours run --once` produce each period once.",
}


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _nested_models(model: type[BaseModel]) -> list[tuple[str, type[BaseModel]]]:
    """(path suffix, model) of the fields of ``model`` holding models: ``key``, ``key[]``, ``key.<id>``."""
    out = []
    for name, info in model.model_fields.items():
        key = info.alias or name
        tp, _ = _non_none(info.annotation)
        tp, _ = _strip_annotated(tp)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if _is_model(tp):
            out.append((key, tp))
        elif origin in (list, tuple) and args and _is_model(_strip_annotated(args[0])[0]):
            out.append((f"{key}[]", _strip_annotated(args[0])[0]))
        elif origin is dict and len(args) == 2 and _is_model(_strip_annotated(args[1])[0]):
            out.append((f"{key}.<id>", _strip_annotated(args[1])[0]))
    return out


def _walk(title: str, model: type[BaseModel], skip: set[str] = frozenset(), *, seen: set | None = None,
          suffix: str = "") -> list[tuple[str, type[BaseModel], set[str]]]:
    """``model`` and, depth first, every model nested in it, with their YAML paths.

    A model met a second time (``Slot`` for both half-days, ``RealisationRules`` in the hub and
    in an action) is documented once; the later fields link to the first table.
    """
    seen = set() if seen is None else seen
    seen.add(model)
    out = [(title + suffix, model, set(skip))]
    for key, nested in _nested_models(model):
        if key in skip or nested in seen:
            continue
        out.extend(_walk(f"{title}.{key}", nested, seen=seen, suffix=suffix))
    return out


def render(include_third_party: bool = False) -> str:
    UNDOCUMENTED.clear()
    sections: list[tuple[str, type[BaseModel], set[str]]] = []
    seen: set = set()
    sections += _walk("hub", hub_config.HubSection, seen=seen)
    sections += _walk("connectors.<name>", ConnectorConfig, seen=seen)
    sections += _walk("routes[]", hub_config.Route, seen=seen)
    for name, info in hub_config.HubConfig.model_fields.items():  # other top-level keys, e.g. actions
        if name in ("hub", "connectors", "routes"):
            continue
        key = info.alias or name
        if key == "exports":  # its blocks are validated by each format's Config, on FunderFormatConfig
            sections += _walk("exports.<name>", FunderFormatConfig, seen=seen)
            continue
        tp, _ = _non_none(info.annotation)
        origin, args = typing.get_origin(tp), typing.get_args(tp)
        if origin is dict and args and isinstance(args[1], type) and issubclass(args[1], BaseModel):
            sections += _walk(f"{key}.<id>", args[1], seen=seen)
        elif origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            sections += _walk(f"{key}[]", args[0], seen=seen)
        elif isinstance(tp, type) and issubclass(tp, BaseModel):
            sections += _walk(key, tp, seen=seen)
        else:
            UNDOCUMENTED.append(f"HubConfig.{name} (a top-level key the generator does not know how to walk)")
    top_level = {model for _, model, _ in sections}
    kinds: list[tuple[str, type, list[tuple[str, type[BaseModel], set[str]]]]] = []
    for kind, cls in connector_classes(include_third_party).items():
        common = set(ConnectorConfig.model_fields)
        walked = _walk("connectors.<name>", cls.Config, skip=common, seen=set(top_level), suffix=f" (kind: {kind})")
        walked[0] = (f"kind: {kind}", walked[0][1], walked[0][2])
        kinds.append((kind, cls, walked))
    links: dict[type, str] = {}
    for title, model, _ in sections:
        links.setdefault(model, title)
    for _, _, walked in kinds:
        for title, model, _ in walked[1:]:
            if model not in top_level:
                links.setdefault(model, title)

    out = [BEGIN, "", "<!-- Generated by docs/gen_config_reference.py from the configuration models: do not edit by hand. -->", ""]

    def emit(title: str, model: type[BaseModel], skip: set[str], intro: str = "") -> None:
        out.append(f'<a id="{_anchor(title)}"></a>')
        out.append("")
        out.append(f"### `{title}`")
        out.append("")
        intro = intro or INTROS.get(title, "")
        if intro:
            out.append(intro)
            out.append("")
        out.extend(table(model, links, skip=skip))
        out.append("")

    for title, model, skip in sections:
        emit(title, model, skip)
    for kind, cls, walked in kinds:
        summary = (cls.__doc__ or "").strip().split("\n")[0]
        caps = ", ".join(cls.capabilities())
        intro = (f"{summary} Capabilities: {caps}. Also accepts the keys of "
                 f"[`connectors.<name>`](#{_anchor('connectors.<name>')}).")
        title, model, skip = walked[0]
        emit(title, model, skip, intro)
        for title, model, skip in walked[1:]:
            if model in top_level:
                continue  # e.g. a shared model already documented above
            emit(title, model, skip)
    out.append(END)
    return "\n".join(out)


def splice(document: str, generated: str) -> str:
    start, end = document.find(BEGIN), document.find(END)
    if start < 0 or end < 0 or end < start:
        raise SystemExit(f"{DOC}: markers {BEGIN} / {END} not found")
    return document[:start] + generated + document[end + len(END):]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the file is stale, write nothing")
    parser.add_argument("--stdout", action="store_true", help="print the generated section")
    parser.add_argument("--include-third-party", action="store_true", help="also document installed third-party kinds")
    parser.add_argument("--file", type=Path, default=DOC, help="document to update (default docs/configuration.md)")
    args = parser.parse_args(argv)
    generated = render(args.include_third_party)
    if UNDOCUMENTED:
        print(f"{len(UNDOCUMENTED)} configuration key(s) have no description: give them Field(description=…) "
              "in their model (or a SUPPLEMENT entry here):", file=sys.stderr)
        for key in UNDOCUMENTED:
            print(f"  {key}", file=sys.stderr)
        return 1
    if args.stdout:
        print(generated)
        return 0
    current = args.file.read_text(encoding="utf-8")
    updated = splice(current, generated)
    if args.check:
        if updated != current:
            print(f"{args.file} is stale: run `python docs/gen_config_reference.py`", file=sys.stderr)
            return 1
        print(f"{args.file} is up to date")
        return 0
    if updated != current:
        args.file.write_text(updated, encoding="utf-8")
        print(f"updated {args.file}")
    else:
        print(f"{args.file} already up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
