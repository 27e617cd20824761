"""The EV node and the built-in charger simulator on a veth link (needs root for the link).

    ros2 launch iso15118_ev_ros ev_with_charger.launch.py [ev_interface:=ev0]
        [charger_netns:=iso15118_secc] [charger_protocols:=...] [namespace:=...]

Order: the link is brought up first (scripts/plc_link.sh up); the charger simulator and the
EV node start only once that has succeeded (if it fails, the launch shuts down). On shutdown
the link and the charger's network namespace are removed again (plc_link.sh down).
The charger simulator needs the `iso15118` pip package and Java (README: "Install as a ROS
user").
"""
import subprocess
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import (DeclareLaunchArgument, EmitEvent, ExecuteProcess,
                            IncludeLaunchDescription, LogInfo, OpaqueFunction,
                            RegisterEventHandler)
from launch.event_handlers import OnProcessExit, OnShutdown
from launch.events import Shutdown
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

SHARE = Path(get_package_share_directory('iso15118_ev_ros'))
PLC_LINK = str(SHARE / 'scripts' / 'plc_link.sh')


def generate_launch_description():
    link_up = ExecuteProcess(
        name='plc_link_up', output='screen',
        cmd=['bash', PLC_LINK, 'up', LaunchConfiguration('ev_interface'),
             LaunchConfiguration('charger_netns')])

    def after_link(event, context):
        """Charger and EV, once the link is up; stop everything if it could not be made."""
        if event.returncode != 0:
            return [LogInfo(msg=f'plc_link.sh up failed ({event.returncode}); stopping'),
                    EmitEvent(event=Shutdown(reason='the PLC link could not be made'))]
        charger = Node(
            package='iso15118_ev_testing', executable='charger_simulator', output='screen',
            arguments=['--netns', LaunchConfiguration('charger_netns'), '--interface', 'secc0',
                       '--protocols', LaunchConfiguration('charger_protocols')])
        ev = IncludeLaunchDescription(
            PythonLaunchDescriptionSource(str(SHARE / 'launch' / 'ev_node.launch.py')),
            launch_arguments={'namespace': LaunchConfiguration('namespace'),
                              'params_file': LaunchConfiguration('params_file'),
                              'plc_interface': LaunchConfiguration('ev_interface')}.items())
        return [charger, ev]

    def take_link_down(context):
        """Runs to its end before launch exits (a process started here could be cut off)."""
        subprocess.run(['bash', PLC_LINK, 'down',
                        LaunchConfiguration('ev_interface').perform(context),
                        LaunchConfiguration('charger_netns').perform(context)], check=False)
        return []

    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value=''),
        DeclareLaunchArgument('ev_interface', default_value='ev0',
                              description="the EV's end of the veth pair"),
        DeclareLaunchArgument('charger_netns', default_value='iso15118_secc'),
        DeclareLaunchArgument(
            'charger_protocols',
            default_value='DIN_SPEC_70121,ISO_15118_2,ISO_15118_20_AC,ISO_15118_20_DC'),
        DeclareLaunchArgument('params_file',
                              default_value=str(SHARE / 'config' / 'ev_node.yaml')),
        link_up,
        RegisterEventHandler(OnProcessExit(target_action=link_up, on_exit=after_link)),
        RegisterEventHandler(OnShutdown(on_shutdown=[OpaqueFunction(function=take_link_down)])),
    ])
