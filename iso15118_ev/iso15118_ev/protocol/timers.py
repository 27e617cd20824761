"""The EV's timers, from the standards, each overridable (the node's `timeouts.*` parameters).

Message timeouts: how long the EV waits for the response to each request (ISO 15118-2 Table
109, DIN SPEC 70121 Table 75, ISO 15118-20 message timing). Sequence timers: how long a loop
or a phase may last (ISO 15118-2 Table 111, DIN 70121 Table 77, ISO 15118-20): communication
setup (TCP up until SessionSetupRes), ongoing (EVSEProcessing=Ongoing), cable check and
pre-charge. `welding_detection` is the EV's own bound on checking the voltage after power off.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Dict, Mapping

from ..vocabulary import DIN, ISO2, ISO20

HANDSHAKE = 'handshake'

DEFAULTS: Dict[str, Dict[str, float]] = {
    HANDSHAKE: {
        'supportedAppProtocolReq': 2.0,
        'communication_setup': 20.0,      # V2G_EVCC_CommunicationSetup_Timeout
    },
    DIN: {
        'SessionSetupReq': 2.0, 'ServiceDiscoveryReq': 2.0, 'ServicePaymentSelectionReq': 2.0,
        'ContractAuthenticationReq': 2.0, 'ChargeParameterDiscoveryReq': 2.0,
        'CableCheckReq': 2.0, 'PreChargeReq': 2.0, 'PowerDeliveryReq': 2.0,
        'CurrentDemandReq': 0.25, 'WeldingDetectionReq': 2.0, 'SessionStopReq': 2.0,
        'ongoing': 60.0, 'cable_check': 40.0, 'pre_charge': 7.0, 'welding_detection': 10.0,
    },
    ISO2: {
        'SessionSetupReq': 2.0, 'ServiceDiscoveryReq': 2.0, 'ServiceDetailReq': 5.0,
        'PaymentServiceSelectionReq': 2.0, 'PaymentDetailsReq': 5.0, 'AuthorizationReq': 2.0,
        'ChargeParameterDiscoveryReq': 2.0, 'CableCheckReq': 2.0, 'PreChargeReq': 2.0,
        'PowerDeliveryReq': 5.0, 'CurrentDemandReq': 0.25, 'ChargingStatusReq': 2.0,
        'MeteringReceiptReq': 2.0, 'WeldingDetectionReq': 2.0, 'SessionStopReq': 2.0,
        'CertificateInstallationReq': 5.0, 'CertificateUpdateReq': 5.0,
        'ongoing': 60.0, 'cable_check': 40.0, 'pre_charge': 7.0, 'welding_detection': 10.0,
    },
    ISO20: {
        'SessionSetupReq': 2.0, 'AuthorizationSetupReq': 2.0, 'AuthorizationReq': 2.0,
        'CertificateInstallationReq': 5.0, 'ServiceDiscoveryReq': 2.0, 'ServiceDetailReq': 5.0,
        'ServiceSelectionReq': 2.0, 'DC_ChargeParameterDiscoveryReq': 2.0,
        'AC_ChargeParameterDiscoveryReq': 2.0, 'ScheduleExchangeReq': 2.0,
        'DC_CableCheckReq': 2.0, 'DC_PreChargeReq': 2.0, 'PowerDeliveryReq': 2.0,
        'DC_ChargeLoopReq': 0.5, 'AC_ChargeLoopReq': 0.5, 'DC_WeldingDetectionReq': 2.0,
        'MeteringConfirmationReq': 2.0, 'SessionStopReq': 2.0,
        'ongoing': 60.0, 'cable_check': 40.0, 'pre_charge': 10.0, 'welding_detection': 10.0,
    },
}

GROUP_PREFIX = {HANDSHAKE: 'handshake', DIN: 'din', ISO2: 'iso2', ISO20: 'iso20'}


def snake_case(name: str) -> str:
    """'DC_ChargeLoopReq' -> 'dc_charge_loop_req' (parameter names); 'cable_check' stays."""
    if name.islower():
        return name
    name = name.replace('_', '')
    return re.sub(r'(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])', '_', name).lower()


def parameter_names() -> Dict[str, tuple]:
    """'timeouts.<group>.<timer>' -> (group, timer name, default s) for every timer."""
    return {f'timeouts.{GROUP_PREFIX[group]}.{snake_case(name)}': (group, name, seconds)
            for group, table in DEFAULTS.items() for name, seconds in table.items()}


@dataclass(frozen=True)
class Timeouts:
    """Every timer of every protocol, with the overrides given (group -> name -> s)."""

    overrides: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    def get(self, group: str, name: str) -> float:
        value = self.overrides.get(group, {}).get(name)
        return DEFAULTS[group][name] if value is None else value

    def with_parameters(self, values: Mapping[str, float]) -> 'Timeouts':
        """A copy with `timeouts.<group>.<timer>` parameter values applied."""
        names = parameter_names()
        merged: Dict[str, Dict[str, float]] = {g: dict(t) for g, t in self.overrides.items()}
        for parameter, value in values.items():
            group, name, _default = names[parameter]
            merged.setdefault(group, {})[name] = float(value)
        return Timeouts(merged)
