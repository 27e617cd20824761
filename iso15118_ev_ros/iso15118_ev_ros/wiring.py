"""The node's ROS side over one EvccCore, shared by the plain and the lifecycle node:
publishers, services, live-parameter callbacks, the composed modules (robot topics, SLAC
topics, ...) and event publishing.

Service callbacks hand commands to the core and return at once. The core's events arrive on
its own thread; they are queued and published from the executor via a guard condition, so
the core never waits on ROS and ROS never waits on the network.
"""
from __future__ import annotations

import queue
import time

from iso15118_ev_msgs import msg, srv
from rcl_interfaces.msg import SetParametersResult
from rclpy.duration import Duration
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from iso15118_ev.session import events as ev
from iso15118_ev.session.core import EvccCore
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.transport.link import AUTO
from iso15118_ev.vehicle.parameters import (DC_EV_BOUNDS, DC_EV_BPT_BOUNDS, SOC_BOUND,
                                            InvalidRequest, check_value, updated)
from iso15118_ev.vocabulary import CommandCode

from . import conversions as conv
from .charge_action import ChargeAction
from .entity_scope import EntityScope
from .everest_services import EverestServices
from .node_parameters import LIVE
from .robot_topics import RobotTopics
from .slac_topics import SlacTopics
from .trace_topics import TraceTopics, trace_settings

LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)
EVENTS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Requests wait in the service's reader until the executor takes them: deep enough for bursts
# of hundreds of concurrent calls (each answered at once), so none is dropped.
SERVICES = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
MESSAGE_LIMIT = 400   # characters of a response message and its log line


def short(text: str, limit: int = MESSAGE_LIMIT) -> str:
    return text if len(text) <= limit else text[:limit] + '…'


def create_core(node, settings: EvSettings, sink) -> EvccCore:
    """The EV's core (not started); raises PlcInterfaceError. Logs what `auto` chose."""
    core = EvccCore(trace_settings(node, settings), sink)
    if settings.plc_interface == AUTO:
        node.get_logger().info(f'plc_interface "auto" chose {core.iface}: the only interface '
                               'with IPv6 link-local, not lo, without a default route')
    return core


def ready_line(core: EvccCore) -> str:
    return f'EV ready on {core.iface}; protocols {" > ".join(core.ev.settings.protocols)}'


