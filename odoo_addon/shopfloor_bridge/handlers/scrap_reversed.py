"""scrap.reversed: the floor takes back a scrap it reported (the parts were good after all).

The scrap is named by ``scrap_event``, the CloudEvent id of its scrap.reported
(scoped to the event's connection; ``scrap_source`` picks one source when two
sources of the connection used that id), else found by ``order`` (+
``material``, default the MO's product, + ``operation``) as the latest done
scrap with at least ``qty`` left to return. ``qty`` (default: all that is
left) goes back from the scrap location to where it was scrapped from by a
return move (``compensations.return_scrap``); the scrap itself stays, as stock
history does.

A scrap.reported not applied yet makes the event wait; one that went to the
dead-letter queue or made no scrap is refused. In a batch the events before it
have their outcomes written first (``services/apply.TYPES_READING_EVENT_STATES``).
"""

from ..exceptions import EventPending
from .compensations import CompensationRefused, return_scrap, returnable_scrap_qty


def apply(ctx):
    scrap_event = ctx.text("scrap_event")
    if scrap_event:
        scrap = _scrap_of_event(ctx, scrap_event, ctx.text("scrap_source"))
        production = scrap.production_id
    else:
        production = ctx.production(required=True, allow_closed=True)
        scrap = None
    if scrap:
        product = scrap.product_id
    elif ctx.text("material"):
        product = ctx.product(ctx.text("material"))
    else:
        product = production.product_id
    uom = ctx.uom(ctx.text("uom"), scrap.product_uom_id if scrap else product.uom_id)
    given = ctx.number("qty", default=None)
    if scrap is None:
        qty = ctx.quantity(given, uom, product.uom_id, f"return of scrapped {product.display_name}")
        scrap = _scrap_by_order(ctx, production, product, qty)
    elif given is None:
        qty = returnable_scrap_qty(scrap)
        if not qty:
            raise CompensationRefused("already_reversed", f"scrap {scrap.name} was already returned in full.")
    else:
        qty = ctx.quantity(given, uom, scrap.product_uom_id, f"return of scrapped {product.display_name}")
    move = return_scrap(scrap, qty, ctx.time)
    return [move, scrap, scrap.workorder_id or production]


def _scrap_of_event(ctx, floor_id, source):
    """The stock.scrap the scrap.reported ``floor_id`` (of this connection) made."""
    domain = [("event_uid", "=", floor_id), ("type", "=", "scrap.reported")]
    domain.append(("connection_id", "=", ctx.connection.id) if ctx.connection else ("connection_id", "=", False))
    if source:
        domain.append(("source", "=", source))
    events = ctx.env["shopfloor.event"].search(domain)
    if not events:
        raise EventPending(
            f"No scrap.reported with id {floor_id!r} on connection {ctx.connection_label} yet "
            f"(it may arrive later); check data.scrap_event."
        )
    if len(events) > 1:
        raise CompensationRefused(
            "ambiguous_scrap",
            f"scrap.reported {floor_id!r} came from {len(events)} sources of connection {ctx.connection_label} "
            f"({', '.join(events.mapped('source'))}): send data.scrap_source to name one.",
        )
    if events.state in ("pending", "failed"):
        raise EventPending(f"The scrap.reported {floor_id!r} it reverses is {events.state}: it waits for it to apply.")
    if events.state != "applied":
        raise CompensationRefused(
            "scrap_not_applied",
            f"the scrap.reported {floor_id!r} it reverses is {events.state}: it scrapped nothing to return.",
        )
    scrap = ctx.env["stock.scrap"]
    for ref in (events.result_refs or "").splitlines():
        model, _sep, record_id = ref.partition(",")
        if model == "stock.scrap" and record_id.isdigit():
            scrap = ctx.env["stock.scrap"].browse(int(record_id)).exists()
            break
    if not scrap:
        raise CompensationRefused("scrap_not_found", f"the scrap.reported {floor_id!r} made no stock.scrap to return.")
    return scrap


def _scrap_by_order(ctx, production, product, qty):
    """The latest done scrap of ``product`` on ``production`` (and its work order, when
    data.operation names one) with ``qty`` left to return."""
    domain = [("production_id", "=", production.id), ("product_id", "=", product.id), ("state", "=", "done")]
    if ctx.text("operation"):
        workorder = ctx.workorder(production, include_done=True)
        domain.append(("workorder_id", "=", workorder.id))
    scraps = ctx.env["stock.scrap"].search(domain, order="date_done desc, id desc")
    for scrap in scraps:
        if returnable_scrap_qty(scrap) >= qty - product.uom_id.rounding / 2:
            return scrap
    left = sum(returnable_scrap_qty(scrap) for scrap in scraps)
    if not scraps:
        raise CompensationRefused(
            "no_matching_scrap", f"{production.name} has no done scrap of {product.display_name} to return."
        )
    if left <= product.uom_id.rounding / 2:
        raise CompensationRefused(
            "already_reversed", f"every scrap of {product.display_name} on {production.name} was already returned."
        )
    raise CompensationRefused(
        "more_than_scrapped",
        f"no single scrap of {product.display_name} on {production.name} has {qty:g} {product.uom_id.name} left "
        f"to return ({left:g} left over {len(scraps)} scraps): name the scrap by data.scrap_event.",
    )
