"""Mappings from the floor's vocabulary to Odoo records, one model per kind.

Every change bumps the owning connection's revision (the sidecar reloads its
configuration when it moves) and is written in the connection's chatter, so a
plant can tell which mapping an event was applied under.
"""

import json

from odoo import Command, _, api, fields, models
from odoo.exceptions import UserError, ValidationError

from .. import plc, rule_params
from ..event_validation import EVENT_TYPES
from ..field_guard import refuse_protected_write
from ..opcua_node import node_id_error
from ..topic_filter import sparkplug_address_error


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

    def _mapping_change_notes(self, verb):
        """{connection: what happened to these rows of it}, for its revision."""
        by_connection = {}
        # The label names what a row points to (a work center, an order): a manager
        # editing mappings need not be able to open those records.
        for row in self:
            by_connection.setdefault(row.connection_id, []).append(row.sudo()._mapping_label())
        notes = {}
        for connection, labels in by_connection.items():
            shown = ", ".join(labels[:20]) + (_(" and %s more", len(labels) - 20) if len(labels) > 20 else "")
            notes[connection] = _("%(model)s %(verb)s: %(rows)s", model=self._description, verb=verb, rows=shown)
        return notes

    def _post_mapping_change(self, verb):
        for connection, note in self._mapping_change_notes(verb).items():
            connection._bump_revision(note)

    @api.model_create_multi
    def create(self, vals_list):
        connection_ids = {vals["connection_id"] for vals in vals_list if vals.get("connection_id")}
        self.env["shopfloor.mapping.revision"]._ensure_baseline(self.env["shopfloor.connection"].browse(connection_ids))
        rows = super().create(vals_list)
        rows._post_mapping_change(_("added"))
        return rows

    def write(self, vals):
        # Follows the connection; a stored related field written directly would not.
        refuse_protected_write(self, vals, {"company_id": None})
        if vals and not set(vals) - set(self._mapping_inert_fields):
            return super().write(vals)
        before = self.connection_id
        self.env["shopfloor.mapping.revision"]._ensure_baseline(before)
        result = super().write(vals)
        changed = ", ".join(sorted(vals))
        self._post_mapping_change(_("changed (%s)", changed))
        moved_from = before - self.connection_id
        if moved_from:
            moved_from._bump_revision(_("%s moved to another connection", self._description))
        return result

    def unlink(self):
        # The revision records the rows gone: it is taken after the unlink, the labels before.
        self.env["shopfloor.mapping.revision"]._ensure_baseline(self.connection_id)
        notes = self._mapping_change_notes(_("removed"))
        result = super().unlink()
        for connection, note in notes.items():
            connection._bump_revision(note)
        return result


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


# Marks the writes a rule makes of its own parameter rows (their changes are part of the rule's): a
# Python object, so no RPC caller can put it in a context.
ROWS_OF_RULE_WRITE = object()

PROTOCOLS = [
    ("opcua", "OPC UA"),
    ("sparkplug", "Sparkplug B"),
    ("payload", "Mapped payload value"),
    ("modbus", "Modbus TCP"),
    ("s7", "Siemens S7"),
    ("enip", "EtherNet/IP"),
]
STATE_CHOICES = [
    ("running", "Running"),
    ("idle", "Idle"),
    ("down", "Down"),
    ("setup", "Setup"),
    ("teardown", "Teardown"),
]
# Connection kinds whose source reads tag rules of the protocol of that name; the module checks
# those protocols' addresses when a rule is saved.
TAG_KINDS = (*plc.PLC_KINDS, "opcua", "sparkplug")


def _address_error(protocol, address, connection):
    """Why ``address`` is no tag of ``protocol`` ('' when it is one): a PLC tag, an OPC UA node id, or a
    Sparkplug B metric (of the group ``connection`` reads, when it is a Sparkplug host)."""
    if protocol == "opcua":
        error = node_id_error(address)
        return error and f"{address!r} {error}"
    if protocol == "sparkplug":
        group = connection.sparkplug_group_id if connection.kind == "sparkplug" else None
        return sparkplug_address_error(address, group)
    return plc.address_error(protocol, address)


