"""The EV's parameters and the commands' arguments, with validation against the interface's ranges."""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Mapping, Optional

from ..vocabulary import PAYMENT_OPTIONS, CommandCode

QUOTE_LIMIT = 40


class InvalidRequest(ValueError):
    """A command argument is out of range, not a number, or unknown. The message says which."""

    code = CommandCode.INVALID_ARGUMENT


class NotSupported(InvalidRequest):
    """A valid request the protocols or the EV's configuration do not serve."""

    code = CommandCode.NOT_SUPPORTED


def quote(value, limit: int = QUOTE_LIMIT) -> str:
    """repr(value), cut to `limit` characters plus '…' so a huge argument never fills a message
    or a log line."""
    if isinstance(value, str) and len(value) > limit:
        return repr(value[:limit]) + '…'
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + '…'


@dataclass(frozen=True)
class Bound:
    maximum: float
    unit: str
    minimum: float = 0.0


@dataclass(frozen=True)
class DcEvParameters:
    """DC targets and limits the EV announces and requests. Defaults: EVerest's simulated EV."""

    max_current_limit: float = 300.0   # A
    max_power_limit: float = 150000.0  # W
    max_voltage_limit: float = 900.0   # V
    energy_capacity: float = 60000.0   # Wh
    target_current: float = 5.0        # A
    target_voltage: float = 200.0      # V
    min_voltage_limit: float = 150.0   # V; ISO 15118-20 EVMinimumVoltage (DIN / -2 carry none)


DC_EV_BOUNDS: Mapping[str, Bound] = {
    'max_current_limit': Bound(1000.0, 'A'),
    'max_power_limit': Bound(500000.0, 'W'),
    'max_voltage_limit': Bound(1500.0, 'V'),
    'energy_capacity': Bound(100000.0, 'Wh'),
    'target_current': Bound(1000.0, 'A'),
    'target_voltage': Bound(1500.0, 'V'),
    'min_voltage_limit': Bound(1500.0, 'V'),
}


@dataclass(frozen=True)
class DcEvBptParameters:
    """Discharge limits (magnitudes). Defaults: EVerest's simulated EV."""

    discharge_max_current_limit: float = 0.0  # A
    discharge_max_power_limit: float = 0.0    # W
    discharge_target_current: float = 0.0     # A
    discharge_minimal_soc: float = 20.0       # percent


DC_EV_BPT_BOUNDS: Mapping[str, Bound] = {
    'discharge_max_current_limit': Bound(1000.0, 'A'),
    'discharge_max_power_limit': Bound(500000.0, 'W'),
    'discharge_target_current': Bound(1500.0, 'A'),
    'discharge_minimal_soc': Bound(99.0, '%'),
}

@dataclass(frozen=True)
class EvPresentValues:
    """The EV's own measurements (update_present_values); None: not given, the model's value
    applies. Where each is sent: EvModel.present_voltage / present_active_power."""

    present_voltage: Optional[float] = None        # V
    present_current: Optional[float] = None        # A, negative when discharging (REP 103)
    present_active_power: Optional[float] = None   # W, negative when discharging


PRESENT_VALUE_BOUNDS: Mapping[str, Bound] = {
    'present_voltage': Bound(1500.0, 'V'),
    'present_current': Bound(1000.0, 'A', minimum=-1000.0),
    'present_active_power': Bound(500000.0, 'W', minimum=-500000.0),
}

SOC_BOUND = Bound(100.0, '%')
DUTY_BOUND = Bound(100.0, '%')         # control pilot PWM duty cycle
E_AMOUNT_BOUND = Bound(1000.0, 'kWh')
DEPARTURE_TIME_BOUND = Bound(float(2**32 - 1), 's')


