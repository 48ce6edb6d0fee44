"""The composition root: turn Settings into a store, a clock, a bus and the domain services.

This is the only module that knows every concrete class. Nothing here runs at import time;
call :func:`bootstrap` (the web app factory and the CLI do).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

from cityops.adapters import webhook_sender
from cityops.adapters.mqtt_ingest import MqttIngestWorker, MqttOptions, clock_ms
from cityops.alerts.engine import AlertEngine, Subject
from cityops.alerts.model import Alert, Rule
from cityops.alerts.service import AlertService, CaseOpener
from cityops.alerts.wiring import (
    HourOfWeekBaseline,
    load_subjects,
    newest_readings,
)
from cityops.auth.accounts import AccountService
from cityops.auth.apikeys import ApiKeyService
from cityops.auth.audit import AuditReader
from cityops.auth.model import Principal
from cityops.auth.principal_cache import PrincipalCache
from cityops.auth.ratelimit import LoginRateLimiter
from cityops.auth.secrets import PasswordHasher
from cityops.auth.signin import SignInService
from cityops.cases.classification import ClassificationService
from cityops.cases.deadlines import DeadlinePolicy, parse_ladder
from cityops.cases.intake import IntakeRequest, IntakeService
from cityops.cases.kpis import parse_weights
from cityops.cases.lights import LightThresholds
from cityops.cases.listing import CaseListService
from cityops.cases.model import case_number
from cityops.cases.policy import CasePolicy
from cityops.cases.public_status import PublicStatusService
from cityops.cases.routing_book import RoutingBook
from cityops.cases.rules import MatterRuleService
from cityops.cases.service import CaseService
from cityops.cases.situation import SituationService
from cityops.cases.sweeper import DeadlineSweeper, logged_sweep
from cityops.cases.workcalendar import build_calendar, read_overrides
from cityops.catalog.components import ComponentService
from cityops.geo.divisions import DivisionService
from cityops.geo.locate import LocationService
from cityops.geo.places import GazetteerService
from cityops.geo.responsibility import ResponsibilityService
from cityops.kernel.bus import EventBus
from cityops.kernel.clock import Clock, SystemClock
from cityops.kernel.periodic import Periodic, PeriodicGroup
from cityops.kernel.worktime import WorkingCalendar
from cityops.notify.webhooks import WebhookService
from cityops.sensing.decode import Decoder, DecodeRules
from cityops.sensing.devices import DeviceService
from cityops.sensing.indices import CityIndexService
from cityops.sensing.ingest import IngestService
from cityops.sensing.metrics import metrics
from cityops.sensing.model import Datastream, Placement
from cityops.sensing.registry import StreamRegistry
from cityops.sensing.rollups import RollupFolder
from cityops.sensing.sta_service import StaService, build_sta
from cityops.sensing.timeseries import TimeseriesService
from cityops.settings import Settings
from cityops.storage import Store
from cityops.storage.files import DirectoryFiles
from cityops.storage.unit_of_work import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass
class Services:
    """Everything a request handler or a CLI command may use."""

    settings: Settings
    clock: Clock
    store: Store
    bus: EventBus[SqlUnitOfWork]
    accounts: AccountService
    signin: SignInService
    api_keys: ApiKeyService
    principals: PrincipalCache
    audit: AuditReader
    divisions: DivisionService
    locations: LocationService
    responsibility: ResponsibilityService
    components: ComponentService
    gazetteer: GazetteerService
    calendar: WorkingCalendar
    case_policy: CasePolicy
    matter_rules: MatterRuleService
    classification: ClassificationService
    intake: IntakeService
    cases: CaseService
    case_lists: CaseListService
    situation: SituationService
    public_status: PublicStatusService
    devices: DeviceService
    streams: StreamRegistry
    decoder: Decoder
    ingest: IngestService
    timeseries: TimeseriesService
    sta: StaService
    alerts: AlertService
    alert_sweep: Periodic
    webhooks: WebhookService
    webhook_dispatch: Periodic
    indices: CityIndexService
    sweeper: DeadlineSweeper
    periodic_sweeper: Periodic
    rollups: RollupFolder
    rollup_fold: PeriodicGroup
    wal_checkpoint: Periodic
    secret_key: str = field(repr=False)
    mqtt: MqttIngestWorker | None = None

    def start_background(self) -> None:
        """Start the event bus, the deadline sweeps and the MQTT door (the web app does)."""
        self.bus.start()
        self.periodic_sweeper.start()
        self.rollup_fold.start()
        self.wal_checkpoint.start()
        self.alert_sweep.start()
        self.webhook_dispatch.start()
        if self.mqtt is not None:
            self.mqtt.start()

    def stop_background(self) -> None:
        """Stop what :meth:`start_background` started (the MQTT door first: it feeds the rest)."""
        if self.mqtt is not None:
            self.mqtt.stop()
        self.alert_sweep.stop()
        self.webhook_dispatch.stop()
        self.rollup_fold.stop()
        self.wal_checkpoint.stop()
        self.periodic_sweeper.stop()
        self.bus.stop()

    def close(self) -> None:
        """Stop background work and close the store's connections."""
        self.stop_background()
        self.store.dispose()


