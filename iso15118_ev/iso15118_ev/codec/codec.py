"""The native EXI codec: JSON messages of the ``iso15118`` package to EXI bytes and back."""
from __future__ import annotations

import json
import threading

from .bitstream import BitWriter
from .coder import FormReader, decode_element, encode_element
from .errors import ExiDecodeError, ExiEncodeError, ExiError
from .grammar import EXIFICIENT, FORMS
from .interop import problems_of
from .loader import load_namespace
from .namespaces import XMLDSIG
from .roots import NamespaceGrammars

# Distinguishing bits 10, no options, final version 1: the only header V2G messages use.
EXI_HEADER = 0x80
# How well one decoding form reads a stream, best first (see _attempt).
CLEAN, ODD_PADDING, FAILED = range(3)


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
                    grammars = load_namespace(namespace)
                    self._grammars[namespace] = grammars
        return grammars

    def prepare(self, namespace: str) -> None:
        """Load a namespace's grammars now rather than at its first message."""
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

    def interop_problems(self, document, namespace: str) -> list[str]:
        """What some chargers' codecs cannot read in this message, each naming the element's
        path (see interop.py); empty when nothing. ExiEncodeError if it does not fit the
        schema."""
        self.encode_object(document, namespace)
        (name, value), = document.items()
        grammars = self.grammars(namespace)
        roots = grammars.fragment if grammars.is_fragment(name) else grammars.document
        return problems_of(roots[name].grammar, value, name)

    @staticmethod
    def _check_root(root, name, namespace):
        if root is None:
            raise ExiEncodeError(f'{name!r} is not an element of {namespace}')

    def decode(self, stream: bytes, namespace: str) -> str:
        return json.dumps(self.decode_object(stream, namespace), separators=(',', ':'))

    def decode_object(self, stream: bytes, namespace: str, fragment: bool = False) -> dict:
        """Decode a document (or, with fragment=True or in xmldsig, a one-root fragment).

        What follows the message must be padding: fewer than 8 bits, zero (others are let
        through). A list at its bound may end in the exact or in the loop form (see
        grammar.py), which the bits alone do not tell apart. The forms read alike up to the
        first list at its bound: when EXIficient's form reaches one and does not end on zero
        padding, the forms that differ there are tried too, the best reading winning (the
        earlier form on a tie).
        """
        try:
            grammars = self.grammars(namespace)
        except ExiError as exc:
            raise ExiDecodeError(str(exc)) from None
        fragment = fragment or namespace == XMLDSIG
        r = FormReader(stream, EXIFICIENT)
        rank, outcome = _attempt(r, grammars, fragment)
        if rank != CLEAN and r.bounds:
            rank, outcome = _other_forms(stream, grammars, fragment, r.bounds, (rank, outcome))
        if rank == FAILED:
            raise outcome
        return outcome


def _attempt(r: FormReader, grammars: NamespaceGrammars, fragment: bool) -> tuple:
    """How the reader's form reads its stream: (CLEAN, document) up to zero padding,
    (ODD_PADDING, document) up to padding bits that are not all zero, else (FAILED, error)."""
    try:
        document = _decode(r, grammars, fragment)
    except ExiDecodeError as exc:
        return FAILED, exc
    padding = r.padding()
    if padding is None:
        return FAILED, ExiDecodeError(f'{r.remaining_bits()} bits after the end of the message')
    return (ODD_PADDING if padding else CLEAN), document


def _other_forms(stream, grammars, fragment, bounds, best) -> tuple:
    """The best of EXIficient's reading (best) and the forms that differ from it at the bounds
    it reached, earlier forms first."""
    for form in FORMS[1:]:
        if any(p.at_bound[form] is not p.at_bound[EXIFICIENT] for p in bounds):
            best = min(best, _attempt(FormReader(stream, form), grammars, fragment),
                       key=lambda attempt: attempt[0])
            if best[0] == CLEAN:
                break
    return best


def _decode(r: FormReader, grammars: NamespaceGrammars, fragment: bool) -> dict:
    header = r.read(8)
    if header != EXI_HEADER:
        raise ExiDecodeError(f'EXI header 0x{header:02x}, expected 0x{EXI_HEADER:02x}')
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
