"""Typed errors of the EXI codec."""


class ExiError(Exception):
    """Base class of every error the EXI codec raises."""


class ExiEncodeError(ExiError):
    """The message cannot be encoded: it does not fit the schema."""


class ExiDecodeError(ExiError):
    """The bytes are not a valid EXI stream for the schema."""


class ExiSchemaError(ExiError):
    """The schema uses a construct the codec does not support."""
