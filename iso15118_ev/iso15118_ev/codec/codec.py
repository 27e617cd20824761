"""The native EXI codec: JSON messages of the ``iso15118`` package to EXI bytes and back."""
from __future__ import annotations

import json
import threading

from .bitstream import BitReader, BitWriter
from .coder import decode_element, encode_element
from .errors import ExiDecodeError, ExiEncodeError, ExiError, ExiSchemaError
from .grammar_cache import load_or_build
from .roots import NamespaceGrammars
from .schemas import XMLDSIG

# Distinguishing bits 10, no options, final version 1: the only header V2G messages use.
EXI_HEADER = 0x80


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
                    grammars = load_or_build(namespace)
                    self._grammars[namespace] = grammars
        return grammars

    def prepare(self, namespace: str) -> None:
        """Load (or build) a namespace's grammars now rather than at its first message."""
        self.grammars(namespace)

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
            root = grammars.fragment.get(name)
            self._check_root(root, name, namespace)
            w.write(root.code, grammars.fragment_width)
            encode_element(w, root.grammar, value, name)
            w.write(grammars.fragment_end, grammars.fragment_width)   # ED of the fragment
        else:
            root = grammars.document.get(name)
            self._check_root(root, name, namespace)
            w.write(root.code, grammars.document_width)
            encode_element(w, root.grammar, value, name)
        return w.getvalue()

    @staticmethod
    def _check_root(root, name, namespace):
        if root is None:
            raise ExiEncodeError(f'{name!r} is not an element of {namespace}')
        if root.ambiguous:
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
        fragment = fragment or namespace == XMLDSIG
        if fragment:
            codes, width = grammars.fragment_codes, grammars.fragment_width
        else:
            codes, width = grammars.document_codes, grammars.document_width
        code = r.read(width)
        root = codes[code] if code < len(codes) else None
        if root is None:
            raise ExiDecodeError('the root is not a declared element')
        if root.grammar is None:
            raise ExiDecodeError(f'{root.name} is not a root this codec decodes')
        document = {root.name: decode_element(r, root.grammar)}
        if fragment and r.read(width) != grammars.fragment_end:
            raise ExiDecodeError('a fragment with more than one root element')
        return document
