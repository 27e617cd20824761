"""Launch and params files, checked as far as possible without `launch` (not installable here)."""
from __future__ import annotations

import ast
import os
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

import launch_stub as stub
from iso15118_ev_ros.node_parameters import PARAMETERS

PACKAGE = Path(__file__).resolve().parents[1]
LAUNCH_FILES = sorted((PACKAGE / 'launch').glob('*.launch.py'))


def console_scripts():
    tree = ast.parse((PACKAGE / 'setup.py').read_text())
    scripts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
               and isinstance(n.value, str) and ' = iso15118_ev_ros.' in n.value]
    return {s.split(' = ')[0] for s in scripts}


def keyword_values(tree, name):
    return [kw.value.value for n in ast.walk(tree) if isinstance(n, ast.Call)
            for kw in n.keywords if kw.arg == name and isinstance(kw.value, ast.Constant)]


def test_launch_files_parse_and_define_generate_launch_description():
    assert [p.name for p in LAUNCH_FILES] == [
        'ev_node.launch.py', 'ev_with_charger.launch.py', 'multi_ev.launch.py']
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text(), str(path))
        functions = {n.name for n in tree.body if isinstance(n, ast.FunctionDef)}
        assert 'generate_launch_description' in functions, path.name


def test_launch_files_start_only_installed_executables():
    installed = console_scripts()
    used = set()
    for path in LAUNCH_FILES:
        tree = ast.parse(path.read_text())
        packages = keyword_values(tree, 'package')
        used |= set(zip(packages, keyword_values(tree, 'executable')))
    assert used == {('iso15118_ev_ros', 'ev_node'), ('iso15118_ev_testing', 'charger_simulator')}
    assert {name for package, name in used if package == 'iso15118_ev_ros'} <= installed
    install = Path(os.environ.get('ISO15118_EV_INSTALL_BASE', PACKAGE.parent / 'install'))
    for package, name in used:
        assert (install / package / 'lib' / package / name).exists()
    share = install / 'iso15118_ev_ros' / 'share' / 'iso15118_ev_ros'
    for path in LAUNCH_FILES:
        assert (share / 'launch' / path.name).exists()
    assert (share / 'config' / 'ev_node.yaml').exists()
    assert (share / 'config' / 'multi_ev.yaml').exists()
    assert (share / 'scripts' / 'plc_link.sh').exists()


def flatten(values, prefix=''):
    for key, value in values.items():
        if isinstance(value, dict):
            yield from flatten(value, f'{prefix}{key}.')
        else:
            yield f'{prefix}{key}', value


def test_params_file_sets_only_declared_parameters_within_their_ranges():
    config = yaml.safe_load((PACKAGE / 'config' / 'ev_node.yaml').read_text())
    given = dict(flatten(config['/**']['ros__parameters']))
    assert set(given) == set(PARAMETERS)
    for name, value in given.items():
        default, descriptor = PARAMETERS[name]
        assert type(value) is type(default), name
        for bound in descriptor.floating_point_range:
            assert bound.from_value <= value <= bound.to_value, name
        for bound in descriptor.integer_range:
            assert bound.from_value <= value <= bound.to_value, name


def test_launch_parameter_overrides_are_declared():
    tree = ast.parse((PACKAGE / 'launch' / 'ev_node.launch.py').read_text())
    overrides = [k.value for n in ast.walk(tree) if isinstance(n, ast.Dict)
                 for k in n.keys if isinstance(k, ast.Constant)]
    assert overrides and set(overrides) <= set(PARAMETERS)


