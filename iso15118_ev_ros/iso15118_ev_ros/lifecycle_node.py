"""The EV node as a lifecycle (managed) node: the same ROS side as the plain node (EvWiring),
brought up and down by lifecycle transitions.

    unconfigured --configure--> inactive: parameters read and checked, PLC interface resolved,
                                EvccCore created (not started); no EV services or topics
    inactive --activate--> active: EvWiring (publishers, services, composed modules), core started
    active --deactivate--> inactive: a running session ends in order (bounded, as at shutdown),
                                its last events are delivered, the wiring is destroyed
    inactive --cleanup--> unconfigured;  any --shutdown--> finalized (deactivating first)

`autostart` (default true) configures and activates at start: one command, as the plain node.
A transition that fails logs one line and leaves the node where it was; a defect (an
unexpected exception) is logged in full and ends in unconfigured with everything released.
"""
from __future__ import annotations

import sys
import time
import traceback
from typing import Optional

import rclpy
from rcl_interfaces.msg import ParameterDescriptor, ParameterType, SetParametersResult
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.impl.implementation_singleton import rclpy_implementation
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn

from iso15118_ev.session.core import EvccCore
from iso15118_ev.transport.link import PlcInterfaceError
from .node import PUBLISH_GRACE_S, SHUTDOWN_TIMEOUT_S, init_stopping_on_signals
from .node_parameters import LIVE, ParameterError, declare, to_settings
from .wiring import EvWiring, create_core, ready_line

SUCCESS = TransitionCallbackReturn.SUCCESS
FAILURE = TransitionCallbackReturn.FAILURE
ERROR = TransitionCallbackReturn.ERROR
FLUSH_TIMEOUT_S = 2.0   # for readers to acknowledge the last events before the wiring goes
LIFECYCLE_PARAMETERS = {
    'autostart': (True, ParameterDescriptor(
        type=ParameterType.PARAMETER_BOOL, read_only=True,
        description='Configure and activate at start; false: wait for lifecycle transitions')),
}
EXPECTED = (ParameterError, PlcInterfaceError)


