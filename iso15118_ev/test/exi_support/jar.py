"""The EXIficient codec (Java, through py4j) as a test oracle: one JVM per process.

`JarCodec` wraps `CappedExificientCodec` (the project's capped-heap variant of the
`iso15118` package's codec).  `encode` takes the MOXy JSON text (or a dict, which
is `json.dumps`-ed) and returns bytes; `decode` returns the MOXy JSON text.
Failures raise `JarError` with the jar's last error text.
"""
from __future__ import annotations

import atexit
import json
import os
import sys
import threading
from typing import Any

_PKG_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), '..', '..'))


class JarError(Exception):
    """The jar could not encode or decode (the message is the jar's error text)."""


class JarCodec:
    """One JVM running EXIficient; encode/decode in the jar's JSON conventions."""

    def __init__(self, heap_mb: int = 256):
        if _PKG_ROOT not in sys.path:
            sys.path.insert(0, _PKG_ROOT)
        from iso15118_ev_testing.exificient import CappedExificientCodec

        self._codec = CappedExificientCodec(heap_mb=heap_mb)
        self._lock = threading.Lock()
        self._closed = False

    @property
    def java(self):
        """The jar's `EXICodec` object (py4j proxy), for probing internals."""
        return self._codec.exi_codec

    @property
    def gateway(self):
        return self._codec.gateway

    def encode(self, message: Any, namespace: str) -> bytes:
        text = message if isinstance(message, str) else json.dumps(message)
        with self._lock:
            try:
                out = self._codec.exi_codec.encode(text, namespace)
            except Exception as exc:  # py4j errors (JVM-side exceptions)
                raise JarError(f'{type(exc).__name__}: {exc}') from exc
            if out is None:
                raise JarError(str(self._codec.exi_codec.get_last_encoding_error()))
        return bytes(out)

    def decode(self, data: bytes, namespace: str) -> str:
        with self._lock:
            try:
                out = self._codec.exi_codec.decode(bytes(data), namespace)
            except Exception as exc:
                raise JarError(f'{type(exc).__name__}: {exc}') from exc
            if out is None:
                raise JarError(str(self._codec.exi_codec.get_last_decoding_error()))
        return str(out)

    def decode_fragment(self, data: bytes, namespace: str) -> tuple[str, str]:
        """Decode an EXI *fragment* stream (the jar itself only does so for xmldsig).

        Turns the jar's EXIFactory to fragment mode for this one call (through Java
        reflection).  Returns ('json', text) when the jar's JAXB classes know the
        root element, else ('xml', text): the XML EXIficient decoded (for roots such
        as eMAID or OEMProvisioningCertificateChain that are not global elements).
        """
        g = self.gateway
        java = self._codec.exi_codec
        cls = java.getClass().getSuperclass()  # AbstractEXICodec
        field = cls.getDeclaredField('exiFactory')
        field.setAccessible(True)
        factory = field.get(java)
        with self._lock:
            factory.setFragment(True)
            try:
                out = java.decode(bytes(data), namespace)  # sets grammar + JAXB context
                if out is not None:
                    return 'json', str(out)
                argtypes = g.new_array(g.jvm.java.lang.Class, 1)
                argtypes[0] = g.jvm.java.lang.Class.forName('java.io.InputStream')
                method = cls.getDeclaredMethod('decode_stream', argtypes)
                method.setAccessible(True)
                args = g.new_array(g.jvm.java.lang.Object, 1)
                args[0] = g.jvm.java.io.ByteArrayInputStream(bytes(data))
                try:
                    return 'xml', str(method.invoke(java, args))
                except Exception as exc:
                    raise JarError(f'fragment decode failed: {exc}') from exc
            finally:
                factory.setFragment(False)

    def decode_obj(self, data: bytes, namespace: str) -> Any:
        return json.loads(self.decode(data, namespace))

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._codec.shutdown()
            except Exception:  # noqa: BLE001 - best effort at exit
                pass


_shared: JarCodec | None = None
_shared_lock = threading.Lock()


def shared_jar() -> JarCodec:
    """The process-wide JarCodec, started on first use and closed at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = JarCodec()
            atexit.register(_shared.close)
        return _shared
