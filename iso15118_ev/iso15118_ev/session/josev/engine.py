"""Runs one V2G session with the `iso15118` package's EVCC state machine.

Josev's own session handler restarts discovery forever on failure and sleeps 5 s after every
session; we keep its state machine and messages but drive the session ourselves: connect,
send SupportedAppProtocolReq, run its receive loop, and turn its end into an `Outcome`.
"""
from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from typing import Optional

from iso15118.evcc import evcc_settings
from iso15118.evcc.comm_session_handler import EVCCCommunicationSession
from iso15118.evcc.evcc_config import EVCCConfig
from iso15118.evcc.states import din_spec_states as din
from iso15118.evcc.states import iso15118_2_states as iso2
from iso15118.evcc.states import iso15118_20_states as iso20
from iso15118.shared.exi_codec import EXI
from iso15118.shared.messages.enums import AuthEnum, ISOV20PayloadTypes, Namespace, Protocol
from iso15118.shared.messages.iso15118_20.common_messages import (
    ChargingSession as ChargingSessionV20, SessionStopReq as SessionStopReqV20)
from iso15118.shared.messages.iso15118_20.common_types import (
    EVSENotification as EVSENotificationV20, MessageHeader as MessageHeaderV20)
from iso15118.shared.messages.iso15118_20.timeouts import Timeouts as TimeoutsV20
from iso15118.shared.messages.timeouts import Timeouts
from iso15118.shared.messages.v2gtp import V2GTPMessage
from iso15118.shared.notifications import StopNotification
from iso15118.shared.security import get_ssl_context
from iso15118.shared.settings import load_shared_settings

from ..engine import EngineSettings, Outcome, ProtocolEngine, SessionObserver
from ...vehicle.model import EvModel
from ..events import EndReason, Fault
from ...transport.sdp import SeccAddress
from .codec import NATIVE, make_codec
from .controller import ModelEvController
from .patches import install_patches
from .observe import body_of, message_name, read_response

logger = logging.getLogger(__name__)

TCP_CONNECT_TIMEOUT_S = 5.0
SAE_J2847_SERVICE_IDS = (28472, 28473)  # V2H, V2G (SAE J2847/2 over ISO 15118-2)
CHARGE_LOOP_STATES = {Protocol.DIN_SPEC_70121: din.CurrentDemand,
                      Protocol.ISO_15118_2: iso2.CurrentDemand}
INVALID_EXI = bytes([0x01, 0xFE, 0x80, 0x01, 0x00, 0x00, 0x00, 0x04, 0xDE, 0xAD, 0xBE, 0xEF])


