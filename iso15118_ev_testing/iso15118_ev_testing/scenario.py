"""Scenarios: typed steps, read from YAML, that drive an EV node over ROS and check what it
does. `run_scenario` (scenario_runner.py) runs them; see scenarios/*.yaml for examples.

A scenario file:

    name: DC charge to a target SoC
    steps:
      - start: {mode: DC_extended}
      - wait_phase: {phase: charging, timeout: 40}
      - set_dc: {target_current: 20}
      - wait_loops: {count: 5, timeout: 20}
      - update_soc: 80
      - stop: {}
      - expect_end: {reason: stopped_by_ev, timeout: 20}

`cp_state: E` reports a control pilot state (A to F) as the vehicle's pilot hardware would
(`cp_state_changed`); `abort: {}` ends the session at once (`abort_charging`).

Each step is a mapping with exactly one key, the step's kind; its value holds the arguments.
Unknown kinds or arguments, wrong types and out-of-range values are refused when the file is
read, naming the step.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, List

import yaml
from iso15118_ev_msgs import msg, srv


def _constants(kind, prefix: str) -> Dict[str, int]:
    """The interface's enum constants (e.g. SessionFinished.REASON_*) as lower-case names ->
    values, in value order: the steps use the node's own vocabulary, never a copy of it."""
    found = {name[len(prefix):].lower(): getattr(kind, name) for name in dir(kind)
             if name.startswith(prefix) and name.isupper()}
    return dict(sorted(found.items(), key=lambda item: item[1]))


def _fields(kind) -> tuple:
    """The optional fields of a has_<field> message (e.g. DcEvParameters)."""
    names = kind.get_fields_and_field_types()
    return tuple(name for name in names if f'has_{name}' in names)


PHASES = tuple(_constants(msg.SessionState, 'PHASE_'))
REASONS = tuple(_constants(msg.SessionFinished, 'REASON_'))
EVENT_TOPICS = ('dc_power_on', 'stop_from_charger', 'pause_from_charger', 'contract_installed')
FAULTS = _constants(srv.SetFault.Request, 'FAULT_')
CP_STATES = {name.upper(): value
             for name, value in _constants(srv.CpStateChanged.Request, 'CP_STATE_').items()}
DC_FIELDS = _fields(msg.DcEvParameters)
BPT_FIELDS = _fields(msg.DcEvBptParameters)
DEFAULT_TIMEOUT_S = 30.0
TYPE_NAMES = {int: 'an integer >= 0', float: 'a number >= 0', str: 'a string', bool: 'a boolean'}


class ScenarioError(ValueError):
    """The scenario file is not valid; the message names the step and what is wrong."""


@dataclass(frozen=True)
class Step:
    kind: str
    args: Dict[str, Any]
    index: int

    def label(self) -> str:
        shown = ', '.join(f'{k}={v}' for k, v in self.args.items() if k != 'timeout')
        return f'{self.index} {self.kind}' + (f' ({shown})' if shown else '')


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: List[Step]


# kind -> {argument: (type, required)}; a scalar value is the sole required argument.
STEP_ARGUMENTS = {
    'start': {'mode': (str, True), 'payment_option': (str, False),
              'enforce_payment_option': (bool, False), 'departure_time': (int, False),
              'e_amount': (float, False), 'expect_refused': (bool, False)},
    'stop': {}, 'pause': {}, 'abort': {},
    'cp_state': {'state': (str, True)},
    'wait_phase': {'phase': (str, True), 'timeout': (float, False)},
    'wait_event': {'topic': (str, True), 'timeout': (float, False)},
    'wait_loops': {'count': (int, True), 'timeout': (float, False)},
    'set_dc': {name: (float, False) for name in DC_FIELDS},
    'set_bpt': {name: (float, False) for name in BPT_FIELDS},
    'update_soc': {'soc': (float, True)},
    'fault': {'fault': (str, True)},
    'expect_end': {'reason': (str, True), 'timeout': (float, False)},
    'sleep': {'seconds': (float, True)},
}
CHOICES = {('wait_phase', 'phase'): PHASES, ('expect_end', 'reason'): REASONS,
           ('wait_event', 'topic'): EVENT_TOPICS, ('fault', 'fault'): tuple(FAULTS),
           ('cp_state', 'state'): tuple(CP_STATES)}


