"""Settings of the EVCC core (the node fills them from its parameters)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Tuple

from ..vehicle.energy_modes import ALL_PROTOCOLS
from .events import Phase
from ..vehicle.parameters import DcEvBptParameters, DcEvParameters
from ..transport.sdp import SDP_MAX_REQUESTS, SDP_MIN_INTERVAL_S

EXI_CODECS = ('native', 'exificient')  # ours (no Java), or the iso15118 package's JVM codec


@dataclass(frozen=True)
class PhaseTimeouts:
    """Longest time (s) a session may stay in a phase (ISO 15118-2 tables 109, 111; DIN 70121)."""

    communication_setup: float = 20.0   # connected: TCP/TLS up until SessionSetup is done
    sequence: float = 60.0              # negotiating: services, authorization, parameters
    cable_check: float = 40.0
    pre_charge: float = 7.0
    stopping: float = 20.0              # power delivery stop, welding detection, session stop

    def for_phase(self) -> Dict[Phase, float]:
        return {Phase.CONNECTED: self.communication_setup, Phase.NEGOTIATING: self.sequence,
                Phase.CABLE_CHECK: self.cable_check, Phase.PRE_CHARGE: self.pre_charge,
                Phase.STOPPING: self.stopping}


@dataclass(frozen=True)
class CoreSettings:
    plc_interface: str = 'auto'
    protocols: Tuple[str, ...] = ALL_PROTOCOLS
    iso20_services: Tuple[str, ...] = ('DC', 'DC_BPT', 'AC', 'AC_BPT')
    use_tls: bool = False
    enforce_tls: bool = False
    pki_path: str = ''                  # '' = the iso15118 package's default
    sdp_max_requests: int = SDP_MAX_REQUESTS
    sdp_interval_s: float = SDP_MIN_INTERVAL_S
    timeouts: PhaseTimeouts = field(default_factory=PhaseTimeouts)
    dc: DcEvParameters = field(default_factory=DcEvParameters)
    bpt: DcEvBptParameters = field(default_factory=DcEvBptParameters)
    soc_percent: float = 20.0
    exi_codec: str = 'native'           # or 'exificient' (Java)
    jvm_heap_mb: int = 64               # only for exi_codec = 'exificient'
