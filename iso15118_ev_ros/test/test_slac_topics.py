"""The data link's topics and services on the real node (separate process, real DDS): slac_state,
dlink_ready and cp_wanted_state (latched), the control_pilot subscription, trigger_matching and
reset_slac, and the slac.* / start_on_plug parameters. With slac.enabled the matching runs for
real on the test's veth link (raw socket, root), where no charger answers."""
from __future__ import annotations

import math
import subprocess
import threading
import time
from pathlib import Path

import pytest
from iso15118_ev_msgs import msg, srv
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from conftest import node_executable
from iso15118_ev_testing.fixtures import EV_IFACE
from test_services import refused
from ros_client import RosClient

Code = srv.TriggerMatching.Response
Slac = msg.SlacState
Pilot = msg.ControlPilot
SLAC_SERVICES = {'trigger_matching': srv.TriggerMatching, 'reset_slac': srv.ResetSlac}
# Latched on the node; deep here so that a live subscriber sees every state in turn.
WATCH = QoSProfile(depth=10, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                   reliability=ReliabilityPolicy.RELIABLE)
PILOT = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Four matchings ([V2G3-A09-124/125]: the first and 3 restarts 0.4 s apart), each with
# CM_SLAC_PARM.REQ three times 200 ms (table A.1): 3.6 s; room for DDS and a loaded machine.
NO_RESPONSE_BOUND_S = 8.0


class SlacClient(RosClient):
    """The test client with the data link's services, topics and the pilot's input."""

    def __init__(self):
        super().__init__('iso15118_ev_slac_client')
        self._slac = {name: self.node.create_client(kind, name)
                      for name, kind in SLAC_SERVICES.items()}
        self.pilot = self.node.create_publisher(Pilot, 'control_pilot', PILOT)
        self._watch_lock = threading.Lock()

    def wait_for_slac_services(self, warm_up, timeout: float = 30.0) -> None:
        """Wait for the node's services; then call each of `warm_up` (refused in the present
        state: it changes nothing) until answered, so the node knows our response readers."""
        self.wait_for_services(timeout)
        for name, client in self._slac.items():
            assert client.wait_for_service(timeout), f'service {name} did not appear'
        deadline = time.monotonic() + timeout
        for name in warm_up:
            while True:
                try:
                    assert not self.call_slac(name, 1.0).success, f'{name} was not refused'
                    break
                except TimeoutError:
                    assert time.monotonic() < deadline, f'{name} never answered'

    def call_slac(self, name: str, timeout: float = 5.0):
        future = self._slac[name].call_async(SLAC_SERVICES[name].Request())
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(timeout):
            raise TimeoutError(f'{name} did not answer within {timeout} s')
        return future.result()

    def watch(self, kind, topic: str) -> list:
        """Subscribe now (a late subscriber when the node is up): the messages received."""
        received = []

        def record(message):
            with self._watch_lock:
                received.append(message)
        self.node.create_subscription(kind, topic, record, WATCH)
        return received

    def copy(self, received: list) -> list:
        with self._watch_lock:
            return list(received)

    def wait_watched(self, received: list, check, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while True:
            seen = self.copy(received)
            for message in seen:
                if check(message):
                    return message
            assert time.monotonic() < deadline, f'no {what} within {timeout} s; seen: {seen}'
            time.sleep(0.02)

    def send_pilot(self, state: int = Pilot.CP_STATE_UNKNOWN, duty: float = math.nan) -> None:
        deadline = time.monotonic() + 10
        while self.pilot.get_subscription_count() == 0:
            assert time.monotonic() < deadline, 'the node does not subscribe control_pilot'
            time.sleep(0.05)
        self.pilot.publish(Pilot(state=state, duty_cycle_percent=duty))


@pytest.fixture
def ros():
    client = SlacClient()
    yield client
    client.close()


def test_without_slac_the_link_is_ready_and_the_commands_not_supported(ev_node, ros):
    ev_node(sdp_max_requests=2)
    ros.wait_for_slac_services(warm_up=SLAC_SERVICES)
    slac = ros.wait_watched(ros.watch(Slac, 'slac_state'), lambda m: True, 10, 'slac_state')
    assert slac.state == Slac.STATE_UNMATCHED and slac.charger_mac == ''
    assert math.isnan(slac.attenuation_db) and slac.failure == ''
    assert slac.stamp.sec > 0
    assert ros.wait_watched(ros.watch(Bool, 'dlink_ready'), lambda m: True, 10,
                            'dlink_ready').data is True
    for name in SLAC_SERVICES:
        refused(ros.call_slac(name), Code.CODE_NOT_SUPPORTED,
                'SLAC is off (parameter slac.enabled)')


def test_control_pilot_plug_in_asks_for_b(ev_node, ros):
    node = ev_node(sdp_max_requests=2)
    ros.wait_for_slac_services(warm_up=SLAC_SERVICES)
    ros.send_pilot(state=Pilot.CP_STATE_B)
    ros.send_pilot(duty=5.0)
    # A late subscriber gets the state the EV wants (latched).
    wanted = ros.wait_watched(ros.watch(msg.CpWanted, 'cp_wanted_state'), lambda m: True, 10,
                              'cp_wanted_state')
    assert wanted.state == msg.CpWanted.CP_STATE_B and wanted.stamp.sec > 0
    assert 'control_pilot' not in node.log()    # nothing refused
    # Refusals are warnings (rate-limited), never fatal: the node goes on answering.
    for _ in range(3):
        ros.send_pilot(state=9, duty=150.0)
    deadline = time.monotonic() + 10
    while 'PWM duty refused' not in node.log():
        assert time.monotonic() < deadline, node.log()
        time.sleep(0.05)
    log = node.log()
    assert log.count('control_pilot: CP state refused (invalid_argument): unknown CP state 9') == 1
    assert log.count('control_pilot: PWM duty refused (invalid_argument)') == 1
    assert ros.call_slac('trigger_matching').code == Code.CODE_NOT_SUPPORTED
    assert node.proc.poll() is None


@pytest.mark.parametrize('arguments, error', [
    (['slac.pwm_wait_s:=-1.0'], 'slac.pwm_wait_s=-1.0: out of range: 0.1 to 3600'),
    (['slac.pwm_wait_s:=-1'], 'slac.pwm_wait_s=-1: expected a floating-point number (e.g. 1.0)'),
    (['slac.modem_mac:=zz'], "slac.modem_mac='zz': expected 6 bytes in hex separated by "
                             '":", e.g. 00:b0:52:00:00:01'),
    (['slac.tt_match_sequence_s:=0.01'],   # below TP_EV_batch_msg_interval: the dataclass says
     'slac.*: tp_ev_batch_msg_interval_s must be within 0..tt_match_sequence_s'),
    (['slac.c_ev_match_mnbc:=0'], 'slac.c_ev_match_mnbc=0: out of range: 1 to 255'),
    (['start_on_plug:=DC_warp'], "start_on_plug='DC_warp': energy_transfer_mode 'DC_warp' is "
                                 'unknown; known values: '),
    (['start_on_plug:=WPT'], "start_on_plug='WPT': energy_transfer_mode 'WPT' is not served"),
    (['start_on_plug:=DC', 'protocols:=[ISO_15118_2]'],
     "start_on_plug='DC': energy_transfer_mode 'DC' needs one of ISO_15118_20_DC"),
])
def test_bad_slac_parameters_stop_the_node_at_start_with_one_line(arguments, error):
    argv = [node_executable('ev_node'), '--ros-args', '-p', 'plc_interface:=lo']
    for argument in arguments:
        argv += ['-p', argument]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f'iso15118_ev: cannot start: {error}'), \
        done.stderr


