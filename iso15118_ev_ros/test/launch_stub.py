"""Evaluate a launch file without `launch` (not installable here): stand-ins for the few
launch / launch_ros classes the files use record their arguments, and `node_argv` builds the
command line launch_ros would run for a Node (its arguments, then `--ros-args -r __node:=...
-r __ns:=... --params-file ...`; parameter dicts go to a params file, as launch_ros does).
"""
from __future__ import annotations

import itertools
import os
import runpy
import sys
import tempfile
import types
from pathlib import Path

import yaml

PACKAGE = Path(__file__).resolve().parents[1]
INSTALL = Path(os.environ.get('ISO15118_EV_INSTALL_BASE', PACKAGE.parent / 'install'))


class Action:
    def __init__(self, *args, **kwargs):
        self.args = args
        self.kwargs = kwargs

    def __repr__(self):
        return f'{type(self).__name__}({self.args}, {self.kwargs})'


# The default_value of each DeclareLaunchArgument of the last loaded file, as `launch` keeps them.
DEFAULTS: dict = {}


class LaunchConfiguration(Action):
    def perform(self, context):
        name = self.args[0]
        return context.configs[name] if name in context.configs else DEFAULTS[name]


class Context:
    def __init__(self, **configs):
        self.configs = configs


CLASSES = {
    'launch': ['LaunchDescription'],
    'launch.actions': ['DeclareLaunchArgument', 'EmitEvent', 'ExecuteProcess',
                       'IncludeLaunchDescription', 'LogInfo', 'OpaqueFunction',
                       'RegisterEventHandler', 'GroupAction', 'SetEnvironmentVariable'],
    'launch.event_handlers': ['OnProcessExit', 'OnShutdown', 'OnProcessStart'],
    'launch.events': ['Shutdown'],
    'launch.launch_description_sources': ['PythonLaunchDescriptionSource'],
    'launch.substitutions': [],
    'launch_ros.actions': ['Node', 'LifecycleNode'],
}


def load(path: Path, monkeypatch) -> list:
    """The entities of the file's LaunchDescription (stand-in classes, by name)."""
    for name, classes in CLASSES.items():
        module = types.ModuleType(name)
        for cls in classes:
            setattr(module, cls, type(cls, (Action,), {}))
        monkeypatch.setitem(sys.modules, name, module)
    sys.modules['launch.substitutions'].LaunchConfiguration = LaunchConfiguration
    monkeypatch.setitem(sys.modules, 'launch_ros', types.ModuleType('launch_ros'))
    ament = types.ModuleType('ament_index_python.packages')
    ament.get_package_share_directory = lambda p: str(INSTALL / p / 'share' / p)
    monkeypatch.setitem(sys.modules, 'ament_index_python', types.ModuleType('ament_index_python'))
    monkeypatch.setitem(sys.modules, 'ament_index_python.packages', ament)
    description = runpy.run_path(str(path))['generate_launch_description']()
    assert type(description).__name__ == 'LaunchDescription'
    entities = list(description.args[0])
    DEFAULTS.clear()
    DEFAULTS.update({e.args[0]: e.kwargs['default_value'] for e in entities
                     if kind(e) == 'DeclareLaunchArgument' and 'default_value' in e.kwargs})
    return entities


def kind(entity) -> str:
    return type(entity).__name__


def resolve(value, context: Context) -> str:
    return value.perform(context) if isinstance(value, LaunchConfiguration) else str(value)


_counter = itertools.count()


def node_argv(node, context: Context) -> list:
    """What launch_ros runs for this Node."""
    kw = node.kwargs
    package, name = kw['package'], kw['executable']
    argv = [str(INSTALL / package / 'lib' / package / name)]
    argv += [resolve(a, context) for a in kw.get('arguments', [])]
    argv.append('--ros-args')
    if kw.get('name'):
        argv += ['-r', f'__node:={resolve(kw["name"], context)}']
    namespace = resolve(kw['namespace'], context) if kw.get('namespace') is not None else ''
    if namespace:
        argv += ['-r', f'__ns:=/{namespace.strip("/")}']
    for entry in kw.get('parameters', []):
        if isinstance(entry, dict):
            fd, file = tempfile.mkstemp(prefix=f'launch_params_{next(_counter)}_', suffix='.yaml')
            with os.fdopen(fd, 'w') as out:
                yaml.safe_dump({'/**': {'ros__parameters': {
                    k: resolve(v, context) for k, v in entry.items()}}}, out)
            argv += ['--params-file', file]
        else:
            argv += ['--params-file', resolve(entry, context)]
    return argv
