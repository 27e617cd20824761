"""The `iso15118` package's EXIficient codec (Java, through py4j) with a capped JVM.

Used by the charger simulator and as the oracle of the codec's differential tests; the EV
node never loads it.
"""
from __future__ import annotations

import logging

from iso15118.shared.exificient_exi_codec import ExificientEXICodec
from iso15118.shared.settings import JAR_FILE_PATH


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

    def shutdown(self) -> None:
        self.gateway.shutdown()
