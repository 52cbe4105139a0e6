"""scrap.reported: a validated ``stock.scrap`` linked to the MO/WO, dated at ``time``.

``do_scrap`` is called directly: the floor already threw the parts away, so
Odoo's insufficient-stock wizard (``action_validate``) has nothing to ask.

In a batch, a scrap whose validation no other event of the batch can tell
from one made at once (see ``_may_validate_later``) is made and validated
with the batch's other scraps (``validate_scraps``): one ``create`` for the
scraps and one ``_action_done`` for their stock moves, instead of each per
scrap. The event's result names its scrap all the same.
"""

from odoo.tools import escape_psql, float_compare

from odoo.addons.stock.models.stock_scrap import StockScrap

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
        # The name as written, whatever its case: "_" and "%" are no wildcards here.
        tag = ctx.cached_search("stock.scrap.reason.tag", [("name", "=ilike", escape_psql(reason_code.lower()))])
        if tag:
            values["scrap_reason_tag_ids"] = [(6, 0, tag.ids)]
    when = ctx.time.replace(microsecond=0)
    sync = ctx.producing_sync
    if sync is not None and _may_validate_later(ctx.env["stock.scrap"].new(values)):
        sync.defer_scrap(ctx.event, ctx.env, values, when)  # the result gets the scrap once it is made
        return [workorder or production]
    if sync is not None:
        sync.validate_scraps()  # the batch's scraps in the order they were reported
    scrap = ctx.env["stock.scrap"].create(values)
    run_odoo(f"Scrapping {qty} {product.uom_id.name} of {product.display_name}", scrap.do_scrap)
    _date(scrap, when)
    return [scrap, workorder or production]


def _date(scrap, when):
    scrap.date_done = when
    scrap.move_ids.write({"date": when})
    scrap.move_ids.move_line_ids.write({"date": when})


def _may_validate_later(scrap):
    """True when validating ``scrap`` later in the batch ends the same as at once.

    Its stock move touches only unreserved quants of its product (so it frees no
    other move's reservation, which would change what later events see); the
    events that may apply in between touch no stock (the others validate the
    waiting scraps first: ``producing.TYPES_COMMUTING_WITH_SCRAPS``). Tracked
    products (the lot is required), kits (the move explodes), replenishment,
    and a ``do_scrap`` that another module extends are validated at once."""
    product = scrap.product_id
    if (
        product.tracking != "none"
        or product.is_kits
        or scrap.should_replenish
        or scrap.lot_id
        or scrap.package_id
        or scrap.owner_id
        or type(scrap).do_scrap is not StockScrap.do_scrap
    ):
        return False
    reserved = scrap.env["stock.quant"].search_count(
        [
            ("product_id", "=", product.id),
            ("location_id", "child_of", scrap.location_id.id),
            ("reserved_quantity", "!=", 0),
        ],
        limit=1,
    )
    return not reserved


def validate_scraps(scraps_at):
    """Makes the scraps of ``scraps_at`` ((env, values, time) in event order) and does what
    ``do_scrap`` does, for all of them at once; returns the scraps, in that order.

    Odoo's own steps, in ``do_scrap``'s order: the scraps made by one ``create``,
    a name from the sequence each, a move per scrap from its
    ``_prepare_move_values``, then one ``_action_done`` for all the moves (quants
    and valuation layers as one by one: the move lines are done in creation
    order), the scraps done; each is then dated at its event's time, as a scrap
    validated alone is. Scraps of different companies are made per company, in order."""
    runs = []
    for env, values, when in scraps_at:
        if runs and runs[-1][0] == env:
            runs[-1][1].append((values, when))
        else:
            runs.append((env, [(values, when)]))
    made = []
    for env, run in runs:
        scraps = env["stock.scrap"].create([values for values, _when in run])
        scraps._check_company()
        for scrap in scraps:
            scrap.name = env["ir.sequence"].next_by_code("stock.scrap") or env._("New")
        # A move per scrap, all made by one ``create`` (the order's moves and figures are
        # then recomputed once, not once per scrap). A scrap's quantity is computed from
        # its move (``_compute_scrap_qty``: the move's quantity, for a product that is no
        # kit); run over several scraps at once, mrp's override computes the first only
        # and leaves the others at 1, so it is not run here: the quantity stays the one
        # the scrap was made with, and each move is checked to carry that same quantity,
        # which is what the compute would have read. Should one differ, the batch
        # applies one by one.
        expected = [scraps._fields["scrap_qty"].convert_to_cache(values["scrap_qty"], scraps) for values, _when in run]
        with env.protecting([scraps._fields["scrap_qty"]], scraps):
            moves = env["stock.move"].create([scrap._prepare_move_values() for scrap in scraps])
            moves.with_context(is_scrap=True)._action_done()
            scraps.write({"state": "done"})
        for scrap, qty, (_values, when) in zip(scraps, expected, run, strict=True):
            _check_quantity(scrap, qty)
            _date(scrap, when)
        made.extend(scraps)
    return made


class ScrapQuantityChanged(Exception):
    """Odoo recomputed a scrap's quantity while the batch made it: the batch applies one by one."""


def _check_quantity(scrap, qty):
    done = scrap.move_ids[:1].quantity
    if scrap.scrap_qty != qty or float_compare(done, qty, precision_rounding=scrap.product_uom_id.rounding):
        raise ScrapQuantityChanged(
            f"the scrap of {scrap.product_id.display_name} became {scrap.scrap_qty} "
            f"(its stock move {done}) instead of {qty}"
        )
