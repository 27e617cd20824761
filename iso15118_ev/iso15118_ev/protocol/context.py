"""One V2G session's conversation: the EV's requests out, the charger's responses in.

`Context.request` is the only way a protocol module talks to the charger. It frames and
encodes the request, carries out an injected fault, waits for the response within the
message's timeout, decodes and checks it (name, session ID, response code) and reports both to
the observer, each also as a V2gMessage (stamped when sent / received; with its decoded JSON
and raw EXI only when `trace_detail` asks for them). Whatever ends the session raises
`SessionEnd` with a typed reason, decided where it happens.
"""
from __future__ import annotations

import abc
import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Callable, Mapping, Optional, Tuple

from ..codec import ExiDecodeError, ExiEncodeError, NativeExiCodec
from ..session.events import V2gMessage
from ..transport.connection import Connection, ConnectionLost
from ..transport.v2gtp import FramingError
from ..vocabulary import CpState, Direction, EndReason, Fault
from ..waiting import wait_within
from .timers import HANDSHAKE, Timeouts

logger = logging.getLogger(__name__)

# A V2GTP frame that carries no valid EXI message (FAULT_SEND_INVALID_MESSAGE).
INVALID_EXI = bytes([0xDE, 0xAD, 0xBE, 0xEF])
# Repeats of a request the charger answered with EVSEProcessing=Ongoing* are this far apart.
ONGOING_REPEAT_S = 0.1
Values = Callable[[dict], Mapping[str, float]]
Signer = Callable[[str, dict], dict]      # (request name, body) -> its header Signature
Clock = Callable[[], float]               # seconds
# Refusals of the EV's contract or of its signatures: the authorization failed.
CONTRACT_REFUSALS = ('Certificate', 'CertChain', 'Signature', 'Challenge', 'Contract')
# The protocol of the supportedAppProtocol handshake's messages in the trace (none is agreed).
HANDSHAKE_PROTOCOL = 'supportedAppProtocol'


@dataclass(frozen=True)
class Received:
    """A decoded response as it came off the wire."""

    document: dict
    namespace: str
    payload: bytes
    stamp: float                       # the trace clock when its frame was read


@dataclass(frozen=True)
class Outcome:
    """How a V2G session ended."""

    reason: EndReason
    message: str


class SessionEnd(Exception):
    """Ends the session with this reason; raised where the reason is decided."""

    def __init__(self, reason: EndReason, message: str):
        super().__init__(message)
        self.outcome = Outcome(reason, message)


def protocol_error(message: str) -> SessionEnd:
    return SessionEnd(EndReason.PROTOCOL_ERROR, message)


def need(body: Mapping, key: str, message: str):
    """body[key], where the schema leaves it optional (or one of a choice) but the EV needs it."""
    try:
        return body[key]
    except KeyError:
        raise protocol_error(f'{message}: {key} missing') from None


class Envelope(abc.ABC):
    """How one protocol wraps its message bodies (namespace, payload type, header)."""

    @abc.abstractmethod
    def wrap(self, name: str, body: dict, session_id: str,
             signature: Optional[dict] = None) -> Tuple[str, int, dict]:
        """(namespace, V2GTP payload type, document) of a request; `signature` goes into
        its header."""

    @abc.abstractmethod
    def namespace(self, payload_type: int) -> str:
        """The namespace a response of this payload type is decoded in (ValueError if none)."""

    @abc.abstractmethod
    def unwrap(self, document: dict) -> Tuple[str, dict, Optional[dict]]:
        """(message name, body, header or None) of a decoded response."""

    @abc.abstractmethod
    def refusal(self, name: str, body: Mapping) -> Optional[str]:
        """Why the response refuses the request (its FAILED response code), or None."""


