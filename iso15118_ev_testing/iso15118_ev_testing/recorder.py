"""Record an EV node's topics to an MCAP file (ROS 2 profile: ros2msg schemas, CDR messages),
readable by Foxglove, PlotJuggler and the `mcap` / `mcap-ros2-support` packages.

Messages are taken as DDS delivered them (raw subscriptions), so what is recorded is exactly
what was published; each channel's schema is the message definition with the definitions it
uses, as `ros2 bag` writes them.
"""
from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Dict, Iterable, Tuple

from ament_index_python.packages import get_package_share_directory
from mcap.writer import Writer
from rclpy.node import Node
from rclpy.qos import QoSProfile

SEPARATOR = '=' * 80
RECORD_DEPTH = 1000
PRIMITIVES = {'bool', 'byte', 'char', 'float32', 'float64', 'int8', 'uint8', 'int16', 'uint16',
              'int32', 'uint32', 'int64', 'uint64', 'string', 'wstring'}
FIELD_TYPE = re.compile(r'^\s*([A-Za-z_][\w/]*)')


def message_definition(datatype: str) -> str:
    """The ros2msg schema text of `datatype` ('pkg/msg/Name'): its .msg, then each type it
    uses (recursively), each after a separator line and 'MSG: pkg/Name'."""
    seen: Dict[str, str] = {}
    _collect(_short(datatype), seen)
    (_, text), *rest = seen.items()
    parts = [text] + [f'{SEPARATOR}\nMSG: {name}\n{body}' for name, body in rest]
    return '\n'.join(parts)


def _short(datatype: str) -> str:
    package, *_, name = datatype.split('/')
    return f'{package}/{name}'


def _collect(name: str, seen: Dict[str, str]) -> None:
    if name in seen:
        return
    package, short = name.split('/')
    text = (Path(get_package_share_directory(package)) / 'msg' / f'{short}.msg').read_text()
    seen[name] = text
    for line in text.splitlines():
        match = FIELD_TYPE.match(line.split('#', 1)[0])
        if not match or '=' in line.split('#', 1)[0]:
            continue
        kind = match.group(1).split('[')[0]
        if kind in PRIMITIVES:
            continue
        _collect(kind if '/' in kind else f'{package}/{kind}', seen)


class McapRecorder:
    """Subscribes `node` to `topics` ((name, message class, QoS) each) and writes every message
    to `path` until `close()`."""

    def __init__(self, node: Node, path: str, topics: Iterable[Tuple[str, type, QoSProfile]]):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._file = open(path, 'wb')
        self._writer = Writer(self._file)
        self._writer.start(profile='ros2', library='iso15118_ev_testing')
        self._lock = threading.Lock()
        self._count = 0
        self._subscriptions = []
        for topic, kind, qos in topics:
            full = node.resolve_topic_name(topic)
            channel = self._channel(full, kind)
            deep = QoSProfile(depth=RECORD_DEPTH, durability=qos.durability,
                              reliability=qos.reliability)   # keep up with every update
            self._subscriptions.append(node.create_subscription(
                kind, topic, lambda data, c=channel: self._write(c, data), deep, raw=True))

    @property
    def count(self) -> int:
        return self._count

    def _channel(self, topic: str, kind: type) -> int:
        datatype = _datatype(kind)
        schema = self._writer.register_schema(
            name=datatype, encoding='ros2msg', data=message_definition(datatype).encode())
        return self._writer.register_channel(topic=topic, message_encoding='cdr',
                                             schema_id=schema)

    def _write(self, channel: int, data: bytes) -> None:
        now = time.time_ns()
        with self._lock:
            self._writer.add_message(channel_id=channel, log_time=now, publish_time=now,
                                     data=data, sequence=self._count)
            self._count += 1

    def close(self) -> None:
        with self._lock:
            self._writer.finish()
            self._file.close()


def _datatype(kind: type) -> str:
    """'pkg/msg/Name' of a generated message class."""
    module = kind.__module__.split('.')
    return f'{module[0]}/msg/{kind.__name__}'
