"""The robot-facing topics against the real node (separate process, real DDS) and the charger
simulator: battery_state, safe_to_unplug, /diagnostics, the latched end of a session and
stamps from the node's clock."""
from __future__ import annotations

import math
import subprocess
import threading
import time

import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
from iso15118_ev_msgs import msg
from iso15118_ev_msgs.msg import SessionFinished
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState

from iso15118_ev_testing.fixtures import SECC_NETNS
from ros_client import LATCHED, RosClient

TIMEOUT = 45.0
NODE = 'iso15118_ev'
SENSOR = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
# nav2's docking server (SimpleChargingDock) counts a robot as charging above this current.
NAV2_CHARGING_THRESHOLD_A = 0.5


class RobotClient(RosClient):
    """The test client, also recording battery_state, safe_to_unplug and /diagnostics."""

    def __init__(self, name='iso15118_ev_robot_client'):
        super().__init__(name)
        for topic, kind, qos in (('battery_state', BatteryState, SENSOR),
                                 ('safe_to_unplug', msg.SafeToUnplug, LATCHED),
                                 ('/diagnostics', DiagnosticArray, SENSOR)):
            self.node.create_subscription(kind, topic, self._recorder(topic.strip('/')), qos)


@pytest.fixture
def robot():
    client = RobotClient()
    yield client
    client.close()


def level(status: DiagnosticStatus) -> int:
    return status.level[0] if isinstance(status.level, bytes) else int(status.level)


def diagnostic(array: DiagnosticArray, task: str) -> DiagnosticStatus:
    by_name = {s.name: s for s in array.status}
    return by_name[f'{NODE}: {task}']


def wait_diagnostic(robot, task, check, timeout=TIMEOUT):
    return robot.wait_topic(
        'diagnostics', timeout, lambda a: any(s.name == f'{NODE}: {task}' and check(s)
                                              for s in a.status))


def seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


def test_battery_and_unplug_through_a_dc_session_to_full(plc_link, charger, ev_node, robot):
    charger('ISO_15118_2')
    ev_node(initial_soc=96.0, **{'dc.energy_capacity': 100.0, 'dc.target_current': 20.0})
    robot.wait_for_services()
    idle = robot.wait_topic('safe_to_unplug', 10)
    assert idle.safe, idle.reason
    battery = robot.wait_topic('battery_state', 10)
    assert battery.present and battery.percentage == pytest.approx(0.96)
    assert battery.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_NOT_CHARGING
    assert math.isnan(battery.current) and math.isnan(battery.voltage)

    mark = len(robot.messages())
    assert robot.call('start_charging', energy_transfer_mode='DC_extended').success
    unsafe = robot.wait_topic('safe_to_unplug', 10, after=mark)
    assert not unsafe.safe, unsafe.reason

    charging = robot.wait_topic(
        'battery_state', TIMEOUT, lambda m: m.current > NAV2_CHARGING_THRESHOLD_A, after=mark)
    assert charging.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING
    assert charging.voltage == pytest.approx(200.0, rel=0.1)
    # a docking robot: charging while current flows; the connector must stay in
    assert not robot.messages('safe_to_unplug')[-1].message.safe
    healthy = wait_diagnostic(robot, 'session', lambda s: 'charging' in s.message)
    for task in ('PLC link', 'charger connection', 'session', 'last error'):
        status = diagnostic(healthy, task)
        assert level(status) == DiagnosticStatus.OK[0], f'{task}: {status.message}'
        assert status.hardware_id == plc_link
    assert 'round trip' in diagnostic(healthy, 'session').message

    finished = robot.wait_topic('v2g_session_finished', TIMEOUT, after=mark)
    assert finished.reason == SessionFinished.REASON_FINISHED, finished.message
    during = [r.message for r in robot.messages('battery_state')[mark:]
              if r.message.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING]
    assert during[-1].percentage > during[0].percentage, 'percentage did not rise'
    assert all(0.0 <= m.percentage <= 1.0 for m in during)
    full = robot.wait_topic('battery_state', 10, lambda m: m.power_supply_status
                            == BatteryState.POWER_SUPPLY_STATUS_FULL, after=mark)
    assert full.percentage == pytest.approx(1.0) and math.isnan(full.current)
    safe = robot.wait_topic('safe_to_unplug', 10, lambda m: m.safe, after=mark)
    assert 'welding detection' in safe.reason
    state = robot.wait_topic('session_state', 10, lambda m: m.phase_text == 'finished',
                             after=mark)
    assert math.isnan(state.evse_present_voltage) and math.isnan(state.evse_present_current)

    # A late subscriber (transient local) gets how the session ended.
    late = RosClient('iso15118_ev_late_client')
    try:
        got = {}
        for topic, kind in (('v2g_session_finished', SessionFinished),
                            ('session_state', msg.SessionState)):
            late.node.create_subscription(kind, topic, lambda m, t=topic: got.setdefault(t, m),
                                          LATCHED)
        deadline = time.monotonic() + 10
        while len(got) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert got['v2g_session_finished'].reason == SessionFinished.REASON_FINISHED
        last = got['session_state']
        assert last.phase_text == 'finished' and last.last_end_reason == 'finished'
        assert last.last_end_message == finished.message
        assert math.isnan(last.evse_present_voltage) and math.isnan(last.evse_present_current)
    finally:
        late.close()


