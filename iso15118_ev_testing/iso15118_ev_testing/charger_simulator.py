"""The built-in charger simulator: the `iso15118` package's SECC, with a DC power-supply model.

The SECC state machine and messages are the package's own. Its stock simulated EVSE reports
1 V / 1 A forever and tiny limits, which no EV can pre-charge against; here the EVSE's present
voltage and current follow the EV's targets like a real power module (ramped, within limits).
Optionally it asks the EV to stop or pause after a number of charge loops, and it can be a
more demanding peer: unusual but valid messages (charger_messages), transport faults for timing
tests (charger_transport), ISO 15118-20 over TLS 1.3 and an untrusted charger certificate.

Run in the charger's network namespace, e.g.:
    charger_simulator --netns iso15118_secc --interface secc0 --protocols ISO_15118_2

Plug & Charge (--tls --pki PKI --auth-modes EIM,PNC or PNC; a PKI from make_test_pki). What the
package's SECC then does, from that one PKI folder (it holds every actor's keys):
  ISO 15118-2 (PnC is only offered over TLS):
  - ServiceDiscoveryRes: PaymentOptionList Contract (and ExternalPayment with EIM); ServiceList
    the Certificate service (ServiceID 2, free; ServiceDetailRes: parameter set 1
    Service=Installation), as certificate installation is allowed (ALLOW_CERT_INSTALL_SERVICE).
  - CertificateInstallationReq: verifies its header signature with the OEM provisioning
    certificate in it (chain to the PKI's OEM sub-CAs and root when present; on failure
    FAILED_SignatureError); then builds CertificateInstallationRes itself: the PKI's contract
    certificate with MO sub-CAs 2 and 1 (Id id1), the PKI's contract key ECDH-encrypted to the
    PKI's OEM leaf certificate (Id id2, DHpublickey Id id3), the eMAID = the contract's CN
    (Id id4), the CPS leaf and sub-CAs; signed (ids 1-4) with the CPS leaf key. Errors
    building it: FAILED_NoCertificateAvailable.
  - PaymentDetailsReq: verifies the contract chain against the PKI's MO root; expired or not
    yet valid: FAILED_CertificateExpired; a chain that does not verify: the package accepts
    it ("Passing verification to backend"), --strict-contract-root refuses it
    (FAILED_CertChainError). Answers a 16-octet GenChallenge.
  - AuthorizationReq: wrong GenChallenge: FAILED_ChallengeInvalid; header signature checked
    with the contract certificate of PaymentDetailsReq: FAILED_SignatureError.
  - ChargeParameterDiscoveryRes: with --sales-tariff a SalesTariff (Id id1), signed (header
    Signature, Reference #id1) with the PKI's MO sub-CA 2 key (unsigned without --pki).
  - MeteringReceiptReq (--receipt-required): header signature checked with the contract
    certificate, MeterInfo must be the one sent; else FAILED_MeteringSignatureNotValid.
  ISO 15118-20: AuthorizationSetupRes offers PnC (PnC_ASResAuthorizationMode with a
  GenChallenge; EIM listed but without its element) and CertificateInstallation=true;
  AuthorizationReq: the PnC_AReqAuthorizationMode signature is checked with the contract leaf
  (FAILED_SignatureError), its chain only with --strict-contract-root (WARNING_Certificate...);
  a wrong GenChallenge gets WARNING_ChallengeInvalid (patched here: the package answers OK);
  CertificateInstallationReq gets FAILED (the package has none; patched here, it crashed).
  --tls13 makes the TLS 1.3 server demand the EV's OEM chain (mutual authentication).
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import socket
import sys
import tempfile
from pathlib import Path
from typing import Optional

PROTOCOL_NAMES = ('DIN_SPEC_70121', 'ISO_15118_2', 'ISO_15118_20_AC', 'ISO_15118_20_DC')
# What the package's TLS server loads: the charger's certificate chain, its key, the password.
SECC_TLS_FILES = ('certs/cpoCertChain.pem', 'private_keys/seccLeaf.key',
                  'private_keys/seccLeafPassword.txt')

logger = logging.getLogger('charger_simulator')


def strip_ros_args(argv) -> list:
    """The arguments without ROS's: each `--ros-args` up to the matching `--` or the end
    (as rclpy.utilities.remove_ros_args; launch_ros appends them to every Node's command)."""
    kept, inside = [], False
    for arg in argv:
        if inside:
            inside = arg != '--'
        elif arg == '--ros-args':
            inside = True
        else:
            kept.append(arg)
    return kept


def parse_args(argv=None) -> argparse.Namespace:
    argv = strip_ros_args(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--interface', default='secc0', help='PLC interface of the charger')
    parser.add_argument('--netns', default='', help='network namespace to run in (needs root)')
    parser.add_argument('--protocols', default=','.join(PROTOCOL_NAMES),
                        help='comma-separated protocols the charger accepts')
    parser.add_argument('--tls', action='store_true', help='enforce TLS (needs --pki)')
    parser.add_argument('--tls13', action='store_true',
                        help='with --tls: offer TLS 1.3 (as ISO 15118-20 needs) besides 1.2; the '
                             'charger then requires the EV\'s OEM certificate chain (mutual '
                             'authentication against the PKI\'s OEM root), also for -2 EVs')
    parser.add_argument('--tls-untrusted', action='store_true',
                        help='with --tls: present a charger certificate chain from another V2G '
                             'root, which the EV must reject (made once in PKI/untrusted)')
    parser.add_argument('--pki', default='', help='PKI folder (see make_test_pki) for TLS / PnC')
    parser.add_argument('--auth-modes', default='EIM', type=auth_modes,
                        help='EIM and/or PNC, separated by commas or spaces (PNC: -2 offers it '
                             'only over TLS; both need --pki for it)')
    parser.add_argument('--max-voltage', type=float, default=920.0, help='V')
    parser.add_argument('--max-current', type=float, default=200.0, help='A (DC)')
    parser.add_argument('--max-power', type=float, default=150000.0, help='W (DC)')
    parser.add_argument('--ramp', type=float, default=0.5,
                        help='fraction of the way to the EV target covered per message')
    parser.add_argument('--stop-after-loops', type=int, default=0,
                        help='ask the EV to stop after this many charge loops (0: never)')
    parser.add_argument('--pause-after-loops', type=int, default=0,
                        help='ask the EV to pause after this many charge loops (-20 only; 0: never)')
    parser.add_argument('--offer-j2847', action='store_true',
                        help='offer SAE J2847/2 V2H (28472) and V2G (28473) in ISO 15118-2')
    parser.add_argument('--discharge-after-stop', action='store_true',
                        help='DC: after PowerDelivery Stop the output discharges: each '
                             'WeldingDetectionRes reports half the previous present voltage')
    messages = parser.add_argument_group('unusual but valid messages')
    messages.add_argument('--schedule-without-price', action='store_true',
                          help='ISO 15118-20 Scheduled mode: schedules without a price schedule')
    messages.add_argument('--din-tuple-id-zero', action='store_true',
                          help='DIN: offer SAScheduleTupleID 0; log the ID each PowerDeliveryReq '
                               'carries ("EV PowerDeliveryReq SAScheduleTupleID=..." at WARNING)')
    messages.add_argument('--din-evse-id', type=evse_id, metavar='HEX',
                          help='DIN: the EVSEID of SessionSetupRes, 1 to 32 octets in hex, e.g. '
                               '44452A504E582A4531323334352A312A31 (17 octets)')
    pnc = parser.add_argument_group('Plug & Charge (see above)')
    pnc.add_argument('--tamper-signature', metavar='MESSAGE',
                     help='flip one bit of the header SignatureValue of this outgoing response '
                          '(e.g. CertificateInstallationRes, ChargeParameterDiscoveryRes), '
                          'logged "MESSAGE sent with a tampered SignatureValue" at WARNING')
    pnc.add_argument('--sales-tariff', action='store_true',
                     help='ISO 15118-2 ChargeParameterDiscoveryRes carries a SalesTariff (Id '
                          'id1), which the SECC signs with the MO sub-CA 2 key of --pki; logged '
                          '"ChargeParameterDiscoveryRes: SalesTariff Id=id1 signed (Reference '
                          '#id1)". Without it: no SalesTariff (the package\'s default has one)')
    pnc.add_argument('--receipt-required', type=int, nargs='?', const=2, default=0, metavar='N',
                     help='ISO 15118-2 Contract sessions: the N-th (default 2nd) CurrentDemandRes'
                          ' / ChargingStatusRes has ReceiptRequired=true and MeterInfo; the SECC '
                          'checks the MeteringReceiptReq and logs "MeteringReceiptReq accepted: '
                          '..." or "MeteringReceiptReq rejected (...): reason" at WARNING')
    pnc.add_argument('--no-cert-install', action='store_true',
                     help='do not offer certificate installation (-2: no Certificate service '
                          'in ServiceDiscoveryRes; -20: CertificateInstallationService false)')
    pnc.add_argument('--strict-contract-root', action='store_true',
                     help='refuse a contract chain that does not verify against the MO root: '
                          '-2 PaymentDetailsRes FAILED_CertChainError, -20 AuthorizationRes '
                          'WARNING_CertificateValidationError (the package accepts it)')
    faults = parser.add_argument_group(
        'transport faults (charge-loop requests are counted per TCP session, the first is 1)')
    faults.add_argument('--freeze-after-loops', type=int, default=0, metavar='N',
                        help='from the N-th charge-loop request on, answer nothing but keep the '
                             'TCP connection open (until the EV closes it)')
    faults.add_argument('--delay-after-loops', type=int, default=0, metavar='N',
                        help='from the N-th charge-loop request on, answer --delay-ms late')
    faults.add_argument('--delay-ms', type=float, default=0.0, metavar='D',
                        help='delay of --delay-after-loops, in ms')
    faults.add_argument('--segment-bytes', type=int, default=0, metavar='K',
                        help='write every TCP response in segments of K bytes (with TLS: '
                             'TLS records of K plaintext bytes)')
    faults.add_argument('--sdp-address', type=ipv6_address, metavar='ADDR',
                        help='SDP responses announce this IPv6 address instead of the '
                             'charger\'s (e.g. ::1 or 2001:db8::1)')
    faults.add_argument('--sdp-answers-then-real', type=int, default=0, metavar='N',
                        help='with --sdp-address: only the first N SDP responses announce '
                             'ADDR, later ones the real address (0: all)')
    parser.add_argument('--log-level', default='WARNING')
    args = parser.parse_args(argv)
    for used, needed, message in (
            (args.tls13 or args.tls_untrusted, args.tls and args.pki,
             '--tls13 and --tls-untrusted need --tls and --pki'),
            (args.delay_after_loops, args.delay_ms, '--delay-after-loops needs --delay-ms'),
            (args.sdp_answers_then_real, args.sdp_address,
             '--sdp-answers-then-real needs --sdp-address')):
        if used and not needed:
            parser.error(message)
    return args


def evse_id(text: str) -> str:
    """A DIN EVSEID (evseIDType: hexBinary, at most 32 octets), as upper-case hex."""
    try:
        octets = bytes.fromhex(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f'{text!r} is not hex') from None
    if not 1 <= len(octets) <= 32:
        raise argparse.ArgumentTypeError(f'{len(octets)} octets; DIN allows 1 to 32')
    return octets.hex().upper()


def auth_modes(text: str) -> str:
    """EIM and/or PNC, separated by commas or spaces; as the package reads them (EIM,PNC)."""
    modes = [mode.upper() for mode in text.replace(',', ' ').split()]
    unknown = set(modes) - {'EIM', 'PNC'}
    if not modes or unknown:
        raise argparse.ArgumentTypeError(f'{text!r}: EIM and/or PNC')
    return ','.join(dict.fromkeys(modes))


def ipv6_address(text: str) -> str:
    try:
        socket.inet_pton(socket.AF_INET6, text)
    except OSError:
        raise argparse.ArgumentTypeError(f'{text!r} is not an IPv6 address') from None
    return text


def reexec_in_netns(args: argparse.Namespace) -> None:
    """Run this same program again inside the namespace (ip netns exec)."""
    argv = strip_ros_args(sys.argv[1:])
    i = argv.index('--netns') if '--netns' in argv else None
    if i is not None:
        del argv[i:i + 2]
    else:
        argv = [a for a in argv if not a.startswith('--netns=')]
    ip = shutil.which('ip') or '/usr/sbin/ip'
    os.execv(ip, [ip, 'netns', 'exec', args.netns, sys.executable, '-m',
                  'iso15118_ev_testing.charger_simulator', *argv])


def make_controller(args: argparse.Namespace):
    from iso15118.secc.controller.simulator import SimEVSEController
    from iso15118.shared.messages.datatypes import (PVEVSEMaxCurrentLimit,
                                                    PVEVSEMaxPowerLimit,
                                                    PVEVSEMaxVoltageLimit)
    from iso15118.shared.messages.enums import Protocol
    from iso15118.shared.messages.datatypes import EVSENotification as NoteV2
    from iso15118.shared.messages.iso15118_20.common_types import (
        EVSENotification as NoteV20, EVSEStatus)

    from .charger_transport import CHARGE_LOOP_STATES

    def pv(cls, value, unit):
        exponent, mantissa = cls.get_exponent_value_repr(value)
        return cls(multiplier=exponent, value=mantissa, unit=unit)

    class PowerSupplyEVSEController(SimEVSEController):
        """Present voltage/current approach the EV's targets; optional stop/pause requests."""

        def __init__(self):
            super().__init__()
            self.charge_loops = 0
            self.voltage = 0.0
            self.current = 0.0
            self.discharging = False

        async def set_present_protocol_state(self, state):
            if str(state) in CHARGE_LOOP_STATES:
                self.charge_loops += 1
            elif str(state) in ('SessionSetup', 'SupportedAppProtocol', 'PowerDelivery'):
                # a new (or resumed) session starts, or power delivery starts/stops: no current
                self.current = self.evse_data_context.present_current = 0.0
                if str(state) != 'PowerDelivery':
                    self.charge_loops = 0
                    self.discharging = False
                    self.voltage = self.evse_data_context.present_voltage = 0.0

        async def stop_charger(self):
            """PowerDelivery Stop (or the session's end): the power module turns off."""
            self.discharging = args.discharge_after_stop

        def _wanted(self, loops: int) -> bool:
            return 0 < loops <= self.charge_loops

        def _follow_targets(self):
            if self.discharging:  # the output capacitance discharges through its bleeder
                self.voltage /= 2
                self.current = 0.0
            else:
                ev = self.ev_data_context
                target_v = min(float(ev.target_voltage or 0.0), args.max_voltage)
                target_i = min(float(ev.target_current or 0.0), args.max_current,
                               args.max_power / max(target_v, 1.0))
                self.voltage += args.ramp * (target_v - self.voltage)
                self.current += args.ramp * (target_i - self.current)
            self.evse_data_context.present_voltage = round(self.voltage, 1)
            self.evse_data_context.present_current = round(self.current, 1)

        async def get_evse_present_voltage(self, protocol: Protocol):
            self._follow_targets()
            return await super().get_evse_present_voltage(protocol)

        async def get_dc_evse_status(self):
            status = await super().get_dc_evse_status()
            if self._wanted(args.stop_after_loops):
                status = status.copy(update={'evse_notification': NoteV2.STOP_CHARGING})
            return status

        async def get_ac_evse_status(self):
            status = await super().get_ac_evse_status()
            if self._wanted(args.stop_after_loops):
                status = status.copy(update={'evse_notification': NoteV2.STOP_CHARGING})
            return status

        async def get_evse_status(self) -> Optional[EVSEStatus]:
            if self._wanted(args.stop_after_loops):
                return EVSEStatus(notification_max_delay=0, evse_notification=NoteV20.TERMINATE)
            if self._wanted(args.pause_after_loops):
                return EVSEStatus(notification_max_delay=0, evse_notification=NoteV20.PAUSE)
            return await super().get_evse_status()

        async def get_sa_schedule_list(self, ev_data_context, is_free_charging_service,
                                       max_schedule_entries, departure_time=0):
            """The package's schedule; its SalesTariff (made unless the charging service is
            free) only with --sales-tariff. The SECC signs a SalesTariff it finds here."""
            schedules = await super().get_sa_schedule_list(
                ev_data_context, False if args.sales_tariff else is_free_charging_service,
                max_schedule_entries, departure_time)
            return [schedule if args.sales_tariff else schedule.copy(update={'sales_tariff': None})
                    for schedule in schedules or []] or schedules

        async def get_dc_charge_parameters(self):
            params = await super().get_dc_charge_parameters()
            return params.copy(update={
                'evse_maximum_power_limit': pv(PVEVSEMaxPowerLimit, args.max_power, 'W'),
                'evse_maximum_current_limit': pv(PVEVSEMaxCurrentLimit, args.max_current, 'A'),
                'evse_maximum_voltage_limit': pv(PVEVSEMaxVoltageLimit, args.max_voltage, 'V'),
            })

    return PowerSupplyEVSEController()


def untrusted_pki(trusted: Path) -> Path:
    """`trusted`/untrusted: a copy of the PKI `trusted` whose charger TLS chain comes from
    another V2G root (all else, the OEM root that TLS 1.3 checks the EV against included, is the
    same, so an EV that fails to check the charger's chain gets a working session)."""
    from .pki import create_pki

    destination = trusted / 'untrusted'
    if not (destination / 'iso15118_2' / SECC_TLS_FILES[0]).exists():
        shutil.rmtree(destination, ignore_errors=True)
        shutil.copytree(trusted / 'iso15118_2', destination / 'iso15118_2')
        with tempfile.TemporaryDirectory() as folder:
            other = create_pki(Path(folder) / 'pki')
            for name in SECC_TLS_FILES:
                shutil.copy(other / 'iso15118_2' / name, destination / 'iso15118_2' / name)
    return destination


SAE_J2847_SERVICES = {28472: 'SAE_J2847_2_V2H', 28473: 'SAE_J2847_2_V2G'}


def offer_sae_j2847_services() -> None:
    """Make the package's ISO 15118-2 SECC list and describe the SAE J2847/2 services.

    Its ServiceDiscovery offers only charging and certificates, with no hook for more.
    """
    from iso15118.secc.states import iso15118_2_states as secc2
    from iso15118.shared.messages.enums import Namespace
    from iso15118.shared.messages.iso15118_2.body import ServiceDetailReq, ServiceDetailRes
    from iso15118.shared.messages.iso15118_2.datatypes import (
        Parameter, ParameterSet, ResponseCode, ServiceCategory, ServiceDetails, ServiceList,
        ServiceParameterList)
    from iso15118.shared.messages.timeouts import Timeouts

    get_services = secc2.ServiceDiscovery.get_services

    async def with_sae_services(self, category_filter):
        response = await get_services(self, category_filter)
        services = (response.service_list.services if response.service_list else []) + [
            ServiceDetails(service_id=sid, service_name=name,
                           service_category=ServiceCategory.CUSTOM, free_service=True)
            for sid, name in SAE_J2847_SERVICES.items()]
        response.service_list = ServiceList(services=services)
        self.comm_session.offered_services = services
        return response

    class ServiceDetail(secc2.ServiceDetail):
        async def process_message(self, message, message_exi=None):
            request = getattr(getattr(message, 'body', None), 'service_detail_req', None)
            if not (isinstance(request, ServiceDetailReq)
                    and request.service_id in SAE_J2847_SERVICES):
                return await super().process_message(message, message_exi)
            name = SAE_J2847_SERVICES[request.service_id]
            response = ServiceDetailRes(
                response_code=ResponseCode.OK, service_id=request.service_id,
                service_parameter_list=ServiceParameterList(parameter_set=[ParameterSet(
                    parameter_set_id=1, parameters=[Parameter(name='Service', str_value=name)])]))
            self.create_next_message(None, response, Timeouts.V2G_SECC_SEQUENCE_TIMEOUT,
                                     Namespace.ISO_V2_MSG_DEF)
            self.expecting_service_detail_req = False

    secc2.ServiceDiscovery.get_services = with_sae_services
    secc2.ServiceDetail = ServiceDetail  # looked up by name when the state is entered


async def serve(args: argparse.Namespace) -> None:
    # The package reads its settings (and its log level) from the environment on import.
    if args.pki:
        pki = Path(args.pki).resolve()
        if args.tls_untrusted:
            pki = untrusted_pki(pki)
        os.environ['PKI_PATH'] = os.path.join(pki, '')
    os.environ.update(NETWORK_INTERFACE=args.interface, PROTOCOLS=args.protocols,
                      AUTH_MODES=args.auth_modes, SECC_ENFORCE_TLS=str(args.tls).lower(),
                      ENABLE_TLS_1_3=str(args.tls13).lower(), LOG_LEVEL=args.log_level,
                      ALLOW_CERT_INSTALL_SERVICE=str(not args.no_cert_install).lower())
    from iso15118.secc.controller.interface import ServiceStatus
    from iso15118.secc.secc_settings import Config

    from .charger_messages import MessageEditingCodec
    from .charger_pnc import fix_iso20_pnc, require_metering_receipts, strict_contract_root
    from .charger_transport import ChargerHandler, install_session_faults

    logging.getLogger('iso15118').setLevel(args.log_level)
    config = Config()
    config.load_envs()
    if args.offer_j2847:
        offer_sae_j2847_services()
    fix_iso20_pnc()
    if args.receipt_required:
        require_metering_receipts(args.receipt_required)
    if args.strict_contract_root:
        strict_contract_root()
    if args.freeze_after_loops or args.delay_after_loops or args.segment_bytes:
        install_session_faults(args)
    controller = make_controller(args)
    await controller.set_status(ServiceStatus.STARTING)
    logger.warning('charger simulator on %s: %s', args.interface, args.protocols)
    codec = MessageEditingCodec(schedule_without_price=args.schedule_without_price,
                                din_tuple_id_zero=args.din_tuple_id_zero,
                                din_evse_id=args.din_evse_id,
                                tamper_signature=args.tamper_signature)
    await ChargerHandler(exi_codec=codec, evse_controller=controller, config=config,
                         sdp_address=args.sdp_address,
                         sdp_answers_then_real=args.sdp_answers_then_real).start(config.iface)


def main(argv=None) -> int:
    args = parse_args(argv)
    unknown = set(args.protocols.split(',')) - set(PROTOCOL_NAMES)
    if unknown:
        print(f'unknown protocol(s): {", ".join(sorted(unknown))}; known: {", ".join(PROTOCOL_NAMES)}',
              file=sys.stderr)
        return 2
    if args.netns:
        reexec_in_netns(args)
    logging.basicConfig(level=args.log_level)
    try:
        asyncio.run(serve(args))
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == '__main__':
    sys.exit(main())
