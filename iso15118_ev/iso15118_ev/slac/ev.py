"""The EV's SLAC matching process (ISO 15118-3, clause 9 and annex A.9), one object per run.

    result = await SlacSession(RawLink('eth1'), SlacSettings()).run()

Sequence: CM_SLAC_PARM.REQ (broadcast, random RunID, retried) -> CM_SLAC_PARM.CNF from every
charger that hears it -> CM_START_ATTEN_CHAR.IND x C_EV_start_atten_char_inds -> CM_MNBC_SOUND.IND
x C_EV_match_MNBC -> CM_ATTEN_CHAR.IND from each charger within TT_EV_atten_results (each
answered with CM_ATTEN_CHAR.RSP) -> the charger with the lowest average attenuation ->
(optional CM_VALIDATE) -> CM_SLAC_MATCH.REQ/CNF (retried) -> CM_SET_KEY.REQ to the EV's own modem
with the NID/NMK of the match -> VS_PL_LNK_STATUS polled until the modem reports the link, at
most TT_match_join.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import os
from dataclasses import dataclass, field
from typing import Callable, Optional

from ..waiting import wait_within
from . import mme
from .link import FrameLink

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SlacSettings:
    """ISO 15118-3 table A.1 values (defaults) and the modem's address; every field overridable."""
    tt_match_response_s: float = 0.2       # TT_match_response: wait for a .CNF
    tt_match_sequence_s: float = 0.4       # TT_match_sequence: longest pause between own messages
    tt_ev_atten_results_s: float = 1.2     # TT_EV_atten_results, from the first START_ATTEN_CHAR
    tt_match_join_s: float = 12.0          # TT_match_join: after CM_SLAC_MATCH.CNF until the link
    # TP_EV_SLAC_init: from CP state B (plug-in or wake-up) to the start of the matching, at most
    # 10 s; for whoever calls run() (the control pilot side), not used by the session itself.
    tp_ev_slac_init_s: float = 10.0
    tp_ev_batch_msg_interval_s: float = 0.02  # TP_EV_batch_msg_interval: 20 ms .. 50 ms
    c_ev_match_retry: int = 2              # C_EV_match_retry: repetitions of a request
    c_ev_start_atten_char_inds: int = 3    # C_EV_start_atten_char_inds
    c_ev_match_mnbc: int = 10              # C_EV_match_MNBC: number of M-sounds
    tt_evse_match_mnbc_100ms: int = 6      # TT_EVSE_match_MNBC (600 ms) as sent in Time_Out
    validate: bool = False                 # run CM_VALIDATE before CM_SLAC_MATCH
    modem_mac: bytes = mme.QUALCOMM_LOCAL_MAC  # where CM_SET_KEY and link status go
    modem_response_s: float = 1.0          # wait for the modem's CNF (firmware, not the standard)
    link_poll_interval_s: float = 0.2      # VS_PL_LNK_STATUS polling period

    def __post_init__(self):
        for name in ('tt_match_response_s', 'tt_match_sequence_s', 'tt_ev_atten_results_s',
                     'tt_match_join_s', 'modem_response_s', 'link_poll_interval_s',
                     'tp_ev_slac_init_s'):
            if not getattr(self, name) > 0:
                raise ValueError(f'{name} must be > 0 s, got {getattr(self, name)}')
        if not 0 <= self.tp_ev_batch_msg_interval_s <= self.tt_match_sequence_s:
            raise ValueError('tp_ev_batch_msg_interval_s must be within 0..tt_match_sequence_s')
        for name, low, high in (('c_ev_match_retry', 0, 10), ('c_ev_start_atten_char_inds', 1, 10),
                                ('c_ev_match_mnbc', 1, 255), ('tt_evse_match_mnbc_100ms', 1, 255)):
            if not low <= getattr(self, name) <= high:
                raise ValueError(f'{name} must be within {low}..{high}, got {getattr(self, name)}')
        if len(self.modem_mac) != 6:
            raise ValueError('modem_mac must be 6 bytes')


