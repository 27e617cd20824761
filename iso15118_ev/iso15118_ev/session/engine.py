"""What the core needs from a protocol engine, so that another engine can replace Josev's."""
from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Dict, Iterable, List, Tuple

from .events import EndReason
from ..transport.sdp import SeccAddress


@dataclass(frozen=True)
class Outcome:
    """How a V2G session ended."""

    reason: EndReason
    message: str


@dataclass(frozen=True)
class EngineSettings:
    iface: str
    protocols: Tuple[str, ...]        # priority order, highest first
    use_tls: bool = False
    enforce_tls: bool = False


class SessionObserver(abc.ABC):
    """What an engine reports while a session runs. Called on the core's event loop."""

    @abc.abstractmethod
    def on_protocol(self, protocol: str) -> None: ...

    @abc.abstractmethod
    def on_session_id(self, session_id: str) -> None: ...

    @abc.abstractmethod
    def on_request(self, name: str) -> None: ...

    @abc.abstractmethod
    def on_response(self, name: str, charger_values: Dict[str, float],
                    notifications: Iterable[str], processing_finished: bool) -> None: ...

    @abc.abstractmethod
    def on_pre_charged(self, charger_voltage: float) -> None: ...

    @abc.abstractmethod
    def on_services_selected(self, service_ids: List[int]) -> None: ...


class ProtocolEngine(abc.ABC):
    """Runs V2G sessions with a charger that SDP found."""

    @abc.abstractmethod
    async def start(self) -> None:
        """Prepare (e.g. start a codec). Called once on the core's loop."""

    @abc.abstractmethod
    async def run_session(self, secc: SeccAddress, settings: EngineSettings,
                          observer: SessionObserver) -> Outcome:
        """Talk to the charger until the session ends; never raises for session failures."""

    @abc.abstractmethod
    async def abort(self, reason: EndReason, message: str) -> None:
        """End the running session now (closing the connection); run_session then returns."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release what start() acquired."""
