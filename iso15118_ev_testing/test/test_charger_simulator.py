"""The charger simulator's options: argument checks, the discharge model and SDP answers."""
from __future__ import annotations

import asyncio
import ipaddress
import socket

import pytest

from iso15118_ev_testing.charger_simulator import make_controller, parse_args


@pytest.mark.parametrize('argv', [
    ['--tls13'], ['--tls', '--tls-untrusted'], ['--delay-after-loops', '3'],
    ['--sdp-answers-then-real', '2'], ['--sdp-address', '10.0.0.1'],
    ['--din-evse-id', 'XY'], ['--din-evse-id', '00' * 33]])
def test_rejected_arguments(argv):
    with pytest.raises(SystemExit):
        parse_args(argv)


def test_din_evse_id_is_upper_case_hex():
    assert parse_args(['--din-evse-id', '44452a50']).din_evse_id == '44452A50'


def test_discharge_after_stop_halves_the_voltage_per_report():
    from iso15118.shared.messages.enums import Protocol

    controller = make_controller(parse_args(['--discharge-after-stop']))
    controller.voltage = 500.0

    async def reports():
        await controller.stop_charger()
        return [(await controller.get_evse_present_voltage(Protocol.DIN_SPEC_70121))
                .get_decimal_value() for _ in range(4)]

    assert asyncio.run(reports()) == pytest.approx([250, 125, 62.5, 31.2])


def sdp_answers(interface: str, count: int) -> list:
    """The addresses `count` SDP requests on `interface` are answered with."""
    index = socket.if_nametoindex(interface)
    request = bytes([0x01, 0xFE, 0x90, 0x00, 0, 0, 0, 2, 0x10, 0x00])  # no TLS, TCP
    answers = []
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, index)
        sock.settimeout(0.5)
        for _ in range(20 * count):  # the charger's UDP server may still be starting
            sock.sendto(request, ('ff02::1', 15118, 0, index))
            try:
                answer = sock.recv(100)
            except socket.timeout:
                continue
            answers.append(str(ipaddress.IPv6Address(answer[8:24])))
            if len(answers) == count:
                break
    return answers


def test_sdp_answers_announce_another_address_first(plc_link, charger):
    proc = charger('ISO_15118_2', '--sdp-address', '2001:db8::1',
                   '--sdp-answers-then-real', '2')
    first, second, third = sdp_answers(plc_link, 3)
    assert first == second == '2001:db8::1'
    assert ipaddress.IPv6Address(third).is_link_local, proc.log()


@pytest.mark.parametrize('modes, expected', [('EIM PNC', 'EIM,PNC'), ('pnc', 'PNC'),
                                             ('PNC,EIM,PNC', 'PNC,EIM')])
def test_auth_modes_by_commas_or_spaces(modes, expected):
    assert parse_args(['--auth-modes', modes]).auth_modes == expected


@pytest.mark.parametrize('modes', ['', 'EIM,CARD'])
def test_unknown_auth_modes_are_rejected(modes):
    with pytest.raises(SystemExit):
        parse_args(['--auth-modes', modes])


def test_plug_and_charge_charger_starts_and_answers(plc_link, charger, pki):
    proc = charger('ISO_15118_2,ISO_15118_20_DC', '--tls', '--tls13', '--pki', pki,
                   '--auth-modes', 'EIM PNC', '--sales-tariff', '--receipt-required',
                   '--strict-contract-root', '--tamper-signature', 'CertificateInstallationRes')
    (answer,) = sdp_answers(plc_link, 1)
    assert ipaddress.IPv6Address(answer).is_link_local, proc.log()
    assert proc.proc.poll() is None, proc.log()
