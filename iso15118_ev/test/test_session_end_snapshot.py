"""The session snapshot at and after a session's end: the charger's present values are unknown
(NaN), the end's reason stays; welding detection, power delivery and target SoC are tracked."""
from __future__ import annotations

import math

from iso15118_ev.session.tracker import SessionTracker
from iso15118_ev.vehicle.energy_modes import check_energy_mode
from iso15118_ev.vehicle.model import EvModel
from iso15118_ev.vehicle.parameters import StartRequest
from iso15118_ev.vocabulary import EndReason, Phase


def tracker(e_amount=None, soc=20.0):
    events = []
    model = EvModel(soc_percent=soc)
    request = StartRequest.from_fields('DC_extended', 'ExternalPayment', False, None, e_amount)
    model.begin_session(request, check_energy_mode('DC_extended'))
    t = SessionTracker(model, events.append)
    t.begin('DC_extended')
    return t, events


def charge(t):
    t.on_request('PreChargeReq')
    t.on_message_timeout('PreChargeReq', 2.0)
    t.on_response('PreChargeRes', {'evse_present_voltage': 195.0, 'evse_present_current': 0.0},
                  0.01)
    t.on_request('CurrentDemandReq')
    t.on_message_timeout('CurrentDemandReq', 0.25)
    t.on_response('CurrentDemandRes', {'evse_present_voltage': 200.0,
                                       'evse_present_current': 20.0}, 0.05)


def test_end_makes_present_values_unknown_and_keeps_the_reason():
    t, events = tracker()
    charge(t)
    assert t.snapshot.evse_present_current == 20.0 and t.snapshot.power_delivered
    assert t.snapshot.message_timeout_s == 0.25
    t.end(Phase.FINISHED, EndReason.TIMEOUT, 'no CurrentDemandRes within 0.25 s')
    s = events[-1]
    assert s is t.snapshot and s.phase == Phase.FINISHED
    assert math.isnan(s.evse_present_voltage) and math.isnan(s.evse_present_current)
    assert (s.last_end_reason, s.last_end_message) == ('timeout',
                                                       'no CurrentDemandRes within 0.25 s')
    t.begin('DC_extended')  # the next session keeps the last end until it ends itself
    assert t.snapshot.last_end_reason == 'timeout' and not t.snapshot.power_delivered


def test_welding_detection_done_only_at_a_safe_voltage():
    t, _ = tracker()
    charge(t)
    t.on_request('PowerDeliveryReq')
    assert not t.snapshot.power_off_acknowledged
    t.on_response('PowerDeliveryRes', {}, 0.01)
    assert t.snapshot.power_off_acknowledged
    t.on_response('WeldingDetectionRes', {'evse_present_voltage': 150.0}, 0.01)
    assert not t.snapshot.welding_detection_done
    t.on_response('WeldingDetectionRes', {'evse_present_voltage': 40.0}, 0.01)
    assert t.snapshot.welding_detection_done


def test_target_soc_is_fixed_at_the_start_of_the_session():
    # 60 kWh battery at 20 %: 6 kWh more is 30 %
    t, _ = tracker(e_amount=6.0)
    assert t.snapshot.target_soc == 30
    t.model.soc_percent = 25.0
    t.refresh()
    assert t.snapshot.target_soc == 30
