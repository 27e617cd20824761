"""Grammars built once from the XSDs and kept in a cache file, so a process that finds the
cache never imports xmlschema (about 20 MiB) and starts in milliseconds.

The cache lives in $ISO15118_EXI_CACHE, else $XDG_CACHE_HOME/iso15118_ev_ros, else
~/.cache/iso15118_ev_ros; its file names carry a hash of the schema files and of what else
shapes the grammars, so a changed schema or codec never reads a stale cache. An unreadable
or unwritable cache only costs the build. `python -m iso15118_ev.codec`
fills it (scripts/setup.sh does, after colcon build).
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tempfile
from functools import lru_cache
from pathlib import Path

from .grammar import Production, State, TypeGrammar
from .roots import NamespaceGrammars, Root, build_namespace
from .schemas import COUNTED_REPEATS_FROM, FRAGMENT_ROOTS, SCHEMA_FILES, schema_directory

FORMAT = 1  # bump when the grammar construction or this file format changes


def cache_directory() -> Path:
    explicit = os.environ.get('ISO15118_EXI_CACHE')
    if explicit:
        return Path(explicit)
    base = os.environ.get('XDG_CACHE_HOME') or os.path.join(os.path.expanduser('~'), '.cache')
    return Path(base) / 'iso15118_ev_ros'


@lru_cache(maxsize=None)
def cache_key() -> str:
    digest = hashlib.sha256(repr((FORMAT, sorted(COUNTED_REPEATS_FROM.items()),
                                  sorted((k, sorted(v)) for k, v in FRAGMENT_ROOTS.items())))
                            .encode())
    directory = Path(schema_directory())
    for path in sorted(directory.rglob('*.xsd')):
        digest.update(str(path.relative_to(directory)).encode())
        digest.update(path.read_bytes())
    for module in ('grammar.py', 'datatypes.py', 'roots.py'):
        digest.update((Path(__file__).parent / module).read_bytes())
    return digest.hexdigest()[:20]


def cache_path(namespace: str) -> Path:
    slug = ''.join(c if c.isalnum() else '_' for c in namespace).strip('_')
    return cache_directory() / f'exi-{slug}-{cache_key()}.pickle'


def load_or_build(namespace: str) -> NamespaceGrammars:
    path = cache_path(namespace)
    try:
        with open(path, 'rb') as stream:
            return _from_tables(pickle.load(stream))
    except (OSError, pickle.PickleError, EOFError, ValueError, KeyError, TypeError, ImportError,
            AttributeError):
        pass
    grammars = build_namespace(namespace)
    _save(path, _to_tables(grammars))
    return grammars


def _save(path: Path, tables: dict) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile('wb', dir=path.parent, delete=False) as stream:
            pickle.dump(tables, stream, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(stream.name, path)
    except OSError:
        pass  # read-only home: build again next time


# -- flat tables (no deep object graphs for pickle to recurse through) -----------------------
class _Index:
    """Numbers objects in the order they are first seen; None is -1."""

    def __init__(self):
        self.items: list = []
        self._ids: dict[int, int] = {}

    def __call__(self, item) -> int:
        if item is None:
            return -1
        if id(item) not in self._ids:
            self._ids[id(item)] = len(self.items)
            self.items.append(item)
        return self._ids[id(item)]


def _to_tables(grammars: NamespaceGrammars) -> dict:
    grammar_id, datatype_id = _Index(), _Index()
    order, datatypes = grammar_id.items, datatype_id.items

    roots = {kind: [(r.code, r.qname, r.ambiguous, grammar_id(r.grammar)) for r in codes]
             for kind, codes in (('document', grammars.document_codes),
                                 ('fragment', grammars.fragment_codes))}
    tables = []
    position = 0
    while position < len(order):
        grammar = order[position]
        position += 1
        state_index = {id(state): i for i, state in enumerate(grammar.states)}
        states = [(state.kind, [(p.kind, p.name, p.key,
                                 -1 if p.target is None else state_index[id(p.target)],
                                 grammar_id(p.grammar), datatype_id(p.datatype), p.is_list)
                                for p in state.productions])
                  for state in grammar.states]
        tables.append((grammar.name, grammar.attributes, grammar.children,
                       datatype_id(grammar.simple), datatype_id(grammar.simple_content), states))
    return {'format': FORMAT, 'namespace': grammars.namespace, 'datatypes': datatypes,
            'grammars': tables, 'roots': roots, 'has_fragments': bool(grammars.fragment_codes)}


def _from_tables(tables: dict) -> NamespaceGrammars:
    if tables.get('format') != FORMAT:
        raise ValueError('cache format')
    datatypes = tables['datatypes']
    grammars = [TypeGrammar(name=name, attributes=attributes, children=children,
                            simple=None if simple < 0 else datatypes[simple],
                            simple_content=None if content < 0 else datatypes[content])
                for name, attributes, children, simple, content, _ in tables['grammars']]
    for grammar, (*_, states) in zip(grammars, tables['grammars']):
        grammar.states = [State(kind) for kind, _ in states]
        for state, (_, productions) in zip(grammar.states, states):
            state.productions = [
                Production(kind, name, key, None if target < 0 else grammar.states[target],
                           None if sub < 0 else grammars[sub],
                           None if dt < 0 else datatypes[dt], is_list)
                for kind, name, key, target, sub, dt, is_list in productions]
            state.seal()

    def roots(kind):
        return [Root(code, qname, ambiguous, None if g < 0 else grammars[g])
                for code, qname, ambiguous, g in tables['roots'][kind]]
    fragment = roots('fragment') if tables['has_fragments'] else None
    return NamespaceGrammars(tables['namespace'], roots('document'), fragment)


def main() -> int:
    for namespace in SCHEMA_FILES:
        load_or_build(namespace)
        print(f'{cache_path(namespace)}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
