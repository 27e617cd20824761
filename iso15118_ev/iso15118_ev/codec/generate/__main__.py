"""python -m iso15118_ev.codec.generate [directory]: write the grammar data files."""
import sys

from . import generate

for path in generate(*sys.argv[1:2]):
    print(path)
