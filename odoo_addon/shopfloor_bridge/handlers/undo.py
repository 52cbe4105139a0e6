"""What an apply changed that its result cannot tell, kept on the event for its reversal.

``result_refs`` names the records an event produced; it cannot say what a
record looked like before (a work order's state and dates, a raw move's
flags, a time log's loss before its overtime split). The handlers call
``remember`` at the moment they change such a record; ``apply_event`` stores
the list as the event's ``undo_json`` and ``services/reverse.py`` undoes it,
last change first. Only plain JSON values: ids, numbers, text, UTC datetimes
as Odoo's strings.
"""

import json
from datetime import date, datetime

from odoo import fields


def remember(ctx, kind, **values):
    ctx.undo.append({"kind": kind, **values})


def values_of(record, names):
    """``record``'s ``names`` as JSON values (many2one as id, dates as strings)."""
    values = {}
    for name in names:
        value = record[name]
        if hasattr(value, "_name"):
            value = value.id or False
        elif isinstance(value, datetime):
            value = fields.Datetime.to_string(value)
        elif isinstance(value, date):
            value = fields.Date.to_string(value)
        values[name] = value
    return values


def values(ctx):
    """The event's fields to write for its undo record: ``undo_json`` when it differs
    from the stored one, else nothing. Replaced on every apply (a re-applied event
    starts afresh); written even when empty ("[]"): an event without one was applied
    before undo records were kept, and its reversal is refused rather than guessed."""
    text = json.dumps(ctx.undo)
    return {"undo_json": text} if (ctx.event.sudo().undo_json or False) != text else {}


def store(ctx):
    """Writes the event's undo record now (``values``)."""
    changed = values(ctx)
    if changed:
        ctx.event.sudo().write(changed)
