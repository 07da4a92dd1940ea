"""The plugin manager: every plugin, built-in or not, comes through the ``parcours`` entry points.

Operators control loading with two environment variables (comma-separated plugin names):
``PARCOURS_LOAD_PLUGINS`` (only these) and ``PARCOURS_DISABLED_PLUGINS`` (all but these).
``PARCOURS_TRACE_PLUGINS=1`` logs every hook call.
"""

from __future__ import annotations

import importlib.metadata as md
import os
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

import pluggy

from hub import hookspecs
from hub.connector import Connector, ConnectorConfig
from hub.errors import ConfigError
from hub.events import EventTypeRegistry
from hub.formats import FunderFormat, FunderFormatConfig
from hub.journeys.proofs import DEFAULT_RULES, ProofRule

ENTRY_POINT_GROUP = "parcours"


@dataclass
class PluginInfo:
    name: str
    distribution: str | None
    version: str | None
    hooks: list[str]
    status: str = "loaded"  # loaded | blocked


@dataclass
class PluginHost:
    """Typed facade over the pluggy manager: the core never calls ``pm.hook`` directly."""

    pm: pluggy.PluginManager
    infos: list[PluginInfo] = field(default_factory=list)
    _connectors: dict[str, type[Connector]] | None = None
    _connector_origin: dict[str, str] = field(default_factory=dict)
    _event_types: EventTypeRegistry | None = None
    _formats: dict[str, type] | None = None

    def connector_classes(self) -> dict[str, type[Connector]]:
        if self._connectors is None:
            found: dict[str, type[Connector]] = {}
            for impl, classes in self._call_each("register_connectors"):
                for cls in classes or []:
                    _check_connector_class(cls, impl)
                    if cls.kind in found and found[cls.kind] is not cls:
                        raise ConfigError(
                            f"plugin {impl!r}: connector kind {cls.kind!r} is already provided by "
                            f"plugin {self._connector_origin[cls.kind]!r}"
                        )
                    found[cls.kind] = cls
                    self._connector_origin[cls.kind] = impl
            self._connectors = dict(sorted(found.items()))
        return self._connectors

    def funder_format_classes(self) -> dict[str, type]:
        if self._formats is None:
            found: dict[str, type] = {}
            for impl, classes in self._call_each("register_funder_formats"):
                for cls in classes or []:
                    where = f"plugin {impl!r}: funder format {getattr(cls, '__name__', cls)!r}"
                    if not (isinstance(cls, type) and issubclass(cls, FunderFormat)):
                        raise ConfigError(f"{where} must subclass hub.formats.FunderFormat")
                    if not isinstance(getattr(cls, "kind", None), str) or not cls.kind:
                        raise ConfigError(f"{where} must set a 'kind' string")
                    if not issubclass(cls.Config, FunderFormatConfig):
                        raise ConfigError(f"{where}: Config must subclass hub.formats.FunderFormatConfig")
                    if cls.kind in found and found[cls.kind] is not cls:
                        raise ConfigError(f"{where}: funder format kind {cls.kind!r} is already provided")
                    found[cls.kind] = cls
            self._formats = dict(sorted(found.items()))
        return self._formats

    def connector_origin(self, kind: str) -> str:
        self.connector_classes()
        return self._connector_origin[kind]

    def event_types(self) -> EventTypeRegistry:
        if self._event_types is None:
            registry = EventTypeRegistry()
            for impl, types in self._call_each("register_event_types"):
                for name, model in (types or {}).items():
                    try:
                        registry.register(name, model)
                    except (TypeError, ValueError) as exc:
                        raise ConfigError(f"plugin {impl!r}: {exc}") from None
            self._event_types = registry
        return self._event_types

    def proof_rules(self) -> list[Any]:
        """The default proof rules followed by those of every plugin."""
        rules = list(DEFAULT_RULES)
        for impl, found in self._call_each("register_proof_rules"):
            for rule in found or []:
                if not isinstance(rule, ProofRule):
                    raise ConfigError(f"plugin {impl!r}: register_proof_rules must return hub.journeys.proofs.ProofRule objects")
                rules.append(rule)
        return rules

    def jobs(self, config: Any) -> list[Any]:
        out = []
        for _impl, jobs in self._call_each("register_jobs", config=config):
            out.extend(jobs or [])
        return out

    def startup(self, runtime: Any) -> None:
        self.pm.hook.startup(hub=runtime)

    def shutdown(self, runtime: Any) -> None:
        self.pm.hook.shutdown(hub=runtime)

    def _call_each(self, hook_name: str, **kwargs: Any) -> Iterable[tuple[str, Any]]:
        """Call one hook through pluggy's hook caller, plugin by plugin, so that errors can name
        the plugin: in pluggy's call order (tryfirst / trylast honoured), every hook wrapper
        wrapping each call, and the call traced like any other (``PARCOURS_TRACE_PLUGINS``)."""
        caller = getattr(self.pm.hook, hook_name)
        impls = [i for i in reversed(caller.get_hookimpls()) if not (i.hookwrapper or i.wrapper)]
        for impl in impls:
            name = self.pm.get_name(impl.plugin) or repr(impl.plugin)
            others = [i.plugin for i in impls if i.plugin is not impl.plugin]
            try:
                results = self.pm.subset_hook_caller(hook_name, remove_plugins=others)(**kwargs)
            except Exception as exc:  # a broken plugin must say who it is
                raise ConfigError(f"plugin {name!r}: hook {hook_name} failed: {exc!r}") from exc
            for result in results:
                yield name, result