# --- dependencies: every package.xml entry is a rosdep key on Ubuntu 24.04 / Jazzy ---------
# Checked by hand against ros/rosdistro: rosdep/base.yaml (iproute2 -> iproute2, openssl ->
# openssl, java -> default-jdk on Ubuntu; there is no default-jre(-headless) key) and
# rosdep/python.yaml (each python3-* key below maps to the same-named Ubuntu package). The ROS
# keys are packages released in jazzy/distribution.yaml (rosdistro commit 0006cdad), listed here
# by the release repository that carries them; the rest are packages of this workspace.
WORKSPACE = {'iso15118_ev', 'iso15118_ev_msgs', 'iso15118_ev_ros', 'iso15118_ev_testing'}
JAZZY_RELEASES = {
    'rclpy': {'rclpy'},
    'rcl_interfaces': {'action_msgs', 'builtin_interfaces', 'lifecycle_msgs', 'rcl_interfaces'},
    'common_interfaces': {'diagnostic_msgs', 'sensor_msgs', 'std_msgs'},
    'launch': {'launch'},
    'launch_ros': {'launch_ros'},
    'ament_index': {'ament_index_python'},
    'ament_cmake': {'ament_cmake'},
    'rosidl_defaults': {'rosidl_default_generators', 'rosidl_default_runtime'},
}
ROS_JAZZY = set().union(*JAZZY_RELEASES.values())
BASE_YAML = {'iproute2', 'openssl', 'java'}
PYTHON_YAML = {'python3-cryptography', 'python3-pytest', 'python3-hypothesis',
               'python3-matplotlib', 'python3-yaml'}
DEPENDS = ('depend', 'build_depend', 'buildtool_depend', 'exec_depend', 'test_depend',
           'build_export_depend')


def dependencies(package: str) -> dict:
    root = ET.parse(PACKAGE.parent / package / 'package.xml').getroot()
    return {tag: {e.text.strip() for e in root.iter(tag)} for tag in DEPENDS}


@pytest.mark.parametrize('package', sorted(WORKSPACE))
def test_every_dependency_is_a_rosdep_key(package):
    keys = set().union(*dependencies(package).values())
    assert keys, package
    unknown = keys - WORKSPACE - ROS_JAZZY - BASE_YAML - PYTHON_YAML
    assert not unknown, f'{package}: not rosdep keys: {sorted(unknown)}'


def test_node_runs_on_the_library_not_on_the_test_tools():
    node = dependencies('iso15118_ev_ros')
    assert 'iso15118_ev' in node['exec_depend']
    run_time = node['exec_depend'] | node['depend']
    assert 'iso15118_ev_testing' not in run_time
    assert 'python3-cryptography' in dependencies('iso15118_ev')['exec_depend']


# --- what the launch files start, evaluated with stand-ins for launch / launch_ros ---------
def entities(name, monkeypatch):
    return stub.load(PACKAGE / 'launch' / name, monkeypatch)


def opaque_nodes(name, monkeypatch, **configs):
    (function,) = [e for e in entities(name, monkeypatch) if stub.kind(e) == 'OpaqueFunction']
    return function.kwargs['function'](stub.Context(**configs))


def test_ev_node_launch_leaves_plc_interface_to_the_params_file(monkeypatch):
    declared = {e.args[0]: e.kwargs.get('default_value')
                for e in entities('ev_node.launch.py', monkeypatch)
                if stub.kind(e) == 'DeclareLaunchArgument'}
    assert declared['plc_interface'] == ''
    (node,) = opaque_nodes('ev_node.launch.py', monkeypatch, namespace='',
                           params_file='/home/me/my_ev.yaml', plc_interface='')
    assert node.kwargs['parameters'] == ['/home/me/my_ev.yaml']


def test_ev_node_launch_argument_wins_when_given(monkeypatch):
    (node,) = opaque_nodes('ev_node.launch.py', monkeypatch, namespace='ev1',
                           params_file='/home/me/my_ev.yaml', plc_interface='eth1')
    assert node.kwargs['parameters'] == ['/home/me/my_ev.yaml', {'plc_interface': 'eth1'}]
    argv = stub.node_argv(node, stub.Context(namespace='ev1'))
    assert argv[1:6] == ['--ros-args', '-r', '__node:=iso15118_ev', '-r', '__ns:=/ev1']


