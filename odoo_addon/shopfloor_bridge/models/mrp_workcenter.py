import logging

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..field_guard import refuse_protected_write

_logger = logging.getLogger(__name__)

# Written by the bridge's handlers only (with the system's rights): a person
# or an RPC caller editing them could close or hijack another plant's downtime.
PROTECTED_LOG_FIELDS = (
    "shopfloor_kind",
    "shopfloor_downtime_ref",
    "shopfloor_connection_id",
    "shopfloor_event_id",
    "shopfloor_close_event_id",
)
# The floor's keys: never set by a plain create either (nor copied by Odoo's own
# copy of a time log, e.g. when ``_close`` splits overtime).
FLOOR_KEY_FIELDS = ("shopfloor_downtime_ref", "shopfloor_connection_id")


class MrpWorkcenter(models.Model):
    # The module's own fields of the work center; dispatch triggers live in their file.
    _inherit = "mrp.workcenter"  # pylint: disable=consider-merging-classes-inherited

    # Community has no workcenter <-> equipment link (mrp_maintenance is Enterprise):
    # breakdown reason codes open their maintenance request on this equipment.
    shopfloor_equipment_id = fields.Many2one(
        "maintenance.equipment",
        string="Maintenance equipment",
        check_company=True,
        help="Equipment that gets a maintenance request when the floor reports a breakdown here.",
    )
    shopfloor_ideal_cycle_ids = fields.One2many(
        "shopfloor.ideal.cycle",
        "workcenter_id",
        string="Ideal cycle times",
        help="Per product, the ideal cycle time standard OEE uses instead of the routing's.",
    )
    shopfloor_line = fields.Char(
        string="Line",
        help="The line this work center's tile is grouped under on the live plant view. Empty: its first "
        "tag, else the connection whose source mapping feeds it.",
    )


class MrpWorkcenterProductivityLoss(models.Model):
    _inherit = "mrp.workcenter.productivity.loss"

    # Which of the six big losses a reason is (or a planned stop, outside OEE);
    # empty: by Odoo's category (availability: breakdown; the others run).
    shopfloor_oee_loss = fields.Selection(
        [
            ("planned_stop", "Planned stop (not in planned production time)"),
            ("breakdown", "Breakdown"),
            ("setup", "Setup and adjustment"),
            ("small_stop", "Small stop (performance)"),
        ],
        string="Standard OEE loss",
        help="Planned stops (breaks, planned maintenance, no orders planned) are taken off the "
        "planned production time; breakdowns and setups are availability losses; small stops count "
        "in run time and lower performance. Empty: an availability reason is a breakdown, any "
        "other category is run time.",
    )


class MrpWorkcenterProductivity(models.Model):
    _inherit = "mrp.workcenter.productivity"

    shopfloor_kind = fields.Selection(
        [("work", "Work"), ("downtime", "Downtime"), ("setup", "Setup"), ("teardown", "Teardown")],
        string="Floor activity",
        index=True,
        help="Set when the time log was written from a shop-floor event.",
    )
    shopfloor_downtime_ref = fields.Char(
        string="Floor downtime id",
        index=True,
        copy=False,
        help="The floor's downtime_id: unique among the open downtimes of its connection.",
    )
    shopfloor_connection_id = fields.Many2one(
        "shopfloor.connection",
        string="Floor connection",
        readonly=True,
        index=True,
        copy=False,
        ondelete="restrict",
        help="The connection whose floor opened this time log; the floor's ids are matched within it only.",
    )
    shopfloor_event_id = fields.Many2one(
        "shopfloor.event", string="Opened by event", readonly=True, ondelete="set null"
    )
    shopfloor_close_event_id = fields.Many2one(
        "shopfloor.event", string="Closed by event", readonly=True, ondelete="set null"
    )

    def init(self):
        super().init()
        cr = self.env.cr
        # One plant's D-7 names one open downtime; another plant may have its own D-7.
        # COALESCE: logs of events without a connection share one scope (NULLs never collide).
        cr.execute(
            SQL(
                """SELECT COALESCE(shopfloor_connection_id, 0), shopfloor_downtime_ref, count(*)
                     FROM mrp_workcenter_productivity
                    WHERE date_end IS NULL AND shopfloor_downtime_ref IS NOT NULL
                    GROUP BY 1, 2 HAVING count(*) > 1"""
            )
        )
        duplicates = cr.fetchall()
        if duplicates:
            # Opened before ids were unique per connection (then per work center): the index
            # comes with the next update once they are closed; the handlers refuse new ones.
            _logger.warning(
                "shopfloor_bridge: open downtimes sharing a floor id within one connection %s; "
                "the unique index on open downtime ids is created once they are closed.",
                duplicates,
            )
            return
        cr.execute(
            SQL(
                """CREATE UNIQUE INDEX IF NOT EXISTS mrp_workcenter_productivity_open_downtime_ref_uniq
                       ON mrp_workcenter_productivity (COALESCE(shopfloor_connection_id, 0), shopfloor_downtime_ref)
                    WHERE date_end IS NULL AND shopfloor_downtime_ref IS NOT NULL"""
            )
        )

    @api.constrains("workorder_id")
    def _check_open_time_ids(self):
        """Odoo's rule (one user cannot have a work order open twice), asked once for
        the logs' work orders, on their open logs only. Odoo's own check passes the
        ids of every log of the work order (``time_ids``) to the database on each new
        log: an order paused and resumed all day paid for its whole history."""
        workorders = self.workorder_id
        if not workorders:
            return
        twice = self._read_group(
            [("workorder_id", "in", workorders.ids), ("date_end", "=", False)],
            ["workorder_id", "user_id"],
            having=[("__count", ">", 1)],
        )
        if twice:
            raise ValidationError(_("The Workorder (%s) cannot be started twice!", twice[0][0].display_name))

    @api.model_create_multi
    def create(self, vals_list):
        if not self.env.su:
            for vals in vals_list:
                floor_keys = {name: vals[name] for name in FLOOR_KEY_FIELDS if vals.get(name)}
                refuse_protected_write(self, floor_keys, FLOOR_KEY_FIELDS, operation="create")
        return super().create(vals_list)

    def write(self, vals):
        refuse_protected_write(self, vals, PROTECTED_LOG_FIELDS)
        return super().write(vals)
