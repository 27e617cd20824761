"""The native EXI codec: JSON messages of the ``iso15118`` package to EXI bytes and back."""
from __future__ import annotations

import json
import threading

from .bitstream import BitReader, BitWriter
from .coder import decode_element, encode_element
from .errors import ExiDecodeError, ExiEncodeError, ExiError, ExiSchemaError
from .grammar import GrammarBuilder, split_qname
from .schemas import COUNTED_REPEATS_FROM, FRAGMENT_ROOTS, XMLDSIG, load_schema

# Distinguishing bits 10, no options, final version 1: the only header V2G messages use.
EXI_HEADER = 0x80


class _Root:
    __slots__ = ('code', 'element', 'grammar')

    def __init__(self, code, element):
        self.code = code
        self.element = element
        self.grammar = None


class NamespaceGrammars:
    """The document and fragment grammars of one namespace's schema set."""

    def __init__(self, namespace: str):
        self.namespace = namespace
        self._builder = GrammarBuilder(load_schema(namespace), COUNTED_REPEATS_FROM.get(namespace))
        self._fragment_names = (frozenset({'*'}) if namespace == XMLDSIG
                                else FRAGMENT_ROOTS.get(namespace, frozenset()))
        self._document = self._roots(self._builder.global_elements())
        self.document_width = len(self._document).bit_length()
        self._fragment = None
        self._lock = threading.Lock()

    def build_all(self) -> None:
        for root in self._document_codes:
            self._ready(root, '')
        if self._fragment_names:
            roots, _ = self.fragment_roots()
            for root in roots.values():
                if root.element.type is not None and (
                        '*' in self._fragment_names or root.element.name.split('}')[-1]
                        in self._fragment_names):
                    self._ready(root, '')

    def is_fragment(self, root_name: str) -> bool:
        return '*' in self._fragment_names or root_name in self._fragment_names

    def document_root(self, name: str) -> _Root:
        return self._ready(self._document.get(name), name)

    def document_root_by_code(self, code: int) -> _Root | None:
        return self._ready(self._document_codes[code], '') if code < len(
            self._document_codes) else None

    def fragment_roots(self) -> tuple[dict, int]:
        """Roots by local name, and the code width: declarations, SE(*) and ED."""
        if self._fragment is None:
            self._fragment = self._roots(self._all_element_declarations())
        return self._fragment, self.fragment_end.bit_length()

    @property
    def fragment_end(self) -> int:
        """The event code of ED in the fragment content grammar."""
        return len(self._fragment_codes) + 1

    def _roots(self, elements) -> dict:
        roots: dict[str, _Root] = {}
        codes = []
        for element in elements:
            local, _ = split_qname(element.name)
            root = _Root(len(codes), element)
            codes.append(root)
            roots.setdefault(local, root)
        if not hasattr(self, '_document_codes'):
            self._document_codes = codes
        else:
            self._fragment_codes = codes
        return roots

    def fragment_root_by_code(self, code: int) -> _Root | None:
        codes = self._fragment_codes
        return self._ready(codes[code], '') if code < len(codes) else None

    def _ready(self, root, name):
        if root is None:
            return None
        if root.grammar is None:
            with self._lock:
                if root.grammar is None:
                    root.grammar = self._builder.element_grammar(root.element)
        return root

    def _all_element_declarations(self) -> list:
        """Every element declaration, global and local, one per qualified name, sorted."""
        found: dict[str, object] = {}
        seen_types: set[int] = set()
        stack = list(self._builder.global_elements())
        for xsd_type in self._builder.named_complex_types():  # used or not, as Xerces lists them
            stack.extend(e for e in xsd_type.content.iter_elements()
                         if type(e).__name__ == 'XsdElement')
        while stack:
            element = stack.pop()
            if getattr(element, 'ref', None) is not None:
                element = element.ref
            if element.name in found and found[element.name].type is not element.type:
                found[element.name] = _Ambiguous(element.name)
            found.setdefault(element.name, element)
            xsd_type = element.type
            if id(xsd_type) in seen_types or xsd_type.is_simple() or xsd_type.has_simple_content():
                continue
            seen_types.add(id(xsd_type))
            stack.extend(e for e in xsd_type.content.iter_elements()
                         if type(e).__name__ == 'XsdElement')
        return sorted(found.values(), key=lambda e: split_qname(e.name))


