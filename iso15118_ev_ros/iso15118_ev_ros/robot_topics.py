"""The robot-facing topics, attached to the node by composition: battery_state,
safe_to_unplug and /diagnostics. Fed with every session snapshot the node publishes; the
steady timers run on the node's clock (ROS time: with use_sim_time they follow /clock)."""
from __future__ import annotations

from iso15118_ev_msgs import msg
from rcl_interfaces.msg import FloatingPointRange, ParameterDescriptor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from iso15118_ev.session.events import SessionSnapshot

from . import battery, conversions as conv, diagnostics
from .unplug import SafeToUnplug

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
SENSOR = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DIAGNOSTICS_PERIOD_S = 1.0


class RobotTopics:
    def __init__(self, node, iface: str, slac=None):
        """`slac`: the data link's SlacStatus getter when SLAC is on (a diagnostics task)."""
        self.node = node
        self.iface = iface
        rate = node.declare_parameter(
            'battery_state_rate', 1.0, ParameterDescriptor(
                description='Hz, steady rate of battery_state (it is also published on change)',
                read_only=True, floating_point_range=[
                    FloatingPointRange(from_value=0.1, to_value=100.0)])).value
        self.snapshot = SessionSnapshot()
        self._have_snapshot = False   # battery_state waits for the EV's first snapshot
        from sensor_msgs.msg import BatteryState
        self._battery_pub = node.create_publisher(BatteryState, 'battery_state', SENSOR)
        self._unplug_pub = node.create_publisher(msg.SafeToUnplug, 'safe_to_unplug', LATCHED)
        self._unplug = SafeToUnplug()
        self._last_battery = None
        self._last_unplug = None
        node.create_timer(1.0 / rate, self.publish_battery)
        self.diagnostics = diagnostics.Updater(node, iface, DIAGNOSTICS_PERIOD_S)
        for name, task in diagnostics.ev_tasks(iface, lambda: self.snapshot, slac):
            self.diagnostics.add(name, task)

    def _now(self):
        return self.node.get_clock().now().to_msg()

    def on_snapshot(self, snapshot: SessionSnapshot) -> None:
        self.snapshot = snapshot
        self._have_snapshot = True
        if battery.battery_values(snapshot).key() != self._last_battery:
            self.publish_battery()
        unplug = self._unplug.update(snapshot)
        if unplug != self._last_unplug:
            self._last_unplug = unplug
            self._unplug_pub.publish(conv.safe_to_unplug(*unplug, self._now()))

    def publish_battery(self) -> None:
        if not self._have_snapshot:
            return
        values = battery.battery_values(self.snapshot)
        self._last_battery = values.key()
        self._battery_pub.publish(battery.to_msg(values, self._now(), self.iface))
