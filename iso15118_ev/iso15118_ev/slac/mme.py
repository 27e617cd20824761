"""HomePlug Green PHY management messages (MMEs) as ISO 15118-3 uses them for SLAC.

Frame = Ethernet header (dst, src, ethertype 0x88E1) + MME header + payload, padded to the
Ethernet minimum of 60 bytes. Two MME headers exist:

* HomePlug (MMV 0x01): MMV(1) MMTYPE(2, little endian) FMI(2: FMSN, FMID; 0 = not fragmented)
* Qualcomm vendor-specific (MMV 0x00): MMV(1) MMTYPE(2, LE) OUI(3) = 00:B0:52, no FMI

Payload layouts: HomePlug Green PHY 1.1 section 11.5 with the values of ISO 15118-3 annex A
(tables A.2 to A.8). Multi-byte integers are little endian (MVFLength); MACs, RunID, NID and
NMK are byte strings in wire order.

Vendor messages (Qualcomm QCA7000/7005, open-plc-utils plc/LinkStatus.c):
  VS_PL_LNK_STATUS.REQ 0xA0B8: OUI only.
  VS_PL_LNK_STATUS.CNF 0xA0B9: OUI, MSTATUS(1, 0 = success), LINK_STATUS(1, 0 = no link,
  otherwise the station is in an AVLN with a powerline link).

`parse` never raises anything but MmeError on any input.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import ClassVar

ETHERTYPE_HOMEPLUG = 0x88E1
MMV_HOMEPLUG_GP = 0x01
MMV_VENDOR = 0x00
QUALCOMM_OUI = bytes.fromhex('00b052')
# Every Qualcomm modem answers this "local management" address from its host interface.
QUALCOMM_LOCAL_MAC = bytes.fromhex('00b052000001')
BROADCAST_MAC = b'\xff' * 6
MIN_FRAME_BYTES = 60
ETH_HEADER_BYTES = 14
HOMEPLUG_HEADER_BYTES = 5
VENDOR_HEADER_BYTES = 6

APPLICATION_PEV_EVSE = 0x00
SECURITY_NONE = 0x00
RESP_TYPE_OTHER_GP_STATION = 0x01
KEY_TYPE_NMK = 0x01
PID_HLE = 0x04
MAX_GROUPS = 58  # HomePlug Green PHY: 58 carrier groups

MVF_LENGTH_MATCH_REQ = 0x3E
MVF_LENGTH_MATCH_CNF = 0x56


class MmeError(ValueError):
    """A frame that is not a valid MME of the kinds this module knows."""


class MmType(enum.IntEnum):
    CM_SET_KEY_REQ = 0x6008
    CM_SET_KEY_CNF = 0x6009
    CM_SLAC_PARM_REQ = 0x6064
    CM_SLAC_PARM_CNF = 0x6065
    CM_START_ATTEN_CHAR_IND = 0x606A
    CM_ATTEN_CHAR_IND = 0x606E
    CM_ATTEN_CHAR_RSP = 0x606F
    CM_MNBC_SOUND_IND = 0x6076
    CM_VALIDATE_REQ = 0x6078
    CM_VALIDATE_CNF = 0x6079
    CM_SLAC_MATCH_REQ = 0x607C
    CM_SLAC_MATCH_CNF = 0x607D
    CM_ATTEN_PROFILE_IND = 0x6086
    VS_PL_LNK_STATUS_REQ = 0xA0B8
    VS_PL_LNK_STATUS_CNF = 0xA0B9


def _is_vendor(mmtype: int) -> bool:
    return 0xA000 <= mmtype <= 0xBFFF


class _Reader:
    """Cuts a payload into fields; running short raises MmeError."""

    def __init__(self, data: bytes, name: str):
        self._data, self._pos, self._name = data, 0, name

    def take(self, size: int) -> bytes:
        if self._pos + size > len(self._data):
            raise MmeError(f'{self._name}: payload too short ({len(self._data)} bytes, '
                           f'field at {self._pos} needs {size})')
        chunk = self._data[self._pos:self._pos + size]
        self._pos += size
        return bytes(chunk)

    def byte(self) -> int:
        return self.take(1)[0]

    def le16(self) -> int:
        return int.from_bytes(self.take(2), 'little')


def _expect(name: str, what: str, got, want) -> None:
    if got != want:
        show = got.hex() if isinstance(got, bytes) else hex(got)
        raise MmeError(f'{name}: {what} is {show}, expected '
                       f'{want.hex() if isinstance(want, bytes) else hex(want)}')


def _sized(name: str, what: str, value: bytes, size: int) -> bytes:
    if len(value) != size:
        raise MmeError(f'{name}: {what} must be {size} bytes, got {len(value)}')
    return value


def _slac_header(reader: _Reader, name: str) -> None:
    _expect(name, 'APPLICATION_TYPE', reader.byte(), APPLICATION_PEV_EVSE)
    _expect(name, 'SECURITY_TYPE', reader.byte(), SECURITY_NONE)


SLAC_HEADER = bytes([APPLICATION_PEV_EVSE, SECURITY_NONE])
ZERO_ID = bytes(17)


@dataclass(frozen=True)
class SlacParmReq:
    MMTYPE: ClassVar[MmType] = MmType.CM_SLAC_PARM_REQ
    run_id: bytes

    def encode(self) -> bytes:
        return SLAC_HEADER + _sized('CM_SLAC_PARM.REQ', 'RunID', self.run_id, 8)

    @classmethod
    def decode(cls, payload: bytes) -> 'SlacParmReq':
        r = _Reader(payload, 'CM_SLAC_PARM.REQ')
        _slac_header(r, r._name)
        return cls(run_id=r.take(8))


@dataclass(frozen=True)
class SlacParmCnf:
    MMTYPE: ClassVar[MmType] = MmType.CM_SLAC_PARM_CNF
    forwarding_sta: bytes
    run_id: bytes
    num_sounds: int = 10
    time_out: int = 6  # TT_EVSE_match_MNBC in units of 100 ms
    msound_target: bytes = BROADCAST_MAC
    resp_type: int = RESP_TYPE_OTHER_GP_STATION

    def encode(self) -> bytes:
        n = 'CM_SLAC_PARM.CNF'
        return (_sized(n, 'M-SOUND_TARGET', self.msound_target, 6)
                + bytes([self.num_sounds, self.time_out, self.resp_type])
                + _sized(n, 'FORWARDING_STA', self.forwarding_sta, 6) + SLAC_HEADER
                + _sized(n, 'RunID', self.run_id, 8))

    @classmethod
    def decode(cls, payload: bytes) -> 'SlacParmCnf':
        r = _Reader(payload, 'CM_SLAC_PARM.CNF')
        target, sounds, time_out, resp = r.take(6), r.byte(), r.byte(), r.byte()
        forwarding = r.take(6)
        _slac_header(r, r._name)
        return cls(forwarding_sta=forwarding, run_id=r.take(8), num_sounds=sounds,
                   time_out=time_out, msound_target=target, resp_type=resp)


@dataclass(frozen=True)
class StartAttenCharInd:
    MMTYPE: ClassVar[MmType] = MmType.CM_START_ATTEN_CHAR_IND
    forwarding_sta: bytes
    run_id: bytes
    num_sounds: int = 10
    time_out: int = 6
    resp_type: int = RESP_TYPE_OTHER_GP_STATION

    def encode(self) -> bytes:
        n = 'CM_START_ATTEN_CHAR.IND'
        return (SLAC_HEADER + bytes([self.num_sounds, self.time_out, self.resp_type])
                + _sized(n, 'FORWARDING_STA', self.forwarding_sta, 6)
                + _sized(n, 'RunID', self.run_id, 8))

    @classmethod
    def decode(cls, payload: bytes) -> 'StartAttenCharInd':
        r = _Reader(payload, 'CM_START_ATTEN_CHAR.IND')
        _slac_header(r, r._name)
        sounds, time_out, resp = r.byte(), r.byte(), r.byte()
        return cls(forwarding_sta=r.take(6), run_id=r.take(8), num_sounds=sounds,
                   time_out=time_out, resp_type=resp)


@dataclass(frozen=True)
class MnbcSoundInd:
    MMTYPE: ClassVar[MmType] = MmType.CM_MNBC_SOUND_IND
    run_id: bytes
    count: int  # sounds still to come after this one
    rnd: bytes = bytes(16)
    sender_id: bytes = ZERO_ID

    def encode(self) -> bytes:
        n = 'CM_MNBC_SOUND.IND'
        return (SLAC_HEADER + _sized(n, 'SenderID', self.sender_id, 17) + bytes([self.count])
                + _sized(n, 'RunID', self.run_id, 8) + bytes(8) + _sized(n, 'RND', self.rnd, 16))

    @classmethod
    def decode(cls, payload: bytes) -> 'MnbcSoundInd':
        r = _Reader(payload, 'CM_MNBC_SOUND.IND')
        _slac_header(r, r._name)
        sender, count, run_id = r.take(17), r.byte(), r.take(8)
        r.take(8)
        return cls(run_id=run_id, count=count, rnd=r.take(16), sender_id=sender)


def _groups(name: str, reader: _Reader) -> int:
    count = reader.byte()
    if not 1 <= count <= MAX_GROUPS:
        raise MmeError(f'{name}: NumGroups {count} outside 1..{MAX_GROUPS}')
    return count


@dataclass(frozen=True)
class AttenCharInd:
    MMTYPE: ClassVar[MmType] = MmType.CM_ATTEN_CHAR_IND
    source_address: bytes  # the EV host's MAC
    run_id: bytes
    num_sounds: int
    attenuation_db: tuple  # one average attenuation per carrier group (AAG), dB
    source_id: bytes = ZERO_ID
    resp_id: bytes = ZERO_ID

    @property
    def average_attenuation_db(self) -> float:
        return sum(self.attenuation_db) / len(self.attenuation_db)

    def encode(self) -> bytes:
        n = 'CM_ATTEN_CHAR.IND'
        if not 1 <= len(self.attenuation_db) <= MAX_GROUPS:
            raise MmeError(f'{n}: {len(self.attenuation_db)} groups outside 1..{MAX_GROUPS}')
        return (SLAC_HEADER + _sized(n, 'SOURCE_ADDRESS', self.source_address, 6)
                + _sized(n, 'RunID', self.run_id, 8) + _sized(n, 'SOURCE_ID', self.source_id, 17)
                + _sized(n, 'RESP_ID', self.resp_id, 17)
                + bytes([self.num_sounds, len(self.attenuation_db)]) + bytes(self.attenuation_db))

    @classmethod
    def decode(cls, payload: bytes) -> 'AttenCharInd':
        r = _Reader(payload, 'CM_ATTEN_CHAR.IND')
        _slac_header(r, r._name)
        source, run_id, source_id, resp_id = r.take(6), r.take(8), r.take(17), r.take(17)
        sounds = r.byte()
        groups = _groups(r._name, r)
        return cls(source_address=source, run_id=run_id, num_sounds=sounds,
                   attenuation_db=tuple(r.take(groups)), source_id=source_id, resp_id=resp_id)


@dataclass(frozen=True)
class AttenCharRsp:
    MMTYPE: ClassVar[MmType] = MmType.CM_ATTEN_CHAR_RSP
    source_address: bytes
    run_id: bytes
    result: int = 0x00  # 0x00 = success
    source_id: bytes = ZERO_ID
    resp_id: bytes = ZERO_ID

    def encode(self) -> bytes:
        n = 'CM_ATTEN_CHAR.RSP'
        return (SLAC_HEADER + _sized(n, 'SOURCE_ADDRESS', self.source_address, 6)
                + _sized(n, 'RunID', self.run_id, 8) + _sized(n, 'SOURCE_ID', self.source_id, 17)
                + _sized(n, 'RESP_ID', self.resp_id, 17) + bytes([self.result]))

    @classmethod
    def decode(cls, payload: bytes) -> 'AttenCharRsp':
        r = _Reader(payload, 'CM_ATTEN_CHAR.RSP')
        _slac_header(r, r._name)
        source, run_id, source_id, resp_id = r.take(6), r.take(8), r.take(17), r.take(17)
        return cls(source_address=source, run_id=run_id, result=r.byte(),
                   source_id=source_id, resp_id=resp_id)


@dataclass(frozen=True)
class AttenProfileInd:
    """From the charger's modem to its host: the attenuation of one received M-sound."""
    MMTYPE: ClassVar[MmType] = MmType.CM_ATTEN_PROFILE_IND
    pev_mac: bytes
    attenuation_db: tuple

    def encode(self) -> bytes:
        n = 'CM_ATTEN_PROFILE.IND'
        if not 1 <= len(self.attenuation_db) <= MAX_GROUPS:
            raise MmeError(f'{n}: {len(self.attenuation_db)} groups outside 1..{MAX_GROUPS}')
        return (_sized(n, 'PEV MAC', self.pev_mac, 6) + bytes([len(self.attenuation_db), 0])
                + bytes(self.attenuation_db))

    @classmethod
    def decode(cls, payload: bytes) -> 'AttenProfileInd':
        r = _Reader(payload, 'CM_ATTEN_PROFILE.IND')
        mac = r.take(6)
        groups = _groups(r._name, r)
        r.byte()  # reserved
        return cls(pev_mac=mac, attenuation_db=tuple(r.take(groups)))