class _Ambiguous:
    """A name declared with different types: EXI's relaxed element fragment grammar."""

    def __init__(self, name):
        self.name = name
        self.type = None


class NativeExiCodec:
    """EXI codec for the ``iso15118`` package (its IEXICodec interface), without Java.

    Encodes exactly as the EXIficient codec bundled with that package: schema-informed,
    non-strict, bit-packed, no header options, value string table off.
    """

    def __init__(self):
        self._grammars: dict[str, NamespaceGrammars] = {}
        self._lock = threading.Lock()

    def get_version(self) -> str:
        return 'iso15118_ev_ros native EXI codec 1.0'

    def grammars(self, namespace: str) -> NamespaceGrammars:
        grammars = self._grammars.get(namespace)
        if grammars is None:
            with self._lock:
                grammars = self._grammars.get(namespace)
                if grammars is None:
                    grammars = NamespaceGrammars(namespace)
                    self._grammars[namespace] = grammars
        return grammars

    def prepare(self, namespace: str) -> None:
        """Build all grammars of a namespace now rather than at their first message."""
        self.grammars(namespace).build_all()

    def encode(self, message: str, namespace: str) -> bytes:
        try:
            document = json.loads(message)
        except (TypeError, ValueError) as exc:
            raise ExiEncodeError(f'message is not JSON: {exc}') from None
        return self.encode_object(document, namespace)

    def encode_object(self, document, namespace: str) -> bytes:
        if type(document) is not dict or len(document) != 1:
            raise ExiEncodeError('a message is a JSON object with exactly one root element')
        (name, value), = document.items()
        grammars = self.grammars(namespace)
        w = BitWriter()
        w.write(EXI_HEADER, 8)
        if grammars.is_fragment(name):
            roots, width = grammars.fragment_roots()
            root = roots.get(name)
            self._check_root(root, name, namespace)
            grammars._ready(root, name)
            w.write(root.code, width)
            encode_element(w, root.grammar, value, name)
            w.write(grammars.fragment_end, width)      # ED of the fragment
        else:
            root = grammars.document_root(name)
            self._check_root(root, name, namespace)
            w.write(root.code, grammars.document_width)
            encode_element(w, root.grammar, value, name)
        return w.getvalue()

    @staticmethod
    def _check_root(root, name, namespace):
        if root is None:
            raise ExiEncodeError(f'{name!r} is not an element of {namespace}')
        if root.element.type is None:
            raise ExiSchemaError(f'{name!r} has several types in {namespace}; '
                                 'relaxed fragment grammars are not supported')

    def decode(self, stream: bytes, namespace: str) -> str:
        return json.dumps(self.decode_object(stream, namespace), separators=(',', ':'))

    def decode_object(self, stream: bytes, namespace: str, fragment: bool = False) -> dict:
        """Decode a document (or, with fragment=True or in xmldsig, a one-root fragment)."""
        try:
            grammars = self.grammars(namespace)
        except ExiError as exc:
            raise ExiDecodeError(str(exc)) from None
        r = BitReader(stream)
        header = r.read(8)
        if header != EXI_HEADER:
            raise ExiDecodeError(f'EXI header 0x{header:02x}, expected 0x{EXI_HEADER:02x}')
        if fragment or namespace == XMLDSIG:
            roots, width = grammars.fragment_roots()
            root = grammars.fragment_root_by_code(r.read(width))
        else:
            root = grammars.document_root_by_code(r.read(grammars.document_width))
        if root is None:
            raise ExiDecodeError('the root is not a declared element')
        if root.element.type is None:
            raise ExiDecodeError('ambiguous fragment root (relaxed grammar not supported)')
        name, _ = split_qname(root.element.name)
        document = {name: decode_element(r, root.grammar)}
        if (fragment or namespace == XMLDSIG) and r.read(width) != grammars.fragment_end:
            raise ExiDecodeError('a fragment with more than one root element')
        return document