def test_slac_matching_fails_without_a_charger(ev_node, ros):
    """slac.enabled on the veth link: nothing answers CM_SLAC_PARM.REQ."""
    node = ev_node(sdp_max_requests=2, control_pilot='external', **{'slac.enabled': True})
    ros.wait_for_slac_services(warm_up=['trigger_matching'])
    assert ros.wait_watched(ros.watch(Bool, 'dlink_ready'), lambda m: True, 10,
                            'dlink_ready').data is False
    states = ros.watch(Slac, 'slac_state')
    unmatched = ros.wait_watched(states, lambda m: m.state == Slac.STATE_UNMATCHED, 10,
                                 'slac_state')
    own_mac = Path(f'/sys/class/net/{EV_IFACE}/address').read_text().strip()
    assert unmatched.ev_mac_address == own_mac   # known before any matching
    refused(ros.call_slac('trigger_matching'), Code.CODE_WRONG_STATE,
            'not plugged in (CP state not reported)')

    wanted = ros.watch(msg.CpWanted, 'cp_wanted_state')
    ros.send_pilot(state=Pilot.CP_STATE_B)
    ros.wait_watched(wanted, lambda m: m.state == msg.CpWanted.CP_STATE_B, 10, 'CP wanted B')
    started = ros.call_slac('trigger_matching')
    assert started.success and started.code == Code.CODE_OK, started.message
    asked = time.monotonic()
    ros.wait_watched(states, lambda m: m.state == Slac.STATE_MATCHING, NO_RESPONSE_BOUND_S,
                     'matching')
    failed = ros.wait_watched(states, lambda m: m.state == Slac.STATE_FAILED,
                              NO_RESPONSE_BOUND_S, 'failed')
    assert time.monotonic() - asked < NO_RESPONSE_BOUND_S
    assert failed.failure == 'no_response', failed
    assert 'CM_SLAC_PARM.CNF' in failed.message and failed.charger_mac == ''
    assert failed.message.endswith('(after 4 matching attempts)'), failed.message
    assert failed.ev_mac_address == own_mac
    assert math.isnan(failed.attenuation_db)
    order = [m.state for m in ros.copy(states)]
    assert order.index(Slac.STATE_MATCHING) < order.index(Slac.STATE_FAILED)
    assert node.proc.poll() is None