def test_diagnostics_when_the_charger_stops_answering(charger, ev_node, robot):
    charger('ISO_15118_2', '--freeze-after-loops', '3')
    ev_node(**{'dc.target_current': 20.0})
    robot.wait_for_services()
    ok = wait_diagnostic(robot, 'last error', lambda s: True)
    assert level(diagnostic(ok, 'last error')) == DiagnosticStatus.OK[0]
    mark = len(robot.messages())
    assert robot.call('start_charging', energy_transfer_mode='DC_extended').success
    finished = robot.wait_topic('v2g_session_finished', TIMEOUT, after=mark)
    assert finished.reason == SessionFinished.REASON_TIMEOUT, finished.message
    error = wait_diagnostic(robot, 'last error',
                            lambda s: level(s) == DiagnosticStatus.ERROR[0])
    assert 'timeout' in diagnostic(error, 'last error').message
    state = robot.wait_topic('session_state', 10, lambda m: m.phase_text == 'finished',
                             after=mark)
    assert state.last_end_reason == 'timeout'
    assert math.isnan(state.evse_present_current) and math.isnan(state.evse_present_voltage)
    # current was flowing when the charger went silent: nothing confirms its output is off
    unplug = robot.messages('safe_to_unplug')[-1].message
    assert not unplug.safe and 'without confirmation' in unplug.reason, unplug.reason
    battery = robot.wait_topic('battery_state', 10, lambda m: math.isnan(m.current),
                               after=mark)
    assert battery.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_NOT_CHARGING


def _peer(state: str) -> None:
    subprocess.run(['ip', 'netns', 'exec', SECC_NETNS, 'ip', 'link', 'set', 'secc0', state],
                   check=True)


def test_diagnostics_without_link(plc_link, ev_node, robot):
    ev_node()
    robot.wait_for_services()
    wait_diagnostic(robot, 'PLC link', lambda s: level(s) == DiagnosticStatus.OK[0])
    _peer('down')   # the cable is pulled: the EV's end has no carrier
    try:
        down = wait_diagnostic(robot, 'PLC link', lambda s: level(s) == DiagnosticStatus.ERROR[0],
                               timeout=10)
        assert plc_link in diagnostic(down, 'PLC link').message
        assert diagnostic(down, 'PLC link').hardware_id == plc_link
    finally:
        _peer('up')
    wait_diagnostic(robot, 'PLC link', lambda s: level(s) == DiagnosticStatus.OK[0], timeout=10)


class SimClock:
    """Publishes /clock from 1000 s on, advancing with wall time."""

    START = 1000.0

    def __init__(self):
        from rosgraph_msgs.msg import Clock
        self._context = rclpy.Context()
        rclpy.init(context=self._context)
        self.node = rclpy.create_node('sim_clock', context=self._context)
        publisher = self.node.create_publisher(Clock, '/clock', 10)
        began = time.monotonic()

        def tick():
            now = self.START + time.monotonic() - began
            t = Clock()
            t.clock.sec, t.clock.nanosec = int(now), int((now % 1) * 1e9)
            publisher.publish(t)
        self.node.create_timer(0.05, tick)
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    @classmethod
    def wait_until_in_use(cls, client: RosClient, timeout: float = 20.0):
        """Until the node under test stamps with this clock (before its first /clock, 0)."""
        seen = threading.Event()

        def on_array(array):
            if seconds(array.header.stamp) >= cls.START:
                seen.set()
        subscription = client.node.create_subscription(DiagnosticArray, '/diagnostics',
                                                       on_array, 10)
        try:
            assert seen.wait(timeout), 'the node never stamped with the simulated clock'
        finally:
            client.node.destroy_subscription(subscription)

    def close(self):
        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)
        self._thread.join(5)


def test_stamps_follow_the_node_clock(ev_node, robot):
    clock = SimClock()
    try:
        ev_node(use_sim_time=True)
        robot.wait_for_services()
        in_sim = lambda stamp: SimClock.START <= seconds(stamp) < SimClock.START + 600  # noqa
        battery = robot.wait_topic('battery_state', 20, lambda m: seconds(m.header.stamp) > 0)
        assert in_sim(battery.header.stamp), seconds(battery.header.stamp)
        array = robot.wait_topic('diagnostics', 20, lambda m: seconds(m.header.stamp) > 0)
        assert in_sim(array.header.stamp), seconds(array.header.stamp)
        mark = len(robot.messages())
        assert robot.call('update_soc', soc=55.0).success
        state = robot.wait_topic('session_state', 10, lambda m: m.soc == 55.0, after=mark)
        assert in_sim(state.stamp), seconds(state.stamp)
    finally:
        clock.close()


def test_ac_session_safe_to_unplug_after_the_acknowledged_power_off(charger, ev_node, robot):
    charger('ISO_15118_2')
    ev_node()
    robot.wait_for_services()
    mark = len(robot.messages())
    assert robot.call('start_charging', energy_transfer_mode='AC_three_phase_core').success
    robot.wait_topic('session_state', TIMEOUT,
                     lambda m: m.last_charger_message == 'ChargingStatusRes', after=mark)
    assert not robot.messages('safe_to_unplug')[-1].message.safe
    battery = robot.wait_topic('battery_state', 10, after=mark)
    assert math.isnan(battery.current)  # AC chargers report no present current
    assert robot.call('stop_charging').success
    finished = robot.wait_topic('v2g_session_finished', TIMEOUT, after=mark)
    assert finished.reason == SessionFinished.REASON_STOPPED_BY_EV, finished.message
    safe = robot.wait_topic('safe_to_unplug', 10, lambda m: m.safe, after=mark)
    assert 'acknowledged power off' in safe.reason
