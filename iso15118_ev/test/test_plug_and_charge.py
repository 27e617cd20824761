"""Plug & Charge end to end: library EVs with their own PKI folders against the real charger
simulator (the iso15118 package's SECC, which checks the EV's contract chain and signatures
with the `cryptography` package and the Java EXI codec) over TLS on a veth link."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from iso15118_ev.security.certificates import common_name
from iso15118_ev.security.identity import EvIdentity
from iso15118_ev.session import events as ev
from iso15118_ev.session.ev import Ev
from iso15118_ev.session.settings import EvSettings
from iso15118_ev.vehicle.parameters import StartRequest
from iso15118_ev.vocabulary import ISO2, ISO20_DC, EndReason
from support.timers import relaxed

LOOP_RESPONSES = ('CurrentDemandRes', 'ChargingStatusRes', 'DC_ChargeLoopRes')
CONTRACT_CN = 'UKSWI123456791A'      # create_certs.sh's contract certificate


def run_sessions(iface: str, protocol: str, mode: str, pki_path: str, sessions: int = 1,
                 stop_after_loops: int = 2, enforce: bool = True, timeout: float = 90.0,
                 **settings):
    """`sessions` Contract sessions of one library EV, one after the other; its events."""
    events = []

    async def main():
        finished = asyncio.Queue()
        car = None

        def sink(event):
            events.append(event)
            if isinstance(event, ev.SessionFinished):
                finished.put_nowait(event)
            elif isinstance(event, ev.SessionSnapshot) and event.last_charger_message in \
                    LOOP_RESPONSES and loops(events) == stop_after_loops:
                car.stop_charging()
        car = Ev(EvSettings(plc_interface=iface, protocols=(protocol,), use_tls=True,
                            pki_path=pki_path, timeouts=relaxed(), **settings), sink)
        car.prepare()
        for _ in range(sessions):
            started = car.start_charging(StartRequest.from_fields(
                mode, payment_option='Contract', enforce_payment_option=enforce))
            assert started.success, started.message
            await asyncio.wait_for(finished.get(), timeout)
            events.append('next session')
    asyncio.run(main())
    return events


def loops(events) -> int:
    """Charge loop responses since the last session began."""
    since = events[max((i for i, e in enumerate(events) if e == 'next session'), default=-1) + 1:]
    return sum(1 for e in since if isinstance(e, ev.SessionSnapshot)
               and e.last_charger_message in LOOP_RESPONSES)


def sessions_of(events):
    """Per session: (its SessionFinished, the charger messages it saw, its last snapshot)."""
    out, current = [], []
    for event in events:
        if event == 'next session':
            finished = next(e for e in current if isinstance(e, ev.SessionFinished))
            snapshots = [e for e in current if isinstance(e, ev.SessionSnapshot)]
            seen = [s.last_charger_message for i, s in enumerate(snapshots) if i == 0
                    or s.last_charger_message != snapshots[i - 1].last_charger_message]
            out.append((finished, seen, snapshots[-1], current))
            current = []
        else:
            current.append(event)
    return out


def only_session(events):
    (finished, seen, snapshot, all_events), = sessions_of(events)
    return finished, seen, snapshot, all_events


@pytest.mark.parametrize('mode', ['DC_extended', 'AC_three_phase_core'])
def test_iso2_contract_session_is_authorized(plc_link, charger, pki, ev_pki, mode):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC')
    end, seen, snapshot, _ = only_session(run_sessions(plc_link, ISO2, mode, ev_pki('valid')))
    assert end.reason == EndReason.STOPPED_BY_EV, end.message
    assert 'PaymentDetailsRes' in seen and 'AuthorizationRes' in seen
    assert 'CertificateInstallationRes' not in seen
    assert snapshot.payment_option == 'Contract' and snapshot.emaid == CONTRACT_CN
    assert snapshot.tls


def test_iso2_certificate_installation_then_reuse(plc_link, charger, pki, ev_pki):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC')
    folder = ev_pki('none')
    assert EvIdentity.load(folder).contract_chain is None
    events = run_sessions(plc_link, ISO2, 'DC_extended', folder, sessions=2)
    (first, seen1, snap1, events1), (second, seen2, snap2, _) = sessions_of(events)
    assert first.reason == EndReason.STOPPED_BY_EV, first.message
    assert 'CertificateInstallationRes' in seen1 and 'AuthorizationRes' in seen1
    assert any(isinstance(e, ev.ContractInstalled) and CONTRACT_CN in e.detail for e in events1)
    stored = EvIdentity.load(folder)
    assert stored.contract_chain is not None and stored.contract_problem() is None
    assert common_name(stored.contract_chain.leaf) == CONTRACT_CN
    assert second.reason == EndReason.STOPPED_BY_EV, second.message
    assert 'CertificateInstallationRes' not in seen2 and 'AuthorizationRes' in seen2
    assert snap2.payment_option == 'Contract' and snap2.emaid == CONTRACT_CN


def test_iso20_dc_pnc_over_tls13(plc_link, charger, pki, ev_pki):
    charger(ISO20_DC, '--tls', '--tls13', '--pki', pki, '--auth-modes', 'PNC')
    end, seen, snapshot, _ = only_session(run_sessions(plc_link, ISO20_DC, 'DC',
                                                       ev_pki('valid')))
    assert end.reason == EndReason.STOPPED_BY_EV, end.message
    assert 'AuthorizationRes' in seen and 'DC_ChargeLoopRes' in seen
    assert snapshot.payment_option == 'Contract' and snapshot.emaid == CONTRACT_CN


def test_metering_receipt_is_signed_and_accepted(plc_link, charger, pki, ev_pki):
    simulator = charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC',
                        '--receipt-required', '2')
    end, seen, _, _ = only_session(run_sessions(plc_link, ISO2, 'DC_extended', ev_pki('valid'),
                                                stop_after_loops=4))
    assert end.reason == EndReason.STOPPED_BY_EV, end.message
    assert 'MeteringReceiptRes' in seen
    assert 'MeteringReceiptReq accepted: signature verified' in simulator.log()


def test_signed_sales_tariff_is_verified(plc_link, charger, pki, ev_pki):
    simulator = charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC', '--sales-tariff')
    end, _, _, _ = only_session(run_sessions(plc_link, ISO2, 'DC_extended', ev_pki('valid')))
    assert end.reason == EndReason.STOPPED_BY_EV, end.message
    assert 'SalesTariff Id=id1 signed' in simulator.log()


# --- negative cases ------------------------------------------------------------------------
@pytest.mark.parametrize('message', ['CertificateInstallationRes', 'ChargeParameterDiscoveryRes'])
def test_tampered_charger_signature_is_a_security_error(plc_link, charger, pki, ev_pki, message):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC', '--sales-tariff',
            '--tamper-signature', message)
    folder = ev_pki('none' if message == 'CertificateInstallationRes' else 'valid')
    end, _, _, _ = only_session(run_sessions(plc_link, ISO2, 'DC_extended', folder))
    assert end.reason == EndReason.SECURITY_ERROR, end.message
    assert message in end.message and 'SignatureValue' in end.message
    if message == 'CertificateInstallationRes':
        assert EvIdentity.load(folder).contract_chain is None   # nothing stored


def test_expired_contract_without_installation_is_a_security_error(plc_link, charger, pki,
                                                                   ev_pki):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC', '--no-cert-install')
    end, _, _, _ = only_session(run_sessions(plc_link, ISO2, 'DC_extended', ev_pki('expired')))
    assert end.reason == EndReason.SECURITY_ERROR, end.message
    assert 'expired' in end.message and CONTRACT_CN in end.message


def test_expired_contract_falls_back_to_external_payment(plc_link, charger, pki, ev_pki):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'EIM,PNC', '--no-cert-install')
    end, seen, snapshot, _ = only_session(run_sessions(
        plc_link, ISO2, 'DC_extended', ev_pki('expired'), enforce=False))
    assert end.reason == EndReason.STOPPED_BY_EV, end.message
    assert snapshot.payment_option == 'ExternalPayment' and snapshot.emaid == ''
    assert 'PaymentDetailsRes' not in seen


def test_expired_contract_is_replaced_by_installation(plc_link, charger, pki, ev_pki):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC')
    folder = ev_pki('expired')
    end, seen, _, _ = only_session(run_sessions(plc_link, ISO2, 'DC_extended', folder))
    assert end.reason == EndReason.STOPPED_BY_EV, end.message
    assert 'CertificateInstallationRes' in seen
    assert EvIdentity.load(folder).contract_problem() is None


@pytest.mark.parametrize('enforce', [True, False])
def test_contract_from_another_root_is_refused_by_a_strict_charger(plc_link, charger, pki,
                                                                   ev_pki, enforce):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'EIM,PNC', '--strict-contract-root')
    end, seen, snapshot, _ = only_session(run_sessions(
        plc_link, ISO2, 'DC_extended', ev_pki('foreign'), enforce=enforce))
    if enforce:
        assert end.reason == EndReason.AUTHORIZATION_FAILED, end.message
        assert 'FAILED_CertChainError' in end.message and 'PaymentDetailsRes' in end.message
    else:   # a second session, with external payment
        assert end.reason == EndReason.STOPPED_BY_EV, end.message
        assert seen.count('SessionSetupRes') == 2
        assert seen.count('PaymentServiceSelectionRes') == 2
        assert snapshot.payment_option == 'ExternalPayment'


def test_untrusted_charger_certificate_ends_a_contract_session(plc_link, charger, pki, ev_pki):
    charger(ISO2, '--tls', '--pki', pki, '--auth-modes', 'PNC', '--tls-untrusted')
    end, _, _, _ = only_session(run_sessions(plc_link, ISO2, 'DC_extended', ev_pki('valid')))
    assert end.reason == EndReason.SECURITY_ERROR, end.message
    assert 'certificate' in end.message


def test_broken_identity_is_refused_at_start(tmp_path, plc_link, ev_pki):
    folder = Path(ev_pki('valid'))
    (folder / 'iso15118_2' / 'private_keys' / 'contractLeafPassword.txt').write_text('wrong\n')
    results = []

    async def main():
        car = Ev(EvSettings(plc_interface=plc_link, pki_path=str(folder)), lambda e: None)
        results.append(car.start_charging(StartRequest.from_fields(
            'DC_extended', payment_option='Contract')))
        results.append(Ev(EvSettings(plc_interface=plc_link), lambda e: None).start_charging(
            StartRequest.from_fields('DC_extended', payment_option='Contract')))
    asyncio.run(main())
    wrong_password, no_pki = results
    assert not wrong_password.success and 'contractLeaf.key' in wrong_password.message
    assert not no_pki.success and 'pki_path' in no_pki.message


def test_iso20_contract_from_another_root_is_refused_by_a_strict_charger(plc_link, charger, pki,
                                                                         ev_pki):
    charger(ISO20_DC, '--tls', '--tls13', '--pki', pki, '--auth-modes', 'PNC',
            '--strict-contract-root')
    end, seen, _, _ = only_session(run_sessions(plc_link, ISO20_DC, 'DC', ev_pki('foreign')))
    assert end.reason == EndReason.AUTHORIZATION_FAILED, end.message
    assert 'WARNING_CertificateValidationError' in end.message
    assert seen[-1] == 'SessionStopRes'     # the session was stopped in order
