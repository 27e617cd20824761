"""The EXI codecs the package can run with: our native one (default) or EXIficient in a JVM."""
from __future__ import annotations

import logging

from iso15118.shared.exificient_exi_codec import ExificientEXICodec
from iso15118.shared.iexi_codec import IEXICodec
from iso15118.shared.settings import JAR_FILE_PATH

from ...codec import NativeExiCodec
from ...codec.schemas import SCHEMA_FILES
from ..settings import EXI_CODECS

NATIVE, EXIFICIENT = EXI_CODECS


class NativeCodec(IEXICodec):
    """Our EXI codec behind the package's codec interface. No Java."""

    def __init__(self):
        self.codec = NativeExiCodec()

    def prepare(self) -> None:
        """Build every namespace's grammars now, so no session message pays for it."""
        for namespace in SCHEMA_FILES:
            self.codec.prepare(namespace)

    def encode(self, message: str, namespace: str) -> bytes:
        return self.codec.encode(message, namespace)

    def decode(self, stream: bytes, namespace: str) -> str:
        return self.codec.decode(stream, namespace)

    def get_version(self) -> str:
        return self.codec.get_version()

    def shutdown(self) -> None:
        pass


class CappedExificientCodec(ExificientEXICodec):
    """The package's codec, but its JVM gets a small heap and the serial collector.

    The stock class hard-codes its JVM options (default heap: 400-800 MiB RSS here).
    """

    def __init__(self, heap_mb: int = 64):  # noqa: D107 - replaces the parent's JVM start
        from py4j.java_gateway import JavaGateway

        logging.getLogger('py4j').setLevel(logging.CRITICAL)
        self.gateway = JavaGateway.launch_gateway(
            classpath=JAR_FILE_PATH,
            die_on_exit=True,
            javaopts=['--add-opens', 'java.base/java.lang=ALL-UNNAMED',
                      f'-Xmx{heap_mb}m', '-XX:+UseSerialGC', '-Xss512k'],
        )
        self.exi_codec = self.gateway.jvm.com.siemens.ct.exi.main.cmd.EXICodec()

    def prepare(self) -> None:
        pass

    def shutdown(self) -> None:
        self.gateway.shutdown()


def make_codec(name: str, jvm_heap_mb: int):
    """A ready codec by name; building it may take a while (run it off the event loop)."""
    if name == NATIVE:
        codec = NativeCodec()
    elif name == EXIFICIENT:
        codec = CappedExificientCodec(jvm_heap_mb)
    else:
        raise ValueError(f'unknown EXI codec {name!r}, expected one of {EXI_CODECS}')
    codec.prepare()
    return codec
