"""Build time: the EXI grammars of every namespace, built from the XSDs of the ``iso15118``
package with xmlschema, written to the data files the codec ships (``codec/grammars/``).

Regenerate them after changing the schemas, ``codec/schemas.py`` or the grammar construction:

    source scripts/activate.sh kilted
    python -m iso15118_ev.codec.generate [directory]

(default directory: the package's own ``codec/grammars/``). Only this subpackage imports
xmlschema and the ``iso15118`` package; test_exi_grammar_data.py checks that the shipped files
are what it writes.
"""
from __future__ import annotations

from pathlib import Path

from ..loader import DIRECTORY, file_name
from ..schemas import SCHEMA_FILES
from .namespace import build_namespace
from .tables import to_bytes

__all__ = ['build_namespace', 'generate', 'to_bytes']


def generate(directory: Path = DIRECTORY) -> list[Path]:
    """Write every namespace's data file into directory; the paths written."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for namespace in SCHEMA_FILES:
        path = directory / file_name(namespace)
        path.write_bytes(to_bytes(build_namespace(namespace)))
        written.append(path)
    return written
