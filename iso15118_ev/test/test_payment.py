"""The EV's payment decision (protocol/payment.py) over what the charger offers and what the
EV's identity holds, with real identities from the test PKI."""
from __future__ import annotations

import pytest

from iso15118_ev.protocol.context import SessionEnd
from iso15118_ev.protocol.payment import INSTALL, UPDATE, Payment
from iso15118_ev.security.identity import EvIdentity
from iso15118_ev.vocabulary import CONTRACT, EXTERNAL_PAYMENT, EndReason

BOTH = (CONTRACT, EXTERNAL_PAYMENT)
YEARS_10_S = 10 * 365 * 86400.0


def payment(ev_pki, contract='valid', enforce=True, **kwargs) -> Payment:
    return Payment(CONTRACT, enforce, EvIdentity.load(ev_pki(contract)), **kwargs)


@pytest.mark.parametrize('contract, installation, update_within, expected', [
    ('valid', True, 0.0, (CONTRACT, None)),
    ('valid', False, YEARS_10_S, (CONTRACT, UPDATE)),
    ('none', True, 0.0, (CONTRACT, INSTALL)),
    ('expired', True, 0.0, (CONTRACT, INSTALL)),
])
def test_contract_and_what_it_needs(ev_pki, contract, installation, update_within, expected):
    chosen = payment(ev_pki, contract, update_within_s=update_within)
    assert chosen.choose(BOTH, installation, update_offered=True) == expected
    assert chosen.used == CONTRACT and chosen.offered == BOTH


def test_forced_installation_with_a_valid_contract(ev_pki):
    assert payment(ev_pki, force_installation=True).choose(BOTH, True) == (CONTRACT, INSTALL)


@pytest.mark.parametrize('contract, offered, installation, reason, words', [
    ('none', BOTH, False, EndReason.SECURITY_ERROR, 'offers no certificate installation'),
    ('expired', BOTH, False, EndReason.SECURITY_ERROR, 'expired'),
    ('valid', (EXTERNAL_PAYMENT,), True, EndReason.AUTHORIZATION_FAILED, 'does not offer'),
])
def test_enforced_contract_that_cannot_be_used_ends_the_session(ev_pki, contract, offered,
                                                                installation, reason, words):
    with pytest.raises(SessionEnd) as end:
        payment(ev_pki, contract).choose(offered, installation)
    assert end.value.outcome.reason == reason and words in end.value.outcome.message


@pytest.mark.parametrize('contract, offered, installation', [
    ('none', BOTH, False), ('expired', BOTH, False), ('valid', (EXTERNAL_PAYMENT,), True)])
def test_without_enforce_the_ev_pays_externally(ev_pki, contract, offered, installation):
    chosen = payment(ev_pki, contract, enforce=False)
    assert chosen.choose(offered, installation) == (EXTERNAL_PAYMENT, None)
    assert chosen.used == EXTERNAL_PAYMENT


def test_no_fallback_where_the_charger_offers_only_contract(ev_pki):
    with pytest.raises(SessionEnd):
        payment(ev_pki, 'none', enforce=False).choose((CONTRACT,), False)


def test_iso20_says_why_there_is_no_installation(ev_pki):
    with pytest.raises(SessionEnd) as end:
        payment(ev_pki, 'none').choose(BOTH, False, no_installation='not in -20 here')
    assert 'not in -20 here' in end.value.outcome.message


def test_external_payment_wanted_but_only_contract_offered():
    with pytest.raises(SessionEnd) as end:
        Payment().choose((CONTRACT,), True)
    assert end.value.outcome.reason == EndReason.AUTHORIZATION_FAILED


@pytest.mark.parametrize('enforce', [True, False])
def test_protocol_without_plug_and_charge(ev_pki, enforce):
    chosen = payment(ev_pki, enforce=enforce)
    if enforce:
        with pytest.raises(SessionEnd) as end:
            chosen.external_only('DIN has none')
        assert end.value.outcome.reason == EndReason.AUTHORIZATION_FAILED
    else:
        chosen.external_only('DIN has none')
        assert chosen.used == EXTERNAL_PAYMENT
