"""setup.ended: see changeover.py."""

from . import changeover


def apply(ctx):
    return changeover.end(ctx, "setup")
