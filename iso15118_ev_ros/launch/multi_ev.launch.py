"""Several EVs in one ROS graph: one node per namespace (ev1, ev2), each with its own PLC
interface and PKI folder (config/multi_ev.yaml).

    ros2 launch iso15118_ev_ros multi_ev.launch.py [params_file:=my_fleet.yaml]

Every node reads config/ev_node.yaml (the defaults, '/**') and then the fleet file, whose
'/ev1/iso15118_ev' and '/ev2/iso15118_ev' sections set what differs; the later file wins.
Topics and services are /ev1/... and /ev2/....
"""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

NAMESPACES = ('ev1', 'ev2')


def generate_launch_description():
    config = Path(get_package_share_directory('iso15118_ev_ros')) / 'config'
    return LaunchDescription([
        DeclareLaunchArgument('defaults_file', default_value=str(config / 'ev_node.yaml'),
                              description="parameters every EV shares"),
        DeclareLaunchArgument('params_file', default_value=str(config / 'multi_ev.yaml'),
                              description='per-EV parameters (/<namespace>/iso15118_ev)'),
        *[Node(package='iso15118_ev_ros', executable='ev_node', name='iso15118_ev',
               namespace=namespace, output='screen',
               parameters=[LaunchConfiguration('defaults_file'),
                           LaunchConfiguration('params_file')])
          for namespace in NAMESPACES],
    ])
