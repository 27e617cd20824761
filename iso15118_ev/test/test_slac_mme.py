"""Every SLAC MME byte-exact against the HomePlug Green PHY / ISO 15118-3 annex A layouts, and
against pyslac's frame classes (pyslac runs in its own venv: scripts/pyslac_venv.sh)."""
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from iso15118_ev.slac import mme

EV = bytes.fromhex('02aabbccddee')
EVSE = bytes.fromhex('02112233445f')
RUN = bytes.fromhex('0102030405060708')
NID = bytes.fromhex('026bcba5354e08')
NMK = bytes.fromhex('b59319d7e8157ba001b018669ccee30d')
RND = bytes(range(0x40, 0x50))
AAG = tuple(range(20, 20 + 58))
HP = '88e1'
SLAC = '0000'  # APPLICATION_TYPE PEV-EVSE matching, SECURITY_TYPE none
Z17 = '00' * 17

# (message, MME header + payload in hex as the layout tables spell it, field by field)
CASES = [
    (mme.SlacParmReq(RUN), '01 6460 0000' + SLAC + RUN.hex()),
    (mme.SlacParmCnf(EV, RUN), '01 6560 0000' + 'ff' * 6 + '0a 06 01' + EV.hex() + SLAC
     + RUN.hex()),
    (mme.StartAttenCharInd(EV, RUN), '01 6a60 0000' + SLAC + '0a 06 01' + EV.hex() + RUN.hex()),
    (mme.MnbcSoundInd(RUN, 9, RND), '01 7660 0000' + SLAC + Z17 + '09' + RUN.hex() + '00' * 8
     + RND.hex()),
    (mme.AttenCharInd(EV, RUN, 10, AAG), '01 6e60 0000' + SLAC + EV.hex() + RUN.hex() + Z17
     + Z17 + '0a 3a' + bytes(AAG).hex()),
    (mme.AttenCharRsp(EV, RUN), '01 6f60 0000' + SLAC + EV.hex() + RUN.hex() + Z17 + Z17
     + '00'),
    (mme.AttenProfileInd(EV, AAG), '01 8660 0000' + EV.hex() + '3a 00' + bytes(AAG).hex()),
    (mme.ValidateReq(), '01 7860 0000' + '00 00 01'),
    (mme.ValidateCnf(mme.ValidateResult.NOT_REQUIRED), '01 7960 0000' + '00 00 04'),
    (mme.SlacMatchReq(EV, EVSE, RUN), '01 7c60 0000' + SLAC + '3e00' + Z17 + EV.hex() + Z17
     + EVSE.hex() + RUN.hex() + '00' * 8),
    (mme.SlacMatchCnf(EV, EVSE, RUN, NID, NMK), '01 7d60 0000' + SLAC + '5600' + Z17 + EV.hex()
     + Z17 + EVSE.hex() + RUN.hex() + '00' * 8 + NID.hex() + '00' + NMK.hex()),
    (mme.SetKeyReq(NID, NMK), '01 0860 0000' + '01' + '00' * 4 + '00' * 4 + '04' + '0000'
     + '00' + '00' + NID.hex() + '01' + NMK.hex()),
    (mme.SetKeyCnf(0), '01 0960 0000' + '00' + '00' * 8 + '04' + '0000 00 00'),
    (mme.LinkStatusReq(), '00 b8a0 00b052'),
    (mme.LinkStatusCnf(1), '00 b9a0 00b052' + '00 01'),
]
IDS = [type(message).__name__ for message, _ in CASES]


def _raw(dst, src, body_hex):
    return dst + src + bytes.fromhex(HP + body_hex.replace(' ', ''))


@pytest.mark.parametrize('message,body', CASES, ids=IDS)
def test_build_is_byte_exact_and_padded(message, body):
    frame = mme.build(EVSE, EV, message)
    assert frame == _raw(EVSE, EV, body).ljust(60, b'\x00')
    assert len(frame) == max(60, 14 + len(bytes.fromhex(body.replace(' ', ''))))


