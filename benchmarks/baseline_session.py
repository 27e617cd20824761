"""Session benchmark: one ISO 15118-2 DC session through the EV node against the charger simulator.

Sets up the simulated PLC link, starts the charger simulator and the EV node, runs one
DC_extended session until --loops CurrentDemand round trips were seen, stops it, and prints
setup timings, CurrentDemand round-trip statistics, the node's memory (node + descendants, i.e.
the JVM) and its CPU time. Tears everything down again. Needs root (veth pair, netns).

Run after `source scripts/activate.sh kilted`:  python benchmarks/baseline_session.py
[--exi-codec native|exificient]  (the node's codec; the charger simulator always uses EXIficient)
"""
from __future__ import annotations

import argparse
import os
import platform
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / 'iso15118_ev_ros' / 'test'))

from ros_client import RosClient  # noqa: E402

EV_IFACE, NETNS = 'evb0', 'bench_secc'
CD_TIMEOUT_MS = 250.0  # ISO 15118-2 CurrentDemand EV-side timeout
CLK_TCK = os.sysconf('SC_CLK_TCK')
PAGE_KIB = 1024


# --- /proc helpers ---------------------------------------------------------------------------
def _children_map():
    children = {}
    for entry in os.listdir('/proc'):
        if not entry.isdigit():
            continue
        try:
            with open(f'/proc/{entry}/stat') as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(')', 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def tree(pid: int):
    """pid and all its live descendants."""
    children, out, todo = _children_map(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def rss_mib(pid: int) -> float:
    total_kib = 0
    for p in tree(pid):
        try:
            with open(f'/proc/{p}/status') as f:
                for line in f:
                    if line.startswith('VmRSS:'):
                        total_kib += int(line.split()[1])
        except OSError:
            pass
    return total_kib / 1024


def cpu_seconds(pid: int) -> float:
    """utime+stime+cutime+cstime of pid and every live descendant."""
    ticks = 0
    for p in tree(pid):
        try:
            with open(f'/proc/{p}/stat') as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except OSError:
            continue
        # after the comm field: state=0 ppid=1 ... utime=11 stime=12 cutime=13 cstime=14
        ticks += sum(int(x) for x in fields[11:15])
    return ticks / CLK_TCK


class RssSampler(threading.Thread):
    def __init__(self, pid: int, period: float = 0.5):
        super().__init__(daemon=True)
        self.pid, self.period, self.peak = pid, period, 0.0
        self.peak_load = 0.0  # 1-min load average, includes this session's own processes
        self._halt = threading.Event()

    def run(self):
        while not self._halt.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            self.peak_load = max(self.peak_load, os.getloadavg()[0])
            self._halt.wait(self.period)

    def stop(self):
        self._halt.set()
        self.join(2)
        self.peak = max(self.peak, rss_mib(self.pid))


# --- machine ---------------------------------------------------------------------------------
def machine() -> dict:
    model = 'unknown'
    try:
        for line in open('/proc/cpuinfo'):
            if line.startswith('model name'):
                model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return {'cpu': model, 'cores': os.cpu_count(), 'python': platform.python_version(),
            'ros_distro': os.environ.get('ROS_DISTRO', '(unset)'),
            'kernel': platform.release()}


def percentile(sorted_values, q: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return float('nan')
    k = max(0, min(len(sorted_values) - 1, int(-(-q * len(sorted_values) // 100)) - 1))
    return sorted_values[k]


# --- processes -------------------------------------------------------------------------------
def start(cmd, log_path: Path, env) -> subprocess.Popen:
    log = open(log_path, 'w')
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


def terminate(proc: subprocess.Popen | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGINT)
        proc.wait(10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)
    except ProcessLookupError:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--loops', type=int, default=250,
                        help='CurrentDemand round trips to run (default 250)')
    parser.add_argument('--timeout', type=float, default=300.0,
                        help='s allowed for the whole session (default 300)')
    parser.add_argument('--logs', default=str(ROOT / 'out' / 'benchmark'),
                        help='folder for the node and charger logs')
    parser.add_argument('--exi-codec', default='native', choices=('native', 'exificient'),
                        help="the EV node's exi_codec parameter (default native)")
    args = parser.parse_args()

    try:  # the activated workspace's install of the package ($INSTALL_BASE/iso15118_ev_ros)
        from ament_index_python.packages import get_package_prefix
        prefix = Path(get_package_prefix('iso15118_ev_ros'))
    except Exception:  # noqa: BLE001
        sys.exit('iso15118_ev_ros not found: source scripts/activate.sh kilted first')
    bin_dir = prefix / 'lib' / 'iso15118_ev_ros'
    tools_dir = Path(get_package_prefix('iso15118_ev_testing')) / 'lib' / 'iso15118_ev_testing'
    env = dict(os.environ, ROS_DOMAIN_ID='90', ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    os.environ.update(ROS_DOMAIN_ID='90', ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    link = ['bash', str(ROOT / 'scripts' / 'plc_link.sh')]

    m = machine()
    load_before = os.getloadavg()
    charger = node = client = sampler = None
    try:
        subprocess.run(link + ['up', EV_IFACE, NETNS], check=True)
        charger = start([str(tools_dir / 'charger_simulator'), '--netns', NETNS,
                         '--interface', 'secc0', '--protocols', 'ISO_15118_2'],
                        logs / 'charger.log', env)
        t_launch = time.monotonic()
        node = start([str(bin_dir / 'ev_node'), '--ros-args', '-p',
                      f'plc_interface:={EV_IFACE}', '-p', f'exi_codec:={args.exi_codec}'],
                     logs / 'ev_node.log', env)
        client = RosClient('baseline_benchmark')
        client.wait_for_services(60)
        startup_s = time.monotonic() - t_launch
        time.sleep(3.0)  # let the node settle
        idle_rss = rss_mib(node.pid)

        sampler = RssSampler(node.pid)
        sampler.start()
        cpu0 = cpu_seconds(node.pid)
        after = len(client.messages())
        t0 = time.monotonic()
        answer = client.call('start_charging', energy_transfer_mode='DC_extended')
        if not answer.success:
            raise RuntimeError(f'start_charging refused: {answer.message}')

        deadline = t0 + args.timeout
        t_ready = t_power = t_first_cd = None
        rtts = []
        prev_rtt = None
        index = after
        while len(rtts) < args.loops:
            if time.monotonic() > deadline:
                raise RuntimeError(f'only {len(rtts)} CurrentDemand round trips in '
                                   f'{args.timeout} s')
            with client._lock:
                new = client.received[index:]
            index += len(new)
            for r in new:
                if r.topic == 'ev_power_ready' and r.message.ready and t_ready is None:
                    t_ready = r.at
                elif r.topic == 'dc_power_on' and t_power is None:
                    t_power = r.at
                elif r.topic == 'v2g_session_finished':
                    raise RuntimeError(f'session ended early: {r.message.reason_text} '
                                       f'{r.message.message}')
                elif r.topic == 'session_state':
                    s = r.message
                    if s.last_charger_message == 'CurrentDemandRes':
                        if t_first_cd is None:
                            t_first_cd = r.at
                        if prev_rtt is not None and s.round_trip_time != prev_rtt:
                            rtts.append(s.round_trip_time)
                    prev_rtt = s.round_trip_time
            time.sleep(0.01)

        stop_index = len(client.messages())
        answer = client.call('stop_charging')
        if not answer.success:
            raise RuntimeError(f'stop_charging refused: {answer.message}')
        finished = client.wait_topic('v2g_session_finished', 60, after=stop_index)
        cpu1 = cpu_seconds(node.pid)
        sampler.stop()
        t_end = time.monotonic()
    finally:
        if sampler is not None and sampler.is_alive():
            sampler.stop()
        if client is not None:
            client.close()
        terminate(node)
        terminate(charger)
        subprocess.run(link + ['down', EV_IFACE, NETNS])

    load_after = os.getloadavg()
    ms = sorted(x * 1000.0 for x in rtts)

    def since(t):
        return f'{t - t0:.3f} s' if t is not None else 'n/a'

    print('=== machine ===')
    print(f"CPU: {m['cpu']} ({m['cores']} cores), kernel {m['kernel']}")
    print(f"Python {m['python']}, ROS_DISTRO {m['ros_distro']}")
    print('load average (1/5/15 min) before: %.2f %.2f %.2f, after: %.2f %.2f %.2f'
          % (load_before + load_after))
    print(f'highest 1-min load average during the session: {sampler.peak_load:.2f} '
          '(includes the session itself: EV node + JVM, charger + JVM)')
    if load_before[0] > 1.5:
        print('NOTE: 1-min load average > 1.5 before the run; figures may be inflated')
    print('=== session (ISO 15118-2, DC_extended) ===')
    print(f'ended: {finished.reason_text} ({finished.message}), total {t_end - t0:.2f} s')
    print(f'start_charging -> ev_power_ready true: {since(t_ready)}')
    print(f'start_charging -> dc_power_on:         {since(t_power)}')
    print(f'start_charging -> first CurrentDemandRes: {since(t_first_cd)}')
    print(f'=== CurrentDemand round trip, {len(ms)} loops (ms) ===')
    print(f'median {statistics.median(ms):.2f}  p95 {percentile(ms, 95):.2f}  '
          f'p99 {percentile(ms, 99):.2f}  max {ms[-1]:.2f}  mean {statistics.mean(ms):.2f}')
    over = sum(1 for x in ms if x > CD_TIMEOUT_MS)
    print(f'> {CD_TIMEOUT_MS:.0f} ms (CurrentDemand timeout): {over}')
    print('=== EV node (node + descendants, incl. JVM) ===')
    print(f'EV node exi_codec: {args.exi_codec}; node start -> services up: {startup_s:.2f} s')
    print(f'idle RSS before session: {idle_rss:.1f} MiB')
    print(f'peak RSS during session (0.5 s samples): {sampler.peak:.1f} MiB')
    print(f'CPU time for the session (user+sys): {cpu1 - cpu0:.2f} s')
    return 0


if __name__ == '__main__':
    sys.exit(main())