def load(path: str) -> Scenario:
    try:
        with open(path, encoding='utf-8') as stream:
            document = yaml.safe_load(stream)
    except (OSError, yaml.YAMLError) as exc:
        raise ScenarioError(f'{path}: {exc}') from None
    return parse(document, path)


def parse(document: Any, source: str = 'scenario') -> Scenario:
    if not isinstance(document, dict) or not isinstance(document.get('steps'), list):
        raise ScenarioError(f'{source}: a mapping with a "steps" list is expected')
    if not document['steps']:
        raise ScenarioError(f'{source}: no steps')
    steps = [_step(raw, i, source) for i, raw in enumerate(document['steps'], 1)]
    return Scenario(str(document.get('name', source)), steps)


def _step(raw: Any, index: int, source: str) -> Step:
    where = f'{source}: step {index}'
    if not isinstance(raw, dict) or len(raw) != 1:
        raise ScenarioError(f'{where}: one mapping {{kind: arguments}} per step')
    (kind, value), = raw.items()
    spec = STEP_ARGUMENTS.get(kind)
    if spec is None:
        raise ScenarioError(f'{where}: unknown step {kind!r}; known: '
                            + ', '.join(STEP_ARGUMENTS))
    args = _arguments(kind, value, spec, where)
    return Step(kind, args, index)


def _arguments(kind: str, value: Any, spec: dict, where: str) -> Dict[str, Any]:
    if not isinstance(value, dict):
        required = [name for name, (_, needed) in spec.items() if needed]
        if value is None and not required:
            value = {}
        elif len(required) == 1:
            value = {required[0]: value}
        else:
            raise ScenarioError(f'{where}: {kind} takes a mapping of {", ".join(spec)}')
    unknown = set(value) - set(spec)
    if unknown:
        raise ScenarioError(f'{where}: {kind} has no argument {", ".join(sorted(unknown))}')
    out = {}
    for name, (kind_type, required) in spec.items():
        if name not in value:
            if required:
                raise ScenarioError(f'{where}: {kind} needs {name}')
            continue
        out[name] = _typed(value[name], kind_type, f'{where}: {kind}.{name}')
        choices = CHOICES.get((kind, name))
        if choices and out[name] not in choices:
            raise ScenarioError(f'{where}: {kind}.{name} {out[name]!r} is not one of '
                                + ', '.join(choices))
    if kind in ('set_dc', 'set_bpt') and not out:
        raise ScenarioError(f'{where}: {kind} needs at least one value')
    return out


def _typed(value: Any, kind: type, where: str):
    if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        if not math.isfinite(value) or value < 0:
            raise ScenarioError(f'{where}: {value} is not a finite value >= 0')
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if kind in (str, bool) and isinstance(value, kind):
        return value
    raise ScenarioError(f'{where}: {value!r} is not {TYPE_NAMES[kind]}')


def timeout_of(step: Step) -> float:
    return step.args.get('timeout', DEFAULT_TIMEOUT_S)


def request_fields(step: Step) -> dict:
    """The start_charging request of a start step."""
    args = step.args
    out = {'energy_transfer_mode': args['mode'],
           'payment_option': args.get('payment_option', ''),
           'enforce_payment_option': args.get('enforce_payment_option', False)}
    if 'departure_time' in args:
        out.update(has_departure_time=True, departure_time=args['departure_time'])
    if 'e_amount' in args:
        out.update(has_e_amount=True, e_amount=args['e_amount'])
    return out
