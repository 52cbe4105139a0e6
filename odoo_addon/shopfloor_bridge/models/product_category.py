from odoo import fields, models


class ProductCategory(models.Model):
    _inherit = "product.category"

    # 0 means "no threshold": a category without limits never flags an MO.
    shopfloor_cost_variance_threshold = fields.Float(
        "Cost Variance Threshold (%)",
        help="A running MO of this category whose actual cost exceeds its cost at standard by more than this "
        "percentage is flagged and its responsible gets an activity. 0 disables the check.",
    )
    shopfloor_time_variance_threshold = fields.Float(
        "Time Variance Threshold (%)",
        help="Same for the actual duration against the standard duration of the good quantity. 0 disables it.",
    )
    shopfloor_scrap_threshold = fields.Float(
        "Scrap Threshold (%)",
        help="Same for scrap as a percentage of good + scrap quantity. 0 disables it.",
    )
