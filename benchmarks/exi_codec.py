"""EXI codec benchmark: the native codec against EXIficient (the iso15118 package's jar, py4j).

For every message type of every namespace it times encode and decode with both codecs, warm
(median of repeated calls) and cold (the first call of that message type: for EXIficient in a
freshly started JVM, for ours in a fresh codec that loads its grammars on first use), and
prints the ratios. Also prints start-up costs (JVM start; our grammars loaded from the shipped
data files and built from the XSDs) and the CurrentDemandReq/Res figures the issue's goal is
about.

    source scripts/activate.sh kilted
    python benchmarks/exi_codec.py [--repeat 200] [--only CurrentDemand]

Message instances: CurrentDemandReq/Res (DIN, -2) and DC_ChargeLoopReq/Res (-20) are the ones a
DC session sends; every other type is the smallest schema-valid instance hypothesis generates
from the schema (test/exi_support/strategies.py), the same for both codecs.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / 'iso15118_ev'), str(ROOT / 'iso15118_ev' / 'test')]

from iso15118_ev.codec import NativeExiCodec  # noqa: E402
from iso15118_ev.codec.schemas import ISO2, SCHEMA_FILES  # noqa: E402

PHYSICAL = {'Multiplier': 0, 'Unit': 'V', 'Value': 400}
SESSION_MESSAGES = {
    (ISO2, 'CurrentDemandReq'): {'V2G_Message': {
        'Header': {'SessionID': 'A1B2C3D4E5F60708'}, 'Body': {'CurrentDemandReq': {
            'DC_EVStatus': {'EVReady': True, 'EVErrorCode': 'NO_ERROR', 'EVRESSSOC': 55},
            'EVTargetCurrent': {'Multiplier': 0, 'Unit': 'A', 'Value': 100},
            'EVMaximumVoltageLimit': PHYSICAL,
            'EVMaximumCurrentLimit': {'Multiplier': 0, 'Unit': 'A', 'Value': 300},
            'EVMaximumPowerLimit': {'Multiplier': 3, 'Unit': 'W', 'Value': 150},
            'BulkChargingComplete': False, 'ChargingComplete': False,
            'RemainingTimeToFullSoC': {'Multiplier': 0, 'Unit': 's', 'Value': 1800},
            'RemainingTimeToBulkSoC': {'Multiplier': 0, 'Unit': 's', 'Value': 1200},
            'EVTargetVoltage': {'Multiplier': 0, 'Unit': 'V', 'Value': 380}}}}},
    (ISO2, 'CurrentDemandRes'): {'V2G_Message': {
        'Header': {'SessionID': 'A1B2C3D4E5F60708'}, 'Body': {'CurrentDemandRes': {
            'ResponseCode': 'OK',
            'DC_EVSEStatus': {'NotificationMaxDelay': 0, 'EVSENotification': 'None',
                              'EVSEIsolationStatus': 'Valid',
                              'EVSEStatusCode': 'EVSE_Ready'},
            'EVSEPresentVoltage': {'Multiplier': 0, 'Unit': 'V', 'Value': 379},
            'EVSEPresentCurrent': {'Multiplier': 0, 'Unit': 'A', 'Value': 99},
            'EVSECurrentLimitAchieved': False, 'EVSEVoltageLimitAchieved': False,
            'EVSEPowerLimitAchieved': False,
            'EVSEMaximumVoltageLimit': {'Multiplier': 0, 'Unit': 'V', 'Value': 900},
            'EVSEMaximumCurrentLimit': {'Multiplier': 0, 'Unit': 'A', 'Value': 300},
            'EVSEMaximumPowerLimit': {'Multiplier': 3, 'Unit': 'W', 'Value': 150},
            'EVSEID': 'DE*ICE*E1234567*1', 'SAScheduleTupleID': 1,
            'ReceiptRequired': False}}}},
}


def machine() -> str:
    cpu = next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo')
                if line.startswith('model name')), platform.processor())
    return f'{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}'


def timed(call, repeat: int) -> float:
    """Median seconds of one call over `repeat` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def smallest_instances(only: str) -> list[tuple[str, str, dict]]:
    from exi_support.strategies import message, message_names
    from hypothesis import HealthCheck, given, settings

    found = []
    for namespace in SCHEMA_FILES:
        for name in message_names(namespace):
            if only not in name:
                continue
            key = (namespace, name)
            if key in SESSION_MESSAGES:
                found.append((namespace, name, SESSION_MESSAGES[key]))
                continue
            try:
                strategy = message(namespace, name)
            except Exception:  # noqa: BLE001 - the jar cannot encode it: not comparable
                continue
            drawn = []

            @settings(max_examples=1, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(strategy)
            def first(document):
                drawn.append(document)
            first()
            found.append((namespace, name, drawn[0]))
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeat', type=int, default=200, help='calls per warm median')
    parser.add_argument('--only', default='', help='only message names containing this')
    args = parser.parse_args()
    messages = smallest_instances(args.only)

    start = time.perf_counter()
    cold_native = NativeExiCodec()
    cold_rows = {}
    for namespace, name, document in messages:  # cold: grammars loaded on first use
        text = json.dumps(document)
        t0 = time.perf_counter()
        data = cold_native.encode(text, namespace)
        t1 = time.perf_counter()
        cold_native.decode(data, namespace)
        cold_rows[(namespace, name)] = (t1 - t0, time.perf_counter() - t1)
    native_first_use = time.perf_counter() - start

    from iso15118_ev.codec.generate import build_namespace
    t0 = time.perf_counter()
    for namespace in SCHEMA_FILES:
        build_namespace(namespace)
    build_all = time.perf_counter() - t0
    prepared = NativeExiCodec()
    t0 = time.perf_counter()
    for namespace in SCHEMA_FILES:
        prepared.prepare(namespace)
    prepare_all = time.perf_counter() - t0

    from iso15118_ev_testing.exificient import CappedExificientCodec
    t0 = time.perf_counter()
    jar = CappedExificientCodec(256)
    jvm_start = time.perf_counter() - t0

    print(f'machine: {machine()}')
    print(f'EXIficient JVM start: {jvm_start * 1000:.0f} ms; native grammars of all '
          f'{len(SCHEMA_FILES)} namespaces: {prepare_all * 1000:.0f} ms from the data files, '
          f'{build_all * 1000:.0f} ms built from the XSDs (schemas already parsed); first use '
          f'of every type in a fresh codec: {native_first_use * 1000:.0f} ms')
    header = (f'{"namespace":<14}{"message":<40}{"bytes":>6}  {"native enc/dec µs":>18}  '
              f'{"jar enc/dec µs warm":>20}  {"jar cold ms":>12}  {"native cold ms":>14}  '
              f'{"ratio warm":>10}')
    print(header)
    ratios = []
    for namespace, name, document in messages:
        text = json.dumps(document)
        data = prepared.encode(text, namespace)
        t0 = time.perf_counter()
        jar_bytes = bytes(jar.encode(text, namespace))
        t1 = time.perf_counter()
        jar.decode(jar_bytes, namespace)
        jar_cold = (t1 - t0, time.perf_counter() - t1)
        same = 'same' if jar_bytes == data else 'DIFFERENT'
        native_enc = timed(lambda: prepared.encode(text, namespace), args.repeat)
        native_dec = timed(lambda: prepared.decode(data, namespace), args.repeat)
        jar_repeat = max(10, args.repeat // 10)
        jar_enc = timed(lambda: jar.encode(text, namespace), jar_repeat)
        jar_dec = timed(lambda: jar.decode(jar_bytes, namespace), jar_repeat)
        ratio = (jar_enc + jar_dec) / (native_enc + native_dec)
        ratios.append((namespace, name, native_enc + native_dec, ratio))
        short = namespace.rsplit(':', 1)[-1][:13]
        cold = cold_rows[(namespace, name)]
        print(f'{short:<14}{name[:39]:<40}{len(data):>6}  '
              f'{native_enc * 1e6:>8.1f}/{native_dec * 1e6:<9.1f}  '
              f'{jar_enc * 1e6:>9.0f}/{jar_dec * 1e6:<10.0f}  '
              f'{sum(jar_cold) * 1e3:>12.1f}  {sum(cold) * 1e3:>14.1f}  {ratio:>9.0f}x'
              f'  {same}')
    jar.shutdown()
    print()
    for namespace, name, pair, ratio in ratios:
        if 'CurrentDemand' in name or 'DC_ChargeLoop' in name:
            print(f'{name} ({namespace}): native encode+decode {pair * 1e3:.3f} ms, '
                  f'{ratio:.0f}x faster than EXIficient (warm)')
    if ratios:
        print(f'all {len(ratios)} types: ratio min {min(r[3] for r in ratios):.0f}x, median '
              f'{statistics.median(r[3] for r in ratios):.0f}x; native encode+decode median '
              f'{statistics.median(r[2] for r in ratios) * 1e3:.3f} ms, max '
              f'{max(r[2] for r in ratios) * 1e3:.3f} ms')
    return 0


if __name__ == '__main__':
    sys.exit(main())
