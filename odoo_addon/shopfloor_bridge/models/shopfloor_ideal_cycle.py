from odoo import _, api, fields, models
from odoo.exceptions import ValidationError


class ShopfloorIdealCycle(models.Model):
    """A product's ideal cycle time on one work center, when the routing's is not it.

    The routing's cycle time is a planning standard (it may include slack, or be
    learnt from past orders); standard OEE needs the machine's best possible
    time per unit. Without an override, the ideal is the operation's manual
    cycle time divided by the work center's capacity for the product.
    """

    _name = "shopfloor.ideal.cycle"
    _description = "Ideal cycle time per product on a work center (standard OEE)"
    _order = "workcenter_id, product_id"
    _check_company_auto = True

    workcenter_id = fields.Many2one("mrp.workcenter", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="workcenter_id.company_id", store=True)
    product_id = fields.Many2one("product.product", required=True, ondelete="cascade", check_company=True)
    ideal_cycle_time = fields.Float(
        "Ideal cycle time (min/unit)",
        required=True,
        digits=(16, 4),
        help="Fastest possible time for one unit of this product on this work center, in minutes.",
    )

    _sql_constraints = [
        (
            "workcenter_product_uniq",
            "unique(workcenter_id, product_id)",
            "A product has one ideal cycle time per work center.",
        ),
    ]

    @api.constrains("ideal_cycle_time")
    def _check_ideal_cycle_time(self):
        for line in self:
            if line.ideal_cycle_time <= 0:
                raise ValidationError(
                    _(
                        "The ideal cycle time of %(product)s on %(workcenter)s must be above zero (minutes per unit).",
                        product=line.product_id.display_name,
                        workcenter=line.workcenter_id.display_name,
                    )
                )
