"""Round-trip every generated message through the jar: encode, decode, compare.

Usage (project venv active):
    python -m exi_support.check_strategies [-n 30] [--seed 0] [--ns SUBSTR] [--msg NAME]
        (run from iso15118_ev_ros/test), or
    python iso15118_ev_ros/test/exi_support/check_strategies.py ...

For each namespace and message name it draws N documents (deterministically, from
the seed), has the jar encode them, decode the bytes, and checks that
json.loads(decoded) == the original dict.  Prints ok/failures per message with the
first failure, and a per-namespace summary.  Exit status 1 if anything failed.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

if __package__ in (None, ''):
    sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), '..')))
    __package__ = 'exi_support'  # noqa: A001

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import seed as hyp_seed  # noqa: E402

from exi_support import strategies as S  # noqa: E402
from exi_support.jar import JarError, shared_jar  # noqa: E402


def draw_examples(strategy, n: int, seed: int) -> list:
    """n examples of strategy, reproducibly (hypothesis generation only, no shrinking)."""
    out: list = []

    @hyp_seed(seed)
    @settings(max_examples=n, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(value):
        if len(out) < n:
            out.append(value)

    collect()
    return out


def _first_diff(a, b, path='') -> str:
    if type(a) is not type(b):
        return f'{path}: {a!r:.200} != {b!r:.200}'
    if isinstance(a, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a:
                return f'{path}/{k}: missing in original, decoded {b[k]!r:.200}'
            if k not in b:
                return f'{path}/{k}: missing in decoded, original {a[k]!r:.200}'
            d = _first_diff(a[k], b[k], f'{path}/{k}')
            if d:
                return d
        return ''
    if isinstance(a, list):
        if len(a) != len(b):
            return f'{path}: list length {len(a)} != {len(b)}'
        for i, (x, y) in enumerate(zip(a, b)):
            d = _first_diff(x, y, f'{path}[{i}]')
            if d:
                return d
        return ''
    return '' if a == b else f'{path}: {a!r:.200} != {b!r:.200}'


def round_trip(jar, doc, namespace: str) -> str:
    """'' if doc survives encode+decode unchanged, else a description of the failure."""
    text = json.dumps(doc)
    try:
        data = jar.encode(text, namespace)
    except JarError as exc:
        return f'encode failed: {exc}'
    try:
        back = json.loads(jar.decode(data, namespace))
    except JarError as exc:
        return f'decode failed: {exc}'
    if back != doc:
        return 'mismatch: ' + _first_diff(doc, back)
    return ''


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('-n', type=int, default=30, help='examples per message')
    ap.add_argument('--seed', type=int, default=0)
    ap.add_argument('--ns', action='append', help='only namespaces containing this')
    ap.add_argument('--msg', action='append', help='only these message names')
    ap.add_argument('-v', '--verbose', action='store_true', help='print failing documents')
    args = ap.parse_args(argv)

    jar = shared_jar()
    summary = []
    failed_any = False
    for ns in S.NAMESPACES:
        if args.ns and not any(x in ns for x in args.ns):
            continue
        groups = [('message', name, S.message) for name in S.message_names(ns)]
        groups += [('fragment', name, S.fragment) for name in S.fragment_names(ns)]
        ns_ok = ns_fail = ns_skip = 0
        print(f'== {ns}')
        for kind, name, factory in groups:
            if args.msg and name not in args.msg:
                continue
            t0 = time.monotonic()
            try:
                strategy = factory(ns, name)
            except S.JarLimitation as exc:
                why = str(exc).split(': ', 1)[1][:150]
                print(f'  {kind:8} {name:40} skipped: jar cannot encode: {why}')
                ns_skip += 1
                continue
            try:
                docs = draw_examples(strategy, args.n, args.seed)
            except Exception as exc:  # noqa: BLE001 - report strategy errors per message
                print(f'  {kind:8} {name:40} STRATEGY ERROR {type(exc).__name__}: {exc}')
                ns_fail += args.n
                failed_any = True
                continue
            ok, fails = 0, []
            for doc in docs:
                err = (S.fragment_round_trip(jar, doc, ns, name) if kind == 'fragment'
                       else round_trip(jar, doc, ns))
                if err:
                    fails.append((err, doc))
                else:
                    ok += 1
            ns_ok += ok
            ns_fail += len(fails)
            dt = time.monotonic() - t0
            status = 'ok' if not fails else 'FAIL'
            print(f'  {kind:8} {name:40} {ok:3}/{len(docs):<3} {status} ({dt:.1f}s)')
            if fails:
                failed_any = True
                err, doc = fails[0]
                print(f'      first failure: {err[:600]}')
                if args.verbose:
                    print('      doc: ' + json.dumps(doc)[:4000])
        summary.append((ns, ns_ok, ns_fail, ns_skip))
    print('\n== summary')
    for ns, ok, fail, skip in summary:
        print(f'  {ns:45} ok {ok:5}  failed {fail:5}  messages skipped (jar cannot encode) {skip}')
    return 1 if failed_any else 0


if __name__ == '__main__':
    sys.exit(main())