class ValidateResult(enum.IntEnum):
    NOT_READY = 0x00
    READY = 0x01
    SUCCESS = 0x02
    FAILURE = 0x03
    NOT_REQUIRED = 0x04


@dataclass(frozen=True)
class ValidateReq:
    MMTYPE: ClassVar[MmType] = MmType.CM_VALIDATE_REQ
    timer: int = 0  # first request: 0; second: the toggle time in units of 100 ms
    result: int = ValidateResult.READY
    signal_type: int = 0x00  # PEV S2 toggles on the control pilot

    def encode(self) -> bytes:
        return bytes([self.signal_type, self.timer, self.result])

    @classmethod
    def decode(cls, payload: bytes) -> 'ValidateReq':
        r = _Reader(payload, 'CM_VALIDATE.REQ')
        signal, timer, result = r.byte(), r.byte(), r.byte()
        return cls(timer=timer, result=result, signal_type=signal)


@dataclass(frozen=True)
class ValidateCnf:
    MMTYPE: ClassVar[MmType] = MmType.CM_VALIDATE_CNF
    result: int
    toggle_num: int = 0
    signal_type: int = 0x00

    def encode(self) -> bytes:
        return bytes([self.signal_type, self.toggle_num, self.result])

    @classmethod
    def decode(cls, payload: bytes) -> 'ValidateCnf':
        r = _Reader(payload, 'CM_VALIDATE.CNF')
        signal, toggles, result = r.byte(), r.byte(), r.byte()
        return cls(result=result, toggle_num=toggles, signal_type=signal)


