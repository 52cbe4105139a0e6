from odoo import api, fields, models

from ..field_guard import refuse_protected_write

# Written by the apply path only; a person reviews a row (state, review note).
PROTECTED_CORRECTION_FIELDS = (
    "production_id",
    "workorder_id",
    "event_id",
    "connection_id",
    "event_type",
    "event_time",
    "qty_good",
    "qty_scrap",
    "floor_total",
    "booked_qty",
    "closed_by_id",
    "closed_on",
    "reviewed_by_id",
)


class ShopfloorCountCorrection(models.Model):
    """A floor event that arrived for an order a person had closed by hand, under the
    connection's ``correction`` policy: what the floor counted against what was booked.

    Nothing is booked on the closed order: the row, a note in the order's chatter and
    an activity for its responsible say what the floor saw, and the responsible decides
    (Odoo's own unlock-and-edit of a done order, a new order, or nothing)."""

    _name = "shopfloor.count.correction"
    _description = "Floor count after a manual close"
    _order = "event_time desc, id desc"

    production_id = fields.Many2one(
        "mrp.production", string="Manufacturing order", required=True, index=True, ondelete="cascade", readonly=True
    )
    workorder_id = fields.Many2one("mrp.workorder", string="Work order", ondelete="set null", readonly=True)
    company_id = fields.Many2one(related="production_id.company_id", store=True)
    product_uom_id = fields.Many2one(related="production_id.product_uom_id", string="Unit")
    event_id = fields.Many2one("shopfloor.event", string="Event", ondelete="set null", readonly=True, index=True)
    connection_id = fields.Many2one("shopfloor.connection", string="Connection", ondelete="set null", readonly=True)
    event_type = fields.Char(string="Event type", readonly=True)
    event_time = fields.Datetime(string="Floor time", readonly=True)
    qty_good = fields.Float(
        string="Good (event)",
        digits="Product Unit of Measure",
        readonly=True,
        help="The event's good quantity: an increment for a production report, the total for a completion.",
    )
    qty_scrap = fields.Float(string="Scrap (event)", digits="Product Unit of Measure", readonly=True)
    floor_total = fields.Float(
        string="Floor count",
        digits="Product Unit of Measure",
        readonly=True,
        help="The floor's good count for the order after this event: the booked quantity plus the reports "
        "since closing, or a completion's total.",
    )
    booked_qty = fields.Float(
        string="Booked", digits="Product Unit of Measure", readonly=True, help="The order's produced quantity."
    )
    difference = fields.Float(
        string="Floor minus booked", digits="Product Unit of Measure", compute="_compute_difference", store=True
    )
    closed_by_id = fields.Many2one("res.users", string="Closed by", ondelete="set null", readonly=True)
    closed_on = fields.Datetime(string="Closed on", readonly=True)
    state = fields.Selection(
        [("open", "To review"), ("done", "Reviewed")], default="open", required=True, readonly=True, index=True
    )
    reviewed_by_id = fields.Many2one("res.users", string="Reviewed by", readonly=True, ondelete="set null")
    review_note = fields.Text(string="Review note")

    @api.depends("floor_total", "booked_qty")
    def _compute_difference(self):
        for row in self:
            row.difference = row.floor_total - row.booked_qty

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                refuse_protected_write(self, vals, PROTECTED_CORRECTION_FIELDS, operation="create")
        return super().create(vals_list)

    def write(self, vals):
        refuse_protected_write(self, vals, {**dict.fromkeys(PROTECTED_CORRECTION_FIELDS), "state": "Reviewed"})
        return super().write(vals)

    def action_mark_reviewed(self):
        self.check_access("write")
        self.sudo().write({"state": "done", "reviewed_by_id": self.env.uid})
        return True