@pytest.mark.parametrize('message,body', CASES, ids=IDS)
def test_parse_gives_the_fields_back(message, body):
    parsed = mme.parse(_raw(EVSE, EV, body) + b'\x00' * 7)  # trailing padding is fine
    assert (parsed.dst, parsed.src, parsed.message) == (EVSE, EV, message)


@pytest.mark.parametrize('message,body', CASES, ids=IDS)
def test_every_truncation_is_a_clear_error(message, body):
    raw = _raw(EVSE, EV, body)
    for length in range(len(raw)):
        if message.encode() == b'' and length >= 20:
            continue  # VS_PL_LNK_STATUS.REQ has no payload: the vendor header is all of it
        with pytest.raises(mme.MmeError):
            mme.parse(raw[:length])


@pytest.mark.parametrize('offset,value,what', [
    (12, 0x08, 'ethertype'), (14, 0x02, 'MMV'), (15, 0x99, 'MMTYPE'), (17, 0x01, 'FMI'),
    (19, 0x01, 'APPLICATION_TYPE'), (20, 0x01, 'SECURITY_TYPE')])
def test_inconsistent_headers_are_refused(offset, value, what):
    raw = bytearray(mme.build(EVSE, EV, mme.SlacMatchCnf(EV, EVSE, RUN, NID, NMK)))
    raw[offset] = value
    with pytest.raises(mme.MmeError, match=what if what != 'MMTYPE' else 'unknown MMTYPE'):
        mme.parse(bytes(raw))


def test_wrong_match_length_and_group_count_are_refused():
    raw = bytearray(mme.build(EVSE, EV, mme.SlacMatchCnf(EV, EVSE, RUN, NID, NMK)))
    raw[21] = 0x3E
    with pytest.raises(mme.MmeError, match='MVFLength'):
        mme.parse(bytes(raw))
    raw = bytearray(mme.build(EVSE, EV, mme.AttenCharInd(EV, RUN, 10, AAG)))
    raw[70] = 59
    with pytest.raises(mme.MmeError, match='NumGroups'):
        mme.parse(bytes(raw))
    raw = bytearray(mme.build(EVSE, EV, mme.LinkStatusCnf(1)))
    raw[19] = 0x53
    with pytest.raises(mme.MmeError, match='OUI'):
        mme.parse(bytes(raw))


def test_building_with_a_wrong_field_size_is_refused():
    with pytest.raises(mme.MmeError, match='RunID'):
        mme.build(EVSE, EV, mme.SlacParmReq(b'short'))
    with pytest.raises(mme.MmeError, match='NMK|NewKey'):
        mme.build(EVSE, EV, mme.SetKeyReq(NID, NMK[:15]))


def test_average_attenuation_is_the_mean_of_the_groups():
    assert mme.AttenCharInd(EV, RUN, 10, (10, 20, 30)).average_attenuation_db == 20.0


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=140))
def test_hostile_bytes_raise_only_mme_error(data):
    for raw in (data, EVSE + EV + b'\x88\xe1' + data, EVSE + EV + b'\x88\xe1\x01\x6e\x60\x00\x00'
                + data):
        try:
            mme.parse(raw)
        except mme.MmeError:
            pass


# -- pyslac -----------------------------------------------------------------------------------

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def pyslac():
    """Ask pyslac (its own venv) to build its frames and to parse ours."""
    made = subprocess.run(['bash', str(REPO / 'scripts' / 'pyslac_venv.sh')], check=True,
                          capture_output=True, text=True)
    python = made.stdout.strip().splitlines()[-1]

    def call(parse: dict) -> dict:
        values = dict(run_id=RUN.hex(), ev_mac=EV.hex(), evse_mac=EVSE.hex(), nid=NID.hex(),
                      nmk=NMK.hex(), rnd=RND.hex(), count=9, aag=bytes(AAG).hex())
        out = subprocess.run([python, str(Path(__file__).parent / 'support' / 'pyslac_frames.py')],
                             input=json.dumps({'values': values, 'parse': parse}),
                             capture_output=True, text=True, check=True)
        return json.loads(out.stdout)
    return call