class SlacState(enum.Enum):
    UNMATCHED = 'unmatched'
    MATCHING = 'matching'
    MATCHED = 'matched'
    FAILED = 'failed'


class SlacFailure(enum.Enum):
    NO_RESPONSE = 'no_response'              # no CM_SLAC_PARM.CNF
    NO_ATTEN_RESULTS = 'no_atten_results'    # no CM_ATTEN_CHAR.IND within TT_EV_atten_results
    VALIDATION_FAILED = 'validation_failed'  # CM_VALIDATE not confirmed
    MATCH_FAILED = 'match_failed'            # no CM_SLAC_MATCH.CNF
    MODEM_NO_ANSWER = 'modem_no_answer'      # the EV's modem did not confirm CM_SET_KEY
    MODEM_NOT_JOINED = 'modem_not_joined'    # no link within TT_match_join
    LINK_ERROR = 'link_error'                # the interface failed (OSError)


@dataclass(frozen=True)
class ChargerAttenuation:
    mac: bytes
    average_attenuation_db: float
    num_sounds: int
    num_groups: int


@dataclass(frozen=True)
class SlacResult:
    matched: bool
    message: str
    failure: Optional[SlacFailure] = None
    run_id: bytes = b''
    charger_mac: Optional[bytes] = None
    nid: Optional[bytes] = None
    nmk: Optional[bytes] = None
    average_attenuation_db: Optional[float] = None
    chargers: tuple = ()  # ChargerAttenuation of every charger that answered, lowest first


class _Failed(Exception):
    def __init__(self, reason: SlacFailure, message: str):
        super().__init__(message)
        self.reason = reason


@dataclass
class _Run:
    run_id: bytes
    chargers: list = field(default_factory=list)  # MACs that sent CM_SLAC_PARM.CNF
    results: dict = field(default_factory=dict)   # MAC -> ChargerAttenuation


