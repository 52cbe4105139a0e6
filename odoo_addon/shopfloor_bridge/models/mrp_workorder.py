from odoo import fields, models

from ..field_guard import refuse_protected_write
from .shopfloor_count_owner import COUNTED_WORKORDER_FIELDS, refuse_count_field_write


class MrpWorkorder(models.Model):
    # The module's own fields of the work order; dispatch triggers live in their file.
    _inherit = "mrp.workorder"  # pylint: disable=consider-merging-classes-inherited

    # Odoo's field without its domain (a client-side one; the field is in no view). With a
    # domain the ORM cannot use it as the inverse of blocked_by_workorder_ids when a work
    # order's state may change (BaseModel._modified_triggers), and searches the work orders
    # it blocks instead: a query each time a stock move of the MO is written, which the
    # floor's reports, consumptions and scraps do all day. Without it, a read of the cache.
    needed_by_workorder_ids = fields.Many2many(domain=[])

    shopfloor_qty_scrap = fields.Float(
        string="Scrap reported by the floor",
        digits="Product Unit of Measure",
        copy=False,
        readonly=True,
        help="Units the floor reported as scrap on this operation (qty_scrap of its events).",
    )

    def write(self, vals):
        # Counted by the floor's events only (handlers run as superuser).
        refuse_protected_write(self, vals, {"shopfloor_qty_scrap": None})
        refuse_count_field_write(self, vals)
        if any(name in vals for name in COUNTED_WORKORDER_FIELDS):
            self._shopfloor_refuse_manual_count(self.env._("change the quantity of"))
        return super().write(vals)

    # Quality holds block these the same way for a button click and an RPC call.
    def button_start(self, raise_on_invalid_state=False):
        self.env["shopfloor.hold"]._active_for_workorders(self)._raise_if_any(self.env._("start the work order"))
        # Odoo fills in the whole remaining quantity when a work order starts with none.
        self.filtered(lambda wo: not wo.qty_producing)._shopfloor_refuse_manual_count(self.env._("start"))
        return super().button_start(raise_on_invalid_state=raise_on_invalid_state)

    def button_finish(self):
        self.env["shopfloor.hold"]._active_for_workorders(self)._raise_if_any(self.env._("finish the work order"))
        self._shopfloor_refuse_manual_count(self.env._("finish"))
        still_open = self.filtered(lambda wo: wo.state not in ("done", "cancel"))
        result = super().button_finish()
        still_open._shopfloor_note_manual_close()
        return result

    def button_done(self):
        self.env["shopfloor.hold"]._active_for_workorders(self)._raise_if_any(self.env._("finish the work order"))
        self._shopfloor_refuse_manual_count(self.env._("finish"))
        still_open = self.filtered(lambda wo: wo.state not in ("done", "cancel"))
        result = super().button_done()
        still_open._shopfloor_note_manual_close()
        return result
