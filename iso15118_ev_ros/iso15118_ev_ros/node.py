"""The ROS 2 node: EVerest's ISO15118_ev interface as services and topics over the EVCC core.

The ROS side (publishers, services, parameters, composed modules, event publishing) is
`wiring.EvWiring`, shared with the lifecycle node (lifecycle_node.py).
"""
from __future__ import annotations

import signal
import sys
import threading
import time

import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions

from iso15118_ev.transport.link import PlcInterfaceError
from .node_parameters import ParameterError, declare, to_settings
from .wiring import EvWiring, create_core, ready_line

SHUTDOWN_TIMEOUT_S = 5.0
# After the last event is published, DDS still has to send it (reliable, to every reader).
PUBLISH_GRACE_S = 0.5


class Iso15118EvNode(Node):
    def __init__(self, **kwargs):
        super().__init__('iso15118_ev', **kwargs)
        settings = to_settings(declare(self))
        self.core = create_core(self, settings, self._on_core_event)
        self.wiring = EvWiring(self, self.core)   # composed modules attach in EvWiring
        self.core.start()
        self.get_logger().info(ready_line(self.core))

    def _on_core_event(self, event) -> None:
        self.wiring.on_core_event(event)

    def shutdown_ev(self, timeout: float = SHUTDOWN_TIMEOUT_S) -> None:
        """End a running session the protocol's orderly way (bounded); its events stay queued."""
        self.core.shutdown(timeout)

    def events_pending(self) -> bool:
        return self.wiring.events_pending()

    def destroy_node(self):
        core = getattr(self, 'core', None)  # absent when __init__ failed
        if core is not None:
            core.shutdown()  # no-op after shutdown_ev
        super().destroy_node()


def init_stopping_on_signals(args) -> threading.Event:
    """rclpy.init without its own signal handlers: SIGINT/SIGTERM only set the returned event,
    so the entry point can end a running session in order before it shuts rclpy down."""
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    return stop


def main(args=None) -> int:
    """Spin until SIGINT/SIGTERM; then end a running session in order, publish how it ended
    (v2g_session_finished, reason shutdown) and exit, all within a bound."""
    stop = init_stopping_on_signals(args)
    node = None
    try:
        node = Iso15118EvNode()
        executor = SingleThreadedExecutor()
        executor.add_node(node)
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
        node.get_logger().info('shutting down')
        node.shutdown_ev()
        _publish_remaining(executor, node)
    except (PlcInterfaceError, ParameterError) as exc:
        print(f'iso15118_ev: cannot start: {exc}', file=sys.stderr)
        return 1
    except ExternalShutdownException:
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    return 0


def _publish_remaining(executor, node) -> None:
    deadline = time.monotonic() + PUBLISH_GRACE_S
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
        if node.events_pending():
            deadline = time.monotonic() + PUBLISH_GRACE_S


if __name__ == '__main__':
    sys.exit(main())
