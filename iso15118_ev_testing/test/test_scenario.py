"""Scenario files: the shipped ones are valid; invalid ones are refused naming the step."""
from __future__ import annotations

from pathlib import Path

import pytest

from iso15118_ev_testing import scenario as sc

SHIPPED = sorted((Path(__file__).parents[1] / 'scenarios').glob('*.yaml'))


@pytest.mark.parametrize('path', SHIPPED, ids=lambda p: p.stem)
def test_shipped_scenarios_are_valid(path):
    scenario = sc.load(str(path))
    assert scenario.steps and scenario.steps[-1].kind == 'expect_end'


def test_steps_are_typed():
    scenario = sc.parse({'name': 'x', 'steps': [
        {'start': {'mode': 'DC', 'e_amount': 20}}, {'update_soc': 80}, {'stop': None},
        {'set_dc': {'target_current': 20}}, {'fault': 'drop_link'},
        {'expect_end': {'reason': 'fault_injected', 'timeout': 5}}]})
    start, soc, stop, dc, fault, end = scenario.steps
    assert start.args == {'mode': 'DC', 'e_amount': 20.0}
    assert sc.request_fields(start)['has_e_amount'] and soc.args == {'soc': 80.0}
    assert stop.args == {} and dc.args == {'target_current': 20.0}
    assert fault.args == {'fault': 'drop_link'} and sc.timeout_of(end) == 5.0
    assert sc.timeout_of(start) == sc.DEFAULT_TIMEOUT_S


@pytest.mark.parametrize('steps, words', [
    ([{'teleport': {}}], "step 1: unknown step 'teleport'"),
    ([{'start': {}}], 'step 1: start needs mode'),
    ([{'start': {'mode': 'DC', 'colour': 'red'}}], 'start has no argument colour'),
    ([{'update_soc': 'full'}], "update_soc.soc: 'full' is not a number >= 0"),
    ([{'update_soc': float('nan')}], 'is not a finite value'),
    ([{'wait_loops': {'count': -1}}], 'is not an integer >= 0'),
    ([{'expect_end': {'reason': 'happy'}}], "expect_end.reason 'happy' is not one of"),
    ([{'set_dc': {}}], 'set_dc needs at least one value'),
    ([{'cp_state': 'G'}], "cp_state.state 'G' is not one of A, B, C, D, E, F"),
    ([{'abort': {'now': True}}], 'abort has no argument now'),
    ([{'stop': {}, 'pause': {}}], 'step 1: one mapping'),
    ([], 'no steps'),
])
def test_invalid_steps_are_refused_naming_the_step(steps, words):
    with pytest.raises(sc.ScenarioError) as error:
        sc.parse({'steps': steps})
    assert words in str(error.value)


def test_the_vocabulary_is_the_interface_s():
    """Phases, reasons, faults, CP states and fields come from iso15118_ev_msgs, in order."""
    from iso15118_ev_msgs import msg, srv
    assert sc.REASONS[msg.SessionFinished.REASON_ABORTED] == 'aborted'
    assert sc.PHASES[msg.SessionState.PHASE_CHARGING] == 'charging'
    assert sc.FAULTS['drop_link'] == srv.SetFault.Request.FAULT_DROP_LINK
    assert sc.CP_STATES['E'] == srv.CpStateChanged.Request.CP_STATE_E
    assert 'min_voltage_limit' in sc.DC_FIELDS and 'has_target_current' not in sc.DC_FIELDS
    cp, abort = sc.parse({'steps': [{'cp_state': 'E'}, {'abort': None}]}).steps
    assert cp.args == {'state': 'E'} and abort.args == {}


def test_unreadable_file(tmp_path):
    with pytest.raises(sc.ScenarioError, match='no_such.yaml'):
        sc.load(str(tmp_path / 'no_such.yaml'))
    (tmp_path / 'broken.yaml').write_text('steps: [a: {\n')
    with pytest.raises(sc.ScenarioError, match='broken.yaml'):
        sc.load(str(tmp_path / 'broken.yaml'))
