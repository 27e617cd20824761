"""A scripted charger for the engine's unit tests: a real TCP server on ::1 whose answers a test
builds message by message, with the project's own codec (the EV's real transport and codec run
against it; only the charger's decisions are scripted).

A handler gets (request name, request body) and returns what the charger does:
- a dict: the response body (the harness wraps it in the protocol's envelope and session ID);
- `Raw(bytes, segment=0, close=False)`: these bytes are written as they are (framing tests),
  in TCP segments of `segment` bytes if given, and then the connection closed if `close`;
- `Silent()`: no answer, the connection stays open;
- `Close()`: the charger closes the connection;
- `Signed(body, signature)`: the response body with this Signature in its header.
"""
from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Callable, List, Optional, Tuple

from iso15118_ev.codec import NativeExiCodec
from iso15118_ev.codec import namespaces as ns
from iso15118_ev.protocol.app_protocol import APP_PROTOCOLS
from iso15118_ev.protocol.payment import Payment
from iso15118_ev.protocol.timers import Timeouts
from iso15118_ev.session.v2g import V2gSettings, run_v2g_session
from iso15118_ev.transport.sdp import SeccAddress
from iso15118_ev.transport.v2gtp import PayloadType, frame, read_frame
from iso15118_ev.vehicle.energy_modes import check_energy_mode
from iso15118_ev.vehicle.model import EvModel
from iso15118_ev.vehicle.parameters import StartRequest
from iso15118_ev.vocabulary import DIN, ISO2, ISO20_AC, ISO20_DC

SESSION_ID = {DIN: 'A1B2C3D4', ISO2: 'A1B2C3D4E5F60708', ISO20_DC: 'A1B2C3D4E5F60708',
              ISO20_AC: 'A1B2C3D4E5F60708'}
PAYLOAD_NAMESPACES = {PayloadType.ISO20_MAIN: ns.ISO20_COMMON, PayloadType.ISO20_DC: ns.ISO20_DC,
                      PayloadType.ISO20_AC: ns.ISO20_AC}


@dataclass(frozen=True)
class Raw:
    data: bytes
    segment: int = 0
    close: bool = False


@dataclass(frozen=True)
class Silent:
    pass


@dataclass(frozen=True)
class Close:
    pass


@dataclass(frozen=True)
class Signed:
    body: dict
    signature: dict


Handler = Callable[[str, dict], object]


@dataclass
class ScriptedCharger:
    protocol: str
    handler: Handler
    codec: NativeExiCodec = field(default_factory=NativeExiCodec)
    requests: List[Tuple[float, str, dict]] = field(default_factory=list)  # (time, name, body)
    server: Optional[asyncio.AbstractServer] = None

    async def start(self) -> SeccAddress:
        self.server = await asyncio.start_server(self._serve, '::1', 0)
        port = self.server.sockets[0].getsockname()[1]
        return SeccAddress('::1', port, False)

    async def close(self) -> None:
        self.server.close()
        await self.server.wait_closed()

    def names(self) -> List[str]:
        return [name for _, name, _ in self.requests]

    async def _serve(self, reader, writer) -> None:
        agreed = False
        try:
            while True:
                payload_type, payload = await read_frame(reader)
                namespace = self._namespace(payload_type, agreed)
                document = self.codec.decode_object(payload, namespace)
                name, body = self._unwrap(document, agreed)
                self.requests.append((time.monotonic(), name, body))
                action = self.handler(name, body)
                if isinstance(action, Close):
                    break
                if isinstance(action, Silent):
                    continue
                if isinstance(action, Raw):
                    await self._write_raw(writer, action)
                    if action.close:
                        break
                elif isinstance(action, Signed):
                    writer.write(self._response(name, action.body, agreed, payload_type,
                                                action.signature))
                else:
                    writer.write(self._response(name, action, agreed, payload_type))
                await writer.drain()
                agreed = True
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    @staticmethod
    async def _write_raw(writer, raw: Raw) -> None:
        step = raw.segment or len(raw.data)
        for start in range(0, len(raw.data), step):
            writer.write(raw.data[start:start + step])
            await writer.drain()
            if raw.segment:
                await asyncio.sleep(0.001)  # each piece its own TCP segment

    def response(self, request: str, body: dict, payload_type: int = PayloadType.EXI) -> bytes:
        """The framed response a handler would give as a dict (after the handshake)."""
        return self._response(request, body, True, payload_type)

    def _namespace(self, payload_type: int, agreed: bool) -> str:
        if not agreed:
            return ns.APP_PROTOCOL
        if self.protocol in (DIN, ISO2):
            return APP_PROTOCOLS[self.protocol].namespace
        return PAYLOAD_NAMESPACES[payload_type]

    def _unwrap(self, document: dict, agreed: bool) -> Tuple[str, dict]:
        if agreed and self.protocol in (DIN, ISO2):
            (name, body), = document['V2G_Message']['Body'].items()
            return name, body
        (name, body), = document.items()
        return name, body

    def _response(self, request: str, body: dict, agreed: bool, payload_type: int,
                  signature: Optional[dict] = None) -> bytes:
        name = request[:-3] + 'Res'
        if not agreed:
            return frame(PayloadType.EXI, self.codec.encode_object({name: body}, ns.APP_PROTOCOL))
        header = {'SessionID': SESSION_ID[self.protocol]}
        if signature is not None:
            header['Signature'] = signature
        if self.protocol in (DIN, ISO2):
            document = {'V2G_Message': {'Header': header, 'Body': {name: body}}}
            namespace = APP_PROTOCOLS[self.protocol].namespace
        else:
            document = {name: {'Header': {**header, 'TimeStamp': int(time.time())}, **body}}
            namespace = PAYLOAD_NAMESPACES[payload_type]
        return frame(payload_type, self.codec.encode_object(document, namespace))


class RecordingObserver:
    """The session tracker's interface, recording every call as (method, args)."""

    def __init__(self):
        self.calls: List[tuple] = []

    def __getattr__(self, method):
        if not method.startswith('on_'):
            raise AttributeError(method)
        return lambda *args: self.calls.append((method, *args))

    def of(self, method: str) -> list:
        return [call[1:] for call in self.calls if call[0] == method]


def model_for(mode: str, **start) -> EvModel:
    model = EvModel()
    model.begin_session(StartRequest.from_fields(mode, **start), check_energy_mode(mode))
    return model


async def run_against(charger: ScriptedCharger, model: EvModel, offered=None,
                      timeouts: Timeouts = Timeouts(), observer=None, control_mode='auto',
                      payment: Optional[Payment] = None):
    """Run one EV session against the scripted charger; (outcome, observer)."""
    secc = await charger.start()
    observer = observer or RecordingObserver()
    settings = V2gSettings(tuple(offered or (charger.protocol,)), timeouts, bytes(6), '',
                           control_mode, payment or Payment())
    try:
        outcome = await run_v2g_session(secc, settings, model, observer, charger.codec)
    finally:
        await charger.close()
    return outcome, observer


def handshake_ok(body: dict) -> dict:
    """supportedAppProtocolRes choosing the EV's first offer."""
    return {'ResponseCode': 'OK_SuccessfulNegotiation',
            'SchemaID': body['AppProtocol'][0]['SchemaID']}

