"""The library's vocabulary and the interface's constants stay in step, both ways."""
from __future__ import annotations

import pytest

from iso15118_ev.slac.ev import SlacState
from iso15118_ev.vehicle.energy_modes import NOT_SERVED, SERVED
from iso15118_ev.vocabulary import CommandCode, CpState, EndReason, Fault, Phase
from iso15118_ev_msgs import msg, srv
from iso15118_ev_msgs.msg import ControlPilot, CpWanted, SessionFinished, SessionState
from iso15118_ev_msgs.srv import CpStateChanged, SetFault, StartCharging

from iso15118_ev_ros.conversions import SLAC_STATES


def constants(kind, prefix):
    return {name[len(prefix):]: getattr(kind, name) for name in dir(kind)
            if name.startswith(prefix) and name.isupper()}


@pytest.mark.parametrize('enum, kind, prefix', [
    (Phase, SessionState, 'PHASE_'),
    (EndReason, SessionFinished, 'REASON_'),
    (Fault, SetFault.Request, 'FAULT_'),
    (CpState, CpStateChanged.Request, 'CP_STATE_'),
])
def test_enum_matches_message_constants(enum, kind, prefix):
    assert constants(kind, prefix) == {member.name: member.value for member in enum}


def test_control_pilot_states_are_cp_states_and_unknown():
    assert constants(ControlPilot, 'CP_STATE_') == {
        'UNKNOWN': 0, **{member.name: member.value for member in CpState}}


def test_cp_wanted_states_are_the_cp_states_b_and_c():
    assert constants(CpWanted, 'CP_STATE_') == {s.name: s.value for s in (CpState.B, CpState.C)}


def test_slac_states_map_every_library_state_to_its_constant():
    """SlacState's values are strings: the node numbers them (conversions.SLAC_STATES) as
    SlacState.msg does, in the library's order."""
    assert list(SLAC_STATES) == list(SlacState)
    assert constants(msg.SlacState, 'STATE_') == {
        state.name: number for state, number in SLAC_STATES.items()}
    assert list(SLAC_STATES.values()) == list(range(len(SlacState)))


def test_energy_transfer_modes_match_the_service_constants():
    declared = {value for name, value in constants(StartCharging.Request, '').items()
                if isinstance(value, str) and not name.startswith('PAYMENT_OPTION_')}
    assert declared == set(SERVED) | set(NOT_SERVED)


SERVICE_TYPES = ['AbortCharging', 'CpStateChanged', 'EnableSaeJ2847V2gV2h', 'PauseCharging',
                 'ResetSlac', 'SetBptDcParams', 'SetDcParams', 'SetFault', 'StartCharging',
                 'StopCharging', 'TriggerMatching', 'UpdatePresentValues', 'UpdateSoc']


@pytest.mark.parametrize('name', SERVICE_TYPES)
def test_every_service_answers_with_the_command_codes(name):
    response = getattr(srv, name).Response
    assert constants(response, 'CODE_') == {member.name: member.value for member in CommandCode}
    assert 'code' in response.get_fields_and_field_types()


def test_every_service_is_listed():
    declared = {n for n in dir(srv) if n[0].isupper() and not n.endswith(('_Request', '_Response',
                                                                         '_Event'))}
    assert set(SERVICE_TYPES) <= declared