def _match_ids(name: str, msg) -> bytes:
    return (_sized(name, 'PEV ID', msg.pev_id, 17) + _sized(name, 'PEV MAC', msg.pev_mac, 6)
            + _sized(name, 'EVSE ID', msg.evse_id, 17) + _sized(name, 'EVSE MAC', msg.evse_mac, 6)
            + _sized(name, 'RunID', msg.run_id, 8) + bytes(8))


def _read_match_ids(r: _Reader, mvf_length: int) -> dict:
    _slac_header(r, r._name)
    _expect(r._name, 'MVFLength', r.le16(), mvf_length)
    ids = dict(pev_id=r.take(17), pev_mac=r.take(6), evse_id=r.take(17), evse_mac=r.take(6),
               run_id=r.take(8))
    r.take(8)  # reserved
    return ids


@dataclass(frozen=True)
class SlacMatchReq:
    MMTYPE: ClassVar[MmType] = MmType.CM_SLAC_MATCH_REQ
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    pev_id: bytes = ZERO_ID
    evse_id: bytes = ZERO_ID

    def encode(self) -> bytes:
        return (SLAC_HEADER + MVF_LENGTH_MATCH_REQ.to_bytes(2, 'little')
                + _match_ids('CM_SLAC_MATCH.REQ', self))

    @classmethod
    def decode(cls, payload: bytes) -> 'SlacMatchReq':
        return cls(**_read_match_ids(_Reader(payload, 'CM_SLAC_MATCH.REQ'), MVF_LENGTH_MATCH_REQ))