def bootstrap(
    settings: Settings,
    *,
    clock: Clock | None = None,
    hasher: PasswordHasher | None = None,
) -> Services:
    """Build the services for ``settings``; connects to nothing until first used."""
    clock = clock or SystemClock()
    offset_ms = local_offset_ms(settings.zone, clock)
    store = Store(
        settings.database_url,
        clock=clock,
        pool_size=settings.database_pool_size,
        partition_days=settings.telemetry_partition_days,
        local_offset_ms=offset_ms,
    )
    bus: EventBus[SqlUnitOfWork] = EventBus(
        store.unit_of_work, poll_interval=settings.event_poll_seconds
    )
    store.on_commit(bus.notify)
    hasher = hasher or PasswordHasher()
    limiter = LoginRateLimiter(
        clock,
        per_account=settings.login_max_failures_per_account,
        per_address=settings.login_max_failures_per_address,
        window=timedelta(seconds=settings.login_failure_window_seconds),
    )
    locations = LocationService(store.unit_of_work)
    principals = PrincipalCache(clock)
    calendar = build_calendar(
        settings.timezone,
        settings.working_hours,
        read_overrides(settings.calendar_file) if settings.calendar_file else None,
    )
    policy = case_policy(settings)
    gazetteer = GazetteerService(store.unit_of_work, clock, locations)
    classification = ClassificationService(
        store.unit_of_work,
        clock,
        Path(settings.data_dir) / "classifier" / "model.npz",
        settings.classifier_model,
    )
    routing = RoutingBook()
    files = DirectoryFiles(Path(settings.data_dir) / "attachments")
    cases = CaseService(store.unit_of_work, clock, calendar, policy, files)
    sweeper = DeadlineSweeper(store.unit_of_work, clock, calendar, policy)
    streams = StreamRegistry(lambda: _stream_snapshot(store))
    decoder = Decoder(
        streams,
        DecodeRules(zone=settings.zone, future_ms=settings.telemetry_future_seconds * 1000),
    )
    intake = IntakeService(
        store.unit_of_work,
        clock,
        calendar,
        policy,
        locations,
        gazetteer,
        classification.suggest,
        routing,
    )
    alerts = AlertService(
        store.unit_of_work,
        clock,
        AlertEngine(settings.zone, HourOfWeekBaseline(store.unit_of_work)),
        lambda: load_subjects(store.unit_of_work),
        {m.key for m in metrics()},
        open_case=case_opener(intake, settings.zone),
    )
    webhooks = WebhookService(store.unit_of_work, clock)
    bus.subscribe("webhooks", webhooks.plan)
    ingest = IngestService(
        store.unit_of_work,
        clock,
        streams,
        decoder,
        on_stored=lambda b: alerts.on_stored(b.streams, b.times, b.values, b.qualities),
    )
    case_lists = CaseListService(
        store.unit_of_work, clock, cases, parse_weights(settings.case_kpi_weights), settings.zone
    )
    fold_parts = settings.telemetry_fold_workers if store.dialect == "postgresql" else 1
    rollups = RollupFolder(
        store.unit_of_work,
        parts=fold_parts,
        min_readings=settings.telemetry_fold_min_readings,
        max_wait=settings.telemetry_fold_max_seconds,
        tidy_queue=store.vacuum_fold_queue,
    )
    timeseries = TimeseriesService(store.unit_of_work, clock, offset_ms)
    devices_changed = _both(streams.invalidate, timeseries.invalidate)
    devices = DeviceService(
        store.unit_of_work,
        clock,
        _placer(locations),
        on_change=devices_changed,
        grace=settings.telemetry_offline_grace,
    )
    return Services(
        settings=settings,
        clock=clock,
        store=store,
        bus=bus,
        # Every change these make to users, roles, sessions or keys empties the web layer's
        # principal cache.
        accounts=AccountService(principals.watching(store.unit_of_work), clock, hasher),
        signin=SignInService(
            principals.watching(store.unit_of_work),
            clock,
            hasher,
            limiter,
            timedelta(hours=settings.session_ttl_hours),
        ),
        api_keys=ApiKeyService(principals.watching(store.unit_of_work), clock),
        principals=principals,
        audit=AuditReader(store.unit_of_work),
        divisions=DivisionService(store.unit_of_work, clock, on_change=locations.invalidate),
        locations=locations,
        responsibility=ResponsibilityService(
            store.unit_of_work, clock, on_change=routing.invalidate
        ),
        components=ComponentService(store.unit_of_work, clock, locations.placer),
        gazetteer=gazetteer,
        calendar=calendar,
        case_policy=policy,
        matter_rules=MatterRuleService(
            store.unit_of_work,
            clock,
            on_change=_both(classification.invalidate_rules, routing.invalidate),
        ),
        classification=classification,
        intake=intake,
        cases=cases,
        case_lists=case_lists,
        public_status=PublicStatusService(store.unit_of_work, policy),
        situation=SituationService(store.unit_of_work, clock, case_lists, settings.zone),
        devices=devices,
        streams=streams,
        decoder=decoder,
        ingest=ingest,
        timeseries=timeseries,
        sta=build_sta(
            store.unit_of_work,
            clock,
            ingest,
            _placer(locations),
            settings.zone,
            on_change=devices_changed,
        ),
        indices=CityIndexService(timeseries, devices, clock, settings.zone),
        alerts=alerts,
        webhooks=webhooks,
        webhook_dispatch=Periodic(
            "webhook-sender",
            lambda: webhooks.send_due(webhook_sender.post),
            settings.webhook_poll_seconds,
        ),
        alert_sweep=Periodic(
            "alert-sweeper",
            lambda: alerts.sweep(newest_readings(store.unit_of_work)),
            settings.alert_sweep_seconds,
        ),
        sweeper=sweeper,
        periodic_sweeper=Periodic(
            "deadline-sweeper", logged_sweep(sweeper), settings.case_sweep_seconds
        ),
        rollups=rollups,
        rollup_fold=PeriodicGroup(
            [
                Periodic(
                    f"rollup-fold-{part}",
                    partial(rollups.fold_when_due, part),
                    settings.telemetry_fold_seconds,
                )
                for part in range(fold_parts)
            ]
        ),
        wal_checkpoint=Periodic(
            "wal-checkpoint",
            partial(store.checkpoint_wal, settings.sqlite_wal_limit_mb * 1024 * 1024),
            1.0 if store.dialect == "sqlite" and settings.sqlite_wal_limit_mb else 0.0,
        ),
        secret_key=resolve_secret_key(settings),
        mqtt=mqtt_worker(settings, ingest, decoder, clock) if settings.mqtt_url else None,
    )


