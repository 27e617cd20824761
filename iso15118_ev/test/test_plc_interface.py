"""plc_interface: no silent guess. Not set is refused; `auto` never picks lo or an interface
carrying a default route (IPv4 or IPv6) and refuses when more than one candidate remains.

Unit tests feed fake /proc tables and interface lists; one test runs the real readers on a real
veth pair in a private network namespace."""
from __future__ import annotations

import logging
import subprocess
import sys
import time
import uuid

import pytest

from iso15118_ev.transport import link
from iso15118_ev_testing.fixtures import SECC_NETNS

ROUTE_HEADER = ('Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\t'
                'Window\tIRTT\n')
V4_DEFAULT = 'wlan0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n'
V4_SUBNET = 'eth1\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n'
ZERO = '0' * 32
V6_DEFAULT = (f'{ZERO} 00 {ZERO} 00 fd000000000000000000000000000001 00000400 00000003 '
              '00000000 00000003     wwan0\n')
V6_LO_UNREACHABLE = f'{ZERO} 00 {ZERO} 00 {ZERO} ffffffff 00000001 00000000 00200200       lo\n'
V6_LINK_LOCAL = (f'fe800000000000000000000000000000 40 {ZERO} 00 {ZERO} 00000100 00000002 '
                 '00000000 00000001     plc0\n')
IF_INET6 = ('fe8000000000000000fc00fffe000001 04 40 20 80     plc0\n'
            '00000000000000000000000000000001 01 80 10 80       lo\n'
            'fd000000000000000000000000000002 04 40 00 82     wlan0\n'
            'fe800000000000000000000000000002 05 40 20 80     wlan0\n')


def fake(link_local, routed=(), names=None):
    """resolve_interface's readers, faked."""
    names = names or ['lo', *link_local]
    return dict(addresses=lambda: [(i, 'fe80::1') for i in ['lo', *link_local]],
                default_routes=lambda: set(routed), names=lambda: list(names))


def test_default_route_interfaces_reads_both_tables(tmp_path):
    v4, v6 = tmp_path / 'route', tmp_path / 'ipv6_route'
    v4.write_text(ROUTE_HEADER + V4_DEFAULT + V4_SUBNET)
    v6.write_text(V6_LINK_LOCAL + V6_DEFAULT + V6_LO_UNREACHABLE)
    assert link.default_route_interfaces(str(v4), str(v6)) == {'wlan0', 'wwan0', 'lo'}
    v4.write_text(ROUTE_HEADER + V4_SUBNET)
    v6.write_text(V6_LINK_LOCAL)
    assert link.default_route_interfaces(str(v4), str(v6)) == set()
    assert link.default_route_interfaces(str(tmp_path / 'no4'), str(tmp_path / 'no6')) == set()


def test_link_local_addresses_reads_the_scope(tmp_path):
    table = tmp_path / 'if_inet6'
    table.write_text(IF_INET6)
    assert link.link_local_addresses(str(table)) == [('plc0', 'fe80::fc:ff:fe00:1'),
                                                     ('wlan0', 'fe80::2')]


def test_not_set_is_refused_with_what_to_do():
    with pytest.raises(link.PlcInterfaceError, match='not set: give the interface'):
        link.resolve_interface('', **fake(['plc0']))


def test_auto_picks_the_only_candidate_and_logs_it(caplog):
    caplog.set_level(logging.INFO, logger=link.__name__)
    assert link.resolve_interface('auto', **fake(['wlan0', 'plc0'], routed={'wlan0'})) == 'plc0'
    assert 'chose plc0' in caplog.text and 'wlan0 carry the default route' in caplog.text


@pytest.mark.parametrize('routed', [{'eth0'}, {'eth0', 'lo'}])
def test_auto_never_picks_the_default_route_interface(routed):
    with pytest.raises(link.PlcInterfaceError, match=r'eth0 carry the default route'):
        link.resolve_interface('auto', **fake(['eth0'], routed=routed))


