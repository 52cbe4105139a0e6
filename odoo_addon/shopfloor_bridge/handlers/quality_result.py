"""quality.result: the measurement stored; a fail raises a hold when the company says so."""

from ..exceptions import EventRejected
from .quality_hold import raise_hold


def apply(ctx):
    production = ctx.production(required=False, allow_closed=True)
    workorder = ctx.workorder(production, required=False, include_done=True) if production else production
    characteristic = ctx.text("characteristic", required=True)
    passed = ctx.boolean("pass", required=True)
    value = _optional_number(ctx, "value")
    low = _optional_number(ctx, "low")
    high = _optional_number(ctx, "high")
    result = ctx.env["shopfloor.quality.result"].create(
        {
            "characteristic": characteristic,
            "passed": passed,
            "value": value or 0.0,
            "has_value": value is not None,
            "unit": ctx.text("unit") or False,
            "low": low or 0.0,
            "high": high or 0.0,
            "has_limits": low is not None or high is not None,
            "time": ctx.time,
            "production_id": production.id or False,
            "workorder_id": workorder.id or False,
            "workcenter_id": (workorder.workcenter_id or ctx.workcenter()).id or False,
            "company_id": (production.company_id or ctx.company).id,
            "connection_id": ctx.connection.id or False,
            "event_id": ctx.event.id,
        }
    )
    produced = [result]
    company = production.company_id or ctx.company
    holdable = production.state != "done" if production else bool(result.workcenter_id)
    if not passed and company.shopfloor_hold_on_quality_fail and holdable:
        measured = f" = {value:g}{(' ' + result.unit) if result.unit else ''}" if value is not None else ""
        limits = (
            f" (limits {low if low is not None else '-'} … {high if high is not None else '-'})"
            if result.has_limits
            else ""
        )
        hold = raise_hold(
            ctx,
            production,
            workorder if workorder and workorder.state not in ("done", "cancel") else None,
            result.workcenter_id if not production else None,
            f"Quality check failed: {characteristic}{measured}{limits}",
            reason_code=None,
            hold_ref=None,
        )
        hold.quality_result_id = result
        result.hold_id = hold
        produced.append(hold)
    return produced


def _optional_number(ctx, key):
    if ctx.data.get(key) is None:
        return None
    value = ctx.data[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise EventRejected(f"{ctx.type}: data.{key} must be a number, got {value!r}")
    return float(value)