PYSLAC_SAME = {
    'SlacParmReq': mme.SlacParmReq(RUN), 'SlacParmCnf': mme.SlacParmCnf(EV, RUN),
    'StartAtennChar': mme.StartAttenCharInd(EV, RUN), 'MnbcSound': mme.MnbcSoundInd(RUN, 9, RND),
    'AttenProfile': mme.AttenProfileInd(EV, AAG), 'AtennChar': mme.AttenCharInd(EV, RUN, 10, AAG),
    'AtennCharRsp': mme.AttenCharRsp(EV, RUN),
    'MatchCnf': mme.SlacMatchCnf(EV, EVSE, RUN, NID, NMK)}


def test_payloads_equal_pyslac_frames(pyslac):
    built = pyslac({})['built']
    for name, message in PYSLAC_SAME.items():
        assert built[name] == message.encode().hex(), name
    # pyslac writes MVFLength of CM_SLAC_MATCH.REQ big endian (00 3e); HomePlug fields are
    # little endian and its own CM_SLAC_MATCH.CNF uses 56 00. Everything else is identical.
    ours = mme.SlacMatchReq(EV, EVSE, RUN).encode().hex()
    assert built['MatchReq'] == ours[:4] + '003e' + ours[8:]
    # pyslac's CM_SET_KEY.REQ carries the fixed MyNonce aaaaaaaa; ours is the caller's.
    assert built['SetKeyReq'] == mme.SetKeyReq(NID, NMK, my_nonce=b'\xaa' * 4).encode().hex()


def test_pyslac_parses_our_frames_to_the_same_fields(pyslac):
    ours = {'SlacParmReq': mme.SlacParmReq(RUN), 'StartAtennChar': mme.StartAttenCharInd(EV, RUN),
            'MnbcSound': mme.MnbcSoundInd(RUN, 9, RND),
            'AtennCharRsp': mme.AttenCharRsp(EV, RUN),
            'MatchReq': mme.SlacMatchReq(EV, EVSE, RUN),
            'AttenProfile': mme.AttenProfileInd(EV, AAG)}
    parsed = pyslac({name: mme.build(EVSE, EV, msg).hex() for name, msg in ours.items()})['parsed']
    assert parsed['SlacParmReq']['run_id'] == RUN.hex()
    assert parsed['StartAtennChar'] == dict(
        num_sounds=10, time_out=6, forwarding_sta=EV.hex(), run_id=RUN.hex(),
        application_type=0, security_type=0, resp_type=1)
    assert parsed['MnbcSound']['cnt'] == 9 and parsed['MnbcSound']['run_id'] == RUN.hex()
    assert parsed['MnbcSound']['rnd'] == int.from_bytes(RND, 'big')
    assert parsed['AtennCharRsp']['run_id'] == RUN.hex()
    assert parsed['AtennCharRsp']['source_address'] == EV.hex()
    assert parsed['AtennCharRsp']['result'] == 0
    assert (parsed['MatchReq']['pev_mac'], parsed['MatchReq']['evse_mac'],
            parsed['MatchReq']['run_id']) == (EV.hex(), EVSE.hex(), RUN.hex())
    assert parsed['AttenProfile']['aag'] == list(AAG)


def test_we_parse_pyslac_frames(pyslac):
    built = pyslac({})['built']
    headers = {'SlacParmCnf': mme.MmType.CM_SLAC_PARM_CNF,
               'AtennChar': mme.MmType.CM_ATTEN_CHAR_IND, 'MatchCnf': mme.MmType.CM_SLAC_MATCH_CNF, 'SetKeyReq': mme.MmType.CM_SET_KEY_REQ}
    for name, mmtype in headers.items():
        raw = (EV + EVSE + b'\x88\xe1\x01' + int(mmtype).to_bytes(2, 'little') + b'\x00\x00'
               + bytes.fromhex(built[name]))
        message = mme.parse(raw).message
        assert type(message).MMTYPE == mmtype
    assert mme.parse(EV + EVSE + b'\x88\xe1\x01\x7d\x60\x00\x00'
                     + bytes.fromhex(built['MatchCnf'])).message.nmk == NMK
