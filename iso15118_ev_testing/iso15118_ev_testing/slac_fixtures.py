"""pytest fixtures for SLAC over the simulated powerline (scripts/slac_link.sh): the EV's
interface in the default namespace, modem ports and charger interfaces secc<N> in NETNS,
modem_sim as the modems and the powerline, pyslac's unchanged EVSE session as the charger side
(in its own venv: scripts/pyslac_venv.sh). Load with `pytest_plugins`; needs root.

Names: TEST_SLAC_IFACE (default evslc0), TEST_SLAC_NETNS (default slc_ns).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .fixtures import REPO

SLAC_IFACE = os.environ.get('TEST_SLAC_IFACE', 'evslc0')
SLAC_NETNS = os.environ.get('TEST_SLAC_NETNS', 'slc_ns')
SLAC_LINK_SCRIPT = REPO / 'scripts' / 'slac_link.sh'
PYSLAC_CHARGER = Path(__file__).parent / 'pyslac_charger.py'
PYSLAC_STARTUP_S = 60.0  # pyslac sets its modem's key, then settles for 10 s


def in_netns(*argv) -> list:
    return ['ip', 'netns', 'exec', SLAC_NETNS, *argv]


def wait_for_log(proc, pattern: str, timeout_s: float):
    """The first match of `pattern` in the process's log; fails if it exits or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = re.search(pattern, proc.log())
        if found:
            return found
        assert proc.proc.poll() is None, proc.log()
        time.sleep(0.2)
    raise AssertionError(f'{proc.name}: no {pattern!r} within {timeout_s} s:\n{proc.log()}')


def mac_in_netns(interface: str) -> bytes:
    out = subprocess.run(in_netns('cat', f'/sys/class/net/{interface}/address'), check=True,
                         capture_output=True, text=True).stdout.strip()
    return bytes.fromhex(out.replace(':', ''))


@pytest.fixture(scope='module')
def powerline():
    """EV interface in this namespace; modem ports and two charger interfaces in NETNS."""
    subprocess.run(['bash', str(SLAC_LINK_SCRIPT), 'up', SLAC_IFACE, SLAC_NETNS, '2'],
                   check=True)
    yield SLAC_IFACE
    subprocess.run(['bash', str(SLAC_LINK_SCRIPT), 'down', SLAC_IFACE, SLAC_NETNS], check=False)


@pytest.fixture(scope='session')
def pyslac_python():
    made = subprocess.run(['bash', str(REPO / 'scripts' / 'pyslac_venv.sh')], check=True,
                          capture_output=True, text=True)
    return made.stdout.strip().splitlines()[-1]


@pytest.fixture
def modems(powerline, processes):
    """Start modem_sim with (port, attenuation_db) chargers."""
    def start(*chargers, join_delay_s=0.5):
        argv = [sys.executable, '-m', 'iso15118_ev_testing.modem_sim', '--ev-port', 'slcev',
                '--join-delay', str(join_delay_s)]
        for port, attenuation in chargers:
            argv += ['--charger-port', f'{port}={attenuation}']
        proc = processes('modem_sim', in_netns(*argv))
        wait_for_log(proc, 'modem_sim: ready', 20)
        return proc
    return start


@pytest.fixture
def pyslac(powerline, processes, pyslac_python):
    """Start pyslac's EVSE on secc<N>; returns [(process, NID, NMK)] once each waits for the EV."""
    def start(*interfaces):
        procs = [processes(f'pyslac_{name}', in_netns(pyslac_python, str(PYSLAC_CHARGER), name))
                 for name in interfaces]
        ready = []
        for proc in procs:
            found = wait_for_log(proc, r'PYSLAC READY NID=(\w+) NMK=(\w+)', PYSLAC_STARTUP_S)
            ready.append((proc, bytes.fromhex(found[1]), bytes.fromhex(found[2])))
        return ready
    return start