@dataclass(frozen=True)
class SlacMatchCnf:
    MMTYPE: ClassVar[MmType] = MmType.CM_SLAC_MATCH_CNF
    pev_mac: bytes
    evse_mac: bytes
    run_id: bytes
    nid: bytes
    nmk: bytes
    pev_id: bytes = ZERO_ID
    evse_id: bytes = ZERO_ID

    def encode(self) -> bytes:
        n = 'CM_SLAC_MATCH.CNF'
        return (SLAC_HEADER + MVF_LENGTH_MATCH_CNF.to_bytes(2, 'little') + _match_ids(n, self)
                + _sized(n, 'NID', self.nid, 7) + b'\x00' + _sized(n, 'NMK', self.nmk, 16))

    @classmethod
    def decode(cls, payload: bytes) -> 'SlacMatchCnf':
        r = _Reader(payload, 'CM_SLAC_MATCH.CNF')
        ids = _read_match_ids(r, MVF_LENGTH_MATCH_CNF)
        nid = r.take(7)
        r.byte()  # reserved
        return cls(nid=nid, nmk=r.take(16), **ids)


@dataclass(frozen=True)
class SetKeyReq:
    """ISO 15118-3 table A.8: the host gives its own modem the NMK and NID of the network."""
    MMTYPE: ClassVar[MmType] = MmType.CM_SET_KEY_REQ
    nid: bytes
    nmk: bytes
    my_nonce: bytes = bytes(4)
    your_nonce: bytes = bytes(4)
    cco_capability: int = 0x00
    key_type: int = KEY_TYPE_NMK
    pid: int = PID_HLE
    prn: int = 0
    pmn: int = 0
    new_eks: int = 0x01

    def encode(self) -> bytes:
        n = 'CM_SET_KEY.REQ'
        return (bytes([self.key_type]) + _sized(n, 'MyNonce', self.my_nonce, 4)
                + _sized(n, 'YourNonce', self.your_nonce, 4) + bytes([self.pid])
                + self.prn.to_bytes(2, 'little') + bytes([self.pmn, self.cco_capability])
                + _sized(n, 'NID', self.nid, 7) + bytes([self.new_eks])
                + _sized(n, 'NewKey', self.nmk, 16))

    @classmethod
    def decode(cls, payload: bytes) -> 'SetKeyReq':
        r = _Reader(payload, 'CM_SET_KEY.REQ')
        key_type, my_nonce, your_nonce, pid = r.byte(), r.take(4), r.take(4), r.byte()
        prn, pmn, cco, nid, eks = r.le16(), r.byte(), r.byte(), r.take(7), r.byte()
        return cls(nid=nid, nmk=r.take(16), my_nonce=my_nonce, your_nonce=your_nonce,
                   cco_capability=cco, key_type=key_type, pid=pid, prn=prn, pmn=pmn,
                   new_eks=eks)