def _check_connector_class(cls: Any, plugin: str) -> None:
    where = f"plugin {plugin!r}: connector {getattr(cls, '__name__', cls)!r}"
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(f"{where} must subclass hub.connector.Connector")
    if not isinstance(getattr(cls, "kind", None), str) or not cls.kind:
        raise ConfigError(f"{where} must set a 'kind' string")
    if not (isinstance(cls.Config, type) and issubclass(cls.Config, ConnectorConfig)):
        raise ConfigError(f"{where}: Config must subclass hub.connector.ConnectorConfig")
    if not cls.capabilities():
        raise ConfigError(f"{where} offers no capability (PullSource, WebhookSource or EventSink)")


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {n.strip() for n in value.split(",") if n.strip()}


def load_plugins(env: Mapping[str, str] | None = None, extra: Iterable[tuple[str, Any]] = ()) -> PluginHost:
    """Build the plugin manager from the ``parcours`` entry points (and ``extra`` objects, for tests)."""
    env = os.environ if env is None else env
    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    allow = _names(env.get("PARCOURS_LOAD_PLUGINS"))
    blocked = _names(env.get("PARCOURS_DISABLED_PLUGINS")) or set()
    infos: list[PluginInfo] = []
    seen: set[str] = set()
    for ep in sorted(md.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        if ep.name in seen:  # the same distribution seen twice on sys.path
            continue
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        info = PluginInfo(ep.name, dist.name if dist else None, dist.version if dist else None, [])
        if ep.name in blocked or (allow is not None and ep.name not in allow):
            pm.set_blocked(ep.name)
            info.status = "blocked"
            infos.append(info)
            continue
        try:
            plugin = ep.load()
        except Exception as exc:
            raise ConfigError(
                f"plugin {ep.name!r} ({ep.value}, from {info.distribution}) failed to load: {exc!r}; "
                f"disable it with PARCOURS_DISABLED_PLUGINS={ep.name}"
            ) from exc
        pm.register(plugin, name=ep.name)
        infos.append(info)
    for name, plugin in extra:
        pm.register(plugin, name=name)
        infos.append(PluginInfo(name, None, None, []))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise ConfigError(f"plugin {exc.plugin!r} declares a hook the hub does not know: {exc}") from None
    for info in infos:
        plugin = pm.get_plugin(info.name)
        if plugin is not None:
            info.hooks = sorted(h.name for h in pm.get_hookcallers(plugin) or [])
    if env.get("PARCOURS_TRACE_PLUGINS"):
        _trace(pm)
    return PluginHost(pm, infos)


def _trace(pm: pluggy.PluginManager) -> None:
    import time

    import structlog

    log = structlog.get_logger("parcours.plugins")
    starts: dict[int, float] = {}

    def before(hook_name, hook_impls, kwargs):
        starts[id(hook_impls)] = time.perf_counter()

    def after(outcome, hook_name, hook_impls, kwargs):
        ms = (time.perf_counter() - starts.pop(id(hook_impls), time.perf_counter())) * 1000
        log.debug("hook called", hook=hook_name, plugins=[i.plugin_name for i in hook_impls], duration_ms=round(ms, 2))

    pm.add_hookcall_monitoring(before, after)
