"""The V2G trace topics, attached to the node by composition: v2g_messages (every message sent
or received) and the charger's present DC values (dc_evse_present_voltage / _current).

Their stamps are when the message was sent or received, on the node's clock (ROS time, so
use_sim_time works): the EV's session reads that clock itself at those moments.
"""
from __future__ import annotations

import dataclasses
import math
import time

from builtin_interfaces.msg import Time
from iso15118_ev_msgs import msg
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.qos import QoSProfile, ReliabilityPolicy

from iso15118_ev.session.events import DcEvsePresent, V2gMessage
from iso15118_ev.session.settings import EvSettings

# Deep enough that a burst (a session's start: a dozen messages at once) is not lost.
TRACE = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
SENSOR = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
DEBUG_PARAMETER = 'v2g_messages_debug'


def trace_settings(node, settings: EvSettings) -> EvSettings:
    """The EV's settings with this node's trace detail and clock (before the core is made)."""
    debug = node.declare_parameter(DEBUG_PARAMETER, False, ParameterDescriptor(
        description='v2g_messages also carry each message decoded (JSON) and its raw EXI '
                    'bytes (costs a JSON rendering per message)',
        read_only=True)).value
    return dataclasses.replace(settings, v2g_messages_debug=debug,
                               trace_clock=_clock_seconds(node.get_clock()))


def _clock_seconds(clock):
    def read() -> float:
        """The node's clock, read on the EV's thread (a read: it never waits on ROS). Without
        sim time it is the system clock, and time.time() reads that 2-3x faster."""
        if not clock.ros_time_is_active:
            return time.time()
        return clock.now().nanoseconds * 1e-9
    return read


class TraceTopics:
    def __init__(self, node):
        self._messages = node.create_publisher(msg.V2gMessage, 'v2g_messages', TRACE)
        self._voltage = node.create_publisher(msg.DcEvsePresentVoltage,
                                              'dc_evse_present_voltage', SENSOR)
        self._current = node.create_publisher(msg.DcEvsePresentCurrent,
                                              'dc_evse_present_current', SENSOR)

    def publish(self, event) -> bool:
        """Publish `event` if it is one of the trace's; whether it was."""
        if isinstance(event, V2gMessage):
            self._messages.publish(v2g_message(event, stamp(event.stamp)))
        elif isinstance(event, DcEvsePresent):
            self._publish_dc(event)
        else:
            return False
        return True

    def _publish_dc(self, event: DcEvsePresent) -> None:
        at = stamp(event.stamp)
        if not math.isnan(event.voltage):
            self._voltage.publish(msg.DcEvsePresentVoltage(stamp=at, voltage=event.voltage,
                                                           message=event.message))
        if not math.isnan(event.current):
            self._current.publish(msg.DcEvsePresentCurrent(stamp=at, current=event.current,
                                                           message=event.message))


def stamp(seconds: float) -> Time:
    nanoseconds = round(seconds * 1e9)
    return Time(sec=nanoseconds // 1_000_000_000, nanosec=nanoseconds % 1_000_000_000)


def v2g_message(event: V2gMessage, at: Time) -> msg.V2gMessage:
    return msg.V2gMessage(stamp=at, direction=int(event.direction), protocol=event.protocol,
                          name=event.name, session_id=event.session_id,
                          exi_namespace=event.namespace, decoded=event.decoded,
                          raw_exi=event.raw)
