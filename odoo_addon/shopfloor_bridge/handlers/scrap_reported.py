"""scrap.reported: a validated ``stock.scrap`` linked to the MO/WO, dated at ``time``.

``do_scrap`` is called directly: the floor already threw the parts away, so
Odoo's insufficient-stock wizard (``action_validate``) has nothing to ask.
"""

from ..exceptions import PermanentError
from .resolve import run_odoo


def apply(ctx):
    production = ctx.production(required=False, allow_closed=True)
    workorder = ctx.workorder(production, required=False, include_done=True) if production else production
    material = ctx.text("material")
    if material:
        product = ctx.product(material)
    elif production:
        product = production.product_id
    else:
        raise PermanentError("scrap.reported needs data.material or data.order to know what was scrapped.")
    uom = ctx.uom(ctx.text("uom"), product.uom_id)
    qty = ctx.quantity(ctx.number("qty", required=True), uom, product.uom_id, f"scrap of {product.display_name}")
    if not qty:
        raise PermanentError("scrap.reported with qty 0: nothing to scrap.")
    reason_code = ctx.text("reason_code")
    values = {
        "product_id": product.id,
        "product_uom_id": product.uom_id.id,
        "scrap_qty": qty,
        "company_id": (production.company_id or ctx.company).id,
        "origin": " ".join(part for part in (production.name or "", reason_code or "", ctx.event.source) if part),
    }
    if production:
        values["production_id"] = production.id
    if workorder:
        values["workorder_id"] = workorder.id
    if reason_code:
        tag = ctx.env["stock.scrap.reason.tag"].search([("name", "=ilike", reason_code)], limit=1)
        if tag:
            values["scrap_reason_tag_ids"] = [(6, 0, tag.ids)]
    scrap = ctx.env["stock.scrap"].create(values)
    run_odoo(f"Scrapping {qty} {product.uom_id.name} of {product.display_name}", scrap.do_scrap)
    when = ctx.time.replace(microsecond=0)
    scrap.date_done = when
    scrap.move_ids.write({"date": when})
    scrap.move_ids.move_line_ids.write({"date": when})
    return [scrap, workorder or production]
