"""One electric vehicle: its commands, its sessions and the events it reports.

An `Ev` lives on an asyncio event loop and holds all of its own state; any number of them can
share one loop (and one process). Commands are plain methods called on that loop: they check
their arguments against the EV's state, change nothing when they refuse, and return at once.
Events go to `sink`, which must not block.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Callable, Mapping, Optional

from ..codec import NativeExiCodec
from ..codec import namespaces as ns
from ..protocol.context import Outcome
from ..protocol.payment import Payment
from ..security.errors import IdentityError, SecurityProblem
from ..security.identity import EvIdentity
from ..transport.link import mac_address, resolve_interface
from ..transport.sdp import discover
from ..vehicle.control_pilot import PLUGGED_STATES, ControlPilot, session_end
from ..vehicle.energy_modes import check_energy_mode, check_iso20_service, protocols_for
from ..vehicle.model import EvModel
from ..vehicle.parameters import (DC_EV_BOUNDS, DC_EV_BPT_BOUNDS, DUTY_BOUND,
                                  PRESENT_VALUE_BOUNDS, SOC_BOUND, EvPresentValues, InvalidRequest, StartRequest,
                                  check_value, quote, updated)
from ..vocabulary import (CONTRACT, DIN, EXTERNAL_PAYMENT, ISO20_AC, ISO20_DC, CommandCode,
                          CpState, EndReason, Fault, Phase)
from . import events as ev
from .data_link import DataLink
from .settings import EvSettings
from .tracker import SessionTracker
from .v2g import V2gSettings, run_v2g_session

logger = logging.getLogger(__name__)

ACTIVE_PHASES = frozenset(Phase) - {Phase.IDLE, Phase.PAUSED, Phase.FINISHED}
NAMESPACES = (ns.APP_PROTOCOL, ns.DIN, ns.ISO2, ns.ISO20_COMMON, ns.ISO20_DC, ns.ISO20_AC)
CommandResult = ev.CommandResult
INVALID_ARGUMENT = CommandCode.INVALID_ARGUMENT
WRONG_STATE = CommandCode.WRONG_STATE
NOT_SUPPORTED = CommandCode.NOT_SUPPORTED


class Ev:
    def __init__(self, settings: EvSettings, sink: Callable[[object], None],
                 codec: Optional[NativeExiCodec] = None):
        self.settings = settings
        self.iface = resolve_interface(settings.plc_interface)  # raises PlcInterfaceError
        self.codec = codec or NativeExiCodec()
        self._sink = sink
        pilot = ControlPilot(settings.control_pilot, lambda state: sink(ev.CpWanted(state)))
        self.model = EvModel(dc=settings.dc, bpt=settings.bpt, soc_percent=settings.soc_percent,
                             pilot=pilot)
        self.data_link = DataLink(self.iface, settings.slac, pilot, sink)
        self.tracker = SessionTracker(self.model, sink)
        self._task: Optional[asyncio.Task] = None
        self._shutting_down = False

    def prepare(self) -> None:
        """Load the codec's grammars and publish the initial state (late subscribers too)."""
        for namespace in NAMESPACES:
            self.codec.prepare(namespace)
        self._sink(ev.PowerReady(False))
        self.data_link.publish()
        self.tracker.set_phase(Phase.IDLE)

    @property
    def phase(self) -> Phase:
        return self.tracker.snapshot.phase

    # --- commands -----------------------------------------------------------------------------
    def start_charging(self, request: StartRequest) -> CommandResult:
        try:
            mode = check_energy_mode(request.energy_transfer_mode)
            offered = protocols_for(mode, self.settings.protocols)
            if offered in ((ISO20_DC,), (ISO20_AC,)):
                check_iso20_service(mode, self.settings.iso20_services)
        except InvalidRequest as exc:
            return CommandResult.refused(exc.code, str(exc))
        target, soc = request.target_soc_percent, self.model.soc_percent
        if target is not None and target <= soc:
            return CommandResult.refused(INVALID_ARGUMENT, f'target_soc={target:g} % is not '
                                         f'above the present SoC {soc:g} %')
        if self.phase in ACTIVE_PHASES:
            return CommandResult.refused(WRONG_STATE, f'a session is already running (phase '
                                         f'{self.phase.name.lower()}); stop_charging first')
        if self._shutting_down:
            return CommandResult.refused(WRONG_STATE, 'the EV is shutting down')
        try:
            payment = self._payment(request)
        except SecurityProblem as exc:
            return CommandResult.refused(NOT_SUPPORTED, f'Plug & Charge: {exc}')
        resuming = self.phase == Phase.PAUSED
        self.model.begin_session(request, mode)
        self.tracker.begin(request.energy_transfer_mode)
        self._task = asyncio.ensure_future(self._session(offered, payment))
        self._task.add_done_callback(self._cancelled_before_start)
        verb = 'resuming the paused session' if resuming else 'session starting'
        return CommandResult.ok(f'{verb}: {request.energy_transfer_mode} over '
                                f'{" > ".join(offered)} on {self.iface}')

    def stop_charging(self) -> CommandResult:
        phase = self.phase
        if phase == Phase.PAUSED:
            self.model.resume_session_id = None
            self.tracker.end(Phase.FINISHED, EndReason.STOPPED_BY_EV, 'paused session ended')
            return CommandResult.ok('paused session ended')
        if phase not in ACTIVE_PHASES:
            return CommandResult.refused(WRONG_STATE,
                                         f'no session is running (phase {phase.name.lower()})')
        self.model.stop_requested = True
        self._cancel_discovery()
        return CommandResult.ok(f'stop requested in phase {phase.name.lower()}')

    def pause_charging(self) -> CommandResult:
        phase, protocol = self.phase, self.tracker.snapshot.protocol
        if phase not in ACTIVE_PHASES:
            return CommandResult.refused(WRONG_STATE,
                                         f'no session is running (phase {phase.name.lower()})')
        if self.model.stop_requested:
            return CommandResult.refused(WRONG_STATE,
                                         'a stop is under way; a stop wins over a pause')
        if protocol == DIN or (not protocol and DIN in self._offered()):
            return CommandResult.refused(
                NOT_SUPPORTED, 'DIN SPEC 70121 has no pause; use stop_charging'
                + ('' if protocol else ' (DIN is among the offered protocols and no '
                   'protocol is agreed yet)'))
        self.model.pause_requested = True
        self._cancel_discovery()
        return CommandResult.ok(f'pause requested in phase {phase.name.lower()}')

    def set_fault(self, fault: int) -> CommandResult:
        try:
            fault = Fault(fault)
        except ValueError:
            return CommandResult.refused(
                INVALID_ARGUMENT,
                f'unknown fault {fault}; known: '
                + ', '.join(f'{f.value}={f.name}' for f in Fault))
        if fault != Fault.NONE and self.phase not in ACTIVE_PHASES:
            return CommandResult.refused(WRONG_STATE,
                                         'faults act on a running session; none is running')
        self.model.fault = fault
        self.tracker.set_fault('' if fault == Fault.NONE else fault.name.lower())
        if fault == Fault.NONE:
            return CommandResult.ok('armed fault cleared')
        return CommandResult.ok(f'fault {fault.name.lower()} armed for the next message')

    def set_dc_params(self, changes: Mapping[str, float]) -> CommandResult:
        return self._set_params('dc', changes, DC_EV_BOUNDS)

    def set_bpt_dc_params(self, changes: Mapping[str, float]) -> CommandResult:
        return self._set_params('bpt', changes, DC_EV_BPT_BOUNDS)

    def enable_sae_j2847_v2g_v2h(self) -> CommandResult:
        self.model.sae_j2847_enabled = True
        return CommandResult.ok('SAE J2847/2 V2H/V2G services will be selected when offered '
                                '(ISO 15118-2 DC)')

    def update_soc(self, soc: float) -> CommandResult:
        try:
            self.model.soc_percent = check_value('soc', soc, SOC_BOUND)
        except InvalidRequest as exc:
            return CommandResult.refused(exc.code, str(exc))
        self.tracker.refresh()
        return CommandResult.ok(f'soc set to {soc:g} %')

    def abort_charging(self) -> CommandResult:
        return self._end_now(EndReason.ABORTED, 'aborted by the EV: connection closed without '
                             'SessionStop')

    def cp_state_changed(self, state: int) -> CommandResult:
        try:
            if isinstance(state, bool):
                raise TypeError(state)
            state = CpState(state)
        except (ValueError, TypeError):
            return CommandResult.refused(
                INVALID_ARGUMENT, f'unknown CP state {quote(state)}; known: '
                + ', '.join(f'{s.value}={s.name}' for s in CpState))
        pilot = self.model.pilot
        previous = pilot.change(state, self.phase.name.lower()).previous
        was_plugged = pilot.was_plugged(previous)
        what = f'CP state {previous.name if previous is not None else "unknown"} -> {state.name}'
        end = session_end(state, was_plugged)
        if state == CpState.A and was_plugged:
            asyncio.ensure_future(self.data_link.reset('unplugged (CP state A)'))
        if end is not None and (self.phase in ACTIVE_PHASES or self.phase == Phase.PAUSED):
            result = self._end_now(*end)
            return CommandResult.ok(f'{what}: {result.message}')
        if state in PLUGGED_STATES and previous not in PLUGGED_STATES:
            return CommandResult.ok(f'{what}: {self._plugged_in()}')
        return CommandResult.ok(f'{what} recorded in phase {self.phase.name.lower()}')

    def _plugged_in(self) -> str:
        """Plug-in: the EV applies B; with start_on_plug set, an idle EV starts its session."""
        self.model.pilot.want(CpState.B)
        mode = self.settings.start_on_plug
        if not mode or self.phase in ACTIVE_PHASES or self.phase == Phase.PAUSED:
            return 'plugged in'
        result = self.start_charging(StartRequest(mode))
        return f'plugged in; start_on_plug {mode}: {result.message}'

    def pwm_changed(self, duty_percent: float) -> CommandResult:
        """The charger's PWM duty cycle as the pilot hardware measures it (%, 0 or 100 = none).
        5 % again while a session is paused on a live link is the charger's wake-up: resume."""
        try:
            duty = check_value('duty_cycle', duty_percent, DUTY_BOUND)
        except InvalidRequest as exc:
            return CommandResult.refused(exc.code, str(exc))
        pilot = self.model.pilot
        was_hlc = pilot.hlc_requested
        pilot.set_duty(duty)
        what = f'PWM duty {duty:g} %'
        if (pilot.hlc_requested and not was_hlc and self.phase == Phase.PAUSED
                and self.data_link.ready and self.model.request is not None):
            result = self.start_charging(self.model.request)
            return CommandResult.ok(f'{what}: the charger woke the EV; {result.message}')
        return CommandResult.ok(f'{what} recorded in phase {self.phase.name.lower()}')

    def trigger_matching(self) -> CommandResult:
        link, pilot = self.data_link, self.model.pilot
        if not link.enabled:
            return CommandResult.refused(NOT_SUPPORTED, 'SLAC is off (parameter slac.enabled)')
        if link.matching or link.ready:
            return CommandResult.refused(WRONG_STATE, f'SLAC is {link.status.state.value}; '
                                         'reset_slac first')
        if not pilot.plugged:
            return CommandResult.refused(WRONG_STATE, 'not plugged in (CP state '
                                         f'{pilot.state.name if pilot.state else "not reported"})')
        link.start_matching()
        return CommandResult.ok(f'SLAC matching started on {self.iface}')

    def reset_slac(self) -> CommandResult:
        link = self.data_link
        if not link.enabled:
            return CommandResult.refused(NOT_SUPPORTED, 'SLAC is off (parameter slac.enabled)')
        if self.phase in ACTIVE_PHASES or self.phase == Phase.PAUSED:
            return CommandResult.refused(WRONG_STATE, f'a session uses the link (phase '
                                         f'{self.phase.name.lower()}); stop_charging first')
        asyncio.ensure_future(link.reset('reset_slac'))
        return CommandResult.ok('SLAC reset: the modem leaves the charger\'s network')

    def update_present_values(self, changes: Mapping[str, float],
                              clear: bool = False) -> CommandResult:
        """The EV's measurements, sent where a request carries them (EvModel.present_*),
        until cleared; `clear` forgets all before `changes` apply."""
        if not changes and not clear:
            return CommandResult.refused(
                INVALID_ARGUMENT, 'no field given: set has_<field> for each value, or clear')
        try:
            base = EvPresentValues() if clear else self.model.measured
            self.model.measured = updated(base, changes, PRESENT_VALUE_BOUNDS)
        except InvalidRequest as exc:
            return CommandResult.refused(exc.code, str(exc))
        given = ', '.join(f'{k}={v:g}' for k, v in changes.items())
        cleared = 'previous present values cleared' if clear else ''
        return CommandResult.ok('; '.join(p for p in (cleared, given) if p)
                                + '; applies to the next request that carries it')

    def _end_now(self, reason: EndReason, message: str) -> CommandResult:
        """End the session at once: no SessionStop, no further request (or end a paused one)."""
        phase = self.phase
        if phase == Phase.PAUSED:
            self.model.resume_session_id = None
            self.tracker.end(Phase.FINISHED, reason, f'paused session ended: {message}')
            return CommandResult.ok(f'paused session ended: {message}')
        if phase not in ACTIVE_PHASES:
            return CommandResult.refused(WRONG_STATE,
                                         f'no session is running (phase {phase.name.lower()})')
        if self.model.abort is None:
            self.model.abort = (reason, message)
        if self._task is not None:
            self._task.cancel()
        return CommandResult.ok(f'{message} (in phase {phase.name.lower()})')

    def _set_params(self, attribute: str, changes, bounds) -> CommandResult:
        if not changes:
            return CommandResult.refused(
                INVALID_ARGUMENT, 'no field given: set has_<field> for each value to change')
        try:
            new = updated(getattr(self.model, attribute), changes, bounds)
        except InvalidRequest as exc:
            return CommandResult.refused(exc.code, str(exc))
        setattr(self.model, attribute, new)
        self.tracker.refresh()
        given = ', '.join(f'{k}={v:g}' for k, v in changes.items())
        return CommandResult.ok(f'{given}; applies to the next request')

    # --- shutdown -----------------------------------------------------------------------------
    async def shutdown(self, timeout: float = 3.0) -> None:
        """End a running session in the protocol's orderly way, within `timeout` s at most."""
        self._shutting_down = True
        task = self._task
        if task is None or task.done():
            return
        self.model.stop_requested = True
        self._cancel_discovery()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout)
        except asyncio.TimeoutError:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)

    # --- the session --------------------------------------------------------------------------
    def _offered(self):
        mode = self.model.mode
        return protocols_for(mode, self.settings.protocols) if mode else ()

    def _cancel_discovery(self) -> None:
        if self.phase == Phase.DISCOVERING and self._task is not None:
            self._task.cancel()

    def _payment(self, request: StartRequest) -> Payment:
        """The session's payment; with Contract, this EV's identity, read afresh from its PKI
        folder (IdentityError names a missing or broken file)."""
        settings = self.settings
        if request.payment_option != CONTRACT:
            return Payment()
        if not settings.pki_path:
            raise IdentityError('pki_path', 'not set: payment_option Contract needs the EV\'s '
                                'PKI folder')
        return Payment(CONTRACT, request.enforce_payment_option,
                       EvIdentity.load(settings.pki_path),
                       settings.force_certificate_installation,
                       settings.contract_update_within_days * 86400.0)

    def _cancelled_before_start(self, task: asyncio.Task) -> None:
        """A stop in the same loop turn as the start cancels the task before `_session` runs
        (and catches it): end the session here instead."""
        if task.cancelled() and task is self._task:
            self._finish(self._cancelled_outcome(), 0.0)

    async def _session(self, offered, payment: Payment) -> None:
        started = time.monotonic()
        try:
            outcome = await self._run(offered, payment)
        except asyncio.CancelledError:
            outcome = self._cancelled_outcome()
        except Exception as exc:  # the EV must survive whatever a session does
            logger.exception('session failed')
            outcome = Outcome(EndReason.INTERNAL_ERROR, f'{type(exc).__name__}: {exc}')
        self._finish(outcome, time.monotonic() - started)

    async def _run(self, offered, payment: Payment) -> Outcome:
        outcome = await self._discover_and_run(offered, payment)
        if not self._falls_back(payment, outcome):
            return outcome
        logger.warning('%s; enforce_payment_option is not set: a new session with external '
                       'payment follows', outcome.message)
        self.model.begin_session(self.model.request, self.model.mode)
        self.tracker.set_phase(Phase.DISCOVERING)
        return await self._discover_and_run(offered, Payment())

    def _falls_back(self, payment: Payment, outcome: Outcome) -> bool:
        """The charger refused the contract; the EV may pay externally instead."""
        return (outcome.reason == EndReason.AUTHORIZATION_FAILED and payment.used == CONTRACT
                and not payment.enforce and EXTERNAL_PAYMENT in payment.offered
                and not (self.model.stop_requested or self.model.pause_requested
                         or self._shutting_down))

    async def _discover_and_run(self, offered, payment: Payment) -> Outcome:
        settings = self.settings
        no_link = await self.data_link.ensure()
        if no_link is not None:
            return no_link
        # Plug & Charge needs TLS: chargers offer Contract (-2) and PnC (-20) on TLS only.
        want_tls = settings.use_tls or settings.enforce_tls or payment.wanted == CONTRACT
        secc, sent = await discover(self.iface, want_tls, settings.sdp_max_requests,
                                    settings.sdp_interval_s)
        if secc is None:
            return Outcome(EndReason.NO_CHARGER_FOUND,
                           f'no charger answered {sent} SDP requests on {self.iface}')
        if secc.tls != want_tls and (settings.enforce_tls or secc.tls):
            return Outcome(EndReason.SECURITY_ERROR,
                           f'security mismatch: the charger offers {"TLS" if secc.tls else "no TLS"}'
                           f', the EV {"enforces" if settings.enforce_tls else "asked for"} '
                           f'{"TLS" if want_tls else "no TLS"}')
        self.tracker.on_charger_found(secc.tls)
        v2g = V2gSettings(offered, settings.timeouts, mac_address(self.iface), settings.pki_path,
                          settings.iso20_control_mode, payment, settings.v2g_messages_debug,
                          settings.trace_clock)
        return await run_v2g_session(secc, v2g, self.model, self.tracker, self.codec)

    def _cancelled_outcome(self) -> Outcome:
        if self._shutting_down:
            return Outcome(EndReason.SHUTDOWN, 'the EV shut down during the session')
        if self.model.abort is not None:
            return Outcome(*self.model.abort)
        if self.model.pausing:
            return Outcome(EndReason.PAUSED, 'paused before a charger was found')
        return Outcome(EndReason.STOPPED_BY_EV, 'stopped before a charger was found')

    def _finish(self, outcome: Outcome, duration: float) -> None:
        if self._shutting_down and outcome.reason != EndReason.SHUTDOWN:
            outcome = Outcome(EndReason.SHUTDOWN, f'the EV shut down: {outcome.message}')
        paused = outcome.reason == EndReason.PAUSED
        self.model.resume_session_id = self.tracker.snapshot.session_id if paused else None
        self.model.fault = Fault.NONE
        self._sink(ev.SessionFinished(outcome.reason, outcome.message,
                                      self.tracker.snapshot.protocol, duration,
                                      self.model.energy_wh))
        self.tracker.set_fault('')
        self.tracker.end(Phase.PAUSED if paused else Phase.FINISHED, outcome.reason,
                         outcome.message)
        if self.model.pilot.wanted is not None and self.model.pilot.plugged:
            self.model.pilot.want(CpState.B)     # no energy now: open S2 (IEC 61851-1)
        self._task = None
