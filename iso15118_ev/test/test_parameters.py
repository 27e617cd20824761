"""The EV's parameters: ranges, cross-field rules, typed refusals, short quotes of bad values."""
from __future__ import annotations

import asyncio
import math
import time

import pytest

from iso15118_ev.session.events import CommandResult
from iso15118_ev.vehicle.energy_modes import check_energy_mode
from iso15118_ev.vehicle.model import EvModel
from iso15118_ev.vehicle.parameters import (DC_EV_BOUNDS, DC_EV_BPT_BOUNDS, DcEvBptParameters,
                                            DcEvParameters, InvalidRequest, NotSupported,
                                            StartRequest, check_consistent, initial, quote,
                                            updated)
from iso15118_ev.vocabulary import CommandCode


@pytest.mark.parametrize('changes, fields', [
    ({'target_voltage': 950.0}, ('target_voltage=950 V', 'max_voltage_limit=900 V')),
    ({'max_voltage_limit': 150.0}, ('target_voltage=200 V', 'max_voltage_limit=150 V')),
    ({'target_current': 301.0}, ('target_current=301 A', 'max_current_limit=300 A')),
    ({'max_current_limit': 4.0}, ('target_current=5 A', 'max_current_limit=4 A')),
    ({'min_voltage_limit': 901.0, 'target_voltage': 100.0},
     ('min_voltage_limit=901 V', 'max_voltage_limit=900 V')),
    ({'target_voltage': 800.0, 'target_current': 200.0},
     ('target power 160000 W', 'target_voltage=800 V', 'target_current=200 A',
      'max_power_limit=150000 W')),
    ({'target_current': 100.0, 'max_power_limit': 19999.0},
     ('target power 20000 W', 'max_power_limit=19999 W')),
])
def test_dc_cross_field_rules_name_both_fields_and_values(changes, fields):
    with pytest.raises(InvalidRequest) as raised:
        updated(DcEvParameters(), changes, DC_EV_BOUNDS)
    for field in fields:
        assert field in str(raised.value)
    assert raised.value.code == CommandCode.INVALID_ARGUMENT


def test_changes_given_together_are_checked_as_a_whole():
    new = updated(DcEvParameters(), {'max_voltage_limit': 1000.0, 'target_voltage': 950.0},
                  DC_EV_BOUNDS)
    assert (new.max_voltage_limit, new.target_voltage) == (1000.0, 950.0)
    # a target power exactly at the limit is allowed, and raising the limit with the target works
    at_limit = updated(DcEvParameters(), {'target_current': 100.0, 'max_power_limit': 20000.0},
                       DC_EV_BOUNDS)
    assert at_limit.max_power_limit == 20000.0
    # equal is allowed
    assert updated(DcEvParameters(), {'target_current': 300.0}, DC_EV_BOUNDS).target_current \
        == 300.0


def test_bpt_discharge_target_within_its_limit():
    with pytest.raises(InvalidRequest, match='discharge_target_current=10 A exceeds '
                       'discharge_max_current_limit=0 A'):
        updated(DcEvBptParameters(), {'discharge_target_current': 10.0}, DC_EV_BPT_BOUNDS)
    ok = updated(DcEvBptParameters(), {'discharge_target_current': 10.0,
                                       'discharge_max_current_limit': 100.0}, DC_EV_BPT_BOUNDS)
    assert ok.discharge_target_current == 10.0