class Observer(abc.ABC):
    """What a running session reports; the session tracker implements it."""

    @abc.abstractmethod
    def on_protocol(self, protocol: str) -> None: ...

    @abc.abstractmethod
    def on_control_mode(self, mode: str) -> None:
        """ISO 15118-20: 'scheduled' or 'dynamic', once the EV has selected it."""

    @abc.abstractmethod
    def on_session_id(self, session_id: str) -> None: ...

    @abc.abstractmethod
    def on_request(self, name: str) -> None: ...

    def on_message_timeout(self, name: str, timeout_s: float) -> None:
        """The time the EV waits for the response to request `name` (diagnostics)."""

    def on_v2g_message(self, message: V2gMessage) -> None:
        """A message sent or received, reported in the order of the wire."""

    @abc.abstractmethod
    def on_response(self, name: str, values: Mapping[str, float], round_trip_s: float) -> None:
        """`values`: the charger's quantities in this response (the session snapshot's
        evse_* names, ac_evse_max_current, target_*_power*); `round_trip_s`: request sent to
        response read."""

    @abc.abstractmethod
    def on_power_ready(self) -> None: ...

    @abc.abstractmethod
    def on_pre_charged(self, charger_voltage: float) -> None: ...

    @abc.abstractmethod
    def on_charger_stop(self, detail: str) -> None: ...

    @abc.abstractmethod
    def on_charger_pause(self, detail: str) -> None: ...

    @abc.abstractmethod
    def on_services_selected(self, service_ids: Tuple[int, ...]) -> None: ...

    @abc.abstractmethod
    def on_payment(self, method: str, emaid: str) -> None:
        """The payment in use (Contract or ExternalPayment) and, with Contract, the eMAID."""

    @abc.abstractmethod
    def on_contract_installed(self, emaid: str) -> None:
        """A new contract certificate was installed (or renewed) and stored for this EV."""


class BufferedObserver:
    """Holds a session's reports until `flush()`, which `Context.request` calls right after it
    has sent the next request: the tracker's and the node's work stays off the path from a
    response to the next request. Reports keep their order."""

    def __init__(self, observer: Observer):
        self._observer = observer
        self._pending: list = []

    def __getattr__(self, name: str):
        method = getattr(self._observer, name)
        return lambda *args: self._pending.append((method, args))

    def flush(self) -> None:
        pending, self._pending = self._pending, []
        for method, args in pending:
            method(*args)


