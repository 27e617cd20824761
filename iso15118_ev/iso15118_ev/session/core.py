"""The EVCC core facade: the only thing the ROS node talks to.

The core runs on its own asyncio loop in its own thread. Commands are validated in the
caller's thread against a lock-protected view of the session, then handed to the loop; they
return at once. Events go to `sink`, called on the core's thread; the sink must not block.
"""
from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from typing import Callable, Mapping, Optional

from . import events as ev
from ..vehicle.energy_modes import (DIN, ISO20_AC, ISO20_DC, check_energy_mode, check_iso20_service,
                           protocols_for)
from .engine import EngineSettings, Outcome, ProtocolEngine
from ..vehicle.model import EvModel
from .events import CommandResult, EndReason, Fault, Phase
from ..vehicle.parameters import (DC_EV_BOUNDS, DC_EV_BPT_BOUNDS, SOC_BOUND, InvalidRequest,
                         StartRequest, check_value, updated)
from ..transport.link import resolve_interface
from ..transport.sdp import discover
from .settings import CoreSettings
from .tracker import SessionTracker

logger = logging.getLogger(__name__)

ACTIVE_PHASES = frozenset(Phase) - {Phase.IDLE, Phase.PAUSED, Phase.FINISHED}
EngineFactory = Callable[[EvModel, CoreSettings], ProtocolEngine]


def josev_engine(model: EvModel, settings: CoreSettings) -> ProtocolEngine:
    from .josev.engine import JosevEngine
    return JosevEngine(model, settings.jvm_heap_mb, settings.pki_path, settings.exi_codec)