@dataclass(frozen=True)
class SetKeyCnf:
    MMTYPE: ClassVar[MmType] = MmType.CM_SET_KEY_CNF
    result: int  # 0x00 = success per HomePlug (some QCA firmware reports it inverted)
    my_nonce: bytes = bytes(4)
    your_nonce: bytes = bytes(4)
    pid: int = PID_HLE
    prn: int = 0
    pmn: int = 0
    cco_capability: int = 0x00

    def encode(self) -> bytes:
        n = 'CM_SET_KEY.CNF'
        return (bytes([self.result]) + _sized(n, 'MyNonce', self.my_nonce, 4)
                + _sized(n, 'YourNonce', self.your_nonce, 4) + bytes([self.pid])
                + self.prn.to_bytes(2, 'little') + bytes([self.pmn, self.cco_capability]))

    @classmethod
    def decode(cls, payload: bytes) -> 'SetKeyCnf':
        r = _Reader(payload, 'CM_SET_KEY.CNF')
        result, my_nonce, your_nonce, pid = r.byte(), r.take(4), r.take(4), r.byte()
        return cls(result=result, my_nonce=my_nonce, your_nonce=your_nonce, pid=pid,
                   prn=r.le16(), pmn=r.byte(), cco_capability=r.byte())


@dataclass(frozen=True)
class LinkStatusReq:
    MMTYPE: ClassVar[MmType] = MmType.VS_PL_LNK_STATUS_REQ

    def encode(self) -> bytes:
        return b''

    @classmethod
    def decode(cls, payload: bytes) -> 'LinkStatusReq':
        return cls()


