"""Where charging ends (a target SoC, a delivered energy amount) and the energy counted per
session: the battery model, and a real ISO 15118-2 DC session against a scripted charger."""
from __future__ import annotations

import asyncio
import math

import pytest

from iso15118_ev.session import events as ev
from iso15118_ev.session.ev import Ev
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.session.tracker import SessionTracker
from iso15118_ev.vehicle.energy_modes import check_energy_mode
from iso15118_ev.vehicle.model import EvModel
from iso15118_ev.vehicle.parameters import DcEvParameters, InvalidRequest, StartRequest
from iso15118_ev.vocabulary import ISO2, CommandCode, EndReason
from support.scripted_charger import run_against
from test_protocol_iso2 import Charger, Iso2Charger


def model_with(soc=20.0, capacity=60000.0, **start) -> EvModel:
    model = EvModel(dc=DcEvParameters(energy_capacity=capacity), soc_percent=soc)
    model.begin_session(StartRequest.from_fields('DC_extended', **start),
                        check_energy_mode('DC_extended'))
    return model


def test_charging_ends_at_the_target_soc():
    model = model_with(soc=40.0, capacity=1000.0, target_soc_percent=50.0)
    model.add_energy(1000.0, 35.0)            # 9.72 Wh of 1 kWh: 40.97 %
    assert not model.charging_complete
    assert model.target_soc() == 50 and model.energy_request_wh() == pytest.approx(90.28, 0.01)
    model.add_energy(1000.0, 325.0)           # +90.28 Wh: 50 %
    assert model.soc_percent == pytest.approx(50.0) and model.charging_complete


def test_without_a_target_charging_ends_full():
    model = model_with(soc=99.0, capacity=1000.0)
    assert model.target_soc() == 100 and not model.charging_complete
    model.add_energy(1000.0, 36.0)
    assert model.charging_complete


def test_energy_is_counted_per_session():
    model = model_with(capacity=0.0)          # no capacity: the SoC stays, energy still counts
    model.add_energy(7200.0, 1.0)
    model.add_energy(-3600.0, 1.0)            # discharge counts negative
    model.add_energy(math.nan, 1.0)           # no present values: nothing
    assert model.energy_wh == pytest.approx(1.0) and model.soc_percent == 20.0
    model.begin_session(StartRequest.from_fields('DC_extended'),
                        check_energy_mode('DC_extended'))
    assert model.energy_wh == 0.0


def test_e_amount_ends_charging_only_when_asked():
    announced = model_with(e_amount_kwh=0.002)                        # start_charging
    ending = model_with(e_amount_kwh=0.002, stop_at_e_amount=True)    # the charge action
    for model in (announced, ending):
        model.add_energy(3600.0, 1.9)
        assert not model.charging_complete
        model.add_energy(3600.0, 0.1)
    assert ending.charging_complete and ending.energy_wh == pytest.approx(2.0)
    assert not announced.charging_complete


def test_target_soc_is_the_lower_of_target_and_energy():
    assert model_with(soc=20.0, e_amount_kwh=6.0, target_soc_percent=40.0).target_soc() == 30
    assert model_with(soc=20.0, e_amount_kwh=30.0, target_soc_percent=40.0).target_soc() == 40


@pytest.mark.parametrize('value, fragment', [
    (math.nan, 'target_soc is NaN'), (100.5, 'out of range'), (-1.0, 'out of range'),
    ('50', 'must be a number'),
])
def test_target_soc_is_checked(value, fragment):
    with pytest.raises(InvalidRequest, match=fragment):
        StartRequest.from_fields('DC_extended', target_soc_percent=value)


def test_a_target_soc_not_above_the_present_soc_is_refused(plc_link):
    events = []
    ev_ = Ev(EvSettings(plc_interface=plc_link, soc_percent=60.0), events.append)
    for target in (60.0, 30.0):
        result = ev_.start_charging(StartRequest.from_fields('DC_extended',
                                                             target_soc_percent=target))
        assert not result.success and result.code == CommandCode.INVALID_ARGUMENT
        assert f'target_soc={target:g} % is not above the present SoC 60 %' in result.message
    assert events == [] and ev_.model.request is None   # changed nothing


def test_a_dc_session_finishes_at_the_target_soc_with_its_energy():
    """The scripted charger delivers 200 V x 5 A = 1 kW; 1 % of 20 Wh is 0.2 Wh (0.72 s)."""
    model = model_with(soc=50.0, capacity=20.0, target_soc_percent=51.0)
    events = []
    tracker = SessionTracker(model, events.append)
    tracker.begin('DC_extended')
    charger = Iso2Charger(ISO2, Charger())
    outcome, _ = asyncio.run(run_against(charger, model, observer=tracker))
    assert outcome.reason == EndReason.FINISHED, outcome.message
    assert 51.0 <= model.soc_percent < 60.0
    assert charger.names().count('CurrentDemandReq') >= 2
    assert model.energy_wh >= 0.2
    snapshots = [e for e in events if isinstance(e, ev.SessionSnapshot)]
    assert snapshots[-1].energy_wh == model.energy_wh
    energies = [s.energy_wh for s in snapshots]
    assert energies == sorted(energies) and energies[0] == 0.0
    assert charger.bodies('PowerDeliveryReq')[-1]['DC_EVPowerDeliveryParameter'][
        'ChargingComplete'] is True
