"""Run with the pyslac venv's python (scripts/pyslac_venv.sh): builds pyslac's frames from the
JSON on stdin and parses the frames given there with pyslac's own classes; prints JSON.

stdin: {"values": {...hex fields...}, "parse": {"ClassName": "<frame hex>", ...}}
stdout: {"built": {"ClassName": "<payload hex>"}, "parsed": {"ClassName": {field: hex|int}}}
"""
import dataclasses
import json
import sys

from pyslac import messages as m

values = json.load(sys.stdin)
v = {k: bytes.fromhex(x) if isinstance(x, str) else x for k, x in values['values'].items()}
built = {
    'SlacParmReq': m.SlacParmReq(run_id=v['run_id']),
    'SlacParmCnf': m.SlacParmCnf(forwarding_sta=v['ev_mac'], run_id=v['run_id']),
    'StartAtennChar': m.StartAtennChar(num_sounds=10, time_out=6, forwarding_sta=v['ev_mac'],
                                       run_id=v['run_id']),
    'MnbcSound': m.MnbcSound(cnt=v['count'], run_id=v['run_id'],
                             rnd=int.from_bytes(v['rnd'], 'big')),
    'AttenProfile': m.AttenProfile(pev_mac=v['ev_mac'], aag=list(v['aag'])),
    'AtennChar': m.AtennChar(source_address=v['ev_mac'], run_id=v['run_id'], num_sounds=10,
                             num_groups=len(v['aag']), aag=list(v['aag'])),
    'AtennCharRsp': m.AtennCharRsp(source_address=v['ev_mac'], run_id=v['run_id'],
                                   source_id=0, resp_id=0, result=0),
    'MatchReq': m.MatchReq(pev_mac=v['ev_mac'], evse_mac=v['evse_mac'], run_id=v['run_id']),
    'MatchCnf': m.MatchCnf(pev_mac=v['ev_mac'], evse_mac=v['evse_mac'], run_id=v['run_id'],
                           nid=v['nid'], nmk=v['nmk']),
    'SetKeyReq': m.SetKeyReq(nid=v['nid'], new_key=v['nmk']),
}
out = {'built': {name: bytes(obj.pack_big()).hex() for name, obj in built.items() if obj},
       'parsed': {}}
for name, frame in values.get('parse', {}).items():
    obj = getattr(m, name).from_bytes(bytes.fromhex(frame))
    fields = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        fields[f.name] = (bytes(value).hex() if isinstance(value, (bytes, bytearray))
                          else list(value) if isinstance(value, list) else value)
    out['parsed'][name] = fields
json.dump(out, sys.stdout)
