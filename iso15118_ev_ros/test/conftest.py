"""Fixtures: a real veth PLC link, the real charger simulator, the real node, a real rclpy client.

Every process is real; ROS traffic is isolated to one domain per run and to localhost.
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EV_IFACE = os.environ.get('TEST_EV_IFACE', 'evt0')
SECC_NETNS = os.environ.get('TEST_SECC_NETNS', 'iso15118_test')
LOG_DIR = Path(os.environ.get('TEST_LOG_DIR', REPO / 'out' / 'test-logs'))


def pytest_configure(config):
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.randint(100, 200)))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    LOG_DIR.mkdir(parents=True, exist_ok=True)


def executable(name: str) -> str:
    """A console script that setup.py installs (what `ros2 run iso15118_ev_ros <name>` runs)."""
    install = os.environ.get('ISO15118_EV_INSTALL_BASE', str(REPO / 'install'))
    path = Path(install) / 'iso15118_ev_ros' / 'lib' / 'iso15118_ev_ros' / name
    assert path.exists(), f'{path} missing: run scripts/setup.sh first'
    return str(path)


class Process:
    """A child process with its output in a log file; stopped with SIGINT, then SIGKILL."""

    def __init__(self, name: str, argv, log_name: str):
        self.name = name
        self.log_path = LOG_DIR / log_name
        self._log = open(self.log_path, 'w')
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self._log.close()
        return self.proc.returncode

    def log(self) -> str:
        self._log.flush()
        return self.log_path.read_text(errors='replace')


@pytest.fixture(scope='session')
def plc_link():
    """The veth pair between the EV (default namespace) and the charger (its own namespace)."""
    script = str(REPO / 'scripts' / 'plc_link.sh')
    subprocess.run(['bash', script, 'up', EV_IFACE, SECC_NETNS], check=True)
    yield EV_IFACE
    subprocess.run(['bash', script, 'down', EV_IFACE, SECC_NETNS], check=False)


@pytest.fixture(scope='session')
def pki():
    """A PKI made by the iso15118 package's create_certs.sh (for TLS and Plug & Charge)."""
    from iso15118_ev_ros.pki import create_pki
    return str(create_pki(LOG_DIR / 'pki'))


@pytest.fixture
def processes(request):
    started = []

    def start(name, argv):
        test = request.node.name.replace('/', '_')
        proc = Process(name, argv, f'{test}.{name}.log')
        started.append(proc)
        return proc

    yield start
    for proc in reversed(started):
        proc.stop()


@pytest.fixture
def charger(plc_link, processes):
    """Start the built-in charger simulator (the iso15118 package's SECC) in its namespace."""
    def start(protocols='ISO_15118_2', *extra):
        proc = processes('charger', [executable('charger_simulator'), '--netns', SECC_NETNS,
                                     '--interface', 'secc0', '--protocols', protocols, *extra])
        time.sleep(1.0)  # its UDP server is up before its JVM has started; SDP retries cover the rest
        assert proc.proc.poll() is None, proc.log()
        return proc
    return start


@pytest.fixture
def ev_node(plc_link, processes):
    """Start the EV node with parameters (name -> value)."""
    def start(**parameters):
        parameters.setdefault('plc_interface', plc_link)
        argv = [executable('ev_node'), '--ros-args']
        for name, value in parameters.items():
            argv += ['-p', f'{name}:={_ros_value(value)}']
        return processes('ev_node', argv)
    return start


def _ros_value(value) -> str:
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, (list, tuple)):
        return '[' + ','.join(str(v) for v in value) + ']'
    return str(value)


@pytest.fixture
def ros():
    from ros_client import RosClient
    client = RosClient()
    yield client
    client.close()


sys.path.insert(0, str(Path(__file__).parent))
