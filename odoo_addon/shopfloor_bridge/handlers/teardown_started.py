"""teardown.started: see changeover.py."""

from . import changeover


def apply(ctx):
    return changeover.start(ctx, "teardown")
