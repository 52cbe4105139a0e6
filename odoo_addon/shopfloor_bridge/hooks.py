from odoo.tools import SQL

from .models.shopfloor_cost_variance import STOCK_INDEXES


def uninstall_hook(env):
    """Drops what the module made outside its own tables: its indexes on Odoo's stock tables."""
    for name in STOCK_INDEXES:
        env.cr.execute(SQL("DROP INDEX IF EXISTS %s", SQL.identifier(name)))
