from glob import glob

from setuptools import find_packages, setup

package_name = 'iso15118_ev_ros'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/launch', glob('launch/*.launch.py')),
        ('share/' + package_name + '/config', glob('config/*.yaml')),
        ('share/' + package_name + '/scripts', ['../scripts/plc_link.sh']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='iso15118_ev_ros developers',
    maintainer_email='dev@iso15118-ev-ros.invalid',
    description='The vehicle side of ISO 15118 / DIN 70121 charging communication as a ROS 2 node.',
    license='Apache-2.0',
    tests_require=['pytest'],
    entry_points={
        'console_scripts': [
            'ev_lifecycle_node = iso15118_ev_ros.lifecycle_node:main',
            'ev_node = iso15118_ev_ros.node:main',
        ],
    },
)
