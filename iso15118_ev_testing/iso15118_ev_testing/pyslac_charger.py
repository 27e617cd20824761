"""Run with the pyslac venv's python, inside the charger's namespace: pyslac's own EVSE SLAC
session (SlacEvseSession + SlacSessionController, unchanged) on one interface.

Prints `PYSLAC READY NID=<hex> NMK=<hex>` once its modem has the key and the matching waits
for the EV (pyslac first sets a fresh NMK on its modem and settles for 10 s).
"""
import asyncio
import sys
import tempfile
from pathlib import Path

from pyslac.environment import Config
from pyslac.session import SlacEvseSession, SlacSessionController


async def main(interface: str) -> None:
    config = Config()
    with tempfile.TemporaryDirectory() as folder:  # pyslac's defaults: an empty .env file
        Path(folder, '.env').write_text('')
        config.load_envs(str(Path(folder, '.env')))
    session = SlacEvseSession(f'EVSE-{interface}', interface, config)
    await session.evse_set_key()
    await SlacSessionController().process_cp_state(session, 'B')
    await asyncio.sleep(0.3)  # its matching task has opened its socket
    print(f'PYSLAC READY NID={session.nid.hex()} NMK={session.nmk.hex()}', flush=True)
    await asyncio.sleep(3600)


if __name__ == '__main__':
    asyncio.run(main(sys.argv[1]))
