from glob import glob

from setuptools import find_packages, setup

package_name = 'iso15118_ev_testing'

setup(
    name=package_name,
    version='0.2.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/scenarios', sorted(glob('scenarios/*.yaml'))),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='iso15118_ev_ros developers',
    maintainer_email='dev@iso15118-ev-ros.invalid',
    description='Charger simulator, test PKI and session monitor for iso15118_ev_ros.',
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'charger_simulator = iso15118_ev_testing.charger_simulator:main',
            'session_monitor = iso15118_ev_testing.session_monitor:main',
            'make_test_pki = iso15118_ev_testing.pki:main',
            'run_scenario = iso15118_ev_testing.scenario_runner:main',
            'modem_sim = iso15118_ev_testing.modem_sim:main',
        ],
    },
)
