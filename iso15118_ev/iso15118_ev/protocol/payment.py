"""How the EV pays in a session: Plug & Charge with its contract certificate, or external
payment (EIM), and what the contract needs first (installation or update).

The choice follows what the charger offers and what the EV holds. Wanting Contract, the EV
uses its contract certificate when it is valid; without one (or with one that is expired, not
yet valid or not issued under a root the EV trusts) it installs a new one where the charger
offers the certificate service and the EV has its OEM provisioning certificate, and renews one
that expires within `update_within_s`. When Contract cannot be used, `enforce` decides: the
session ends, naming why, or the EV falls back to external payment where the charger offers it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from ..security.certificates import CertChain, expires_within
from ..security.identity import EvIdentity
from ..vocabulary import CONTRACT, EXTERNAL_PAYMENT, EndReason
from .context import SessionEnd

logger = logging.getLogger(__name__)

INSTALL, UPDATE = 'install', 'update'
# The EV renews its contract certificate when it expires within this (ISO 15118-2 leaves
# the threshold to the EV).
UPDATE_WITHIN_S = 14 * 24 * 3600.0


@dataclass
class Payment:
    """One session's payment wishes, and the identity that serves them."""

    wanted: str = EXTERNAL_PAYMENT           # CONTRACT or EXTERNAL_PAYMENT
    enforce: bool = False
    identity: Optional[EvIdentity] = None     # needed for CONTRACT
    force_installation: bool = False          # install a contract even when one is valid
    update_within_s: float = UPDATE_WITHIN_S
    used: str = ''                            # the method chosen in this session
    no_installation: str = ''
    offered: Tuple[str, ...] = ()             # the payment methods the charger offered

    def choose(self, offered: Sequence[str], installation_offered: bool,
               update_offered: bool = False,
               no_installation: Optional[str] = None) -> Tuple[str, Optional[str]]:
        """(payment method, INSTALL / UPDATE / None) for a charger offering the payment
        methods `offered` and the certificate services; SessionEnd when Contract is insisted
        on and cannot be used. `no_installation` says why there is no installation, where it
        is not the charger's doing."""
        self.no_installation = no_installation or 'the charger offers no certificate installation'
        self.offered = tuple(offered)
        method, action = self._choice(offered, installation_offered, update_offered)
        self.used = method
        return method, action

    def _choice(self, offered, installation_offered, update_offered):
        if self.wanted != CONTRACT:
            return self._external(offered, 'the EV asked for external payment')
        try:
            return CONTRACT, self._certificate_action(offered, installation_offered,
                                                      update_offered)
        except SessionEnd as end:
            if self.enforce or EXTERNAL_PAYMENT not in offered:
                raise
            logger.warning('Plug & Charge is not possible (%s): falling back to external '
                           'payment', end.outcome.message)
            return EXTERNAL_PAYMENT, None

    def external_only(self, why: str) -> None:
        """A protocol without Plug & Charge: Contract, if insisted on, ends the session."""
        if self.wanted == CONTRACT:
            if self.enforce:
                raise SessionEnd(EndReason.AUTHORIZATION_FAILED,
                                 f'Plug & Charge is enforced, but {why}')
            logger.warning('%s: external payment instead of Contract', why)
        self.used = EXTERNAL_PAYMENT

    def _external(self, offered: Sequence[str], why: str) -> Tuple[str, None]:
        if EXTERNAL_PAYMENT not in offered:
            raise SessionEnd(EndReason.AUTHORIZATION_FAILED,
                             f'{why}, but the charger offers only {list(offered)}')
        return EXTERNAL_PAYMENT, None

    def _certificate_action(self, offered, installation_offered, update_offered):
        if CONTRACT not in offered:
            raise SessionEnd(EndReason.AUTHORIZATION_FAILED,
                             f'the charger does not offer Plug & Charge (it offers '
                             f'{list(offered)})')
        identity = self.identity
        problem = identity.contract_problem()
        if problem is None and not self.force_installation:
            if update_offered and expires_within(identity.contract_chain.leaf,
                                                 self.update_within_s):
                return UPDATE
            return None
        why = 'installation forced' if problem is None else str(problem)
        if not installation_offered:
            raise SessionEnd(EndReason.SECURITY_ERROR,
                             f'no usable contract certificate ({why}) and '
                             f'{self.no_installation}')
        if identity.oem_chain is None or identity.oem_key is None:
            raise SessionEnd(EndReason.SECURITY_ERROR,
                             f'no usable contract certificate ({why}) and no OEM provisioning '
                             f'certificate and key in {identity.pki_path} to install one')
        logger.info('contract certificate: %s; installing a new one', why)
        return INSTALL

    @property
    def contract(self) -> CertChain:
        return self.identity.contract_chain
