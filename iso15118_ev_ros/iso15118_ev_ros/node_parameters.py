"""The node's ROS parameters: declared with descriptors, read into CoreSettings."""
from __future__ import annotations

from dataclasses import fields
from typing import Any, Dict

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)

from iso15118_ev.vehicle.energy_modes import ALL_PROTOCOLS
from iso15118_ev.vehicle.parameters import (DC_EV_BOUNDS, DC_EV_BPT_BOUNDS, DcEvBptParameters,
                              DcEvParameters)
from iso15118_ev.session.settings import EXI_CODECS, CoreSettings, PhaseTimeouts

DEFAULT_PROTOCOLS = ['ISO_15118_2', 'DIN_SPEC_70121', 'ISO_15118_20_DC', 'ISO_15118_20_AC']


class ParameterError(ValueError):
    """A parameter value the node cannot start with; the message says which and why."""


def _float(description: str, low: float, high: float, read_only: bool = True):
    return ParameterDescriptor(
        type=ParameterType.PARAMETER_DOUBLE, description=description, read_only=read_only,
        floating_point_range=[FloatingPointRange(from_value=low, to_value=high, step=0.0)])


def _int(description: str, low: int, high: int):
    return ParameterDescriptor(type=ParameterType.PARAMETER_INTEGER, description=description,
                               read_only=True,
                               integer_range=[IntegerRange(from_value=low, to_value=high, step=1)])


def _plain(kind: int, description: str):
    return ParameterDescriptor(type=kind, description=description, read_only=True)


DEFAULT_TIMEOUTS = PhaseTimeouts()
DEFAULT_DC = DcEvParameters()
DEFAULT_BPT = DcEvBptParameters()

# name -> (default, descriptor)
PARAMETERS: Dict[str, tuple] = {
    'plc_interface': ('auto', _plain(
        ParameterType.PARAMETER_STRING,
        'Network interface to the charger; "auto": the first one with an IPv6 link-local '
        'address other than lo')),
    'protocols': (DEFAULT_PROTOCOLS, _plain(
        ParameterType.PARAMETER_STRING_ARRAY,
        'Protocols offered in SupportedAppProtocolReq, highest priority first (order kept): '
        + ', '.join(ALL_PROTOCOLS))),
    'iso20_energy_services': (['DC', 'DC_BPT', 'AC', 'AC_BPT'], _plain(
        ParameterType.PARAMETER_STRING_ARRAY,
        'ISO 15118-20 energy services the EV supports: DC, DC_BPT, AC, AC_BPT')),
    'use_tls': (False, _plain(ParameterType.PARAMETER_BOOL, 'Ask for TLS in SDP')),
    'enforce_tls': (False, _plain(ParameterType.PARAMETER_BOOL,
                                  'Refuse chargers that do not offer TLS')),
    'pki_path': ('', _plain(ParameterType.PARAMETER_STRING,
                            'PKI folder for TLS / Plug & Charge (make_test_pki); "" = the '
                            'iso15118 package default')),
    'sdp_max_requests': (50, _int('SDP requests before "no charger found"', 1, 50)),
    'sdp_interval': (0.25, _float('s between SDP requests (>= 0.25)', 0.25, 5.0)),
    'exi_codec': ('native', _plain(
        ParameterType.PARAMETER_STRING,
        'EXI codec: "native" (built in, no Java) or "exificient" (the iso15118 package\'s '
        'Java codec, for comparison)')),
    'jvm_heap_mb': (64, _int('MiB heap of the JVM when exi_codec is "exificient"', 32, 1024)),
    'initial_soc': (20.0, _float('percent, state of charge at start', 0.0, 100.0)),
}
for _f in fields(PhaseTimeouts):
    PARAMETERS[f'timeouts.{_f.name}'] = (getattr(DEFAULT_TIMEOUTS, _f.name), _float(
        f's the session may stay in phase "{_f.name}"', 0.5, 600.0))
for _name, _bound in DC_EV_BOUNDS.items():
    PARAMETERS[f'dc.{_name}'] = (getattr(DEFAULT_DC, _name), _float(
        f'{_bound.unit}, initial DcEvParameters.{_name}', 0.0, _bound.maximum))
for _name, _bound in DC_EV_BPT_BOUNDS.items():
    PARAMETERS[f'bpt.{_name}'] = (getattr(DEFAULT_BPT, _name), _float(
        f'{_bound.unit}, initial DcEvBptParameters.{_name}', 0.0, _bound.maximum))


def declare(node) -> Dict[str, Any]:
    """Declare every parameter on `node`; their values by name."""
    return {name: node.declare_parameter(name, default, descriptor).value
            for name, (default, descriptor) in PARAMETERS.items()}


def to_settings(values: Dict[str, Any]) -> CoreSettings:
    protocols = tuple(values['protocols'])
    unknown = [p for p in protocols if p not in ALL_PROTOCOLS]
    if unknown or not protocols or len(set(protocols)) != len(protocols):
        raise ParameterError(
            f'protocols={list(protocols)}: give each of {", ".join(ALL_PROTOCOLS)} at most once'
            + (f' (unknown: {", ".join(unknown)})' if unknown else ''))
    if values['exi_codec'] not in EXI_CODECS:
        raise ParameterError(f'exi_codec={values["exi_codec"]!r}: expected one of '
                             + ', '.join(EXI_CODECS))
    services = tuple(values['iso20_energy_services'])
    bad = [s for s in services if s not in ('DC', 'DC_BPT', 'AC', 'AC_BPT')]
    if bad:
        raise ParameterError(f'iso20_energy_services: unknown {", ".join(bad)}')
    section = {prefix: {k.split('.', 1)[1]: v for k, v in values.items()
                        if k.startswith(prefix + '.')} for prefix in ('timeouts', 'dc', 'bpt')}
    return CoreSettings(
        plc_interface=values['plc_interface'], protocols=protocols, iso20_services=services,
        use_tls=values['use_tls'], enforce_tls=values['enforce_tls'], pki_path=values['pki_path'],
        sdp_max_requests=values['sdp_max_requests'], sdp_interval_s=values['sdp_interval'],
        timeouts=PhaseTimeouts(**section['timeouts']), dc=DcEvParameters(**section['dc']),
        bpt=DcEvBptParameters(**section['bpt']), soc_percent=values['initial_soc'],
        exi_codec=values['exi_codec'], jvm_heap_mb=values['jvm_heap_mb'])
