"""Mappings from the floor's vocabulary to Odoo records, one model per kind.

Every change bumps the owning connection's revision (the sidecar reloads its
configuration when it moves) and is written in the connection's chatter, so a
plant can tell which mapping an event was applied under.
"""

import json
import math

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from ..event_validation import EVENT_TYPES
from ..field_guard import refuse_protected_write


class ShopfloorMappingMixin(models.AbstractModel):
    _name = "shopfloor.mapping.mixin"
    _description = "Shop Floor Mapping (common behaviour)"
    # Events of a connection apply as superuser: what a row points to must be of its company.
    _check_company_auto = True
    # Fields the sidecar never reads: writing only these moves no revision.
    _mapping_inert_fields = ()

    connection_id = fields.Many2one("shopfloor.connection", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)

    def _mapping_label(self):
        """Short text naming the row in the chatter."""
        return self.display_name

    def _post_mapping_change(self, verb):
        by_connection = {}
        # The label names what a row points to (a work center, an order): a manager
        # editing mappings need not be able to open those records.
        for row in self:
            by_connection.setdefault(row.connection_id, []).append(row.sudo()._mapping_label())
        for connection, labels in by_connection.items():
            shown = ", ".join(labels[:20]) + (_(" and %s more", len(labels) - 20) if len(labels) > 20 else "")
            connection._bump_revision(_("%(model)s %(verb)s: %(rows)s", model=self._description, verb=verb, rows=shown))

    @api.model_create_multi
    def create(self, vals_list):
        rows = super().create(vals_list)
        rows._post_mapping_change(_("added"))
        return rows

    def write(self, vals):
        # Follows the connection; a stored related field written directly would not.
        refuse_protected_write(self, vals, {"company_id": None})
        if vals and not set(vals) - set(self._mapping_inert_fields):
            return super().write(vals)
        before = self.connection_id
        result = super().write(vals)
        changed = ", ".join(sorted(vals))
        self._post_mapping_change(_("changed (%s)", changed))
        moved_from = before - self.connection_id
        if moved_from:
            moved_from._bump_revision(_("%s moved to another connection", self._description))
        return result

    def unlink(self):
        self._post_mapping_change(_("removed"))
        return super().unlink()


class ShopfloorSourceMap(models.Model):
    _name = "shopfloor.source.map"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Source to work center"
    _order = "connection_id, source"
    _rec_name = "source"

    source = fields.Char(required=True, help="CloudEvent source (asset path), e.g. plant1/line1/press-01")
    workcenter_id = fields.Many2one(
        "mrp.workcenter", required=True, ondelete="restrict", index=True, check_company=True
    )

    _sql_constraints = [
        ("source_uniq", "unique(connection_id, source)", "A source maps to one work center per connection."),
    ]

    def _mapping_label(self):
        return f"{self.source} → {self.workcenter_id.display_name}"


class ShopfloorOrderMap(models.Model):
    _name = "shopfloor.order.map"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "MES order to manufacturing order"
    _order = "connection_id, mes_ref"
    _rec_name = "mes_ref"

    mes_ref = fields.Char(string="MES order", required=True, index=True)
    production_id = fields.Many2one("mrp.production", required=True, ondelete="cascade", index=True, check_company=True)

    _sql_constraints = [
        ("mes_ref_uniq", "unique(connection_id, mes_ref)", "An MES order maps to one manufacturing order."),
    ]

    def _mapping_label(self):
        return f"{self.mes_ref} → {self.production_id.name}"


class ShopfloorOperationMap(models.Model):
    _name = "shopfloor.operation.map"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Floor operation to routing operation"
    _order = "connection_id, operation"
    _rec_name = "operation"

    operation = fields.Char(string="Floor operation", required=True, help="Operation name or code the floor sends.")
    operation_id = fields.Many2one("mrp.routing.workcenter", required=True, ondelete="cascade", check_company=True)
    workcenter_id = fields.Many2one(
        "mrp.workcenter", help="Only for events of this work center (empty: any).", check_company=True
    )

    _sql_constraints = [
        (
            "operation_uniq",
            "unique(connection_id, operation, workcenter_id)",
            "An operation code maps to one routing operation (per work center).",
        ),
    ]

    def _mapping_label(self):
        return f"{self.operation} → {self.operation_id.display_name}"


class ShopfloorMaterialMap(models.Model):
    _name = "shopfloor.material.map"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Material code to product"
    _order = "connection_id, code"
    _rec_name = "code"

    code = fields.Char(required=True, index=True)
    product_id = fields.Many2one("product.product", required=True, ondelete="cascade", check_company=True)

    _sql_constraints = [
        ("code_uniq", "unique(connection_id, code)", "A material code maps to one product per connection."),
    ]

    def _mapping_label(self):
        return f"{self.code} → {self.product_id.display_name}"