def case_policy(settings: Settings) -> CasePolicy:
    """Return the case-loop policy of ``settings``."""
    return CasePolicy(
        zone=ZoneInfo(settings.timezone),
        deadlines=DeadlinePolicy(
            LightThresholds(yellow=settings.case_light_yellow),
            parse_ladder(settings.case_escalation_ladder),
        ),
        default_limit_normal=settings.case_limit_normal,
        default_limit_urgent=settings.case_limit_urgent,
        dedupe_metres=settings.case_dedupe_metres,
        dedupe_hours=settings.case_dedupe_hours,
        auto_dispatch=settings.case_auto_dispatch,
        auto_dispatch_confidence=settings.case_auto_dispatch_confidence,
        max_attachment_bytes=settings.case_max_photo_bytes,
    )


def resolve_secret_key(settings: Settings) -> str:
    """Return the configured secret, or (dev/demo only) one generated and kept in the data dir."""
    if settings.secret_key is not None and settings.secret_key.get_secret_value():
        return settings.secret_key.get_secret_value()
    if settings.mode == "production":  # Settings validation already refuses this; belt and braces.
        raise RuntimeError("CITYOPS_SECRET_KEY is required in production mode")
    path = Path(settings.data_dir) / "secret-key"
    if path.exists():
        return path.read_text(encoding="utf-8").strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret + "\n", encoding="utf-8")
    path.chmod(0o600)
    log.info("generated a %s-mode secret key in %s", settings.mode, path)
    return secret


