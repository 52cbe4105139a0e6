from odoo import fields, models


class StockScrap(models.Model):
    _inherit = "stock.scrap"

    # A reversed floor scrap stays done (stock history is never deleted): its
    # quantity came back by this move, and the cost figures leave it out.
    shopfloor_return_move_id = fields.Many2one(
        "stock.move",
        string="Returned by",
        readonly=True,
        copy=False,
        index="btree_not_null",
        help="The move that brought this scrap back to stock when the event that made it was reversed.",
    )
