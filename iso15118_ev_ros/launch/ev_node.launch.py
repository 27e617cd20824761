"""The EV node with its parameters file, in an optional namespace."""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    params = Path(get_package_share_directory('iso15118_ev_ros')) / 'config' / 'ev_node.yaml'
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='', description='namespace of the EV'),
        DeclareLaunchArgument('plc_interface', default_value='auto',
                              description='network interface to the charger'),
        DeclareLaunchArgument('params_file', default_value=str(params)),
        Node(
            package='iso15118_ev_ros', executable='ev_node', name='iso15118_ev',
            namespace=LaunchConfiguration('namespace'), output='screen',
            parameters=[LaunchConfiguration('params_file'),
                        {'plc_interface': LaunchConfiguration('plc_interface')}],
        ),
    ])
