"""The grammar data files shipped in iso15118_ev/codec/grammars/: exactly what the generator
writes from the installed XSDs, and all the runtime codec needs (no xmlschema, no iso15118)."""
import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

import iso15118_ev
from iso15118_ev.codec.loader import DIRECTORY, file_name
from iso15118_ev.codec.schemas import ISO2, SCHEMA_FILES

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
codec = NativeExiCodec()
data = codec.encode(sys.argv[1], sys.argv[2])
decoded = codec.decode(data, sys.argv[2])
print(json.dumps({"hex": data.hex(), "decoded": json.loads(decoded), "imported": sorted(
    m for m in sys.modules if m.split(".")[0] in ("xmlschema", "iso15118"))}))
'''


@pytest.fixture(scope='module')
def regenerated(tmp_path_factory):
    from iso15118_ev.codec.generate import generate
    directory = tmp_path_factory.mktemp('grammars')
    return {path.name: gzip.decompress(path.read_bytes()) for path in generate(directory)}


@pytest.mark.parametrize('namespace', SCHEMA_FILES)
def test_shipped_file_is_what_the_generator_writes(namespace, regenerated):
    name = file_name(namespace)
    # compared uncompressed: another zlib build may deflate the same content differently
    shipped = gzip.decompress((DIRECTORY / name).read_bytes())
    assert shipped == regenerated[name], (
        f'{name} is stale: run python -m iso15118_ev.codec.generate')


def test_no_other_files_are_shipped(regenerated):
    assert sorted(p.name for p in DIRECTORY.iterdir()) == sorted(regenerated)


def test_runtime_codec_imports_neither_xmlschema_nor_iso15118():
    source_root = Path(iso15118_ev.__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, '-c', SCRIPT, json.dumps(MESSAGE), ISO2],
                          cwd=source_root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result['imported'] == []
    assert result['decoded'] == MESSAGE
