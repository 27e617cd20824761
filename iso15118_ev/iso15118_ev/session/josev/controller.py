"""Josev's pull-based EV controller, answered from our EvModel instead of fixed simulator values."""
from __future__ import annotations

import logging
from typing import Callable, List

from iso15118.evcc.controller.interface import ChargeParamsV2
from iso15118.evcc.controller.simulator import SimEVController
from iso15118.evcc.evcc_config import EVCCConfig
from iso15118.shared.messages.datatypes import (
    DCEVChargeParams,
    PVEVEnergyCapacity,
    PVEVMaxCurrentLimit,
    PVEVMaxPowerLimit,
    PVEVMaxVoltageLimit,
    PVEVTargetCurrent,
    PVEVTargetVoltage,
    get_exponent_value_repr,
)
from iso15118.shared.messages.enums import (
    EnergyTransferModeEnum,
    Protocol,
    ServiceV20,
    UnitSymbol,
)
from iso15118.shared.messages.iso15118_2.datatypes import (
    ACEVChargeParameter,
    DCEVChargeParameter,
    DCEVPowerDeliveryParameter,
    DCEVStatus,
    PVEAmount,
    PVEVEnergyRequest,
    PVEVMaxCurrent,
    PVEVMaxVoltage,
    PVEVMinCurrent,
)
from iso15118.shared.messages.iso15118_20.common_messages import (
    MatchedService,
    SelectedEnergyService,
)
from iso15118.shared.messages.iso15118_20.common_types import (
    DisplayParameters,
    RationalNumber,
)
from iso15118.shared.messages.iso15118_20.dc import (
    BPTDCChargeParameterDiscoveryReqParams,
    BPTScheduledDCChargeLoopReqParams,
    DCChargeParameterDiscoveryReqParams,
    ScheduledDCChargeLoopReqParams,
)

from ...vehicle.model import EvModel

logger = logging.getLogger(__name__)

AC_MAX_CURRENT_A = 32.0
AC_MAX_VOLTAGE_V = 400.0
AC_MIN_CURRENT_A = 6.0
AC_PRESENT_POWER_W = 11000.0


def pv(cls, value: float, unit):
    """An ISO 15118-2 / DIN physical value (int16 value with a 10^-3..10^3 multiplier)."""
    multiplier, mantissa = get_exponent_value_repr(value)
    return cls(multiplier=multiplier, value=mantissa, unit=unit)


def rational(value: float) -> RationalNumber:
    return RationalNumber.get_rational_repr(value)


