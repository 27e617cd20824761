"""The protocol engine adapter for the `iso15118` package (Josev) EVCC.

Everything that knows Josev's classes lives here; the rest of the core and the node talk to
`JosevEngine` only through `core.engine.ProtocolEngine`.
"""
