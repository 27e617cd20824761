"""The ROS entities created on a node between two points, destroyed together.

The lifecycle node opens a scope before it wires publishers, services, parameter callbacks and
the composed modules (robot topics and whatever else attaches) on activate, and destroys
exactly those on deactivate; the modules need not know about lifecycles.
"""
from __future__ import annotations

# (Node property listing them, Node method destroying one)
KINDS = (('publishers', 'destroy_publisher'), ('subscriptions', 'destroy_subscription'),
         ('services', 'destroy_service'), ('clients', 'destroy_client'),
         ('timers', 'destroy_timer'), ('guards', 'destroy_guard_condition'))
# rclpy has no public listing of these (Jazzy and Kilted keep them in these lists)
PARAMETER_CALLBACKS = (
    ('_pre_set_parameters_callbacks', 'remove_pre_set_parameters_callback'),
    ('_on_set_parameters_callbacks', 'remove_on_set_parameters_callback'),
    ('_post_set_parameters_callbacks', 'remove_post_set_parameters_callback'))


class EntityScope:
    def __init__(self, node):
        self._node = node
        self._before = {kind: {id(e) for e in self._listed(kind)}
                        for kind in (*(k for k, _ in KINDS + PARAMETER_CALLBACKS), 'waitables')}

    def _listed(self, kind: str) -> list:
        return list(getattr(self._node, kind, ()))

    def created(self, kind: str) -> list:
        return [e for e in self._listed(kind) if id(e) not in self._before[kind]]

    def destroy(self) -> None:
        for kind, remove in PARAMETER_CALLBACKS:
            for callback in self.created(kind):
                getattr(self._node, remove)(callback)
        # Publishers and subscriptions take their QoS event handlers (waitables) with them.
        for kind, destroy in KINDS:
            for entity in self.created(kind):
                getattr(self._node, destroy)(entity)
        for waitable in self.created('waitables'):   # e.g. action servers
            if hasattr(waitable, 'destroy'):
                waitable.destroy()
            if any(w is waitable for w in self._node.waitables):
                self._node.remove_waitable(waitable)
