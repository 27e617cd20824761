"""The ROS-free library: `pip install ./iso15118_ev` or a colcon (ament_python) build."""
from setuptools import find_packages, setup

package_name = 'iso15118_ev'

setup(
    name=package_name,
    version='0.2.0',
    packages=find_packages(exclude=['test', 'test.*']),
    package_data={'iso15118_ev.codec': ['grammars/*.json.gz']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    python_requires='>=3.11',
    install_requires=['cryptography>=3.4'],
    zip_safe=False,
    maintainer='iso15118_ev_ros developers',
    maintainer_email='dev@iso15118-ev-ros.invalid',
    description='EV side of DIN SPEC 70121 / ISO 15118-2 / ISO 15118-20 in pure Python.',
    license='Apache-2.0',
)
