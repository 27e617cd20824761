"""pytest fixtures shared by the test trees: a real veth PLC link, the real charger simulator,
a test PKI and child processes with their logs. Load with `pytest_plugins`.

The link is a veth pair: the EV end in the default namespace, the charger end (`secc0`) in its
own namespace. Names come from TEST_EV_IFACE / TEST_SECC_NETNS so parallel runs can differ.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest



def _repository() -> Path:
    """The source tree the tests run from (they run inside it; the package may be installed)."""
    explicit = os.environ.get('ISO15118_EV_REPO')
    if explicit:
        return Path(explicit)
    for folder in (Path.cwd(), *Path.cwd().parents):
        if (folder / 'scripts' / 'plc_link.sh').exists():
            return folder
    raise RuntimeError('run the tests inside the iso15118_ev_ros source tree '
                       '(or set ISO15118_EV_REPO)')


REPO = _repository()
EV_IFACE = os.environ.get('TEST_EV_IFACE', 'evt0')
SECC_NETNS = os.environ.get('TEST_SECC_NETNS', 'iso15118_test')
LOG_DIR = Path(os.environ.get('TEST_LOG_DIR', REPO / 'out' / 'test-logs'))
PLC_LINK_SCRIPT = REPO / 'scripts' / 'plc_link.sh'


def executable(name: str, package: str) -> str:
    """A console script of an installed package (what `ros2 run <package> <name>` runs)."""
    install = os.environ.get('ISO15118_EV_INSTALL_BASE', str(REPO / 'install'))
    path = Path(install) / package / 'lib' / package / name
    assert path.exists(), f'{path} missing: run scripts/setup.sh first'
    return str(path)


class Process:
    """A child process with its output in a log file; stopped with SIGINT, then SIGKILL."""

    def __init__(self, name: str, argv, log_name: str, env=None):
        self.name = name
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log_path = LOG_DIR / log_name
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True, env=env)

    def signal(self, signum: int) -> None:
        os.killpg(self.proc.pid, signum)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.signal(signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors='replace')


def link_up(ev_iface: str, netns: str) -> None:
    subprocess.run(['bash', str(PLC_LINK_SCRIPT), 'up', ev_iface, netns], check=True)


def link_down(ev_iface: str, netns: str) -> None:
    subprocess.run(['bash', str(PLC_LINK_SCRIPT), 'down', ev_iface, netns], check=False)


@pytest.fixture(scope='session')
def plc_link():
    """The veth pair between the EV (default namespace) and the charger (its own namespace)."""
    link_up(EV_IFACE, SECC_NETNS)
    yield EV_IFACE
    link_down(EV_IFACE, SECC_NETNS)


@pytest.fixture(scope='session')
def pki():
    """A PKI made by the iso15118 package's create_certs.sh (for TLS and Plug & Charge)."""
    from .pki import create_pki
    return str(create_pki(LOG_DIR / 'pki'))


@pytest.fixture(scope='session')
def foreign_pki():
    """Another PKI made by create_pki: its roots and keys differ from those of `pki`."""
    from .pki import create_pki
    return str(create_pki(LOG_DIR / 'pki-foreign'))


@pytest.fixture
def ev_pki(pki, tmp_path, request):
    """Factory: an EV's own PKI folder (make_ev_pki) from the charger's `pki`, with a 'valid',
    'none', 'expired' or 'foreign' contract certificate; returns its path (str).

        def test_pnc(ev_pki): folder = ev_pki('expired')
    """
    from .pki import make_ev_pki

    def make(contract: str = 'valid') -> str:
        foreign = request.getfixturevalue('foreign_pki') if contract == 'foreign' else None
        return str(make_ev_pki(Path(pki), tmp_path / f'ev-pki-{contract}', contract, foreign))
    return make


@pytest.fixture
def processes(request):
    started = []

    def start(name, argv, env=None):
        test = request.node.name.replace('/', '_')
        proc = Process(name, argv, f'{test}.{name}.log', env)
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


def charger_argv(netns: str, protocols: str, *extra) -> list:
    """The charger simulator; its DC output discharges after power off, as a real one does."""
    return [sys.executable, '-m', 'iso15118_ev_testing.charger_simulator', '--netns', netns,
            '--interface', 'secc0', '--protocols', protocols, '--discharge-after-stop', *extra]


@pytest.fixture
def charger(plc_link, processes):
    """Start the built-in charger simulator (the iso15118 package's SECC) in its namespace."""
    def start(protocols='ISO_15118_2', *extra, netns=SECC_NETNS, name='charger'):
        proc = processes(name, charger_argv(netns, protocols, *extra))
        time.sleep(1.0)  # its UDP server is up before its JVM has started; SDP retries cover the rest
        assert proc.proc.poll() is None, proc.log()
        return proc
    return start
