"""The grammar cache: built once from the XSDs, then loaded without xmlschema, same bytes."""
import json
import os
import subprocess
import sys

from iso15118_ev.codec.schemas import ISO2

MESSAGE = {'V2G_Message': {'Header': {'SessionID': 'A1B2C3D4E5F60708'}, 'Body': {
    'ChargeParameterDiscoveryReq': {
        'RequestedEnergyTransferMode': 'DC_extended',
        'DC_EVChargeParameter': {
            'DC_EVStatus': {'EVReady': True, 'EVErrorCode': 'NO_ERROR', 'EVRESSSOC': 20},
            'EVMaximumCurrentLimit': {'Multiplier': 0, 'Unit': 'A', 'Value': 300},
            'EVMaximumVoltageLimit': {'Multiplier': 0, 'Unit': 'V', 'Value': 900}}}}}}
SCRIPT = '''
import json, sys
from iso15118_ev.codec import NativeExiCodec
data = NativeExiCodec().encode(sys.argv[1], sys.argv[2])
print(json.dumps({"hex": data.hex(), "xmlschema": "xmlschema" in sys.modules}))
'''


def _encode_in_fresh_process(cache_dir):
    env = dict(os.environ, ISO15118_EXI_CACHE=str(cache_dir))
    done = subprocess.run([sys.executable, '-c', SCRIPT, json.dumps(MESSAGE), ISO2], env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_first_use_builds_the_cache_then_loads_it_without_xmlschema(tmp_path):
    first = _encode_in_fresh_process(tmp_path)
    assert first['xmlschema']  # built from the XSDs
    assert [p.name for p in tmp_path.iterdir() if ISO2.split(':')[-1] in p.name]
    second = _encode_in_fresh_process(tmp_path)
    assert not second['xmlschema']
    assert second['hex'] == first['hex']


def test_a_damaged_cache_is_rebuilt(tmp_path):
    first = _encode_in_fresh_process(tmp_path)
    for path in tmp_path.iterdir():
        path.write_bytes(b'not a pickle')
    again = _encode_in_fresh_process(tmp_path)
    assert again['xmlschema'] and again['hex'] == first['hex']
    assert not _encode_in_fresh_process(tmp_path)['xmlschema']
