"""The XSDs of each namespace (from the installed ``iso15118`` package, read with xmlschema)
and the EXI datatypes of their simple types (EXI 1.0 section 7.1)."""
from __future__ import annotations

import os
from functools import lru_cache

from ..datatypes import (BinaryType, BooleanType, Datatype, EnumerationType, IntegerType,
                         NBitIntegerType, StringType, UnsignedIntegerType)
from ..errors import ExiError, ExiSchemaError
from ..schemas import SCHEMA_FILES

XS = 'http://www.w3.org/2001/XMLSchema'
N_BIT_INTEGER_MAX_RANGE = 4096
INTEGER_TYPES = {
    'integer', 'long', 'int', 'short', 'byte', 'nonNegativeInteger', 'positiveInteger',
    'unsignedLong', 'unsignedInt', 'unsignedShort', 'unsignedByte', 'nonPositiveInteger',
    'negativeInteger',
}
STRING_TYPES = {
    'string', 'anyURI', 'ID', 'IDREF', 'NCName', 'Name', 'token', 'normalizedString',
    'language', 'NMTOKEN', 'ENTITY', 'QName',
}


def schema_directory() -> str:
    import iso15118.shared.schemas as schemas
    return list(schemas.__path__)[0]


@lru_cache(maxsize=None)
def load_schema(namespace: str):
    """The xmlschema schema set of a namespace (loaded once per process)."""
    import xmlschema

    try:
        relative = SCHEMA_FILES[namespace]
    except KeyError:
        raise ExiError(f'unknown namespace {namespace!r}') from None
    return xmlschema.XMLSchema10(os.path.join(schema_directory(), relative))


def _builtin_name(simple_type) -> str:
    """The local name of the nearest built-in XSD type the type derives from."""
    current = simple_type
    while current is not None:
        name = current.name
        if name and name.startswith('{' + XS + '}'):
            return name[len(XS) + 2:]
        current = getattr(current, 'base_type', None)
    raise ExiSchemaError(f'{simple_type!r} derives from no built-in type')


def _enum_value(value, builtin):
    if builtin in INTEGER_TYPES:
        return int(value)
    return value


def _has_own_pattern(simple_type) -> bool:
    """A pattern facet in a schema's own restriction (built-in types' patterns don't count)."""
    current = simple_type
    while current is not None and not (current.name or '').startswith('{' + XS + '}'):
        if '{%s}pattern' % XS in (getattr(current, 'facets', None) or {}):
            return True
        current = getattr(current, 'base_type', None)
    return False


def datatype_for(simple_type) -> Datatype:
    """The EXI datatype of an xmlschema simple type (EXI 1.0 section 7.1)."""
    if _has_own_pattern(simple_type):
        raise ExiSchemaError(f'{simple_type!r}: restricted character sets are not supported')
    if getattr(simple_type, 'is_list', lambda: False)() or getattr(
            simple_type, 'is_union', lambda: False)():
        raise ExiSchemaError(f'{simple_type!r}: list and union types are not supported')
    builtin = _builtin_name(simple_type)
    enumeration = getattr(simple_type, 'enumeration', None)
    if enumeration:
        return EnumerationType(_enum_value(v, builtin) for v in enumeration)
    if builtin == 'boolean':
        return BooleanType()
    if builtin in INTEGER_TYPES:
        low, high = simple_type.min_value, simple_type.max_value
        low = None if low is None else int(low)
        high = None if high is None else int(high)
        if low is not None and high is not None and high - low < N_BIT_INTEGER_MAX_RANGE:
            return NBitIntegerType(low, high)
        if low is not None and low >= 0:
            return UnsignedIntegerType(high)
        return IntegerType(low, high)
    min_length = getattr(simple_type, 'min_length', None)
    max_length = getattr(simple_type, 'max_length', None)
    if builtin in ('hexBinary', 'base64Binary'):
        return BinaryType(builtin == 'hexBinary', min_length, max_length)
    if builtin in STRING_TYPES:
        return StringType(min_length, max_length)
    raise ExiSchemaError(f'{simple_type!r}: XSD type {builtin} is not supported')

