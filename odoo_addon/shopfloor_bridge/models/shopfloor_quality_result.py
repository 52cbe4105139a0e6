from odoo import fields, models


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
    event_id = fields.Many2one("shopfloor.event", string="Event", readonly=True, ondelete="set null")
    hold_id = fields.Many2one("shopfloor.hold", string="Hold raised", readonly=True)
