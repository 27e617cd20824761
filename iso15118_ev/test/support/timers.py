"""Timers for sessions against the Java charger simulator that must succeed."""
from iso15118_ev.protocol.timers import Timeouts
from iso15118_ev.vocabulary import DIN, ISO2, ISO20


def relaxed() -> Timeouts:
    """Charge-loop timers of 2 s, for sessions that must succeed against the Java charger."""
    return Timeouts({DIN: {'CurrentDemandReq': 2.0}, ISO2: {'CurrentDemandReq': 2.0},
                     ISO20: {'DC_ChargeLoopReq': 2.0, 'AC_ChargeLoopReq': 2.0}})