class EvWiring:
    """Everything the node exposes for `core`; `close()` destroys it again (lifecycle)."""

    def __init__(self, node, core: EvccCore):
        self.node, self.core = node, core
        self._syncing = False
        self._events: queue.SimpleQueue = queue.SimpleQueue()
        self._scope = EntityScope(node)
        try:
            self._publishers_by_event = self._create_publishers()
            self._guard = node.create_guard_condition(self._publish_events)
            # Composed modules attach here (created on activate, destroyed on deactivate).
            link = core.ev.data_link
            self.robot_topics = RobotTopics(node, core.iface,
                                            (lambda: link.status) if link.enabled else None)
            self.trace_topics = TraceTopics(node)
            self.charge_action = ChargeAction(
                node, core, lambda changes: self._set_live('dc.', core.set_dc_params, changes))
            self._create_services()
            self.everest_services = EverestServices(node, core, self._answer, SERVICES)
            self.slac_topics = SlacTopics(node, core, self._answer, SERVICES, LATCHED)
            self._publishers_by_event.update(self.slac_topics.publishers)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Destroy every entity and parameter callback created here, composed modules' too."""
        self._scope.destroy()

    def _create_publishers(self):
        pub = self.node.create_publisher
        return {
            ev.SessionSnapshot: (pub(msg.SessionState, 'session_state', LATCHED), conv.session_state),
            ev.PowerReady: (pub(msg.EvPowerReady, 'ev_power_ready', LATCHED), conv.power_ready),
            ev.SessionFinished: (pub(msg.SessionFinished, 'v2g_session_finished', LATCHED),
                                 conv.session_finished),
            ev.AcEvseMaxCurrent: (pub(msg.AcEvseMaxCurrent, 'ac_evse_max_current', EVENTS),
                                  conv.ac_evse_max_current),
            ev.AcTargetPower: (pub(msg.AcTargetPower, 'ac_evse_target_power', EVENTS),
                               conv.ac_target_power),
            ev.DcPowerOn: (pub(msg.Event, 'dc_power_on', EVENTS), conv.edge),
            ev.StopFromCharger: (pub(msg.Event, 'stop_from_charger', EVENTS), conv.edge),
            ev.PauseFromCharger: (pub(msg.Event, 'pause_from_charger', EVENTS), conv.edge),
            ev.ContractInstalled: (pub(msg.Event, 'contract_installed', EVENTS), conv.edge),
        }

    def _create_services(self):
        core, node = self.core, self.node
        simple = {
            'stop_charging': (srv.StopCharging, core.stop_charging),
            'pause_charging': (srv.PauseCharging, core.pause_charging),
            'enable_sae_j2847_v2g_v2h': (srv.EnableSaeJ2847V2gV2h, core.enable_sae_j2847_v2g_v2h),
        }
        for name, (kind, command) in simple.items():
            node.create_service(kind, name, self._answer(name, lambda _req, c=command: c()),
                                qos_profile=SERVICES)
        with_args = {
            'start_charging': (srv.StartCharging, self._start_charging),
            'set_fault': (srv.SetFault, lambda r: core.set_fault(r.fault)),
            'set_dc_params': (srv.SetDcParams, lambda r: self._set_live(
                'dc.', core.set_dc_params, conv.dc_changes(r.parameters))),
            'set_bpt_dc_params': (srv.SetBptDcParams, lambda r: self._set_live(
                'bpt.', core.set_bpt_dc_params, conv.bpt_changes(r.parameters))),
            'update_soc': (srv.UpdateSoc, lambda r: self._set_live(
                '', lambda c: core.update_soc(c['initial_soc']), {'initial_soc': r.soc})),
        }
        for name, (kind, command) in with_args.items():
            node.create_service(kind, name, self._answer(name, command), qos_profile=SERVICES)
        node.add_pre_set_parameters_callback(self._integers_as_doubles)
        node.add_on_set_parameters_callback(self._on_set_parameters)

    def _start_charging(self, request) -> ev.CommandResult:
        try:
            return self.core.start_charging(conv.start_request(request))
        except InvalidRequest as exc:
            return ev.CommandResult.refused(exc.code, str(exc))

    def _answer(self, name, command):
        logger = self.node.get_logger()

        def callback(request, response):
            try:
                result = command(request)
            except Exception as exc:  # a defect must answer, not kill the node
                logger.error(f'{name} failed: {short(repr(exc))}')
                result = ev.CommandResult.refused(CommandCode.INTERNAL_ERROR,
                                                  f'internal error: {exc!r}')
            response.success, response.code = result.success, int(result.code)
            response.message = short(result.message)
            if result.success:
                logger.info(f'{name}: {response.message}')
            else:
                logger.warning(f'{name} refused ({result.code.name.lower()}): {response.message}')
            return response
        return callback

    # --- live parameters (dc.*, bpt.*, initial_soc) ------------------------------------------
    def _set_live(self, prefix, command, changes) -> ev.CommandResult:
        """Run a command that changes live values; on success, set the parameters to match
        (without checking them again: the command did)."""
        result = command(changes)
        if result.success:
            self._syncing = True
            try:
                self.node.set_parameters([Parameter(prefix + name, value=float(value))
                                          for name, value in changes.items()])
            finally:
                self._syncing = False
        return result

    @staticmethod
    def _integers_as_doubles(parameters):
        """`ros2 param set /iso15118_ev dc.target_voltage 400` sends an integer: take it as
        400.0 for the live (double) parameters."""
        return [Parameter(p.name, Parameter.Type.DOUBLE, float(p.value))
                if p.name in LIVE and p.type_ == Parameter.Type.INTEGER else p
                for p in parameters]

    def _on_set_parameters(self, parameters) -> SetParametersResult:
        """`ros2 param set` of dc.*, bpt.* or initial_soc: checked with the library's rules as a
        whole, then applied like the services; refused (changing nothing) otherwise."""
        if self._syncing:
            return SetParametersResult(successful=True)
        groups = {'dc.': {}, 'bpt.': {}, 'soc': {}}
        for parameter in parameters:
            if parameter.name not in LIVE:
                return SetParametersResult(successful=False,
                                           reason=f'{parameter.name} is read-only')
            if parameter.name == 'initial_soc':
                groups['soc']['soc'] = parameter.value
            else:
                prefix, field = parameter.name.split('.', 1)
                groups[prefix + '.'][field] = parameter.value
        model = self.core.ev.model
        try:   # check every group before applying any
            if groups['dc.']:
                updated(model.dc, groups['dc.'], DC_EV_BOUNDS)
            if groups['bpt.']:
                updated(model.bpt, groups['bpt.'], DC_EV_BPT_BOUNDS)
            if groups['soc']:
                check_value('initial_soc', groups['soc']['soc'], SOC_BOUND)
        except InvalidRequest as exc:
            self.node.get_logger().warning(f'parameter change refused: {short(str(exc))}')
            return SetParametersResult(successful=False, reason=short(str(exc)))
        for group, command in (('dc.', self.core.set_dc_params),
                               ('bpt.', self.core.set_bpt_dc_params),
                               ('soc', lambda c: self.core.update_soc(c['soc']))):
            if groups[group]:
                result = command(groups[group])
                if not result.success:
                    return SetParametersResult(successful=False, reason=short(result.message))
                self.node.get_logger().info(f'parameters: {result.message}')
        return SetParametersResult(successful=True)

    # --- core -> ROS ---------------------------------------------------------------------
    def on_core_event(self, event) -> None:
        """Called on the core's thread: queue and wake the executor, nothing more."""
        self._events.put(event)
        self._guard.trigger()

    def _publish_events(self) -> None:
        while True:
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                return
            if self.trace_topics.publish(event):
                continue
            entry = self._publishers_by_event.get(type(event))
            if entry is None:
                continue
            publisher, convert = entry
            publisher.publish(convert(event, self.node.get_clock().now().to_msg()))
            if isinstance(event, ev.SessionSnapshot):
                self.robot_topics.on_snapshot(event)
            self.charge_action.on_event(event)
            if isinstance(event, ev.SessionFinished):
                self.node.get_logger().info(
                    f'v2g_session_finished: {event.reason.name.lower()}: {event.message}')

    def events_pending(self) -> bool:
        return not self._events.empty()

    def flush(self, timeout_s: float) -> None:
        """On the executor's thread, before close(): publish what is queued and wait (bounded)
        until every reader has it, since destroying a writer drops what it has not sent."""
        self._publish_events()
        deadline = time.monotonic() + timeout_s
        for publisher in self._scope.created('publishers'):
            left = max(deadline - time.monotonic(), 0.0)
            publisher.wait_for_all_acked(Duration(nanoseconds=int(left * 1e9)))
