"""run_scenario: run a scenario (scenario.py) against an EV node over ROS.

    run_scenario SCENARIO.yaml [--namespace ev1] [--mcap out/session.mcap]

Prints one line per step ("ok" or "FAILED" with why, and how long it took) and a verdict; exit
status 0 when every step passed, 1 when one failed (the rest are skipped), 2 for an invalid
scenario. With --mcap, every topic of the node is recorded for the whole run.
"""
from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import Callable, List, Optional

import rclpy
from iso15118_ev_msgs import msg, srv
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from rclpy.utilities import remove_ros_args

from . import scenario as sc
from .recorder import McapRecorder

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
EVENTS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
TOPICS = [('session_state', msg.SessionState, LATCHED),
          ('ev_power_ready', msg.EvPowerReady, LATCHED),
          ('v2g_session_finished', msg.SessionFinished, EVENTS),
          ('ac_evse_max_current', msg.AcEvseMaxCurrent, EVENTS),
          ('ac_evse_target_power', msg.AcTargetPower, EVENTS)] + [
    (topic, msg.Event, EVENTS) for topic in sc.EVENT_TOPICS]
SERVICES = {'start_charging': srv.StartCharging, 'stop_charging': srv.StopCharging,
            'pause_charging': srv.PauseCharging, 'set_fault': srv.SetFault,
            'set_dc_params': srv.SetDcParams, 'set_bpt_dc_params': srv.SetBptDcParams,
            'update_soc': srv.UpdateSoc, 'abort_charging': srv.AbortCharging,
            'cp_state_changed': srv.CpStateChanged}
LOOP_RESPONSES = ('CurrentDemandRes', 'ChargingStatusRes', 'DC_ChargeLoopRes',
                  'AC_ChargeLoopRes')
SERVICE_WAIT_S = 10.0
POLL_S = 0.02
SETTLE_S = 2.0
AT_REST = ('idle', 'paused', 'finished')


class StepFailed(Exception):
    pass


class EvClient(Node):
    """What the scenario sees of the EV node: its topics as they arrive, its services."""

    def __init__(self, namespace: str = ''):
        super().__init__('run_scenario', namespace=namespace)
        self.lock = threading.Lock()
        self.state: Optional[msg.SessionState] = None
        self.finished: List[msg.SessionFinished] = []
        self.events: List[str] = []
        self.loops = 0
        self.create_subscription(msg.SessionState, 'session_state', self._on_state, LATCHED)
        self.create_subscription(msg.SessionFinished, 'v2g_session_finished',
                                 self._on_finished, EVENTS)
        for topic in sc.EVENT_TOPICS:
            self.create_subscription(msg.Event, topic,
                                     lambda _m, t=topic: self._on_event(t), EVENTS)
        self.clients_by_name = {name: self.create_client(kind, name)
                                for name, kind in SERVICES.items()}

    def _on_state(self, state) -> None:
        with self.lock:
            previous, self.state = self.state, state
            if state.last_charger_message in LOOP_RESPONSES and (
                    previous is None or previous.round_trip_time != state.round_trip_time
                    or previous.last_charger_message != state.last_charger_message):
                self.loops += 1

    def _on_finished(self, finished) -> None:
        with self.lock:
            self.finished.append(finished)

    def _on_event(self, topic: str) -> None:
        with self.lock:
            self.events.append(topic)

    def call(self, name: str, request) -> srv.StartCharging.Response:
        client = self.clients_by_name[name]
        if not client.wait_for_service(timeout_sec=SERVICE_WAIT_S):
            raise StepFailed(f'service {name} not available within {SERVICE_WAIT_S:g} s')
        future = client.call_async(request)
        deadline = time.monotonic() + SERVICE_WAIT_S
        while not future.done():
            if time.monotonic() > deadline:
                raise StepFailed(f'{name}: no answer within {SERVICE_WAIT_S:g} s')
            time.sleep(POLL_S)
        return future.result()


