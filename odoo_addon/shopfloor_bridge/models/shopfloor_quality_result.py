from odoo import api, fields, models
from odoo.tools import SQL

from ..field_guard import refuse_protected_write

# What the floor measured, where, and what it raised: the record of a check is
# not edited afterwards (a new measurement is a new result).
PROTECTED_FIELDS = (
    "characteristic",
    "passed",
    "value",
    "has_value",
    "unit",
    "low",
    "high",
    "has_limits",
    "time",
    "production_id",
    "workorder_id",
    "workcenter_id",
    "company_id",
    "connection_id",
    "event_id",
    "hold_id",
)
# Links only the bridge sets, never on a plain create either.
BRIDGE_LINK_FIELDS = ("connection_id", "event_id", "hold_id")


class ShopfloorQualityResult(models.Model):
    """A measurement or check reported by the floor (Community has no quality module)."""

    _name = "shopfloor.quality.result"
    _description = "Shop Floor Quality Result"
    _order = "time desc, id desc"

    characteristic = fields.Char(required=True, index=True)
    passed = fields.Boolean(string="Pass", index=True)
    value = fields.Float(digits=(16, 6))
    has_value = fields.Boolean(help="False when the floor reported a pass/fail without a measured value.")
    unit = fields.Char()
    low = fields.Float(string="Lower limit", digits=(16, 6))
    high = fields.Float(string="Upper limit", digits=(16, 6))
    has_limits = fields.Boolean()
    time = fields.Datetime(required=True, index=True, help="When the floor measured it (the event time).")
    production_id = fields.Many2one("mrp.production", string="Manufacturing Order", index=True, ondelete="set null")
    workorder_id = fields.Many2one("mrp.workorder", string="Work Order", index=True, ondelete="set null")
    workcenter_id = fields.Many2one("mrp.workcenter", string="Work Center", index=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    connection_id = fields.Many2one(
        "shopfloor.connection",
        string="Connection",
        readonly=True,
        index=True,
        ondelete="restrict",
        help="The connection whose floor reported the result; a hold it raises belongs to the same connection.",
    )
    event_id = fields.Many2one("shopfloor.event", string="Event", readonly=True, ondelete="set null")
    hold_id = fields.Many2one("shopfloor.hold", string="Hold raised", readonly=True)

    def init(self):
        # Results stored before results carried their connection: their event knows it.
        self.env.cr.execute(
            SQL(
                """UPDATE shopfloor_quality_result result SET connection_id = event.connection_id
                 FROM shopfloor_event event
                WHERE result.event_id = event.id AND result.connection_id IS NULL
                  AND event.connection_id IS NOT NULL"""
            )
        )

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                links = {name: vals[name] for name in BRIDGE_LINK_FIELDS if vals.get(name)}
                refuse_protected_write(self, links, BRIDGE_LINK_FIELDS, operation="create")
        return super().create(vals_list)

    def write(self, vals):
        refuse_protected_write(self, vals, PROTECTED_FIELDS)
        return super().write(vals)
