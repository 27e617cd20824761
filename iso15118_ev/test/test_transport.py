"""V2GTP framing and the connection: exactly one message per read, however TCP splits or joins
the bytes; invalid headers and oversized announcements end the session with a typed reason."""
from __future__ import annotations

import asyncio
import struct

import pytest

from iso15118_ev.transport.v2gtp import (MAX_PAYLOAD_LENGTH, FramingError, PayloadType, frame,
                                         parse_header, read_frame)
from iso15118_ev.vocabulary import DIN, EndReason
from support.scripted_charger import Raw, ScriptedCharger, handshake_ok, model_for, run_against

HEADER = struct.Struct('>BBHI')


@pytest.mark.parametrize('header, error', [
    (HEADER.pack(0x02, 0xFD, 0x8001, 4), 'version 0x02'),
    (HEADER.pack(0x01, 0xFF, 0x8001, 4), 'inverse 0xff'),
    (HEADER.pack(0x01, 0xFE, 0x7001, 4), 'unknown V2GTP payload type 0x7001'),
    (HEADER.pack(0x01, 0xFE, 0x8001, 2 ** 31), f'the limit is {MAX_PAYLOAD_LENGTH}'),
    (b'\x01\xfe\x80', 'header of 3 bytes'),
])
def test_invalid_headers_are_refused(header, error):
    with pytest.raises(FramingError, match=error):
        parse_header(header)


def test_header_round_trip():
    assert parse_header(frame(PayloadType.ISO20_DC, b'abc')[:8]) == (PayloadType.ISO20_DC, 3)


def read_all(chunks):
    """Frames read from a stream fed in these chunks (split or coalesced)."""
    async def main():
        reader = asyncio.StreamReader()
        for chunk in chunks:
            reader.feed_data(chunk)
        reader.feed_eof()
        frames = []
        while True:
            try:
                frames.append(await read_frame(reader))
            except asyncio.IncompleteReadError as exc:
                assert exc.partial == b''
                return frames
    return asyncio.run(main())


def test_split_and_coalesced_frames_are_read_one_message_at_a_time():
    one, two = frame(PayloadType.EXI, b'\x80first'), frame(PayloadType.ISO20_MAIN, b'\x80second')
    stream = one + two
    split = [stream[i:i + 1] for i in range(len(stream))]
    for chunks in ([stream], split, [one[:3], one[3:] + two[:9], two[9:]]):
        frames = read_all(chunks)
        assert [(f.payload_type, f.payload) for f in frames] == [
            (PayloadType.EXI, b'\x80first'), (PayloadType.ISO20_MAIN, b'\x80second')]


def din_setup(body: dict) -> dict:
    return {'ResponseCode': 'OK_NewSessionEstablished', 'EVSEID': '5A5A'}


def charger_answering_setup_with(answer) -> ScriptedCharger:
    """A DIN charger that answers SessionSetupReq with `answer` (bytes or an action)."""
    def handler(name, body):
        if name == 'supportedAppProtocolReq':
            return handshake_ok(body)
        return Raw(answer) if isinstance(answer, bytes) else answer
    return ScriptedCharger(DIN, handler)


@pytest.mark.parametrize('data, reason, text', [
    (HEADER.pack(0x02, 0xFD, 0x8001, 4) + b'\x80\x00\x00\x00', EndReason.PROTOCOL_ERROR,
     'SessionSetupRes: V2GTP version 0x02'),
    (HEADER.pack(0x01, 0xFE, 0x8001, 2 ** 31), EndReason.PROTOCOL_ERROR, 'the limit is'),
    (Raw(HEADER.pack(0x01, 0xFE, 0x8001, 100) + b'\x80' * 10, close=True),
     EndReason.CONNECTION_LOST, 'in the middle of a message (10 of 100 bytes)'),
    (frame(PayloadType.EXI, b'\x80\x01\x02\x03'), EndReason.PROTOCOL_ERROR,
     'SessionSetupRes could not be decoded'),
    (frame(PayloadType.ISO20_DC, b'\x80'), EndReason.PROTOCOL_ERROR, 'payload type 0x8004'),
])
def test_bad_framing_from_the_charger_ends_the_session(data, reason, text):
    charger = charger_answering_setup_with(data)
    outcome, _ = asyncio.run(run_against(charger, model_for('DC_extended')))
    assert outcome.reason == reason, outcome.message
    assert text in outcome.message


def test_a_response_in_one_byte_segments_is_read_whole():
    charger = ScriptedCharger(DIN, None)
    setup = charger.response('SessionSetupReq', din_setup({}))
    charger.handler = lambda name, body: (
        handshake_ok(body) if name == 'supportedAppProtocolReq' else
        Raw(setup, segment=1) if name == 'SessionSetupReq' else Raw(b'', close=True))
    outcome, observer = asyncio.run(run_against(charger, model_for('DC_extended')))
    assert observer.of('on_session_id') == [('A1B2C3D4',)]   # SessionSetupRes read whole
    assert charger.names()[-1] == 'ServiceDiscoveryReq'      # and the session went on
