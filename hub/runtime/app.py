"""The assembled hub: configuration, plugins, store, connectors, router, ingest and delivery."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping

import aiohttp
from pydantic import BaseModel, SecretStr

from hub import logs
from hub.blobs import BlobStore
from hub.config import LoadedConfig, load_config
from hub.connector import Connector, ConnectorContext, PullSource, Schedule, add_skips
from hub.delivery.dispatch import DeliveryStats, Dispatcher
from hub.delivery.dlq import DeadLetters
from hub.errors import AuthError, ConfigError, ConnectorError, HubError
from hub.badges.award import award_badges as award_earned_badges
from hub.badges.award import awarded_in
from hub.documents.keys import KeyRing
from hub.documents.services import services_of
from hub.documents.settings import keys_dir
from hub.consents.gate import ConsentGate
from hub.ingest.audit import record_admin_action
from hub.ingest.ingestor import Ingestor, learner_key, reject_rows
from hub.ingest.router import Router
from hub.journeys import catch_up, stream
from hub.journeys.alerts import ACTIVE, alert_items, evaluate
from hub.journeys.compute import status_of
from hub.journeys.proofs import check
from hub.leases import held_lease, process_owner
from hub.learners import LearnerResolver, read_mapping
from hub.ledger.anchoring import AnchorSettings, anchor_after_seal
from hub.ledger.head import HeadFile, publish_signed_head
from hub.ledger.integrity import seal
from hub.plugin_runtime import PluginRuntime
from hub.plugins import PluginHost, load_plugins
from hub.redaction import redact_all, redact_text, redact_url
from hub.runtime.exporting import Exporter, scheduled_period
from hub.runtime.metrics import Metrics
from hub.runtime.scheduler import Job
from hub.runtime.supervisor import Supervisor
from hub.store import Store, open_store
from hub.store.base import IngestResult
from hub.store.outage import store_unavailable

MAX_PAGES_PER_PULL = 1000
#: A pull holds lease ``pull:<source>`` (renewed every third of this) so that it runs on one daemon
#: at a time; a daemon killed mid-pull frees it after this long (at once for a dead process of this host).
PULL_LEASE_TTL = 60.0


@dataclass
class PullSummary:
    source: str
    pages: int = 0
    appended: int = 0
    duplicates: int = 0
    rejected: int = 0
    ok: bool = True
    error: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)  # records that gave no event, by reason
    unmapped: dict[str, int] = field(default_factory=dict)  # values the mapping does not know (bounded)
    warnings: list[str] = field(default_factory=list)  # what the connector says the admin should know
    busy: str | None = None  # not pulled: this process (owner string) holds the source's pull lease

    def add_skips(self, skipped: dict[str, int], unmapped: dict[str, int]) -> None:
        tally = add_skips({"reasons": self.skipped, "unmapped": self.unmapped}, skipped, unmapped)
        self.skipped, self.unmapped = tally["reasons"], tally["unmapped"]


@dataclass
class RunSummary:
    pulls: list[PullSummary] = field(default_factory=list)
    delivery: dict[str, DeliveryStats] = field(default_factory=dict)
    sealed: list = field(default_factory=list)
    alerts: int = 0
    badges: int = 0  # badges awarded (hub.badges enabled)
    exports: list[ScheduledExportRun] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return (any(not p.ok for p in self.pulls) or any(s.dead for s in self.delivery.values())
                or any(e.failed for e in self.exports))


@dataclass
class ScheduledExportRun:
    """One scheduled export in a `run --once` pass: written, already produced, incomplete or failed."""

    name: str
    period: str
    outcome: Any = None  # hub.runtime.exporting.ExportOutcome; None when the period was already produced
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.outcome is not None and self.outcome.failed)


def _register_secrets(model: Any) -> None:
    if isinstance(model, SecretStr):
        logs.register_secret(model.get_secret_value())
    elif isinstance(model, BaseModel):
        for name in type(model).model_fields:
            _register_secrets(getattr(model, name))
    elif isinstance(model, dict):
        for value in model.values():
            _register_secrets(value)
    elif isinstance(model, (list, tuple)):
        for value in model:
            _register_secrets(value)


class Hub:
    def __init__(self, config: LoadedConfig, plugins: PluginHost, store: Store):
        self.config = config
        self.plugins = plugins
        self.store = store
        self.log = logs.get_logger("parcours")
        self.types = plugins.event_types()
        self.metrics = Metrics()
        self.blobs = BlobStore(config.blobs_dir)
        self.router = Router(config.model.routes, config.connectors, config.sinks(), consents=config.hub.consents)
        self.ingestor = Ingestor(store, self.types, self.router, learners=LearnerResolver(config.hub.learners.match_on),
                                 metrics=self.metrics, log=self.log, wake=self._wake_sinks,
                                 consents=ConsentGate(config.hub.consents))
        self._session: aiohttp.ClientSession | None = None
        self.connectors: dict[str, Connector] = {}
        for name, cfg in config.enabled_connectors().items():
            cls = config.connector_class(name)
            ctx = ConnectorContext(
                name=name, blobs=self.blobs, log=self.log.bind(connector=name), timezone=config.timezone,
                data_dir=config.data_dir, _session_factory=self._http_session,
            )
            self.connectors[name] = cls(name, cfg, ctx)
        self.dispatcher = Dispatcher(
            store, {name: self.connectors[name] for name in config.sinks()},
            config.delivery_for, request_timeout=config.hub.http.request_timeout.total_seconds(),
            metrics=self.metrics, log=self.log)
        self.dead_letters = DeadLetters(store, self.connectors, self.append, self.dispatcher.wake)
        self.exporter = Exporter(config, store, self.blobs, self.append, project=self.project,
                                 funder_format=self.funder_format, log=self.log, owner=self.dispatcher.owner)
        self.runtime = PluginRuntime(config, self.log.bind(component="plugin"), self.append, self.journey_pages,
                                     self._event_pages, self.funder_format, self.spawn)
        self._tasks: set[asyncio.Task] = set()
        self.loops = Supervisor(self.log)  # the daemon's background loops, restarted when they die (see /readyz)
        self._started = False
        self.stopping = False  # set when the hub stops: pulls end after their current page
        self._pulling: set[str] = set()  # sources this process is pulling now
        self._closed = False
        self._learner_mapping: dict[str, list[str]] | None = None
        self.health: dict[str, dict[str, Any]] = {}

    # ------------------------------------------------------------------ assembly
    @classmethod
    def open(cls, config_path: str | Path | None = None, env: Mapping[str, str] | None = None,
             plugins: PluginHost | None = None) -> "Hub":
        plugins = plugins or load_plugins(env)
        config = load_config(config_path, plugins.connector_classes(), env=env,
                             format_classes=plugins.funder_format_classes())
        _register_secrets(config.model)
        logs.configure(config.hub.logging.level, config.hub.logging.format)
        mapping = None
        if config.hub.learners.mapping_file:
            mapping = read_mapping(config.resolve_path(config.hub.learners.mapping_file))
        try:
            store = open_store(config.hub.store.url, base_dir=Path.cwd(), synchronous=config.hub.store.synchronous)
        except ConfigError:
            raise
        except Exception as exc:  # unreachable server, wrong credentials, unwritable folder
            raise ConfigError(f"cannot open the store {redact_url(config.hub.store.url)}: "
                              f"{logs._scrub(str(exc)).strip().splitlines()[0]}") from None
        hub = cls(config, plugins, store)
        hub._learner_mapping = mapping
        return hub

    def _http_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            timeout = aiohttp.ClientTimeout(total=self.config.hub.http.request_timeout.total_seconds())
            self._session = aiohttp.ClientSession(timeout=timeout, headers={"User-Agent": "parcours-hub/0.1"})
        return self._session

    async def start(self) -> None:
        if self._started:
            return
        for name, connector in self.connectors.items():
            try:
                await connector.open()
            except ConnectorError as exc:
                self.health[name] = {"ok": False, "message": redact_text(str(exc))}
                self.log.error("connector failed to open", connector=name, error=str(exc))
        await self._apply_learner_mapping()
        self.plugins.startup(self.runtime)
        self._started = True

    async def _apply_learner_mapping(self) -> None:
        path = self.config.hub.learners.mapping_file
        if not path:
            return
        groups = self._learner_mapping
        changes = await self.store.call(self.store.apply_learner_mapping, groups, at=time.time())
        if changes:
            self.log.info("learner mapping applied", changes=len(changes))
            await record_admin_action(self.append, "mapping file", "learners mapping", f"{path}: {'; '.join(changes)}")

    async def stop(self) -> None:
        if self.stopping and not self._started and self._closed:
            return  # already stopped
        self.stopping = True
        await self.loops.stop(timeout=30.0, tell_loops=self.dispatcher.stop)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._started:
            self.plugins.shutdown(self.runtime)
        for connector in self.connectors.values():
            try:
                await connector.close()
            except Exception as exc:
                self.log.warning("connector close failed", connector=connector.name, error=repr(exc))
        if self._session is not None:
            await self._session.close()
        await self.store.call(self.store.close)
        self.store.shutdown_executor()
        self._started = False
        self._closed = True

    def spawn(self, coro: Awaitable[Any]) -> asyncio.Task:
        """Run ``coro`` in the background; it is cancelled when the hub stops."""
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _wake_sinks(self) -> None:
        self.dispatcher.wake()

    async def append(self, items: list[Any], *, source: str | None, **options: Any) -> IngestResult:
        """The one door to the ledger: validate ``items``, commit them, wake the sinks (see
        :meth:`hub.ingest.ingestor.Ingestor.append` for ``cursor``, ``rejects`` and ``per_record``)."""
        return await self.ingestor.append(items, source=source, **options)

    # ------------------------------------------------------------------ pulls
    async def pull(self, name: str, progress: Callable[[int], None] | None = None) -> PullSummary:
        """Run one pull of source ``name``, following pages, each page committed with its cursor
        (``progress(n)`` is told the records of each page)."""
        connector = self.connectors.get(name)
        if connector is None or not isinstance(connector, PullSource):
            raise HubError(f"{name!r} is not an enabled pull source")
        log = self.log.bind(connector=name)
        if name in self._pulling:
            return PullSummary(name, busy=process_owner())
        self._pulling.add(name)
        try:
            async with held_lease(self.store, f"pull:{name}", ttl=PULL_LEASE_TTL, log=log) as holder:
                if holder is not None:
                    log.info("pull skipped: another daemon is pulling this source", holder=holder)
                    return PullSummary(name, busy=holder)
                return await self._pull(name, connector, log, progress)
        finally:
            self._pulling.discard(name)

    async def _pull(self, name: str, connector: PullSource, log: Any,
                    progress: Callable[[int], None] | None) -> PullSummary:
        """One pull of ``name``, run while this process holds its pull lease."""
        summary = PullSummary(name)
        state = await self.store.call(self.store.source_state, name)
        cursor = state.cursor
        try:
            while summary.pages < MAX_PAGES_PER_PULL and not self.stopping:
                result = await connector.pull(cursor)
                summary.pages += 1
                outcome = await self.append(result.events, source=name, cursor=(name, result.cursor),
                                            rejects=reject_rows(name, result.rejects), per_record=True)
                summary.appended += outcome.appended
                summary.duplicates += outcome.duplicates
                summary.rejected += outcome.rejects
                await self.count_skipped(name, result.skipped, result.unmapped)
                summary.add_skips(result.skipped, result.unmapped)
                summary.warnings.extend(w for w in result.warnings if w not in summary.warnings)
                if progress is not None:
                    progress(outcome.appended + outcome.duplicates + outcome.rejects)
                cursor = result.cursor
                if not result.has_more:
                    break
        except ConnectorError as exc:
            summary.ok, summary.error = False, redact_text(f"{type(exc).__name__}: {exc}")
        except Exception as exc:
            if store_unavailable(exc):
                raise  # the database, not the source: the page was not committed, the next run retries it
            summary.ok, summary.error = False, redact_text(f"unexpected {type(exc).__name__}: {exc}")
            log.exception("pull crashed")
        now = time.time()
        await self.store.call(self.store.record_pull, name, ok=summary.ok, error=summary.error, at=now)
        self.metrics.pulls.labels(name, "ok" if summary.ok else "error").inc()
        hint = " (check the connector's credentials)" if summary.error and summary.error.startswith(AuthError.__name__) else ""
        self.health[name] = {"ok": summary.ok, "message": "ok" if summary.ok else summary.error + hint}
        if summary.ok:
            log.info("pulled", pages=summary.pages, appended=summary.appended, duplicates=summary.duplicates,
                     rejected=summary.rejected, skipped=sum(summary.skipped.values()))
        else:
            log.error("pull failed", error=summary.error)
        return summary

    async def count_skipped(self, name: str, skipped: dict[str, int], unmapped: dict[str, int]) -> None:
        """Records of source ``name`` that gave no event: in the metrics and the source's tally."""
        if not skipped and not unmapped:
            return
        self.metrics.count_skipped(name, skipped)
        await self.store.call(self.store.add_skipped, name, skipped, unmapped)

    # ------------------------------------------------------------------ run once
    async def run_once(self) -> RunSummary:
        """Every scheduled pull once, every scheduled export whose period is not produced yet, then
        the badges earned, then every delivery that is due now (retries scheduled later wait), then the alerts."""
        summary = RunSummary()
        await self.dispatcher.recover()
        for name in self.config.pull_sources():
            if self.config.connectors[name].schedule is None:
                continue  # like the daemon: an unscheduled source is pulled by `parcours sync` only
            summary.pulls.append(await self.pull(name))
        for name, cfg in self.config.exports.items():
            if cfg.enabled and cfg.schedule is not None:
                summary.exports.append(await self._scheduled_export(name))
        if self.config.hub.badges.enabled:  # before the deliveries: the awards route in this pass
            summary.badges = len((await self.award_badges()).awarded)
        for sink in self.config.sinks():
            summary.delivery[sink] = await self.dispatcher.deliver_due(sink)
        summary.alerts = await self.raise_alerts()
        summary.sealed = await self.seal()
        await self.project()
        return summary

    async def _scheduled_export(self, name: str) -> ScheduledExportRun:
        period = scheduled_period(self.funder_format(name), dt.datetime.now(self.config.timezone).date())
        run = ScheduledExportRun(name, period.label)
        try:
            run.outcome = await self.exporter.scheduled(name, period)
        except Exception as exc:
            run.error = redact_text(f"{type(exc).__name__}: {exc}")
            self.log.exception("scheduled export crashed", export=name, period=period.label)
        return run

    async def project(self) -> int:
        """Bring the journeys up to date with the ledger."""
        total = 0  # chunk by chunk: ingest requests get the store thread in between
        while chunk := await self.store.call(catch_up, self.store, batch=5000, max_batches=1):
            total += chunk
        return total

    async def project_and_figure(self) -> int:
        """The daemon's journeys job: bring the journeys up to date, then the per-enrolment figures
        the manager's list of actions reads (hub.web.figured: those of the journeys written, and
        every one once a day, the rates "to date" moving with the calendar) and the rows of the
        dropout-risk lists (hub.risk.listing: those of the journeys written)."""
        from hub.risk.listing import refresh_flags
        from hub.web.figured import refresh_figures  # the web layer's figures, only when the daemon runs

        total = await self.project()
        await refresh_figures(self, dt.datetime.now(self.config.timezone).date())
        await refresh_flags(self)
        return total

    async def award_badges(self, action: str | None = None):
        """Award the badges earned since the last run (hub.badges; see hub.badges.award): every
        journey a page at a time, or one action's."""
        known: dict = {}  # (learner, action) -> awards the journey holds, read with the page's states

        def keep(state) -> bool:
            known[(state["learner_id"], state["action"])] = awarded_in(state)
            return True

        if action is None:
            pages = self.journey_pages(keep=keep)
        else:
            async def one_action():
                await self.project()
                states = await self.store.call(self.store.journeys, action=action)
                yield stream.compute_states([s for s in states if keep(s)], self.config)
            pages = one_action()
        return await award_earned_badges(services_of(self), pages, known=known)
    async def retention(self) -> dict[str, Any]:
        """Erase what is past its retention (hub.privacy.job); resumes a run that was stopped."""
        from hub.privacy.job import run_retention

        report = await run_retention(self)
        self.log.info("retention run", **{k: v for k, v in report.items() if k != "dry_run"})
        return report

    async def raise_alerts(self, now: dt.datetime | None = None) -> int:
        """Evaluate the dropout alerts of enrolments in progress; returns how many new alerts were raised."""
        now = now or dt.datetime.now(dt.timezone.utc)
        alerts, names = [], {}
        actions = self.config.model.actions

        def in_progress(state) -> bool:  # the others raise no alert: not worth computing
            return state["action"] in actions and status_of(state) in ACTIVE

        async for reports in self.journey_pages(today=now.astimezone(self.config.timezone).date(), keep=in_progress):
            for report in reports:
                found = evaluate(report, self.config.hub.alerts, now, self.config.timezone)
                if found:
                    alerts.extend(found)
                    names[report.learner_id] = {"name": report.learner_name}
        if not alerts:
            return 0
        items = alert_items(alerts, names, now)
        result = await self.append(items, source="hub")
        for item, event_id, new in zip(items, result.ids, result.new):
            if new:
                self.log.warning("alert raised", event_id=event_id, learner=learner_key("hub", item.get("learner")),
                                 action=item.get("action"), rule=item["data"]["rule"])
        return result.appended

    async def flag_risks(self) -> int:
        """Score the enrolments in progress and flag those whose dropout risk reaches the threshold
        (``risk.flagged`` events, see hub.risk); returns how many new flags."""
        from hub.risk.service import flag  # numpy and scikit-learn: imported when the job first runs

        appended, _ = await flag(self)
        if appended:
            self.log.warning("dropout risk flagged", flags=appended)
        return appended

    async def proof_gaps(self, *, action: str | None = None, funder: str | None = None):
        """Enrolments with missing proof, per rule (default rules and the plugins')."""
        today, rules = dt.datetime.now(self.config.timezone).date(), self.proof_rules()
        if action:
            return check(await self.journey_reports(action=action), rules, funder=funder, today=today)
        gaps = []
        async for reports in self.journey_pages():
            gaps.extend(check(reports, rules, funder=funder, today=today))
        return gaps

    def proof_rules(self) -> list:
        """Default rules, the plugins' rules, and those of every configured funder export."""
        rules = list(self.plugins.proof_rules())
        for name, cfg in self.config.exports.items():
            if cfg.enabled:
                rules.extend(self.funder_format(name).proof_rules())
        return rules

    # ------------------------------------------------------------------ funder exports
    def funder_format(self, name: str):
        cfg = self.config.exports.get(name)
        if cfg is None:
            raise HubError(f"no export named {name!r} (configured: {', '.join(self.config.exports) or 'none'})")
        return self.config.format_classes[cfg.kind](name, cfg)

    async def export(self, name: str, period, *, funder: str | None = None, allow_incomplete: bool = False,
                     out_dir: Path | None = None, force: bool = False, dry_run: bool = False,
                     progress: Callable[[int], None] | None = None):
        """Produce a new version of export ``name`` for ``period`` (see hub.runtime.exporting)."""
        return await self.exporter.run(self.funder_format(name), period, funder=funder,
                                       allow_incomplete=allow_incomplete, out_dir=out_dir, force=force,
                                       dry_run=dry_run, progress=progress)

    async def journey_reports(self, *, action: str | None = None, learner_id: str | None = None,
                              today: dt.date | None = None):
        """Up-to-date journeys computed into reports (figures with their explanations), as a list:
        for one action or learner; see journey_pages for all of them."""
        await self.project()
        states = await self.store.call(self.store.journeys, action=action, learner_id=learner_id)
        return stream.compute_states(states, self.config, today)

    async def journey_pages(self, *, today: dt.date | None = None, chunk: int | None = None, keep=None):
        """Every up-to-date journey (those whose projected state ``keep`` accepts), computed a
        page at a time: a list of reports per page, each page read in one store call (memory
        bounded by the page, not by the organisation)."""
        await self.project()
        after = None
        while states := await self.store.call(self.store.journeys_page, after, chunk or stream.CHUNK):
            after = (states[-1]["learner_id"], states[-1]["action"])
            yield stream.compute_states([s for s in states if keep is None or keep(s)], self.config, today)

    async def _event_pages(self, *, types: list[str] | None = None, batch: int = 5000):
        """The ledger's events (of ``types``) in append order, a page per store call."""
        after = 0
        while page := await self.store.call(
                lambda a: list(self.store.iter_events(after_seq=a, batch=batch, types=types, limit=batch)), after):
            after = page[-1]["seq"]
            yield page

    def scheduled_jobs(self) -> list[Job]:
        """What the daemon's scheduler runs: scheduled pulls, sealing, projection, alerts, scheduled
        exports, and the plugins' jobs (each given the plugin runtime)."""
        config = self.config
        jobs = [Job(f"pull:{name}", config.connectors[name].schedule, lambda n=name: self.pull(n))
                for name in config.pull_sources() if config.connectors[name].schedule is not None]
        jobs.append(Job("seal", Schedule(every=config.hub.ledger.seal_every), self.seal))
        jobs.append(Job("journeys", Schedule(every="15s"), self.project_and_figure))
        jobs.append(Job("alerts", Schedule(every=config.hub.alerts.check_every), self.raise_alerts))
        if config.hub.risk.enabled:
            jobs.append(Job("risk", Schedule(every=config.hub.risk.flag_every), self.flag_risks))
        if config.hub.badges.enabled:
            jobs.append(Job("badges", Schedule(every=config.hub.badges.check_every), self.award_badges))
        if config.hub.retention.enabled:
            jobs.append(Job("retention", Schedule(every=config.hub.retention.run_every), self.retention))
        jobs.extend(Job(f"export:{name}", cfg.schedule, lambda n=name: self.exporter.scheduled(n))
                    for name, cfg in config.exports.items() if cfg.enabled and cfg.schedule is not None)
        jobs.extend(Job(spec.name, spec.schedule, lambda s=spec: s.run(self.runtime))
                    for spec in self.plugins.jobs(config))
        return jobs

    async def seal(self) -> list:
        """Seal the events not yet in a block (see hub.ledger.integrity), then anchor the newest block when a
        time-stamping authority is configured (see hub.ledger.anchoring; a TSA outage is logged and retried
        at the next seal)."""
        blocks = []  # one block per store call: ingest requests get the store thread in between
        while made := await self.store.call(seal, self.store, max_events=self.config.hub.ledger.max_block_events,
                                            max_blocks=1):
            blocks.extend(made)
        for block in blocks:
            self.log.info("sealed", block=block.index, events=block.count, root=block.root)
        self.metrics.count_seal(blocks)
        await self.anchor()
        await publish_signed_head(self.store, self.head_file(), self.log)
        return blocks

    def head_file(self) -> HeadFile:
        """Where the signed ledger head is written, signed with the document key when there is one."""
        return HeadFile.from_config(self.config, KeyRing(keys_dir(self.config)))

    async def anchor(self):
        """Anchor the newest sealed block if ``hub.ledger.tsa_url`` is set and it is due; the anchor or None."""
        settings = AnchorSettings.from_config(self.config)
        if settings is None:
            return None
        return await anchor_after_seal(self.store, self._http_session(), settings, log=self.log.bind(component="anchoring"),
                                       count=self.metrics.count_anchor)

    async def check_connectors(self) -> dict[str, dict[str, Any]]:
        """Ask every connector for its health (used by /readyz and ``connectors list``)."""
        async def one(connector) -> dict[str, Any]:
            try:
                health = await asyncio.wait_for(connector.check(), timeout=timeout)
                return {"ok": health.ok, "message": health.message, **({"details": health.details} if health.details else {})}
            except asyncio.TimeoutError:
                return {"ok": False, "message": f"health check did not answer within {timeout:g}s"}
            except Exception as exc:
                return {"ok": False, "message": f"{type(exc).__name__}: {exc}"}

        timeout = min(5.0, self.config.hub.http.request_timeout.total_seconds() / 3)
        names = list(self.connectors)
        results = await asyncio.gather(*(one(self.connectors[n]) for n in names))
        out = {}
        for name, result in zip(names, results):
            last = self.health.get(name)
            out[name] = last if last and not last["ok"] and result["ok"] else result  # a failed pull wins until one succeeds
        return redact_all(out)