class Context:
    """The state of one V2G session that every protocol module works with."""

    def __init__(self, connection: Connection, codec: NativeExiCodec, model, observer: Observer,
                 timeouts: Timeouts, evcc_id: bytes, iso20_control_mode: str = 'auto'):
        self.connection = connection
        self.codec = codec
        self.model = model                    # the vehicle (vehicle.model.EvModel)
        self.observer = BufferedObserver(observer)
        self.timeouts = timeouts
        self.evcc_id = evcc_id                # the PLC interface's MAC address
        self.iso20_control_mode = iso20_control_mode   # auto, scheduled or dynamic
        self.protocol = ''
        self.timer_group = HANDSHAKE
        self.envelope: Optional[Envelope] = None
        self.session_id = ''
        self.last_session_id = ''             # in the last response's header
        self.last_response = ''
        self.last_header: dict = {}           # the last response's header (its Signature)
        self.payment = None                   # protocol.payment.Payment of this session
        self.fault_fired: Optional[Fault] = None
        self.trace_detail = False             # V2gMessage with decoded JSON and raw EXI
        self.trace_clock: Clock = time.time   # what V2gMessage is stamped with (s)
        # V2G_EVCC_CommunicationSetup_Timeout: from the connection until SessionSetupRes.
        self.setup_deadline: Optional[Deadline] = Deadline(
            'communication_setup', timeouts.get(HANDSHAKE, 'communication_setup'))

    # --- timers ------------------------------------------------------------------------------
    def timeout(self, name: str) -> float:
        return self.timeouts.get(self.timer_group, name)

    def deadline(self, timer: str) -> 'Deadline':
        return Deadline(timer, self.timeout(timer))

    # --- the exchange ------------------------------------------------------------------------
    async def request(self, name: str, body: dict, deadline: Optional['Deadline'] = None,
                      values: Optional[Values] = None, signature: Optional[dict] = None) -> dict:
        """Send request `name` and return the body of its response (`name` with Res).

        With a running sequence timer (`deadline`), the EV waits no longer than it has left.
        `values` reads the charger's quantities from the response for the observer;
        `signature` goes into the request's header.
        """
        expected = name[:-3] + 'Res'
        timeout = self.timeout(name)
        deadline = deadline or self.setup_deadline
        if deadline is not None:
            deadline.check(name[:-3])
            timeout = min(timeout, deadline.remaining())
        namespace, payload_type, document = self.envelope.wrap(name, body, self.session_id,
                                                               signature)
        try:
            payload = self.codec.encode_object(document, namespace)
        except ExiEncodeError as exc:
            raise SessionEnd(EndReason.INTERNAL_ERROR, f'{name} could not be encoded: {exc}')
        if self.model.fault in (Fault.STOP_ANSWERING, Fault.SEND_INVALID_MESSAGE,
                                Fault.DROP_LINK):
            await self._fire_fault(name, payload_type, timeout)
        self.observer.on_request(name)
        self.observer.on_message_timeout(name, timeout)
        await self.connection.send(payload_type, payload)
        sent_at = time.monotonic()
        self._trace(Direction.EV_TO_CHARGER, name, self.session_id, namespace, payload,
                    document, self.trace_clock())
        self.observer.flush()
        response = self._read(expected, await self._receive(expected, timeout, deadline))
        self.observer.on_response(expected, values(response) if values is not None else {},
                                  time.monotonic() - sent_at)
        return response

    async def repeat_while_ongoing(self, name: str, build: Callable[[], dict], timer: str,
                                   values: Optional[Values] = None,
                                   check: Optional[Callable[[dict], object]] = None,
                                   sign: Optional[Signer] = None,
                                   deadline: Optional['Deadline'] = None) -> dict:
        """Repeat request `name` while the charger answers EVSEProcessing=Ongoing*, within the
        sequence timer `timer` (or `deadline`, that timer started earlier); `check` sees every
        response, `sign` signs every request.

        Returns the last response: Finished, or whatever came when the EV or the charger
        wanted to end.
        """
        deadline = deadline or self.deadline(timer)
        while True:
            body = build()
            signature = sign(name, body) if sign is not None else None
            response = await self.request(name, body, deadline, values, signature)
            if check is not None:
                check(response)
            if response['EVSEProcessing'] == 'Finished' or self.model.wants_to_end:
                return response
            await asyncio.sleep(ONGOING_REPEAT_S)

    async def wait_for_cp_energy(self, deadline: 'Deadline', before: str) -> bool:
        """With an external control pilot, wait (within `deadline`) for CP state C or D before
        request `before`: CableCheck needs it ([V2G2-912]). False if the EV or the charger
        wants to end first; SessionEnd(TIMEOUT) if the state never comes."""
        model, pilot = self.model, self.model.pilot
        pilot.want(CpState.C)     # CableCheck runs in C/D: the EV closes S2 first
        if pilot.energy_allowed:
            return True
        logger.info('%s waits for CP state C or D (now %s)', before,
                    pilot.state.name if pilot.state is not None else 'not reported')
        if await pilot.wait_for_energy(deadline.remaining(), lambda: model.wants_to_end):
            return True
        if model.wants_to_end:
            return False
        state = pilot.state.name if pilot.state is not None else 'never reported'
        raise SessionEnd(EndReason.TIMEOUT,
                         f'{before} needs CP state C or D; CP state {state} for '
                         f'{deadline.seconds:g} s ({deadline.name} timer)')

    async def set_up_session(self, new_session_id: str, evcc_id: str, resumable: bool = True,
                             fixed_length: bool = False) -> dict:
        """SessionSetup of a new session, or of the paused one: its SessionID in the header,
        where the protocol resumes and (`fixed_length`: ISO 15118-20's 8 bytes) the ID fits."""
        resumed = self.model.resume_session_id if resumable else None
        if resumed and fixed_length and len(resumed) != len(new_session_id):
            resumed = None
        self.session_id = resumed or new_session_id
        response = await self.request('SessionSetupReq', {'EVCCID': evcc_id})
        if resumed and response['ResponseCode'] != 'OK_OldSessionJoined':
            logger.info('the charger did not resume session %s (%s): a new session starts',
                        resumed, response['ResponseCode'])
        self.set_session_id(self.last_session_id)
        return response

    async def _receive(self, expected: str, timeout: float, deadline) -> Received:
        try:
            async with asyncio.timeout(timeout):   # no task per exchange, unlike wait_for
                frame = await self.connection.receive()
            stamp = self.trace_clock()
        except TimeoutError:
            if deadline is not None:
                deadline.check(expected[:-3])
            raise SessionEnd(EndReason.TIMEOUT, f'no {expected} within {timeout:g} s '
                             f'(message timeout of {expected[:-3]}Req)') from None
        except FramingError as exc:
            raise protocol_error(f'{expected}: {exc}') from None
        except ConnectionLost as exc:
            raise SessionEnd(EndReason.CONNECTION_LOST, f'waiting for {expected}: {exc}') from None
        try:
            namespace = self.envelope.namespace(frame.payload_type)
        except ValueError:
            raise protocol_error(f'{expected} expected, got V2GTP payload type '
                                 f'0x{frame.payload_type:04x}') from None
        try:
            document = self.codec.decode_object(frame.payload, namespace)
        except ExiDecodeError as exc:
            raise protocol_error(f'{expected} could not be decoded: {exc}') from None
        return Received(document, namespace, frame.payload, stamp)

    def _read(self, expected: str, received: Received) -> dict:
        name, body, header = self.envelope.unwrap(received.document)
        session_id = header['SessionID'] if header is not None else None
        self._trace(Direction.CHARGER_TO_EV, name, session_id or '', received.namespace,
                    received.payload, received.document, received.stamp)
        self.last_header = header or {}
        self.last_session_id = session_id or ''
        self.last_response = name
        if name != expected:
            raise protocol_error(f'{expected} expected, the charger sent {name}')
        if session_id is not None and self.session_id and session_id != self.session_id \
                and not name.startswith('SessionSetup'):
            raise protocol_error(f'{name}: SessionID {session_id} is not this session\'s '
                                 f'({self.session_id})')
        refusal = self.envelope.refusal(name, body)
        if refusal is not None:
            reason = EndReason.PROTOCOL_ERROR
            if any(word in refusal for word in CONTRACT_REFUSALS):
                reason = EndReason.AUTHORIZATION_FAILED
            raise SessionEnd(reason, f'the charger refused: {refusal} in {name}')
        return body

    def _trace(self, direction: Direction, name: str, session_id: str, namespace: str,
               payload: bytes, document: dict, stamp: float) -> None:
        detail = self.trace_detail   # JSON only when asked for: it costs more than the rest
        self.observer.on_v2g_message(V2gMessage(
            direction, self.protocol or HANDSHAKE_PROTOCOL, name, session_id, namespace, stamp,
            json.dumps(document, separators=(',', ':')) if detail else '',
            bytes(payload) if detail else b''))

    async def _fire_fault(self, name: str, payload_type: int, timeout: float) -> None:
        """Carry out the armed fault instead of sending `name`; always ends the session."""
        fault = self.fault_fired = self.model.fault
        self.model.fault = Fault.NONE
        self.observer.on_request(name)
        self.observer.flush()
        label = f'injected fault {fault.name.lower()}'
        if fault == Fault.DROP_LINK:
            self.connection.abort()
            raise SessionEnd(EndReason.FAULT_INJECTED,
                             f'{label}: the EV reset the TCP connection instead of sending {name}')
        if fault == Fault.SEND_INVALID_MESSAGE:
            await self.connection.send(payload_type, INVALID_EXI)
            what = await self._charger_reaction(timeout)
            raise SessionEnd(EndReason.FAULT_INJECTED,
                             f'{label}: sent undecodable bytes instead of {name}; the charger '
                             f'{what}')
        await asyncio.sleep(timeout)
        raise SessionEnd(EndReason.FAULT_INJECTED,
                         f'{label}: the EV sent nothing instead of {name} for {timeout:g} s')

    async def _charger_reaction(self, timeout: float) -> str:
        try:
            frame = await wait_within(self.connection.receive(), timeout)
        except asyncio.TimeoutError:
            return f'did not answer within {timeout:g} s'
        except (ConnectionLost, FramingError) as exc:
            return f'ended the connection ({exc})'
        return f'answered with {len(frame.payload)} bytes of payload type ' \
               f'0x{frame.payload_type:04x}'

    # --- what protocols report ---------------------------------------------------------------
    def agreed(self, protocol: str, timer_group: str, envelope: Envelope) -> None:
        self.protocol, self.timer_group, self.envelope = protocol, timer_group, envelope
        self.observer.on_protocol(protocol)

    def set_session_id(self, session_id: str) -> None:
        """The session is set up: the communication setup timer stops."""
        self.session_id = session_id
        self.setup_deadline = None
        self.observer.on_session_id(session_id)

    def charger_stops(self, detail: str) -> None:
        if not self.model.charger_stop_seen:
            self.model.charger_stop_seen = True
            self.observer.on_charger_stop(detail)

    def charger_pauses(self, detail: str) -> None:
        if not self.model.charger_pause_seen:
            self.model.charger_pause_seen = True
            self.observer.on_charger_pause(detail)


