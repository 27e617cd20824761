"""Lists at their maxOccurs: the decoder reads both the exact form (EXI 1.0; what EXIficient
writes below COUNTED_REPEATS_FROM) and the loop form (what libcbv2g, EVerest's codec, writes at
every bound and EXIficient from that bound on), and refuses an item beyond the bound in either.

The loop-form streams come from a test-only encoder (exi_support/forms.py).
"""
import copy

import pytest

from exi_support.forms import encode_in_form
from iso15118_ev.codec import ExiDecodeError, ExiEncodeError, NativeExiCodec
from iso15118_ev.codec.codec import _decode
from iso15118_ev.codec.coder import FormReader
from iso15118_ev.codec.grammar import EXACT_AT_BOUNDS, EXIFICIENT, LOOP_AT_BOUNDS
from iso15118_ev.codec.namespaces import ISO2, ISO20_COMMON

CODEC = NativeExiCodec()
HEADER_20 = {'SessionID': '0102030405060708', 'TimeStamp': 1700000000}
HEADER_2 = {'SessionID': 'A1B2C3D4E5F60708'}


def service(number):
    return {'ServiceID': number, 'FreeService': number % 2 == 0}


def schedule_tuple(number):
    entry = {'Duration': 600 * number, 'Power': {'Exponent': 3, 'Value': 11 * number}}
    return {'ScheduleTupleID': number, 'ChargingSchedule': {'PowerSchedule': {
        'TimeAnchor': 1700000000, 'PowerScheduleEntries': {'PowerScheduleEntry': [entry]}}}}


def profile_entry(number):
    return {'ChargingProfileEntryStart': 60 * number,
            'ChargingProfileEntryMaxPower': {'Multiplier': 3, 'Unit': 'W', 'Value': 50}}


SERVICE_DISCOVERY_RES_20 = {'ServiceDiscoveryRes': {
    'Header': HEADER_20, 'ResponseCode': 'OK', 'ServiceRenegotiationSupported': False,
    'EnergyTransferServiceList': {'Service': [service(n) for n in range(1, 9)]},
    'VASList': {'Service': [service(n) for n in range(11, 13)]}}}
SCHEDULE_EXCHANGE_RES_20 = {'ScheduleExchangeRes': {
    'Header': HEADER_20, 'ResponseCode': 'OK', 'EVSEProcessing': 'Finished',
    'Scheduled_SEResControlMode': {'ScheduleTuple': [schedule_tuple(n) for n in (1, 2, 3)]}}}
SERVICE_DISCOVERY_RES_2 = {'V2G_Message': {'Header': HEADER_2, 'Body': {'ServiceDiscoveryRes': {
    'ResponseCode': 'OK', 'PaymentOptionList': {'PaymentOption': ['Contract', 'ExternalPayment']},
    'ChargeService': {'ServiceID': 1, 'ServiceCategory': 'EVCharging', 'FreeService': False,
                      'SupportedEnergyTransferMode': {'EnergyTransferMode': ['DC_extended']}}}}}}
# -2 bounds ChargingProfile at 24 entries with a counter: EXIficient loops there.
POWER_DELIVERY_REQ_2 = {'V2G_Message': {'Header': HEADER_2, 'Body': {'PowerDeliveryReq': {
    'ChargeProgress': 'Start', 'SAScheduleTupleID': 1,
    'ChargingProfile': {'ProfileEntry': [profile_entry(n) for n in range(24)]}}}}}

# (namespace, message, path to the list at its bound, an item to add beyond it)
AT_BOUND = {
    '-20 ServiceDiscoveryRes, 8 Service': (
        ISO20_COMMON, SERVICE_DISCOVERY_RES_20,
        ('ServiceDiscoveryRes', 'EnergyTransferServiceList', 'Service'), service(9)),
    '-20 ScheduleExchangeRes, 3 ScheduleTuple': (
        ISO20_COMMON, SCHEDULE_EXCHANGE_RES_20,
        ('ScheduleExchangeRes', 'Scheduled_SEResControlMode', 'ScheduleTuple'),
        schedule_tuple(4)),
    '-2 ServiceDiscoveryRes, 2 PaymentOption': (
        ISO2, SERVICE_DISCOVERY_RES_2,
        ('V2G_Message', 'Body', 'ServiceDiscoveryRes', 'PaymentOptionList', 'PaymentOption'),
        'Contract'),
}
UNROLLED = list(AT_BOUND)


def with_extra_item(message, path, item):
    longer = copy.deepcopy(message)
    node = longer
    for key in path:
        node = node[key]
    node.append(item)
    return longer


