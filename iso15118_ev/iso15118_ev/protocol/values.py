"""Numbers on the wire: DIN / ISO 15118-2 PhysicalValue and ISO 15118-20 RationalNumber.

Both are an integer mantissa (xs:short) with a decimal exponent. The EV writes the exact value
with the fewest digits where it can (200 V is 200 x 10^0, 5.5 A is 55 x 10^-1) and otherwise
the most precise value that fits; chargers read both forms alike.
"""
from __future__ import annotations

import math
from typing import Mapping, Optional

SHORT_MAX = 32767
# PhysicalValue multipliers are -3..3 (both schemas); RationalNumber allows -128..127, but the
# same span covers every quantity the EV sends.
EXPONENTS_EXACT = (0, -1, -2, -3)
EXPONENTS_ROUNDED = (-3, -2, -1, 0, 1, 2, 3)


class ValueRangeError(ValueError):
    """A value the wire format cannot carry (too large, or not a finite number)."""


def mantissa_exponent(value: float) -> tuple[int, int]:
    if not math.isfinite(value):
        raise ValueRangeError(f'{value!r} is not a finite number')
    for exponent in EXPONENTS_EXACT:
        scaled = value * 10.0 ** -exponent
        if abs(scaled) <= SHORT_MAX and abs(scaled - round(scaled)) < 1e-6:
            return int(round(scaled)), exponent
    for exponent in EXPONENTS_ROUNDED:
        scaled = round(value * 10.0 ** -exponent)
        if abs(scaled) <= SHORT_MAX:
            return int(scaled), exponent
    raise ValueRangeError(f'{value:g} is too large for a physical value')


def physical_value(value: float, unit: Optional[str]) -> dict:
    """A DIN / ISO 15118-2 PhysicalValueType (unit None: leave the optional DIN unit out)."""
    mantissa, exponent = mantissa_exponent(value)
    out = {'Multiplier': exponent}
    if unit is not None:
        out['Unit'] = unit
    out['Value'] = mantissa
    return out


def rational(value: float) -> dict:
    """An ISO 15118-20 RationalNumberType."""
    mantissa, exponent = mantissa_exponent(value)
    return {'Exponent': exponent, 'Value': mantissa}


def read_physical(value: Mapping) -> float:
    return value['Value'] * 10.0 ** value['Multiplier']


def read_rational(value: Mapping) -> float:
    return value['Value'] * 10.0 ** value['Exponent']
