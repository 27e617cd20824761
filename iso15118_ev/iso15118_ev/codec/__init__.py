"""A schema-informed EXI codec for DIN SPEC 70121, ISO 15118-2 and ISO 15118-20 (no Java)."""
from .codec import NativeExiCodec
from .errors import ExiDecodeError, ExiEncodeError, ExiError, ExiSchemaError

__all__ = ['NativeExiCodec', 'ExiError', 'ExiEncodeError', 'ExiDecodeError', 'ExiSchemaError']
