"""Session benchmark of the EV engine: one ISO 15118-2 DC session through the EV node against
the charger simulator, measured from outside the node.

Prints, with the machine:
- the EV's processing time per charge loop: from a capture on the EV's link (tcpdump, kernel
  time stamps), the time from the last segment of a charger response to the EV's next
  request, over every CurrentDemand loop;
- the node's CPU time per charge loop (/proc, node and descendants);
- node RSS idle and peak; the import time of the node module; node start -> services up;
  start_charging -> first CurrentDemandRes; CurrentDemand round trips as the node reports them.

It works with any checkout of this repository that has been built (scripts/setup.sh), so the
old and the new engine can be measured in one sitting:
    source scripts/activate.sh kilted && python benchmarks/engine_session.py
    (cd ../old && source scripts/activate.sh kilted && python ../main/benchmarks/engine_session.py)
Needs root (veth pair, network namespace, packet capture) and tcpdump.
"""
from __future__ import annotations

import argparse
import os
import platform
import signal
import shutil
import statistics
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import rclpy
from iso15118_ev_msgs import msg, srv
from rclpy.executors import SingleThreadedExecutor
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

EV_IFACE, NETNS = 'benev0', 'bench_ns'
CLK_TCK = os.sysconf('SC_CLK_TCK')
LATCHED = QoSProfile(depth=1, durability=DurabilityPolicy.TRANSIENT_LOCAL,
                     reliability=ReliabilityPolicy.RELIABLE)


