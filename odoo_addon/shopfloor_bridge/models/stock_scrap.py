from odoo import fields, models


class StockScrap(models.Model):
    _inherit = "stock.scrap"

    # Indexed here (Odoo does not): the real-time cost of an MO, refreshed after each batch
    # of floor events, reads its validated scraps (shopfloor_cost_variance._CostInputs).
    production_id = fields.Many2one(index="btree_not_null")


class StockMove(models.Model):
    _inherit = "stock.move"

    # Indexed here (Odoo does not): the same read tells a scrap returned to stock (a reversed
    # floor event) by its move; without it, every stock move of the database was scanned.
    scrap_id = fields.Many2one(index="btree_not_null")
