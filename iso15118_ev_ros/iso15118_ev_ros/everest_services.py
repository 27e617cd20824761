"""EVerest's 2026 commands as services, attached to the node by composition: abort_charging,
cp_state_changed and update_present_values. Like the node's other services, each callback
hands the command to the core and answers at once with success, a typed code and a message
(the node's `answer` wrapper)."""
from __future__ import annotations

from iso15118_ev_msgs import srv

from iso15118_ev.vehicle.parameters import PRESENT_VALUE_BOUNDS

from .conversions import given_fields


class EverestServices:
    def __init__(self, node, core, answer, qos):
        """`answer(name, command)`: the node's callback wrapper; `qos`: its service QoS."""
        commands = {
            'abort_charging': (srv.AbortCharging, lambda _request: core.abort_charging()),
            'cp_state_changed': (srv.CpStateChanged,
                                 lambda request: core.cp_state_changed(request.state)),
            'update_present_values': (srv.UpdatePresentValues, lambda request:
                                      core.update_present_values(
                                          given_fields(request.values, PRESENT_VALUE_BOUNDS),
                                          request.clear)),
        }
        self.services = [node.create_service(kind, name, answer(name, command), qos_profile=qos)
                         for name, (kind, command) in commands.items()]
