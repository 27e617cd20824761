"""The library installs with pip; its one run dependency is `cryptography` (Plug & Charge
security), which the EXI codec does not import."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

LIBRARY = Path(__file__).resolve().parents[1]
CODEC_PROBE = '''
import sys
from iso15118_ev.codec import NativeExiCodec, namespaces
from iso15118_ev.protocol.app_protocol import supported_app_protocol_req
codec = NativeExiCodec()
message = {"supportedAppProtocolReq": supported_app_protocol_req(["ISO_15118_2", "DIN_SPEC_70121"])}
assert codec.decode_object(codec.encode_object(message, namespaces.APP_PROTOCOL),
                           namespaces.APP_PROTOCOL) == message
print(sorted(m.split(".")[0] for m in sys.modules if m.split(".")[0] in
             ("rclpy", "iso15118", "xmlschema", "pydantic", "cryptography")))
'''
# With its dependency: the session and the security package import, and nothing else loads.
FULL_PROBE = CODEC_PROBE.replace(
    'codec = NativeExiCodec()',
    'from iso15118_ev.session.ev import Ev\nimport iso15118_ev.security\ncodec = NativeExiCodec()'
).replace('"pydantic", "cryptography"', '"pydantic"')


# The bare venv must not see the workspace (colcon's PYTHONPATH) either.
BARE_ENV = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'PYTHONHOME')}


def _wheel(tmp_path: Path) -> Path:
    source = tmp_path / 'source'  # building writes into the tree: use a copy
    shutil.copytree(LIBRARY, source, ignore=shutil.ignore_patterns('test', '__pycache__',
                                                                   '*.egg-info', 'build'))
    built = subprocess.run([sys.executable, '-m', 'pip', 'wheel', '--no-deps', '--quiet',
                            '--no-build-isolation', '-w', str(tmp_path / 'dist'), str(source)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    wheel, = (tmp_path / 'dist').glob('iso15118_ev-*.whl')
    return wheel


def _bare_venv(target: Path) -> Path:
    venv.EnvBuilder(with_pip=True, system_site_packages=False).create(target)
    return target / 'bin' / 'python'


def test_wheel_declares_cryptography_as_its_only_dependency(tmp_path):
    with zipfile.ZipFile(_wheel(tmp_path)) as wheel:
        metadata, = (n for n in wheel.namelist() if n.endswith('.dist-info/METADATA'))
        requires = [line.split(':', 1)[1].strip() for line in
                    wheel.read(metadata).decode().splitlines() if line.startswith('Requires-Dist:')]
    assert [r.replace(' ', '') for r in requires] == ['cryptography>=3.4']


def test_pip_installs_the_library_alone_into_a_bare_venv(tmp_path):
    """A wheel built by pip, installed with no index (and without its dependency) into a venv
    that has nothing else: the codec runs on the standard library."""
    wheel = _wheel(tmp_path)
    python = _bare_venv(tmp_path / 'venv')
    done = subprocess.run([str(python), '-m', 'pip', 'install', '--no-index', '--no-deps',
                           '--quiet', str(wheel)], capture_output=True, text=True, timeout=300,
                          env=BARE_ENV)
    assert done.returncode == 0, done.stderr
    run = subprocess.run([str(python), '-c', CODEC_PROBE], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env=BARE_ENV)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == '[]'


def test_pip_installs_the_library_with_its_dependency(tmp_path):
    """With the package index (skipped when it cannot be reached): pip resolves cryptography;
    the session and the security package import without ROS or the `iso15118` package."""
    wheel = _wheel(tmp_path)
    wheels = tmp_path / 'wheels'
    fetched = subprocess.run([sys.executable, '-m', 'pip', 'download', '--quiet',
                              '--only-binary=:all:', '-d', str(wheels), 'cryptography>=3.4'],
                             capture_output=True, text=True, timeout=300)
    if fetched.returncode != 0:
        pytest.skip(f'cryptography wheels cannot be downloaded: {fetched.stderr[-300:]}')
    python = _bare_venv(tmp_path / 'venv')
    done = subprocess.run([str(python), '-m', 'pip', 'install', '--no-index', '--quiet',
                           '--find-links', str(wheels), str(wheel)],
                          capture_output=True, text=True, timeout=300, env=BARE_ENV)
    assert done.returncode == 0, done.stderr
    run = subprocess.run([str(python), '-c', FULL_PROBE], capture_output=True, text=True,
                         timeout=60, cwd=tmp_path, env=BARE_ENV)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == '[]'
