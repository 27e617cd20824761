"""How each protocol wraps a message body: namespaces, V2GTP payload types, headers."""
from __future__ import annotations

import time
from typing import Mapping, Optional, Tuple

from ..codec import namespaces as ns
from ..transport.v2gtp import PayloadType
from .context import Envelope, protocol_error


def _single(mapping, what: str) -> Tuple[str, object]:
    if type(mapping) is not dict or len(mapping) != 1:
        raise protocol_error(f'{what} does not hold exactly one message')
    return next(iter(mapping.items()))


class AppProtocolEnvelope(Envelope):
    """supportedAppProtocolReq/Res: no header (ISO 15118-2 8.2, ISO 15118-20 8.3.1)."""

    def wrap(self, name, body, session_id, signature=None):
        return ns.APP_PROTOCOL, PayloadType.EXI, {name: body}

    def namespace(self, payload_type):
        if payload_type != PayloadType.EXI:
            raise ValueError(payload_type)
        return ns.APP_PROTOCOL

    def unwrap(self, document):
        name, body = _single(document, 'the handshake response')
        return name, body, None

    def refusal(self, name, body):
        code = body.get('ResponseCode', '')
        return code if code.startswith('Failed') else None


class V2gMessageEnvelope(Envelope):
    """DIN SPEC 70121 and ISO 15118-2: V2G_Message with Header (SessionID) and Body."""

    def __init__(self, namespace: str):
        self._namespace = namespace

    def wrap(self, name, body, session_id, signature=None):
        header = {'SessionID': session_id}
        if signature is not None:
            header['Signature'] = signature
        document = {'V2G_Message': {'Header': header, 'Body': {name: body}}}
        return self._namespace, PayloadType.EXI, document

    def namespace(self, payload_type):
        if payload_type != PayloadType.EXI:
            raise ValueError(payload_type)
        return self._namespace

    def unwrap(self, document):
        message = document.get('V2G_Message')
        if message is None:
            raise protocol_error(f'{next(iter(document))} instead of a V2G_Message')
        header, body = message['Header'], message['Body']
        name, content = _single(body, 'the response Body')
        return name, content, header

    def refusal(self, name, body):
        code = body.get('ResponseCode', '')
        return code if code.startswith('FAILED') else None


ISO20_NAMESPACES = {
    PayloadType.ISO20_MAIN: ns.ISO20_COMMON,
    PayloadType.ISO20_DC: ns.ISO20_DC,
    PayloadType.ISO20_AC: ns.ISO20_AC,
}


class Iso20Envelope(Envelope):
    """ISO 15118-20: each message carries its own Header (SessionID, TimeStamp).

    DC_* and AC_* messages belong to the DC / AC namespaces and payload types; the rest are
    CommonMessages (ISO 15118-20 Table 12).
    """

    def wrap(self, name, body, session_id, signature=None):
        header = {'SessionID': session_id, 'TimeStamp': int(time.time())}
        if signature is not None:
            header['Signature'] = signature
        if name.startswith('DC_'):
            namespace, payload_type = ns.ISO20_DC, PayloadType.ISO20_DC
        elif name.startswith('AC_'):
            namespace, payload_type = ns.ISO20_AC, PayloadType.ISO20_AC
        else:
            namespace, payload_type = ns.ISO20_COMMON, PayloadType.ISO20_MAIN
        return namespace, payload_type, {name: {'Header': header, **body}}

    def namespace(self, payload_type):
        try:
            return ISO20_NAMESPACES[payload_type]
        except KeyError:
            raise ValueError(payload_type) from None

    def unwrap(self, document):
        name, content = _single(document, 'the response')
        return name, content, content['Header']

    def refusal(self, name, body: Mapping) -> Optional[str]:
        code = body.get('ResponseCode', '')
        return code if code.startswith('FAILED') else None
