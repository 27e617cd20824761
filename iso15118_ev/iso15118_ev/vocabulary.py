"""One vocabulary for the whole library: protocol names, session phases, end reasons, faults,
command result codes, message directions.

The numbering of Phase, EndReason, Fault, CpState, CommandCode and Direction is the numbering
of the constants in iso15118_ev_msgs (SessionState, SessionFinished, SetFault, CpStateChanged,
every service's response, V2gMessage); a test keeps them in step.
"""
from __future__ import annotations

import enum

# Protocols, as the node's `protocols` parameter and session_state name them.
DIN = 'DIN_SPEC_70121'
ISO2 = 'ISO_15118_2'
ISO20_AC = 'ISO_15118_20_AC'
ISO20_DC = 'ISO_15118_20_DC'
ALL_PROTOCOLS = (DIN, ISO2, ISO20_AC, ISO20_DC)
ISO20 = 'ISO_15118_20'          # the family of ISO20_AC and ISO20_DC (shared timers, messages)

# Payment (ISO 15118-2 PaymentOption; ISO 15118-20 authorization service PnC / EIM).
CONTRACT = 'Contract'
EXTERNAL_PAYMENT = 'ExternalPayment'
PAYMENT_OPTIONS = (CONTRACT, EXTERNAL_PAYMENT)


def family(protocol: str) -> str:
    return ISO20 if protocol in (ISO20_AC, ISO20_DC) else protocol


class Phase(enum.IntEnum):
    IDLE = 0
    DISCOVERING = 1
    CONNECTED = 2
    NEGOTIATING = 3
    CABLE_CHECK = 4
    PRE_CHARGE = 5
    CHARGING = 6
    STOPPING = 7
    PAUSED = 8
    FINISHED = 9


class EndReason(enum.IntEnum):
    FINISHED = 0
    STOPPED_BY_EV = 1
    STOPPED_BY_CHARGER = 2
    PAUSED = 3
    NO_CHARGER_FOUND = 4
    TIMEOUT = 5
    PROTOCOL_ERROR = 6
    CONNECTION_LOST = 7
    FAULT_INJECTED = 8
    INTERNAL_ERROR = 9
    SECURITY_ERROR = 10
    SHUTDOWN = 11
    AUTHORIZATION_FAILED = 12
    ABORTED = 13            # abort_charging, or CP state E/F: connection closed, no SessionStop
    UNPLUGGED = 14          # CP state A during the session
    SLAC_FAILED = 15        # no data link: SLAC (ISO 15118-3) did not match


class Fault(enum.IntEnum):
    NONE = 0
    STOP_ANSWERING = 1
    SEND_INVALID_MESSAGE = 2
    DROP_LINK = 3
    REFUSE_PRE_CHARGE = 4


class CpState(enum.IntEnum):
    """IEC 61851-1 control pilot states (EVerest CpState). 0 is none: an unset field is refused."""
    A = 1   # not connected
    B = 2   # connected, not ready for energy
    C = 3   # ready for energy
    D = 4   # ready for energy, ventilation needed
    E = 5   # error: short to PE or no power
    F = 6   # error: the charger's pilot is unavailable


class CommandCode(enum.IntEnum):
    """Why a command was answered as it was (every service response's `code`)."""
    OK = 0
    INVALID_ARGUMENT = 1    # out of range, not a number, unknown, inconsistent with another field
    WRONG_STATE = 2         # valid, but not now (no session, one already running, shutting down)
    NOT_SUPPORTED = 3       # not by the protocol in use or not by this EV's configuration
    INTERNAL_ERROR = 4      # a defect or the EV did not answer in time


class Direction(enum.IntEnum):
    """Which way a V2G message went (V2gMessage's constants)."""
    EV_TO_CHARGER = 0
    CHARGER_TO_EV = 1