def case_opener(intake: IntakeService, zone: ZoneInfo) -> CaseOpener:
    """Return how an alert opens its case: a sensor-channel intake, idempotent on the alert."""
    principal = Principal.system("alerts")

    def open_case(alert: Alert, rule: Rule, subject: Subject | None) -> tuple[int, str] | None:
        assert rule.case is not None
        component = subject.properties.get("component_id") if subject else None
        lon, lat = (subject.lon, subject.lat) if subject else (None, None)
        result = intake.accept(
            principal,
            IntakeRequest(
                channel="sensor",
                description=f"{rule.case.text}（{alert.message}）",
                urgency="urgent" if rule.case.urgent else "normal",
                lon=lon,
                lat=lat,
                component_id=component if isinstance(component, str) else None,
                external_ref=f"alert-{alert.id}",
                matter_code=rule.case.matter_code,
            ),
        )
        return result.case.id, case_number(result.case.id, result.case.accepted_at, zone)

    return open_case


def mqtt_worker(
    settings: Settings, ingest: IngestService, decoder: Decoder, clock: Clock
) -> MqttIngestWorker:
    """Return an MQTT ingest worker for the settings' broker (not started)."""
    assert settings.mqtt_url is not None
    options = MqttOptions(
        url=settings.mqtt_url,
        topics=tuple(t.strip() for t in settings.mqtt_topics.split(",") if t.strip()),
        group=settings.mqtt_group,
        client_id=settings.mqtt_client_id,
    )
    return MqttIngestWorker(ingest, decoder, options, clock_ms(clock.now))


def local_offset_ms(zone: ZoneInfo, clock: Clock) -> int:
    """Return the zone's UTC offset now, in ms (rollup days start at the city's midnight)."""
    offset = clock.now().astimezone(zone).utcoffset()
    return int(offset.total_seconds() * 1000) if offset is not None else 0


def _placer(locations: LocationService) -> Callable[[float, float], Placement]:
    """Return point → placement on the grid (the district is the street code's first six)."""

    def place(lon: float, lat: float) -> Placement:
        grid, community, street = locations.placer([lon], [lat])[0]
        return Placement(
            grid_code=grid,
            community_code=community[0] if community else None,
            street_code=street[0] if street else None,
            district_code=street[0][:6] if street else None,
        )

    return place


def _stream_snapshot(store: Store) -> tuple[list[Datastream], dict[int, str]]:
    with store.unit_of_work(read_only=True) as uow:
        return uow.datastreams.list(), uow.datastreams.thing_keys()


def _both(first: Callable[[], None], second: Callable[[], None]) -> Callable[[], None]:
    """Return a callback that calls ``first`` and then ``second``."""

    def call() -> None:
        first()
        second()

    return call
