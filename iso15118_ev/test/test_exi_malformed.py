"""The native EXI codec on bad input: typed errors, never a crash, hang or unbounded output.

The large run (one million inputs, coverage-guided) is benchmarks/fuzz_exi_decoder.py; these
tests pin the cases and run a smaller property-based sweep on every CI run.
"""
import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from iso15118_ev.codec import ExiDecodeError, ExiEncodeError, ExiError, NativeExiCodec
from iso15118_ev.codec.schemas import DIN, ISO2, ISO20_COMMON, ISO20_DC, SCHEMA_FILES

CODEC = NativeExiCodec()
CURRENT_DEMAND_REQ = {'V2G_Message': {
    'Header': {'SessionID': 'A1B2C3D4E5F60708'},
    'Body': {'CurrentDemandReq': {
        'DC_EVStatus': {'EVReady': True, 'EVErrorCode': 'NO_ERROR', 'EVRESSSOC': 55},
        'EVTargetCurrent': {'Multiplier': 0, 'Unit': 'A', 'Value': 100},
        'EVMaximumVoltageLimit': {'Multiplier': 0, 'Unit': 'V', 'Value': 400},
        'BulkChargingComplete': False, 'ChargingComplete': False,
        'EVTargetVoltage': {'Multiplier': 0, 'Unit': 'V', 'Value': 380}}}}}
SESSION_SETUP_REQ_20 = {'SessionSetupReq': {
    'Header': {'SessionID': '0000000000000000', 'TimeStamp': 1700000000},
    'EVCCID': 'WMIV1234567890ABCDEX'}}
VALID = [(ISO2, CURRENT_DEMAND_REQ), (ISO20_COMMON, SESSION_SETUP_REQ_20)]


def decodes_or_refuses(data: bytes, namespace: str):
    """Decode; a refusal must be ExiDecodeError. Returns the message or None."""
    try:
        text = CODEC.decode(data, namespace)
    except ExiDecodeError as exc:
        assert str(exc)
        return None
    decoded = json.loads(text)
    assert isinstance(decoded, dict) and len(decoded) == 1
    return decoded


@pytest.mark.parametrize('namespace, message', VALID)
def test_every_truncation_is_refused(namespace, message):
    data = CODEC.encode(json.dumps(message), namespace)
    assert decodes_or_refuses(data, namespace) == message
    for length in range(len(data) - 1):
        assert decodes_or_refuses(data[:length], namespace) is None, length


@pytest.mark.parametrize('namespace, message', VALID)
def test_every_single_bit_flip_is_refused_or_decodes_to_another_message(namespace, message):
    data = CODEC.encode(json.dumps(message), namespace)
    changed = 0
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        decoded = decodes_or_refuses(bytes(flipped), namespace)
        changed += decoded != message
    assert changed > len(data) * 4  # most flips in a packed stream change or break the message


@settings(max_examples=3000, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300), namespace=st.sampled_from(sorted(SCHEMA_FILES)))
def test_random_bytes_are_refused_or_decoded(data, namespace):
    decoded = decodes_or_refuses(data, namespace)
    if decoded is not None:  # whatever decodes is a message the encoder takes back unchanged
        again = CODEC.encode(json.dumps(decoded), namespace)
        # roots like -2 AuthorizationReq are encoded as fragments (as the package signs them)
        fragment = CODEC.grammars(namespace).is_fragment(next(iter(decoded)))
        assert CODEC.decode_object(again, namespace, fragment=fragment) == decoded


@settings(max_examples=500, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(min_size=1, max_size=64))
def test_valid_header_then_random_body(data):
    for namespace in (DIN, ISO2, ISO20_DC):
        decodes_or_refuses(b'\x80' + data, namespace)


def test_message_of_another_namespace_is_refused_or_decodes_as_something_else():
    data = CODEC.encode(json.dumps(CURRENT_DEMAND_REQ), ISO2)
    for namespace in SCHEMA_FILES:
        if namespace != ISO2:
            assert decodes_or_refuses(data, namespace) != CURRENT_DEMAND_REQ


def test_unknown_namespace_and_bad_header():
    with pytest.raises(ExiDecodeError, match='unknown namespace'):
        CODEC.decode(b'\x80\x00', 'urn:nowhere')
    with pytest.raises(ExiDecodeError, match='header'):
        CODEC.decode(b'\x81\x98', ISO2)
    with pytest.raises(ExiDecodeError):
        CODEC.decode(b'', ISO2)


def test_huge_declared_lengths_do_not_allocate():
    # SessionID hexBinary claiming 2**60 octets, then nothing.
    header = CODEC.encode(json.dumps(CURRENT_DEMAND_REQ), ISO2)[:2]
    with pytest.raises(ExiDecodeError):
        CODEC.decode(header + b'\xff' * 9 + b'\x01', ISO2)


def _with(path, value):
    message = json.loads(json.dumps(CURRENT_DEMAND_REQ))
    node = message['V2G_Message']['Body']['CurrentDemandReq']
    *parents, last = path
    for key in parents:
        node = node[key]
    if value is KeyError:
        del node[last]
    else:
        node[last] = value
    return json.dumps(message)


@pytest.mark.parametrize('text, error', [
    ('{"V2G_Message": ', 'not JSON'),
    ('[]', 'exactly one root'),
    ('{"NoSuchMessage": {}}', "'NoSuchMessage' is not an element"),
    (_with(['EVRESSSOC'], 5), "unknown field(s) ['EVRESSSOC']"),
    (_with(['DC_EVStatus', 'EVRESSSOC'], 101), 'EVRESSSOC: 101 is outside [0, 100]'),
    (_with(['DC_EVStatus', 'EVRESSSOC'], 5.5), 'expected an integer'),
    (_with(['DC_EVStatus', 'EVRESSSOC'], True), 'expected an integer'),
    (_with(['DC_EVStatus', 'EVErrorCode'], 'BROKEN'), "'BROKEN' is not one of"),
    (_with(['EVTargetCurrent', 'Value'], 40000), 'outside [-32768, 32767]'),
    (_with(['EVTargetVoltage'], KeyError), "incomplete, expected one of"),
    (_with(['ChargingComplete'], 'no'), 'expected a boolean'),
])
def test_encode_refuses_invalid_messages_with_a_reason(text, error):
    with pytest.raises(ExiEncodeError) as caught:
        CODEC.encode(text, ISO2)
    assert error in str(caught.value)


def test_encode_refuses_bad_binary_and_long_strings():
    bad_hex = json.loads(json.dumps(CURRENT_DEMAND_REQ))
    bad_hex['V2G_Message']['Header']['SessionID'] = 'XYZ'
    with pytest.raises(ExiEncodeError, match='invalid hexBinary'):
        CODEC.encode(json.dumps(bad_hex), ISO2)
    too_long = json.loads(json.dumps(SESSION_SETUP_REQ_20))
    too_long['SessionSetupReq']['EVCCID'] = 'X' * 300
    with pytest.raises(ExiEncodeError, match='length 300'):
        CODEC.encode(json.dumps(too_long), ISO20_COMMON)


def test_errors_are_typed():
    assert issubclass(ExiDecodeError, ExiError) and issubclass(ExiEncodeError, ExiError)


def test_octets_after_the_message_are_refused():
    data = CODEC.encode(json.dumps(CURRENT_DEMAND_REQ), ISO2)
    with pytest.raises(ExiDecodeError, match='bits after the end of the message'):
        CODEC.decode(data + b'\x00', ISO2)
