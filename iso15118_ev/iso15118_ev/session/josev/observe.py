"""Read Josev's decoded messages: their names and the values the node reports.

The three protocols nest the same quantities at different depths and under slightly different
names, so values are found by walking the pydantic model for a set of field names.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Dict, Iterator, List, Tuple

from pydantic import BaseModel

# Our quantity -> the pydantic field names that carry it in DIN, ISO 15118-2 or -20.
CHARGER_FIELDS: Dict[str, Tuple[str, ...]] = {
    'evse_present_voltage': ('evse_present_voltage',),
    'evse_present_current': ('evse_present_current',),
    'evse_max_voltage': ('evse_maximum_voltage_limit', 'evse_max_voltage'),
    'evse_max_current': ('evse_maximum_current_limit', 'evse_max_charge_current',
                         'evse_max_current'),
    'evse_max_power': ('evse_maximum_power_limit', 'evse_max_charge_power'),
    'ac_evse_max_current': ('evse_max_current', 'evse_max_charge_current'),
    'target_active_power': ('evse_target_active_power',),
    'target_active_power_l2': ('evse_target_active_power_l2',),
    'target_active_power_l3': ('evse_target_active_power_l3',),
    'target_reactive_power': ('evse_target_reactive_power',),
    'target_reactive_power_l2': ('evse_target_reactive_power_l2',),
    'target_reactive_power_l3': ('evse_target_reactive_power_l3',),
}


def body_of(message):
    """The body of a V2G message (DIN and -2 wrap it; -20 and SAP messages are the body)."""
    body = getattr(message, 'body', None)
    if body is not None and hasattr(body, 'get_message'):
        return body.get_message()
    return message


def message_name(message) -> str:
    return type(body_of(message)).__name__


def walk(model) -> Iterator[Tuple[str, object]]:
    """Every (field name, value) in a pydantic model tree, depth first, skipping None."""
    if not isinstance(model, BaseModel):
        return
    for name, value in model:
        if value is None:
            continue
        yield name, value
        if isinstance(value, BaseModel):
            yield from walk(value)
        elif isinstance(value, list):
            for item in value:
                yield from walk(item)


def number(value) -> float:
    """A physical value (DIN/-2 PV*, -20 RationalNumber) or plain number as float."""
    if hasattr(value, 'get_decimal_value'):
        return float(value.get_decimal_value())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return math.nan


@dataclass(frozen=True)
class ChargerResponse:
    """What the node reports from one charger response, read in a single walk."""

    values: Dict[str, float]          # our quantity names -> values present
    notifications: List[str]          # EVSENotification values ('StopCharging', 'Pause', ...)
    processing_finished: bool         # EVSEProcessing is Finished


def read_response(message) -> ChargerResponse:
    first: Dict[str, float] = {}
    notes: List[str] = []
    processing = None
    for name, value in walk(body_of(message)):
        if name == 'evse_notification':
            notes.append(getattr(value, 'value', str(value)))
        elif name == 'evse_processing' and processing is None:
            processing = getattr(value, 'value', str(value))
        elif name not in first and not math.isnan(number(value)):
            first[name] = number(value)
    values = {}
    for quantity, names in CHARGER_FIELDS.items():
        present = [first[name] for name in names if name in first]
        if present:
            values[quantity] = present[0]
    return ChargerResponse(values, notes, processing == 'Finished')