@pytest.mark.parametrize('value', [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize('name', sorted(DC_EV_BOUNDS))
def test_non_finite_values_are_refused(name, value):
    with pytest.raises(InvalidRequest):
        updated(DcEvParameters(), {name: value}, DC_EV_BOUNDS)


def test_start_up_values_are_checked_like_changes():
    with pytest.raises(InvalidRequest, match='target_voltage=1000 V exceeds max_voltage_limit'):
        initial(DcEvParameters, {'target_voltage': 1000.0})
    assert initial(DcEvParameters, {}) == DcEvParameters()
    check_consistent(DcEvParameters())
    check_consistent(DcEvBptParameters())


def test_min_voltage_limit_is_what_iso20_sends():
    model = EvModel(dc=DcEvParameters(min_voltage_limit=180.0, target_voltage=400.0))
    assert model.dc_min_voltage() == 180.0


def test_quote_cuts_long_values():
    assert quote('DC') == "'DC'"
    long = 'x' * 10_000_000
    assert len(quote(long)) < 50 and quote(long).endswith('…')


def test_a_huge_energy_transfer_mode_is_refused_quickly_and_briefly():
    huge = 'A' * 10_000_000
    began = time.monotonic()
    with pytest.raises(InvalidRequest) as raised:
        StartRequest.from_fields(huge)
    assert time.monotonic() - began < 1.0
    assert len(str(raised.value)) < 500
    assert "'" + 'A' * 40 + "'…" in str(raised.value)


def test_refusal_codes():
    with pytest.raises(NotSupported):
        check_energy_mode('WPT')
    with pytest.raises(InvalidRequest) as raised:
        check_energy_mode('DC_warp')
    assert raised.value.code == CommandCode.INVALID_ARGUMENT
    with pytest.raises(ValueError):
        CommandResult.refused(CommandCode.OK, 'a refusal is never OK')
    refused = CommandResult.refused(CommandCode.WRONG_STATE, 'not now')
    assert (refused.success, refused.code) == (False, CommandCode.WRONG_STATE)
    assert CommandResult.ok('fine').code == CommandCode.OK


def _ev():
    from iso15118_ev.session.ev import Ev
    from iso15118_ev.session.settings import EvSettings
    from iso15118_ev.transport import link
    events = []
    original = link.resolve_interface
    import iso15118_ev.session.ev as ev_module
    ev_module.resolve_interface = lambda name: 'test0'
    try:
        return Ev(EvSettings(), events.append), events
    finally:
        ev_module.resolve_interface = original


def test_ev_commands_answer_with_typed_codes():
    ev, _ = _ev()
    assert ev.stop_charging().code == CommandCode.WRONG_STATE
    assert ev.pause_charging().code == CommandCode.WRONG_STATE
    assert ev.set_fault(3).code == CommandCode.WRONG_STATE
    assert ev.set_fault(77).code == CommandCode.INVALID_ARGUMENT
    assert ev.set_dc_params({}).code == CommandCode.INVALID_ARGUMENT
    assert ev.update_soc(math.nan).code == CommandCode.INVALID_ARGUMENT
    assert ev.start_charging(StartRequest('WPT')).code == CommandCode.NOT_SUPPORTED
    assert ev.start_charging(StartRequest('DC_warp')).code == CommandCode.INVALID_ARGUMENT
    assert ev.start_charging(StartRequest('DC_extended', 'Contract')).code \
        == CommandCode.NOT_SUPPORTED   # no pki_path


def test_a_refused_cross_field_change_changes_nothing():
    ev, _ = _ev()
    before = ev.model.dc
    result = ev.set_dc_params({'target_current': 20.0, 'target_voltage': 901.0})
    assert not result.success and result.code == CommandCode.INVALID_ARGUMENT
    assert 'target_voltage=901 V exceeds max_voltage_limit=900 V' in result.message
    assert ev.model.dc is before
    assert ev.set_dc_params({'target_current': 20.0}).success
    assert ev.model.dc.target_current == 20.0


def test_a_core_that_does_not_answer_in_time_is_an_internal_error(monkeypatch):
    import iso15118_ev.session.ev as ev_module
    from iso15118_ev.session.core import EvccCore
    from iso15118_ev.session.settings import EvSettings
    monkeypatch.setattr(ev_module, 'resolve_interface', lambda name: 'test0')
    core = EvccCore(EvSettings(), lambda event: None)
    core.start()
    try:
        core._loop.call_soon_threadsafe(time.sleep, 3.0)   # the EV's loop is stuck
        result = core.stop_charging()
        assert not result.success and result.code == CommandCode.INTERNAL_ERROR, result
        assert 'did not answer' in result.message
    finally:
        core.shutdown()
