"""Every shipped scenario, run by the installed run_scenario against the real node and the
charger simulator it names; one run also records an MCAP file, read back with the `mcap`
packages."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from mcap_ros2.reader import read_ros2_messages

from iso15118_ev_testing.fixtures import LOG_DIR, executable

SCENARIOS = Path(executable('run_scenario', 'iso15118_ev_testing')).parents[2] / 'share' / \
    'iso15118_ev_testing' / 'scenarios'
CHARGER_OPTIONS = {'charger_stop': ('--stop-after-loops', '3')}
RUN_TIMEOUT_S = 240


def run_scenario(name: str, *extra) -> subprocess.CompletedProcess:
    return subprocess.run([executable('run_scenario', 'iso15118_ev_testing'),
                           str(SCENARIOS / f'{name}.yaml'), *extra], capture_output=True,
                          text=True, timeout=RUN_TIMEOUT_S)


def session_monitor(scenario: Path, plot: Path) -> subprocess.CompletedProcess:
    return subprocess.run([executable('session_monitor', 'iso15118_ev_testing'),
                           '--scenario', str(scenario), '--plot', str(plot)],
                          capture_output=True, text=True, timeout=RUN_TIMEOUT_S)


# Stops the session, then expects it to have finished on its own: step 4 fails.
WRONG_END = ('steps:\n  - start: {mode: DC_extended}\n'
             '  - wait_phase: {phase: charging, timeout: 60}\n'
             '  - stop: {}\n'
             '  - expect_end: {reason: finished, timeout: 30}\n')


def shipped():
    return sorted(p.stem for p in SCENARIOS.glob('*.yaml'))


def test_the_scenarios_are_installed():
    assert {'dc_charge_to_full', 'ac_charge', 'pause_resume', 'charger_stop',
            'fault_stop_answering', 'fault_send_invalid_message', 'fault_drop_link',
            'fault_refuse_pre_charge', 'cp_error_while_charging', 'abort_charging',
            'demo_dc_session'} <= set(shipped())


@pytest.mark.parametrize('name', shipped())
def test_shipped_scenario_passes(charger, ev_node, name):
    charger('ISO_15118_2', *CHARGER_OPTIONS.get(name, ()))
    ev_node()
    result = run_scenario(name)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[-1].startswith('verdict: passed')
    assert all(line.startswith('ok') for line in lines[1:-1]), result.stdout


def test_a_failing_step_fails_the_run(charger, ev_node, tmp_path):
    charger('ISO_15118_2')
    ev_node()
    scenario = tmp_path / 'wrong.yaml'
    scenario.write_text(WRONG_END + '  - stop: {}\n')
    result = subprocess.run([executable('run_scenario', 'iso15118_ev_testing'), str(scenario)],
                            capture_output=True, text=True, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 1
    assert 'FAILED  4 expect_end (reason=finished)' in result.stdout
    assert 'ended stopped_by_ev' in result.stdout
    assert result.stdout.splitlines()[-1] == 'verdict: FAILED at step 4 of 5 (1 skipped)'


def test_invalid_scenario_is_refused_before_it_runs(tmp_path):
    scenario = tmp_path / 'bad.yaml'
    scenario.write_text('steps:\n  - start: {mode: DC_extended}\n  - wait_phase: {phase: flying}\n')
    result = subprocess.run([executable('run_scenario', 'iso15118_ev_testing'), str(scenario)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "step 2: wait_phase.phase 'flying' is not one of" in result.stderr


def test_recording_reads_back_with_the_session(charger, ev_node):
    charger('ISO_15118_2')
    ev_node()
    path = LOG_DIR / 'scenario_recording.mcap'
    result = run_scenario('ac_charge', '--mcap', str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    by_topic = {}
    for item in read_ros2_messages(str(path)):
        by_topic.setdefault(item.channel.topic, []).append(item.ros_msg)
    phases = [m.phase_text for m in by_topic['/session_state']]
    assert 'charging' in phases and phases[-1] == 'finished'
    finished, = by_topic['/v2g_session_finished']
    assert finished.reason_text == 'stopped_by_ev' and finished.protocol == 'ISO_15118_2'
    assert by_topic['/ac_evse_max_current']
    assert [m.ready for m in by_topic['/ev_power_ready']][-2:] == [True, False]


def test_session_monitor_shows_a_session_a_scenario_drives(charger, ev_node, tmp_path):
    """The demo's way: the monitor prints the timeline and plots while the scenario's steps
    drive the node; the exit status follows the steps."""
    charger('ISO_15118_2')
    ev_node()
    plot = tmp_path / 'session.png'
    result = session_monitor(SCENARIOS / 'demo_dc_session.yaml', plot)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert 'verdict: passed (7 steps)' in out
    assert 'set_dc_params' not in out          # the monitor's own driving is off
    assert out.index('dc_power_on:') < out.index('ok      4 set_dc')
    assert 'summary: protocol ISO_15118_2, mode DC_extended' in out
    assert 'reason stopped_by_ev' in out
    assert plot.stat().st_size > 10_000


def test_session_monitor_fails_with_its_scenario(charger, ev_node, tmp_path):
    charger('ISO_15118_2')
    ev_node()
    scenario = tmp_path / 'wrong.yaml'
    scenario.write_text(WRONG_END)
    result = session_monitor(scenario, tmp_path / 'p.png')
    assert result.returncode == 1
    assert 'FAILED  4 expect_end (reason=finished)' in result.stdout
    assert 'a scenario step failed' in result.stderr
