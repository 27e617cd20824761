"""Rewrite the build machine's include paths in the ROS wheels' exported CMake files.

The ROS 2 wheels on PyPI export CMake targets that name the Python and numpy include
folders of the machine they were built on; CMake refuses to generate while those do not
exist. This points them at this venv's folders. Idempotent; touches only the venv.
"""
import pathlib
import re
import sys
import sysconfig

import numpy

PYTHON_INCLUDE = re.compile(r'/opt/python/cp\d+-cp\d+/include/python3\.\d+')
NUMPY_INCLUDE = re.compile(r'/opt/python/cp\d+-cp\d+/lib/python3\.\d+/site-packages/numpy/(?:_)?core/include')


def fix(path: pathlib.Path) -> bool:
    text = path.read_text()
    new = NUMPY_INCLUDE.sub(numpy.get_include(), text)
    new = PYTHON_INCLUDE.sub(sysconfig.get_path('include'), new)
    if new == text:
        return False
    path.write_text(new)
    return True


def main() -> int:
    share = pathlib.Path(sys.prefix) / 'share'
    changed = [p for p in share.glob('*/cmake/*.cmake') if fix(p)]
    print(f'[fix_ros_wheels_cmake] rewrote {len(changed)} CMake files under {share}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
