"""The EV node and the built-in charger simulator on a veth link (needs root for the link)."""
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, ExecuteProcess, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node


def generate_launch_description():
    share = Path(get_package_share_directory('iso15118_ev_ros'))
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value=''),
        DeclareLaunchArgument('ev_interface', default_value='ev0'),
        DeclareLaunchArgument('charger_netns', default_value='iso15118_secc'),
        DeclareLaunchArgument('charger_protocols',
                              default_value='DIN_SPEC_70121,ISO_15118_2,ISO_15118_20_AC,ISO_15118_20_DC'),
        ExecuteProcess(cmd=['bash', str(share / 'scripts' / 'plc_link.sh'), 'up',
                            LaunchConfiguration('ev_interface'),
                            LaunchConfiguration('charger_netns')], output='screen'),
        Node(package='iso15118_ev_testing', executable='charger_simulator', output='screen',
             arguments=['--netns', LaunchConfiguration('charger_netns'), '--interface', 'secc0',
                        '--protocols', LaunchConfiguration('charger_protocols')]),
        IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(share / 'launch' / 'ev_node.launch.py')),
            launch_arguments={'namespace': LaunchConfiguration('namespace'),
                              'plc_interface': LaunchConfiguration('ev_interface')}.items()),
    ])