def decodes_cleanly_in(data, namespace, form):
    """What one decoding form alone reads up to zero padding (None if it does not)."""
    r = FormReader(data, form)
    try:
        document = _decode(r, CODEC.grammars(namespace), False)
    except ExiDecodeError:
        return None
    return document if r.padding() == 0 else None


@pytest.mark.parametrize('case', UNROLLED)
def test_exact_form_is_what_the_encoder_writes_and_decodes(case):
    namespace, message, _, _ = AT_BOUND[case]
    exact = CODEC.encode_object(message, namespace)
    assert encode_in_form(CODEC, message, namespace, EXACT_AT_BOUNDS) == exact
    assert encode_in_form(CODEC, message, namespace, EXIFICIENT) == exact
    assert CODEC.decode_object(exact, namespace) == message


@pytest.mark.parametrize('case', UNROLLED)
def test_loop_form_at_the_bound_decodes(case):
    namespace, message, _, _ = AT_BOUND[case]
    loop = encode_in_form(CODEC, message, namespace, LOOP_AT_BOUNDS)
    assert loop != CODEC.encode_object(message, namespace)
    # the exact reading alone gets it wrong: the ambiguity is resolved by the retry
    assert decodes_cleanly_in(loop, namespace, EXIFICIENT) != message
    assert CODEC.decode_object(loop, namespace) == message


@pytest.mark.parametrize('case', UNROLLED)
def test_an_item_beyond_the_bound_is_refused_in_both_forms(case):
    namespace, message, path, item = AT_BOUND[case]
    longer = with_extra_item(message, path, item)
    with pytest.raises(ExiEncodeError, match='not allowed here'):
        CODEC.encode_object(longer, namespace)  # the exact form has no code for it
    loop = encode_in_form(CODEC, longer, namespace, LOOP_AT_BOUNDS)
    with pytest.raises(ExiDecodeError):
        CODEC.decode_object(loop, namespace)


def test_below_the_bound_both_forms_are_the_same_bytes():
    namespace, message, path, _ = AT_BOUND['-20 ServiceDiscoveryRes, 8 Service']
    shorter = copy.deepcopy(message)
    node = shorter
    for key in path:
        node = node[key]
    del node[-1]
    assert (encode_in_form(CODEC, shorter, namespace, LOOP_AT_BOUNDS)
            == CODEC.encode_object(shorter, namespace))


def test_counted_bound_reads_the_loop_and_the_exact_form():
    message = POWER_DELIVERY_REQ_2
    loop = CODEC.encode_object(message, ISO2)
    assert encode_in_form(CODEC, message, ISO2, LOOP_AT_BOUNDS) == loop
    exact = encode_in_form(CODEC, message, ISO2, EXACT_AT_BOUNDS)
    assert exact != loop
    assert CODEC.decode_object(loop, ISO2) == message
    assert CODEC.decode_object(exact, ISO2) == message


def test_counted_bound_refuses_a_further_item():
    path = ('V2G_Message', 'Body', 'PowerDeliveryReq', 'ChargingProfile', 'ProfileEntry')
    longer = with_extra_item(POWER_DELIVERY_REQ_2, path, profile_entry(24))
    with pytest.raises(ExiEncodeError, match='25 ProfileEntry, at most 24'):
        CODEC.encode_object(longer, ISO2)
    loop = encode_in_form(CODEC, longer, ISO2, LOOP_AT_BOUNDS)  # the exact form has no code
    with pytest.raises(ExiDecodeError, match='more ProfileEntry than the schema allows'):
        CODEC.decode_object(loop, ISO2)


def test_a_list_of_1024_entries_in_both_forms():
    """-20 counts PowerScheduleEntry (maxOccurs 1024) inside a list unrolled to 3 tuples."""
    message = copy.deepcopy(SCHEDULE_EXCHANGE_RES_20)
    entries = [{'Duration': n, 'Power': {'Exponent': 0, 'Value': n}} for n in range(1024)]
    for item in message['ScheduleExchangeRes']['Scheduled_SEResControlMode']['ScheduleTuple']:
        item['ChargingSchedule']['PowerSchedule']['PowerScheduleEntries'][
            'PowerScheduleEntry'] = entries
    for form in (EXIFICIENT, LOOP_AT_BOUNDS, EXACT_AT_BOUNDS):
        data = encode_in_form(CODEC, message, ISO20_COMMON, form)
        assert CODEC.decode_object(data, ISO20_COMMON) == message, form
