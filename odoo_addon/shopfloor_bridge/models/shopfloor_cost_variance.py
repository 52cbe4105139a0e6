"""Standard vs actual cost of manufacturing orders while they run.

One ``shopfloor.cost.variance`` row per MO (level ``production``) and one per
work order (level ``workorder``), plus one ``shopfloor.cost.variance.line`` per
component of the MO. The rows are a stored snapshot, rebuilt from the records a
user can open (time logs, raw moves, scraps) by ``_refresh_for_productions``:
the event apply hook calls it for the MOs an event touched, so the figures are
as fresh as the last applied event without a stored compute chain on
``mrp.production`` slowing every write of the ingest path.

Why a stored model on the ORM and not an SQL view like the OEE report: the
figures go through Odoo's own unit conversion (``uom.uom._compute_quantity``,
which rounds to the target unit), company-dependent standard prices,
Odoo's average cycle time of an operation and the union of overlapping time
logs, none of which a view can call; and a breach of a category threshold
notifies the MO's responsible once, which needs the previous state stored.
The refresh reads its inputs in a fixed handful of queries for all its MOs
(``_CostInputs``: three SQL joins and one read of the stored rows, each
saying why), computes the rows in Python (``_ProductionCost``) and writes
them through the ORM: only the rows that changed (``_Changes``), creations
and deletions with ``create``/``unlink``; the ORM flushes the changed rows
of a model in one UPDATE and keeps its cache right.

The ingest path calls ``_refresh_after_apply`` (the post-apply hook in
``services/hooks/cost_refresh.py``); orders closed or cancelled from the UI
refresh through ``shopfloor_cost_production.py``.

Every formula is in readme/USAGE.md (Real-time cost); the names of the fields follow it.
"""

import collections

from odoo import _, api, fields, models, tools
from odoo.exceptions import AccessError
from odoo.tools import SQL, float_round

from ..field_guard import require_groups

REALTIME_PARAM = "shopfloor_bridge.cost_realtime"
USER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_user"

# Time logs in these loss categories are people/machine running the order; the
# others (availability, quality) are stops and rework.
RUNNING_LOSS_TYPES = ("productive", "performance")

# Event types whose apply touches no time log, quantity, move or scrap: the
# cost figures cannot change, so they trigger no refresh.
NO_COST_EFFECT_TYPES = frozenset({"quality.result", "quality.hold", "quality.released"})

# Indexes Odoo leaves out and the refresh's scrap read needs (``_CostInputs``): an MO's
# done scraps, and the move telling a scrap returned to stock. Without them each refresh,
# after every batch of floor events, scanned every scrap and every stock move of the
# database. Partial: only the rows with a value. Made by ``init``, dropped on uninstall
# (``hooks.uninstall_hook``). {name: (table, column)}
STOCK_INDEXES = {
    "shopfloor_bridge_stock_scrap_production_idx": ("stock_scrap", "production_id"),
    "shopfloor_bridge_stock_move_scrap_idx": ("stock_move", "scrap_id"),
}


def _safe_ratio(numerator, denominator):
    return numerator / denominator if denominator else 0.0


def _union_minutes(intervals):
    """Wall-clock minutes covered by possibly overlapping (start, end) intervals:
    two operators logging the same hour on one machine are one machine hour."""
    total = 0.0
    current_start = current_end = None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return total / 60.0


