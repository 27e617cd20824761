"""An `Ev` on its own event-loop thread, for callers that must never wait on the network.

The ROS node uses it: a service callback hands the command to the EV's loop and gets the
answer back at once (commands only check and change in-memory state; the network is driven
by the session task on the loop). Events reach `sink` on the loop's thread.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from typing import Callable, Mapping, Optional

from ..vehicle.parameters import StartRequest
from ..vocabulary import CommandCode
from .events import CommandResult
from .ev import Ev
from .settings import EvSettings

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT_S = 2.0


class EvccCore:
    def __init__(self, settings: EvSettings, sink: Callable[[object], None]):
        self.ev = Ev(settings, sink)          # raises PlcInterfaceError
        self.iface = self.ev.iface
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._thread: Optional[threading.Thread] = None

    def start(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run_loop, args=(ready,), name='ev_loop',
                                        daemon=True)
        self._thread.start()
        ready.wait()
        self._call(self.ev.prepare)

    def shutdown(self, timeout: float = 5.0) -> None:
        """End a running session in order (bounded), then stop the loop thread."""
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self.ev.shutdown(timeout - 1.0), self._loop)
        try:
            future.result(timeout)
        except Exception:  # noqa: BLE001 - shutting down regardless
            logger.warning('the EV did not shut down cleanly', exc_info=True)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)
        self._loop = None

    def _run_loop(self, ready: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        ready.set()
        self._loop.run_forever()
        self._loop.close()

    def _call(self, command, *args):
        """Run `command(*args)` on the EV's loop and return its result."""
        done: concurrent.futures.Future = concurrent.futures.Future()

        def run():
            try:
                done.set_result(command(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                done.set_exception(exc)
        self._loop.call_soon_threadsafe(run)
        try:
            return done.result(COMMAND_TIMEOUT_S)
        except concurrent.futures.TimeoutError:
            return CommandResult.refused(CommandCode.INTERNAL_ERROR,
                                         f'the EV did not answer within {COMMAND_TIMEOUT_S:g} s')

    # --- commands (any thread) ----------------------------------------------------------------
    def start_charging(self, request: StartRequest) -> CommandResult:
        return self._call(self.ev.start_charging, request)

    def stop_charging(self) -> CommandResult:
        return self._call(self.ev.stop_charging)

    def pause_charging(self) -> CommandResult:
        return self._call(self.ev.pause_charging)

    def set_fault(self, fault: int) -> CommandResult:
        return self._call(self.ev.set_fault, fault)

    def set_dc_params(self, changes: Mapping[str, float]) -> CommandResult:
        return self._call(self.ev.set_dc_params, changes)

    def set_bpt_dc_params(self, changes: Mapping[str, float]) -> CommandResult:
        return self._call(self.ev.set_bpt_dc_params, changes)

    def enable_sae_j2847_v2g_v2h(self) -> CommandResult:
        return self._call(self.ev.enable_sae_j2847_v2g_v2h)

    def update_soc(self, soc: float) -> CommandResult:
        return self._call(self.ev.update_soc, soc)

    def abort_charging(self) -> CommandResult:
        return self._call(self.ev.abort_charging)

    def cp_state_changed(self, state: int) -> CommandResult:
        return self._call(self.ev.cp_state_changed, state)

    def pwm_changed(self, duty_percent: float) -> CommandResult:
        return self._call(self.ev.pwm_changed, duty_percent)

    def trigger_matching(self) -> CommandResult:
        return self._call(self.ev.trigger_matching)

    def reset_slac(self) -> CommandResult:
        return self._call(self.ev.reset_slac)

    def update_present_values(self, changes: Mapping[str, float],
                              clear: bool = False) -> CommandResult:
        return self._call(self.ev.update_present_values, changes, clear)
