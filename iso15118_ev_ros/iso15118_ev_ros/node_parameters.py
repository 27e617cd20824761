"""The node's ROS parameters: declared with descriptors, read into EvSettings.

`dc.*`, `bpt.*` and `initial_soc` are writable at run time (LIVE): the node checks a change with
the library's rules (ranges, cross-field) and applies it like set_dc_params / set_bpt_dc_params /
update_soc. The others are read-only. `slac.*` are checked (and refused) even while
slac.enabled is false.
"""
from __future__ import annotations

import re
from typing import Any, Dict, Optional

from rcl_interfaces.msg import (FloatingPointRange, IntegerRange, ParameterDescriptor,
                                ParameterType)
from rclpy.exceptions import InvalidParameterTypeException, InvalidParameterValueException

from iso15118_ev.protocol.timers import Timeouts, parameter_names
from iso15118_ev.session.data_link import DataLinkSettings
from iso15118_ev.session.settings import CONTROL_MODES, ISO20_SERVICES, EvSettings
from iso15118_ev.slac.ev import SlacSettings
from iso15118_ev.slac.mme import mac_text
from iso15118_ev.vehicle.control_pilot import CONTROL_PILOT_MODES
from iso15118_ev.vehicle.energy_modes import check_energy_mode, protocols_for
from iso15118_ev.vehicle.parameters import (DC_EV_BOUNDS, DC_EV_BPT_BOUNDS, DcEvBptParameters,
                                            DcEvParameters, InvalidRequest, initial, quote)
from iso15118_ev.vocabulary import ALL_PROTOCOLS

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


DEFAULT_DC = DcEvParameters()
DEFAULT_BPT = DcEvBptParameters()
DEFAULT_LINK = DataLinkSettings()
MAC = re.compile(r'[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}')
# SlacSettings fields set by a slac.<field> parameter (ISO 15118-3 table A.1) -> description
SLAC_TIMERS = {
    'tt_match_response_s': 'TT_match_response: wait for each SLAC confirmation',
    'tt_match_sequence_s': 'TT_match_sequence: longest pause between the EV\'s own messages',
    'tt_ev_atten_results_s': 'TT_EV_atten_results: wait for the chargers\' attenuation '
                             'results (CM_ATTEN_CHAR.IND)',
    'tt_match_join_s': 'TT_match_join: from CM_SLAC_MATCH.CNF until the modem reports the link',
}
# DataLinkSettings fields of the matching's restarts (ISO 15118-3 [V2G3-A09-124/125])
RESTARTS = ('c_conn_max_match', 'tt_matching_rate_s', 'tt_matching_repetition_s')
SLAC_COUNTS = {
    'c_ev_match_retry': ('C_EV_match_retry: repetitions of a SLAC request', 0, 10),
    'c_ev_match_mnbc': ('C_EV_match_MNBC: M-sounds (CM_MNBC_SOUND.IND) sent', 1, 255),
}

