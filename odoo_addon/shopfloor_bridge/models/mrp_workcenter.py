from odoo import fields, models


class MrpWorkcenter(models.Model):
    _inherit = "mrp.workcenter"

    # Community has no workcenter <-> equipment link (mrp_maintenance is Enterprise):
    # breakdown reason codes open their maintenance request on this equipment.
    shopfloor_equipment_id = fields.Many2one(
        "maintenance.equipment",
        string="Maintenance equipment",
        check_company=True,
        help="Equipment that gets a maintenance request when the floor reports a breakdown here.",
    )


class MrpWorkcenterProductivity(models.Model):
    _inherit = "mrp.workcenter.productivity"

    shopfloor_kind = fields.Selection(
        [("work", "Work"), ("downtime", "Downtime"), ("setup", "Setup"), ("teardown", "Teardown")],
        string="Floor activity",
        index=True,
        help="Set when the time log was written from a shop-floor event.",
    )
    shopfloor_downtime_ref = fields.Char(string="Floor downtime id", index=True)
    shopfloor_event_id = fields.Many2one("shopfloor.event", string="Opened by event", readonly=True, ondelete="set null")
    shopfloor_close_event_id = fields.Many2one(
        "shopfloor.event", string="Closed by event", readonly=True, ondelete="set null"
    )
