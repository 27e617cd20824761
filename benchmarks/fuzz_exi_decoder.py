"""Coverage-guided fuzzing (atheris / libFuzzer) of the native EXI decoder.

Every input is decoded under one of the V2G namespaces (chosen by its first byte); the decoder
must return a message or raise ExiDecodeError. Anything else (another exception, a hang over
the per-input timeout, memory over the RSS limit) is a finding and stops the run with a non-zero
exit; a clean run ends with libFuzzer's 'Done N runs' and stat::number_of_executed_units.

    source scripts/activate.sh kilted
    python benchmarks/fuzz_exi_decoder.py [runs=1000000]

The seed corpus is valid messages of every namespace, encoded by our encoder from random
schema-valid instances (test/exi_support/strategies.py), so mutations start deep in the grammars.
"""
from __future__ import annotations

import os
import random
import sys
import tempfile
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / 'iso15118_ev'), str(ROOT / 'iso15118_ev' / 'test')]

with atheris.instrument_imports(include=['iso15118_ev.codec']):
    from iso15118_ev.codec import ExiDecodeError, NativeExiCodec
    from iso15118_ev.codec.schemas import SCHEMA_FILES

NAMESPACES = tuple(SCHEMA_FILES)
CODEC = NativeExiCodec()


def one_input(data: bytes) -> None:
    if not data:
        return
    namespace = NAMESPACES[data[0] % len(NAMESPACES)]
    try:
        CODEC.decode(data[1:], namespace)
    except ExiDecodeError:
        pass


def write_seeds(directory: Path, per_message: int = 2) -> int:
    from exi_support.strategies import message, message_names
    from hypothesis import HealthCheck, given, settings

    count = 0
    for index, namespace in enumerate(NAMESPACES):
        for name in message_names(namespace):
            found = []
            try:
                strategy = message(namespace, name, jar_compatible=False)
            except Exception:  # noqa: BLE001 - no generator for this one: no seed
                continue

            @settings(max_examples=per_message, database=None, derandomize=True,
                      suppress_health_check=list(HealthCheck))
            @given(strategy)
            def collect(document):
                try:
                    found.append(CODEC.encode_object(document, namespace))
                except Exception:  # noqa: BLE001 - a seed we cannot make is just skipped
                    pass
            collect()
            for seed in found:
                (directory / f'{index}-{name}-{count}').write_bytes(bytes([index]) + seed)
                count += 1
    return count


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for namespace in NAMESPACES:
        CODEC.prepare(namespace)
    corpus = Path(tempfile.mkdtemp(prefix='exi-fuzz-'))
    seeds = write_seeds(corpus)
    random.seed(0)
    print(f'{seeds} seed messages in {corpus}', flush=True)
    argv = [sys.argv[0], f'-runs={runs}', '-max_len=4096', '-timeout=5', '-rss_limit_mb=2048',
            '-print_final_stats=1', '-seed=1', str(corpus)]
    atheris.Setup(argv, one_input)
    atheris.Fuzz()  # exits; libFuzzer prints stat::number_of_executed_units
    return 0


if __name__ == '__main__':
    os.environ.setdefault('PYTHONHASHSEED', '0')
    sys.exit(main())