# name -> (default, descriptor)
PARAMETERS: Dict[str, tuple] = {
    'plc_interface': ('', _plain(
        ParameterType.PARAMETER_STRING,
        'Network interface to the charger (required; the node refuses to start without it). '
        '"auto": the only interface with an IPv6 link-local address that is not lo and carries '
        'no default route (refused when there are several)')),
    'protocols': (DEFAULT_PROTOCOLS, _plain(
        ParameterType.PARAMETER_STRING_ARRAY,
        'Protocols offered in SupportedAppProtocolReq, highest priority first (order kept): '
        + ', '.join(ALL_PROTOCOLS))),
    'iso20_energy_services': (list(ISO20_SERVICES), _plain(
        ParameterType.PARAMETER_STRING_ARRAY,
        'ISO 15118-20 energy services the EV supports: ' + ', '.join(ISO20_SERVICES))),
    'iso20_control_mode': ('auto', _plain(
        ParameterType.PARAMETER_STRING,
        'ISO 15118-20 control mode: "auto" (Scheduled when the charger offers it, else '
        'Dynamic), "scheduled" or "dynamic" (refuse chargers without it)')),
    'control_pilot': ('simulated', _plain(
        ParameterType.PARAMETER_STRING,
        'Where the EV\'s CP state comes from: "simulated" (the pilot follows the protocol) or '
        '"external" (only from cp_state_changed or the control_pilot topic: CableCheck waits '
        'for C or D; with slac.enabled, SLAC waits for the plug and 5 % PWM)')),
    'start_on_plug': ('', _plain(
        ParameterType.PARAMETER_STRING,
        'Energy transfer mode (as start_charging\'s, e.g. DC_extended) an idle EV starts a '
        'session with when plugged in (CP state B, C or D reported); "": wait for '
        'start_charging')),
    'slac.enabled': (False, _plain(
        ParameterType.PARAMETER_BOOL,
        'false: the link to the charger already exists (simulation, a bench): no SLAC, '
        'dlink_ready at once. true: real hardware: after plug-in and the charger\'s 5 % PWM, '
        'SLAC (ISO 15118-3) on plc_interface before SDP (needs root: a raw socket)')),
    'slac.pwm_wait_s': (DEFAULT_LINK.pwm_wait_s, _float(
        's after plug-in the EV waits for the charger\'s 5 % PWM before it gives up', 0.1,
        3600.0)),
    'slac.bcb_toggle_s': (DEFAULT_LINK.bcb_toggle_s, _float(
        's the EV holds C in the B-C-B toggle that wakes a charger for a paused session on a '
        'matched link (ISO 15118-3 [V2G3-M07-22])', 0.01, 10.0)),
    'slac.c_conn_max_match': (DEFAULT_LINK.c_conn_max_match, _int(
        'ISO 15118-3 C_conn_max_match: restarts of a failed matching process '
        '([V2G3-A09-125]; the standard\'s minimum by default)', 0, 10)),
    'slac.tt_matching_rate_s': (DEFAULT_LINK.tt_matching_rate_s, _float(
        's, ISO 15118-3 TT_matching_rate: wait after a failed matching before it restarts '
        '([V2G3-A09-124])', 0.01, 60.0)),
    'slac.tt_matching_repetition_s': (DEFAULT_LINK.tt_matching_repetition_s, _float(
        's, ISO 15118-3 TT_matching_repetition: restarts begin only within this time from the '
        'first start ([V2G3-A09-125])', 0.01, 600.0)),
    'slac.validate': (DEFAULT_LINK.slac.validate, _plain(
        ParameterType.PARAMETER_BOOL, 'Run CM_VALIDATE before CM_SLAC_MATCH')),
    'slac.modem_mac': (mac_text(DEFAULT_LINK.slac.modem_mac), _plain(
        ParameterType.PARAMETER_STRING,
        'MAC address of the EV\'s own PLC modem (CM_SET_KEY, link status), 6 bytes in hex '
        'separated by ":" (quote it in YAML)')),
    'use_tls': (False, _plain(ParameterType.PARAMETER_BOOL, 'Ask for TLS in SDP')),
    'enforce_tls': (False, _plain(ParameterType.PARAMETER_BOOL,
                                  'Refuse chargers that do not offer TLS')),
    'pki_path': ('', _plain(ParameterType.PARAMETER_STRING,
                            'This EV\'s PKI folder (create_certs.sh layout): trusted V2G/MO '
                            'roots, OEM provisioning and contract certificates and keys; '
                            'installed contracts are written here (README lists the files)')),
    'force_certificate_installation': (False, _plain(
        ParameterType.PARAMETER_BOOL,
        'Plug & Charge: install a new contract certificate even when the EV holds a valid one')),
    'contract_update_within_days': (14.0, _float(
        'days; Plug & Charge: renew the contract (CertificateUpdate, ISO 15118-2) when it '
        'expires within this', 0.0, 3650.0)),
    'sdp_max_requests': (50, _int('SDP requests before "no charger found"', 1, 50)),
    'sdp_interval': (0.25, _float('s between SDP requests (>= 0.25)', 0.25, 5.0)),
    'initial_soc': (20.0, _float('percent, state of charge at start; writable: setting it at '
                                 'run time is update_soc (and update_soc sets it)', 0.0, 100.0,
                                 read_only=False)),
}
for _name, (_group, _timer, _default) in parameter_names().items():
    PARAMETERS[_name] = (_default, _float(
        f's, {_group} timer {_timer} (the standard\'s value by default)', 0.05, 600.0))
for _name, _bound in DC_EV_BOUNDS.items():
    PARAMETERS[f'dc.{_name}'] = (getattr(DEFAULT_DC, _name), _float(
        f'{_bound.unit}, DcEvParameters.{_name}; writable: a change is set_dc_params (and '
        f'set_dc_params sets it)', 0.0, _bound.maximum, read_only=False))
for _name, _bound in DC_EV_BPT_BOUNDS.items():
    PARAMETERS[f'bpt.{_name}'] = (getattr(DEFAULT_BPT, _name), _float(
        f'{_bound.unit}, DcEvBptParameters.{_name}; writable: a change is set_bpt_dc_params '
        f'(and set_bpt_dc_params sets it)', 0.0, _bound.maximum, read_only=False))

for _name, _description in SLAC_TIMERS.items():
    PARAMETERS[f'slac.{_name}'] = (getattr(DEFAULT_LINK.slac, _name), _float(
        f's, ISO 15118-3 {_description} (the standard\'s value by default)', 0.01, 600.0))
for _name, (_description, _low, _high) in SLAC_COUNTS.items():
    PARAMETERS[f'slac.{_name}'] = (getattr(DEFAULT_LINK.slac, _name), _int(
        f'ISO 15118-3 {_description} (the standard\'s value by default)', _low, _high))

LIVE = frozenset(name for name, (_, descriptor) in PARAMETERS.items()
                 if not descriptor.read_only)
TYPE_NAMES = {ParameterType.PARAMETER_BOOL: 'a bool (true or false)',
              ParameterType.PARAMETER_INTEGER: 'an integer',
              ParameterType.PARAMETER_DOUBLE: 'a floating-point number (e.g. 1.0)',
              ParameterType.PARAMETER_STRING: 'a string',
              ParameterType.PARAMETER_STRING_ARRAY: 'a list of strings'}


