"""ServiceDiscovery and ServiceDetail: the energy service of the session's mode, and the
parameter set (control mode) the EV selects (ISO 15118-20 8.3.5.3.x, Tables 204-209)."""
from __future__ import annotations

from typing import Dict, List, Mapping, Tuple

from ...vehicle.model import EvModel
from ..context import protocol_error
from ..values import read_rational
from .common import DYNAMIC, SCHEDULED

SERVICE_IDS = {'AC': 1, 'DC': 2, 'AC_BPT': 5, 'DC_BPT': 6}
SERVICE_NAMES = {1: 'AC', 2: 'DC', 3: 'WPT', 4: 'DC_ACDP', 5: 'AC_BPT', 6: 'DC_BPT',
                 7: 'DC_ACDP_BPT', 8: 'MCS', 9: 'MCS_BPT'}
CONTROL_MODES = {1: SCHEDULED, 2: DYNAMIC}
WANTED_MODES = {'auto': (SCHEDULED, DYNAMIC), 'scheduled': (SCHEDULED,), 'dynamic': (DYNAMIC,)}
MOBILITY_NEEDS_BY_EV = 1
AC_CONNECTOR_PHASES = {1: 1, 2: 3}      # Connector 1: single phase, 2: three phase
VALUE_KEYS = ('intValue', 'shortValue', 'byteValue', 'boolValue', 'finiteString')


def energy_service_id(response: Mapping, service: str) -> int:
    """The ID of `service` if the charger offers it; protocol error naming what it offers."""
    wanted = SERVICE_IDS[service]
    offered = [s['ServiceID'] for s in response['EnergyTransferServiceList']['Service']]
    if wanted not in offered:
        names = ', '.join(f'{SERVICE_NAMES.get(i, "unknown")} ({i})' for i in offered)
        raise protocol_error(f'ServiceDiscoveryRes: the charger offers the energy services '
                             f'{names}, not {service} ({wanted})')
    return wanted


def parameters(parameter_set: Mapping) -> Dict[str, object]:
    """{Name: value} of a ParameterSet."""
    out: Dict[str, object] = {}
    for parameter in parameter_set.get('Parameter', ()):
        if 'rationalNumber' in parameter:
            out[parameter['Name']] = read_rational(parameter['rationalNumber'])
            continue
        for key in VALUE_KEYS:
            if key in parameter:
                out[parameter['Name']] = parameter[key]
                break
    return out


def describe(parameter_set_id: int, values: Mapping) -> str:
    mode = values.get('ControlMode')
    text = f'set {parameter_set_id}: ' + CONTROL_MODES.get(mode, f'ControlMode {mode}')
    if 'MobilityNeedsMode' in values:
        text += f' (MobilityNeedsMode {values["MobilityNeedsMode"]})'
    return text


def choose_parameter_set(response: Mapping, wanted: str, model: EvModel,
                         service: str) -> Tuple[int, str]:
    """(ParameterSetID, control mode) to select.

    `wanted` ('auto', 'scheduled', 'dynamic'): auto takes Scheduled, which every charger must
    offer, else Dynamic. Among sets of the mode: Dynamic prefers MobilityNeedsMode 1 (the EV
    provides its mobility needs); AC prefers the connector of the EV's phase count.
    """
    sets: List[Tuple[int, Dict[str, object]]] = [
        (p['ParameterSetID'], parameters(p))
        for p in response['ServiceParameterList']['ParameterSet']]
    for mode in WANTED_MODES[wanted]:
        candidates = [(i, v) for i, v in sets if CONTROL_MODES.get(v.get('ControlMode')) == mode]
        if candidates:
            def preference(candidate):
                values = candidate[1]
                other_needs = mode == DYNAMIC and \
                    values.get('MobilityNeedsMode') != MOBILITY_NEEDS_BY_EV
                other_phases = service.startswith('AC') and \
                    AC_CONNECTOR_PHASES.get(values.get('Connector')) != model.ac_phase_count()
                return other_needs, other_phases
            return min(candidates, key=preference)[0], mode
    offered = '; '.join(describe(i, v) for i, v in sets)
    modes = ' or '.join(WANTED_MODES[wanted])
    raise protocol_error(f'ServiceDetailRes: no parameter set of {service} with ControlMode '
                         f'{modes} (iso20_control_mode {wanted}); the charger offers {offered}')