class ObservedSession(EVCCCommunicationSession):
    """Josev's EVCC session, reporting what is sent and received, and carrying out faults."""

    def __init__(self, transport, queue, config, iface, controller, model: EvModel,
                 observer: SessionObserver):
        super().__init__(transport, queue, config, iface, controller)
        self.model = model
        self.observer = observer
        self.fault_fired: Optional[Fault] = None
        self.power_delivery_started = False
        self._setup_done = False
        self._last_request = ''
        self.early_end: Optional[Outcome] = None
        self._reported_protocol = ''
        self.response_hook = self._on_response
        self.payment_choice = self._payment_choice
        self.extra_services = self._extra_services

    async def send(self, message):
        name = message_name(self.current_state.message)
        if self._apply_fault(name, message):
            return
        if self.model.wants_to_end and not self.power_delivery_started \
                and name != 'PowerDeliveryReq':
            message = await self._end_before_power_delivery(name)
        request = self.current_state.message  # may have been replaced just now
        name = message_name(request)
        self.power_delivery_started |= name == 'PowerDeliveryReq'
        message = self._as_pause(request, message)
        await super().send(message)
        self._last_request = name
        if name == 'PaymentServiceSelectionReq':
            self.observer.on_services_selected(
                [int(s.service_id) for s in self.selected_services])
        if self.protocol != Protocol.UNKNOWN and self.protocol.name != self._reported_protocol:
            self._reported_protocol = self.protocol.name
            self.observer.on_protocol(self.protocol.name)
        self.observer.on_request(name)

    async def _end_before_power_delivery(self, name: str):
        """Stop or pause asked for before PowerDelivery(Start): the message to send instead.

        Josev consults the EV only in the charge loop. Where the protocol allows an orderly
        end, it is used: ISO 15118-20 accepts SessionStopReq after SessionSetup; DIN and
        ISO 15118-2 accept PowerDelivery(Stop) from pre-charge on (the charge loop's own stop
        is borrowed). Before that (Josev's charger answers SessionStopReq with
        FAILED_SequenceError) the EV closes the connection.
        """
        if self.protocol in (Protocol.ISO_15118_20_AC, Protocol.ISO_15118_20_DC) \
                and self._setup_done:
            return self._iso20_session_stop()
        loop_state = CHARGE_LOOP_STATES.get(self.protocol)
        if loop_state is not None and name == self._last_request == 'PreChargeReq':
            stopping = loop_state(self)  # becomes current_state, as every state does
            await stopping.stop_charging()
            return stopping.next_v2gtp_msg
        self._end_early(EndReason.STOPPED_BY_EV,
                        f'stopped before charging began (next request was {name}); '
                        'connection closed')

    def _iso20_session_stop(self):
        action = ChargingSessionV20.PAUSE if self.model.pause_requested \
            else ChargingSessionV20.TERMINATE
        self.charging_session_stop_v20 = action
        state = self.current_state
        state.create_next_message(
            iso20.SessionStop,
            SessionStopReqV20(header=MessageHeaderV20(session_id=self.session_id,
                                                      timestamp=time.time()),
                              charging_session=action),
            TimeoutsV20.SESSION_STOP_REQ, Namespace.ISO_V20_COMMON_MSG,
            ISOV20PayloadTypes.MAINSTREAM)
        return state.next_v2gtp_msg

    def _as_pause(self, request, message):
        """SessionStopReq says Pause instead of Terminate when the EV or charger paused.

        Josev never sends Pause itself (its -20 DC path even hard-codes Terminate), so the
        request is changed and encoded again just before it leaves.
        """
        body = body_of(request)
        if not (self.model.pause_requested and type(body).__name__ == 'SessionStopReq'):
            return message
        body.charging_session = type(body.charging_session)('Pause')
        payload = EXI().to_exi(request, self.get_exi_ns(message.payload_type))
        return V2GTPMessage(self.protocol, message.payload_type, payload)

    def _apply_fault(self, name: str, message) -> bool:
        """Carry out an armed fault at the next request. True when nothing more is to be sent."""
        fault = self.model.fault
        if fault not in (Fault.STOP_ANSWERING, Fault.SEND_INVALID_MESSAGE, Fault.DROP_LINK):
            return False
        self.fault_fired = fault
        self.model.fault = Fault.NONE
        self.observer.on_request(name)  # the exchange the charger now waits for
        if fault == Fault.SEND_INVALID_MESSAGE:
            self.writer.write(INVALID_EXI)
        elif fault == Fault.DROP_LINK:
            self.writer.transport.abort()
        return True

    def _payment_choice(self, offered, chosen):
        """The payment option start_charging asked for, if offered (ISO 15118-2)."""
        request = self.model.request
        wanted = request.payment_option if request else None
        if wanted is None or wanted == chosen:
            return chosen
        if wanted in offered:
            return AuthEnum(wanted)
        if request.enforce_payment_option:
            self._end_early(EndReason.PROTOCOL_ERROR,
                            f'the charger does not offer payment option {wanted} '
                            f'(offered: {", ".join(o.value for o in offered)})')
        return chosen

    def _extra_services(self, service_discovery_res):
        """SAE J2847/2 V2H / V2G, when enabled and offered (ISO 15118-2 DC)."""
        if not (self.model.sae_j2847_enabled and self.model.mode.is_dc):
            return []
        services = service_discovery_res.service_list
        offered = {int(s.service_id) for s in services.services} if services else set()
        return [sid for sid in SAE_J2847_SERVICE_IDS if sid in offered]

    def _end_early(self, reason: EndReason, message: str) -> None:
        """End the session now from inside the state machine, with this outcome."""
        self.early_end = Outcome(reason, message)
        self.writer.transport.abort()
        raise asyncio.CancelledError

    def _on_response(self, message) -> None:
        name = message_name(message)
        if name == 'SessionSetupRes':
            self._setup_done = True
            self.observer.on_session_id(str(getattr(message.header, 'session_id', '')))
        response = read_response(message)
        self.observer.on_response(name, response.values, response.notifications,
                                  response.processing_finished)
        _tame_iso20_notification(message)

    async def stop(self, reason: str):
        # Josev waits 2 + 3 s before closing; the EV has nothing left to send after SessionStop.
        try:
            self.writer.close()
            await asyncio.wait_for(self.writer.wait_closed(), 1.0)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass


def _tame_iso20_notification(message) -> None:
    """Make Josev's -20 charge loops survive notifications they do not implement.

    They raise NotImplementedError for anything but Terminate and ServiceRenegotiation. A Pause
    becomes Terminate here (the tracker has already turned it into a pause request, so the
    session still ends with SessionStop Pause); the others are dropped and charging goes on.
    """
    status = getattr(message, 'evse_status', None)
    note = getattr(status, 'evse_notification', None)
    if note is None or note in (EVSENotificationV20.TERMINATE,
                                EVSENotificationV20.SERVICE_RENEGOTIATION):
        return
    if note == EVSENotificationV20.PAUSE:
        status.evse_notification = EVSENotificationV20.TERMINATE
    else:
        logger.warning('ignoring ISO 15118-20 EVSENotification %s', note)
        message.evse_status = None


