"""Placeholder until the protocol module lands."""
from .context import Context, Outcome


async def run(ctx: Context) -> Outcome:
    raise NotImplementedError('iso20')