def check_value(name: str, value: float, bound: Bound) -> float:
    """Return value as float if it is a finite number within the bound, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidRequest(f'{name} must be a number, got {quote(value)}')
    span = f'{bound.minimum:g} to {bound.maximum:g} {bound.unit}'
    if math.isnan(value):
        raise InvalidRequest(f'{name} is NaN; give a number from {span}')
    if not bound.minimum <= value <= bound.maximum:
        raise InvalidRequest(f'{name}={value:g} {bound.unit} is out of range: {span}')
    return float(value)


# (lower field, higher field): lower <= higher must hold after every change.
DC_EV_ORDER = (
    ('target_voltage', 'max_voltage_limit'),
    ('target_current', 'max_current_limit'),
    ('min_voltage_limit', 'max_voltage_limit'),
)
DC_EV_BPT_ORDER = (
    ('discharge_target_current', 'discharge_max_current_limit'),
)
ORDERS = {DcEvParameters: DC_EV_ORDER, DcEvBptParameters: DC_EV_BPT_ORDER}
UNITS = {**{k: b.unit for k, b in DC_EV_BOUNDS.items()},
         **{k: b.unit for k, b in DC_EV_BPT_BOUNDS.items()}}


def check_consistent(parameters) -> None:
    """Raise InvalidRequest naming both fields and values when a cross-field rule is broken:
    a target above its limit, the minimum voltage above the maximum, the target power above the
    power limit, the discharge target above the discharge limit."""
    for low, high in ORDERS.get(type(parameters), ()):
        a, b = getattr(parameters, low), getattr(parameters, high)
        if a > b:
            raise InvalidRequest(
                f'{low}={a:g} {UNITS[low]} exceeds {high}={b:g} {UNITS[high]}; '
                f'{low} must be at most {high}')
    if isinstance(parameters, DcEvParameters):
        check_target_power(parameters)


def check_target_power(dc: DcEvParameters) -> None:
    """The power the EV asks for (target voltage x target current) within its power limit."""
    power = dc.target_voltage * dc.target_current
    if power > dc.max_power_limit:
        raise InvalidRequest(
            f'target power {power:g} W (target_voltage={dc.target_voltage:g} V x '
            f'target_current={dc.target_current:g} A) exceeds max_power_limit='
            f'{dc.max_power_limit:g} W')


def updated(current, changes: Mapping[str, float], bounds: Mapping[str, Bound]):
    """A copy of the frozen dataclass `current` with `changes` applied, every change checked,
    then the result checked as a whole (check_consistent)."""
    unknown = sorted(set(changes) - set(bounds))
    if unknown:
        raise InvalidRequest(f'unknown parameter(s): {", ".join(quote(u) for u in unknown[:5])}')
    checked = {name: check_value(name, value, bounds[name]) for name, value in changes.items()}
    new = dataclasses.replace(current, **checked)
    check_consistent(new)
    return new


def initial(kind, values: Mapping[str, float]):
    """A DcEvParameters / DcEvBptParameters from start-up values, checked like a change."""
    bounds = DC_EV_BOUNDS if kind is DcEvParameters else DC_EV_BPT_BOUNDS
    return updated(kind(), values, bounds)


@dataclass(frozen=True)
class StartRequest:
    """The arguments of start_charging, validated by `from_fields`."""

    energy_transfer_mode: str
    payment_option: Optional[str] = None       # None: not given
    enforce_payment_option: bool = False
    departure_time_s: Optional[int] = None     # s from now; None: not given
    e_amount_kwh: Optional[float] = None       # None: not given
    # Charging ends when the battery model reaches target_soc_percent (None: full), and, with
    # stop_at_e_amount (the charge action), once e_amount_kwh is delivered; without it EAmount
    # is only announced to the charger (start_charging).
    target_soc_percent: Optional[float] = None
    stop_at_e_amount: bool = False

    @classmethod
    def from_fields(cls, energy_transfer_mode: str, payment_option: str = '',
                    enforce_payment_option: bool = False,
                    departure_time_s: Optional[int] = None,
                    e_amount_kwh: Optional[float] = None,
                    target_soc_percent: Optional[float] = None,
                    stop_at_e_amount: bool = False) -> 'StartRequest':
        from .energy_modes import check_energy_mode
        check_energy_mode(energy_transfer_mode)
        if payment_option and payment_option not in PAYMENT_OPTIONS:
            raise InvalidRequest(
                f'payment_option {quote(payment_option)} is unknown; use "Contract", '
                f'"ExternalPayment" or "" (not given)')
        if enforce_payment_option and not payment_option:
            raise InvalidRequest('enforce_payment_option is set but no payment_option is given')
        if departure_time_s is not None:
            check_value('departure_time', departure_time_s, DEPARTURE_TIME_BOUND)
        if e_amount_kwh is not None:
            e_amount_kwh = check_value('e_amount', e_amount_kwh, E_AMOUNT_BOUND)
        if target_soc_percent is not None:
            target_soc_percent = check_value('target_soc', target_soc_percent, SOC_BOUND)
        return cls(energy_transfer_mode, payment_option or None, enforce_payment_option,
                   departure_time_s, e_amount_kwh, target_soc_percent, stop_at_e_amount)