# The typed fields the parameters are made of (rule_params.empty_typed() names them).
PARAM_FIELDS = tuple(name for name in rule_params.empty_typed() if name not in ("value_map", "fields"))


class ShopfloorMappingRule(models.Model):
    _name = "shopfloor.mapping.rule"
    _inherit = ["shopfloor.mapping.mixin"]
    _description = "Tag rule (OPC UA node / Sparkplug metric / PLC tag / mapped payload value)"
    _order = "connection_id, sequence, id"
    _rec_name = "address"
    # Text waiting for "Import JSON": the sidecar never reads it.
    _mapping_inert_fields = ("params_import",)

    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        [("counter", "Counter"), ("state", "State"), ("trigger", "Trigger")], required=True, default="counter"
    )
    protocol = fields.Selection(
        PROTOCOLS,
        required=True,
        default="opcua",
        help="Mapped payload value: an address a 'Values' payload mapping yields (a UNS topic, a Kepware tag id), "
        "for MQTT and HTTP alike. Modbus TCP, Siemens S7, EtherNet/IP: a tag of the PLC the connection polls (the "
        "connection's kind).",
    )
    address = fields.Char(
        required=True,
        help="OPC UA node id (ns=2;s=[default]Line1/Press03/Good, ns=2;i=1042, or nsu=<namespace URI>;s=… to keep "
        "the node when the server renumbers its namespaces), Sparkplug metric (group/edge/device/metric), "
        "the address a values payload mapping yields (plant1/line1/press-01/GoodCount, Channel1.Device1.Count), "
        "or a PLC tag: Modbus hr:100:float32:CDAB or 40101, S7 DB10,REAL8 or MW10, EtherNet/IP Program:Main.Count.",
    )
    source = fields.Char(required=True, help="CloudEvent source the derived events carry.")
    event_type = fields.Char(help="counter: production.reported or scrap.reported; trigger: any event type.")
    is_plc = fields.Boolean(compute="_compute_is_plc", help="A tag of a directly polled PLC.")
    never_read = fields.Char(
        compute="_compute_never_read",
        help="Why the connection's sidecar never reads this rule: its protocol is not the connection's.",
    )

    # Every kind
    use_scale = fields.Boolean(string="Scale the value", help="Multiply the value by Scale before the rule sees it.")
    scale = fields.Float(default=1.0, help="value × scale + offset; numbers only (any other value is refused).")
    use_offset = fields.Boolean(string="Offset the value", help="Add Offset to the value before the rule sees it.")
    offset = fields.Float(help="value × scale + offset; numbers only (any other value is refused).")
    unit = fields.Char(
        string="Engineering unit",
        help="The floor unit the derived events carry (as uom; as unit for quality results) when the rule sets "
        "none, e.g. PCS or kg. Mapped to an Odoo unit under Units.",
    )
    deadband = fields.Float(
        help="Polled PLCs: a number that moved less than this (after scale and offset) since the last observation "
        "is not observed. 0: every change counts.",
    )

    # Counter
    wrap_at = fields.Float(
        string="Wraps at",
        help="The counter's modulus: it goes from wrap_at − 1 back to 0 (65536 for a 16-bit counter, 4294967296 for "
        "32 bits). 0: it never wraps (a decrease is a reset to zero).",
    )
    window = fields.Float(
        help="Deltas are summed over this long and reported as one event (closed early when the order changes). "
        "0: one event per change.",
    )
    window_unit = fields.Selection([("ms", "ms"), ("s", "s")], default="s", required=True)
    order_address = fields.Char(string="Order tag", help="The tag holding the current order reference.")
    fixed_order = fields.Char(string="Fixed order", help="The order when no order tag is set or it is empty.")
    operation_address = fields.Char(string="Operation tag", help="The tag holding the current operation.")
    fixed_operation = fields.Char(string="Fixed operation", help="The operation when no operation tag gives one.")
    uom = fields.Char(string="Quantity unit", help="The floor unit of the counted quantity (data.uom).")
    reason_address = fields.Char(
        string="Reason tag",
        help="Scrap counter: the tag holding the scrap reason code. State: the tag holding the downtime reason code, "
        "read when the machine goes down.",
    )
    reason_code = fields.Char(string="Scrap reason code", help="The scrap reason when no reason tag gives one.")
    material = fields.Char(help="Scrap counter: the material code of the scrapped parts.")

    # State
    value_map_ids = fields.One2many(
        "shopfloor.mapping.rule.state", "rule_id", string="Value map", copy=True, help="Tag value → machine state."
    )
    default_reason = fields.Char(
        help="The downtime reason code when neither the value map nor the reason tag gives one (empty: UNKNOWN)."
    )

    # Trigger
    field_ids = fields.One2many(
        "shopfloor.mapping.rule.field",
        "rule_id",
        string="Event fields",
        copy=True,
        help="The fields of the event a rising edge emits: read from a tag at that moment, or a fixed value.",
    )

    params_json = fields.Text(
        string="Parameters (JSON)",
        compute="_compute_params_json",
        inverse="_inverse_params_json",
        help="What the sidecar gets, made from the fields above (read-only here; export it by copying). Written "
        "over RPC, it is imported into those fields, as Import JSON does.",
    )
    params_import = fields.Text(
        string="JSON to import",
        copy=False,
        help='Paste parameters as JSON (e.g. {"wrap_at": 65536, "window_ms": 60000}) and press Import JSON: they '
        "replace the fields above.",
    )

    _sql_constraints = [
        (
            "address_uniq",
            "unique(connection_id, protocol, address, kind)",
            "One rule of a kind per address and connection.",
        ),
    ]

    @api.depends("protocol")
    def _compute_is_plc(self):
        for rule in self:
            rule.is_plc = rule.protocol in plc.PLC_KINDS

    @api.depends("protocol", "connection_id.kind")
    def _compute_never_read(self):
        # A connection's sidecar runs the one source of its kind (and the HTTP intake, for mapped payload
        # values): an OPC UA node id on an MQTT connection is saved, sent, and never read.
        labels = dict(self._fields["protocol"]._description_selection(self.env))
        for rule in self:
            connection = rule.connection_id
            if not connection or rule.protocol in ("payload", connection.kind):
                rule.never_read = False
                continue
            rule.never_read = _(
                "Connection %(code)s is %(kind)s: its sidecar reads no %(protocol)s tag, so this rule is never "
                "read. Move it to a connection of that protocol, or make it a mapped payload value.",
                code=connection.code,
                kind=connection._kind_label(),
                protocol=labels.get(rule.protocol, rule.protocol),
            )

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "protocol" not in vals and vals.get("connection_id"):
                kind = self.env["shopfloor.connection"].browse(vals["connection_id"]).kind
                if kind in TAG_KINDS:
                    vals["protocol"] = kind
        return super().create(vals_list)

    def write(self, vals):
        # Value-map and field rows written through the rule: its own write moves the revision once.
        return super(ShopfloorMappingRule, self.with_context(shopfloor_rule_rows=ROWS_OF_RULE_WRITE)).write(vals)

    @api.onchange("connection_id")
    def _onchange_connection_protocol(self):
        # The protocol the connection's source reads; on a connection that reads no tags (MQTT, HTTP, a
        # message queue, a historian), the values its payload mappings yield.
        if self.connection_id:
            self.protocol = self.connection_id.kind if self.connection_id.kind in TAG_KINDS else "payload"

    # ------------------------------------------------------------------ params

    def _typed_params(self):
        """The typed fields as rule_params reads them."""
        self.ensure_one()
        empty = rule_params.empty_typed()
        # An unset text reads False: the same as an empty one. Numbers and boxes as they are.
        typed = {name: (self[name] or "") if isinstance(empty[name], str) else self[name] for name in PARAM_FIELDS}
        typed["value_map"] = [
            {"value": row.value, "state": row.state, "reason_code": row.reason_code or ""} for row in self.value_map_ids
        ]
        typed["fields"] = [
            {
                "name": row.name,
                "source": row.source,
                "address": row.address or "",
                "text_value": row.text_value or "",
                "number_value": row.number_value,
                "boolean_value": row.boolean_value,
            }
            for row in self.field_ids
        ]
        return typed

    def _sidecar_params(self):
        """``MappingRule.params``: exactly what the typed fields say, only the keys the sidecar reads."""
        self.ensure_one()
        return rule_params.to_params(self.kind, self.event_type, self.protocol, self._typed_params())

    @api.depends(
        "kind",
        "event_type",
        "protocol",
        *PARAM_FIELDS,
        "value_map_ids.value",
        "value_map_ids.state",
        "value_map_ids.reason_code",
        "field_ids.name",
        "field_ids.source",
        "field_ids.address",
        "field_ids.text_value",
        "field_ids.number_value",
        "field_ids.boolean_value",
    )
    def _compute_params_json(self):
        for rule in self:
            rule.params_json = json.dumps(rule._sidecar_params(), indent=2, ensure_ascii=False)

    def _inverse_params_json(self):
        # The create or write that carries params_json moves the revision: the import adds no second one.
        for rule in self:
            rule._import_params(rule.params_json, quiet=True)

    def _import_params(self, text, quiet=False):
        """Replaces the typed fields with what the JSON ``text`` says; refuses (naming every problem) what the
        sidecar would not read."""
        self.ensure_one()
        try:
            params = rule_params.parse_json(text)
        except ValueError as error:
            raise ValidationError(_("Rule %(address)s: %(error)s.", address=self.address, error=error)) from error
        typed, problems = rule_params.from_params(self.kind, self.event_type, self.protocol, params)
        if problems:
            raise ValidationError(
                _(
                    "Rule %(address)s (%(kind)s): these parameters cannot be imported:\n- %(problems)s",
                    address=self.address,
                    kind=self.kind,
                    problems="\n- ".join(problems),
                )
            )
        self._write_typed(typed, quiet=quiet)

    def _write_typed(self, typed, quiet=False):
        """Writes the typed values; ``quiet``: within a write that moves the revision itself (or an upgrade that
        keeps what the sidecar gets)."""
        # An empty text is no value (False), as the form leaves it; a fixed text of a trigger field stays.
        values = {name: typed[name] if typed[name] != "" else False for name in PARAM_FIELDS}
        values["value_map_ids"] = [Command.clear()] + [
            Command.create(dict(row, sequence=index, reason_code=row["reason_code"] or False))
            for index, row in enumerate(typed["value_map"])
        ]
        values["field_ids"] = [Command.clear()] + [
            Command.create(dict(row, sequence=index, address=row["address"] or False))
            for index, row in enumerate(typed["fields"])
        ]
        rule = self.with_context(shopfloor_rule_rows=ROWS_OF_RULE_WRITE)
        if quiet:
            return super(ShopfloorMappingMixin, rule).write(values)
        return rule.write(values)

    def _convert_legacy_params(self, text):
        """The upgrade from ``params_json`` (18.0.0.3.0): fills the typed fields from the JSON the rule had and
        answers what the sidecar gets differently ('' when nothing). What could not be taken is what the engines
        ignored (null, an unknown key) or never accepted, so the sidecar works on as before."""
        self.ensure_one()
        try:
            params = rule_params.parse_json(text)
        except ValueError as error:
            return str(error)
        typed, problems = rule_params.from_params(self.kind, self.event_type, self.protocol, params)
        self._write_typed(typed, quiet=True)
        if self._sidecar_params() == params and not problems:
            return ""
        return "; ".join(problems) or _("equivalent parameters written differently")

    def action_import_params(self):
        """Import JSON: the pasted parameters replace the typed fields."""
        self.ensure_one()
        self.check_access("write")
        if not (self.params_import or "").strip():
            raise UserError(_("Paste the parameters as JSON in 'JSON to import' first."))
        self._import_params(self.params_import)
        self.params_import = False
        return True

    # ------------------------------------------------------------------ checks

    @api.constrains("kind", "event_type")
    def _check_event_type(self):
        for rule in self:
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

    @api.constrains("protocol", "connection_id", "address", "order_address", "operation_address", "reason_address")
    def _check_plc_address(self):
        for rule in self:
            kind = rule.connection_id.kind
            if rule.protocol in plc.PLC_KINDS and rule.protocol != kind:
                raise ValidationError(
                    _(
                        "Rule %(address)s reads a %(protocol)s tag, but connection %(code)s is %(kind)s: a connection "
                        "polls one PLC, in its own protocol.",
                        address=rule.address,
                        protocol=plc.PLC_LABELS[rule.protocol],
                        code=rule.connection_id.code,
                        kind=rule.connection_id._kind_label(),
                    )
                )
            if kind in plc.PLC_KINDS and rule.protocol not in (kind, "payload"):
                raise ValidationError(
                    _(
                        "Rule %(address)s: connection %(code)s polls a %(kind)s PLC; its tag rules are of protocol "
                        "%(kind)s (or Mapped payload value for its HTTP intake).",
                        address=rule.address,
                        code=rule.connection_id.code,
                        kind=plc.PLC_LABELS[kind],
                    )
                )
            if rule.protocol not in TAG_KINDS:
                continue
            for name in ("address", "order_address", "operation_address", "reason_address"):
                if name != "address" and not rule[name]:
                    continue
                error = _address_error(rule.protocol, rule[name], rule.connection_id)
                if error:
                    raise ValidationError(
                        _(
                            "Rule %(address)s: %(field)s: %(error)s.",
                            address=rule.address,
                            field=self._fields[name].string,
                            error=error,
                        )
                    )

    @api.constrains("protocol", "address", "field_ids")
    def _check_field_tags(self):
        for rule in self.filtered(lambda rule: rule.protocol in TAG_KINDS):
            for row in rule.field_ids.filtered(lambda row: row.source == "tag"):
                error = _address_error(rule.protocol, row.address or "", rule.connection_id)
                if error:
                    raise ValidationError(
                        _(
                            "Rule %(address)s: field %(name)s: %(error)s.",
                            address=rule.address,
                            name=row.name,
                            error=error,
                        )
                    )

    @api.constrains(*PARAM_FIELDS, "kind", "protocol", "event_type")
    def _check_params(self):
        for rule in self:
            error = rule._params_error()
            if error:
                raise ValidationError(_("Rule %(address)s: %(error)s.", address=rule.address, error=error))

    def _params_error(self):
        """Why the typed parameters would not work ('' when they would). What the form shows for a kind only is
        checked for that kind."""
        self.ensure_one()
        if self.use_scale and self.scale == 0:
            return _("a scale of 0 turns every value into the offset; untick Scale the value for 1")
        if self.deadband < 0:
            return _("the deadband cannot be negative")
        if self.deadband and self.protocol not in plc.PLC_KINDS:
            return _("a deadband is for polled PLCs (Modbus TCP, Siemens S7, EtherNet/IP) only; set it to 0")
        if self.kind == "counter":
            if self.wrap_at and (self.wrap_at < 2 or not self.wrap_at.is_integer()):
                return _(
                    "Wraps at is the counter's modulus, a whole number of at least 2 (65536 for 16 bits), or 0 for "
                    "never; got %s",
                    self.wrap_at,
                )
            if self.wrap_at > rule_params.SAFE_INTEGER:
                return _("Wraps at %s is too large", self.wrap_at)
            if self.window < 0:
                return _("the window cannot be negative (0: one event per change)")
        return ""

    def _sidecar_rule(self):
        self.ensure_one()
        return {
            "id": self.id,
            "kind": self.kind,
            "address": self.address,
            "protocol": self.protocol,
            "source": self.source,
            "event_type": self.event_type or "",
            "params": self._sidecar_params(),
        }


