"""Charger simulator: Plug & Charge behaviour of the `iso15118` package's SECC, made stricter.

Each function replaces one of the package's SECC states by a subclass (the states look each
other up by module-level name when they are entered, so replacing the name is the hook):

- `require_metering_receipts(n)`: ISO 15118-2 CurrentDemandRes / ChargingStatusRes of the n-th
  charge loop of a Contract (PnC) session carry ReceiptRequired=true and the meter's MeterInfo,
  so the SECC then expects a MeteringReceiptReq (the package hard-codes ReceiptRequired=false).
  What the SECC concludes about each MeteringReceiptReq is logged at WARNING:
  "MeteringReceiptReq accepted: signature verified with the contract certificate" or
  "MeteringReceiptReq rejected (FAILED_MeteringSignatureNotValid): <reason>".
- `strict_contract_root()`: ISO 15118-2 PaymentDetailsReq whose contract chain does not verify
  against the charger's MO root is refused with FAILED_CertChainError (the package logs
  "Local chain verification failed. Passing verification to backend." and accepts it); ISO
  15118-20 AuthorizationReq (PnC) whose chain does not verify gets
  WARNING_CertificateValidationError (WARNING_CertificateExpired when expired; the package does
  not look at the chain at all).
- `fix_iso20_pnc()`: ISO 15118-20 fixes: AuthorizationRes keeps WARNING_ChallengeInvalid for a
  wrong GenChallenge (the package's simulated backend overwrites it with OK); a
  CertificateInstallationReq is answered with FAILED (the package raises NotImplementedError
  and drops the connection).
"""
from __future__ import annotations

import logging

logger = logging.getLogger('charger_simulator')

CHARGE_LOOP_RESPONSES = ('CurrentDemandRes', 'ChargingStatusRes')


def _body(message, field: str):
    return getattr(getattr(message, 'body', None), field, None)


def require_metering_receipts(on_loop: int = 2) -> None:
    """ReceiptRequired=true (with MeterInfo) in the `on_loop`-th charge-loop response of each
    ISO 15118-2 Contract session; log what the SECC concludes about the MeteringReceiptReq."""
    from iso15118.secc.states import iso15118_2_states as secc2
    from iso15118.shared.messages.enums import AuthEnum

    def receipt_wanted(state) -> bool:
        session = state.comm_session
        session.receipt_loops = getattr(session, 'receipt_loops', 0) + 1
        return (session.receipt_loops == on_loop
                and session.selected_auth_option == AuthEnum.PNC_V2)

    def with_receipt(state_class):
        class ReceiptRequiring(state_class):
            async def process_message(self, message, message_exi=None):
                self.meter_info = None
                if _body(message, state_class.request_field) and receipt_wanted(self):
                    self.meter_info = await self.comm_session.evse_controller.get_meter_info_v2()
                await super().process_message(message, message_exi)

            def create_next_message(self, next_state, next_msg, *rest, **kwargs):
                if self.meter_info and type(next_msg).__name__ in CHARGE_LOOP_RESPONSES:
                    next_msg = next_msg.copy(update={'receipt_required': True,
                                                     'meter_info': self.meter_info})
                    self.comm_session.sent_meter_info = self.meter_info
                    next_state = secc2.MeteringReceipt
                    logger.warning('%s of charge loop %d: ReceiptRequired with MeterReading %s',
                                   type(next_msg).__name__, self.comm_session.receipt_loops,
                                   self.meter_info.meter_reading)
                return super().create_next_message(next_state, next_msg, *rest, **kwargs)

        ReceiptRequiring.__name__ = ReceiptRequiring.__qualname__ = state_class.__name__
        return ReceiptRequiring

    secc2.CurrentDemand.request_field = 'current_demand_req'
    secc2.ChargingStatus.request_field = 'charging_status_req'
    secc2.CurrentDemand = with_receipt(secc2.CurrentDemand)
    secc2.ChargingStatus = with_receipt(secc2.ChargingStatus)

    class MeteringReceipt(secc2.MeteringReceipt):
        async def process_message(self, message, message_exi=None):
            self.checking_receipt = bool(_body(message, 'metering_receipt_req'))
            await super().process_message(message, message_exi)

        def stop_state_machine(self, reason, faulty_request, response_code, *rest, **kwargs):
            if getattr(self, 'checking_receipt', False):
                logger.warning('MeteringReceiptReq rejected (%s): %s',
                               getattr(response_code, 'value', response_code), reason)
            return super().stop_state_machine(reason, faulty_request, response_code,
                                              *rest, **kwargs)

        def create_next_message(self, next_state, next_msg, *rest, **kwargs):
            if getattr(self, 'checking_receipt', False) \
                    and type(next_msg).__name__ == 'MeteringReceiptRes':
                logger.warning('MeteringReceiptReq accepted: signature verified with the '
                               'contract certificate, MeterInfo is a copy of ours')
            return super().create_next_message(next_state, next_msg, *rest, **kwargs)

    secc2.MeteringReceipt = MeteringReceipt