# --- the node's processes ---------------------------------------------------------------------
def tree(pid: int):
    """pid and its live descendants."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                stat = Path(f'/proc/{entry}/stat').read_text()
            except OSError:
                continue
            children.setdefault(int(stat.rsplit(')', 1)[1].split()[1]), []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mib(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f'/proc/{p}/status').read_text().splitlines():
                if line.startswith('VmRSS:'):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024.0


def cpu_seconds(pid: int) -> float:
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f'/proc/{p}/stat').read_text().rsplit(')', 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / CLK_TCK


class RssSampler(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self._done = pid, 0.0, threading.Event()

    def run(self):
        while not self._done.wait(0.25):
            self.peak = max(self.peak, rss_mib(self.pid))

    def stop(self):
        self._done.set()
        self.join()


# --- the capture ------------------------------------------------------------------------------
class Capture:
    """tcpdump on the EV's interface (kernel time stamps, ns; a process of its own, so the
    measured processes share no interpreter with it); TCP segments with payload as
    (time, sent by the EV?)."""

    def __init__(self, iface: str, path: Path):
        if shutil.which('tcpdump') is None:
            raise RuntimeError('tcpdump is needed (apt-get install tcpdump)')
        self.iface, self.path, self.segments = iface, path, []
        self.ev_address = link_local_address(iface)

    def start(self):
        self.proc = subprocess.Popen(
            ['tcpdump', '-i', self.iface, '-U', '-s', '128', '--time-stamp-precision=nano',
             '-w', str(self.path), 'ip6 and tcp'],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # tcpdump is listening

    def stop(self):
        time.sleep(0.5)
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(10)
        self.segments = list(read_pcap(self.path, self.ev_address))


def link_local_address(iface: str) -> bytes:
    for line in Path('/proc/net/if_inet6').read_text().splitlines():
        address, _index, _length, scope, _flags, name = line.split()
        if name == iface and int(scope, 16) == 0x20:
            return bytes.fromhex(address)
    raise RuntimeError(f'{iface} has no link-local address')


def tcp_payload_length(frame: bytes) -> int:
    """Payload octets of an Ethernet/IPv6/TCP frame (0 for anything else)."""
    if len(frame) < 14 + 40 + 20 or frame[12:14] != b'\x86\xdd' or frame[14 + 6] != 6:
        return 0
    ip_payload = struct.unpack('>H', frame[14 + 4:14 + 6])[0]
    return ip_payload - (frame[14 + 40 + 12] >> 4) * 4


def read_pcap(path: Path, ev_address: bytes):
    """(time, outgoing) of every TCP segment with payload in a nanosecond pcap (Ethernet)."""
    data = path.read_bytes()
    offset = 24
    while offset + 16 <= len(data):
        seconds, nanoseconds, length, _ = struct.unpack('<IIII', data[offset:offset + 16])
        packet = data[offset + 16:offset + 16 + length]
        offset += 16 + length
        if tcp_payload_length(packet):
            yield seconds + nanoseconds * 1e-9, packet[14 + 8:14 + 24] == ev_address


def processing_times(segments, start: float, end: float):
    """Last incoming payload segment -> next outgoing one, within [start, end] (s)."""
    out, last_in = [], None
    for at, outgoing in sorted(segments):
        if not start <= at <= end:
            continue
        if not outgoing:
            last_in = at
        elif last_in is not None:
            out.append(at - last_in)
            last_in = None
    return out


# --- a small client ---------------------------------------------------------------------------
class Client:
    def __init__(self):
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('engine_benchmark', context=self.context)
        self.states, self.finished = [], []
        self.node.create_subscription(msg.SessionState, 'session_state',
                                      lambda m: self.states.append((time.time(), m)), LATCHED)
        self.node.create_subscription(msg.SessionFinished, 'v2g_session_finished',
                                      self.finished.append, 10)
        self.clients = {name: self.node.create_client(kind, name) for name, kind in
                        (('start_charging', srv.StartCharging), ('stop_charging', srv.StopCharging))}
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def wait_services(self, timeout: float) -> None:
        for client in self.clients.values():
            if not client.wait_for_service(timeout):
                raise RuntimeError('the node\'s services did not appear')

    def call(self, name: str, **fields):
        kind = srv.StartCharging if name == 'start_charging' else srv.StopCharging
        future = self.clients[name].call_async(kind.Request(**fields))
        done = threading.Event()
        future.add_done_callback(lambda _f: done.set())
        if not done.wait(10):
            raise RuntimeError(f'{name} did not answer')
        return future.result()

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


# --- the run ----------------------------------------------------------------------------------
def executable(package: str, name: str) -> str:
    for prefix in os.environ.get('AMENT_PREFIX_PATH', '').split(':'):
        path = Path(prefix) / 'lib' / package / name
        if path.exists():
            return str(path)
    raise RuntimeError(f'{package}/{name} not found: source scripts/activate.sh first')


def charger_executable() -> str:
    try:
        return executable('iso15118_ev_testing', 'charger_simulator')
    except RuntimeError:  # before the testing package existed
        return executable('iso15118_ev_ros', 'charger_simulator')


def import_seconds() -> float:
    code = ('import time; t = time.perf_counter(); import iso15118_ev_ros.node; '
            'print(time.perf_counter() - t)')
    times = [float(subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                                  check=True).stdout) for _ in range(3)]
    return statistics.median(times)


def start(argv, log: Path, env):
    return subprocess.Popen(argv, stdout=open(log, 'w'), stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def terminate(proc) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def ready_logged(log: Path) -> float:
    """Wall-clock time stamp of the node's "EV ready" log line."""
    for line in log.read_text(errors='replace').splitlines():
        if 'EV ready' in line:
            return float(line.split('[')[2].split(']')[0])
    return float('nan')


def percentile(values, p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100.0 * (len(values) - 1))))]