class ShopfloorMappingRuleRowMixin(models.AbstractModel):
    """A row of a tag rule's parameters: its changes move the connection's revision like the rule's own."""

    _name = "shopfloor.mapping.rule.row.mixin"
    _description = "Tag rule parameter row (common behaviour)"

    rule_id = fields.Many2one("shopfloor.mapping.rule", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="rule_id.company_id", store=True, index=True)
    sequence = fields.Integer(default=10)

    def _post_row_change(self, verb, rules=None):
        if self.env.context.get("shopfloor_rule_rows") is not ROWS_OF_RULE_WRITE:
            (rules if rules is not None else self.rule_id)._post_mapping_change(
                _("%(rows)s %(verb)s", rows=self._description, verb=verb)
            )

    def _ensure_revision_baseline(self, rules):
        if self.env.context.get("shopfloor_rule_rows") is not ROWS_OF_RULE_WRITE:
            self.env["shopfloor.mapping.revision"]._ensure_baseline(rules.connection_id)

    @api.model_create_multi
    def create(self, vals_list):
        rule_ids = {vals["rule_id"] for vals in vals_list if vals.get("rule_id")}
        self._ensure_revision_baseline(self.env["shopfloor.mapping.rule"].browse(rule_ids))
        rows = super().create(vals_list)
        rows._post_row_change(_("added"))
        return rows

    def write(self, vals):
        refuse_protected_write(self, vals, {"company_id": None})
        self._ensure_revision_baseline(self.rule_id)
        result = super().write(vals)
        self._post_row_change(_("changed"))
        return result

    def unlink(self):
        # The revision records the rows gone: it is taken after the unlink.
        rules = self.rule_id
        self._ensure_revision_baseline(rules)
        result = super().unlink()
        self._post_row_change(_("removed"), rules=rules.exists())
        return result