class ShopfloorCostVariance(models.Model):
    _name = "shopfloor.cost.variance"
    _description = "Shop floor cost variance (standard vs actual)"
    _order = "production_id desc, level, sequence, id"
    _rec_name = "name"

    name = fields.Char(required=True, readonly=True)
    level = fields.Selection(
        [("production", "Manufacturing Order"), ("workorder", "Work Order")], required=True, readonly=True
    )
    sequence = fields.Integer(readonly=True)
    production_id = fields.Many2one(
        "mrp.production", "Manufacturing Order", required=True, index=True, ondelete="cascade", readonly=True
    )
    workorder_id = fields.Many2one("mrp.workorder", "Work Order", index=True, ondelete="cascade", readonly=True)
    workcenter_id = fields.Many2one("mrp.workcenter", "Work Center", index=True, readonly=True)
    product_id = fields.Many2one("product.product", "Product", index=True, readonly=True)
    product_categ_id = fields.Many2one("product.category", "Product Category", readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    # The company's currency the amounts were computed in, written by the
    # refresh with them: the ORM rounds every amount it writes to it, and
    # finds it in the same write instead of reading it back.
    currency_id = fields.Many2one("res.currency", string="Currency", readonly=True)
    state = fields.Char("Order Status", readonly=True)
    date = fields.Datetime(
        readonly=True,
        index=True,
        help="Start of the order (its planned start until it starts): the period filter.",
    )
    uom_id = fields.Many2one("uom.uom", "Unit", readonly=True)

    qty_planned = fields.Float("Planned Qty", digits="Product Unit of Measure", readonly=True)
    qty_good = fields.Float("Good Qty", digits="Product Unit of Measure", readonly=True)
    qty_scrap = fields.Float("Scrap Qty", digits="Product Unit of Measure", readonly=True)
    scrap_pct = fields.Float("Scrap %", digits=(16, 2), readonly=True, aggregator="avg")

    duration_planned = fields.Float("Standard Minutes (planned qty)", digits=(16, 2), readonly=True)
    duration_expected = fields.Float("Standard Minutes (good qty)", digits=(16, 2), readonly=True)
    duration_actual = fields.Float("Actual Minutes", digits=(16, 2), readonly=True)
    duration_variance_pct = fields.Float("Time Variance %", digits=(16, 2), readonly=True, aggregator="avg")
    labour_hours = fields.Float(digits=(16, 4), readonly=True)
    machine_hours = fields.Float(digits=(16, 4), readonly=True)
    std_hours_per_unit = fields.Float("Standard Hours / Unit", digits=(16, 6), readonly=True, aggregator="avg")
    labour_hours_per_unit = fields.Float("Labour Hours / Unit", digits=(16, 6), readonly=True, aggregator="avg")
    machine_hours_per_unit = fields.Float("Machine Hours / Unit", digits=(16, 6), readonly=True, aggregator="avg")
    setup_standard = fields.Float("Setup+Teardown Standard (min)", digits=(16, 2), readonly=True)
    setup_actual = fields.Float("Setup+Teardown Actual (min)", digits=(16, 2), readonly=True)

    cost_operations_standard = fields.Monetary("Operations at Standard", readonly=True)
    cost_operations_actual = fields.Monetary("Operations Actual", readonly=True)
    cost_material_standard = fields.Monetary("Material at Standard", readonly=True)
    cost_material_actual = fields.Monetary("Material Actual", readonly=True)
    cost_component_scrap = fields.Monetary("Component Scrap", readonly=True)
    scrap_cost = fields.Monetary(readonly=True)
    planned_standard_cost = fields.Monetary(
        "Standard Cost (planned qty)",
        readonly=True,
        help="Operations and material at standard for the planned quantity.",
    )
    cost_standard = fields.Monetary("Cost at Standard", readonly=True)
    cost_actual = fields.Monetary("Actual Cost", readonly=True)
    variance_amount = fields.Monetary("Variance", readonly=True)
    variance_pct = fields.Float("Variance %", digits=(16, 2), readonly=True, aggregator="avg")

    flagged = fields.Boolean(readonly=True, index=True)
    flag_reason = fields.Char(readonly=True)
    line_ids = fields.One2many("shopfloor.cost.variance.line", "variance_id", "Components", readonly=True)

    _sql_constraints = [
        (
            "one_row_per_order",
            "unique(production_id, workorder_id)",
            "There is one variance row per manufacturing order and per work order.",
        ),
    ]

    def init(self):
        res = super().init()
        for name, (table, column) in STOCK_INDEXES.items():
            tools.create_index(self.env.cr, name, table, [column], where=f"{column} IS NOT NULL")
        return res

    # -- entry points -----------------------------------------------------------

    @api.model
    def _is_realtime_enabled(self):
        value = self.env["ir.config_parameter"].sudo().get_param(REALTIME_PARAM, "1")
        return value.strip().lower() not in ("0", "false", "no", "off", "")

    @api.model
    def _refresh_after_apply(self, applied_events):
        """The post-apply hook of the cost engine (``services/hooks/cost_refresh.py``):
        refresh the variance of every MO the applied ``shopfloor.event``
        records touched, once per MO (the last event of a batch wins anyway).

        Events without a cost effect (``NO_COST_EFFECT_TYPES``) are left out.
        The hook runner (``services/hooks.run``) flushes the apply's writes and
        runs this in a savepoint: a refresh failure is rolled back and logged
        there, the event stays applied, and the figures are refreshed by the
        next event or the Refresh button. Returns the refreshed orders."""
        applied = applied_events.filtered(lambda event: event.type not in NO_COST_EFFECT_TYPES)
        productions = applied.production_id | applied.workorder_id.production_id
        if productions:
            self._refresh_for_productions(productions)
        return productions

    @api.model
    def _refresh_for_productions(self, productions):
        """Rebuild the variance rows of ``productions`` from their time logs,
        moves and scraps; flag and notify where a threshold is passed.

        It runs after every applied event, so it reads its inputs for all the
        MOs at once (``_CostInputs``: one query per kind of record) and writes
        through the ORM only the rows that changed (``_Changes``): a refresh
        after one event costs a fixed handful of queries however long the
        order has run, and an unchanged order costs no write at all."""
        if not productions:
            return self.browse()
        # Two inputs are read with SQL: pending ORM writes (the event's own
        # time logs and quantities) must be in the database first.
        self.env.flush_all()
        sudo = self.sudo()
        rows = _Changes(sudo, always=("currency_id",))
        lines = _Changes(self.env["shopfloor.cost.variance.line"].sudo())
        inputs = _CostInputs(productions)
        existing, existing_lines = inputs.variance_snapshot()
        refreshed_ids = []
        to_create = []
        for production in productions:
            snapshot = _ProductionCost(production, inputs)
            for key, values, line_values in snapshot.rows():
                current = existing.pop(key, None)
                if line_values is not None:
                    _merge_threshold_flags(sudo, snapshot, values, current)
                if current is None:
                    to_create.append((values, line_values))
                    continue
                refreshed_ids.append(current["id"])
                rows.update(current, values)
                if line_values is not None:
                    _sync_lines(lines, current["id"], existing_lines.get(current["id"], ()), line_values)
        rows.apply()
        lines.apply()
        if to_create:
            created = sudo.create([values for values, _lines in to_create])
            lines.model.create(
                [
                    dict(line, variance_id=row.id)
                    for row, (_values, line_values) in zip(created, to_create, strict=True)
                    for line in line_values or ()
                ]
            )
            refreshed_ids += created.ids
        # Work orders deleted since the last refresh leave no stale row behind.
        if existing:
            sudo.browse([row["id"] for row in existing.values()]).unlink()
        return self.browse(refreshed_ids)

    @api.model
    def _check_refresh_caller(self, productions, groups=(USER_GROUP,)):
        """A refresh runs as superuser: the caller needs the group and must be
        able to read every order it names (their company among its own)."""
        require_groups(self.env, groups, "refresh cost variances")
        foreign = productions.sudo().filtered(lambda production: production.company_id not in self.env.companies)
        if foreign:
            raise AccessError(
                _(
                    "User %(user)s may not refresh the cost variance of %(orders)s: company %(companies)s "
                    "is not among the user's companies.",
                    user=self.env.user.login,
                    orders=", ".join(foreign.mapped("name")),
                    companies=", ".join(foreign.company_id.mapped("name")),
                )
            )

    def action_refresh(self):
        self.check_access("read")
        self._check_refresh_caller(self.production_id)
        self.sudo()._refresh_for_productions(self.sudo().production_id)
        return True

    def action_open_time_logs(self):
        self.check_access("read")
        domain = [("workorder_id", "in", self._workorders().ids)]
        return self._open("mrp.workcenter.productivity", _("Time Logs"), domain)

    def action_open_moves(self):
        self.check_access("read")
        domain = [("raw_material_production_id", "in", self.production_id.ids), ("scrap_id", "=", False)]
        return self._open("stock.move", _("Component Moves"), domain)

    def action_open_scraps(self):
        self.check_access("read")
        domain = [("production_id", "in", self.production_id.ids)]
        if self.workorder_id:
            domain.append(("workorder_id", "in", self.workorder_id.ids))
        return self._open("stock.scrap", _("Scraps"), domain)

    def _workorders(self):
        return self.workorder_id | self.filtered(lambda r: r.level == "production").production_id.workorder_ids

    def _open(self, model, name, domain):
        return {
            "type": "ir.actions.act_window",
            "name": name,
            "res_model": model,
            "view_mode": "list,form",
            "domain": domain,
            "context": {"create": False},
        }


class ShopfloorCostVarianceLine(models.Model):
    _name = "shopfloor.cost.variance.line"
    _description = "Shop floor cost variance per component"
    _order = "variance_id, product_id"

    variance_id = fields.Many2one(
        "shopfloor.cost.variance", required=True, index=True, ondelete="cascade", readonly=True
    )
    production_id = fields.Many2one(related="variance_id.production_id", store=True, index=True)
    company_id = fields.Many2one(related="variance_id.company_id", store=True)
    currency_id = fields.Many2one(related="variance_id.currency_id")
    product_id = fields.Many2one("product.product", "Component", required=True, readonly=True)
    uom_id = fields.Many2one("uom.uom", "Unit", readonly=True, help="The component's own unit (standard price unit).")
    standard_price = fields.Float(digits="Product Price", readonly=True)
    bom_qty_per_unit = fields.Float("BOM Qty / Unit", digits=(16, 6), readonly=True)
    actual_qty_per_unit = fields.Float("Actual Qty / Unit", digits=(16, 6), readonly=True)
    qty_expected = fields.Float("Standard Qty (good qty)", digits="Product Unit of Measure", readonly=True)
    qty_consumed = fields.Float("Consumed Qty", digits="Product Unit of Measure", readonly=True)
    qty_scrapped = fields.Float("Scrapped Qty", digits="Product Unit of Measure", readonly=True)
    qty_variance_pct = fields.Float("Qty Variance %", digits=(16, 2), readonly=True)
    cost_standard = fields.Monetary("At Standard", readonly=True)
    cost_actual = fields.Monetary("Actual", readonly=True)
    cost_scrap = fields.Monetary("Scrap", readonly=True)
    variance_amount = fields.Monetary("Variance", readonly=True)


def _field_form(model, name):
    """(type, decimal places or None) of field ``name``."""
    field = model._fields[name]
    digits = field.get_digits(model.env) if field.type == "float" else None
    return field.type, digits[1] if digits else None


def _stored(model, name, value, form=None):
    """``value`` of field ``name`` as the database keeps it and the ORM reads
    it back: floats rounded to their digits, relations as an id or False."""
    kind, scale = form or _field_form(model, name)
    if kind == "float":
        value = float(value or 0.0)
        return float_round(value, precision_digits=scale) if scale is not None else value
    if kind == "monetary":
        return float(value or 0.0)
    if kind == "integer":
        return int(value or 0)
    if kind == "boolean":
        return bool(value)
    if kind == "many2one":
        return value.id if isinstance(value, models.BaseModel) else value or False
    return value or False


def _stored_columns(model):
    """The names of the stored columns of ``model`` the refresh writes or compares."""
    return [
        name
        for name, field in model._fields.items()
        if field.store and field.column_type and name not in models.MAGIC_COLUMNS
    ]


class _Changes:
    """What one refresh changes in one variance model, applied through the ORM.

    ``update`` compares a row as stored (``_CostInputs.variance_snapshot``)
    with its new values at stored precision; ``apply`` writes the rows that
    differ, then creates and unlinks what ``add`` and ``remove`` collected.
    An unchanged row costs nothing.

    Each changed row is written with every field that changed on any row of
    the refresh, the ones it did not change with the value they already
    have: the ORM flushes records with the same written fields in one
    UPDATE, so the changed rows of a model go in one UPDATE instead of one
    per pattern of changes (after a count, the MO row, the running work
    order and each component line change different figures). The snapshot
    is read with SQL, not into the ORM's cache, for that reason: the ORM
    leaves out of an UPDATE a value equal to the one it has in cache. The
    fields in ``always`` go with every write (the currency, which the ORM
    needs to round the amounts of the same write)."""

    def __init__(self, model, always=()):
        self.model = model
        self.always = always
        self._forms = {}
        self._writes = {}
        self._create = []
        self._unlink = []

    def _form(self, name):
        form = self._forms.get(name)
        if form is None:
            form = self._forms[name] = _field_form(self.model, name)
        return form

    def changed(self, current, values):
        """The names of the fields of ``values`` that differ from the stored row ``current`` at stored precision."""
        changed = []
        for name, value in values.items():
            old = current[name]
            if old == value:
                continue
            form = self._form(name)
            stored, new = _stored(self.model, name, old, form), _stored(self.model, name, value, form)
            if form[0] == "monetary":
                # Amounts are already rounded to the currency: equal up to float noise.
                if abs(stored - new) < 1e-9:
                    continue
            elif stored == new:
                continue
            changed.append(name)
        return changed

    def update(self, current, values):
        changed = self.changed(current, values)
        if changed:
            self._writes[current["id"]] = (changed, values)

    def add(self, values):
        self._create.append(values)

    def remove(self, record_id):
        self._unlink.append(record_id)

    def apply(self):
        """Write what changed, then create what is new and unlink what is gone."""
        if self._writes:
            names = {name for changed, _values in self._writes.values() for name in changed}.union(self.always)
            # One recordset: the first monetary write reads the currency of all of them at once.
            for record in self.model.browse(list(self._writes)):
                values = self._writes[record.id][1]
                record.write({name: values[name] for name in names if name in values})
        if self._create:
            self.model.create(self._create)
        if self._unlink:
            self.model.browse(self._unlink).unlink()
        self._writes = {}
        self._create, self._unlink = [], []


def _sync_lines(lines, variance_id, current_lines, lines_values):
    """One component line per product: update what changed, add the new, drop the gone."""
    lines_by_product = {line["product_id"]: line for line in current_lines}
    for values in lines_values:
        line = lines_by_product.pop(values["product_id"], None)
        if line is None:
            lines.add(dict(values, variance_id=variance_id))
        else:
            lines.update(line, values)
    for line in lines_by_product.values():
        lines.remove(line["id"])


# -- thresholds -----------------------------------------------------------------


def _threshold_breaches(model, values, limits):
    """Reasons the MO row ``values`` passes its product category's thresholds, [] if none.

    Judged on the figures as stored (rounded to their digits). Only a running
    order is judged, and only once it has output (good or scrap) or once its
    actual cost already exceeds the standard cost of the whole planned
    quantity: before any output every minute logged is a "variance" of 100 %,
    which says nothing yet."""
    if values["state"] not in ("progress", "to_close") or limits is None:
        return []
    row = {
        name: _stored(model, name, values[name])
        for name in (
            "qty_good",
            "qty_scrap",
            "planned_standard_cost",
            "cost_actual",
            "variance_pct",
            "duration_variance_pct",
            "scrap_pct",
        )
    }
    planned_standard = row["planned_standard_cost"]
    has_output = row["qty_good"] or row["qty_scrap"]
    if not has_output and not (planned_standard and row["cost_actual"] > planned_standard):
        return []
    # Without output the standard earned is 0: judge against the whole plan.
    cost_pct = (
        row["variance_pct"]
        if has_output
        else _safe_ratio(row["cost_actual"] - planned_standard, planned_standard) * 100.0
    )
    reasons = []
    cost_limit = limits["cost"]
    if cost_limit and cost_pct > cost_limit:
        reasons.append(model.env._("cost variance %(pct).2f %% > %(limit).2f %%", pct=cost_pct, limit=cost_limit))
    time_limit = limits["time"]
    if time_limit and row["duration_variance_pct"] > time_limit:
        reasons.append(
            model.env._(
                "time variance %(pct).2f %% > %(limit).2f %%", pct=row["duration_variance_pct"], limit=time_limit
            )
        )
    scrap_limit = limits["scrap"]
    if scrap_limit and row["scrap_pct"] > scrap_limit:
        reasons.append(model.env._("scrap %(pct).2f %% > %(limit).2f %%", pct=row["scrap_pct"], limit=scrap_limit))
    return reasons


def _merge_threshold_flags(model, snapshot, values, current):
    """Put the flag of the MO row into ``values`` (written with the figures)
    and flag the MO; a new breach notifies the MO's responsible."""
    reasons = _threshold_breaches(model, values, snapshot.limits)
    reason_text = "; ".join(reasons)
    flagged = bool(current and current["flagged"])
    production = snapshot.production
    if reasons and not flagged:
        values.update(flagged=True, flag_reason=reason_text)
        production.sudo().shopfloor_cost_flagged = True
        responsible = production.user_id or model.env.user
        activity_type = model.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
        if activity_type:
            production.sudo().activity_schedule(
                activity_type_id=activity_type.id,
                summary=model.env._("Cost variance above threshold"),
                note=model.env._("%(mo)s: %(reasons)s", mo=production.name, reasons=reason_text),
                user_id=responsible.id,
            )
    elif reasons:
        values["flag_reason"] = reason_text
    elif flagged and values["state"] in ("progress", "to_close"):
        # Back within the thresholds while running: the flag goes, the
        # activity stays for the responsible to close with a note.
        values.update(flagged=False, flag_reason=False)
        production.sudo().shopfloor_cost_flagged = False


# -- inputs -----------------------------------------------------------------------


class _CostInputs:
    """Everything the figures of a set of MOs derive from, read for all the
    MOs at once with one query per kind of record: the MOs with their work
    orders and time logs, raw moves with their BOM lines, validated scraps,
    and the variance rows and lines to update.

    The inputs are three read-only ``odoo.tools.SQL`` queries because each
    joins what the ORM would fetch model by model, a query per model on
    every refresh: the MOs with their company's currency, product template,
    category thresholds, work orders, work centers, capacities, operations
    and time logs (eleven models); the raw moves with their product
    templates, BOM lines and BOMs (five); the scraps with their product
    templates (three). They read the stored columns the ORM would. A
    record looked up by id only (a product's unit, an operation's time) is
    a scalar subquery rather than one more relation in the join: PostgreSQL
    plans each subquery on its own, and planning, not running, is most of
    the time of these queries. The variance rows and lines to update are a
    fourth query (``variance_snapshot``). Unit conversions, currency
    rounding and standard prices go through Odoo (``uom.uom._compute_quantity``,
    ``res.currency.round``, ``product.standard_price``: company-dependent,
    with its fallback)."""

    def __init__(self, productions):
        self.env = productions.env
        self.production_ids = list(productions.ids)
        self._records = {}
        self.productions = {}
        self.workorders = collections.defaultdict(list)
        self.time_logs = collections.defaultdict(list)
        columns = None
        # One query instead of eleven (see the class docstring), in two
        # materialized parts: joined as one, its planning alone took longer
        # than the three queries it replaces. The time logs are joined last,
        # to the materialized work orders: the work orders' subqueries run
        # once per work order, not once per log. The work orders in
        # production.workorder_ids order (sequence, id), each with
        # its time logs in time_ids order (id desc, so that the sums add up in
        # the same order). On mrp.workcenter._get_capacity's rule the
        # product's capacity row of the work center (unique per product) wins
        # over the work center's defaults.
        for row in self._query(
            SQL(
                """
            WITH orders AS MATERIALIZED (
                SELECT mo.id, mo.name, mo.state, mo.product_id, mo.product_uom_id, mo.product_qty, mo.qty_producing,
                       mo.company_id, mo.date_start, mo.bom_id,
                       (SELECT company.currency_id FROM res_company company
                         WHERE company.id = mo.company_id) AS currency_id,
                       product_tmpl.uom_id AS product_uom_of_product, product_tmpl.categ_id,
                       categ.shopfloor_cost_variance_threshold AS cost_limit,
                       categ.shopfloor_time_variance_threshold AS time_limit,
                       categ.shopfloor_scrap_threshold AS scrap_limit
                  FROM mrp_production mo
                  JOIN product_template product_tmpl ON product_tmpl.id = %(template_of_product)s
                  LEFT JOIN product_category categ ON categ.id = product_tmpl.categ_id
                 WHERE mo.id = ANY(%(ids)s)
            ), workorders AS MATERIALIZED (
                SELECT wo.id AS wo_id, wo.production_id AS wo_production_id, wo.sequence AS wo_sequence,
                       wo.name AS wo_name, wo.workcenter_id AS wo_workcenter_id, wo.operation_id AS wo_operation_id,
                       wo.state AS wo_state, wo.qty_produced AS wo_qty_produced,
                       wo.duration_expected AS wo_duration_expected, wo.shopfloor_qty_scrap AS wo_shopfloor_qty_scrap,
                       wc.costs_hour AS wo_costs_hour, wc.time_efficiency AS wo_time_efficiency,
                       CASE WHEN capacity.id IS NULL THEN wc.default_capacity ELSE capacity.capacity END AS wo_capacity,
                       CASE WHEN capacity.id IS NULL THEN COALESCE(wc.time_start, 0) + COALESCE(wc.time_stop, 0)
                            ELSE COALESCE(capacity.time_start, 0) + COALESCE(capacity.time_stop, 0)
                       END AS wo_setup_minutes,
                       (SELECT operation.time_mode FROM mrp_routing_workcenter operation
                         WHERE operation.id = wo.operation_id) AS wo_time_mode,
                       (SELECT operation.time_cycle_manual FROM mrp_routing_workcenter operation
                         WHERE operation.id = wo.operation_id) AS wo_time_cycle_manual
                  FROM mrp_workorder wo
                  JOIN orders mo ON mo.id = wo.production_id
                  JOIN mrp_workcenter wc ON wc.id = wo.workcenter_id
                  LEFT JOIN mrp_workcenter_capacity capacity
                         ON capacity.workcenter_id = wc.id AND capacity.product_id = mo.product_id
                 WHERE wo.production_id = ANY(%(ids)s)
            )
            SELECT orders.*, workorders.*,
                   log.id AS log_id, log.duration AS log_duration, log.loss_type AS log_loss_type,
                   log.date_start AS log_date_start, log.date_end AS log_date_end,
                   log.shopfloor_kind AS log_shopfloor_kind, log.loss_id AS log_loss_id
              FROM orders
              LEFT JOIN workorders ON workorders.wo_production_id = orders.id
              LEFT JOIN mrp_workcenter_productivity log ON log.workorder_id = workorders.wo_id
             ORDER BY orders.id, workorders.wo_sequence, workorders.wo_id, log.id DESC
        """,
                ids=self.production_ids,
                template_of_product=SQL(
                    "(SELECT product.product_tmpl_id FROM product_product product WHERE product.id = mo.product_id)"
                ),
            )
        ):
            if columns is None:
                columns = {prefix: [name for name in row if name.startswith(prefix)] for prefix in ("wo_", "log_")}
            workorder = {name[3:]: row.pop(name) for name in columns["wo_"]}
            log = {name[4:]: row.pop(name) for name in columns["log_"]}
            production_id = row["id"]
            self.productions.setdefault(production_id, row)
            workorders = self.workorders[production_id]
            if workorder["id"] and (not workorders or workorders[-1]["id"] != workorder["id"]):
                workorder["production_id"] = production_id
                workorders.append(workorder)
            if log["id"]:
                self.time_logs[workorder["id"]].append(log)
        # production.move_raw_ids (not scrapped, sequence, id), with the BOM
        # line each came from and the units to convert between.
        self.raw_moves = self._group_by_production(
            self._query(
                SQL(
                    """
            SELECT move.raw_material_production_id AS production_id, move.product_id, move.bom_line_id,
                   move.state, move.picked, move.quantity, move.product_uom_qty, move.product_uom,
                   %(move_product_uom)s AS product_uom_of_product,
                   bom_line.product_qty AS bom_line_qty, bom_line.product_uom_id AS bom_line_uom,
                   %(bom_line_product_uom)s AS bom_line_product_uom,
                   bom.product_qty AS bom_qty, bom.product_uom_id AS bom_uom
              FROM stock_move move
              LEFT JOIN mrp_bom_line bom_line ON bom_line.id = move.bom_line_id
              LEFT JOIN mrp_bom bom ON bom.id = bom_line.bom_id
             WHERE move.raw_material_production_id = ANY(%(ids)s) AND move.scrapped IS NOT TRUE
             ORDER BY move.sequence, move.id
        """,
                    ids=self.production_ids,
                    move_product_uom=_product_uom(SQL("move.product_id")),
                    bom_line_product_uom=_product_uom(SQL("bom_line.product_id")),
                )
            )
        )
        # production.scrap_ids (id desc), validated only, with the unit of each
        # product (SQL: the ORM would read scraps, products and templates). Sorted
        # here, not by ORDER BY: an order on the primary key invites the planner to
        # walk stock_scrap's primary key backwards, filtering every scrap of the
        # database, instead of finding an MO's few through production_id.
        self.scraps = self._group_by_production(
            sorted(
                self._query(
                    SQL(
                        """
            SELECT scrap.id, scrap.production_id, scrap.product_id, scrap.product_uom_id, scrap.scrap_qty,
                   scrap.workorder_id, %(product_uom)s AS product_uom_of_product
              FROM stock_scrap scrap
             WHERE scrap.production_id = ANY(%(ids)s) AND scrap.state = 'done'
               -- a scrap returned to stock (a reversed floor event) no longer counts
               AND NOT EXISTS (
                   SELECT 1 FROM stock_move scrapped
                     JOIN stock_move returned ON returned.origin_returned_move_id = scrapped.id
                    WHERE scrapped.scrap_id = scrap.id AND returned.state = 'done')
        """,
                        ids=self.production_ids,
                        product_uom=_product_uom(SQL("scrap.product_id")),
                    )
                ),
                key=lambda scrap: scrap["id"],
                reverse=True,
            )
        )
        # One query per model loads every currency, unit and component product the figures need.
        self.prefetch("res.currency", [row["currency_id"] for row in self.productions.values()])
        self.prefetch(
            "uom.uom",
            [
                uom_id
                for row in self.productions.values()
                for uom_id in (row["product_uom_id"], row["product_uom_of_product"])
            ]
            + [
                uom_id
                for moves in self.raw_moves.values()
                for move in moves
                for uom_id in (
                    move["product_uom"],
                    move["product_uom_of_product"],
                    move["bom_line_uom"],
                    move["bom_line_product_uom"],
                    move["bom_uom"],
                )
            ]
            + [
                uom_id
                for scraps in self.scraps.values()
                for scrap in scraps
                for uom_id in (scrap["product_uom_id"], scrap["product_uom_of_product"])
            ],
        )
        self.prefetch(
            "product.product",
            [row["product_id"] for rows in (*self.raw_moves.values(), *self.scraps.values()) for row in rows],
        )

    def _query(self, query):
        """Rows of a read-only SQL query as dicts."""
        return self.env.execute_query_dict(query)

    @staticmethod
    def _group_by_production(rows):
        grouped = collections.defaultdict(list)
        for row in rows:
            grouped[row["production_id"]].append(row)
        return grouped

    def record(self, model, record_id):
        """A record of ``model`` sharing one prefetch set with every other
        record of it asked for in this refresh (one query loads them all);
        empty for no id."""
        if not record_id:
            return self.env[model]
        by_model = self._records.setdefault(model, {})
        if record_id not in by_model:
            by_model[record_id] = None
            ids = tuple(by_model)
            for record in self.env[model].browse(ids):
                by_model[record.id] = record
        return by_model[record_id]

    def prefetch(self, model, ids):
        by_model = self._records.setdefault(model, {})
        missing = {record_id: None for record_id in ids if record_id and record_id not in by_model}
        if not missing:
            return
        by_model.update(missing)
        for record in self.env[model].browse(tuple(by_model)):
            by_model[record.id] = record

    def variance_snapshot(self):
        """The variance rows and component lines of these MOs as stored:
        ({(production id, workorder id or False): row}, {row id: [line, …]}),
        each a dict of its stored columns.

        One read-only query for both models, and not through the ORM: a row
        in the ORM's cache would keep its unchanged figures out of the
        grouped write (see ``_Changes``)."""
        row_model = self.env["shopfloor.cost.variance"]
        line_model = self.env["shopfloor.cost.variance.line"]
        row_names = ["id", *_stored_columns(row_model)]
        line_names = ["id", *_stored_columns(line_model)]
        rows = {}
        lines = collections.defaultdict(list)
        for values in self.env.execute_query(
            SQL(
                "SELECT %s, %s FROM %s AS variance LEFT JOIN %s AS component ON component.variance_id = variance.id"
                " WHERE variance.production_id = ANY(%s) ORDER BY variance.id, component.id",
                SQL(", ").join(SQL.identifier("variance", name) for name in row_names),
                SQL(", ").join(SQL.identifier("component", name) for name in line_names),
                SQL.identifier(row_model._table),
                SQL.identifier(line_model._table),
                self.production_ids,
            )
        ):
            row = dict(zip(row_names, values[: len(row_names)], strict=True))
            rows.setdefault((row["production_id"], row["workorder_id"] or False), row)
            line = dict(zip(line_names, values[len(row_names) :], strict=True))
            if line["id"]:
                lines[row["id"]].append(line)
        return rows, lines


def _product_uom(product_id):
    """SQL: the unit (``uom_id``) of the product whose id is the SQL ``product_id``."""
    return SQL(
        "(SELECT tmpl.uom_id FROM product_template tmpl"
        " WHERE tmpl.id = (SELECT product.product_tmpl_id FROM product_product product WHERE product.id = %s))",
        product_id,
    )


def _float(value):
    return float(value or 0.0)


class _ProductionCost:
    """The cost figures of one MO and its work orders, computed from its records."""

    def __init__(self, production, inputs):
        self.production = production
        self.env = production.env
        self.inputs = inputs
        data = inputs.productions[production.id]
        self.data = data
        self.currency_rounding = inputs.record("res.currency", data["currency_id"]).rounding
        self.uom = inputs.record("uom.uom", data["product_uom_id"])
        self.product_uom = inputs.record("uom.uom", data["product_uom_of_product"])
        self.limits = None
        if data["categ_id"]:
            self.limits = {
                "cost": _float(data["cost_limit"]),
                "time": _float(data["time_limit"]),
                "scrap": _float(data["scrap_limit"]),
            }
        self._setup_loss_id = None
        self.qty_planned = _float(data["product_qty"])
        if data["state"] in ("done", "cancel"):
            # A non-stored compute over the finished moves.
            self.qty_good = production.qty_produced
        else:
            # While the order runs, qty_producing is what the floor reported.
            self.qty_good = _float(data["qty_producing"])

    def _is_setup_log(self, log):
        """Setup and teardown time: logs the floor tagged so (setup/teardown
        events), else any log with Odoo's "Setup and Adjustments" loss."""
        kind = log["shopfloor_kind"]
        if kind:
            return kind in ("setup", "teardown")
        if self._setup_loss_id is None:
            self._setup_loss_id = (
                self.env["ir.model.data"]._xmlid_to_res_id("mrp.block_reason2", raise_if_not_found=False) or False
            )
        return log["loss_id"] == self._setup_loss_id

    def _round(self, amount):
        """res.currency.round of the company currency (its formula, without a
        field read per amount: a refresh rounds some thirty of them)."""
        return float_round(amount, precision_rounding=self.currency_rounding)

    # -- operations ---------------------------------------------------------------

    def _time_cycle(self, workorder):
        """mrp.routing.workcenter.time_cycle: the manual time, else Odoo's
        average over past work orders (its compute, only in that case)."""
        if workorder["time_mode"] == "manual":
            return _float(workorder["time_cycle_manual"])
        return self.inputs.record("mrp.routing.workcenter", workorder["operation_id"]).time_cycle

    def _standard_minutes(self, workorder, quantity):
        """Odoo's own expected duration formula (setup + cycles x cycle time /
        efficiency + cleanup) for ``quantity`` in the MO's unit; 0 for 0."""
        if quantity <= 0:
            return 0.0
        if workorder["operation_id"]:
            # mrp.routing.workcenter._get_duration_expected without its
            # variant-applicability check (the WO exists, so it applies).
            quantity = self.uom._compute_quantity(quantity, self.product_uom)
            cycles = float_round(quantity / _float(workorder["capacity"]), precision_digits=0, rounding_method="UP")
            return _float(workorder["setup_minutes"]) + cycles * self._time_cycle(workorder) * 100.0 / _float(
                workorder["time_efficiency"]
            )
        # A work order added by hand has no operation: scale its own estimate.
        return _float(workorder["duration_expected"]) * _safe_ratio(quantity, self.qty_planned)

    def _workorder_figures(self, workorder):
        rate = _float(workorder["costs_hour"])
        logs = self.inputs.time_logs.get(workorder["id"], [])
        duration_actual = sum(_float(log["duration"]) for log in logs)
        running = [log for log in logs if log["loss_type"] in RUNNING_LOSS_TYPES]
        labour_minutes = sum(_float(log["duration"]) for log in running)
        machine_minutes = _union_minutes(
            [(log["date_start"], log["date_end"]) for log in running if log["date_start"] and log["date_end"]]
        )
        setup_actual = sum(_float(log["duration"]) for log in logs if self._is_setup_log(log))
        duration_planned = self._standard_minutes(workorder, self.qty_planned)
        if workorder["state"] in ("done", "cancel"):
            qty_good = _float(workorder["qty_produced"])
            duration_expected = self._standard_minutes(workorder, qty_good)
        else:
            # Work in progress: the MO's producing quantity may have been set
            # by an earlier operation, so it says nothing about this one. A
            # running WO is on standard until its time passes the standard of
            # the whole planned quantity; only the excess is a variance yet.
            qty_good = self.qty_good
            duration_expected = min(duration_actual, duration_planned)
        qty_scrap = self._finished_scrap_qty(workorder)
        cost_standard = self._round(duration_expected / 60.0 * rate)
        cost_actual = self._round(duration_actual / 60.0 * rate)
        return {
            "qty_good": qty_good,
            "qty_scrap": qty_scrap,
            "duration_planned": duration_planned,
            "duration_expected": duration_expected,
            "duration_actual": duration_actual,
            "labour_minutes": labour_minutes,
            "machine_minutes": machine_minutes,
            "setup_standard": _float(workorder["setup_minutes"]) if workorder["operation_id"] else 0.0,
            "setup_actual": setup_actual,
            "cost_standard": cost_standard,
            "cost_planned": self._round(duration_planned / 60.0 * rate),
            "cost_actual": cost_actual,
        }

    # -- material and scrap -------------------------------------------------------

    def _convert(self, quantity, from_uom_id, to_uom_id):
        """uom.uom._compute_quantity (which rounds to the target unit)."""
        return self.inputs.record("uom.uom", from_uom_id)._compute_quantity(
            quantity, self.inputs.record("uom.uom", to_uom_id)
        )

    def _finished_scrap_qty(self, workorder=None):
        """Finished units scrapped: validated ``stock.scrap`` of the MO's product
        plus the counts the floor reported on the work orders (qty_scrap of
        completion/production events, kept on ``shopfloor_qty_scrap``)."""
        production_id = self.data["id"]
        product_id = self.data["product_id"]
        scraps = [scrap for scrap in self.inputs.scraps.get(production_id, []) if scrap["product_id"] == product_id]
        workorders = self.inputs.workorders.get(production_id, [])
        if workorder is not None:
            scraps = [scrap for scrap in scraps if scrap["workorder_id"] == workorder["id"]]
            workorders = [workorder]
        booked = sum(
            self._convert(_float(scrap["scrap_qty"]), scrap["product_uom_id"], self.uom.id) for scrap in scraps
        )
        counted = sum(_float(wo["shopfloor_qty_scrap"]) for wo in workorders)
        return booked + counted

    def _bom_qty_per_unit(self, move):
        """Component quantity (in the component's own unit) per MO unit, from the move's BOM line."""
        per_bom = self._convert(_float(move["bom_line_qty"]), move["bom_line_uom"], move["bom_line_product_uom"])
        bom_qty_in_mo_unit = self._convert(_float(move["bom_qty"]), move["bom_uom"], self.uom.id)
        return _safe_ratio(per_bom, bom_qty_in_mo_unit)

    def _component_lines(self):
        production_id = self.data["id"]
        moves = self.inputs.raw_moves.get(production_id, [])
        scraps = [
            scrap
            for scrap in self.inputs.scraps.get(production_id, [])
            if scrap["product_id"] != self.data["product_id"]
        ]
        inputs = self.inputs
        per_product = {}
        uom_of_product = {}

        def entry(product_id):
            return per_product.setdefault(
                product_id, {"bom_qty_per_unit": 0.0, "planned": 0.0, "consumed": 0.0, "scrapped": 0.0}
            )

        bom_lines_seen = set()
        for move in moves:
            product_id = move["product_id"]
            product_uom_id = uom_of_product[product_id] = move["product_uom_of_product"]
            data = entry(product_id)
            if move["bom_line_id"] and move["bom_line_id"] not in bom_lines_seen:
                bom_lines_seen.add(move["bom_line_id"])
                data["bom_qty_per_unit"] += self._bom_qty_per_unit(move)
            elif not self.data["bom_id"] and move["state"] != "cancel":
                # No BOM: the MO's own planned quantities are the standard.
                planned = self._convert(_float(move["product_uom_qty"]), move["product_uom"], product_uom_id)
                data["bom_qty_per_unit"] += _safe_ratio(planned, self.qty_planned)
            if move["state"] == "cancel" or not (move["picked"] or move["state"] == "done"):
                continue
            data["consumed"] += self._convert(_float(move["quantity"]), move["product_uom"], product_uom_id)
        for scrap in scraps:
            product_id = scrap["product_id"]
            product_uom_id = uom_of_product[product_id] = scrap["product_uom_of_product"]
            data = entry(product_id)
            data["scrapped"] += self._convert(_float(scrap["scrap_qty"]), scrap["product_uom_id"], product_uom_id)

        lines = []
        for product_id, data in per_product.items():
            price = inputs.record("product.product", product_id).standard_price
            qty_expected = data["bom_qty_per_unit"] * self.qty_good
            cost_standard = self._round(qty_expected * price)
            cost_actual = self._round(data["consumed"] * price)
            cost_scrap = self._round(data["scrapped"] * price)
            lines.append(
                {
                    "product_id": product_id,
                    "uom_id": uom_of_product[product_id],
                    "standard_price": price,
                    "bom_qty_per_unit": data["bom_qty_per_unit"],
                    "actual_qty_per_unit": _safe_ratio(data["consumed"], self.qty_good),
                    "qty_expected": qty_expected,
                    "qty_consumed": data["consumed"],
                    "qty_scrapped": data["scrapped"],
                    "qty_variance_pct": _safe_ratio(data["consumed"] - qty_expected, qty_expected) * 100.0,
                    "cost_standard": cost_standard,
                    "cost_actual": cost_actual,
                    "cost_scrap": cost_scrap,
                    "variance_amount": self._round(cost_actual + cost_scrap - cost_standard),
                    "_planned_cost": self._round(data["bom_qty_per_unit"] * self.qty_planned * price),
                }
            )
        return lines

    # -- rows ---------------------------------------------------------------------

    def _common(self):
        data = self.data
        return {
            "production_id": data["id"],
            "product_id": data["product_id"],
            "product_categ_id": data["categ_id"],
            "company_id": data["company_id"],
            "currency_id": data["currency_id"],
            "date": data["date_start"],
            "uom_id": data["product_uom_id"],
            "qty_planned": self.qty_planned,
        }

    @staticmethod
    def _time_figures(figures, qty_good, qty_scrap):
        duration_expected = figures["duration_expected"]
        return {
            "qty_good": qty_good,
            "qty_scrap": qty_scrap,
            "scrap_pct": _safe_ratio(qty_scrap, qty_good + qty_scrap) * 100.0,
            "duration_planned": figures["duration_planned"],
            "duration_expected": duration_expected,
            "duration_actual": figures["duration_actual"],
            "duration_variance_pct": _safe_ratio(figures["duration_actual"] - duration_expected, duration_expected)
            * 100.0,
            "labour_hours": figures["labour_minutes"] / 60.0,
            "machine_hours": figures["machine_minutes"] / 60.0,
            "labour_hours_per_unit": _safe_ratio(figures["labour_minutes"] / 60.0, qty_good),
            "machine_hours_per_unit": _safe_ratio(figures["machine_minutes"] / 60.0, qty_good),
            "setup_standard": figures["setup_standard"],
            "setup_actual": figures["setup_actual"],
        }

    def rows(self):
        """Yield ((production id, workorder id), values, component lines or None)."""
        data = self.data
        totals = dict.fromkeys(
            (
                "duration_planned",
                "duration_expected",
                "duration_actual",
                "labour_minutes",
                "machine_minutes",
                "setup_standard",
                "setup_actual",
                "cost_standard",
                "cost_planned",
                "cost_actual",
            ),
            0.0,
        )
        for sequence, workorder in enumerate(self.inputs.workorders.get(data["id"], [])):
            figures = self._workorder_figures(workorder)
            for key in totals:
                totals[key] += figures[key]
            values = self._common()
            values.update(self._time_figures(figures, figures["qty_good"], figures["qty_scrap"]))
            values.update(
                {
                    "name": f"{data['name']} - {workorder['name']}",
                    "level": "workorder",
                    "sequence": sequence + 1,
                    "workorder_id": workorder["id"],
                    "workcenter_id": workorder["workcenter_id"],
                    "state": workorder["state"],
                    "std_hours_per_unit": _safe_ratio(figures["duration_planned"] / 60.0, self.qty_planned),
                    "cost_operations_standard": figures["cost_standard"],
                    "cost_operations_actual": figures["cost_actual"],
                    "cost_material_standard": 0.0,
                    "cost_material_actual": 0.0,
                    "cost_component_scrap": 0.0,
                    "scrap_cost": 0.0,
                    "planned_standard_cost": figures["cost_planned"],
                    "cost_standard": figures["cost_standard"],
                    "cost_actual": figures["cost_actual"],
                    "variance_amount": self._round(figures["cost_actual"] - figures["cost_standard"]),
                    "variance_pct": _safe_ratio(
                        figures["cost_actual"] - figures["cost_standard"], figures["cost_standard"]
                    )
                    * 100.0,
                }
            )
            yield (data["id"], workorder["id"]), values, None

        lines = self._component_lines()
        # Totals add the rounded lines (what the user sees), rounded again
        # only to drop float noise.
        material_standard = self._round(sum(line["cost_standard"] for line in lines))
        material_actual = self._round(sum(line["cost_actual"] for line in lines))
        component_scrap = self._round(sum(line["cost_scrap"] for line in lines))
        material_planned = self._round(sum(line.pop("_planned_cost") for line in lines))
        for key in ("cost_standard", "cost_planned", "cost_actual"):
            totals[key] = self._round(totals[key])
        planned_standard = self._round(totals["cost_planned"] + material_planned)
        unit_standard = _safe_ratio(planned_standard, self.qty_planned)
        qty_scrap = self._finished_scrap_qty()
        cost_standard = self._round(totals["cost_standard"] + material_standard)
        cost_actual = self._round(totals["cost_actual"] + material_actual + component_scrap)
        values = self._common()
        values.update(self._time_figures(totals, self.qty_good, qty_scrap))
        values.update(
            {
                "name": data["name"],
                "level": "production",
                "sequence": 0,
                "workorder_id": False,
                "workcenter_id": False,
                "state": data["state"],
                "std_hours_per_unit": _safe_ratio(totals["duration_planned"] / 60.0, self.qty_planned),
                "cost_operations_standard": totals["cost_standard"],
                "cost_operations_actual": totals["cost_actual"],
                "cost_material_standard": material_standard,
                "cost_material_actual": material_actual,
                "cost_component_scrap": component_scrap,
                "scrap_cost": self._round(self._round(qty_scrap * unit_standard) + component_scrap),
                "planned_standard_cost": planned_standard,
                "cost_standard": cost_standard,
                "cost_actual": cost_actual,
                "variance_amount": self._round(cost_actual - cost_standard),
                "variance_pct": _safe_ratio(cost_actual - cost_standard, cost_standard) * 100.0,
            }
        )
        yield (data["id"], False), values, lines
