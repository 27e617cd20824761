"""The `charge` action against the real node (separate process, real DDS) with a real rclpy
ActionClient: a goal charges to its target SoC against the charger simulator, a cancel stops in
order, invalid goals and goals while one runs are aborted at once with a code and why."""
from __future__ import annotations

import math
import threading

import pytest
from action_msgs.msg import GoalStatus
from iso15118_ev_msgs.action import Charge
from iso15118_ev_msgs.msg import DcEvParameters, SessionFinished, SessionState
from rclpy.action import ActionClient

from iso15118_ev.vocabulary import CommandCode, EndReason
from ros_client import RosClient
from test_services import get_parameters

TIMEOUT = 60.0
Result = Charge.Result


class ActionRosClient(RosClient):
    """The test client with an ActionClient for `charge`; it records each goal's feedback."""

    def __init__(self, name='iso15118_ev_action_client'):
        super().__init__(name)
        self.action = ActionClient(self.node, Charge, 'charge')

    def wait_for_action(self, timeout=30.0):
        assert self.action.wait_for_server(timeout), 'the charge action did not appear'

    def send(self, timeout=10.0, dc=None, **fields) -> 'Goal':
        goal = Goal()
        done = threading.Event()
        message = Charge.Goal(**fields, dc=DcEvParameters(**(dc or {})))
        future = self.action.send_goal_async(message, feedback_callback=goal.feedback.append)
        future.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout), f'no answer to the goal within {timeout} s'
        goal.handle = future.result()
        assert goal.handle.accepted, 'every goal is accepted (refusals are aborts with a code)'
        return goal


class Goal:
    def __init__(self):
        self.handle = None
        self.feedback = []     # FeedbackMessage, in arrival order

    def result(self, timeout=TIMEOUT):
        done = threading.Event()
        future = self.handle.get_result_async()
        future.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout), f'no result within {timeout} s'
        return future.result().status, future.result().result

    def cancel(self, timeout=10.0):
        done = threading.Event()
        future = self.handle.cancel_goal_async()
        future.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout), 'no answer to the cancel'
        return future.result()

    def wait_feedback(self, check, timeout=TIMEOUT):
        done = threading.Event()
        deadline = threading.Timer(timeout, done.set)
        deadline.start()
        try:
            while not done.is_set():
                found = [f.feedback for f in list(self.feedback) if check(f.feedback)]
                if found:
                    return found[0]
                done.wait(0.05)
        finally:
            deadline.cancel()
        phases = [f.feedback.phase for f in self.feedback[-10:]]
        raise AssertionError(f'no such feedback within {timeout} s; last phases {phases}')


@pytest.fixture
def client():
    c = ActionRosClient()
    yield c
    c.close()


def test_result_codes_are_the_command_codes_and_reasons_stay_apart():
    codes = {n[5:]: getattr(Result, n) for n in dir(Result) if n.startswith('CODE_')}
    assert codes == {member.name: member.value for member in CommandCode}
    assert Result.REASON_NOT_STARTED not in {member.value for member in EndReason}
    reasons = {getattr(SessionFinished, n) for n in dir(SessionFinished) if n.startswith('REASON_')}
    assert Result.REASON_NOT_STARTED not in reasons


def test_a_goal_charges_to_its_target_soc(charger, ev_node, client):
    charger('ISO_15118_2')
    ev_node(initial_soc=50.0)
    client.wait_for_services()
    client.wait_for_action()
    mark = len(client.messages())
    # 4 % of 100 Wh at 200 V x 20 A: about 4 s of charging
    goal = client.send(energy_transfer_mode='DC_extended', has_target_soc=True, target_soc=54.0,
                       dc={'has_energy_capacity': True, 'energy_capacity': 100.0,
                           'has_target_current': True, 'target_current': 20.0})
    status, result = goal.result()
    assert status == GoalStatus.STATUS_SUCCEEDED, result.message
    assert (result.reason, result.code) == (SessionFinished.REASON_FINISHED, Result.CODE_OK)
    finished = client.wait_topic('v2g_session_finished', 10, after=mark)
    assert finished.reason == SessionFinished.REASON_FINISHED
    assert result.message == finished.message and result.duration == finished.duration

    state = client.wait_topic('session_state', 10, lambda m: m.phase_text == 'finished',
                              after=mark)
    assert 54.0 <= state.soc < 60.0
    # the battery model's energy: 1 % of 100 Wh is 1 Wh
    assert result.energy_transferred == pytest.approx(state.soc - 50.0, rel=1e-6)
    # the goal's DC values were applied as set_dc_params does (parameters in step)
    assert get_parameters(client, 'dc.energy_capacity', 'dc.target_current') == [100.0, 20.0]

    feedback = [f.feedback for f in goal.feedback]
    charging = [f for f in feedback if f.phase == SessionState.PHASE_CHARGING]
    assert len(charging) >= 2, [f.phase for f in feedback]
    assert charging[-1].soc > charging[0].soc, 'soc did not rise'
    assert charging[-1].energy_transferred > charging[0].energy_transferred
    assert charging[-1].ev_target_current == 20.0
    assert charging[-1].evse_present_power == pytest.approx(
        charging[-1].evse_present_voltage * charging[-1].evse_present_current)
    assert charging[-1].evse_present_current > 0.5
    phases = [f.phase for f in feedback]
    assert phases[0] == SessionState.PHASE_DISCOVERING
    assert SessionState.PHASE_STOPPING in phases
    elapsed = [f.elapsed for f in feedback]
    assert elapsed == sorted(elapsed) and 0.0 <= elapsed[0] < elapsed[-1]