class Iso15118EvLifecycleNode(LifecycleNode):
    def __init__(self, **kwargs):
        super().__init__('iso15118_ev', **kwargs)
        self.autostart = declare(self, LIFECYCLE_PARAMETERS)['autostart']
        self.core: Optional[EvccCore] = None      # created on configure, started on activate
        self.wiring: Optional[EvWiring] = None    # exists while active
        self.finalized = False
        self._declaring = False
        self.add_on_set_parameters_callback(self._refuse_unless_active)
        self._guard_change_state()

    def _guard_change_state(self) -> None:
        """Jazzy's rclpy raises out of the ChangeState service on a transition the current
        state has not (e.g. activate when unconfigured), killing the node: answer
        success=false instead, as Kilted's does."""
        service = getattr(self, '_service_change_state', None)
        if service is None:
            return
        change = service.callback

        def guarded(request, response):
            try:
                return change(request, response)
            except rclpy_implementation.RCLError as exc:
                asked = request.transition.label or request.transition.id
                self.get_logger().warning(
                    f'transition {asked} refused: {str(exc).splitlines()[0]}')
                response.success = False
                return response
        service.callback = guarded

    def declare_parameter(self, name, value=None, descriptor=None, ignore_override=False):
        """Declared once: configure and activate run again after cleanup / deactivate."""
        if self.has_parameter(name):
            return self.get_parameter(name)
        return super().declare_parameter(name, value, descriptor, ignore_override)

    def _refuse_unless_active(self, parameters) -> SetParametersResult:
        """Live parameters change the running EV (EvWiring checks and applies them)."""
        live = [p.name for p in parameters if p.name in LIVE]
        if live and self.wiring is None and not self._declaring:
            return SetParametersResult(
                successful=False, reason=f'{live[0]}: the EV is not active; dc.*, bpt.* and '
                'initial_soc change only while active')
        return SetParametersResult(successful=True)

    def start(self) -> bool:
        """autostart: configure, then activate."""
        return (self.trigger_configure() == SUCCESS and self.trigger_activate() == SUCCESS)

    # --- transitions ----------------------------------------------------------------------
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition('configure', self._configure)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition('activate', self._activate)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition('deactivate', self._stop)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        return self._transition('cleanup', self._release)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        self.finalized = True   # whatever happens: the state machine goes to finalized
        return self._transition('shutdown', self._release)

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        try:
            self._release()
        except Exception:   # noqa: BLE001 - releasing regardless
            self.get_logger().error(f'error recovery: {traceback.format_exc()}')
            self.core = self.wiring = None
        return SUCCESS   # back to unconfigured

    def _transition(self, name, step) -> TransitionCallbackReturn:
        try:
            step()
        except EXPECTED as exc:
            self.get_logger().error(f'{name} failed: {exc}')
            return FAILURE
        except Exception:   # a defect: logged in full; on_error releases everything
            self.get_logger().error(f'{name} failed (a defect): {traceback.format_exc()}')
            return ERROR
        return SUCCESS

    def _configure(self) -> None:
        self.core = self._new_core()
        self.get_logger().info(f'configured: EV on {self.core.iface} (activate to start it)')

    def _new_core(self) -> EvccCore:
        """From the parameters' current values (live ones may have changed while active)."""
        self._declaring = True   # declaring runs the set-parameter callbacks
        try:
            values = declare(self)
        finally:
            self._declaring = False
        return create_core(self, to_settings(values), self._on_core_event)

    def _activate(self) -> None:
        if self.core is None:       # spent by a deactivate: a fresh one, same parameters
            self.core = self._new_core()
        self.wiring = EvWiring(self, self.core)
        try:
            self.core.start()
        except BaseException:
            self._drop_wiring()
            raise
        self.get_logger().info(ready_line(self.core))

    def _stop(self) -> None:
        """A running session ends in order (bounded), its last events reach the readers, then
        the EV's services and topics go. The core is spent: activate makes a fresh one."""
        if self.core is not None and self.wiring is not None:
            self.get_logger().info('deactivating: a running session ends in order first')
            self.core.shutdown(SHUTDOWN_TIMEOUT_S)
            self.core = None
            self.wiring.flush(FLUSH_TIMEOUT_S)
        self._drop_wiring()

    def _release(self) -> None:
        self._stop()
        self.core = None

    def _drop_wiring(self) -> None:
        wiring, self.wiring = self.wiring, None
        if wiring is not None:
            wiring.close()

    def _on_core_event(self, event) -> None:
        wiring = self.wiring
        if wiring is not None:
            wiring.on_core_event(event)

    def destroy_node(self):
        if self.core is not None and self.wiring is not None:
            self.core.shutdown()
        super().destroy_node()


def main(args=None) -> int:
    """Spin until SIGINT/SIGTERM or the shutdown transition; shut down (ending a running
    session in order when active, delivering how it ended) and exit."""
    stop = init_stopping_on_signals(args)
    node = None
    try:
        node = Iso15118EvLifecycleNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        if node.autostart and not node.start():
            node.get_logger().warning('autostart did not reach active; the node waits for '
                                      'lifecycle transitions')
        while not stop.is_set() and rclpy.ok() and not node.finalized:
            executor.spin_once(timeout_sec=0.1)
        if not node.finalized:
            node.get_logger().info('shutting down')
            node.trigger_shutdown()
        _spin_for(executor, PUBLISH_GRACE_S)   # e.g. the answer to the shutdown transition
    except ParameterError as exc:
        print(f'iso15118_ev: cannot start: {exc}', file=sys.stderr)
        return 1
    except ExternalShutdownException:
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _spin_for(executor, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)


if __name__ == '__main__':
    sys.exit(main())
