"""The EV node with its parameters file, in an optional namespace.

    ros2 launch iso15118_ev_ros ev_node.launch.py [namespace:=ev1] [params_file:=my.yaml]
                                                  [plc_interface:=eth1]

`plc_interface` is passed to the node only when given here: otherwise the params file's value
is used, so a user's params file is never silently overridden. The shipped file leaves it
empty: the node then refuses to start until one of the two names the link to the charger.
"""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def ev_node(context):
    """The node; the launch argument overrides the params file only when it was given."""
    parameters = [LaunchConfiguration('params_file').perform(context)]
    plc_interface = LaunchConfiguration('plc_interface').perform(context)
    if plc_interface:
        parameters.append({'plc_interface': plc_interface})
    return [Node(
        package='iso15118_ev_ros', executable='ev_node', name='iso15118_ev',
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
        OpaqueFunction(function=ev_node),
    ])
