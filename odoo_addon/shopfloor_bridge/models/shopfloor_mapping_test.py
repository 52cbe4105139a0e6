"""“Test mapping”: a sample payload through validation and mapping, and what
applying it would do — without applying it.

The event is stored and applied for real inside a savepoint that is always
rolled back, so what is shown is exactly what ingest would do under the
connection's current mappings, and nothing of it stays.
"""

import json
import uuid

from odoo import _, api, fields, models

from ..event_validation import validate_event
from ..exceptions import EventRejected
from ..field_guard import require_groups
from ..services.ingest import IngestContext, IngestService

MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager"


class _DryRun(Exception):
    """Raised inside the savepoint so everything in it is rolled back."""


class ShopfloorMappingTest(models.TransientModel):
    _name = "shopfloor.mapping.test"
    _description = "Shop Floor mapping test (dry run)"

    connection_id = fields.Many2one("shopfloor.connection", required=True, ondelete="cascade")
    # The company rule follows the connection; this lets a refusal name the company.
    company_id = fields.Many2one(related="connection_id.company_id")
    payload = fields.Text(
        string="Sample payload",
        required=True,
        help="A CloudEvent as the floor sends it (JSON). id, specversion and connection are filled in when missing.",
    )
    state = fields.Selection(
        [("draft", "Not run"), ("valid", "Would apply"), ("fail", "Would fail"), ("invalid", "Would be rejected")],
        default="draft",
        readonly=True,
    )
    outcome = fields.Text(readonly=True, help="What ingest would do with this payload, step by step.")
    workcenter_id = fields.Many2one("mrp.workcenter", readonly=True, string="Resolved work center")
    produced = fields.Text(string="Would create or change", readonly=True)

    @api.model
    def default_get(self, fields_list):
        self.check_access("create")
        values = super().default_get(fields_list)
        if "payload" in fields_list and not values.get("payload"):
            values["payload"] = json.dumps(
                {
                    "specversion": "1.0",
                    "id": "sample-1",
                    "source": "plant1/line3/press-03",
                    "type": "workorder.started",
                    "time": fields.Datetime.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "data": {"order": "WH/MO/00001"},
                },
                indent=2,
            )
        return values

    def action_run(self):
        self.ensure_one()
        require_groups(self.env, [MANAGER_GROUP], "test mappings")
        self.check_access("write")
        # The dry run applies as superuser: the connection must be one of the caller's companies.
        self.connection_id.check_access("read")
        steps, values = self._dry_run()
        values["outcome"] = "\n".join(steps)
        self.write(values)
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": _("Test mapping"),
        }

    def _dry_run(self):
        steps = []
        try:
            event = json.loads(self.payload or "")
        except ValueError as error:
            return [_("Not valid JSON: %s", error)], {"state": "invalid", "workcenter_id": False, "produced": False}
        if not isinstance(event, dict):
            return [_("An event must be a JSON object.")], {
                "state": "invalid",
                "workcenter_id": False,
                "produced": False,
            }
        for key, value in (("specversion", "1.0"), ("connection", self.connection_id.code)):
            if key not in event:
                event[key] = value
                steps.append(_("%(key)s was missing: used %(value)r.", key=key, value=value))
        # A fresh id: the sample must never collide with (or be taken for) a stored event.
        event["id"] = f"mapping-test-{uuid.uuid4()}"
        try:
            validate_event(event)
        except EventRejected as error:
            steps.append(_("Rejected by the event schema: %s", error.message))
            return steps, {"state": "invalid", "workcenter_id": False, "produced": False}
        steps.append(_("Valid against the event schema."))

        resolver = IngestContext(self.env)
        workcenter_id = resolver.workcenter_for(self.connection_id.sudo(), event) or False
        if workcenter_id:
            workcenter = self.env["mrp.workcenter"].sudo().browse(workcenter_id)
            steps.append(_("Source %(src)s → work center %(wc)s.", src=event["source"], wc=workcenter.display_name))
        else:
            steps.append(
                _("Source %s maps to no work center (no source mapping, no data.workcenter).", event["source"])
            )

        produced, state = [], "valid"
        try:
            with self.env.cr.savepoint():
                outcome = self._apply_in_savepoint(resolver, event)
                raise _DryRun(outcome)
        except _DryRun as dry:
            state, message, produced = dry.args[0]
            steps.append(message)
        finally:
            # The savepoint is gone; so must be what the cache remembers of it.
            self.env.invalidate_all()
        return steps, {
            "state": state,
            "workcenter_id": workcenter_id,
            "produced": "\n".join(produced) or False,
        }

    def _apply_in_savepoint(self, resolver, event):
        from ..handlers import apply_event  # noqa: PLC0415 (handlers import models at load time)

        Event = self.env["shopfloor.event"].sudo()
        row = resolver.prepare(event)
        IngestService(self.env).store([row])
        record = Event.browse(row["event_id"])
        try:
            with self.env.cr.savepoint():
                records = apply_event(record.with_company(record.company_id))
        except Exception as error:  # noqa: BLE001 (every failure is the answer here)
            error_class = getattr(error, "error_class", None) or type(error).__name__
            message = getattr(error, "message", None) or str(error)
            return "fail", _("Applying would fail: %(cls)s: %(msg)s", cls=error_class, msg=message), []
        produced = [f"{rec._description or rec._name}: {rec.display_name} ({rec._name},{rec.id})" for rec in records]
        return "valid", _("Applying would succeed under mapping revision %s.", self.connection_id.revision), produced


class ShopfloorConnection(models.Model):
    # The mapping test's part of the connection stays with the mapping test.
    _inherit = "shopfloor.connection"  # pylint: disable=consider-merging-classes-inherited

    def action_open_mapping_test(self):
        self.ensure_one()
        require_groups(self.env, [MANAGER_GROUP], "test mappings")
        self.check_access("read")
        return {
            "type": "ir.actions.act_window",
            "res_model": "shopfloor.mapping.test",
            "view_mode": "form",
            "target": "new",
            "name": _("Test mapping"),
            "context": {"default_connection_id": self.id},
        }
