"""Who owns the count, on the apply path: what applies an event before its handler runs.

- An order (or the event's work order) a person closed by hand: the connection's
  ``closed_order_policy`` decides. ``dead_letter``: the event goes to the
  dead-letter queue naming who closed it and when. ``correction``: nothing is
  booked on the closed order; a ``shopfloor.count.correction`` row records the
  floor's count against the booked quantity, the order's responsible gets one
  activity (and a chatter note) per review, and the event is applied, linked to
  the row.
- A quantity event (``QUANTITY_TYPES``) whose work center's counting source is
  ``operator``: the quantities are kept as information (the work order's floor
  count and floor scrap), nothing is booked; a completion closes the floor's
  time logs at ``time`` and leaves the work order for the operator to finish.
- Anything else: the event's own handler.

``note_floor_driven`` marks the work orders (and the order) an applied event
drove: with the ``machine`` counting source, people may then no longer change
their quantities or finish them by hand (``models/shopfloor_count_owner.py``).
"""

from odoo import fields
from odoo.tools import float_is_zero

from ..exceptions import PermanentError
from . import timelog

# Types whose handler needs an open order: the ones an order closed by hand meets.
# (Setup, teardown, scrap, quality and releases also apply to a done order.)
ORDER_TYPES = frozenset(
    {
        "workorder.started",
        "workorder.paused",
        "workorder.resumed",
        "workorder.completed",
        "production.reported",
        "material.consumed",
    }
)
# Types that name a work order (data.operation, else the source's work center).
WORKORDER_TYPES = ORDER_TYPES - {"material.consumed"} | {"scrap.reported"}
# Types that book a count: the operator's, when the work center says so.
QUANTITY_TYPES = frozenset({"production.reported", "workorder.completed", "scrap.reported"})
# Types after which a work order runs on the floor's count.
DRIVING_TYPES = frozenset(
    {"workorder.started", "workorder.paused", "workorder.resumed", "workorder.completed", "production.reported"}
)


def handler_for(ctx, handler):
    """The function that applies this event: ``handler``, or one of the count owner's."""
    if ctx.type not in ORDER_TYPES and ctx.type not in QUANTITY_TYPES:
        return handler
    if not ctx.text("order"):
        return handler
    production = ctx.production(required=False, allow_closed=True)
    if production.state == "cancel":
        return handler  # refused by the handler, as before
    workorder = _workorder(ctx, production)
    if ctx.type in ORDER_TYPES:
        if production.state == "done" and production.shopfloor_closed_by_id:
            return _policy(ctx, production, workorder, production)
        if workorder.state == "done" and workorder.shopfloor_closed_by_id:
            return _policy(ctx, production, workorder, workorder)
    if production.state == "done" or (workorder.state in ("done", "cancel") and ctx.type != "scrap.reported"):
        return handler  # refused by the handler, as before (a scrap may name a finished work order)
    if ctx.type in QUANTITY_TYPES:
        workcenter = workorder.workcenter_id if workorder else ctx.workcenter()
        if workcenter.shopfloor_count_source == "operator":
            return lambda context: _as_information(context, production, workorder)
    return handler


def _workorder(ctx, production):
    if ctx.type not in WORKORDER_TYPES:
        return ctx.env["mrp.workorder"]
    return ctx.workorder(production, required=False, include_done=True)


def note_floor_driven(ctx, records):
    """Marks the work orders and the order an applied event of ``DRIVING_TYPES`` drove."""
    if ctx.type not in DRIVING_TYPES:
        return
    workorders = ctx.env["mrp.workorder"]
    for record in records:
        if record._name == "mrp.workorder":
            workorders |= record
        elif record._name == timelog.Productivity:
            workorders |= record.workorder_id
    values = {"shopfloor_floor_driven": True, "shopfloor_floor_connection_id": ctx.connection.id or False}
    new = workorders.filtered(lambda wo: not wo.shopfloor_floor_driven)
    if new:
        new.write(values)
    production = ctx.production(required=False, allow_closed=True) or workorders.production_id[:1]
    if production and not production.shopfloor_floor_driven:
        if not production.workorder_ids:
            values["shopfloor_floor_workcenter_id"] = ctx.workcenter().id or False
        production.write(values)


# ---------------------------------------------------------------------- closed by hand


def _policy(ctx, production, workorder, closed):
    """``closed``: the order or work order a person closed (its closed-by fields)."""
    if ctx.connection.closed_order_policy != "correction":
        raise PermanentError(_closed_message(ctx, closed))
    return lambda context: _book_correction(context, production, workorder, closed)


def _closed_message(ctx, closed):
    what = (
        f"Manufacturing order {closed.name}"
        if closed._name == "mrp.production"
        else f"Work order {closed.name} of {closed.production_id.name}"
    )
    return (
        f"{what} was closed by hand by {closed.shopfloor_closed_by_id.name} on "
        f"{fields.Datetime.to_string(closed.shopfloor_closed_on)} UTC: connection {ctx.connection_label} parks "
        f"floor events for orders closed by hand ({ctx.type} not applied). Book what the floor reported on the "
        f"order by hand if it is missing and discard this event, or set the connection's Closed orders policy "
        f"to Correction and retry it."
    )


