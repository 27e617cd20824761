"""/diagnostics in the diagnostic_updater pattern (diagnostic_updater is not available as a wheel).

`Status` is what a task fills (level, message, key/values); `Updater` holds named tasks and,
attached to a node by composition, publishes one DiagnosticArray per period (the node's
heartbeat) or on `force_update()`. The EV's tasks (`ev_tasks`) are plain functions of the
session snapshot and the PLC interface: no ROS in their logic.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from iso15118_ev.session.data_link import SlacStatus
from iso15118_ev.session.events import SessionSnapshot
from iso15118_ev.slac.ev import SlacState
from iso15118_ev.vocabulary import Phase

OK, WARN, ERROR, STALE = 0, 1, 2, 3
# A round trip above this share of its message timeout is a warning.
ROUND_TRIP_WARN_RATIO = 0.8
ERROR_END_REASONS = frozenset({'timeout', 'protocol_error', 'connection_lost', 'security_error',
                               'internal_error', 'authorization_failed', 'slac_failed'})
# Ended without the protocol's orderly stop, but by the EV's own hand (abort, pilot, unplug).
WARN_END_REASONS = frozenset({'aborted', 'unplugged'})
CONNECTED_PHASES = frozenset(p for p in Phase if Phase.CONNECTED <= p <= Phase.STOPPING)


@dataclass
class Status:
    level: int = OK
    message: str = ''
    values: List[Tuple[str, str]] = field(default_factory=list)

    def summary(self, level: int, message: str) -> None:
        self.level, self.message = level, message

    def add(self, key: str, value) -> None:
        self.values.append((key, _text(value)))


Task = Callable[[Status], None]


class Updater:
    """Named tasks, each filling a Status; published as DiagnosticArray on /diagnostics."""

    def __init__(self, node, hardware_id: str, period_s: float = 1.0,
                 topic: str = '/diagnostics'):
        from diagnostic_msgs.msg import DiagnosticArray
        self.node = node
        self.hardware_id = hardware_id
        self.tasks: List[Tuple[str, Task]] = []
        self._publisher = node.create_publisher(DiagnosticArray, topic, 10)
        self._timer = node.create_timer(period_s, self.force_update)

    def add(self, name: str, task: Task) -> None:
        self.tasks.append((name, task))

    def run(self) -> List[Tuple[str, Status]]:
        out = []
        for name, task in self.tasks:
            status = Status()
            try:
                task(status)
            except Exception as exc:  # a defect in a task must not stop the heartbeat
                status = Status(ERROR, f'diagnostic task failed: {exc!r}')
            out.append((f'{self.node.get_name()}: {name}', status))
        return out

    def force_update(self) -> None:
        from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
        from std_msgs.msg import Header
        array = DiagnosticArray(header=Header(stamp=self.node.get_clock().now().to_msg()))
        for name, status in self.run():
            array.status.append(DiagnosticStatus(
                level=bytes([status.level]), name=name, message=status.message,
                hardware_id=self.hardware_id,
                values=[KeyValue(key=k, value=v) for k, v in status.values]))
        self._publisher.publish(array)


# --- the EV's tasks ------------------------------------------------------------------------
def interface_state(iface: str, sys_net: str = '/sys/class/net',
                    if_inet6: str = '/proc/net/if_inet6') -> Tuple[Optional[str], List[str]]:
    """(operstate or None when the interface is missing, its IPv6 link-local addresses)."""
    try:
        with open(os.path.join(sys_net, iface, 'operstate')) as f:
            operstate = f.read().strip()
    except OSError:
        return None, []
    addresses = []
    try:
        with open(if_inet6) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 6 and parts[5] == iface and parts[0].startswith('fe80'):
                    hexa = parts[0]
                    addresses.append(':'.join(hexa[i:i + 4] for i in range(0, 32, 4)))
    except OSError:
        pass
    return operstate, addresses


def plc_link_task(iface: str, read=interface_state) -> Task:
    def task(status: Status) -> None:
        operstate, addresses = read(iface)
        status.add('interface', iface)
        status.add('operstate', operstate or 'missing')
        status.add('link-local address', ', '.join(addresses) or 'none')
        if operstate is None:
            status.summary(ERROR, f'interface {iface} is missing')
        elif operstate not in ('up', 'unknown'):
            status.summary(ERROR, f'no link on {iface} ({operstate})')
        elif not addresses:
            status.summary(WARN, f'{iface} is up without an IPv6 link-local address')
        else:
            status.summary(OK, f'{iface} up, {addresses[0]}')
    return task


def charger_connection_task(snapshot: Callable[[], SessionSnapshot]) -> Task:
    def task(status: Status) -> None:
        s = snapshot()
        status.add('phase', s.phase.name.lower())
        status.add('tls', s.tls)
        status.add('protocol', s.protocol)
        if s.phase in CONNECTED_PHASES:
            security = 'TLS' if s.tls else 'TCP without TLS'
            status.summary(OK, f'connected over {security}, protocol {s.protocol or "not agreed yet"}')
        elif s.phase == Phase.DISCOVERING:
            status.summary(OK, 'looking for a charger (SDP)')
        else:
            status.summary(OK, 'not connected (no session running)')
    return task


def session_task(snapshot: Callable[[], SessionSnapshot]) -> Task:
    def task(status: Status) -> None:
        s = snapshot()
        phase = s.phase.name.lower()
        rtt, timeout = s.round_trip_s, s.message_timeout_s
        ratio = rtt / timeout if math.isfinite(rtt) and math.isfinite(timeout) and timeout > 0 \
            else math.nan
        for key, value in (('phase', phase), ('protocol', s.protocol),
                           ('last charger message', s.last_charger_message),
                           ('round trip time (s)', rtt), ('message timeout (s)', timeout),
                           ('round trip / timeout', ratio), ('fault', s.fault)):
            status.add(key, value)
        active = s.phase not in (Phase.IDLE, Phase.PAUSED, Phase.FINISHED)
        if active and math.isfinite(ratio) and ratio > ROUND_TRIP_WARN_RATIO:
            status.summary(WARN, f'{phase}: {s.last_charger_message} took {rtt:.3f} s, '
                                 f'{ratio:.0%} of its {timeout:g} s timeout')
        elif active and s.fault:
            status.summary(WARN, f'{phase}: fault {s.fault} armed')
        elif active and math.isfinite(ratio):
            status.summary(OK, f'{phase} ({s.protocol}): round trip {rtt:.3f} s, '
                               f'{ratio:.0%} of its timeout')
        else:
            status.summary(OK, phase)
    return task


def last_error_task(snapshot: Callable[[], SessionSnapshot]) -> Task:
    def task(status: Status) -> None:
        s = snapshot()
        reason = s.last_end_reason
        status.add('last end reason', reason or 'none')
        status.add('last end message', s.last_end_message)
        if reason in ERROR_END_REASONS:
            status.summary(ERROR, f'last session ended: {reason}: {s.last_end_message}')
        elif reason in WARN_END_REASONS:
            status.summary(WARN, f'last session ended without SessionStop: {reason}: '
                                 f'{s.last_end_message}')
        elif reason:
            status.summary(OK, f'last session ended: {reason}')
        else:
            status.summary(OK, 'no session has ended yet')
    return task


def slac_task(slac: Callable[[], SlacStatus]) -> Task:
    """SLAC (with slac.enabled): a failed matching is an error until the next one."""
    def task(status: Status) -> None:
        s = slac()
        status.add('state', s.state.value)
        status.add('charger MAC', s.charger_mac or 'none')
        status.add('attenuation (dB)', '' if math.isnan(s.attenuation_db)
                   else f'{s.attenuation_db:.1f}')
        if s.state == SlacState.FAILED:
            status.summary(ERROR, f'SLAC failed ({s.failure}): {s.message}')
        elif s.state == SlacState.MATCHED:
            status.summary(OK, f'matched with {s.charger_mac} at {s.attenuation_db:.1f} dB')
        else:
            status.summary(OK, s.state.value + (f': {s.message}' if s.message else ''))
    return task


def ev_tasks(iface: str, snapshot: Callable[[], SessionSnapshot],
             slac: Optional[Callable[[], SlacStatus]] = None):
    """The EV's tasks; `slac` (the data link's status) only when SLAC is on."""
    tasks = [('PLC link', plc_link_task(iface))]
    if slac is not None:
        tasks.append(('SLAC', slac_task(slac)))
    return tasks + [('charger connection', charger_connection_task(snapshot)),
                    ('session', session_task(snapshot)),
                    ('last error', last_error_task(snapshot))]


def _text(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return 'nan' if math.isnan(value) else f'{value:g}'
    return str(value)