class ShopfloorMappingRuleState(models.Model):
    _name = "shopfloor.mapping.rule.state"
    _inherit = ["shopfloor.mapping.rule.row.mixin"]
    _description = "State rule value map row"
    _order = "rule_id, sequence, id"
    _rec_name = "value"

    value = fields.Char(
        string="Tag value",
        required=True,
        help="The tag's value as text: 3, true, RUNNING (numbers and booleans are compared as they print).",
    )
    state = fields.Selection(STATE_CHOICES, required=True, default="running")
    reason_code = fields.Char(help="Down only: the reason code this value always means (e.g. MATERIAL for 'starved').")

    _sql_constraints = [("value_uniq", "unique(rule_id, value)", "A tag value maps to one state per rule.")]

    @api.constrains("state", "reason_code", "value")
    def _check_row(self):
        for row in self:
            target = f"{row.state}:{row.reason_code}" if row.reason_code else row.state
            error = rule_params.state_target_error(target)
            if error:
                raise ValidationError(
                    _(
                        "Rule %(address)s, value %(value)s: %(error)s.",
                        address=row.rule_id.address,
                        value=row.value,
                        error=error,
                    )
                )


class ShopfloorMappingRuleField(models.Model):
    _name = "shopfloor.mapping.rule.field"
    _inherit = ["shopfloor.mapping.rule.row.mixin"]
    _description = "Trigger rule event field"
    _order = "rule_id, sequence, id"

    name = fields.Char(string="Event field", required=True, help="The field of the event's data: order, qty_good, …")
    source = fields.Selection(
        [("tag", "Read from a tag"), ("text", "Fixed text"), ("number", "Fixed number"), ("boolean", "Fixed yes/no")],
        string="From",
        required=True,
        default="tag",
        help="A tag read at the rising edge (its value wins when it has one), or a fixed value.",
    )
    address = fields.Char(string="Tag", help="The address of the tag to read, in the rule's protocol.")
    text_value = fields.Char(string="Text")
    number_value = fields.Float(string="Number")
    boolean_value = fields.Boolean(string="Yes/no")

    @api.constrains("name", "source", "address")
    def _check_row(self):
        for row in self:
            error = rule_params.field_name_error(row.name)
            if not error and row.source == "tag" and not (row.address or "").strip():
                error = _("field %s reads a tag: give its address", row.name)
            if not error:
                twins = row.rule_id.field_ids.filtered(
                    lambda other, row=row: other.name == row.name and (other.source == "tag") == (row.source == "tag")
                )
                if len(twins) > 1:
                    error = _(
                        "field %s is listed twice (one row may read it from a tag, one more may give a fixed value "
                        "for when the tag has none)",
                        row.name,
                    )
            if error:
                raise ValidationError(_("Rule %(address)s: %(error)s.", address=row.rule_id.address, error=error))
