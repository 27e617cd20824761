"""SLAC (ISO 15118-3), EV side: HomePlug Green PHY MMEs, the EV's matching state machine and
the raw-socket link to the PLC modem. ROS-free, asyncio, no dependency beyond the standard
library."""
from .ev import SlacFailure, SlacResult, SlacSession, SlacSettings
from .link import FrameLink, MemoryBus, RawLink

__all__ = ['FrameLink', 'MemoryBus', 'RawLink', 'SlacFailure', 'SlacResult', 'SlacSession',
           'SlacSettings']
