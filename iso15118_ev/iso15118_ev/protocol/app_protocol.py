"""The protocol handshake (ISO 15118-2 8.2, DIN 70121 9.1, ISO 15118-20 8.3.1).

The EV offers its protocols in priority order (Priority 1 is the most wanted); the charger
answers with the SchemaID of the one it picked.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Sequence

from ..codec import namespaces as ns
from ..vocabulary import DIN, ISO2, ISO20_AC, ISO20_DC
from .context import Context, protocol_error
from .envelopes import AppProtocolEnvelope
from .timers import HANDSHAKE


@dataclass(frozen=True)
class AppProtocol:
    namespace: str
    major: int
    minor: int


APP_PROTOCOLS: Dict[str, AppProtocol] = {
    DIN: AppProtocol(ns.DIN, 2, 0),
    ISO2: AppProtocol(ns.ISO2, 2, 0),
    ISO20_DC: AppProtocol(ns.ISO20_DC, 1, 0),
    ISO20_AC: AppProtocol(ns.ISO20_AC, 1, 0),
}


def supported_app_protocol_req(offered: Sequence[str]) -> dict:
    """The offer: SchemaID = position in the priority list (1-based), so is the Priority."""
    return {'AppProtocol': [
        {'ProtocolNamespace': APP_PROTOCOLS[name].namespace,
         'VersionNumberMajor': APP_PROTOCOLS[name].major,
         'VersionNumberMinor': APP_PROTOCOLS[name].minor,
         'SchemaID': rank, 'Priority': rank}
        for rank, name in enumerate(offered, start=1)]}


async def negotiate(ctx: Context, offered: Sequence[str]) -> str:
    """The protocol the charger agreed to, from `offered` (highest priority first)."""
    ctx.timer_group, ctx.envelope = HANDSHAKE, AppProtocolEnvelope()
    response = await ctx.request('supportedAppProtocolReq', supported_app_protocol_req(offered))
    schema_id = response.get('SchemaID')
    if schema_id is None:
        raise protocol_error(f'supportedAppProtocolRes: {response["ResponseCode"]} without a '
                             'SchemaID')
    if not 1 <= schema_id <= len(offered):
        raise protocol_error(f'supportedAppProtocolRes: SchemaID {schema_id} was not offered '
                             f'(offered 1..{len(offered)})')
    ctx.protocol = offered[schema_id - 1]
    return ctx.protocol
