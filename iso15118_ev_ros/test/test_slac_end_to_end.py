"""From plug to charge loop over ROS: the node with SLAC on and an external pilot, pyslac's EVSE
SLAC session and the built-in charger simulator on the charger's interface, modem_sim as the
two Green PHY modems and the powerline (scripts/slac_link.sh). The test plays the vehicle's
pilot hardware over ROS: it reports plug-in, the charger's PWM and the CP state, and applies
the state the node wants. Needs root (raw sockets, namespaces)."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path

from iso15118_ev_msgs.msg import ControlPilot, CpWanted, SessionFinished, SlacState
from std_msgs.msg import Bool

from conftest import start_node
from iso15118_ev_testing.fixtures import charger_argv
from iso15118_ev_testing.slac_fixtures import SLAC_IFACE, SLAC_NETNS, mac_in_netns
from ros_client import LATCHED
from test_end_to_end import CHARGE_LOOP, SESSION_TIMEOUT, stop_and_finish, wait_charging, \
    wait_finished

ATTENUATION_DB = 20


@dataclass
class _Arrived:
    """A std_msgs/Bool (no stamp) with its arrival time, so the client's timeline can order it."""
    data: bool
    stamp: object


class PilotHardware:
    """The vehicle's pilot circuit as the node sees it over ROS: while plugged it applies the
    CP state the node wants; it reports plug-in, unplug, errors and the charger's PWM."""

    def __init__(self, ros):
        self.ros, self.plugged = ros, False
        node = ros.node
        self._publisher = node.create_publisher(ControlPilot, 'control_pilot', 10)
        node.create_subscription(CpWanted, 'cp_wanted_state', self._on_wanted, LATCHED)
        node.create_subscription(SlacState, 'slac_state', ros._recorder('slac_state'), LATCHED)
        record_ready = ros._recorder('dlink_ready')
        node.create_subscription(Bool, 'dlink_ready', lambda m: record_ready(
            _Arrived(m.data, node.get_clock().now().to_msg())), LATCHED)
        self._record_wanted = ros._recorder('cp_wanted_state')

    def connect(self, timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while self._publisher.get_subscription_count() == 0:
            assert time.monotonic() < deadline, 'the node does not subscribe to control_pilot'
            time.sleep(0.1)

    def _on_wanted(self, message) -> None:
        self._record_wanted(message)
        if self.plugged:
            self.report(state=message.state)

    def report(self, state: int = ControlPilot.CP_STATE_UNKNOWN, duty: float = math.nan):
        self._publisher.publish(ControlPilot(state=state, duty_cycle_percent=duty))

    def plug_in(self) -> None:
        self.plugged = True
        self.report(state=ControlPilot.CP_STATE_B)

    def unplug(self) -> None:
        self.plugged = False
        self.report(state=ControlPilot.CP_STATE_A, duty=100.0)


def _start(processes, ros, charger='secc0'):
    """The charger simulator on `charger` (None: none), the node on the EV's interface."""
    if charger:
        processes('charger', charger_argv(SLAC_NETNS, 'ISO_15118_2', '--interface', charger))
    start_node(processes, 'ev_node', SLAC_IFACE, **{'slac.enabled': True,
                                                     'control_pilot': 'external'})
    hardware = PilotHardware(ros)
    ros.wait_for_services()
    hardware.connect()
    return hardware


def _slac_states(ros, after=0):
    return [r.message.state for r in ros.messages('slac_state')[after:]]


def _mac_text(mac: bytes) -> str:
    return ':'.join(f'{b:02x}' for b in mac)


def test_plug_pwm_slac_dc_session_then_cp_error_then_unplug(modems, pyslac, processes, ros):
    sim = modems(('plc0', ATTENUATION_DB))
    [(evse, nid, _nmk)] = pyslac('secc0')
    hardware = _start(processes, ros)
    ros.wait_topic('slac_state', 10, lambda m: m.state == SlacState.STATE_UNMATCHED)
    ros.wait_topic('dlink_ready', 10, lambda m: not m.data)
    started = ros.call('start_charging', energy_transfer_mode='DC_extended')
    assert started.success, started.message
    time.sleep(1.0)                                  # armed: nothing before the plug
    assert SlacState.STATE_MATCHING not in _slac_states(ros)
    hardware.plug_in()
    ros.wait_topic('cp_wanted_state', 10, lambda m: m.state == CpWanted.CP_STATE_B)
    time.sleep(0.5)                                  # B without 5 % PWM: still no SLAC
    assert SlacState.STATE_MATCHING not in _slac_states(ros)
    hardware.report(duty=5.0)
    matched = ros.wait_topic('slac_state', 30, lambda m: m.state == SlacState.STATE_MATCHED)
    assert matched.charger_mac == _mac_text(mac_in_netns('secc0'))
    ev_mac = Path(f'/sys/class/net/{SLAC_IFACE}/address').read_text().strip()
    assert matched.ev_mac_address == ev_mac
    assert matched.attenuation_db == ATTENUATION_DB
    ros.wait_topic('dlink_ready', 10, lambda m: m.data)
    assert f'ev: CM_SET_KEY NID {nid.hex()}' in sim.log()
    wait_charging(ros)
    ros.wait_topic('cp_wanted_state', 10, lambda m: m.state == CpWanted.CP_STATE_C)
    mark = len(ros.messages())
    stop_and_finish(ros, after=mark)
    ros.wait_topic('cp_wanted_state', 10, lambda m: m.state == CpWanted.CP_STATE_B, after=mark)

    # A second session on the same link: no new SLAC; then CP E (error) while charging.
    slac_mark = len(ros.messages('slac_state'))
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    wait_charging(ros)
    mark = len(ros.messages())
    hardware.report(state=ControlPilot.CP_STATE_E)
    finished = wait_finished(ros, SessionFinished.REASON_ABORTED, after=mark)
    assert 'CP state E' in finished.message
    assert _slac_states(ros, slac_mark) == []

    hardware.unplug()
    ros.wait_topic('slac_state', 10, lambda m: m.state == SlacState.STATE_UNMATCHED)
    ros.wait_topic('dlink_ready', 10, lambda m: not m.data, after=mark)
    keys = [line for line in sim.log().splitlines() if 'ev: CM_SET_KEY NID' in line]
    assert len(keys) == 2 and nid.hex() not in keys[-1]    # the EV's modem left the network
    assert 'PEV-EVSE MATCHED Successfully' in evse.log()


def test_two_chargers_the_ev_matches_and_charges_at_the_nearer_one(modems, pyslac, processes,
                                                                   ros):
    """A shared cable bundle: both chargers hear the EV; it picks the lower attenuation, and
    its session runs with that charger (the other's network is not joined)."""
    sim = modems(('plc0', 35), ('plc1', 14))
    (far, _, _), (near, nid, _) = pyslac('secc0', 'secc1')
    hardware = _start(processes, ros, charger='secc1')
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    hardware.plug_in()
    hardware.report(duty=5.0)
    matched = ros.wait_topic('slac_state', 30, lambda m: m.state == SlacState.STATE_MATCHED)
    assert matched.charger_mac == _mac_text(mac_in_netns('secc1'))
    assert matched.attenuation_db == 14
    assert f'ev: CM_SET_KEY NID {nid.hex()}' in sim.log()
    wait_charging(ros, loops=2)
    stop_and_finish(ros)
    assert 'PEV-EVSE MATCHED Successfully' in near.log()
    assert 'PEV-EVSE MATCHED Successfully' not in far.log()


def test_no_charger_ends_the_session_with_slac_failed(modems, processes, ros):
    modems(('plc0', ATTENUATION_DB))
    hardware = _start(processes, ros, charger=None)
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    hardware.plug_in()
    began = time.monotonic()
    hardware.report(duty=5.0)
    finished = wait_finished(ros, SessionFinished.REASON_SLAC_FAILED)
    # 1 + C_EV_match_retry CM_SLAC_PARM.REQ, TT_match_response (200 ms) each, in the first
    # matching and its 3 restarts (TT_matching_rate 0.4 s apart), begun within 10 s
    assert time.monotonic() - began < 10
    assert 'no_response' in finished.message and '(after 4 matching attempts)' in finished.message
    failed = ros.wait_topic('slac_state', 10, lambda m: m.state == SlacState.STATE_FAILED)
    assert failed.failure == 'no_response' and math.isnan(failed.attenuation_db)


def test_pause_then_the_chargers_pwm_wakes_the_ev_without_a_new_slac(modems, pyslac,
                                                                       processes, ros):
    modems(('plc0', ATTENUATION_DB))
    pyslac('secc0')
    hardware = _start(processes, ros)
    assert ros.call('start_charging', energy_transfer_mode='DC_extended').success
    hardware.plug_in()
    hardware.report(duty=5.0)
    wait_charging(ros)
    matching = _slac_states(ros).count(SlacState.STATE_MATCHING)
    assert ros.call('pause_charging').success
    wait_finished(ros, SessionFinished.REASON_PAUSED)
    ros.wait_phase('paused', 10)
    hardware.report(duty=100.0)                     # the charger sleeps ...
    time.sleep(0.5)
    mark = len(ros.messages())
    hardware.report(duty=5.0)                       # ... and wakes the EV
    ros.wait_topic('session_state', SESSION_TIMEOUT,
                   lambda m: m.last_charger_message in CHARGE_LOOP, after=mark)
    stop_and_finish(ros, after=mark)
    assert _slac_states(ros).count(SlacState.STATE_MATCHING) == matching