class JosevEngine(ProtocolEngine):
    def __init__(self, model: EvModel, jvm_heap_mb: int = 64, pki_path: str = '',
                 exi_codec: str = NATIVE):
        self.model = model
        self.jvm_heap_mb = jvm_heap_mb
        self.pki_path = pki_path
        self.exi_codec = exi_codec
        self.codec = None
        self._task: Optional[asyncio.Task] = None
        self._abort: Optional[Outcome] = None

    async def start(self) -> None:
        if self.pki_path:  # the package reads its PKI folder from the environment only
            os.environ['PKI_PATH'] = os.path.join(os.path.abspath(self.pki_path), '')
        load_shared_settings()
        # The package logs every message at INFO (and reconfigures root logging on import).
        logging.getLogger('iso15118').setLevel(logging.WARNING)
        install_patches()
        loop = asyncio.get_running_loop()
        self.codec = await loop.run_in_executor(None, make_codec, self.exi_codec,
                                                self.jvm_heap_mb)
        EXI().set_exi_codec(self.codec)

    def close(self) -> None:
        if self.codec is not None:
            self.codec.shutdown()
            self.codec = None

    async def run_session(self, secc: SeccAddress, settings: EngineSettings,
                          observer: SessionObserver) -> Outcome:
        self._abort = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                host=secc.host, port=secc.port, family=socket.AF_INET6,
                ssl=get_ssl_context(False) if secc.tls else None), TCP_CONNECT_TIMEOUT_S)
        except (OSError, asyncio.TimeoutError) as exc:
            return Outcome(EndReason.CONNECTION_LOST,
                           f'could not connect to the charger at [{secc.host}]:{secc.port}: {exc!r}')
        queue: asyncio.Queue = asyncio.Queue()
        # Josev's SessionSetup reads the ID of a paused session from this module global.
        evcc_settings.RESUME_SESSION_ID = self.model.resume_session_id
        config = self._config(settings)
        controller = ModelEvController(config, self.model, observer.on_pre_charged)
        session = ObservedSession((reader, writer), queue, config, settings.iface, controller,
                                  self.model, observer)
        session.is_tls = secc.tls
        try:
            await session.send_sap()
            self._task = asyncio.create_task(session.start(Timeouts.SUPPORTED_APP_PROTOCOL_REQ))
            stop = await self._wait_for_end(queue)
        except Exception as exc:  # an engine defect must end the session, not the node
            logger.exception('EVCC session failed')
            stop = StopNotification(False, f'{type(exc).__name__}: {exc}', None)
        finally:
            await self._finish(writer)
        return self._abort or session.early_end or self._outcome(stop, session)

    async def _wait_for_end(self, queue: asyncio.Queue) -> StopNotification:
        getter = asyncio.ensure_future(queue.get())
        done, _ = await asyncio.wait({getter, self._task}, return_when=asyncio.FIRST_COMPLETED)
        if getter in done:
            return getter.result()
        getter.cancel()
        exc = self._task.exception() if not self._task.cancelled() else None
        return StopNotification(False, f'session task ended: {exc!r}' if exc else 'session aborted', None)

    async def _finish(self, writer) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        writer.close()
        self._task = None

    async def abort(self, reason: EndReason, message: str) -> None:
        self._abort = Outcome(reason, message)
        if self._task is not None:
            self._task.cancel()

    def _config(self, settings: EngineSettings) -> EVCCConfig:
        config = EVCCConfig(useTls=settings.use_tls, enforceTls=settings.enforce_tls,
                            supportedEnergyServices=[self.model.mode.iso20_service])
        config.load_raw_values()
        # Josev's loader passes the list through a set; keep the configured order.
        config.supported_protocols = [Protocol[name] for name in settings.protocols]
        return config

    def _outcome(self, stop: StopNotification, session: ObservedSession) -> Outcome:
        return classify(stop.successful, stop.reason or '', session.fault_fired, self.model)


def classify(successful: bool, text: str, fault: Optional[Fault], model: EvModel) -> Outcome:
    """Why the session ended, from Josev's stop notification and what the EV knows."""
    if successful:
        if model.pause_requested:
            by = 'at the charger\'s request' if model.charger_pause_seen else 'by the EV'
            return Outcome(EndReason.PAUSED,
                           f'paused {by} (SessionStop Pause); start_charging resumes')
        if model.charger_stop_seen:
            return Outcome(EndReason.STOPPED_BY_CHARGER, f'the charger asked to stop: {text}')
        if model.stop_requested:
            return Outcome(EndReason.STOPPED_BY_EV, f'stopped by the EV: {text}')
        return Outcome(EndReason.FINISHED, f'charging complete: {text}')
    if fault is not None:
        return Outcome(EndReason.FAULT_INJECTED, f'injected fault {fault.name.lower()}: {text}')
    lowered = text.lower()
    if 'timeout' in lowered:
        return Outcome(EndReason.TIMEOUT, text)
    if 'closed connection' in lowered or 'connectionreset' in lowered or 'broken pipe' in lowered:
        return Outcome(EndReason.CONNECTION_LOST, text)
    return Outcome(EndReason.PROTOCOL_ERROR, text)
