"""Charger simulator: transport faults for timing tests, on the `iso15118` package's SECC.

- answers to charge-loop requests withheld (freeze) or late (delay), counted per TCP session;
- every response written in TCP segments of a few bytes;
- SDP responses announcing some other IPv6 address than the charger's.
"""
from __future__ import annotations

import asyncio
import logging
import socket
from typing import Optional

from iso15118.secc import SECCHandler
from iso15118.secc import comm_session_handler
from iso15118.secc.comm_session_handler import SECCCommunicationSession

CHARGE_LOOP_STATES = ('CurrentDemand', 'ChargingStatus', 'DCChargeLoop', 'ACChargeLoop')
SEGMENT_GAP_S = 0.001

logger = logging.getLogger('charger_simulator')


def session_class(args):
    """The package's SECC session, with the timing and segmentation faults of `args`."""

    def from_loop(loops: int, count: int) -> bool:
        return 0 < loops <= count

    class FaultySECCSession(SECCCommunicationSession):
        def __init__(self, transport, *rest, **kwargs):
            super().__init__(transport, *rest, **kwargs)
            self.charge_loops = 0
            if args.segment_bytes:
                sock = self.writer.get_extra_info('socket')
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        async def send(self, message):
            if str(self.current_state) in CHARGE_LOOP_STATES:
                self.charge_loops += 1
                if from_loop(args.freeze_after_loops, self.charge_loops):
                    await self._freeze()
                if from_loop(args.delay_after_loops, self.charge_loops):
                    await asyncio.sleep(args.delay_ms / 1000)
            if not args.segment_bytes:
                await super().send(message)
                return
            data = message.to_bytes()
            for start in range(0, len(data), args.segment_bytes):
                self.writer.write(data[start:start + args.segment_bytes])
                await self.writer.drain()
                await asyncio.sleep(SEGMENT_GAP_S)  # lets each write leave as its own segment
            self.last_message_sent = message

        async def _freeze(self):
            """Answer nothing more; keep the connection open until the EV closes it."""
            logger.warning('charge loop %d: frozen, no more answers', self.charge_loops)
            while await self.reader.read(7000):
                pass
            raise ConnectionResetError('EV closed the connection to the frozen charger')

    return FaultySECCSession


def install_session_faults(args) -> None:
    # The handler creates each TCP session by this module-level name and offers no other hook.
    comm_session_handler.SECCCommunicationSession = session_class(args)


class ChargerHandler(SECCHandler):
    """The package's SECC handler; its SDP responses may announce `sdp_address` instead."""

    def __init__(self, *args, sdp_address: Optional[str] = None, sdp_answers_then_real: int = 0,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.sdp_address = socket.inet_pton(socket.AF_INET6, sdp_address) if sdp_address else b''
        self.sdp_answers_then_real = sdp_answers_then_real
        self.sdp_answers = 0

    async def process_sdp_request(self, sdp_request):
        response = await super().process_sdp_request(sdp_request)
        self.sdp_answers += 1
        if self.sdp_address and not 0 < self.sdp_answers_then_real < self.sdp_answers:
            response.ip_address = self.sdp_address
            logger.warning('SDP answer %d announces %s', self.sdp_answers,
                           socket.inet_ntop(socket.AF_INET6, self.sdp_address))
        return response
