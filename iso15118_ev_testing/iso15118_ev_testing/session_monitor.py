"""Run one charging session through the EV node and show what happens.

Calls start_charging, charges for a while (raising the DC target current once midway), calls
stop_charging and waits for v2g_session_finished; or, with --scenario, lets a scenario's steps
(run_scenario's) drive the node instead. Prints a timeline (seconds since
start_charging; topic events at the time the node stamped them), a summary, and saves a plot of
the EV's targets and the charger's present values. Exit code 0 only for a session that ended
stopped_by_ev or finished (with --scenario: only when every step passed).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import threading
import time
from typing import Callable, List, Optional, Tuple

import rclpy
from iso15118_ev_msgs import msg, srv
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.utilities import remove_ros_args

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
EVENTS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
SERVICES = {'start_charging': srv.StartCharging, 'set_dc_params': srv.SetDcParams,
            'stop_charging': srv.StopCharging}
GOOD_REASONS = ('stopped_by_ev', 'finished')
CHARGE_LOOP_RESPONSES = ('CurrentDemandRes', 'ChargingStatusRes', 'DC_ChargeLoopRes',
                         'AC_ChargeLoopRes')
RAISED_TARGET_CURRENT = 20.0   # A, requested midway through DC charging
PROGRESS_PERIOD = 1.0          # s between two compact charging lines
INITIAL_STATE_WAIT = 2.0       # s to wait for the latched session_state before starting
WRAP_UP_WAIT = 5.0             # s to wait for the end after a stop forced by the timeout
TRAILING_EVENTS_WAIT = 0.5     # s to keep listening after v2g_session_finished
MARKER_COLORS = {'ev_power_ready': 'tab:green', 'dc_power_on': 'tab:purple', 'end': 'tab:red'}

Sample = Tuple[float, float, float, float, float]  # t, EV target V, A, charger present V, A


def parse_args(argv: List[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--mode', help='energy_transfer_mode for start_charging '
                        '(default DC_extended)')
    parser.add_argument('--charge-seconds', type=float,
                        help='s to charge after dc_power_on (AC: phase charging) (default 8)')
    parser.add_argument('--scenario', help='drive the session with this scenario file '
                        '(run_scenario steps) instead of --mode / --charge-seconds')
    parser.add_argument('--timeout', type=float, default=90.0,
                        help='s from start_charging to v2g_session_finished (default 90)')
    parser.add_argument('--plot', default='out/session.png', help='PNG to write')
    parser.add_argument('--namespace', default='', help="the EV node's namespace")
    parser.add_argument('--mcap', help="record the node's topics to this MCAP file "
                        '(Foxglove, PlotJuggler)')
    args = parser.parse_args(argv)
    if args.scenario and (args.mode or args.charge_seconds is not None):
        parser.error('--mode and --charge-seconds apply without --scenario; the scenario '
                     'says what to do')
    args.mode = args.mode or 'DC_extended'
    args.charge_seconds = 8.0 if args.charge_seconds is None else args.charge_seconds
    return args


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


class SessionMonitor(Node):
    def __init__(self, args: argparse.Namespace):
        super().__init__('session_monitor', namespace=args.namespace)
        self.args = args
        self.is_dc = args.mode.startswith(('DC', 'MCS'))
        self.t0: Optional[float] = None
        self.state: Optional[msg.SessionState] = None
        self.finished: Optional[msg.SessionFinished] = None
        self.failure: Optional[str] = None
        self.charging_started = False
        self.stop_requested = False
        self.samples: List[Sample] = []
        self.markers: List[Tuple[float, str]] = []
        self.charge_loop_responses = 0
        self._last_progress = -math.inf
        self._ac_max_current: Optional[float] = None
        self.service_clients = {name: self.create_client(kind, name)
                                for name, kind in SERVICES.items()}
        self._subscribe()

    def _subscribe(self) -> None:
        sub = self.create_subscription
        sub(msg.SessionState, 'session_state', self._on_state, LATCHED)
        sub(msg.EvPowerReady, 'ev_power_ready', self._on_power_ready, LATCHED)
        sub(msg.Event, 'dc_power_on', self._on_dc_power_on, EVENTS)
        for topic in ('stop_from_charger', 'pause_from_charger'):
            sub(msg.Event, topic, lambda m, t=topic: self._log(f'{t}: {m.detail}', m.stamp),
                EVENTS)
        sub(msg.AcEvseMaxCurrent, 'ac_evse_max_current', self._on_ac_max_current, EVENTS)
        sub(msg.SessionFinished, 'v2g_session_finished', self._on_finished, EVENTS)

    # --- timeline ------------------------------------------------------------------------
    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _since_start(self, stamp=None) -> Optional[float]:
        if self.t0 is None:
            return None
        return (seconds(stamp) if stamp is not None else self._now()) - self.t0

    def _log(self, text: str, stamp=None) -> None:
        t = self._since_start(stamp)
        when = 'before' if t is None or t < 0 else f'{t:6.2f}'  # before: latched, stale
        print(f'{when}  {text}', flush=True)

    def _mark(self, stamp, label: str) -> None:
        t = self._since_start(stamp)
        if t is not None and t >= 0:
            self.markers.append((t, label))

    # --- services ------------------------------------------------------------------------
    def wait_for_services(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for name, client in self.service_clients.items():
            if not client.wait_for_service(timeout_sec=max(0.0, deadline - time.monotonic())):
                self.failure = f'service {self.resolve_service_name(name)} not available'
                return False
        return True

    def _call(self, name: str, request, describe: str = '',
              then: Optional[Callable] = None) -> None:
        self._log(f'call {name}{describe}')
        future = self.service_clients[name].call_async(request)
        future.add_done_callback(lambda f: self._on_answer(name, f.result(), then))

    def _on_answer(self, name: str, response, then: Optional[Callable]) -> None:
        verdict = 'ok' if response.success else 'REFUSED'
        self._log(f'{name} -> {verdict}: {response.message}')
        if then is not None:
            then(response)

    def start(self) -> None:
        self.t0 = self._now()
        request = srv.StartCharging.Request(energy_transfer_mode=self.args.mode)
        self._call('start_charging', request, f' {self.args.mode}', self._on_started)

    def _on_started(self, response) -> None:
        if not response.success:
            self.failure = f'start_charging refused: {response.message}'

    def _raise_target_current(self) -> None:
        params = msg.DcEvParameters(has_target_current=True, target_current=RAISED_TARGET_CURRENT)
        previous = self.state.ev_target_current if self.state else math.nan
        self._call('set_dc_params', srv.SetDcParams.Request(parameters=params),
                   f' target_current {previous:.1f} -> {RAISED_TARGET_CURRENT:.1f} A')

    def stop(self) -> None:
        if self.stop_requested or self.finished is not None:
            return
        self.stop_requested = True
        self._call('stop_charging', srv.StopCharging.Request())

    def _after(self, delay: float, action: Callable[[], None]) -> None:
        def fire():
            timer.cancel()
            action()
        timer = self.create_timer(delay, fire)

    def _begin_charging(self) -> None:
        if self.charging_started or self.t0 is None or self.args.scenario:
            return
        self.charging_started = True
        if self.is_dc:
            self._after(self.args.charge_seconds / 2, self._raise_target_current)
        self._after(self.args.charge_seconds, self.stop)

    # --- topics --------------------------------------------------------------------------
    def _on_state(self, m: msg.SessionState) -> None:
        previous, self.state = self.state, m
        if previous is None or m.phase != previous.phase:
            protocol = f' [{m.protocol}]' if m.protocol else ''
            self._log(f'session_state: {m.phase_text}{protocol} '
                      f'(last charger message: {m.last_charger_message or "-"})', m.stamp)
            if m.phase == msg.SessionState.PHASE_CHARGING and not self.is_dc:
                self._begin_charging()
        if self.t0 is not None:
            self._record(m, previous)

    def _record(self, m: msg.SessionState, previous: Optional[msg.SessionState]) -> None:
        t = self._since_start(m.stamp)
        self.samples.append((t, m.ev_target_voltage, m.ev_target_current,
                             m.evse_present_voltage, m.evse_present_current))
        if is_new_charge_loop_response(m, previous):
            self.charge_loop_responses += 1
        charging = m.phase == msg.SessionState.PHASE_CHARGING
        if charging and t - self._last_progress >= PROGRESS_PERIOD:
            self._last_progress = t
            self._log(f'  charging: EV target {m.ev_target_voltage:6.1f} V '
                      f'{m.ev_target_current:5.1f} A | charger present '
                      f'{m.evse_present_voltage:6.1f} V {m.evse_present_current:5.1f} A', m.stamp)

    def _on_power_ready(self, m: msg.EvPowerReady) -> None:
        self._log(f'ev_power_ready: {str(m.ready).lower()}', m.stamp)
        if m.ready:
            self._mark(m.stamp, 'ev_power_ready')

    def _on_dc_power_on(self, m: msg.Event) -> None:
        self._log(f'dc_power_on: {m.detail}', m.stamp)
        self._mark(m.stamp, 'dc_power_on')
        self._begin_charging()

    def _on_ac_max_current(self, m: msg.AcEvseMaxCurrent) -> None:
        if m.max_current != self._ac_max_current:
            self._ac_max_current = m.max_current
            self._log(f'ac_evse_max_current: {m.max_current:.1f} A', m.stamp)

    def _on_finished(self, m: msg.SessionFinished) -> None:
        self._log(f'v2g_session_finished: {m.reason_text}: {m.message}', m.stamp)
        self._mark(m.stamp, 'end')
        self.finished = m


def is_new_charge_loop_response(m: msg.SessionState, previous: Optional[msg.SessionState]) -> bool:
    """session_state is published for each request and each response; only a response brings
    a new round trip time."""
    if not m.last_charger_message.endswith(CHARGE_LOOP_RESPONSES):
        return False
    return previous is None or (m.last_charger_message, m.round_trip_time) != (
        previous.last_charger_message, previous.round_trip_time)


# --- the run -------------------------------------------------------------------------------
def spin_until(executor, done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.1)
    return done()


def run_session(node: SessionMonitor, executor) -> None:
    args = node.args
    if not node.wait_for_services(args.timeout):
        return
    spin_until(executor, lambda: node.state is not None, INITIAL_STATE_WAIT)
    node.start()
    if not spin_until(executor, lambda: node.finished is not None or node.failure is not None,
                      args.timeout):
        phase = node.state.phase_text if node.state else 'unknown'
        node.failure = f'no v2g_session_finished within {args.timeout:g} s (last phase: {phase})'
        node.stop()
        spin_until(executor, lambda: node.finished is not None, WRAP_UP_WAIT)
    spin_until(executor, lambda: False, TRAILING_EVENTS_WAIT)  # events published with the end


def run_scenario_session(node: SessionMonitor, scenario, executor) -> None:
    """The scenario's steps run on their own thread (they wait by polling) while this thread
    spins the monitor and the scenario's client."""
    from .scenario_runner import EvClient, run
    client = EvClient(node.args.namespace)
    executor.add_node(client)
    verdict = []
    steps = threading.Thread(target=lambda: verdict.append(run(scenario, client)))
    spin_until(executor, lambda: node.state is not None, INITIAL_STATE_WAIT)
    node.t0 = node._now()
    steps.start()
    spin_until(executor, lambda: not steps.is_alive(), node.args.timeout)
    if steps.is_alive():
        node.failure = f'the scenario did not end within {node.args.timeout:g} s'
    elif not verdict[0]:
        node.failure = 'a scenario step failed (see the FAILED line above)'
    spin_until(executor, lambda: node.state is not None
               and node.state.phase_text in ('idle', 'paused', 'finished'), WRAP_UP_WAIT)
    spin_until(executor, lambda: False, TRAILING_EVENTS_WAIT)