@dataclass(frozen=True)
class LinkStatusCnf:
    MMTYPE: ClassVar[MmType] = MmType.VS_PL_LNK_STATUS_CNF
    link_status: int  # 0 = no powerline link; otherwise joined to an AVLN
    mstatus: int = 0x00  # 0 = the request succeeded

    @property
    def linked(self) -> bool:
        return self.mstatus == 0 and self.link_status != 0

    def encode(self) -> bytes:
        return bytes([self.mstatus, self.link_status])

    @classmethod
    def decode(cls, payload: bytes) -> 'LinkStatusCnf':
        r = _Reader(payload, 'VS_PL_LNK_STATUS.CNF')
        mstatus = r.byte()
        return cls(link_status=r.byte(), mstatus=mstatus)


MESSAGES = {cls.MMTYPE: cls for cls in (
    SlacParmReq, SlacParmCnf, StartAttenCharInd, MnbcSoundInd, AttenCharInd, AttenCharRsp,
    AttenProfileInd, ValidateReq, ValidateCnf, SlacMatchReq, SlacMatchCnf, SetKeyReq, SetKeyCnf,
    LinkStatusReq, LinkStatusCnf)}


@dataclass(frozen=True)
class Frame:
    dst: bytes
    src: bytes
    message: object = field(repr=True)


def build(dst: bytes, src: bytes, message) -> bytes:
    """The whole Ethernet frame, padded to 60 bytes."""
    _sized('frame', 'destination MAC', dst, 6)
    _sized('frame', 'source MAC', src, 6)
    mmtype = int(message.MMTYPE)
    if _is_vendor(mmtype):
        header = bytes([MMV_VENDOR]) + mmtype.to_bytes(2, 'little') + QUALCOMM_OUI
    else:
        header = bytes([MMV_HOMEPLUG_GP]) + mmtype.to_bytes(2, 'little') + b'\x00\x00'
    frame = dst + src + ETHERTYPE_HOMEPLUG.to_bytes(2, 'big') + header + message.encode()
    return frame.ljust(MIN_FRAME_BYTES, b'\x00')


def mmtype_of(frame: bytes) -> int | None:
    """The MMTYPE of a HomePlug frame, or None (cheap: for forwarding decisions)."""
    if len(frame) < ETH_HEADER_BYTES + 3 or frame[12:14] != b'\x88\xe1':
        return None
    return int.from_bytes(frame[15:17], 'little')


def parse(frame: bytes) -> Frame:
    """Parse one Ethernet frame; MmeError for anything short, foreign or inconsistent."""
    if not isinstance(frame, (bytes, bytearray, memoryview)):
        raise MmeError(f'frame must be bytes, got {type(frame).__name__}')
    frame = bytes(frame)
    if len(frame) < ETH_HEADER_BYTES + HOMEPLUG_HEADER_BYTES:
        raise MmeError(f'frame too short for an MME ({len(frame)} bytes)')
    _expect('frame', 'ethertype', int.from_bytes(frame[12:14], 'big'), ETHERTYPE_HOMEPLUG)
    mmv = frame[14]
    mmtype = int.from_bytes(frame[15:17], 'little')
    cls = MESSAGES.get(mmtype)
    if cls is None:
        raise MmeError(f'unknown MMTYPE 0x{mmtype:04x}')
    if _is_vendor(mmtype):
        _expect(cls.__name__, 'MMV', mmv, MMV_VENDOR)
        if len(frame) < ETH_HEADER_BYTES + VENDOR_HEADER_BYTES:
            raise MmeError(f'{cls.__name__}: frame too short for the vendor header')
        _expect(cls.__name__, 'OUI', frame[17:20], QUALCOMM_OUI)
        payload = frame[ETH_HEADER_BYTES + VENDOR_HEADER_BYTES:]
    else:
        _expect(cls.__name__, 'MMV', mmv, MMV_HOMEPLUG_GP)
        if frame[17:19] != b'\x00\x00':
            raise MmeError(f'{cls.__name__}: fragmented MMEs (FMI {frame[17:19].hex()}) '
                           'are not used by SLAC')
        payload = frame[ETH_HEADER_BYTES + HOMEPLUG_HEADER_BYTES:]
    return Frame(dst=frame[0:6], src=frame[6:12], message=cls.decode(payload))


def mac_text(mac: bytes) -> str:
    return ':'.join(f'{b:02x}' for b in mac)