def test_auto_never_picks_lo():
    with pytest.raises(link.PlcInterfaceError, match='no interface other than lo'):
        link.resolve_interface('auto', **fake([]))


def test_auto_refuses_several_candidates_and_names_them():
    with pytest.raises(link.PlcInterfaceError, match='2 interfaces .*: plc0, veth3; set '
                                                     'plc_interface'):
        link.resolve_interface('auto', **fake(['plc0', 'wlan0', 'veth3'], routed={'wlan0'}))


def test_a_named_interface_is_used_even_with_the_default_route():
    """Naming it is the user's explicit choice (e.g. a PLC modem that is also the uplink)."""
    assert link.resolve_interface('eth0', **fake(['eth0'], routed={'eth0'})) == 'eth0'


@pytest.mark.parametrize('name, error', [
    ('lo', 'cannot carry SDP multicast'),
    ('eth7', 'does not exist; interfaces here: lo, plc0'),
    ('down0', 'has no IPv6 link-local address'),
])
def test_named_interface_refused(name, error):
    with pytest.raises(link.PlcInterfaceError, match=error):
        link.resolve_interface(name, **fake(['plc0'], names=['lo', 'plc0', 'down0']))


# --- the real readers on a real veth pair, in a private network namespace -------------------

def _ip(netns, *args):
    subprocess.run(['ip', '-n', netns, *args], check=True, capture_output=True)


def _resolve_in(netns, name='auto') -> subprocess.CompletedProcess:
    code = ('import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stdout)\n'
            'from iso15118_ev.transport.link import resolve_interface, PlcInterfaceError\n'
            'try:\n    print("->", resolve_interface(sys.argv[1]))\n'
            'except PlcInterfaceError as exc:\n    print("refused:", exc)\n')
    return subprocess.run(['ip', 'netns', 'exec', netns, sys.executable, '-c', code, name],
                          capture_output=True, text=True, timeout=30, check=True)


@pytest.fixture
def private_veth():
    """Namespace with a veth pair a0/a1 inside it (both up, link-local) and nothing else."""
    netns = f'{SECC_NETNS[:8]}_{uuid.uuid4().hex[:6]}'
    subprocess.run(['ip', 'netns', 'add', netns], check=True)
    try:
        _ip(netns, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'a1')
        for iface in ('a0', 'a1'):
            subprocess.run(['ip', 'netns', 'exec', netns, 'sysctl', '-qw',
                            f'net.ipv6.conf.{iface}.accept_dad=0'], check=True)
            _ip(netns, 'link', 'set', iface, 'up')
        _ip(netns, 'link', 'set', 'lo', 'up')
        deadline = time.monotonic() + 10
        while 'a0' not in (out := _resolve_in(netns, 'a0').stdout) or 'a1' not in \
                _resolve_in(netns, 'a1').stdout or 'refused' in out:
            assert time.monotonic() < deadline, 'no link-local addresses on the veth pair'
            time.sleep(0.2)
        yield netns
    finally:
        subprocess.run(['ip', 'netns', 'del', netns], check=False)


def test_auto_on_a_real_veth_pair(private_veth):
    netns = private_veth
    both = _resolve_in(netns).stdout
    assert 'refused: plc_interface is "auto" but 2 interfaces' in both and 'a0, a1' in both
    _ip(netns, 'addr', 'add', '192.0.2.2/24', 'dev', 'a0')
    _ip(netns, 'route', 'add', 'default', 'via', '192.0.2.1')     # IPv4 uplink on a0
    one = _resolve_in(netns).stdout
    assert '-> a1' in one and 'chose a1' in one and 'a0 carry the default route' in one
    _ip(netns, '-6', 'route', 'add', 'default', 'via', 'fe80::1', 'dev', 'a1')   # IPv6 on a1
    none = _resolve_in(netns).stdout
    assert 'refused:' in none and 'a0, a1 carry the default route' in none
    assert _resolve_in(netns, 'a1').stdout.strip() == '-> a1'   # naming it is explicit
