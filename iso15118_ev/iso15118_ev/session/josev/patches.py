"""Process-wide patches of the `iso15118` package's EVCC states, installed once.

Each one asks the running session (an `ObservedSession`, through the attribute named below)
what to do, so sessions stay independent and a plain Josev session is unaffected.
- `StateEVCC.check_msg` -> `response_hook(message)`: every state checks every charger response
  here, but the package never tells its EV controller what the charger sent.
- ISO 15118-2 `ServiceDiscovery.select_auth_mode` -> `payment_choice(offered, chosen)`: the
  package picks Plug & Charge under TLS, else external payment; start_charging may ask otherwise.
- ISO 15118-2 `ServiceDiscovery.select_services` -> `extra_services(response)`: the package
  selects value-added services only for certificates; the EV may want SAE J2847/2 V2H/V2G.
"""
from __future__ import annotations

from iso15118.evcc.states import iso15118_2_states as iso2
from iso15118.evcc.states.evcc_state import StateEVCC
from iso15118.shared.messages.datatypes import SelectedService

_installed = False


def install_patches() -> None:
    global _installed
    if _installed:
        return
    _installed = True
    _wrap_check_msg()
    _wrap_select_auth_mode()
    _wrap_select_services()


def _wrap_check_msg() -> None:
    original = StateEVCC.check_msg

    def check_msg(self, message, *args, **kwargs):
        hook = getattr(self.comm_session, 'response_hook', None)
        if hook is not None:
            hook(message)
        return original(self, message, *args, **kwargs)

    StateEVCC.check_msg = check_msg


def _wrap_select_auth_mode() -> None:
    original = iso2.ServiceDiscovery.select_auth_mode

    def select_auth_mode(self, auth_option_list):
        original(self, auth_option_list)
        choose = getattr(self.comm_session, 'payment_choice', None)
        if choose is not None:
            self.comm_session.selected_auth_option = choose(
                list(auth_option_list), self.comm_session.selected_auth_option)

    iso2.ServiceDiscovery.select_auth_mode = select_auth_mode


def _wrap_select_services() -> None:
    original = iso2.ServiceDiscovery.select_services

    async def select_services(self, service_discovery_res):
        await original(self, service_discovery_res)
        wanted = getattr(self.comm_session, 'extra_services', None)
        if wanted is None:
            return
        for service_id in wanted(service_discovery_res):
            self.comm_session.service_details_to_request.append(service_id)
            self.comm_session.selected_services.append(SelectedService(service_id=service_id))

    iso2.ServiceDiscovery.select_services = select_services