class SlacSession:
    """One EV's SLAC; `run()` may be called again for a new matching (new RunID)."""

    def __init__(self, link: FrameLink, settings: SlacSettings = SlacSettings(),
                 on_state: Optional[Callable[[SlacState], None]] = None,
                 random_bytes: Callable[[int], bytes] = os.urandom):
        self._link, self.settings = link, settings
        self._on_state, self._random = on_state, random_bytes
        self.state = SlacState.UNMATCHED
        self.ignored_frames = 0

    async def run(self) -> SlacResult:
        self._set_state(SlacState.MATCHING)
        run = _Run(run_id=self._random(8))
        try:
            result = await self._match(run)
        except _Failed as failed:
            log.warning('SLAC failed (%s): %s', failed.reason.value, failed)
            self._set_state(SlacState.FAILED)
            return SlacResult(False, str(failed), failed.reason, run.run_id,
                              chargers=self._ranked(run))
        except asyncio.CancelledError:
            self._set_state(SlacState.UNMATCHED)  # e.g. unplugged during the matching
            raise
        except OSError as error:
            self._set_state(SlacState.FAILED)
            return SlacResult(False, f'PLC interface error: {error}', SlacFailure.LINK_ERROR,
                              run.run_id, chargers=self._ranked(run))
        self._set_state(SlacState.MATCHED)
        return result

    async def leave(self) -> bool:
        """Leave the charger's network (unplug, reset): the EV's modem gets a fresh random
        NMK/NID, so it no longer joins the charger's AVLN. True if the modem confirmed."""
        nid = bytearray(self._random(7))
        nid[6] &= 0x0F   # security level (bits 4..5 of the last octet) 0: simple connect
        answer = await self._request(
            self.settings.modem_mac, mme.SetKeyReq(bytes(nid), self._random(16),
                                                   my_nonce=self._random(4)),
            lambda src, msg: isinstance(msg, mme.SetKeyCnf),
            timeout_s=self.settings.modem_response_s)
        self._set_state(SlacState.UNMATCHED)
        return answer is not None

    def _set_state(self, state: SlacState) -> None:
        self.state = state
        if self._on_state:
            self._on_state(state)

    async def _match(self, run: _Run) -> SlacResult:
        await self._parm(run)
        await self._characterize(run)
        best = self._ranked(run)[0]
        if self.settings.validate:
            await self._validate(run, best.mac)
        cnf = await self._slac_match(run, best.mac)
        await self._set_key(cnf)
        await self._wait_for_link()
        return SlacResult(True, f'matched with {mme.mac_text(best.mac)} at '
                          f'{best.average_attenuation_db:.1f} dB', None, run.run_id, best.mac,
                          cnf.nid, cnf.nmk, best.average_attenuation_db, self._ranked(run))

    @staticmethod
    def _ranked(run: _Run) -> tuple:
        return tuple(sorted(run.results.values(), key=lambda c: c.average_attenuation_db))

    # -- the steps ---------------------------------------------------------------------------

    async def _parm(self, run: _Run) -> None:
        s = self.settings
        for _ in range(1 + s.c_ev_match_retry):
            await self._send(mme.BROADCAST_MAC, mme.SlacParmReq(run.run_id))
            deadline = self._now() + s.tt_match_response_s
            while (frame := await self._next(deadline)) is not None:
                msg = frame.message
                if (isinstance(msg, mme.SlacParmCnf) and msg.run_id == run.run_id
                        and frame.src not in run.chargers):
                    run.chargers.append(frame.src)
            if run.chargers:
                log.info('SLAC: CM_SLAC_PARM.CNF from %s',
                         ', '.join(mme.mac_text(mac) for mac in run.chargers))
                return
        raise _Failed(SlacFailure.NO_RESPONSE,
                      f'no CM_SLAC_PARM.CNF after {1 + s.c_ev_match_retry} requests '
                      f'({s.tt_match_response_s * 1000:.0f} ms each)')

    async def _characterize(self, run: _Run) -> None:
        s, mac = self.settings, self._link.mac
        deadline = self._now() + s.tt_ev_atten_results_s
        start = mme.StartAttenCharInd(mac, run.run_id, s.c_ev_match_mnbc,
                                      s.tt_evse_match_mnbc_100ms)
        batch = [start] * s.c_ev_start_atten_char_inds + [
            mme.MnbcSoundInd(run.run_id, count, self._random(16))
            for count in reversed(range(s.c_ev_match_mnbc))]
        for index, message in enumerate(batch):
            if index:
                await asyncio.sleep(s.tp_ev_batch_msg_interval_s)
            await self._send(mme.BROADCAST_MAC, message)
        # Done when every charger that confirmed CM_SLAC_PARM has reported: CM_SLAC_MATCH should
        # follow the last CM_ATTEN_CHAR.RSP within TP_EV_match_session (500 ms).
        while not set(run.chargers) <= set(run.results) and (
                frame := await self._next(deadline)) is not None:
            msg = frame.message
            if (isinstance(msg, mme.AttenCharInd) and msg.run_id == run.run_id
                    and msg.source_address == mac):
                await self._send(frame.src, mme.AttenCharRsp(mac, run.run_id))
                run.results[frame.src] = ChargerAttenuation(
                    frame.src, msg.average_attenuation_db, msg.num_sounds,
                    len(msg.attenuation_db))
        if not run.results:
            raise _Failed(SlacFailure.NO_ATTEN_RESULTS,
                          f'no CM_ATTEN_CHAR.IND within {s.tt_ev_atten_results_s * 1000:.0f} ms '
                          f'from {len(run.chargers)} charger(s) that confirmed CM_SLAC_PARM')
        for charger in self._ranked(run):
            log.info('SLAC: %s average attenuation %.1f dB (%d sounds)',
                     mme.mac_text(charger.mac), charger.average_attenuation_db,
                     charger.num_sounds)

    async def _validate(self, run: _Run, charger: bytes) -> None:
        """The first CM_VALIDATE exchange; a charger that needs the CP toggles is refused here
        (toggling belongs to the control pilot port)."""
        cnf = await self._request(charger, mme.ValidateReq(),
                                  lambda src, msg: src == charger
                                  and isinstance(msg, mme.ValidateCnf))
        if cnf is None or cnf.result != mme.ValidateResult.NOT_REQUIRED:
            raise _Failed(SlacFailure.VALIDATION_FAILED,
                          'no CM_VALIDATE.CNF' if cnf is None else
                          f'CM_VALIDATE.CNF result {cnf.result}: CP toggling is not supported')

    async def _slac_match(self, run: _Run, charger: bytes) -> mme.SlacMatchCnf:
        mac = self._link.mac
        cnf = await self._request(
            charger, mme.SlacMatchReq(mac, charger, run.run_id),
            lambda src, msg: (src == charger and isinstance(msg, mme.SlacMatchCnf)
                              and msg.run_id == run.run_id and msg.pev_mac == mac))
        if cnf is None:
            raise _Failed(SlacFailure.MATCH_FAILED,
                          f'no CM_SLAC_MATCH.CNF from {mme.mac_text(charger)} after '
                          f'{1 + self.settings.c_ev_match_retry} requests')
        log.info('SLAC: matched %s, NID %s', mme.mac_text(charger), cnf.nid.hex())
        return cnf

    async def _set_key(self, cnf: mme.SlacMatchCnf) -> None:
        s = self.settings
        request = mme.SetKeyReq(cnf.nid, cnf.nmk, my_nonce=self._random(4))
        answer = await self._request(s.modem_mac, request,
                                     lambda src, msg: isinstance(msg, mme.SetKeyCnf),
                                     timeout_s=s.modem_response_s)
        if answer is None:
            raise _Failed(SlacFailure.MODEM_NO_ANSWER,
                          f'the modem ({mme.mac_text(s.modem_mac)}) did not confirm CM_SET_KEY')
        # The result byte is not trusted: some QCA firmware reports success inverted; the link
        # status below is what counts.
        log.info('SLAC: CM_SET_KEY.CNF result %d', answer.result)

    async def _wait_for_link(self) -> None:
        s = self.settings
        deadline = self._now() + s.tt_match_join_s
        while self._now() < deadline:
            await self._send(s.modem_mac, mme.LinkStatusReq())
            poll_end = min(deadline, self._now() + s.link_poll_interval_s)
            while (frame := await self._next(poll_end)) is not None:
                if isinstance(frame.message, mme.LinkStatusCnf) and frame.message.linked:
                    return
            await self._sleep_until(poll_end)
        raise _Failed(SlacFailure.MODEM_NOT_JOINED,
                      f'the modem reported no link within {s.tt_match_join_s:.1f} s '
                      '(TT_match_join)')

    # -- helpers -----------------------------------------------------------------------------

    async def _request(self, dst: bytes, message, accept, timeout_s: float | None = None):
        timeout_s = timeout_s or self.settings.tt_match_response_s
        for _ in range(1 + self.settings.c_ev_match_retry):
            await self._send(dst, message)
            deadline = self._now() + timeout_s
            while (frame := await self._next(deadline)) is not None:
                if accept(frame.src, frame.message):
                    return frame.message
        return None

    async def _send(self, dst: bytes, message) -> None:
        await self._link.send(mme.build(dst, self._link.mac, message))

    async def _next(self, deadline: float) -> Optional[mme.Frame]:
        """The next MME addressed to this EV before the deadline; None at the deadline.
        Garbled, foreign and unknown frames are counted and skipped."""
        while (remaining := deadline - self._now()) > 0:
            try:
                raw = await wait_within(self._link.receive(), remaining)
            except asyncio.TimeoutError:
                return None
            try:
                frame = mme.parse(raw)
            except mme.MmeError as error:
                self.ignored_frames += 1
                log.debug('SLAC: ignored frame: %s', error)
                continue
            if frame.dst in (self._link.mac, mme.BROADCAST_MAC):
                return frame
            self.ignored_frames += 1
        return None

    async def _sleep_until(self, deadline: float) -> None:
        await asyncio.sleep(max(0.0, deadline - self._now()))

    @staticmethod
    def _now() -> float:
        return asyncio.get_running_loop().time()
