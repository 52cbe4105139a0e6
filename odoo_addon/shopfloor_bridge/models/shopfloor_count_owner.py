"""Who owns the count of a work center: the machine (the floor's events), the operator
(quantities booked in Odoo), or both (each books what it sees, as before this choice).

The work center says who counts (``shopfloor_count_source``); a work order is
*floor-driven* once an applied floor event touched it (the apply path sets
``shopfloor_floor_driven`` and the connection, ``handlers/count_owner.py``).
With ``machine``, a person can neither change the quantity of a floor-driven
work order or its MO nor finish it by hand: the guards below raise a
``UserError`` naming the work center and the connection. The apply path runs
with the system's rights (``env.su``) and is never refused.

A person who closes an order by hand is remembered (``shopfloor_closed_by_id``,
``shopfloor_closed_on``): floor events arriving for it later follow the
connection's ``closed_order_policy``.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError

from ..field_guard import refuse_protected_write

COUNT_SOURCES = [
    ("both", "Machine and operator"),
    ("machine", "Machine"),
    ("operator", "Operator"),
]
# Set by the apply path and by the close guards only.
PROTECTED_COUNT_FIELDS = (
    "shopfloor_floor_driven",
    "shopfloor_floor_connection_id",
    "shopfloor_floor_workcenter_id",
    "shopfloor_floor_qty",
    "shopfloor_closed_by_id",
    "shopfloor_closed_on",
)
COUNTED_WORKORDER_FIELDS = ("qty_producing", "qty_produced")


class MrpWorkcenter(models.Model):
    # Who owns the count; the other fields of the work center live in mrp_workcenter.py.
    _inherit = "mrp.workcenter"  # pylint: disable=consider-merging-classes-inherited

    shopfloor_count_source = fields.Selection(
        COUNT_SOURCES,
        string="Counting source",
        default="both",
        required=True,
        help="Who books the produced quantities of this work center's orders.\n"
        "Machine: the floor's events count; once a work order has received floor events, people can no "
        "longer change its quantity nor finish it (or its manufacturing order) by hand.\n"
        "Operator: people book the quantities in Odoo; the floor's production reports, completions and "
        "scraps are kept beside them as information (time logs still follow the floor).\n"
        "Machine and operator: both book what they report (they add up).",
    )


class MrpWorkorder(models.Model):
    _inherit = "mrp.workorder"  # pylint: disable=consider-merging-classes-inherited

    shopfloor_floor_driven = fields.Boolean(
        string="Floor-driven",
        copy=False,
        readonly=True,
        help="Set when a shop-floor event was applied to this work order.",
    )
    shopfloor_floor_connection_id = fields.Many2one(
        "shopfloor.connection",
        string="Floor connection",
        copy=False,
        readonly=True,
        ondelete="set null",
        help="The connection whose events drive this work order.",
    )
    shopfloor_floor_qty = fields.Float(
        string="Floor count (not booked)",
        digits="Product Unit of Measure",
        copy=False,
        readonly=True,
        help="Good quantity the floor reported while the operator owns the count: information beside "
        "Odoo's quantity, never booked.",
    )
    shopfloor_closed_by_id = fields.Many2one(
        "res.users", string="Finished by hand by", copy=False, readonly=True, ondelete="set null"
    )
    shopfloor_closed_on = fields.Datetime(string="Finished by hand on", copy=False, readonly=True)

    def _shopfloor_machine_counted(self):
        """The open work orders of ``self`` whose count the machine owns."""
        return self.filtered(
            lambda wo: wo.shopfloor_floor_driven
            and wo.state not in ("done", "cancel")
            and wo.workcenter_id.shopfloor_count_source == "machine"
        )

    def _shopfloor_refuse_manual_count(self, action):
        """A person (not the apply path) may not ``action`` a work order the machine counts."""
        if self.env.su:
            return
        owned = self.sudo()._shopfloor_machine_counted()
        if owned:
            workorder = owned[0]
            what = self.env._("work order %(wo)s of %(mo)s", wo=workorder.name, mo=workorder.production_id.name)
            raise UserError(
                _machine_owns_message(
                    self.env, workorder.workcenter_id, workorder.shopfloor_floor_connection_id, what, action
                )
            )

    def _shopfloor_note_manual_close(self):
        if self.env.su:
            return
        done = self.filtered(lambda wo: wo.state == "done" and not wo.shopfloor_closed_by_id)
        if done:
            done.sudo().write({"shopfloor_closed_by_id": self.env.uid, "shopfloor_closed_on": fields.Datetime.now()})


class MrpProduction(models.Model):
    _inherit = "mrp.production"  # pylint: disable=consider-merging-classes-inherited

    shopfloor_floor_driven = fields.Boolean(
        string="Floor-driven",
        copy=False,
        readonly=True,
        help="Set when a shop-floor event was applied to this manufacturing order.",
    )
    shopfloor_floor_connection_id = fields.Many2one(
        "shopfloor.connection", string="Floor connection", copy=False, readonly=True, ondelete="set null"
    )
    shopfloor_floor_workcenter_id = fields.Many2one(
        "mrp.workcenter",
        string="Floor work center",
        copy=False,
        readonly=True,
        ondelete="set null",
        help="For an order without work orders: the work center whose floor reported its quantities.",
    )
    shopfloor_floor_qty = fields.Float(
        string="Floor count (not booked)",
        digits="Product Unit of Measure",
        copy=False,
        readonly=True,
        help="Good quantity the floor reported for an order without work orders while the operator owns "
        "the count: information, never booked.",
    )
    shopfloor_closed_by_id = fields.Many2one(
        "res.users", string="Closed by hand by", copy=False, readonly=True, ondelete="set null"
    )
    shopfloor_closed_on = fields.Datetime(string="Closed by hand on", copy=False, readonly=True)
    shopfloor_count_correction_ids = fields.One2many(
        "shopfloor.count.correction", "production_id", string="Floor counts after closing"
    )
    shopfloor_count_correction_count = fields.Integer(compute="_compute_shopfloor_count_correction")
    shopfloor_floor_difference = fields.Float(
        string="Floor minus booked",
        digits="Product Unit of Measure",
        compute="_compute_shopfloor_count_correction",
        help="What the floor counted after the order was closed by hand, less what was booked "
        "(the latest correction's figure).",
    )

    shopfloor_count_owner_message = fields.Char(
        compute="_compute_shopfloor_count_owner_message",
        help="Who reports this order's quantities when a machine owns the count.",
    )

    def _compute_shopfloor_count_owner_message(self):
        for production in self:
            # The connection is the bridge's configuration: MRP users read its name here only.
            open_order = production.id and production.state not in ("done", "cancel")
            owner = open_order and production.sudo()._shopfloor_count_owner()
            production.shopfloor_count_owner_message = (
                self.env._(
                    "Work center %(workcenter)s counts by machine: the shop-floor connection %(connection)s reports "
                    "this order's quantities and completions.",
                    workcenter=owner[0].display_name,
                    connection=_connection_label(self.env, owner[1]),
                )
                if owner
                else False
            )

    @api.depends("shopfloor_count_correction_ids.difference")
    def _compute_shopfloor_count_correction(self):
        for production in self:
            corrections = production.shopfloor_count_correction_ids.sorted(lambda row: (row.event_time, row.id))
            production.shopfloor_count_correction_count = len(corrections)
            production.shopfloor_floor_difference = corrections[-1:].difference if corrections else 0.0

    def _shopfloor_count_owner(self):
        """(work center, connection) of the machine that counts this order, or None."""
        self.ensure_one()
        owned = self.workorder_ids.filtered(
            lambda wo: wo.shopfloor_floor_driven and wo.workcenter_id.shopfloor_count_source == "machine"
        )
        if owned:
            return owned[0].workcenter_id, owned[0].shopfloor_floor_connection_id
        workcenter = self.shopfloor_floor_workcenter_id
        if not self.workorder_ids and self.shopfloor_floor_driven and workcenter.shopfloor_count_source == "machine":
            return workcenter, self.shopfloor_floor_connection_id
        return None

    def _shopfloor_refuse_manual_quantity(self):
        if self.env.su:
            return
        # A done order stays open to Odoo's own post-production correction (unlock, edit the quantity).
        for production in self.sudo().filtered(lambda mo: mo.state not in ("done", "cancel")):
            owner = production._shopfloor_count_owner()
            if owner:
                workcenter, connection = owner
                action = self.env._("change the produced quantity of")
                raise UserError(_machine_owns_message(self.env, workcenter, connection, production.name, action))

    def _shopfloor_refuse_manual_close(self):
        """Closing is refused while a work order the machine counts is still open (mark-done would
        finish it with a person's quantity); once the machine finished them, a person may close."""
        if self.env.su:
            return
        self.workorder_ids._shopfloor_refuse_manual_count(self.env._("close"))

    def _shopfloor_note_manual_close(self):
        if self.env.su:
            return
        done = self.filtered(lambda production: production.state == "done" and not production.shopfloor_closed_by_id)
        if done:
            done.sudo().write({"shopfloor_closed_by_id": self.env.uid, "shopfloor_closed_on": fields.Datetime.now()})

    def action_view_shopfloor_count_corrections(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_count_correction_action")
        action["domain"] = [("production_id", "=", self.id)]
        return action


def _machine_owns_message(env, workcenter, connection, what, action):
    return env._(
        "You cannot %(action)s %(what)s by hand: work center %(workcenter)s counts by machine, and the "
        "shop-floor connection %(connection)s reports its quantities and completions. To book by hand, "
        "set the work center's Counting source to Operator (or Machine and operator).",
        action=action,
        what=what,
        workcenter=workcenter.display_name,
        connection=_connection_label(env, connection),
    )


def _connection_label(env, connection):
    return f"{connection.name} ({connection.code})" if connection else env._("(no connection)")


def refuse_count_field_write(records, vals):
    refuse_protected_write(records, vals, PROTECTED_COUNT_FIELDS)
