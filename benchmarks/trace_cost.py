"""What the V2G message trace costs in the charge loop: ISO 15118-2 DC sessions of the library EV
(with its real session tracker) against the scripted test charger (the project's codec, a real
TCP server on ::1 in the same process), CurrentDemand requests per second over the loop, and
the process's CPU time per loop (EV and scripted charger together; the difference between
variants is the trace's):

- `no trace`: `Context._trace` replaced by a no-op (the engine before the trace existed);
- `trace`: the default, a V2gMessage event per message sent and received;
- `trace + debug`: v2g_messages_debug, each event also carries the decoded JSON and raw EXI;
- `trace, node clock`: stamped with an rclpy node's clock as the node reads it (time.time
  otherwise).

The charge loop runs back to back (the EV sends its next request as soon as the response is
read), so the rate is the inverse of the EV's and the scripted charger's work per loop. The
variants alternate, ROUNDS times each; medians are printed. On a shared machine both follow
the other processes' load, so the hook's own cost is also timed alone: `Context._trace` and
the observer's flush to the tracker and its sink, for one CurrentDemandRes (best of 7 runs
of 20000).

    source scripts/activate.sh kilted && python benchmarks/trace_cost.py
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
import timeit
from types import SimpleNamespace
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / 'iso15118_ev' / 'test'
sys.path.insert(0, str(TESTS))

from iso15118_ev.codec import NativeExiCodec  # noqa: E402
from iso15118_ev.codec import namespaces as ns  # noqa: E402
from iso15118_ev.protocol.context import BufferedObserver, Context  # noqa: E402
from iso15118_ev.protocol.timers import Timeouts  # noqa: E402
from iso15118_ev.session.tracker import SessionTracker  # noqa: E402
from iso15118_ev.session.v2g import V2gSettings, run_v2g_session  # noqa: E402
from iso15118_ev.transport.v2gtp import HEADER_LENGTH  # noqa: E402
from iso15118_ev.vocabulary import ISO2, Direction  # noqa: E402
from support.scripted_charger import model_for  # noqa: E402
from test_protocol_iso2 import Charger, Iso2Charger, when  # noqa: E402

VARIANTS = ('no trace', 'trace', 'trace + debug', 'trace, node clock')


async def one_session(loops: int, variant: str, node_clock):
    """(CurrentDemand requests per second, CPU seconds per loop) of one session's charge loop."""
    model = model_for('DC_extended')
    charger = Iso2Charger(ISO2, None)
    handle = when(model, charger.names, 'CurrentDemandReq', loops)(Charger())
    cpu = []

    def timed(name, body):
        if name == 'CurrentDemandReq':
            cpu.append(time.process_time())
        return handle(name, body)
    charger.handler = timed
    events = []
    tracker = SessionTracker(model, events.append)   # the node's sink only queues, too
    tracker.begin('DC_extended')
    settings = V2gSettings((ISO2,), Timeouts(), bytes(6), trace_detail=variant.endswith('debug'),
                           trace_clock=node_clock if variant.endswith('clock') else time.time)
    secc = await charger.start()
    original = Context._trace
    if variant == 'no trace':
        Context._trace = lambda *args: None
    try:
        outcome = await run_v2g_session(secc, settings, model, tracker, charger.codec)
    finally:
        Context._trace = original
        await charger.close()
    assert outcome.reason.name == 'STOPPED_BY_EV', outcome
    times = [t for t, name, _ in charger.requests if name == 'CurrentDemandReq']
    return (len(times) - 1) / (times[-1] - times[0]), (cpu[-1] - cpu[0]) / (len(cpu) - 1)


def per_message(detail: bool, clock) -> float:
    """Seconds the trace adds to one received CurrentDemandRes, measured alone."""
    payload = Iso2Charger(ISO2, None).response(
        'CurrentDemandReq', Charger().CurrentDemandReq({}))[HEADER_LENGTH:]
    document = NativeExiCodec().decode_object(payload, ns.ISO2)
    events = []
    tracker = SessionTracker(model_for('DC_extended'), events.append)
    ctx = SimpleNamespace(observer=BufferedObserver(tracker), protocol=ISO2,
                          trace_detail=detail, trace_clock=clock)

    def once():
        Context._trace(ctx, Direction.CHARGER_TO_EV, 'CurrentDemandRes', 'A1B2C3D4E5F60708',
                       ns.ISO2, payload, document, clock())
        ctx.observer.flush()
        events.clear()
    return min(timeit.repeat(once, number=20000, repeat=7)) / 20000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--loops', type=int, default=1000)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args()
    rates, cpu = {v: [] for v in VARIANTS}, {v: [] for v in VARIANTS}
    import rclpy
    rclpy.init()
    node = rclpy.create_node('trace_cost')
    from iso15118_ev_ros.trace_topics import TraceTopics
    node_clock = TraceTopics(node)._clock_seconds   # as the node reads its clock
    asyncio.run(one_session(50, 'trace', node_clock))   # warm up: grammars loaded
    for _ in range(args.rounds):
        for variant in VARIANTS:
            rate, cpu_per_loop = asyncio.run(one_session(args.loops, variant, node_clock))
            rates[variant].append(rate)
            cpu[variant].append(cpu_per_loop)
    print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python '
          f'{platform.python_version()}, load {os.getloadavg()[0]:.2f}; '
          f'{args.loops} loops x {args.rounds} rounds')
    base = statistics.median(cpu['no trace'])
    for variant in VARIANTS:
        rate, per_loop = statistics.median(rates[variant]), statistics.median(cpu[variant])
        print(f'{variant:17s} {rate:6.0f} requests/s (min {min(rates[variant]):.0f}, max '
              f'{max(rates[variant]):.0f}); CPU {1e6 * per_loop:6.1f} us per loop '
              f'({1e6 * (per_loop - base):+.1f} us)')
    print('the hook alone, per message (a charge loop has two):')
    for variant, detail, clock in (('trace', False, time.time), ('trace + debug', True, time.time),
                                   ('trace, node clock', False, node_clock)):
        print(f'{variant:17s} {1e6 * per_message(detail, clock):6.2f} us')


if __name__ == '__main__':
    main()
