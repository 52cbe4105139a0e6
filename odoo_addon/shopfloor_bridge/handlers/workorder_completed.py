"""workorder.completed: produced quantity, time logs closed and the WO finished at ``time``;
the last WO closes the MO when the company says so.

``button_finish`` and ``button_mark_done`` stamp now(); the WO finish is
replicated here with the event time, and the MO's finish date is set to the
event time after Odoo's own mark-done ran.
"""

from odoo.tools import float_is_zero, float_round

from ..exceptions import OnHold, PermanentError
from . import timelog, tracking, undo
from .producing import set_producing
from .resolve import run_odoo

WIZARD_MODELS = ("mrp.consumption.warning", "mrp.production.backorder", "mrp.batch.produce")


def finish_workorder(ctx, workorder):
    """button_finish at ``ctx.time``."""
    # Not button_finish: it stamps now() as the finish and closes the time logs at now() (end_all).
    production = workorder.production_id
    finish = ctx.time.replace(microsecond=0)
    moves = workorder.move_raw_ids + production.move_byproduct_ids.filtered(
        lambda move: move.operation_id == workorder.operation_id
    )
    for move in moves:
        if not move.picked:
            if float_is_zero(production.qty_producing, precision_rounding=production.product_uom_id.rounding):
                qty_available = production.product_qty
            else:
                qty_available = production.qty_producing
            move._set_quantity_done(
                float_round(qty_available * move.unit_factor, precision_rounding=move.product_uom.rounding)
            )
    undo.remember(ctx, "unpicked_moves", moves=moves.filtered(lambda move: not move.picked).ids)
    moves.picked = True
    closed = timelog.close_logs(ctx, timelog.open_logs(ctx, workorder=workorder))
    values = {
        "qty_produced": workorder.qty_produced or workorder.qty_producing or workorder.qty_production,
        "state": "done",
        "date_finished": finish,
        "costs_hour": workorder.workcenter_id.costs_hour,
    }
    if not workorder.date_start or finish < workorder.date_start:
        values["date_start"] = finish
    workorder.with_context(bypass_duration_calculation=True).write(values)
    return closed


def mark_production_done(ctx, production, serial_names=(), units=1.0):
    """Odoo's mark-done without its wizards; a wizard still coming back is a failure a person must see.

    A serial-tracked order of several ``units`` is first split one order per serial
    (``tracking.split_for_serials``); they are marked done together."""
    tracking.check_closable(ctx, production, serial_names, units)
    productions = tracking.split_for_serials(ctx, production, serial_names, units)
    result = run_odoo(
        f"Closing {production.name}",
        productions.with_context(skip_consumption=True, skip_backorder=True, skip_redirection=True).button_mark_done,
    )
    if isinstance(result, dict) and result.get("res_model") in WIZARD_MODELS:
        raise PermanentError(
            f"Closing {production.name} needs a decision in Odoo ({result.get('res_model')}): "
            f"close it from the manufacturing order."
        )
    if any(order.state != "done" for order in productions):
        raise PermanentError(f"{production.name} was not closed (state {production.state}).")
    finish = ctx.time.replace(microsecond=0)
    productions.with_context(force_date=True).write({"date_finished": finish})
    (productions.move_raw_ids | productions.move_finished_ids).filtered(lambda move: move.state == "done").write(
        {"date": finish}
    )
    return productions


def apply(ctx):
    production = ctx.production()
    workorder = ctx.workorder(production)
    ctx.check_holds(workorder, "finish the work order")
    uom = ctx.uom(ctx.text("uom"), production.product_uom_id)
    qty_good = ctx.quantity(ctx.number("qty_good", required=True), uom, production.product_uom_id, "qty_good")
    qty_scrap = ctx.quantity(ctx.number("qty_scrap"), uom, production.product_uom_id, "qty_scrap")
    lot_name, serial_names = tracking.check_finished(ctx, production, qty_good, production.product_uom_id)
    tracking.set_finished_lot(ctx, production, lot_name)

    undo.remember(
        ctx,
        "record",
        model=workorder._name,
        id=workorder.id,
        values=undo.values_of(workorder, ["qty_produced", "state", "date_start", "date_finished", "costs_hour"]),
    )
    if not float_is_zero(qty_good, precision_rounding=production.product_uom_id.rounding):
        undo.remember(ctx, "producing", production=production.id, previous=production.qty_producing)
        set_producing(ctx, production, qty_good)
        workorder.qty_produced = qty_good
    if qty_scrap:
        undo.remember(ctx, "floor_scrap", workorder=workorder.id, qty=qty_scrap)
        workorder.shopfloor_qty_scrap += qty_scrap
    produced = [*finish_workorder(ctx, workorder), workorder]

    others_open = production.workorder_ids.filtered(lambda wo: wo.state not in ("done", "cancel"))
    nothing_produced = float_is_zero(production.qty_producing, precision_rounding=production.product_uom_id.rounding)
    # With no good quantity Odoo would produce the full quantity on mark-done: leave that to a person.
    if not others_open and production.company_id.shopfloor_close_mo_on_last_wo and not nothing_produced:
        holds = ctx.env["shopfloor.hold"]._active_for_productions(production)
        if holds:  # e.g. a hold on an earlier WO of this order: closing waits for its release
            raise OnHold(holds._blocking_message("mark the manufacturing order done"))
        undo.remember(ctx, "production_done", production=production.id)
        units = 1.0
        if production.product_id.tracking == "serial":
            units = tracking.unit_count(qty_good, production.product_uom_id, production.product_id, ctx.type)
        produced.extend(mark_production_done(ctx, production, serial_names, units))
    return produced
