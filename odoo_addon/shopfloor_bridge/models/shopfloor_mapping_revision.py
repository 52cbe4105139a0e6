"""Change control: every change of a connection's mapping configuration is a revision.

A revision keeps a full snapshot of what the connection maps and how (its own settings and every
row of every model built on ``shopfloor.mapping.mixin``: sources, orders, operations, materials,
units, reasons, tag rules with their value-map and field rows, payload mappings, HTTP producers,
dispatch targets) and the field-by-field changes from the revision before, old → new. Any two
revisions compare (``revision_diff``); any revision can be restored through the ORM, which runs
every constraint and records the restore as a new revision. Applied events link to the revision
they were applied under.
"""

import json

from markupsafe import Markup, escape

from odoo import Command, _, api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from .. import revision_diff
from ..revision_diff import RESTORING, restoring
from .shopfloor_connection import AUDITED_FIELDS, MANAGER_GROUP

CONNECTION = "shopfloor.connection"
# Bookkeeping every model has: never part of a mapping.
NOT_CONFIGURATION = {"id", "display_name", "create_uid", "create_date", "write_uid", "write_date"}
# Rows shown in a chatter note; the revision holds them all.
CHATTER_ROWS = 40


class ShopfloorMappingRevision(models.Model):
    _name = "shopfloor.mapping.revision"
    _description = "Mapping revision (change control)"
    _order = "connection_id, sequence desc"
    _rec_name = "name"

    connection_id = fields.Many2one(CONNECTION, required=True, ondelete="cascade", index=True, readonly=True)
    company_id = fields.Many2one(related="connection_id.company_id", store=True, index=True)
    sequence = fields.Integer(
        string="Number", required=True, readonly=True, help="Counts the connection's recorded changes, from 1."
    )
    revision = fields.Integer(
        string="Sidecar revision",
        readonly=True,
        help="The connection's revision (what the sidecar reloads on and stamps on its events) at this change.",
    )
    name = fields.Char(compute="_compute_name")
    date = fields.Datetime(required=True, readonly=True, default=fields.Datetime.now)
    user_id = fields.Many2one("res.users", string="By", readonly=True, default=lambda self: self.env.uid)
    summary = fields.Char(readonly=True)
    restored_from_id = fields.Many2one("shopfloor.mapping.revision", string="Restores", readonly=True)
    snapshot_json = fields.Text(string="Snapshot (JSON)", readonly=True)
    changes_json = fields.Text(string="Changes (JSON)", readonly=True)
    change_count = fields.Integer(string="Changed fields", readonly=True)
    changes_html = fields.Html(string="Changes", compute="_compute_html", sanitize=False)
    snapshot_html = fields.Html(string="Mapping", compute="_compute_html", sanitize=False)
    is_current = fields.Boolean(string="In force", compute="_compute_is_current")

    _sql_constraints = [
        ("sequence_uniq", "unique(connection_id, sequence)", "A connection's revision numbers are unique."),
    ]

    @api.depends("connection_id.code", "sequence")
    def _compute_name(self):
        for revision in self:
            revision.name = f"{revision.connection_id.code} #{revision.sequence}"

    def _compute_html(self):
        for revision in self:
            changes = json.loads(revision.changes_json or "[]")
            revision.changes_html = (
                self._changes_table(changes)
                if changes
                else Markup("<p>%s</p>")
                % (_("No field changed (the first revision of the connection, or a change of nothing it records)."))
            )
            revision.snapshot_html = self._snapshot_tables(json.loads(revision.snapshot_json or "{}"))

    def _compute_is_current(self):
        latest = self._latest(self.connection_id)
        for revision in self:
            revision.is_current = latest.get(revision.connection_id.id) == revision

    # ------------------------------------------------------------------ snapshot

    @api.model
    def _section_models(self):
        """The models a connection's mapping configuration is made of (the connection first)."""
        return [CONNECTION, *sorted(self.env["shopfloor.mapping.mixin"]._inherit_children)]

    @api.model
    def _recorded_fields(self, model_name):
        """The fields of ``model_name`` an admin sets to change what the connection maps: stored,
        written by hand (not computed, related or read-only), visible to every manager (no secret)."""
        model = self.env[model_name]
        skip = set(NOT_CONFIGURATION) | {"connection_id", "company_id", "rule_id"}
        skip |= set(getattr(model, "_mapping_inert_fields", ()))
        if model_name == CONNECTION:
            skip |= set(AUDITED_FIELDS)
        names = []
        for name, field in model._fields.items():
            if name in skip or field.compute or field.related or field.readonly or field.groups:
                continue
            if not field.store or field.type in ("binary", "properties"):
                continue
            if name.startswith(("message_", "activity_")):
                continue
            if field.type == "one2many" and not self._is_child_rows(field):
                continue
            names.append(name)
        return sorted(names)

    def _is_child_rows(self, field):
        """A one2many of rows that belong to their parent (a tag rule's value map and fields)."""
        return field.type == "one2many" and "shopfloor.mapping.rule.row.mixin" in self.env[field.comodel_name]._inherit

    def _encode(self, record, name):
        field = record._fields[name]
        value = record[name]
        if field.type == "many2one":
            return {"id": value.id, "name": value.display_name} if value else False
        if field.type == "many2many":
            return [{"id": one.id, "name": one.display_name} for one in value.sorted("id")]
        if field.type == "one2many":
            names = self._recorded_fields(field.comodel_name)
            return [{child: self._encode(row, child) for child in names} for row in value]
        if field.type in ("date", "datetime"):
            return fields.Datetime.to_string(value) if value else False
        return value

    def _row_label(self, record):
        if record._name == CONNECTION:
            return f"{record.code} ({record.name})"
        return record._mapping_label()

    @api.model
    def _snapshot(self, connection):
        """Everything ``connection`` maps, as JSON (``revision_diff`` describes the shape)."""
        connection = connection.sudo().with_context(active_test=False)
        snapshot = {"version": revision_diff.SNAPSHOT_VERSION, "sections": {}}
        for model_name in self._section_models():
            names = self._recorded_fields(model_name)
            if model_name == CONNECTION:
                rows = connection
            else:
                rows = (
                    self.env[model_name]
                    .sudo()
                    .with_context(active_test=False)
                    .search([("connection_id", "=", connection.id)], order="id")
                )
            snapshot["sections"][model_name] = {
                str(row.id): {
                    "label": self._row_label(row),
                    "values": {name: self._encode(row, name) for name in names},
                }
                for row in rows
            }
        return snapshot

    # ------------------------------------------------------------------ recording

    @api.model
    def _latest(self, connections):
        """{connection id: its newest revision} for those that have one."""
        latest = {}
        if connections:
            for revision in self.sudo().search([("connection_id", "in", connections.ids)], order="sequence desc"):
                latest.setdefault(revision.connection_id.id, revision)
        return latest

    @api.model
    def _ensure_baseline(self, connections):
        """Before a change: a connection with no revision yet (made before change control, or by
        SQL) gets one of its state now, so the change that follows has an old value to show."""
        if restoring(self.env):
            return
        connections = connections.exists()
        latest = self._latest(connections)
        for connection in connections.filtered(lambda one: one.id not in latest):
            self._record(connection, _("State before the first recorded change"), initial=True)

    @api.model
    def _record(self, connection, summary, initial=False, force=False, restored_from=None):
        """Records the connection's configuration now as its next revision, with the changes from
        the one before, and notes them in its chatter under ``summary``. Without ``force`` a change of
        nothing recorded makes no revision (answers an empty recordset)."""
        connection = connection.sudo()
        previous = self._latest(connection).get(connection.id)
        snapshot = self._snapshot(connection)
        changes = revision_diff.diff(json.loads(previous.snapshot_json), snapshot) if previous else []
        if previous and not changes and not force:
            return self.browse()
        revision = self.sudo().create(
            {
                "connection_id": connection.id,
                "sequence": (previous.sequence if previous else 0) + 1,
                "revision": connection.revision,
                "summary": summary,
                "snapshot_json": json.dumps(snapshot, ensure_ascii=False, sort_keys=True),
                "changes_json": json.dumps(changes, ensure_ascii=False),
                "change_count": len(changes),
                "restored_from_id": restored_from.id if restored_from else False,
                "user_id": self.env.uid,
            }
        )
        if not initial:
            body = Markup("<p>%s</p>") % summary
            if changes:
                body += self._changes_table(changes, limit=CHATTER_ROWS)
            connection.message_post(body=body, subtype_xmlid="mail.mt_note")
        return revision

    # ------------------------------------------------------------------ display

    def _field_label(self, section, field_name):
        model = self.env.get(section)
        field = model._fields.get(field_name) if model is not None else None
        return field.string if field else field_name

    def _section_label(self, section):
        model = self.env.get(section)
        return model._description if model is not None else section

    def _display(self, section, field_name, value):
        """A snapshot value as a person reads it: names, selection labels, Yes/No, indented JSON."""
        model = self.env.get(section)
        field = model._fields.get(field_name) if model is not None else None
        if revision_diff.is_empty(value) and not (field and field.type == "boolean"):
            return "—"
        if revision_diff.is_reference(value):
            return value["name"]
        if field is not None and field.type == "boolean":
            return _("Yes") if value else _("No")
        if field is not None and field.type == "selection":
            return dict(field._description_selection(self.env)).get(value, value)
        if isinstance(value, list) and all(revision_diff.is_reference(item) for item in value):
            return ", ".join(item["name"] for item in value)
        if isinstance(value, list | dict):
            return json.dumps(self._readable(value), indent=2, ensure_ascii=False)
        if isinstance(value, str) and value.strip()[:1] in ("{", "["):
            try:
                return json.dumps(json.loads(value), indent=2, ensure_ascii=False)
            except ValueError:
                return value
        return str(value)

    def _readable(self, value):
        if revision_diff.is_reference(value):
            return value["name"]
        if isinstance(value, list):
            return [self._readable(item) for item in value]
        if isinstance(value, dict):
            return {key: self._readable(item) for key, item in value.items()}
        return value

    def _changes_table(self, changes, limit=None):
        kinds = {
            revision_diff.ADDED: _("added"),
            revision_diff.REMOVED: _("removed"),
            revision_diff.CHANGED: _("changed"),
        }
        shown = changes[:limit] if limit else changes
        rows = Markup("").join(
            Markup(
                '<tr class="o_sfb_diff_%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
                '<td><pre class="mb-0 o_sfb_diff_old">%s</pre></td>'
                '<td><pre class="mb-0 o_sfb_diff_new">%s</pre></td></tr>'
            )
            % (
                change["kind"],
                self._section_label(change["section"]),
                change["label"],
                self._field_label(change["section"], change["field"]),
                kinds[change["kind"]],
                self._display(change["section"], change["field"], change["old"]) if change["kind"] != "added" else "",
                self._display(change["section"], change["field"], change["new"]) if change["kind"] != "removed" else "",
            )
            for change in shown
        )
        table = Markup(
            '<table class="table table-sm o_sfb_diff"><thead><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th>'
            "<th>%s</th><th>%s</th></tr></thead><tbody>%s</tbody></table>"
        ) % (_("Mapping"), _("Row"), _("Field"), _("Change"), _("Old"), _("New"), rows)
        if limit and len(changes) > limit:
            table += Markup("<p>%s</p>") % _("… and %s more changes: open the revision.", len(changes) - limit)
        return table

    def _snapshot_tables(self, snapshot):
        parts = []
        for section, rows in revision_diff.sections(snapshot).items():
            if not rows:
                continue
            lines = Markup("").join(
                Markup("<tr><td>%s</td><td>%s</td><td><pre class='mb-0'>%s</pre></td></tr>")
                % (row["label"], self._field_label(section, name), self._display(section, name, value))
                for row in rows.values()
                for name, value in sorted(row["values"].items())
                if not revision_diff.is_empty(value)
            )
            parts.append(
                Markup("<h5>%s</h5><table class='table table-sm o_sfb_snapshot'><tbody>%s</tbody></table>")
                % (self._section_label(section), lines)
            )
        return Markup("").join(parts) or escape(_("(empty)"))

    # ------------------------------------------------------------------ compare and restore

    def _check_manager(self):
        if not self.env.su and not self.env.user.has_group(MANAGER_GROUP):
            raise AccessError(_("Only Shop Floor Bridge managers may compare and restore mapping revisions."))

    def action_compare(self):
        """Opens the comparison of this revision with the one in force (or the one before it)."""
        self.ensure_one()
        self._check_manager()
        latest = self._latest(self.connection_id).get(self.connection_id.id)
        other = latest
        if latest == self:
            other = (
                self.search(
                    [("connection_id", "=", self.connection_id.id), ("sequence", "<", self.sequence)],
                    order="sequence desc",
                    limit=1,
                )
                or self
            )
        compare = self.env["shopfloor.mapping.revision.compare"].create(
            {
                "from_revision_id": min(self, other, key=lambda one: one.sequence).id,
                "to_revision_id": max(self, other, key=lambda one: one.sequence).id,
            }
        )
        return {
            "type": "ir.actions.act_window",
            "name": _("Compare revisions"),
            "res_model": compare._name,
            "res_id": compare.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_restore(self):
        """Writes this revision's configuration back (through the ORM: every constraint runs) and
        records the result as a new revision of the connection."""
        self.ensure_one()
        self._check_manager()
        connection = self.connection_id
        connection.check_access("write")
        snapshot = json.loads(self.snapshot_json or "{}")
        if snapshot.get("version") != revision_diff.SNAPSHOT_VERSION:
            raise UserError(_("Revision %s was recorded in a format this version cannot restore.", self.name))
        env = self.env(context=dict(self.env.context, shopfloor_revision_restore=RESTORING, active_test=False))
        sections = revision_diff.sections(snapshot)
        # All or nothing, even inside a caller's transaction that goes on after a refusal.
        with self.env.cr.savepoint():
            # The connection first: its rows are checked against its kind.
            saved = (sections.get(CONNECTION) or {}).get(str(connection.id))
            if saved:
                current = env[CONNECTION].browse(connection.id)
                values = self._changed_values(env, CONNECTION, current, saved["values"])
                if values:
                    current.write(values)
            for model_name in self._section_models():
                if model_name != CONNECTION:
                    self._restore_rows(env, model_name, connection, sections.get(model_name) or {})
            env.flush_all()
        connection._bump_revision(_("restored revision %(name)s", name=self.name), restored_from=self)
        return {"type": "ir.actions.client", "tag": "soft_reload"}

    def _restore_rows(self, env, model_name, connection, saved_rows):
        Model = env[model_name]
        current = Model.search([("connection_id", "=", connection.id)])
        saved_ids = {int(row_id) for row_id in saved_rows}
        current.filtered(lambda row: row.id not in saved_ids).unlink()
        existing = {row.id: row for row in current if row.id in saved_ids}
        to_create = []
        for row_id, saved in sorted(saved_rows.items(), key=lambda item: int(item[0])):
            row = existing.get(int(row_id))
            if row:
                values = self._changed_values(env, model_name, row, saved["values"])
                if values:
                    row.write(values)
            else:
                values = self._decoded_values(env, model_name, saved["values"], saved["label"])
                to_create.append(dict(values, connection_id=connection.id))
        if to_create:
            Model.create(to_create)

    def _changed_values(self, env, model_name, record, saved_values):
        """The values of ``saved_values`` that differ from what ``record`` holds, ready to write."""
        recorded = set(self._recorded_fields(model_name))
        # Compared by id: the names of what a row points to (a routing operation) need not be the
        # restorer's to read; the writes are theirs.
        current = record.sudo()
        changed = {
            name: value
            for name, value in saved_values.items()
            if name in recorded
            and revision_diff.comparable(self._encode(current, name)) != revision_diff.comparable(value)
        }
        return self._decoded_values(env, model_name, changed, self._row_label(current))

    def _decoded_values(self, env, model_name, saved_values, label):
        model = env[model_name]
        recorded = set(self._recorded_fields(model_name))
        values = {}
        for name, value in saved_values.items():
            if name not in recorded:
                continue  # a field since removed from the module
            field = model._fields[name]
            if field.type == "many2one":
                values[name] = self._existing_id(env, field, value, label) if value else False
            elif field.type == "many2many":
                values[name] = [Command.set([self._existing_id(env, field, item, label) for item in value])]
            elif field.type == "one2many":
                values[name] = [Command.clear()] + [
                    Command.create(self._decoded_values(env, field.comodel_name, child, label)) for child in value
                ]
            else:
                values[name] = value
        return values

    def _existing_id(self, env, field, reference, label):
        if not env[field.comodel_name].sudo().browse(reference["id"]).exists():
            raise ValidationError(
                _(
                    "Cannot restore %(row)s: its %(field)s %(name)s no longer exists. Restore a later revision, or "
                    "map it again by hand.",
                    row=label,
                    field=field.string,
                    name=reference["name"],
                )
            )
        return reference["id"]

    # ------------------------------------------------------------------ events

    @api.model
    def _link_events(self, events):
        """Sets each event's revision: the newest recorded under the connection revision it was
        applied with. One query for the whole set (the apply path computes it per batch)."""
        found = self._newest_by_key({(event.connection_id.id, event.mapping_revision) for event in events})
        for event in events:
            event.mapping_revision_id = found.get((event.connection_id.id, event.mapping_revision), False)

    @api.model
    def _newest_by_key(self, keys):
        """{(connection id, connection revision): the newest revision recorded under it} for
        ``keys``, in one query; keys without a connection or a revision are left out."""
        keys = {(connection, revision) for connection, revision in keys if connection and revision}
        found = {}
        if keys:
            for revision in self.sudo().search(
                [
                    ("connection_id", "in", list({connection for connection, _revision in keys})),
                    ("revision", "in", list({revision for _connection, revision in keys})),
                ],
                order="sequence desc",
            ):
                found.setdefault((revision.connection_id.id, revision.revision), revision)
        return found

    def action_open_events(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Events applied under %s", self.name),
            "res_model": "shopfloor.event",
            "view_mode": "list,form",
            "domain": [("mapping_revision_id", "=", self.id)],
        }
