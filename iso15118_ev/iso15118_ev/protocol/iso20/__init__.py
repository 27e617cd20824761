"""ISO 15118-20 DC, DC_BPT, AC and AC_BPT charging with EIM, EV side, Scheduled and Dynamic
control modes. The sequence is in `session`; `run` is the protocol module's entry point."""
from .session import run

__all__ = ['run']
