"""What the core reports: session phases, end reasons and the events the node publishes."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Tuple

from ..vocabulary import CommandCode, CpState, Direction, EndReason, Phase


def _now() -> float:
    return time.time()


@dataclass(frozen=True)
class SessionFinished:
    reason: EndReason
    message: str
    protocol: str = ''
    duration_s: float = 0.0
    energy_wh: float = 0.0              # into the battery during the session (Wh)
    stamp: float = field(default_factory=_now)


@dataclass(frozen=True)
class PowerReady:
    ready: bool
    stamp: float = field(default_factory=_now)


@dataclass(frozen=True)
class CpWanted:
    """The CP state the EV asks its pilot hardware to apply (B or C)."""
    state: CpState
    stamp: float = field(default_factory=_now)


@dataclass(frozen=True)
class AcEvseMaxCurrent:
    max_current_a: float
    stamp: float = field(default_factory=_now)


@dataclass(frozen=True)
class AcTargetPower:
    """W / var; NaN where the charger did not send the field."""

    active: float = math.nan
    active_l2: float = math.nan
    active_l3: float = math.nan
    reactive: float = math.nan
    reactive_l2: float = math.nan
    reactive_l3: float = math.nan
    stamp: float = field(default_factory=_now)


@dataclass(frozen=True)
class V2gMessage:
    """One V2G message the EV sent or received (the supportedAppProtocol handshake too)."""

    direction: Direction
    protocol: str               # the agreed protocol, or HANDSHAKE_PROTOCOL before one is agreed
    name: str                   # e.g. SessionSetupReq, CurrentDemandRes
    session_id: str             # hex; '' before SessionSetup and in the handshake
    namespace: str              # the EXI schema the message is coded in
    stamp: float                # when it was sent / received (s, EvSettings.trace_clock)
    decoded: str = ''           # JSON of the decoded document: only when asked for (debug)
    raw: bytes = b''            # the EXI payload (no V2GTP header): only when asked for


@dataclass(frozen=True)
class DcEvsePresent:
    """The charger's present DC output as one of its responses reported it."""

    message: str                # the response, e.g. CurrentDemandRes
    stamp: float                # when that response was received (as its V2gMessage)
    voltage: float = math.nan   # V; NaN: not in that response
    current: float = math.nan   # A; NaN: not in that response


@dataclass(frozen=True)
class EdgeEvent:
    """An event without data (EVerest publishes null), with what caused it."""

    detail: str
    stamp: float = field(default_factory=_now)


class DcPowerOn(EdgeEvent):
    """Pre-charge reached the EV's target voltage: the EV closes its contactors."""


class StopFromCharger(EdgeEvent):
    """The charger asked to stop (StopCharging, Terminate)."""


class ContractInstalled(EdgeEvent):
    """A new contract certificate was installed for this EV; `detail` names its eMAID."""


class PauseFromCharger(EdgeEvent):
    """The charger asked to pause (ISO 15118-20 Pause)."""


@dataclass(frozen=True)
class SessionSnapshot:
    """Everything the node's latched session_state topic shows."""

    phase: Phase = Phase.IDLE
    protocol: str = ''
    control_mode: str = ''              # ISO 15118-20: scheduled or dynamic
    energy_transfer_mode: str = ''
    session_id: str = ''
    tls: bool = False
    selected_services: Tuple[int, ...] = ()
    payment_option: str = ''            # Contract or ExternalPayment, once chosen
    emaid: str = ''                     # the contract in use (Plug & Charge)
    last_charger_message: str = ''
    fault: str = ''
    ev_target_voltage: float = math.nan
    ev_target_current: float = math.nan
    ev_max_voltage_limit: float = math.nan
    ev_max_current_limit: float = math.nan
    ev_max_power_limit: float = math.nan
    soc: float = math.nan
    evse_present_voltage: float = math.nan
    evse_present_current: float = math.nan
    evse_max_voltage: float = math.nan
    evse_max_current: float = math.nan
    evse_max_power: float = math.nan
    round_trip_s: float = math.nan
    message_timeout_s: float = math.nan  # how long the EV waits for the last response
    target_soc: float = math.nan        # percent: where this session's charging ends
    energy_wh: float = 0.0              # into the battery this session (Wh, from the charger's
                                        # present voltage and current)
    power_delivered: bool = False       # pre-charge or charging was reached in this session
    power_off_acknowledged: bool = False  # the charger answered the EV's PowerDelivery stop
    welding_detection_done: bool = False  # the charger's voltage was safe after power off
    last_end_reason: str = ''           # how the last session ended ('' before any ended)
    last_end_message: str = ''
    stamp: float = field(default_factory=_now)


@dataclass(frozen=True)
class CommandResult:
    success: bool
    message: str
    code: CommandCode = CommandCode.OK

    @classmethod
    def ok(cls, message: str) -> 'CommandResult':
        return cls(True, message, CommandCode.OK)

    @classmethod
    def refused(cls, code: CommandCode, message: str) -> 'CommandResult':
        """A refusal says why with a code (never OK) and a message."""
        code = CommandCode(code)
        if code == CommandCode.OK:
            raise ValueError('a refusal needs a code other than OK')
        return cls(False, message, code)
