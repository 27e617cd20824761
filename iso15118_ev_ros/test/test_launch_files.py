"""Launch and params files, checked as far as possible without `launch` (not installable here)."""
from __future__ import annotations

import ast
import os
from pathlib import Path

import yaml

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
    assert len(LAUNCH_FILES) == 2
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
