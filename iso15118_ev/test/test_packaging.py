"""The library installs with pip alone and runs on the standard library only."""
from __future__ import annotations

import shutil
import subprocess
import sys
import venv
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1]
PROBE = '''
import sys
from iso15118_ev.codec import NativeExiCodec, namespaces
from iso15118_ev.session.ev import Ev
from iso15118_ev.protocol.app_protocol import supported_app_protocol_req
codec = NativeExiCodec()
message = {"supportedAppProtocolReq": supported_app_protocol_req(["ISO_15118_2", "DIN_SPEC_70121"])}
assert codec.decode_object(codec.encode_object(message, namespaces.APP_PROTOCOL),
                           namespaces.APP_PROTOCOL) == message
print(sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in
             ("rclpy", "iso15118", "xmlschema", "pydantic", "cryptography")))
'''


def test_pip_installs_the_library_alone_into_a_bare_venv(tmp_path):
    """A wheel built by pip, installed with no index into a venv that has nothing else."""
    source = tmp_path / 'source'  # building writes into the tree: use a copy
    shutil.copytree(LIBRARY, source, ignore=shutil.ignore_patterns('test', '__pycache__',
                                                                   '*.egg-info', 'build'))
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--quiet',
                            '--no-build-isolation', '-w', str(tmp_path / 'dist'), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel, = (tmp_path / 'dist').glob('iso15118_ev-*.whl')
    target = tmp_path / 'venv'
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(target)
    python = target / 'bin' / 'python'
    done = subprocess.run([str(python), '-m', 'pip', 'install', '--no-index', '--quiet',
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    run = subprocess.run([str(python), '-c', PROBE], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == '[]'
