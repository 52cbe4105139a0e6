"""Apply a stored ``shopfloor.event`` to Odoo: one module per event type.

``apply_event(event)`` returns the records the event produced (kept on the
event as its result) and raises the classes of ``exceptions.py`` to say
whether it waits, is retried or goes to the dead-letter queue.
"""

from ..exceptions import EventRejected
from . import (
    consumption_reversed,
    count_owner,
    downtime_ended,
    downtime_started,
    material_consumed,
    production_corrected,
    production_reported,
    quality_hold,
    quality_released,
    quality_result,
    scrap_reported,
    scrap_reversed,
    setup_ended,
    setup_started,
    teardown_ended,
    teardown_started,
    workorder_completed,
    workorder_paused,
    workorder_resumed,
    workorder_started,
)
from .resolve import EventContext
from .undo import store as store_undo
from .undo import values as undo_values

HANDLERS = {
    "workorder.started": workorder_started.apply,
    "workorder.paused": workorder_paused.apply,
    "workorder.resumed": workorder_resumed.apply,
    "workorder.completed": workorder_completed.apply,
    "production.reported": production_reported.apply,
    "material.consumed": material_consumed.apply,
    "scrap.reported": scrap_reported.apply,
    "production.corrected": production_corrected.apply,
    "scrap.reversed": scrap_reversed.apply,
    "consumption.reversed": consumption_reversed.apply,
    "quality.result": quality_result.apply,
    "quality.hold": quality_hold.apply,
    "quality.released": quality_released.apply,
    "downtime.started": downtime_started.apply,
    "downtime.ended": downtime_ended.apply,
    "setup.started": setup_started.apply,
    "setup.ended": setup_ended.apply,
    "teardown.started": teardown_started.apply,
    "teardown.ended": teardown_ended.apply,
}


def apply_event(event, producing_sync=None, lookups=None, undo=None):
    """``producing_sync``: the batch's ProducingSync (production reports then leave
    Odoo's stock cascade to it), or None to apply the event completely now;
    ``lookups``: a dict kept for the batch, remembering resolved maps and orders;
    ``undo``: a dict that receives the event's fields to write for its undo record
    (``undo.values``), for the caller to write with the event's outcome, instead of
    writing them now."""
    handler = HANDLERS.get(event.type)
    if handler is None:
        raise EventRejected(f"Unknown event type {event.type!r}: no handler.")
    context = EventContext(event, producing_sync=producing_sync, lookups=lookups)
    # Who owns the count: an operator's work center or an order closed by hand may take the event.
    handler = count_owner.handler_for(context, handler)
    records = [record for record in handler(context) if record]
    if undo is None:
        store_undo(context)
    else:
        undo.update(undo_values(context))
    count_owner.note_floor_driven(context, records)
    return records
