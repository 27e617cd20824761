"""The data link (ISO 15118-3) and the vehicle's pilot hardware, attached to the node by
composition: the topics slac_state, dlink_ready and cp_wanted_state (latched, published through
the node's one event path: `publishers`), the subscription control_pilot (what the pilot
hardware measures) and the services trigger_matching and reset_slac (the node's `answer`
wrapper, like its other services)."""
from __future__ import annotations

import math

from iso15118_ev_msgs import msg, srv
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import Bool

from iso15118_ev.session.data_link import DlinkReady, SlacStatus
from iso15118_ev.session.events import CpWanted

from . import conversions as conv

PILOT_QOS = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# Pilot hardware may publish at tens of Hz: a refusal is logged at most this often (s).
REFUSAL_LOG_PERIOD_S = 5.0


class SlacTopics:
    def __init__(self, node, core, answer, qos, latched):
        """`answer(name, command)`: the node's service callback wrapper; `qos`: its service
        QoS; `latched`: its latched topic QoS."""
        self._core, self._logger = core, node.get_logger()
        pub = node.create_publisher
        # event type -> (publisher, converter), merged into the node's publishers by event
        self.publishers = {
            SlacStatus: (pub(msg.SlacState, 'slac_state', latched), conv.slac_state),
            DlinkReady: (pub(Bool, 'dlink_ready', latched), conv.dlink_ready),
            CpWanted: (pub(msg.CpWanted, 'cp_wanted_state', latched), conv.cp_wanted),
        }
        node.create_subscription(msg.ControlPilot, 'control_pilot', self.on_control_pilot,
                                 PILOT_QOS)
        commands = {'trigger_matching': (srv.TriggerMatching, core.trigger_matching),
                    'reset_slac': (srv.ResetSlac, core.reset_slac)}
        for name, (kind, command) in commands.items():
            node.create_service(kind, name, answer(name, lambda _request, c=command: c()),
                                qos_profile=qos)

    def on_control_pilot(self, message: msg.ControlPilot) -> None:
        """The state (unless CP_STATE_UNKNOWN) goes first: a plug-in with 5 % in one message
        is B, then the PWM. rclpy throttles a log call per call site: one each, so a refused
        state does not hide a refused duty cycle."""
        if message.state != msg.ControlPilot.CP_STATE_UNKNOWN:
            refusal = self._refusal('CP state',
                                    lambda: self._core.cp_state_changed(message.state))
            if refusal:
                self._logger.warning(refusal, throttle_duration_sec=REFUSAL_LOG_PERIOD_S)
        if not math.isnan(message.duty_cycle_percent):
            refusal = self._refusal('PWM duty',
                                    lambda: self._core.pwm_changed(message.duty_cycle_percent))
            if refusal:
                self._logger.warning(refusal, throttle_duration_sec=REFUSAL_LOG_PERIOD_S)

    def _refusal(self, what: str, command) -> str:
        """Run the command; '' when done, else the line to log."""
        try:
            result = command()
        except Exception as exc:  # a defect must be logged, not kill the node
            return f'control_pilot: {what} failed (internal_error): {exc!r}'
        if result.success:
            self._logger.debug(f'control_pilot: {result.message}')
            return ''
        return (f'control_pilot: {what} refused ({result.code.name.lower()}): '
                f'{result.message}')