def declare(node, parameters: Dict[str, tuple] = PARAMETERS) -> Dict[str, Any]:
    """Declare every parameter on `node`; their values by name. A value given at start-up
    (-p, params file) of the wrong type or out of range raises ParameterError, one line."""
    return {name: _declare_one(node, name, default, descriptor)
            for name, (default, descriptor) in parameters.items()}


def _declare_one(node, name, default, descriptor):
    try:
        return node.declare_parameter(name, default, descriptor).value
    except InvalidParameterTypeException:
        raise ParameterError(f'{name}={quote(_given(node, name))}: expected '
                             f'{TYPE_NAMES.get(descriptor.type, "another type")}') from None
    except InvalidParameterValueException:
        raise ParameterError(f'{name}={quote(_given(node, name))}: out of range: '
                             f'{_range(descriptor)}') from None


def _given(node, name):
    override = getattr(node, '_parameter_overrides', {}).get(name)
    return override.value if override is not None else '?'


def _range(descriptor) -> str:
    for ranges in (descriptor.floating_point_range, descriptor.integer_range):
        if ranges:
            return f'{ranges[0].from_value:g} to {ranges[0].to_value:g}'
    return 'see the parameter\'s description'


def to_settings(values: Dict[str, Any]) -> EvSettings:
    protocols = tuple(values['protocols'])
    unknown = [p for p in protocols if p not in ALL_PROTOCOLS]
    if unknown or not protocols or len(set(protocols)) != len(protocols):
        raise ParameterError(
            f'protocols={list(protocols)}: give each of {", ".join(ALL_PROTOCOLS)} at most once'
            + (f' (unknown: {", ".join(unknown)})' if unknown else ''))
    services = tuple(values['iso20_energy_services'])
    bad = [s for s in services if s not in ISO20_SERVICES]
    if bad:
        raise ParameterError(f'iso20_energy_services: unknown {", ".join(bad)}')
    if values['iso20_control_mode'] not in CONTROL_MODES:
        raise ParameterError(f'iso20_control_mode={values["iso20_control_mode"]!r}: expected '
                             + ', '.join(CONTROL_MODES))
    if values['control_pilot'] not in CONTROL_PILOT_MODES:
        raise ParameterError(f'control_pilot={quote(values["control_pilot"])}: expected '
                             + ', '.join(CONTROL_PILOT_MODES))
    section = {prefix: {k.split('.', 1)[1]: v for k, v in values.items()
                        if k.startswith(prefix + '.')} for prefix in ('dc', 'bpt')}
    timeouts = Timeouts().with_parameters({k: v for k, v in values.items()
                                           if k.startswith('timeouts.')})
    try:
        dc = initial(DcEvParameters, section['dc'])
        bpt = initial(DcEvBptParameters, section['bpt'])
    except InvalidRequest as exc:
        raise ParameterError(f'dc.* / bpt.*: {exc}') from None
    return EvSettings(
        plc_interface=values['plc_interface'], protocols=protocols, iso20_services=services,
        iso20_control_mode=values['iso20_control_mode'], use_tls=values['use_tls'],
        enforce_tls=values['enforce_tls'], pki_path=values['pki_path'],
        force_certificate_installation=values['force_certificate_installation'],
        contract_update_within_days=values['contract_update_within_days'],
        sdp_max_requests=values['sdp_max_requests'], sdp_interval_s=values['sdp_interval'],
        timeouts=timeouts, dc=dc, bpt=bpt, soc_percent=values['initial_soc'],
        control_pilot=values['control_pilot'], slac=_data_link(values),
        start_on_plug=_start_on_plug(values['start_on_plug'], protocols))


def _data_link(values: Dict[str, Any]) -> Optional[DataLinkSettings]:
    """The data link's settings when slac.enabled, else None; checked either way."""
    mac = values['slac.modem_mac']
    if not MAC.fullmatch(mac):
        raise ParameterError(f'slac.modem_mac={quote(mac)}: expected 6 bytes in hex separated '
                             f'by ":", e.g. {mac_text(DEFAULT_LINK.slac.modem_mac)}')
    fields = {name: values[f'slac.{name}']
              for name in ('validate', *SLAC_TIMERS, *SLAC_COUNTS)}
    try:
        link = DataLinkSettings(
            SlacSettings(modem_mac=bytes.fromhex(mac.replace(':', '')), **fields),
            pwm_wait_s=values['slac.pwm_wait_s'], bcb_toggle_s=values['slac.bcb_toggle_s'],
            **{name: values[f'slac.{name}'] for name in RESTARTS})
    except ValueError as exc:
        raise ParameterError(f'slac.*: {exc}') from None
    return link if values['slac.enabled'] else None


def _start_on_plug(mode: str, protocols) -> str:
    """'' or an energy transfer mode start_charging takes (check_energy_mode, as its
    StartRequest) that one of these protocols carries."""
    if mode:
        try:
            protocols_for(check_energy_mode(mode), protocols)
        except InvalidRequest as exc:
            raise ParameterError(f'start_on_plug={quote(mode)}: {exc}') from None
    return mode
