"""Reads a namespace's grammars from the data file shipped in ``codec/grammars/`` (written by
``python -m iso15118_ev.codec.generate``): gzipped JSON of flat tables, grammars and
datatypes referred to by their index, so loading is one parse and one pass.
"""
from __future__ import annotations

import gzip
import json
from pathlib import Path

from .datatypes import datatype_from_data
from .errors import ExiError
from .grammar import Production, State, TypeGrammar, add_bound_forms, attribute_key
from .roots import NamespaceGrammars, Root
from .schemas import SCHEMA_FILES

FORMAT = 2  # bump when the tables below change shape
DIRECTORY = Path(__file__).with_name('grammars')


def file_name(namespace: str) -> str:
    slug = ''.join(c if c.isalnum() else '_' for c in namespace).strip('_')
    return f'{slug}.json.gz'


def load_namespace(namespace: str) -> NamespaceGrammars:
    if namespace not in SCHEMA_FILES:
        raise ExiError(f'unknown namespace {namespace!r}')
    path = DIRECTORY / file_name(namespace)
    try:
        tables = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, EOFError, ValueError) as exc:
        raise ExiError(f'grammar data {path} unreadable ({exc}); regenerate it with '
                       'python -m iso15118_ev.codec.generate') from None
    if tables.get('format') != FORMAT or tables.get('namespace') != namespace:
        raise ExiError(f'grammar data {path} is of another format or namespace; regenerate it '
                       'with python -m iso15118_ev.codec.generate')
    return from_tables(tables)


def from_tables(tables: dict) -> NamespaceGrammars:
    datatypes = [datatype_from_data(data) for data in tables['datatypes']]

    def datatype(index):
        return None if index < 0 else datatypes[index]

    grammars = [TypeGrammar(name=name, children=tuple(children),
                            attributes=tuple((a, attribute_key(a)) for a in attributes),
                            simple=datatype(simple), simple_content=datatype(content))
                for name, attributes, children, simple, content, _ in tables['grammars']]
    for grammar, (*_, states) in zip(grammars, tables['grammars']):
        grammar.states = [State(kind) for kind, _, _ in states]
        for state, (_, loop_from, productions) in zip(grammar.states, states):
            state.productions = [
                Production(kind, name, key, None if target < 0 else grammar.states[target],
                           None if sub < 0 else grammars[sub], datatype(dt), is_list, bound)
                for kind, name, key, target, sub, dt, is_list, bound in productions]
            state.loop_from = None if loop_from < 0 else grammar.states[loop_from]
            state.seal()
        add_bound_forms(grammar.states)

    def roots(kind):
        return [Root(code, qname, None if index < 0 else grammars[index])
                for code, (qname, index) in enumerate(tables[kind])]
    fragment = None if tables['fragment'] is None else roots('fragment')
    return NamespaceGrammars(tables['namespace'], roots('document'), fragment)
