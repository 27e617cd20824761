"""The `charge` action, attached to the node by composition: one goal is one V2G session to a
target, run with the services' core commands (start_charging, set_dc_params, stop_charging)
and ended by the same SessionFinished event.

Everything runs on the node's executor and returns at once: the execute callback is a
coroutine awaiting a future that `on_event` (called for every event the node publishes)
completes when the goal's session ends.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional

from iso15118_ev_msgs.action import Charge
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.task import Future

from iso15118_ev.session import events as ev
from iso15118_ev.vehicle.parameters import DC_EV_BOUNDS, InvalidRequest, StartRequest, updated
from iso15118_ev.vocabulary import CommandCode, EndReason, Phase

from . import conversions as conv

FEEDBACK_PERIOD_S = 0.25   # between phase changes, feedback at most this often
MESSAGE_LIMIT = 400

SetDcParams = Callable[[Mapping[str, float]], ev.CommandResult]


def start_request(goal: Charge.Goal) -> StartRequest:
    """Raises InvalidRequest with the reason. The goal's e_amount ends charging once
    delivered (start_charging only announces it)."""
    return StartRequest.from_fields(
        goal.energy_transfer_mode, goal.payment_option, goal.enforce_payment_option,
        goal.departure_time if goal.has_departure_time else None,
        goal.e_amount if goal.has_e_amount else None,
        goal.target_soc if goal.has_target_soc else None, stop_at_e_amount=True)


def feedback(snapshot: ev.SessionSnapshot, elapsed_s: float) -> Charge.Feedback:
    voltage, current = snapshot.evse_present_voltage, snapshot.evse_present_current
    return Charge.Feedback(
        phase=int(snapshot.phase), soc=snapshot.soc,
        ev_target_voltage=snapshot.ev_target_voltage,
        ev_target_current=snapshot.ev_target_current,
        evse_present_voltage=voltage, evse_present_current=current,
        evse_present_power=voltage * current, energy_transferred=snapshot.energy_wh,
        elapsed=elapsed_s)


def _short(text: str) -> str:
    return text if len(text) <= MESSAGE_LIMIT else text[:MESSAGE_LIMIT] + '…'


def refused_result(refusal: ev.CommandResult) -> Charge.Result:
    return Charge.Result(reason=Charge.Result.REASON_NOT_STARTED, code=int(refusal.code),
                         message=_short(refusal.message))


@dataclass
class _Run:
    """The session of the goal being executed."""

    handle: object
    started_ns: int               # node clock at the start
    asked_at: float               # time.time() just before start_charging (snapshot stamps)
    finished: Future = field(default_factory=Future)
    ours: bool = False            # the session's first snapshot has been seen
    last_phase: Optional[Phase] = None
    last_feedback: float = -math.inf
    refusal: Optional[ev.CommandResult] = None   # the goal's DC values could not be applied


class ChargeAction:
    def __init__(self, node, core, set_dc_params: SetDcParams):
        self.node, self.core = node, core
        self._set_dc_params = set_dc_params
        self._run: Optional[_Run] = None
        self._server = ActionServer(node, Charge, 'charge', execute_callback=self._execute,
                                    goal_callback=lambda _goal: GoalResponse.ACCEPT,
                                    cancel_callback=self._on_cancel)

    def _log(self):
        return self.node.get_logger()

    # --- goal --------------------------------------------------------------------------------
    async def _execute(self, handle) -> Charge.Result:
        if handle.is_cancel_requested:
            handle.canceled()
            return Charge.Result(reason=int(EndReason.STOPPED_BY_EV),
                                 message='canceled before the session started')
        try:
            refusal = self._start(handle)
        except Exception as exc:  # a defect must answer, not leave the goal hanging
            self._log().error(f'charge failed: {_short(repr(exc))}')
            self._run = None
            refusal = ev.CommandResult.refused(CommandCode.INTERNAL_ERROR,
                                               f'internal error: {exc!r}')
        if refusal is not None:
            self._log().warning(f'charge refused ({refusal.code.name.lower()}): '
                                f'{_short(refusal.message)}')
            handle.abort()
            return refused_result(refusal)
        run = self._run
        finished: ev.SessionFinished = await run.finished
        return self._end(run, finished)

    def _start(self, handle) -> Optional[ev.CommandResult]:
        """Start the goal's session; the refusal, or None once it runs."""
        if self._run is not None:
            return ev.CommandResult.refused(
                CommandCode.WRONG_STATE, 'a charge goal is already running; cancel it first')
        goal = handle.request
        try:
            request = start_request(goal)
            changes = conv.dc_changes(goal.dc)
            if changes:   # checked before anything changes; applied once the session starts
                updated(self.core.ev.model.dc, changes, DC_EV_BOUNDS)
        except InvalidRequest as exc:
            return ev.CommandResult.refused(exc.code, str(exc))
        run = _Run(handle, self.node.get_clock().now().nanoseconds, time.time())
        self._run = run
        started = self.core.start_charging(request)
        if not started.success:
            self._run = None
            return started
        if changes:
            applied = self._set_dc_params(changes)
            if not applied.success:   # changed meanwhile by set_dc_params: end the session
                run.refusal = applied
                self.core.stop_charging()
        self._log().info(f'charge: {_short(started.message)}')
        return None

    def _end(self, run: _Run, finished: ev.SessionFinished) -> Charge.Result:
        result = Charge.Result(reason=int(finished.reason), code=int(CommandCode.OK),
                               message=_short(finished.message),
                               energy_transferred=finished.energy_wh,
                               duration=finished.duration_s)
        if run.refusal is not None:
            result.code = int(run.refusal.code)
            result.message = _short(f'{run.refusal.message}; {finished.message}')
        handle = run.handle
        if finished.reason == EndReason.FINISHED and run.refusal is None:
            handle.succeed()
        elif handle.is_cancel_requested:
            handle.canceled()
        else:
            handle.abort()
        self._log().info(f'charge ended: {finished.reason.name.lower()}, '
                         f'{finished.energy_wh:.1f} Wh in {finished.duration_s:.1f} s')
        return result

    def _on_cancel(self, handle) -> CancelResponse:
        """An orderly stop; the goal ends when its session does."""
        run = self._run
        if run is not None and run.handle is handle:
            stopped = self.core.stop_charging()
            self._log().info(f'charge cancel: {_short(stopped.message)}')
        return CancelResponse.ACCEPT

    # --- events (the node's executor) -------------------------------------------------------
    def on_event(self, event) -> None:
        run = self._run
        if run is None:
            return
        if isinstance(event, ev.SessionSnapshot):
            # A session that ended just before this goal's start may still have events queued:
            # the goal's own begin with the snapshot start_charging publishes.
            if not run.ours and event.phase == Phase.DISCOVERING and event.stamp >= run.asked_at:
                run.ours = True
            if run.ours:
                self._feedback(run, event)
        elif isinstance(event, ev.SessionFinished) and run.ours:
            self._run = None
            run.finished.set_result(event)

    def _feedback(self, run: _Run, snapshot: ev.SessionSnapshot) -> None:
        now = time.monotonic()
        if snapshot.phase == run.last_phase and now - run.last_feedback < FEEDBACK_PERIOD_S:
            return
        run.last_phase, run.last_feedback = snapshot.phase, now
        elapsed = (self.node.get_clock().now().nanoseconds - run.started_ns) / 1e9
        run.handle.publish_feedback(feedback(snapshot, elapsed))