class Deadline:
    """A sequence timer: started now, `expired()` once its time is up."""

    def __init__(self, name: str, seconds: float):
        self.name = name
        self.seconds = seconds
        self.ends = time.monotonic() + seconds

    def expired(self) -> bool:
        return time.monotonic() >= self.ends

    def remaining(self) -> float:
        return max(self.ends - time.monotonic(), 0.0)

    def check(self, what: str) -> None:
        """SessionEnd(TIMEOUT) naming the timer if it has run out."""
        if self.expired():
            raise SessionEnd(EndReason.TIMEOUT,
                             f'{what} did not finish within {self.seconds:g} s '
                             f'({self.name} timer)')



def orderly_outcome(model, note: str = '') -> Outcome:
    """How a session that ended with the protocol's orderly stop ended, and who asked."""
    if model.pausing:
        by = "at the charger's request" if model.charger_pause_seen else 'by the EV'
        return Outcome(EndReason.PAUSED, f'paused {by} (SessionStop Pause); start_charging '
                       f'resumes{note}')
    if model.charger_stop_seen:
        return Outcome(EndReason.STOPPED_BY_CHARGER, f'the charger asked to stop{note}')
    if model.stop_requested:
        return Outcome(EndReason.STOPPED_BY_EV, f'stopped by the EV{note}')
    return Outcome(EndReason.FINISHED, f'charging complete{note}')


def early_end(model, before: str) -> SessionEnd:
    """The EV or charger wants to end where the protocol has no orderly stop: the EV closes."""
    what = 'pause' if model.pausing else 'stop'
    reason = EndReason.STOPPED_BY_CHARGER if model.charger_stop_seen else EndReason.STOPPED_BY_EV
    return SessionEnd(reason, f'{what} asked for before {before}, where the protocol has no '
                      'orderly stop: connection closed')