def contract_chain_error(leaf: bytes, sub_cas) -> tuple:
    """(exception, None) when the contract chain does not verify against the charger's MO root
    (a missing root counts as not verifying), else (None, root path)."""
    from iso15118.shared.security import CertPath, load_cert, verify_certs

    try:
        verify_certs(leaf, list(sub_cas or []), load_cert(CertPath.MO_ROOT_DER))
    except Exception as exc:  # noqa: BLE001 - CertSignatureError, CertExpiredError, missing root
        return exc, None
    return None, CertPath.MO_ROOT_DER


def strict_contract_root() -> None:
    from iso15118.secc.states import iso15118_2_states as secc2
    from iso15118.secc.states import iso15118_20_states as secc20
    from iso15118.shared.exceptions import (CertExpiredError, CertNotYetValidError,
                                            CertSignatureError)
    from iso15118.shared.messages.iso15118_2.datatypes import ResponseCode as CodeV2
    from iso15118.shared.messages.iso15118_20.common_types import ResponseCode as CodeV20

    class PaymentDetails(secc2.PaymentDetails):
        async def process_message(self, message, message_exi=None):
            request = _body(message, 'payment_details_req')
            if request is not None:
                chain = request.cert_chain
                error, _ = contract_chain_error(
                    chain.certificate,
                    chain.sub_certificates.certificates if chain.sub_certificates else [])
                # expiry and the other certificate errors: the package's own answers
                if error is not None and not isinstance(error, (CertExpiredError,
                                                                CertNotYetValidError)):
                    reason = (f'contract chain does not verify against the MO root: '
                              f'{type(error).__name__} {getattr(error, "subject", error)}')
                    logger.warning('PaymentDetailsReq refused (FAILED_CertChainError): %s',
                                   reason)
                    self.stop_state_machine(reason, message, CodeV2.FAILED_CERT_CHAIN_ERROR)
                    return
            await super().process_message(message, message_exi)

    secc2.PaymentDetails = PaymentDetails

    previous = secc20.Authorization

    class Authorization(previous):
        def chain_warning(self, request):
            params = getattr(request, 'pnc_params', None)
            if params is None:
                return None
            chain = params.contract_cert_chain
            sub_cas = chain.sub_certificates.certificates if chain.sub_certificates else []
            error, _ = contract_chain_error(chain.certificate, sub_cas)
            if error is None:
                return None
            code = (CodeV20.WARN_CERT_EXPIRED if isinstance(error, CertExpiredError) else
                    CodeV20.WARN_CERT_NOT_YET_VALID if isinstance(error, CertNotYetValidError)
                    else CodeV20.WARN_CERT_VALIDATION_ERROR)
            kind = 'signature' if isinstance(error, CertSignatureError) else type(error).__name__
            logger.warning('AuthorizationReq: contract chain does not verify against the MO '
                           'root (%s): %s', kind, code.value)
            return code

        async def process_message(self, message, message_exi=None):
            self.chain_code = self.chain_warning(message)
            await super().process_message(message, message_exi)

        def create_next_message(self, next_state, next_msg, *rest, **kwargs):
            if getattr(self, 'chain_code', None) and type(next_msg).__name__ == \
                    'AuthorizationRes' and next_msg.response_code == CodeV20.OK:
                next_msg.response_code = self.chain_code
            return super().create_next_message(next_state, next_msg, *rest, **kwargs)

    secc20.Authorization = Authorization


def fix_iso20_pnc() -> None:
    from iso15118.secc.states import iso15118_20_states as secc20
    from iso15118.shared.messages.iso15118_20.common_types import ResponseCode

    previous = secc20.Authorization

    class Authorization(previous):
        async def process_message(self, message, message_exi=None):
            params = getattr(message, 'pnc_params', None)
            self.challenge_invalid = bool(
                params is not None and params.gen_challenge != self.comm_session.gen_challenge)
            await super().process_message(message, message_exi)

        def create_next_message(self, next_state, next_msg, *rest, **kwargs):
            if getattr(self, 'challenge_invalid', False) \
                    and type(next_msg).__name__ == 'AuthorizationRes' \
                    and next_msg.response_code == ResponseCode.OK:
                next_msg.response_code = ResponseCode.WARN_CHALLENGE_INVALID
                logger.warning('AuthorizationReq: GenChallenge is not ours: %s',
                               ResponseCode.WARN_CHALLENGE_INVALID.value)
            return super().create_next_message(next_state, next_msg, *rest, **kwargs)

    class CertificateInstallation(secc20.CertificateInstallation):
        async def process_message(self, message, message_exi=None):
            self.stop_state_machine('ISO 15118-20 CertificateInstallation is not implemented '
                                    'by the iso15118 package', message, ResponseCode.FAILED)

    secc20.Authorization = Authorization
    secc20.CertificateInstallation = CertificateInstallation