class ShopfloorUomMap(models.Model):
    _name = "shopfloor.uom.map"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Floor unit to unit of measure"
    _order = "connection_id, code"
    _rec_name = "code"

    code = fields.Char(required=True)
    uom_id = fields.Many2one("uom.uom", string="Unit", required=True, ondelete="cascade")

    _sql_constraints = [
        ("code_uniq", "unique(connection_id, code)", "A unit code maps to one unit of measure per connection."),
    ]

    def _mapping_label(self):
        return f"{self.code} → {self.uom_id.name}"


class ShopfloorReasonMap(models.Model):
    _name = "shopfloor.reason.map"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Reason code to loss reason"
    _order = "connection_id, code"
    _rec_name = "code"

    code = fields.Char(required=True, index=True)
    loss_id = fields.Many2one(
        "mrp.workcenter.productivity.loss", string="Loss reason", required=True, ondelete="restrict"
    )
    loss_type = fields.Selection(related="loss_id.loss_type")
    open_maintenance = fields.Boolean(
        help="A downtime with this code opens a maintenance request on the work center's equipment."
    )

    _sql_constraints = [
        ("code_uniq", "unique(connection_id, code)", "A reason code maps to one loss reason per connection."),
    ]

    def _mapping_label(self):
        return f"{self.code} → {self.loss_id.name}"


class ShopfloorMappingRule(models.Model):
    _name = "shopfloor.mapping.rule"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Tag rule (OPC UA node / Sparkplug metric / mapped payload value)"
    _order = "connection_id, sequence, id"
    _rec_name = "address"

    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        [("counter", "Counter"), ("state", "State"), ("trigger", "Trigger")], required=True, default="counter"
    )
    protocol = fields.Selection(
        [("opcua", "OPC UA"), ("sparkplug", "Sparkplug B"), ("payload", "Mapped payload value")],
        required=True,
        default="opcua",
        help="Mapped payload value: an address a 'Values' payload mapping yields (a UNS topic, a Kepware tag id), "
        "for MQTT and HTTP alike.",
    )
    address = fields.Char(
        required=True,
        help="OPC UA node id (ns=2;s=[default]Line1/Press03/Good), Sparkplug metric (group/edge/device/metric), "
        "or the address a values payload mapping yields (plant1/line1/press-01/GoodCount, Channel1.Device1.Count).",
    )
    source = fields.Char(required=True, help="CloudEvent source the derived events carry.")
    event_type = fields.Char(help="counter: production.reported or scrap.reported; trigger: any event type.")
    params_json = fields.Text(
        string="Parameters (JSON)",
        default="{}",
        help="counter: wrap_at, window_ms, order_address; state: value_map, reason_address; trigger: fields. "
        "Every kind: scale and offset (numbers: value × scale + offset, before the rule sees it) and unit (the "
        "floor unit its events carry as uom when the rule sets none).",
    )

    _sql_constraints = [
        (
            "address_uniq",
            "unique(connection_id, protocol, address, kind)",
            "One rule of a kind per address and connection.",
        ),
    ]

    @api.constrains("params_json", "kind", "event_type")
    def _check_params(self):
        for rule in self:
            try:
                params = json.loads(rule.params_json or "{}")
            except ValueError as error:
                raise ValidationError(
                    _("Rule %(address)s: parameters are not valid JSON (%(error)s).", address=rule.address, error=error)
                ) from error
            if not isinstance(params, dict):
                raise ValidationError(_("Rule %s: parameters must be a JSON object.", rule.address))
            for name in ("scale", "offset"):
                value = params.get(name)
                if value is not None and (  # null: no scale / offset, as the sidecar reads it
                    isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                ):
                    raise ValidationError(
                        _(
                            "Rule %(address)s: %(name)s must be a number (value × scale + offset), got %(value)s.",
                            address=rule.address,
                            name=name,
                            value=json.dumps(value),
                        )
                    )
            if params.get("scale") == 0:
                raise ValidationError(
                    _("Rule %s: a scale of 0 turns every value into the offset; leave scale out for 1.", rule.address)
                )
            if "unit" in params and (not isinstance(params["unit"], str) or not params["unit"].strip()):
                raise ValidationError(
                    _(
                        'Rule %(address)s: unit must be the floor unit as text (e.g. "PCS"), got %(value)s.',
                        address=rule.address,
                        value=json.dumps(params["unit"]),
                    )
                )
            if rule.event_type and rule.event_type not in EVENT_TYPES:
                raise ValidationError(
                    _("Rule %(address)s: unknown event type %(type)r.", address=rule.address, type=rule.event_type)
                )
            if rule.kind == "counter" and rule.event_type not in ("production.reported", "scrap.reported"):
                raise ValidationError(
                    _(
                        "Counter rule %s must derive production.reported or scrap.reported events.",
                        rule.address,
                    )
                )

    def _sidecar_rule(self):
        self.ensure_one()
        return {
            "id": self.id,
            "kind": self.kind,
            "address": self.address,
            "protocol": self.protocol,
            "source": self.source,
            "event_type": self.event_type or "",
            "params": json.loads(self.params_json or "{}"),
        }
