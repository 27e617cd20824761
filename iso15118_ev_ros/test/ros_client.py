"""A real rclpy client for the tests: calls the node's services and records its topics in order."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional

import rclpy
from iso15118_ev_msgs import msg, srv
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
EVENTS = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
DISCOVERY_SETTLE_S = 0.5
# A request of each service that the node refuses whatever its state (it changes nothing).
REFUSED_ANYWHERE = {
    'start_charging': {'energy_transfer_mode': ''},
    'set_fault': {'fault': 255},
    'set_dc_params': {},
    'set_bpt_dc_params': {},
    'update_soc': {'soc': -1.0},
}

TOPICS = {
    'session_state': (msg.SessionState, LATCHED),
    'ev_power_ready': (msg.EvPowerReady, LATCHED),
    'v2g_session_finished': (msg.SessionFinished, EVENTS),
    'ac_evse_max_current': (msg.AcEvseMaxCurrent, EVENTS),
    'ac_evse_target_power': (msg.AcTargetPower, EVENTS),
    'dc_power_on': (msg.Event, EVENTS),
    'stop_from_charger': (msg.Event, EVENTS),
    'pause_from_charger': (msg.Event, EVENTS),
    'contract_installed': (msg.Event, EVENTS),
}
SERVICES = {
    'start_charging': srv.StartCharging, 'stop_charging': srv.StopCharging,
    'pause_charging': srv.PauseCharging, 'set_fault': srv.SetFault,
    'set_dc_params': srv.SetDcParams, 'set_bpt_dc_params': srv.SetBptDcParams,
    'enable_sae_j2847_v2g_v2h': srv.EnableSaeJ2847V2gV2h, 'update_soc': srv.UpdateSoc,
}


@dataclass
class Received:
    topic: str
    message: Any
    at: float          # time.monotonic() on arrival

    @property
    def stamp(self) -> float:
        """When the node stamped it: the order of events across topics."""
        return self.message.stamp.sec + self.message.stamp.nanosec * 1e-9

    def describe(self) -> str:
        m = self.message
        if self.topic == 'session_state':
            return f'session_state:{m.phase_text}'
        if self.topic == 'ev_power_ready':
            return f'ev_power_ready:{m.ready}'
        if self.topic == 'v2g_session_finished':
            return f'v2g_session_finished:{m.reason_text}'
        return self.topic


class RosClient:
    def __init__(self, name: str = 'iso15118_ev_test_client'):
        self._context = rclpy.Context()
        rclpy.init(context=self._context)
        self.node = rclpy.create_node(name, context=self._context)
        self.received: List[Received] = []
        self._lock = threading.Lock()
        for topic, (kind, qos) in TOPICS.items():
            self.node.create_subscription(kind, topic, self._recorder(topic), qos)
        self._clients = {name: self.node.create_client(kind, name)
                         for name, kind in SERVICES.items()}
        self._executor = SingleThreadedExecutor(context=self._context)
        self._executor.add_node(self.node)
        self._thread = threading.Thread(target=self._executor.spin, daemon=True)
        self._thread.start()

    def _recorder(self, topic):
        def record(message):
            with self._lock:
                self.received.append(Received(topic, message, time.monotonic()))
        return record

    def close(self):
        self._executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self._context)
        self._thread.join(5)

    # --- services --------------------------------------------------------------------------
    def wait_for_services(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for name, client in self._clients.items():
            assert client.wait_for_service(max(deadline - time.monotonic(), 0.1)), \
                f'service {name} did not appear within {timeout} s'
        # wait_for_service sees the node's request readers; the node must also have discovered
        # our response readers, or rmw_fastrtps drops its answer ("failed to send response").
        # Requests the node refuses in any state are repeated until answered; the services
        # without one get time.
        for name, fields in REFUSED_ANYWHERE.items():
            self._warm_up(name, fields, deadline)
        time.sleep(DISCOVERY_SETTLE_S)

    def _warm_up(self, name: str, fields: dict, deadline: float) -> None:
        while True:
            future = self._clients[name].call_async(SERVICES[name].Request(**fields))
            done = threading.Event()
            future.add_done_callback(lambda _f: done.set())
            if done.wait(1.0):
                assert not future.result().success, f'{name} warm-up was not refused'
                return
            assert time.monotonic() < deadline, f'{name} never answered'

    def call(self, name: str, timeout: float = 5.0, **fields):
        request = SERVICES[name].Request(**fields)
        future = self._clients[name].call_async(request)
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        assert done.wait(timeout), f'{name} did not answer within {timeout} s'
        return future.result()

    # --- topics ---------------------------------------------------------------------------
    def messages(self, topic: Optional[str] = None) -> List[Received]:
        with self._lock:
            return [r for r in self.received if topic is None or r.topic == topic]

    def wait_for(self, predicate: Callable[[Received], bool], timeout: float,
                 what: str = 'message', after: int = 0) -> Received:
        """The first recorded message (from index `after` on) satisfying predicate."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                for r in self.received[after:]:
                    if predicate(r):
                        return r
            if time.monotonic() > deadline:
                seen = ', '.join(self.timeline()[-15:])
                raise AssertionError(f'no {what} within {timeout} s; last seen: {seen}')
            time.sleep(0.02)

    def wait_topic(self, topic: str, timeout: float, check=lambda m: True, after: int = 0):
        return self.wait_for(lambda r: r.topic == topic and check(r.message), timeout,
                             what=topic, after=after).message

    def wait_phase(self, phase_text: str, timeout: float, after: int = 0):
        return self.wait_topic('session_state', timeout, lambda m: m.phase_text == phase_text,
                               after)

    def timeline(self) -> List[str]:
        """Messages in the node's stamp order as short names; session_state on phase changes.

        Arrival order across topics is not guaranteed by DDS; the node's stamps are.
        """
        out, last_phase = [], None
        for r in sorted(self.messages(), key=lambda r: r.stamp):
            if r.topic == 'session_state':
                if r.message.phase_text == last_phase:
                    continue
                last_phase = r.message.phase_text
            out.append(r.describe())
        return out
