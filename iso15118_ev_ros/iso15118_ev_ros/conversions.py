"""Between iso15118_ev_msgs types and the core's plain Python types."""
from __future__ import annotations

from typing import Dict

from builtin_interfaces.msg import Time
from iso15118_ev_msgs import msg
from std_msgs.msg import Bool

from iso15118_ev.session import events as ev
from iso15118_ev.session.data_link import DlinkReady, SlacStatus
from iso15118_ev.slac.ev import SlacState
from iso15118_ev.vehicle.parameters import DC_EV_BOUNDS, DC_EV_BPT_BOUNDS, StartRequest


# The library's SlacState values (strings) as SlacState.msg numbers them.
SLAC_STATES = {SlacState.UNMATCHED: msg.SlacState.STATE_UNMATCHED,
               SlacState.MATCHING: msg.SlacState.STATE_MATCHING,
               SlacState.MATCHED: msg.SlacState.STATE_MATCHED,
               SlacState.FAILED: msg.SlacState.STATE_FAILED}

# Every converter of a core event takes the stamp to publish with: the node's clock at
# publication (ROS time, so use_sim_time works), not the core's wall-clock time.


def given_fields(message, names) -> Dict[str, float]:
    """The fields of a DcEvParameters / DcEvBptParameters whose has_<field> flag is set."""
    return {name: getattr(message, name) for name in names if getattr(message, f'has_{name}')}


def dc_changes(parameters: msg.DcEvParameters) -> Dict[str, float]:
    return given_fields(parameters, DC_EV_BOUNDS)


def bpt_changes(parameters: msg.DcEvBptParameters) -> Dict[str, float]:
    return given_fields(parameters, DC_EV_BPT_BOUNDS)


def start_request(request) -> StartRequest:
    """Raises InvalidRequest with the reason."""
    return StartRequest.from_fields(
        request.energy_transfer_mode, request.payment_option, request.enforce_payment_option,
        request.departure_time if request.has_departure_time else None,
        request.e_amount if request.has_e_amount else None)


def session_state(snapshot: ev.SessionSnapshot, now: Time) -> msg.SessionState:
    out = msg.SessionState(stamp=now, phase=int(snapshot.phase),
                           phase_text=snapshot.phase.name.lower(),
                           round_trip_time=snapshot.round_trip_s,
                           message_timeout=snapshot.message_timeout_s,
                           selected_services=list(snapshot.selected_services))
    for name in ('protocol', 'control_mode', 'energy_transfer_mode', 'session_id', 'tls',
                 'payment_option', 'emaid', 'last_charger_message', 'fault', 'ev_target_voltage',
                 'ev_target_current', 'ev_max_voltage_limit', 'ev_max_current_limit',
                 'ev_max_power_limit', 'soc', 'evse_present_voltage',
                 'evse_present_current', 'evse_max_voltage', 'evse_max_current',
                 'evse_max_power', 'last_end_reason', 'last_end_message'):
        setattr(out, name, getattr(snapshot, name))
    return out


def session_finished(event: ev.SessionFinished, now: Time) -> msg.SessionFinished:
    return msg.SessionFinished(stamp=now, reason=int(event.reason),
                               reason_text=event.reason.name.lower(), message=event.message,
                               protocol=event.protocol, duration=event.duration_s)


def ac_target_power(event: ev.AcTargetPower, now: Time) -> msg.AcTargetPower:
    return msg.AcTargetPower(
        stamp=now, target_active_power=event.active,
        target_active_power_l2=event.active_l2, target_active_power_l3=event.active_l3,
        target_reactive_power=event.reactive, target_reactive_power_l2=event.reactive_l2,
        target_reactive_power_l3=event.reactive_l3)


def edge(event, now: Time) -> msg.Event:
    return msg.Event(stamp=now, detail=event.detail)


def power_ready(event: ev.PowerReady, now: Time) -> msg.EvPowerReady:
    return msg.EvPowerReady(stamp=now, ready=event.ready)


def ac_evse_max_current(event: ev.AcEvseMaxCurrent, now: Time) -> msg.AcEvseMaxCurrent:
    return msg.AcEvseMaxCurrent(stamp=now, max_current=event.max_current_a)


def safe_to_unplug(safe: bool, reason: str, now: Time) -> msg.SafeToUnplug:
    return msg.SafeToUnplug(stamp=now, safe=safe, reason=reason)


def slac_state(status: SlacStatus, now: Time) -> msg.SlacState:
    return msg.SlacState(stamp=now, state=SLAC_STATES[status.state],
                         charger_mac=status.charger_mac, attenuation_db=status.attenuation_db,
                         failure=status.failure, message=status.message,
                         ev_mac_address=status.ev_mac)


def dlink_ready(event: DlinkReady, _now: Time) -> Bool:
    return Bool(data=event.ready)   # std_msgs/Bool has no stamp


def cp_wanted(event: ev.CpWanted, now: Time) -> msg.CpWanted:
    return msg.CpWanted(stamp=now, state=int(event.state))
