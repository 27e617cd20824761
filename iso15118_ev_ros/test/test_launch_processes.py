"""The executables the launch files start, run exactly as launch_ros would run them (their
command lines built from the launch files by launch_stub): they start, the charger simulator
answers discovery despite the appended ROS arguments, and the node uses the user's params file
and namespace. Needs the veth link (root)."""
from __future__ import annotations

import ipaddress
import socket
import time
from pathlib import Path

import yaml

import launch_stub as stub
from iso15118_ev_testing.fixtures import SECC_NETNS

CONFIG = stub.PACKAGE / 'config'


def sdp_answer(interface: str, attempts: int = 40):
    """The address an SDP request on `interface` is answered with, or None."""
    index = socket.if_nametoindex(interface)
    request = bytes([0x01, 0xFE, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00])  # no TLS, TCP
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.settimeout(0.5)
        for _ in range(attempts):
            sock.sendto(request, ('ff02::1', 15118, 0, index))
            try:
                return str(ipaddress.IPv6Address(sock.recv(100)[8:24]))
            except socket.timeout:
                continue
    return None


def wait_log(proc, text: str, timeout: float = 20.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        log = proc.log()
        if text in log:
            return log
        assert proc.proc.poll() is None, f'{proc.name} exited:\n{log}'
        time.sleep(0.2)
    raise AssertionError(f'{text!r} not in the log of {proc.name}:\n{proc.log()}')


class Exited:
    returncode = 0


def test_charger_simulator_started_as_launch_ros_does_answers_discovery(
        plc_link, processes, monkeypatch):
    top = stub.load(stub.PACKAGE / 'launch' / 'ev_with_charger.launch.py', monkeypatch)
    (handler,) = [e.args[0] for e in top if stub.kind(e) == 'RegisterEventHandler'
                  and stub.kind(e.args[0]) == 'OnProcessExit']
    context = stub.Context(charger_netns=SECC_NETNS, charger_protocols='ISO_15118_2',
                           namespace='', params_file='', ev_interface=plc_link)
    (charger,) = [e for e in handler.kwargs['on_exit'](Exited(), context)
                  if stub.kind(e) == 'Node']
    argv = stub.node_argv(charger, context)
    argv += ['-r', '__node:=charger_simulator', '--params-file', str(CONFIG / 'ev_node.yaml')]
    assert '--ros-args' in argv
    proc = processes('charger', argv)
    answer = sdp_answer(plc_link)
    assert proc.proc.poll() is None, proc.log()
    assert answer and answer.startswith('fe80'), proc.log()


def test_ev_node_launch_uses_the_users_plc_interface(plc_link, processes, monkeypatch,
                                                     tmp_path):
    user = yaml.safe_load((CONFIG / 'ev_node.yaml').read_text())
    user['/**']['ros__parameters']['plc_interface'] = plc_link
    params = tmp_path / 'my_ev.yaml'
    params.write_text(yaml.safe_dump(user))
    (function,) = [e for e in stub.load(stub.PACKAGE / 'launch' / 'ev_node.launch.py',
                                        monkeypatch) if stub.kind(e) == 'OpaqueFunction']
    context = stub.Context(namespace='ev9', params_file=str(params), plc_interface='')
    (node,) = function.kwargs['function'](context)
    proc = processes('ev_node', stub.node_argv(node, context))
    log = wait_log(proc, 'EV ready on ')
    assert f'EV ready on {plc_link};' in log
    assert '[ev9.iso15118_ev]' in log


def test_ev_node_launch_starts_the_managed_node_to_active(plc_link, processes, monkeypatch):
    (function,) = [e for e in stub.load(stub.PACKAGE / 'launch' / 'ev_node.launch.py',
                                        monkeypatch) if stub.kind(e) == 'OpaqueFunction']
    context = stub.Context(namespace='ev8', plc_interface=plc_link, lifecycle='true')
    (node,) = function.kwargs['function'](context)
    proc = processes('ev_lifecycle_node', stub.node_argv(node, context))
    log = wait_log(proc, 'EV ready on ')   # autostart: configure, then activate
    assert 'configured: EV on ' in log and f'EV ready on {plc_link};' in log
    assert '[ev8.iso15118_ev]' in log


def test_multi_ev_nodes_start_in_their_namespaces(plc_link, processes, monkeypatch, tmp_path):
    fleet = yaml.safe_load((CONFIG / 'multi_ev.yaml').read_text())
    for section in fleet.values():  # this machine has one test link for both
        section['ros__parameters']['plc_interface'] = plc_link
    params = tmp_path / 'fleet.yaml'
    params.write_text(yaml.safe_dump(fleet))
    nodes = [e for e in stub.load(stub.PACKAGE / 'launch' / 'multi_ev.launch.py', monkeypatch)
             if stub.kind(e) == 'Node']
    context = stub.Context(defaults_file=str(CONFIG / 'ev_node.yaml'), params_file=str(params))
    started = [(n.kwargs['namespace'], processes(f'ev_node_{n.kwargs["namespace"]}',
                                                 stub.node_argv(n, context))) for n in nodes]
    for namespace, proc in started:
        log = wait_log(proc, 'EV ready on ')
        assert f'[{namespace}.iso15118_ev]' in log and f'EV ready on {plc_link};' in log