class EvccCore:
    def __init__(self, settings: CoreSettings, sink: Callable[[object], None],
                 engine_factory: EngineFactory = josev_engine):
        self.settings = settings
        self.iface = resolve_interface(settings.plc_interface)  # raises PlcInterfaceError
        self._sink = sink
        self.model = EvModel(dc=settings.dc, bpt=settings.bpt, soc_percent=settings.soc_percent)
        self.tracker = SessionTracker(self.model, self._emit)
        self.engine = engine_factory(self.model, settings)
        self._lock = threading.Lock()
        self._phase = Phase.IDLE        # the gate's view, updated from snapshots
        self._protocol = ''
        self._offered = ()
        self._starting = False          # start accepted, not yet begun on the loop
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None
        self._engine_ready: Optional[Future] = None
        self._session_task: Optional[asyncio.Task] = None

    # --- life cycle ----------------------------------------------------------------------
    def start(self) -> None:
        """Start the core thread; the engine (e.g. the JVM) starts there in the background."""
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, args=(ready,), name='evcc_core',
                                        daemon=True)
        self._thread.start()
        ready.wait()
        self._engine_ready = asyncio.run_coroutine_threadsafe(self.engine.start(), self._loop)
        self._emit(ev.PowerReady(False))  # known from the start, for late subscribers too
        self.tracker.set_phase(Phase.IDLE)

    def engine_ready(self, timeout: Optional[float] = None) -> bool:
        try:
            self._engine_ready.result(timeout)
            return True
        except Exception:
            return False

    def shutdown(self, timeout: float = 5.0) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        try:
            future.result(timeout)
        except Exception:
            logger.warning('core shutdown did not complete cleanly', exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self.engine.close()
        self._loop = None

    def _run_loop(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    async def _shutdown(self) -> None:
        if self._session_task is not None and not self._session_task.done():
            await self.engine.abort(EndReason.STOPPED_BY_EV, 'node shutting down')
            self._session_task.cancel()
            await asyncio.gather(self._session_task, return_exceptions=True)

    # --- commands (any thread) -------------------------------------------------------------
    def start_charging(self, request: StartRequest) -> CommandResult:
        try:
            mode = check_energy_mode(request.energy_transfer_mode)
            offered = protocols_for(mode, self.settings.protocols)
            if offered == (ISO20_DC,) or offered == (ISO20_AC,):
                check_iso20_service(mode, self.settings.iso20_services)
        except InvalidRequest as exc:
            return CommandResult.refused(str(exc))
        with self._lock:
            if self._phase in ACTIVE_PHASES:
                return CommandResult.refused(
                    f'a session is already running (phase {self._phase.name.lower()}); '
                    'stop_charging first')
            resuming = self._phase == Phase.PAUSED
            self._phase, self._offered, self._starting = Phase.DISCOVERING, offered, True
        self._call(self._begin_session, request, mode, offered)
        verb = 'resuming the paused session' if resuming else 'session starting'
        return CommandResult.ok(f'{verb}: {request.energy_transfer_mode} over '
                                f'{" > ".join(offered)} on {self.iface}')

    def stop_charging(self) -> CommandResult:
        with self._lock:
            phase = self._phase
            if phase == Phase.PAUSED:
                self._phase = Phase.FINISHED
                self._call(self._end_paused)
                return CommandResult.ok('paused session ended')
            if phase not in ACTIVE_PHASES:
                return CommandResult.refused(f'no session is running (phase {phase.name.lower()})')
        self._call(self._request_end, False)
        return CommandResult.ok(f'stop requested in phase {phase.name.lower()}')

    def pause_charging(self) -> CommandResult:
        with self._lock:
            phase, protocol = self._phase, self._protocol
            if phase not in ACTIVE_PHASES:
                return CommandResult.refused(f'no session is running (phase {phase.name.lower()})')
            if protocol == DIN or (not protocol and DIN in self._offered):
                return CommandResult.refused(
                    'DIN SPEC 70121 has no pause; use stop_charging'
                    + ('' if protocol else ' (DIN is among the offered protocols and no '
                       'protocol is agreed yet)'))
        self._call(self._request_end, True)
        return CommandResult.ok(f'pause requested in phase {phase.name.lower()}')

    def set_fault(self, fault: int) -> CommandResult:
        try:
            fault = Fault(fault)
        except ValueError:
            return CommandResult.refused(
                f'unknown fault {fault}; known: ' + ', '.join(f'{f.value}={f.name}' for f in Fault))
        with self._lock:
            if fault != Fault.NONE and self._phase not in ACTIVE_PHASES:
                return CommandResult.refused('faults act on a running session; none is running')
        self._call(self._set_fault, fault)
        if fault == Fault.NONE:
            return CommandResult.ok('armed fault cleared')
        return CommandResult.ok(f'fault {fault.name.lower()} armed for the next message')

    def set_dc_params(self, changes: Mapping[str, float]) -> CommandResult:
        return self._set_params('dc', changes, DC_EV_BOUNDS)

    def set_bpt_dc_params(self, changes: Mapping[str, float]) -> CommandResult:
        return self._set_params('bpt', changes, DC_EV_BPT_BOUNDS)

    def enable_sae_j2847_v2g_v2h(self) -> CommandResult:
        self._call(setattr, self.model, 'sae_j2847_enabled', True)
        return CommandResult.ok('SAE J2847/2 V2H/V2G services will be selected when offered '
                                '(ISO 15118-2 DC)')

    def update_soc(self, soc: float) -> CommandResult:
        try:
            soc = check_value('soc', soc, SOC_BOUND)
        except InvalidRequest as exc:
            return CommandResult.refused(str(exc))
        self._call(self._apply, 'soc_percent', soc)
        return CommandResult.ok(f'soc set to {soc:g} %')

    def _set_params(self, attribute: str, changes, bounds) -> CommandResult:
        if not changes:
            return CommandResult.refused('no field given: set has_<field> for each value to change')
        try:
            updated(getattr(self.model, attribute), changes, bounds)  # validation only
        except InvalidRequest as exc:
            return CommandResult.refused(str(exc))
        self._call(self._apply_params, attribute, dict(changes), bounds)
        given = ', '.join(f'{k}={v:g}' for k, v in changes.items())
        return CommandResult.ok(f'{given}; applies to the next request')

    # --- on the core loop -------------------------------------------------------------------
    def _call(self, fn, *args) -> None:
        self._loop.call_soon_threadsafe(fn, *args)

    def _apply(self, attribute: str, value) -> None:
        setattr(self.model, attribute, value)
        self.tracker.refresh()

    def _apply_params(self, attribute: str, changes, bounds) -> None:
        # Applied on the loop to the latest values, so concurrent calls both land.
        self._apply(attribute, updated(getattr(self.model, attribute), changes, bounds))

    def _set_fault(self, fault: Fault) -> None:
        self.model.fault = fault
        self.tracker.set_fault('' if fault == Fault.NONE else fault.name.lower())

    def _request_end(self, pause: bool) -> None:
        if pause:
            self.model.pause_requested = True
        else:
            self.model.stop_requested = True
        if self.tracker.snapshot.phase == Phase.DISCOVERING and self._session_task is not None:
            self._session_task.cancel()

    def _end_paused(self) -> None:
        self.model.resume_session_id = None
        self.tracker.end(Phase.FINISHED)

    def _begin_session(self, request: StartRequest, mode, offered) -> None:
        with self._lock:
            self._starting = False
        self.model.begin_session(request, mode)
        self.tracker.begin(request.energy_transfer_mode)
        self._session_task = asyncio.ensure_future(self._session(offered))

    async def _session(self, offered) -> None:
        started = time.monotonic()
        try:
            outcome = await self._run(offered)
        except asyncio.CancelledError:
            outcome = self._cancelled_outcome()
        except Exception as exc:  # the node must survive whatever the engine does
            logger.exception('session failed')
            outcome = Outcome(EndReason.INTERNAL_ERROR, f'{type(exc).__name__}: {exc}')
        self._finish(outcome, time.monotonic() - started)

    async def _run(self, offered) -> Outcome:
        # e.g. the JVM; raises if it failed. Shielded: a stop must not cancel the engine start.
        await asyncio.shield(asyncio.wrap_future(self._engine_ready))
        want_tls = self.settings.use_tls or self.settings.enforce_tls
        secc, sent = await discover(self.iface, want_tls, self.settings.sdp_max_requests,
                                    self.settings.sdp_interval_s)
        if secc is None:
            return Outcome(EndReason.NO_CHARGER_FOUND,
                           f'no charger answered {sent} SDP requests on {self.iface}')
        if secc.tls != want_tls and (self.settings.enforce_tls or secc.tls):
            return Outcome(EndReason.PROTOCOL_ERROR,
                           f'security mismatch: the charger offers {"TLS" if secc.tls else "no TLS"}'
                           f', the EV {"enforces" if self.settings.enforce_tls else "asked for"} '
                           f'{"TLS" if want_tls else "no TLS"}')
        self.tracker.on_charger_found(secc.tls)
        engine_settings = EngineSettings(self.iface, offered, self.settings.use_tls,
                                         self.settings.enforce_tls)
        watchdog = asyncio.ensure_future(self._watchdog())
        try:
            return await self.engine.run_session(secc, engine_settings, self.tracker)
        finally:
            watchdog.cancel()

    def _cancelled_outcome(self) -> Outcome:
        if self.model.pause_requested:
            return Outcome(EndReason.PAUSED, 'paused before a charger was found')
        return Outcome(EndReason.STOPPED_BY_EV, 'stopped before a charger was found')

    async def _watchdog(self) -> None:
        """End the session when it stays in a phase longer than the protocol allows."""
        limits = self.settings.timeouts.for_phase()
        phase, since = None, time.monotonic()
        while True:
            await asyncio.sleep(0.1)
            current = self.tracker.snapshot.phase
            if current != phase:
                phase, since = current, time.monotonic()
            limit = limits.get(phase)
            if limit is not None and time.monotonic() - since > limit:
                await self.engine.abort(EndReason.TIMEOUT,
                                        f'{phase.name.lower()} took longer than {limit:g} s')
                return

    def _finish(self, outcome: Outcome, duration: float) -> None:
        if outcome.reason == EndReason.TIMEOUT and self.model.fault == Fault.REFUSE_PRE_CHARGE:
            outcome = Outcome(EndReason.FAULT_INJECTED,
                              f'injected fault refuse_pre_charge: {outcome.message}')
        paused = outcome.reason == EndReason.PAUSED
        self.model.resume_session_id = self.tracker.snapshot.session_id if paused else None
        self.model.fault = Fault.NONE
        self._emit(ev.SessionFinished(outcome.reason, outcome.message,
                                      self.tracker.snapshot.protocol, duration))
        self.tracker.set_fault('')
        self.tracker.end(Phase.PAUSED if paused else Phase.FINISHED)
        self._session_task = None

    def _emit(self, event) -> None:
        if isinstance(event, ev.SessionSnapshot):
            with self._lock:
                if not self._starting:
                    self._phase, self._protocol = event.phase, event.protocol
        self._sink(event)


