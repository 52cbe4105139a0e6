from odoo import fields, models


class ResCompany(models.Model):
    _inherit = "res.company"

    shopfloor_close_mo_on_last_wo = fields.Boolean(
        string="Close the MO when its last work order completes",
        default=True,
        help="workorder.completed on the last open work order marks the manufacturing order done "
        "(no backorder, no consumption warning).",
    )
    shopfloor_hold_on_quality_fail = fields.Boolean(
        string="Hold the order on a failed quality result",
        default=True,
        help="A quality.result with pass=false raises a hold on its order (or workcenter).",
    )
