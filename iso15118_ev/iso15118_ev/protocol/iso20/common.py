"""What the ISO 15118-20 modules share: the session's choices, repeats while the charger is
busy, the charger's notifications and the values read from its responses."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Dict, Mapping, Optional, Set

from ...vehicle.model import EvModel
from ..context import Context
from ..values import rational, read_rational

if TYPE_CHECKING:
    from .schedules import ScheduleTuple

logger = logging.getLogger('iso15118_ev.protocol.iso20')

SCHEDULED, DYNAMIC = 'Scheduled', 'Dynamic'
Values = Callable[[Mapping], Dict[str, float]]


@dataclass
class Iso20Session:
    """What the EV chose and learnt in this session."""

    protocol: str                       # ISO_15118_20_DC or ISO_15118_20_AC
    service: str                        # energy service: DC, DC_BPT, AC or AC_BPT
    service_id: int = 0
    parameter_set_id: int = 0
    control_mode: str = ''              # SCHEDULED or DYNAMIC
    schedule: Optional['ScheduleTuple'] = None   # Scheduled: the tuple the EV follows
    departure_at: float = 0.0           # time.monotonic() of the departure the EV announced
    pre_charge_started: bool = False    # DC: the charger's output may be live
    power_started: bool = False         # PowerDelivery(Start) was answered
    ac_target_power: Optional[float] = None   # AC: the charger's last target (W, all phases)
    authorization: str = ''             # CONTRACT (PnC) or EXTERNAL_PAYMENT (EIM)
    gen_challenge: str = ''             # PnC: the charger's challenge (base64)
    authorization_refused: str = ''     # why the charger refused the authorization
    noted: Set[str] = field(default_factory=set)   # what was logged once

    @property
    def is_dc(self) -> bool:
        return self.service.startswith('DC')

    @property
    def bidirectional(self) -> bool:
        return self.service.endswith('_BPT')

    @property
    def scheduled(self) -> bool:
        return self.control_mode == SCHEDULED

    def departure_time_s(self) -> int:
        """Seconds from now to the departure announced in ScheduleExchange."""
        return max(0, round(self.departure_at - time.monotonic()))

    def note_once(self, key: str, message: str, *args) -> None:
        if key not in self.noted:
            self.noted.add(key)
            logger.info(message, *args)


def r(value: float) -> dict:
    """A RationalNumber."""
    return rational(value)


def charger_notification(ctx: Context, s: Iso20Session, name: str, body: Mapping) -> str:
    """The EVSENotification of a response ('' without EVSEStatus): Terminate and Pause are
    told to the EV (the session then ends in order); ExitStandby, ServiceRenegotiation and
    MeteringConfirmation are logged once and the session goes on; ScheduleRenegotiation is
    for the caller to act on."""
    status = body.get('EVSEStatus')
    if status is None:
        return ''
    note = status['EVSENotification']
    detail = f'{name}: EVSENotification {note}'
    if note == 'Terminate':
        ctx.charger_stops(detail)
    elif note == 'Pause':
        ctx.charger_pauses(detail)
    elif note == 'ExitStandby':
        s.note_once(note, '%s: the EV is not in standby; it goes on', detail)
    elif note == 'ServiceRenegotiation':
        s.note_once(note, '%s: service renegotiation is not supported; the EV goes on with '
                    'the services selected', detail)
    elif note == 'MeteringConfirmation':
        s.note_once(note, '%s: MeteringConfirmation needs signed meter data (Plug & Charge); '
                    'with EIM the EV goes on without one', detail)
    return note


def log_warning(s: Iso20Session, name: str, body: Mapping) -> Optional[str]:
    """A WARNING_* response code (logged once per message and code), or None."""
    code = body.get('ResponseCode', '')
    if not code.startswith('WARNING'):
        return None
    s.note_once(f'{name}:{code}', '%s: ResponseCode %s', name, code)
    return code


def read_values(body: Optional[Mapping], names: Mapping[str, str]) -> Dict[str, float]:
    """{our name: value} of the RationalNumbers `names` (schema name -> ours) in `body`."""
    if not body:
        return {}
    return {ours: read_rational(body[theirs]) for theirs, ours in names.items()
            if theirs in body}


def optional_element_ending(body: Mapping, suffix: str) -> Optional[Mapping]:
    """The child whose name ends with `suffix` (a substitution group member, e.g. the BPT_ or
    Dynamic_ form of a control mode), or None."""
    for key, value in body.items():
        if key.endswith(suffix):
            return value
    return None


def energy_requests(model: EvModel) -> dict:
    return {'EVTargetEnergyRequest': r(model.energy_request_wh()),
            'EVMaximumEnergyRequest': r(model.maximum_energy_request_wh()),
            'EVMinimumEnergyRequest': r(model.minimum_energy_request_wh())}


def display_parameters(model: EvModel) -> dict:
    out = {'PresentSOC': model.soc()}
    if model.bidirectional:
        out['MinimumSOC'] = model.minimum_soc()
    out.update(TargetSOC=model.target_soc(), ChargingComplete=model.charging_complete,
               BatteryEnergyCapacity=r(model.dc.energy_capacity))
    return out
