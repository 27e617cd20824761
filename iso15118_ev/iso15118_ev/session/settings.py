"""Settings of one EV (the node fills them from its parameters)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Tuple

from ..protocol.timers import Timeouts
from ..transport.sdp import SDP_MAX_REQUESTS, SDP_MIN_INTERVAL_S
from ..vehicle.parameters import DcEvBptParameters, DcEvParameters
from ..vehicle.control_pilot import SIMULATED
from .data_link import DataLinkSettings
from ..vocabulary import ALL_PROTOCOLS

ISO20_SERVICES = ('DC', 'DC_BPT', 'AC', 'AC_BPT')
CONTROL_MODES = ('auto', 'scheduled', 'dynamic')   # ISO 15118-20 control mode the EV picks


@dataclass(frozen=True)
class EvSettings:
    plc_interface: str = ''             # required: the interface to the charger, or 'auto'
    protocols: Tuple[str, ...] = ALL_PROTOCOLS      # priority order, highest first
    iso20_services: Tuple[str, ...] = ISO20_SERVICES
    iso20_control_mode: str = 'auto'                # auto: Scheduled if offered, else Dynamic
    use_tls: bool = False
    enforce_tls: bool = False
    pki_path: str = ''                  # this EV's PKI folder (files: security/identity.py)
    force_certificate_installation: bool = False   # Plug & Charge: install even if valid
    contract_update_within_days: float = 14.0     # renew a contract this close to expiry
    sdp_max_requests: int = SDP_MAX_REQUESTS
    sdp_interval_s: float = SDP_MIN_INTERVAL_S
    timeouts: Timeouts = field(default_factory=Timeouts)
    dc: DcEvParameters = field(default_factory=DcEvParameters)
    bpt: DcEvBptParameters = field(default_factory=DcEvBptParameters)
    soc_percent: float = 20.0
    control_pilot: str = SIMULATED      # vehicle/control_pilot.py: simulated or external
    slac: Optional[DataLinkSettings] = None   # None: the link exists (no SLAC); data_link.py
    start_on_plug: str = ''             # energy transfer mode started on plug-in ('' = wait)
    v2g_messages_debug: bool = False    # V2gMessage events carry decoded JSON and raw EXI
    # What V2gMessage and DcEvsePresent are stamped with when a message is sent / received:
    # the node's clock (ROS time), so the stamps need no conversion (s).
    trace_clock: Callable[[], float] = time.time
