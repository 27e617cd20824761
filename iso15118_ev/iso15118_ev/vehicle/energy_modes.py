"""EVerest's EnergyTransferMode values: which protocols and energy services serve each one."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

from ..vocabulary import DIN, ISO2, ISO20_AC, ISO20_DC
from .parameters import InvalidRequest, NotSupported, quote


@dataclass(frozen=True)
class EnergyMode:
    name: str
    is_dc: bool
    protocols: Tuple[str, ...]          # protocols that can carry this mode
    iso2_mode: Optional[str]            # EnergyTransferMode sent in DIN / ISO 15118-2
    iso20_service: Optional[str]        # energy service selected in ISO 15118-20
    bidirectional: bool = False


def _dc2(name):
    return EnergyMode(name, True, (DIN, ISO2, ISO20_DC), name, 'DC')


def _ac2(name):
    return EnergyMode(name, False, (ISO2, ISO20_AC), name, 'AC')


SERVED = {m.name: m for m in (
    _ac2('AC_single_phase_core'),
    _ac2('AC_three_phase_core'),
    _dc2('DC_core'),
    _dc2('DC_extended'),
    _dc2('DC_combo_core'),
    _dc2('DC_unique'),
    EnergyMode('DC', True, (ISO20_DC,), None, 'DC'),
    EnergyMode('DC_BPT', True, (ISO20_DC,), None, 'DC_BPT', bidirectional=True),
    EnergyMode('AC_BPT', False, (ISO20_AC,), None, 'AC_BPT', bidirectional=True),
)}

NOT_SERVED = {
    'AC_two_phase': 'no protocol the EVCC core speaks has a two-phase AC mode',
    'AC_BPT_DER': 'ISO 15118-20 AC DER services are not served yet',
    'AC_DER': 'ISO 15118-20 AC DER services are not served yet',
    'AC_DER_IEC': 'ISO 15118-20 AC DER services are not served yet',
    'AC_DER_SAE': 'ISO 15118-20 AC DER services are not served yet',
    'DC_ACDP': 'ISO 15118-20 ACDP (pantograph) is not served yet',
    'DC_ACDP_BPT': 'ISO 15118-20 ACDP (pantograph) is not served yet',
    'WPT': 'ISO 15118-20 wireless power transfer is not served yet',
    'MCS': 'megawatt charging (MCS) is not served yet',
    'MCS_BPT': 'megawatt charging (MCS) is not served yet',
}


def check_energy_mode(name: str) -> EnergyMode:
    """The served mode of that name, or InvalidRequest saying why it cannot be used."""
    if name in SERVED:
        return SERVED[name]
    if name in NOT_SERVED:
        raise NotSupported(f'energy_transfer_mode {name!r} is not served: {NOT_SERVED[name]}')
    known = ', '.join(list(SERVED) + list(NOT_SERVED))
    raise InvalidRequest(f'energy_transfer_mode {quote(name)} is unknown; known values: {known}')


def protocols_for(mode: EnergyMode, priority: Tuple[str, ...]) -> Tuple[str, ...]:
    """The configured protocol priority, order kept, narrowed to those that carry `mode`."""
    offered = tuple(p for p in priority if p in mode.protocols)
    if not offered:
        raise NotSupported(
            f'energy_transfer_mode {mode.name!r} needs one of {", ".join(mode.protocols)}, '
            f'but the node\'s protocols parameter allows only {", ".join(priority)}')
    return offered


def check_iso20_service(mode: EnergyMode, supported: Tuple[str, ...]) -> None:
    """Refuse an ISO 15118-20-only mode whose energy service the EV is configured without."""
    if mode.iso20_service not in supported:
        raise NotSupported(
            f'energy_transfer_mode {mode.name!r} needs the ISO 15118-20 service '
            f'{mode.iso20_service}, which the iso20_energy_services parameter leaves out '
            f'({", ".join(supported)})')