def test_a_goal_ends_once_its_energy_is_delivered(charger, ev_node, client):
    charger('ISO_15118_2')
    ev_node(initial_soc=50.0, **{'dc.energy_capacity': 100.0, 'dc.target_current': 20.0})
    client.wait_for_services()
    client.wait_for_action()
    goal = client.send(energy_transfer_mode='DC_extended', has_e_amount=True, e_amount=0.003)
    status, result = goal.result()
    assert status == GoalStatus.STATUS_SUCCEEDED, result.message
    assert result.reason == SessionFinished.REASON_FINISHED
    # 3 Wh, and not much more: the EV stopped there, not at 100 % (50 Wh more)
    assert 3.0 <= result.energy_transferred < 10.0


def test_cancel_stops_the_session_in_order(charger, ev_node, client):
    charger('ISO_15118_2')
    ev_node(**{'dc.target_current': 20.0})
    client.wait_for_services()
    client.wait_for_action()
    mark = len(client.messages())
    goal = client.send(energy_transfer_mode='DC_extended', has_target_soc=True, target_soc=90.0)
    charging = goal.wait_feedback(lambda f: f.phase == SessionState.PHASE_CHARGING
                                  and f.energy_transferred > 0.0)
    cancel = goal.cancel()
    assert len(cancel.goals_canceling) == 1
    status, result = goal.result()
    assert status == GoalStatus.STATUS_CANCELED, result.message
    assert (result.reason, result.code) == (SessionFinished.REASON_STOPPED_BY_EV, Result.CODE_OK)
    assert result.energy_transferred >= charging.energy_transferred
    finished = client.wait_topic('v2g_session_finished', 10, after=mark)
    assert finished.reason == SessionFinished.REASON_STOPPED_BY_EV
    # orderly: power delivery stop and welding detection, then the session stop
    client.wait_phase('stopping', 10, after=mark)
    state = client.wait_phase('finished', 10, after=mark)
    assert state.last_charger_message.endswith('SessionStopRes'), state.last_charger_message


NAN = math.nan


@pytest.mark.parametrize('fields, fragment', [
    (dict(energy_transfer_mode='DC_turbo'), 'unknown'),
    (dict(energy_transfer_mode='DC_extended', has_target_soc=True, target_soc=NAN), 'NaN'),
    (dict(energy_transfer_mode='DC_extended', has_target_soc=True, target_soc=100.5),
     'out of range'),
    (dict(energy_transfer_mode='DC_extended', has_target_soc=True, target_soc=20.0),
     'not above the present SoC 20 %'),
    (dict(energy_transfer_mode='DC_extended', has_e_amount=True, e_amount=-1.0), 'out of range'),
    (dict(energy_transfer_mode='DC_extended',
          dc={'has_target_voltage': True, 'target_voltage': 1000.0}),
     'target_voltage=1000 V exceeds max_voltage_limit=900 V'),
])
def test_an_invalid_goal_is_aborted_with_why(idle_node, client, fields, fragment):
    client.wait_for_action()
    mark = len(client.messages())
    goal = client.send(**fields)
    status, result = goal.result(10)
    assert status == GoalStatus.STATUS_ABORTED
    assert result.code == Result.CODE_INVALID_ARGUMENT
    assert result.reason == Result.REASON_NOT_STARTED
    assert fragment in result.message
    assert goal.feedback == []
    # changed nothing: no session, the DC values as they were
    assert get_parameters(client, 'dc.target_voltage') == [200.0]
    assert not any(r.message.phase_text != 'idle' for r in client.messages('session_state')[mark:])


def test_a_goal_while_one_runs_is_aborted_wrong_state(ev_node, client):
    ev_node(sdp_interval=2.0)    # no charger: discovery runs for long
    client.wait_for_services()
    client.wait_for_action()
    first = client.send(energy_transfer_mode='DC_extended')
    first.wait_feedback(lambda f: f.phase == SessionState.PHASE_DISCOVERING, 10)

    status, result = client.send(energy_transfer_mode='DC_extended').result(10)
    assert status == GoalStatus.STATUS_ABORTED
    assert result.code == Result.CODE_WRONG_STATE and 'already running' in result.message
    # the service is refused as with any running session
    refused = client.call('start_charging', energy_transfer_mode='DC_extended')
    assert not refused.success and refused.code == Result.CODE_WRONG_STATE

    first.cancel()
    status, result = first.result(30)
    assert status == GoalStatus.STATUS_CANCELED
    assert result.reason == SessionFinished.REASON_STOPPED_BY_EV, result.message


def test_a_goal_while_a_service_session_runs_is_aborted_wrong_state(ev_node, client):
    ev_node(sdp_interval=2.0)
    client.wait_for_services()
    client.wait_for_action()
    assert client.call('start_charging', energy_transfer_mode='DC_extended').success
    client.wait_phase('discovering', 10)
    status, result = client.send(energy_transfer_mode='DC_extended').result(10)
    assert status == GoalStatus.STATUS_ABORTED
    assert result.code == Result.CODE_WRONG_STATE
    assert 'a session is already running' in result.message
    assert client.call('stop_charging').success
