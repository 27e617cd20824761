"""The TCP (or TLS) connection to the charger, carrying V2GTP frames."""
from __future__ import annotations

import asyncio
import socket
import ssl
from typing import Optional

from ..waiting import wait_within
from .sdp import SeccAddress
from .v2gtp import MAX_PAYLOAD_LENGTH, Frame, frame, read_frame

CONNECT_TIMEOUT_S = 5.0


class ConnectionLost(Exception):
    """The charger closed or reset the connection (or it could not be opened)."""


class TlsFailure(Exception):
    """The TLS handshake failed, e.g. the charger's certificate is not trusted."""


async def _open(secc: SeccAddress, context: Optional[ssl.SSLContext]):
    """Connect to the numeric address SDP gave, with its interface scope: no name lookup (which
    asyncio would run in a thread pool)."""
    address, _, scope = secc.host.partition('%')
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        await asyncio.get_running_loop().sock_connect(
            sock, (address, secc.port, 0, socket.if_nametoindex(scope) if scope else 0))
        return await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname='' if context is not None else None)
    except BaseException:
        sock.close()
        raise


class Connection:
    """One V2G connection: send a frame, receive exactly one frame."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                 max_payload: int = MAX_PAYLOAD_LENGTH):
        self._reader = reader
        self._writer = writer
        self.max_payload = max_payload

    @classmethod
    async def open(cls, secc: SeccAddress, context: Optional[ssl.SSLContext],
                   timeout: float = CONNECT_TIMEOUT_S,
                   max_payload: int = MAX_PAYLOAD_LENGTH) -> 'Connection':
        try:
            reader, writer = await wait_within(_open(secc, context), timeout)
        except ssl.SSLCertVerificationError as exc:
            raise TlsFailure(f"the charger's certificate chain does not verify against the "
                             f"trusted V2G root(s): {exc.verify_message}") from None
        except ssl.SSLError as exc:
            raise TlsFailure(f'TLS handshake with [{secc.host}]:{secc.port} failed: '
                             f'{exc.reason or exc}') from None
        except (OSError, asyncio.TimeoutError) as exc:
            raise ConnectionLost(f'could not connect to the charger at [{secc.host}]:'
                                 f'{secc.port}: {exc!r}') from None
        return cls(reader, writer, max_payload)

    @property
    def tls_version(self) -> str:
        """'TLSv1.2', 'TLSv1.3' or '' without TLS."""
        ssl_object = self._writer.get_extra_info('ssl_object')
        return ssl_object.version() if ssl_object is not None else ''

    async def send(self, payload_type: int, payload: bytes) -> None:
        await self.send_raw(frame(payload_type, payload))

    async def send_raw(self, data: bytes) -> None:
        try:
            self._writer.write(data)
            await self._writer.drain()
        except (OSError, RuntimeError) as exc:
            raise ConnectionLost(f'sending failed: {exc!r}') from None

    async def receive(self) -> Frame:
        """The next frame; FramingError for invalid framing, ConnectionLost on EOF/reset."""
        try:
            return await read_frame(self._reader, self.max_payload)
        except asyncio.IncompleteReadError as exc:
            got = len(exc.partial)
            raise ConnectionLost('the charger closed the connection'
                                 + (f' in the middle of a message ({got} of {exc.expected} '
                                    'bytes)' if got else '')
                                 ) from None
        except (OSError, ssl.SSLError) as exc:
            raise ConnectionLost(f'receiving failed: {exc!r}') from None

    def abort(self) -> None:
        """Drop the connection at once (TCP reset), as a broken link would."""
        transport = self._writer.transport
        if not transport.is_closing():
            transport.abort()

    async def close(self, timeout: float = 1.0) -> None:
        if self._writer.transport.is_closing():
            return
        try:
            self._writer.close()
            await asyncio.wait_for(self._writer.wait_closed(), timeout)
        except (asyncio.TimeoutError, OSError, ssl.SSLError):
            self.abort()
