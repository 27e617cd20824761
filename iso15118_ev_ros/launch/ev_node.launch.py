"""The EV node with its parameters file, in an optional namespace.

    ros2 launch iso15118_ev_ros ev_node.launch.py [namespace:=ev1] [params_file:=my.yaml]
                                                  [plc_interface:=eth1] [lifecycle:=true]

`plc_interface` is passed to the node only when given here: otherwise the params file's value
is used, so a user's params file is never silently overridden. The shipped file leaves it
empty: the node then refuses to start until one of the two names the link to the charger.
With `lifecycle:=true` the managed variant (`ev_lifecycle_node`) starts instead; its `autostart`
parameter (default true) takes it to active, set it false to drive the transitions yourself.
"""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node


def ev_node(context):
    """The node; the launch argument overrides the params file only when it was given."""
    parameters = [LaunchConfiguration('params_file').perform(context)]
    plc_interface = LaunchConfiguration('plc_interface').perform(context)
    if plc_interface:
        parameters.append({'plc_interface': plc_interface})
    lifecycle = LaunchConfiguration('lifecycle').perform(context).lower()
    if lifecycle not in ('true', 'false'):
        raise ValueError(f"lifecycle must be true or false, got '{lifecycle[:40]}'")
    kind, executable = ((LifecycleNode, 'ev_lifecycle_node') if lifecycle == 'true'
                        else (Node, 'ev_node'))
    return [kind(
        package='iso15118_ev_ros', executable=executable, name='iso15118_ev',
        namespace=LaunchConfiguration('namespace'), output='screen',
        parameters=parameters,
    )]


def generate_launch_description():
    params = Path(get_package_share_directory('iso15118_ev_ros')) / 'config' / 'ev_node.yaml'
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='', description='namespace of the EV'),
        DeclareLaunchArgument('params_file', default_value=str(params),
                              description="the node's parameters (config/ev_node.yaml layout)"),
        DeclareLaunchArgument('plc_interface', default_value='',
                              description='network interface to the charger; empty: the '
                                          "params file's value"),
        DeclareLaunchArgument('lifecycle', default_value='false',
                              description='true: the managed node (ev_lifecycle_node)'),
        OpaqueFunction(function=ev_node),
    ])