def _book_correction(ctx, production, workorder, closed):
    qty_good, qty_scrap = _quantities(ctx, production) if ctx.type in QUANTITY_TYPES else (0.0, 0.0)
    corrections = ctx.env["shopfloor.count.correction"]
    scope = [("production_id", "=", production.id), ("workorder_id", "=", workorder.id or False)]
    previous = corrections.search(scope, order="id desc", limit=1)
    booked = workorder.qty_produced if workorder else production.qty_produced
    floor_total = previous.floor_total if previous else booked
    if ctx.type == "workorder.completed":
        floor_total = qty_good
    elif ctx.type == "production.reported":
        floor_total += qty_good
    needs_review = not corrections.search_count([("production_id", "=", production.id), ("state", "=", "open")])
    row = corrections.create(
        {
            "production_id": production.id,
            "workorder_id": workorder.id or False,
            "event_id": ctx.event.id,
            "connection_id": ctx.connection.id or False,
            "event_type": ctx.type,
            "event_time": ctx.time.replace(microsecond=0),
            "qty_good": qty_good,
            "qty_scrap": qty_scrap,
            "floor_total": floor_total,
            "booked_qty": booked,
            "closed_by_id": closed.shopfloor_closed_by_id.id,
            "closed_on": closed.shopfloor_closed_on,
        }
    )
    if needs_review:
        _ask_for_review(ctx, production, closed)
    return [row, workorder or production]


def _ask_for_review(ctx, production, closed):
    env = ctx.env
    note = env._(
        "The floor (connection %(connection)s) reported on %(order)s after %(user)s closed it by hand. "
        "Nothing was booked: compare the floor's count with the booked quantity under Floor counts after "
        "closing, correct the order if needed, and mark the rows reviewed.",
        connection=ctx.connection_label,
        order=closed.display_name,
        user=closed.shopfloor_closed_by_id.name,
    )
    production.message_post(body=note, subtype_xmlid="mail.mt_note")
    activity_type = env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
    if activity_type:
        production.activity_schedule(
            activity_type_id=activity_type.id,
            summary=env._("Floor events after a manual close"),
            note=note,
            user_id=(production.user_id or closed.shopfloor_closed_by_id).id,
        )


# ---------------------------------------------------------------------- operator counts


def _quantities(ctx, production):
    uom = ctx.uom(ctx.text("uom"), production.product_uom_id)
    target = production.product_uom_id
    qty_good = ctx.quantity(ctx.number("qty_good", required=True), uom, target, "qty_good")
    qty_scrap = ctx.quantity(ctx.number("qty_scrap"), uom, target, "qty_scrap")
    return qty_good, qty_scrap


def _as_information(ctx, production, workorder):
    if ctx.type == "scrap.reported":
        return _scrap_as_information(ctx, production, workorder)
    if ctx.type == "workorder.completed" and not workorder:
        workorder = ctx.workorder(production)  # its error, as the completion's handler says it
    qty_good, qty_scrap = _quantities(ctx, production)
    counted = workorder or production
    if ctx.type == "workorder.completed":
        counted.shopfloor_floor_qty = qty_good
    else:
        counted.shopfloor_floor_qty += qty_good
    if qty_scrap and workorder:
        workorder.shopfloor_qty_scrap += qty_scrap
    records = [counted]
    if ctx.type == "workorder.completed":
        records += list(timelog.close_logs(ctx, timelog.open_logs(ctx, workorder=workorder)))
        production.message_post(
            body=ctx.env._(
                "The floor reported %(wo)s complete (%(good)s good, %(scrap)s scrap) at %(time)s UTC. "
                "Operators count on %(workcenter)s: book the quantity and finish the work order.",
                wo=workorder.name,
                good=qty_good,
                scrap=qty_scrap,
                time=fields.Datetime.to_string(ctx.time.replace(microsecond=0)),
                workcenter=workorder.workcenter_id.name,
            ),
            subtype_xmlid="mail.mt_note",
        )
    return records


def _scrap_as_information(ctx, production, workorder):
    material = ctx.text("material")
    product = ctx.product(material) if material else production.product_id
    uom = ctx.uom(ctx.text("uom"), product.uom_id)
    qty = ctx.quantity(ctx.number("qty", required=True), uom, product.uom_id, f"scrap of {product.display_name}")
    if float_is_zero(qty, precision_rounding=product.uom_id.rounding):
        raise PermanentError("scrap.reported with qty 0: nothing to scrap.")
    if workorder and product == production.product_id:
        workorder.shopfloor_qty_scrap += product.uom_id._compute_quantity(qty, production.product_uom_id, round=False)
    return [workorder or production]