def test_ev_node_launch_starts_the_managed_node_when_asked(monkeypatch):
    (node,) = opaque_nodes('ev_node.launch.py', monkeypatch, namespace='',
                           params_file='/home/me/my_ev.yaml', plc_interface='')
    assert stub.kind(node) == 'Node' and node.kwargs['executable'] == 'ev_node'
    (managed,) = opaque_nodes('ev_node.launch.py', monkeypatch, namespace='ev1',
                              params_file='/home/me/my_ev.yaml', plc_interface='eth1',
                              lifecycle='True')
    assert stub.kind(managed) == 'LifecycleNode'
    assert managed.kwargs['executable'] == 'ev_lifecycle_node'
    assert managed.kwargs['parameters'] == ['/home/me/my_ev.yaml', {'plc_interface': 'eth1'}]
    with pytest.raises(ValueError, match="lifecycle must be true or false, got 'yes'"):
        opaque_nodes('ev_node.launch.py', monkeypatch, namespace='', params_file='p.yaml',
                     plc_interface='', lifecycle='yes')


class Exited:
    def __init__(self, returncode):
        self.returncode = returncode


def charger_launch(monkeypatch):
    top = entities('ev_with_charger.launch.py', monkeypatch)
    (link,) = [e for e in top if stub.kind(e) == 'ExecuteProcess']
    handlers = [e.args[0] for e in top if stub.kind(e) == 'RegisterEventHandler']
    return top, link, {stub.kind(h): h for h in handlers}


def test_ev_with_charger_brings_the_link_up_before_charger_and_node(monkeypatch):
    top, link, handlers = charger_launch(monkeypatch)
    assert 'plc_link.sh' in link.kwargs['cmd'][1] and link.kwargs['cmd'][2] == 'up'
    assert not [e for e in top if stub.kind(e) in ('Node', 'IncludeLaunchDescription')]
    on_exit = handlers['OnProcessExit']
    assert on_exit.kwargs['target_action'] is link
    started = on_exit.kwargs['on_exit'](Exited(0), stub.Context())
    assert sorted(stub.kind(e) for e in started) == ['IncludeLaunchDescription', 'Node']
    (charger,) = [e for e in started if stub.kind(e) == 'Node']
    assert charger.kwargs['executable'] == 'charger_simulator'
    failed = on_exit.kwargs['on_exit'](Exited(1), stub.Context())
    assert 'EmitEvent' in [stub.kind(e) for e in failed]
    assert not [e for e in failed if stub.kind(e) in ('Node', 'IncludeLaunchDescription')]


def test_ev_with_charger_takes_the_link_down_on_shutdown(monkeypatch):
    _, _, handlers = charger_launch(monkeypatch)
    (teardown,) = handlers['OnShutdown'].kwargs['on_shutdown']
    ran = []
    monkeypatch.setattr(subprocess, 'run', lambda argv, **kw: ran.append(argv))
    teardown.kwargs['function'](stub.Context(ev_interface='ev7', charger_netns='ns7'))
    assert len(ran) == 1 and ran[0][0] == 'bash' and ran[0][1].endswith('plc_link.sh')
    assert ran[0][2:] == ['down', 'ev7', 'ns7']


def test_multi_ev_launch_runs_one_node_per_namespace(monkeypatch):
    nodes = [e for e in entities('multi_ev.launch.py', monkeypatch) if stub.kind(e) == 'Node']
    assert [n.kwargs['namespace'] for n in nodes] == ['ev1', 'ev2']
    context = stub.Context(defaults_file='defaults.yaml', params_file='fleet.yaml')
    for node in nodes:
        argv = stub.node_argv(node, context)
        assert argv[-4:] == ['--params-file', 'defaults.yaml', '--params-file', 'fleet.yaml']


def test_multi_ev_params_give_each_ev_its_interface_and_pki():
    config = yaml.safe_load((PACKAGE / 'config' / 'multi_ev.yaml').read_text())
    assert set(config) == {'/ev1/iso15118_ev', '/ev2/iso15118_ev'}
    sections = [config[k]['ros__parameters'] for k in sorted(config)]
    for values in sections:
        assert set(values) <= set(PARAMETERS)
        for name, value in values.items():
            assert type(value) is type(PARAMETERS[name][0]), name
    for name in ('plc_interface', 'pki_path'):
        assert len({values[name] for values in sections}) == 2, name