class ModelEvController(SimEVController):
    """Answers the EVCC state machine's questions from `EvModel`.

    `on_pre_charged` is called once when pre-charge is accepted (the node's dc_power_on).
    """

    def __init__(self, config: EVCCConfig, model: EvModel,
                 on_pre_charged: Callable[[float], None]):
        super().__init__(config)
        self.model = model
        self._on_pre_charged = on_pre_charged

    # --- session control -------------------------------------------------------------
    async def continue_charging(self) -> bool:
        return not self.model.wants_to_end

    async def ready_to_charge(self) -> bool:
        return not self.model.wants_to_end

    async def is_charging_complete(self) -> bool:
        return self.model.wants_to_end

    async def charge_loop_delay(self) -> int:
        return 0

    async def stop_charging(self) -> None:
        self.model.stop_requested = True

    async def is_precharged(self, present_voltage_evse) -> bool:
        voltage = present_voltage_evse.get_decimal_value()
        done = self.model.is_pre_charged(voltage)
        if done and not self.model.pre_charged:
            self.model.pre_charged = True
            self._on_pre_charged(voltage)
        return done

    # --- what the EV asks for ----------------------------------------------------------
    async def get_energy_transfer_mode(self, protocol: Protocol) -> EnergyTransferModeEnum:
        return EnergyTransferModeEnum(self.model.mode.iso2_mode)

    async def get_supported_energy_services(self) -> List[ServiceV20]:
        return [ServiceV20[self.model.mode.iso20_service]]

    async def select_energy_service_v20(self, services: List[MatchedService]) -> SelectedEnergyService:
        wanted = ServiceV20[self.model.mode.iso20_service]
        chosen = next((s for s in services if s.service == wanted), services[0])
        return SelectedEnergyService(service=chosen.service, is_free=chosen.is_free,
                                     parameter_set=chosen.parameter_sets[0])

    async def select_vas_services_v20(self, services):
        return []

    async def get_dc_charge_params(self) -> DCEVChargeParams:
        dc = self.model.dc
        return DCEVChargeParams(
            dc_max_current_limit=pv(PVEVMaxCurrentLimit, dc.max_current_limit, UnitSymbol.AMPERE),
            dc_max_power_limit=pv(PVEVMaxPowerLimit, dc.max_power_limit, UnitSymbol.WATT),
            dc_max_voltage_limit=pv(PVEVMaxVoltageLimit, dc.max_voltage_limit, UnitSymbol.VOLTAGE),
            dc_energy_capacity=pv(PVEVEnergyCapacity, dc.energy_capacity, UnitSymbol.WATT_HOURS),
            dc_target_current=pv(PVEVTargetCurrent, self.model.request_current(), UnitSymbol.AMPERE),
            dc_target_voltage=pv(PVEVTargetVoltage, dc.target_voltage, UnitSymbol.VOLTAGE),
        )

    async def get_dc_ev_power_delivery_parameter(self) -> DCEVPowerDeliveryParameter:
        # The simulator's version reports continue_charging() as "charging complete".
        return DCEVPowerDeliveryParameter(dc_ev_status=await self.get_dc_ev_status(),
                                          bulk_charging_complete=False,
                                          charging_complete=self.model.charging_complete)

    async def get_dc_ev_status(self) -> DCEVStatus:
        status = await super().get_dc_ev_status()
        return status.copy(update={'ev_ress_soc': int(self.model.soc_percent)})

    async def get_dc_ev_status_dinspec(self):
        status = await super().get_dc_ev_status_dinspec()
        return status.copy(update={'ev_ress_soc': int(self.model.soc_percent)})

    async def get_charge_params_v2(self, protocol: Protocol) -> ChargeParamsV2:
        mode = await self.get_energy_transfer_mode(protocol)
        departure = self._departure_time()
        if not self.model.mode.is_dc:
            ac = ACEVChargeParameter(
                departure_time=departure,
                e_amount=pv(PVEAmount, self._energy_wanted_wh(), UnitSymbol.WATT_HOURS),
                ev_max_voltage=pv(PVEVMaxVoltage, AC_MAX_VOLTAGE_V, UnitSymbol.VOLTAGE),
                ev_max_current=pv(PVEVMaxCurrent, AC_MAX_CURRENT_A, UnitSymbol.AMPERE),
                ev_min_current=pv(PVEVMinCurrent, AC_MIN_CURRENT_A, UnitSymbol.AMPERE),
            )
            return ChargeParamsV2(mode, ac, None)
        params = await self.get_dc_charge_params()
        dc = DCEVChargeParameter(
            departure_time=departure,
            dc_ev_status=await self.get_dc_ev_status(),
            ev_maximum_current_limit=params.dc_max_current_limit,
            ev_maximum_power_limit=params.dc_max_power_limit,
            ev_maximum_voltage_limit=params.dc_max_voltage_limit,
            ev_energy_capacity=params.dc_energy_capacity,
            ev_energy_request=pv(PVEVEnergyRequest, self._energy_wanted_wh(), UnitSymbol.WATT_HOURS),
            full_soc=100,
            bulk_soc=80,
        )
        return ChargeParamsV2(mode, None, dc)

    async def get_charge_params_v20(self, selected_service: SelectedEnergyService):
        if selected_service.service in (ServiceV20.AC, ServiceV20.AC_BPT):
            return await super().get_charge_params_v20(selected_service)
        dc = self.model.dc
        params = DCChargeParameterDiscoveryReqParams(
            ev_max_charge_power=rational(dc.max_power_limit),
            ev_min_charge_power=rational(0),
            ev_max_charge_current=rational(dc.max_current_limit),
            ev_min_charge_current=rational(0),
            ev_max_voltage=rational(dc.max_voltage_limit),
            ev_min_voltage=rational(0),
        )
        if selected_service.service != ServiceV20.DC_BPT:
            return params
        bpt = self.model.bpt
        return BPTDCChargeParameterDiscoveryReqParams(
            **params.dict(),
            ev_max_discharge_power=rational(bpt.discharge_max_power_limit),
            ev_min_discharge_power=rational(0),
            ev_max_discharge_current=rational(bpt.discharge_max_current_limit),
            ev_min_discharge_current=rational(0),
        )

    async def get_scheduled_dc_charge_loop_params(self) -> ScheduledDCChargeLoopReqParams:
        dc = self.model.dc
        return ScheduledDCChargeLoopReqParams(
            ev_target_current=rational(dc.target_current),
            ev_target_voltage=rational(dc.target_voltage),
            ev_max_charge_power=rational(dc.max_power_limit),
            ev_max_charge_current=rational(dc.max_current_limit),
            ev_max_voltage=rational(dc.max_voltage_limit),
        )

    async def get_bpt_scheduled_dc_charge_loop_params(self) -> BPTScheduledDCChargeLoopReqParams:
        bpt = self.model.bpt
        return BPTScheduledDCChargeLoopReqParams(
            **(await self.get_scheduled_dc_charge_loop_params()).dict(),
            ev_max_discharge_power=rational(bpt.discharge_max_power_limit),
            ev_max_discharge_current=rational(bpt.discharge_max_current_limit),
        )

    async def get_present_voltage(self) -> RationalNumber:
        return rational(self.model.dc.target_voltage)

    async def get_target_voltage(self) -> RationalNumber:
        return rational(self.model.dc.target_voltage)

    async def get_display_params(self) -> DisplayParameters:
        return DisplayParameters(present_soc=int(self.model.soc_percent),
                                 charging_complete=self.model.charging_complete)

    # --- helpers ------------------------------------------------------------------------
    def _departure_time(self) -> int:
        request = self.model.request
        return request.departure_time_s if request and request.departure_time_s is not None else 0

    def _energy_wanted_wh(self) -> float:
        request = self.model.request
        if request and request.e_amount_kwh is not None:
            return request.e_amount_kwh * 1000.0
        missing = (100.0 - self.model.soc_percent) / 100.0 * self.model.dc.energy_capacity
        return max(missing, 0.0)


