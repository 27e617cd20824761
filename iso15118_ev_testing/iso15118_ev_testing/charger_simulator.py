"""The built-in charger simulator: the `iso15118` package's SECC, with a DC power-supply model.

The SECC state machine and messages are the package's own. Its stock simulated EVSE reports
1 V / 1 A forever and tiny limits, which no EV can pre-charge against; here the EVSE's present
voltage and current follow the EV's targets like a real power module (ramped, within limits).
Optionally it asks the EV to stop or pause after a number of charge loops, for tests.

Run in the charger's network namespace, e.g.:
    charger_simulator --netns iso15118_secc --interface secc0 --protocols ISO_15118_2
"""
from __future__ import annotations

import argparse
import asyncio
import logging
import os
import shutil
import sys
from typing import Optional

CHARGE_LOOP_STATES = ('CurrentDemand', 'ChargingStatus', 'DCChargeLoop', 'ACChargeLoop')
PROTOCOL_NAMES = ('DIN_SPEC_70121', 'ISO_15118_2', 'ISO_15118_20_AC', 'ISO_15118_20_DC')

logger = logging.getLogger('charger_simulator')


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--interface', default='secc0', help='PLC interface of the charger')
    parser.add_argument('--netns', default='', help='network namespace to run in (needs root)')
    parser.add_argument('--protocols', default=','.join(PROTOCOL_NAMES),
                        help='comma-separated protocols the charger accepts')
    parser.add_argument('--tls', action='store_true', help='enforce TLS (needs --pki)')
    parser.add_argument('--pki', default='', help='PKI folder (see make_test_pki) for TLS / PnC')
    parser.add_argument('--auth-modes', default='EIM',
                        help='EIM and/or PNC, comma-separated (PNC needs --tls and --pki)')
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
    parser.add_argument('--log-level', default='WARNING')
    return parser.parse_args(argv)


def reexec_in_netns(args: argparse.Namespace) -> None:
    """Run this same program again inside the namespace (ip netns exec)."""
    argv = [a for a in sys.argv[1:]]
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

        async def set_present_protocol_state(self, state):
            if str(state) in CHARGE_LOOP_STATES:
                self.charge_loops += 1
            elif str(state) in ('SessionSetup', 'SupportedAppProtocol', 'PowerDelivery'):
                # a new (or resumed) session starts, or power delivery starts/stops: no current
                self.current = self.evse_data_context.present_current = 0.0
                if str(state) != 'PowerDelivery':
                    self.charge_loops = 0
                    self.voltage = self.evse_data_context.present_voltage = 0.0

        def _wanted(self, loops: int) -> bool:
            return 0 < loops <= self.charge_loops

        def _follow_targets(self):
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

        async def get_dc_charge_parameters(self):
            params = await super().get_dc_charge_parameters()
            return params.copy(update={
                'evse_maximum_power_limit': pv(PVEVSEMaxPowerLimit, args.max_power, 'W'),
                'evse_maximum_current_limit': pv(PVEVSEMaxCurrentLimit, args.max_current, 'A'),
                'evse_maximum_voltage_limit': pv(PVEVSEMaxVoltageLimit, args.max_voltage, 'V'),
            })

    return PowerSupplyEVSEController()


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
        os.environ['PKI_PATH'] = os.path.join(os.path.abspath(args.pki), '')
    os.environ.update(NETWORK_INTERFACE=args.interface, PROTOCOLS=args.protocols,
                      AUTH_MODES=args.auth_modes, SECC_ENFORCE_TLS=str(args.tls).lower(),
                      LOG_LEVEL=args.log_level)
    from iso15118.secc import SECCHandler
    from iso15118.secc.controller.interface import ServiceStatus
    from iso15118.secc.secc_settings import Config

    from .exificient import CappedExificientCodec

    logging.getLogger('iso15118').setLevel(args.log_level)
    config = Config()
    config.load_envs()
    if args.offer_j2847:
        offer_sae_j2847_services()
    controller = make_controller(args)
    await controller.set_status(ServiceStatus.STARTING)
    logger.warning('charger simulator on %s: %s', args.interface, args.protocols)
    await SECCHandler(exi_codec=CappedExificientCodec(), evse_controller=controller,
                      config=config).start(config.iface)


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
