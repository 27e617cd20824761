"""One V2G session with a charger that SDP found: connect (TCP or TLS), agree on a protocol,
run it, and say how it ended."""
from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

from ..codec import NativeExiCodec
from ..protocol import din, iso2, iso20
from ..protocol.app_protocol import negotiate
from ..protocol.context import Context, Observer, Outcome, SessionEnd
from ..protocol.payment import Payment
from ..protocol.timers import Timeouts
from ..transport.connection import Connection, ConnectionLost, TlsFailure
from ..transport.sdp import SeccAddress
from ..transport.tls import TlsConfigError, TlsCredentials, client_context
from ..vehicle.model import EvModel
from ..vocabulary import DIN, ISO2, ISO20_AC, ISO20_DC, EndReason, Fault

logger = logging.getLogger(__name__)

PROTOCOLS = {DIN: din.run, ISO2: iso2.run, ISO20_DC: iso20.run, ISO20_AC: iso20.run}
ISO20_PROTOCOLS = (ISO20_AC, ISO20_DC)
# Faults that show in the session's end rather than by themselves.
HIDDEN_FAULT_REASONS = (EndReason.TIMEOUT, EndReason.PROTOCOL_ERROR, EndReason.CONNECTION_LOST)


@dataclass(frozen=True)
class V2gSettings:
    offered: Sequence[str]            # protocols, highest priority first
    timeouts: Timeouts
    evcc_id: bytes                    # the PLC interface's MAC address
    pki_path: str = ''
    iso20_control_mode: str = 'auto'
    payment: Payment = field(default_factory=Payment)
    trace_detail: bool = False        # V2gMessage events with decoded JSON and raw EXI
    trace_clock: Callable[[], float] = time.time   # what V2gMessage is stamped with (s)


async def run_v2g_session(secc: SeccAddress, settings: V2gSettings, model: EvModel,
                          observer: Observer, codec: NativeExiCodec) -> Outcome:
    try:
        connection = await Connection.open(secc, tls_context(secc, settings))
    except (TlsFailure, TlsConfigError) as exc:
        return Outcome(EndReason.SECURITY_ERROR, str(exc))
    except ConnectionLost as exc:
        return Outcome(EndReason.CONNECTION_LOST, str(exc))
    ctx = Context(connection, codec, model, observer, settings.timeouts, settings.evcc_id,
                  settings.iso20_control_mode)
    ctx.payment = settings.payment
    ctx.trace_detail, ctx.trace_clock = settings.trace_detail, settings.trace_clock
    try:
        outcome = await _converse(ctx, settings.offered)
    finally:
        ctx.observer.flush()
        if model.abort is not None:   # abort_charging, CP E/F/A: no goodbye, no waiting
            connection.abort()
        else:
            await connection.close()
    return _with_fault(outcome, ctx.fault_fired, model)


def tls_context(secc: SeccAddress, settings: V2gSettings):
    if not secc.tls:
        return None
    iso20_offered = [p for p in settings.offered if p in ISO20_PROTOCOLS]
    return client_context(TlsCredentials.from_pki(settings.pki_path),
                          tls12=len(iso20_offered) < len(settings.offered),
                          tls13=bool(iso20_offered))


async def _converse(ctx: Context, offered: Sequence[str]) -> Outcome:
    try:
        protocol = await negotiate(ctx, offered)
        _check_tls_version(ctx, protocol)
        return await PROTOCOLS[protocol](ctx)
    except SessionEnd as end:
        return end.outcome
    except KeyError as exc:  # a schema-optional element the protocol needs
        return Outcome(EndReason.PROTOCOL_ERROR,
                       f'{ctx.last_response or "a response"} lacks {exc.args[0]}')
    except ConnectionLost as exc:
        return Outcome(EndReason.CONNECTION_LOST, str(exc))
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # the node must survive whatever happens in a session
        logger.exception('V2G session failed')
        return Outcome(EndReason.INTERNAL_ERROR, f'{type(exc).__name__}: {exc}')


def _check_tls_version(ctx: Context, protocol: str) -> None:
    """ISO 15118-20 runs on TLS 1.3 ([V2G20-2356]); a charger that gave it 1.2 is refused."""
    version = ctx.connection.tls_version
    if version and protocol in ISO20_PROTOCOLS and version != 'TLSv1.3':
        raise SessionEnd(EndReason.SECURITY_ERROR,
                         f'{protocol} needs TLS 1.3, the charger negotiated {version}')


def _with_fault(outcome: Outcome, fired: Optional[Fault], model: EvModel) -> Outcome:
    """A session that failed after an injected fault ended because of the fault."""
    if outcome.reason == EndReason.TIMEOUT and model.fault == Fault.REFUSE_PRE_CHARGE:
        fired = Fault.REFUSE_PRE_CHARGE
    if fired is not None and outcome.reason in HIDDEN_FAULT_REASONS:
        return Outcome(EndReason.FAULT_INJECTED,
                       f'injected fault {fired.name.lower()}: {outcome.message}')
    return outcome
