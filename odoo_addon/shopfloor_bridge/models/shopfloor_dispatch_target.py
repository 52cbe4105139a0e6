"""Where a work center's queue goes on the floor (planning push-back).

One row per work center and destination: OPC UA tags (one node per slot
field, a JSON tag for the whole queue, optionally a version tag), a retained
MQTT topic, or Sparkplug metrics published by the sidecar as an edge node.
Node ids and topics are templates so one line of configuration covers all
slots; the sidecar receives them expanded (``_sidecar_params``).
"""

import json

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import backbone
from ..opcua_node import endpoint_error, node_id_error
from ..topic_filter import mqtt_topic_error, sparkplug_id_error
from .shopfloor_dispatch import mark_dirty

SLOT_FIELDS = ("order", "product", "qty", "priority", "start")
# Tag names as Ignition shows them (Queue/0/Order …), used for {field}.
SLOT_TAG_NAMES = {"order": "Order", "product": "Product", "qty": "Qty", "priority": "Priority", "start": "Start"}
MAX_DEPTH = 50


class ShopfloorDispatchTarget(models.Model):
    _name = "shopfloor.dispatch.target"
    _description = "Shop Floor Dispatch Target"
    _inherit = ["shopfloor.mapping.mixin"]
    _order = "workcenter_id, kind, id"

    workcenter_id = fields.Many2one("mrp.workcenter", required=True, ondelete="cascade", index=True, check_company=True)
    active = fields.Boolean(default=True)
    kind = fields.Selection(
        [("opcua", "OPC UA tags"), ("mqtt", "MQTT retained JSON"), ("sparkplug", "Sparkplug B metrics")],
        required=True,
        default="opcua",
    )
    depth = fields.Integer(
        string="Queue depth", default=5, required=True, help="How many orders (slots) the floor shows."
    )
    line_code = fields.Char(
        string="Line",
        help="Replaces {line} in node ids and topics; the work center's code when empty.",
    )
    opcua_endpoint = fields.Char(string="OPC UA endpoint", help="Empty: the connection's endpoint.")
    opcua_node_template = fields.Char(
        string="Slot node ids",
        default="ns=2;s=[default]Shopfloor/{line}/Queue/{slot}/{field}",
        help="One node per slot and field: {slot} is 0…depth-1, {field} Order, Product, Qty, Priority or Start.",
    )
    opcua_json_node = fields.Char(
        string="Queue JSON node",
        default="ns=2;s=[default]Shopfloor/{line}/QueueJson",
        help="A string tag that gets the whole queue as JSON. Empty: none.",
    )
    opcua_version_node = fields.Char(
        string="Version node",
        help="A numeric tag that gets the message version, written last. Empty: none.",
    )
    mqtt_url = fields.Char(string="Broker URL", help="Empty: the connection's broker.")
    mqtt_topic = fields.Char(string="Topic", default="shopfloor/{line}/queue")
    sparkplug_group_id = fields.Char(string="Group id")
    sparkplug_edge_node_id = fields.Char(string="Edge node id", default="ShopfloorDispatch")
    params_preview = fields.Text(string="Sent to the sidecar", compute="_compute_params_preview")
    dispatch_ids = fields.One2many("shopfloor.dispatch", "target_id", string="Messages")

    _sql_constraints = [
        (
            "workcenter_kind_unique",
            "unique(connection_id, workcenter_id, kind)",
            "A work center has one target per kind and connection.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        targets = super().create(vals_list)
        # A new destination gets the current queue without waiting for a planning change.
        mark_dirty(targets, targets.workcenter_id, "target")
        return targets

    def _mapping_label(self):
        return f"{self.workcenter_id.display_name} → {self.kind}"

    @api.depends(
        "kind",
        "depth",
        "line_code",
        "workcenter_id",
        "opcua_endpoint",
        "opcua_node_template",
        "opcua_json_node",
        "opcua_version_node",
        "mqtt_url",
        "mqtt_topic",
        "sparkplug_group_id",
        "sparkplug_edge_node_id",
    )
    def _compute_params_preview(self):
        for target in self:
            try:
                target.params_preview = json.dumps(target._sidecar_params(), indent=2)
            except (KeyError, IndexError, ValueError) as err:
                target.params_preview = _("Invalid template: %s", err)

    @api.constrains(
        "depth",
        "kind",
        "opcua_node_template",
        "opcua_json_node",
        "opcua_version_node",
        "opcua_endpoint",
        "line_code",
        "workcenter_id",
        "mqtt_topic",
        "sparkplug_group_id",
        "sparkplug_edge_node_id",
        "mqtt_url",
        "connection_id",
    )
    def _check_target(self):
        for target in self:
            if (
                target.kind in ("mqtt", "sparkplug")
                and not target.mqtt_url
                and target.connection_id.kind in backbone.BACKBONE_KINDS
            ):
                raise ValidationError(
                    _(
                        "Connection %(code)s takes its input from %(kind)s and has no MQTT broker: give this target "
                        "its broker URL (mqtt://host:1883).",
                        code=target.connection_id.code,
                        kind=target.connection_id._kind_label(),
                    )
                )
            if target.kind in ("mqtt", "sparkplug") and (target.mqtt_url or "").strip():
                error = backbone.mqtt_url_error(target.mqtt_url.strip())
                if error:
                    raise ValidationError(_("Broker URL: %s.", error))
            if not 1 <= target.depth <= MAX_DEPTH:
                raise ValidationError(_("Queue depth must be between 1 and %s.", MAX_DEPTH))
            if target.kind == "opcua":
                template = target.opcua_node_template or ""
                if "{slot}" not in template or "{field}" not in template:
                    raise ValidationError(_("The slot node ids must contain {slot} and {field}: %s", template))
                target._check_node_templates()
                if target.opcua_endpoint:
                    error = endpoint_error(target.opcua_endpoint)
                    if error:
                        raise ValidationError(_("OPC UA endpoint: %s.", error))
            if target.kind == "mqtt":
                topic = target.mqtt_topic or ""
                error = mqtt_topic_error(topic)
                if error:
                    raise ValidationError(
                        _("The MQTT topic %(topic)r is not one to publish to: %(error)s", topic=topic, error=error)
                    )
            if target.kind == "sparkplug":
                for label, value in (
                    (_("Group id"), target.sparkplug_group_id or target.connection_id.sparkplug_group_id),
                    (_("Edge node id"), target.sparkplug_edge_node_id),
                ):
                    error = sparkplug_id_error(value or "")
                    if error:
                        raise ValidationError(
                            _("%(label)s %(error)s: %(value)r", label=label, error=error, value=value)
                        )

    def _check_node_templates(self):
        """The OPC UA node ids the templates make for the first slot (its Order node) are node ids: what the
        sidecar is sent, with this target's line."""
        for field_name in ("opcua_node_template", "opcua_json_node", "opcua_version_node"):
            template = self[field_name]
            if not template:
                continue
            try:
                # sudo: a bridge manager may not read work centers; their code is what {line} becomes.
                sample = self.sudo()._expand(template, slot=0, field=SLOT_TAG_NAMES["order"])
            except (KeyError, IndexError, ValueError):
                continue  # the form's preview says "Invalid template"
            error = node_id_error(sample)
            if error:
                raise ValidationError(
                    _(
                        "%(field)s %(template)r does not make an OPC UA node id: %(sample)r %(error)s.",
                        field=self._fields[field_name].string,
                        template=template,
                        sample=sample,
                        error=error,
                    )
                )

    def _workcenter_ref(self):
        return self.workcenter_id.code or self.workcenter_id.name or ""

    def _expand(self, template, **values):
        return (template or "").format(line=self.line_code or self._workcenter_ref(), **values)

    def _sidecar_params(self):
        """The target params of a DispatchMessage (sidecar/src/floor/*-writer.ts)."""
        self.ensure_one()
        if self.kind == "opcua":
            return {
                "endpoint": self.opcua_endpoint or "",
                "slots": [
                    {
                        name: self._expand(self.opcua_node_template, slot=slot, field=SLOT_TAG_NAMES[name])
                        for name in SLOT_FIELDS
                    }
                    for slot in range(self.depth)
                ],
                "queue_json": self._expand(self.opcua_json_node),
                "version": self._expand(self.opcua_version_node),
            }
        if self.kind == "mqtt":
            return {"url": (self.mqtt_url or "").strip(), "topic": self._expand(self.mqtt_topic)}
        return {
            "url": (self.mqtt_url or "").strip(),
            "group_id": self.sparkplug_group_id or self.connection_id.sparkplug_group_id or "",
            "edge_node_id": self.sparkplug_edge_node_id or "",
        }

    def _sidecar_target(self):
        """A DispatchTarget of SidecarConfig.dispatch.targets (contract.ts)."""
        self.ensure_one()
        return {"workcenter": self._workcenter_ref(), "kind": self.kind, "params": self._sidecar_params()}