def describe(name: str, seconds) -> str:
    ms = [s * 1000.0 for s in seconds]
    return (f'{name}: median {statistics.median(ms):.3f} ms, p95 {percentile(ms, 95):.3f} ms, '
            f'p99 {percentile(ms, 99):.3f} ms, max {max(ms):.3f} ms ({len(ms)} loops)')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--loops', type=int, default=300, help='CurrentDemand loops to measure')
    parser.add_argument('--logs', default='/tmp/engine_benchmark')
    parser.add_argument('--node-param', action='append', default=[],
                        help='extra ev_node parameter, name:=value (repeatable)')
    args = parser.parse_args()
    link = ['bash', str(Path(__file__).resolve().parents[1] / 'scripts' / 'plc_link.sh')]
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, ROS_DOMAIN_ID='91', ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    os.environ.update(ROS_DOMAIN_ID='91', ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    load_before = os.getloadavg()
    charger = node = client = capture = sampler = None
    try:
        subprocess.run(link + ['up', EV_IFACE, NETNS], check=True)
        charger = start([charger_executable(), '--netns', NETNS, '--interface', 'secc0',
                         '--protocols', 'ISO_15118_2'], logs / 'charger.log', env)
        extra = [a for p in args.node_param for a in ('-p', p)]
        launched, launched_wall = time.monotonic(), time.time()
        node = start([executable('iso15118_ev_ros', 'ev_node'), '--ros-args', '-p',
                      f'plc_interface:={EV_IFACE}', *extra], logs / 'ev_node.log', env)
        client = Client()
        client.wait_services(60)
        startup = time.monotonic() - launched
        time.sleep(5.0)  # let the node and the charger settle (JVM start)
        idle_rss = rss_mib(node.pid)
        sampler = RssSampler(node.pid)
        sampler.start()
        capture = Capture(EV_IFACE, logs / 'session.pcap')
        capture.start()
        asked = time.time()
        answer = client.call('start_charging', energy_transfer_mode='DC_extended')
        if not answer.success:
            raise RuntimeError(answer.message)
        first = cpu_first = None
        deadline = time.monotonic() + 120
        while True:
            loops = [(at, m) for at, m in client.states if at >= asked
                     and m.last_charger_message == 'CurrentDemandRes']
            if loops and first is None:
                first, cpu_first = loops[0][0], cpu_seconds(node.pid)
            if len(loops) >= args.loops:
                break
            if client.finished or time.monotonic() > deadline:
                raise RuntimeError(f'session ended early or too slow: {client.finished}')
            time.sleep(0.005)
        cpu_last, last = cpu_seconds(node.pid), time.time()
        client.call('stop_charging')
        while not client.finished and time.monotonic() < deadline:
            time.sleep(0.05)
        capture.stop()
        sampler.stop()
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if capture is not None and capture.proc.poll() is None:
            capture.proc.kill()
        if client is not None:
            client.close()
        terminate(node)
        terminate(charger)
        subprocess.run(link + ['down', EV_IFACE, NETNS])
    round_trips = [m.round_trip_time for at, m in client.states
                   if first <= at <= last and m.last_charger_message == 'CurrentDemandRes']
    processing = processing_times(capture.segments, first, last)
    print('=== machine ===')
    print(f'{platform.processor() or platform.machine()}, {os.cpu_count()} cores, '
          f'Python {platform.python_version()}, ROS_DISTRO {os.environ.get("ROS_DISTRO", "?")}, '
          f'load before {load_before[0]:.2f}, after {os.getloadavg()[0]:.2f}')
    print(f'=== ISO 15118-2 DC session, {args.loops} CurrentDemand loops ===')
    print(f'ended: {client.finished[0].reason_text if client.finished else "?"}')
    print(describe('EV processing per loop (response in -> next request out, capture)',
                   processing))
    print(describe('CurrentDemand round trip (node)', round_trips))
    print(f'node CPU per charge loop: {(cpu_last - cpu_first) / max(len(round_trips), 1) * 1000:.2f}'
          f' ms')
    print(f'node RSS idle {idle_rss:.1f} MiB, peak {sampler.peak:.1f} MiB (node + descendants)')
    print(f'import iso15118_ev_ros.node: {import_seconds() * 1000:.0f} ms (median of 3)')
    print(f'node start -> "EV ready" logged: {ready_logged(logs / "ev_node.log") - launched_wall:.2f} s;'
          f' -> services seen by a client: {startup:.2f} s (DDS discovery)')
    print(f'start_charging -> first CurrentDemandRes: {first - asked:.2f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
