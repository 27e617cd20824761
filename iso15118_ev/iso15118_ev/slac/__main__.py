"""One SLAC matching on a PLC interface, for bring-up on real hardware and for tests:

    python -m iso15118_ev.slac --interface eth1 [--modem-mac 00:b0:52:00:00:01] [--tt-match-join 12]

Prints one line `SLAC matched|failed ...` and exits 0 when matched, 1 when not, 2 on bad use.
Needs CAP_NET_RAW.
"""
import argparse
import asyncio
import logging
import sys

from .ev import SlacSession, SlacSettings
from .link import RawLink
from .mme import mac_text


def _mac(text: str) -> bytes:
    raw = bytes.fromhex(text.replace(':', ''))
    if len(raw) != 6:
        raise argparse.ArgumentTypeError(f'not a MAC address: {text}')
    return raw


async def _run(args) -> int:
    settings = SlacSettings(modem_mac=args.modem_mac, tt_match_join_s=args.tt_match_join)
    link = RawLink(args.interface)
    try:
        result = await SlacSession(link, settings).run()
    finally:
        link.close()
    if result.matched:
        print(f'SLAC matched charger={mac_text(result.charger_mac)} nid={result.nid.hex()} '
              f'nmk={result.nmk.hex()} attenuation_db={result.average_attenuation_db:.1f} '
              f'chargers={len(result.chargers)}', flush=True)
        return 0
    print(f'SLAC failed reason={result.failure.value} message={result.message}', flush=True)
    return 1


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description='EV-side SLAC (ISO 15118-3) on one interface')
    parser.add_argument('--interface', required=True)
    parser.add_argument('--modem-mac', type=_mac, default=_mac('00:b0:52:00:00:01'))
    parser.add_argument('--tt-match-join', type=float, default=SlacSettings.tt_match_join_s)
    parser.add_argument('--verbose', action='store_true')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        return asyncio.run(_run(args))
    except OSError as error:
        print(f'SLAC failed reason=link_error message={error}', flush=True)
        return 1


if __name__ == '__main__':
    sys.exit(main())