def outcome(node: SessionMonitor) -> Optional[str]:
    """What went wrong, or None."""
    if node.failure is not None:
        return node.failure
    if node.args.scenario:
        return None     # the scenario's own steps judged the end
    if node.finished.reason_text not in GOOD_REASONS:
        return f'session ended {node.finished.reason_text}: {node.finished.message}'
    return None


def protocol_of(node: SessionMonitor) -> str:
    f, state = node.finished, node.state
    return (f.protocol if f else '') or (state.protocol if state else '') or 'none'


def reason_of(node: SessionMonitor) -> str:
    return node.finished.reason_text if node.finished else 'no v2g_session_finished'


def summarize(node: SessionMonitor) -> str:
    duration = f'{node.finished.duration:.1f} s' if node.finished else 'unknown'
    return (f'summary: protocol {protocol_of(node)}, mode {node.args.mode}, '
            f'duration {duration}, {node.charge_loop_responses} charge-loop messages, '
            f'reason {reason_of(node)}')


def save_plot(node: SessionMonitor, title: str) -> None:
    path = node.args.plot
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    t, ev_v, ev_a, evse_v, evse_a = zip(*node.samples) if node.samples else ([],) * 5
    fig = Figure(figsize=(10, 7))
    FigureCanvasAgg(fig)
    volts, amps = fig.subplots(2, 1, sharex=True)
    for ax, ev_values, evse_values, unit in ((volts, ev_v, evse_v, 'voltage (V)'),
                                             (amps, ev_a, evse_a, 'current (A)')):
        ax.plot(t, ev_values, drawstyle='steps-post', linewidth=3, alpha=0.6,
                color='tab:blue', label='EV target')
        ax.plot(t, evse_values, drawstyle='steps-post', color='tab:orange',
                label='charger present')
        for when, label in node.markers:
            ax.axvline(when, linestyle='--', color=MARKER_COLORS[label],
                       label=label if ax is volts else None)
        ax.set_ylabel(unit)
        ax.grid(True, alpha=0.3)
    volts.legend(loc='upper left', fontsize='small')
    amps.legend(loc='upper left', fontsize='small')
    amps.set_xlabel('time since start_charging (s)')
    volts.set_title(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def report(node: SessionMonitor) -> int:
    problem = outcome(node)
    print(summarize(node), flush=True)
    save_plot(node, f'protocol {protocol_of(node)}, {node.args.mode}: {reason_of(node)}')
    print(f'plot: {os.path.abspath(node.args.plot)}', flush=True)
    if problem is None:
        return 0
    print(f'session_monitor: FAILED: {problem}', file=sys.stderr, flush=True)
    return 1


def main(argv: Optional[List[str]] = None) -> int:
    argv = sys.argv if argv is None else argv
    args = parse_args(remove_ros_args(argv)[1:])
    scenario = None
    if args.scenario:
        from . import scenario as sc
        try:
            scenario = sc.load(args.scenario)
        except sc.ScenarioError as exc:
            print(f'session_monitor: {exc}', file=sys.stderr)
            return 2
        args.mode = next((step.args['mode'] for step in scenario.steps if step.kind == 'start'),
                         args.mode)
    rclpy.init(args=argv)
    node = recorder = None
    try:
        node = SessionMonitor(args)
        if args.mcap:
            from .recorder import McapRecorder
            from .scenario_runner import TOPICS
            recorder = McapRecorder(node, args.mcap, TOPICS)
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        if scenario is not None:
            run_scenario_session(node, scenario, executor)
        else:
            run_session(node, executor)
        return report(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        return 130
    finally:
        if recorder is not None:
            recorder.close()
            print(f'recording: {os.path.abspath(args.mcap)} ({recorder.count} messages)')
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    sys.exit(main())