class Runner:
    """Carries out each step against the client; raises StepFailed saying why."""

    def __init__(self, client: EvClient):
        self.client = client
        self.finished_seen = 0

    def run(self, step: sc.Step) -> str:
        return getattr(self, step.kind)(step)

    # --- commands ------------------------------------------------------------------------
    def start(self, step):
        response = self.client.call('start_charging', srv.StartCharging.Request(
            **sc.request_fields(step)))
        refused = step.args.get('expect_refused', False)
        if response.success == refused:
            raise StepFailed(('accepted' if response.success else 'refused') +
                             f': {response.message}')
        return response.message

    def stop(self, step):
        return self._command('stop_charging', srv.StopCharging.Request())

    def pause(self, step):
        return self._command('pause_charging', srv.PauseCharging.Request())

    def abort(self, step):
        return self._command('abort_charging', srv.AbortCharging.Request())

    def cp_state(self, step):
        return self._command('cp_state_changed', srv.CpStateChanged.Request(
            state=sc.CP_STATES[step.args['state']]))

    def fault(self, step):
        return self._command('set_fault', srv.SetFault.Request(
            fault=sc.FAULTS[step.args['fault']]))

    def update_soc(self, step):
        return self._command('update_soc', srv.UpdateSoc.Request(soc=step.args['soc']))

    def set_dc(self, step):
        return self._command('set_dc_params', srv.SetDcParams.Request(
            parameters=_flagged(msg.DcEvParameters(), step.args)))

    def set_bpt(self, step):
        return self._command('set_bpt_dc_params', srv.SetBptDcParams.Request(
            parameters=_flagged(msg.DcEvBptParameters(), step.args)))

    def sleep(self, step):
        time.sleep(step.args['seconds'])
        return ''

    def _command(self, name, request) -> str:
        response = self.client.call(name, request)
        if not response.success:
            raise StepFailed(f'refused: {response.message}')
        return response.message

    # --- waits ---------------------------------------------------------------------------
    def wait_phase(self, step):
        phase = step.args['phase']
        state = self._until(lambda c: c.state is not None and c.state.phase_text == phase,
                            step, f'phase {phase}')
        return f'protocol {state.state.protocol}' if state.state.protocol else ''

    def wait_event(self, step):
        topic = step.args['topic']
        self._until(lambda c: topic in c.events, step, topic)
        return ''

    def wait_loops(self, step):
        with self.client.lock:
            start = self.client.loops
        count = step.args['count']
        self._until(lambda c: c.loops - start >= count, step, f'{count} charge loops')
        return ''

    def expect_end(self, step):
        reason = step.args['reason']
        client = self._until(lambda c: len(c.finished) > self.finished_seen, step,
                             'v2g_session_finished')
        finished = client.finished[self.finished_seen]
        self.finished_seen += 1
        if finished.reason_text != reason:
            raise StepFailed(f'ended {finished.reason_text}: {finished.message}')
        return finished.message

    def _until(self, condition: Callable[[EvClient], bool], step, what: str) -> EvClient:
        timeout = sc.timeout_of(step)
        deadline = time.monotonic() + timeout
        while True:
            with self.client.lock:
                if condition(self.client):
                    return self.client
            if time.monotonic() > deadline:
                raise StepFailed(f'no {what} within {timeout:g} s{self._where()}')
            time.sleep(POLL_S)

    def _where(self) -> str:
        with self.client.lock:
            state = self.client.state
            ended = self.client.finished[-1] if self.client.finished else None
        out = f' (phase {state.phase_text})' if state else ''
        if ended is not None:
            out += f'; last end: {ended.reason_text}: {ended.message}'
        return out


def _flagged(parameters, values: dict):
    for name, value in values.items():
        setattr(parameters, name, value)
        setattr(parameters, f'has_{name}', True)
    return parameters


def settle(client: EvClient) -> None:
    """Let a recording take in what follows the last step: the node publishes the session's
    final state after v2g_session_finished. Waits until the phase is at rest (bounded)."""
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        with client.lock:
            if client.state is None or client.state.phase_text in AT_REST:
                return
        time.sleep(POLL_S)


def run(scenario: sc.Scenario, client: EvClient, out=sys.stdout) -> bool:
    """Run the steps in order; print a line per step and a verdict; True when all passed."""
    runner = Runner(client)
    print(f'scenario: {scenario.name}', file=out)
    for step in scenario.steps:
        started = time.monotonic()
        try:
            detail = runner.run(step)
        except StepFailed as exc:
            print(f'FAILED  {step.label()} after {time.monotonic() - started:.1f} s: {exc}',
                  file=out)
            skipped = len(scenario.steps) - step.index
            print(f'verdict: FAILED at step {step.index} of {len(scenario.steps)}'
                  + (f' ({skipped} skipped)' if skipped else ''), file=out)
            return False
        print(f'ok      {step.label()} {time.monotonic() - started:.1f} s'
              + (f': {detail}' if detail else ''), file=out)
    print(f'verdict: passed ({len(scenario.steps)} steps)', file=out)
    return True


def main(argv=None) -> int:
    argv = remove_ros_args(sys.argv if argv is None else ['run_scenario', *argv])[1:]
    parser = argparse.ArgumentParser(prog='run_scenario', description=__doc__.splitlines()[0])
    parser.add_argument('scenario')
    parser.add_argument('--namespace', default='', help="the EV node's namespace")
    parser.add_argument('--mcap', help='record the node\'s topics to this MCAP file')
    args = parser.parse_args(argv)
    try:
        scenario = sc.load(args.scenario)
    except sc.ScenarioError as exc:
        print(f'run_scenario: {exc}', file=sys.stderr)
        return 2
    rclpy.init()
    client = EvClient(args.namespace)
    recorder = McapRecorder(client, args.mcap, TOPICS) if args.mcap else None
    executor = SingleThreadedExecutor()
    executor.add_node(client)
    spinner = threading.Thread(target=executor.spin)
    spinner.start()
    try:
        passed = run(scenario, client)
        if recorder is not None:
            settle(client)
    finally:
        executor.shutdown()      # spin returns; only then may the node and context go
        spinner.join()
        if recorder is not None:
            recorder.close()
            print(f'recorded {recorder.count} messages to {args.mcap}')
        client.destroy_node()
        rclpy.try_shutdown()
    return 0 if passed else 1

if __name__ == '__main__':
    sys.exit(main())
