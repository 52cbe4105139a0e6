"""Standard vs actual cost of manufacturing orders while they run.

One ``shopfloor.cost.variance`` row per MO (level ``production``) and one per
work order (level ``workorder``), plus one ``shopfloor.cost.variance.line`` per
component of the MO. The rows are a stored snapshot, rebuilt from the records a
user can open (time logs, raw moves, scraps) by ``_refresh_for_productions``:
the event apply hook calls it for the MOs an event touched, so the figures are
as fresh as the last applied event without a stored compute chain on
``mrp.production`` slowing every write of the ingest path.

Every formula is in readme/COST.md; the names of the fields follow it.
"""

from odoo import _, api, fields, models
from odoo.tools import float_round

REALTIME_PARAM = "shopfloor_bridge.cost_realtime"

# Time logs in these loss categories are people/machine running the order; the
# others (availability, quality) are stops and rework.
RUNNING_LOSS_TYPES = ("productive", "performance")


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
    currency_id = fields.Many2one("res.currency", related="company_id.currency_id", readonly=True)
    state = fields.Char("Order Status", readonly=True)
    date = fields.Datetime(
        "Date", readonly=True, index=True, help="Start of the order (its planned start until it starts): the period filter."
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
    scrap_cost = fields.Monetary("Scrap Cost", readonly=True)
    planned_standard_cost = fields.Monetary(
        "Standard Cost (planned qty)", readonly=True, help="Operations and material at standard for the planned quantity."
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

    # -- entry points -----------------------------------------------------------

    @api.model
    def _is_realtime_enabled(self):
        value = self.env["ir.config_parameter"].sudo().get_param(REALTIME_PARAM, "1")
        return value.strip().lower() not in ("0", "false", "no", "off", "")

    @api.model
    def _refresh_for_productions(self, productions):
        """Rebuild the variance rows of ``productions`` from their time logs,
        moves and scraps; flag and notify where a threshold is passed."""
        if not productions:
            return self.browse()
        existing = self.sudo().search([("production_id", "in", productions.ids)])
        rows_by_key = {(row.production_id.id, row.workorder_id.id): row for row in existing}
        refreshed = self.browse()
        for production in productions:
            snapshot = _ProductionCost(production)
            for key, values, lines in snapshot.rows():
                row = rows_by_key.pop(key, None)
                if row is None:
                    row = self.sudo().create(values)
                else:
                    _write_changed(row, values)
                if lines is not None:
                    row._sync_lines(lines)
                refreshed |= row
        # Work orders deleted since the last refresh leave no stale row behind.
        stale = self.browse([row.id for row in rows_by_key.values()])
        stale.sudo().unlink()
        refreshed.filtered(lambda r: r.level == "production")._apply_thresholds()
        return refreshed

    @api.model
    def refresh_timed(self, production_ids):
        """RPC for the benchmark: refresh the given MOs and return how long it
        took in milliseconds, measured here in the server (no network in it)."""
        import time

        productions = self.env["mrp.production"].browse(production_ids).exists()
        started = time.perf_counter()
        self._refresh_for_productions(productions)
        self.env.flush_all()
        return {"ms": (time.perf_counter() - started) * 1000.0, "count": len(productions)}

    def action_refresh(self):
        self._refresh_for_productions(self.production_id)
        return True

    def action_open_time_logs(self):
        domain = [("workorder_id", "in", self._workorders().ids)]
        return self._open("mrp.workcenter.productivity", _("Time Logs"), domain)

    def action_open_moves(self):
        domain = [("raw_material_production_id", "in", self.production_id.ids), ("scrap_id", "=", False)]
        return self._open("stock.move", _("Component Moves"), domain)

    def action_open_scraps(self):
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

    def _sync_lines(self, lines_values):
        lines_by_product = {line.product_id.id: line for line in self.line_ids}
        for values in lines_values:
            line = lines_by_product.pop(values["product_id"], None)
            if line is None:
                self.env["shopfloor.cost.variance.line"].sudo().create(dict(values, variance_id=self.id))
            else:
                _write_changed(line, values)
        if lines_by_product:
            self.env["shopfloor.cost.variance.line"].browse(
                [line.id for line in lines_by_product.values()]
            ).sudo().unlink()

    # -- thresholds -------------------------------------------------------------

    def _threshold_breaches(self):
        """Reasons this MO row passes its product category's thresholds, [] if none.

        Only a running order is judged, and only once it has output (good or
        scrap) or once its actual cost already exceeds the standard cost of the
        whole planned quantity: before any output every minute logged is a
        "variance" of 100 %, which says nothing yet."""
        self.ensure_one()
        category = self.product_categ_id
        if self.state not in ("progress", "to_close") or not category:
            return []
        planned_standard = self.planned_standard_cost
        has_output = self.qty_good or self.qty_scrap
        if not has_output and not (planned_standard and self.cost_actual > planned_standard):
            return []
        # Without output the standard earned is 0: judge against the whole plan.
        cost_pct = (
            self.variance_pct
            if has_output
            else _safe_ratio(self.cost_actual - planned_standard, planned_standard) * 100.0
        )
        reasons = []
        cost_limit = category.shopfloor_cost_variance_threshold
        if cost_limit and cost_pct > cost_limit:
            reasons.append(_("cost variance %(pct).2f %% > %(limit).2f %%", pct=cost_pct, limit=cost_limit))
        time_limit = category.shopfloor_time_variance_threshold
        if time_limit and self.duration_variance_pct > time_limit:
            reasons.append(
                _("time variance %(pct).2f %% > %(limit).2f %%", pct=self.duration_variance_pct, limit=time_limit)
            )
        scrap_limit = category.shopfloor_scrap_threshold
        if scrap_limit and self.scrap_pct > scrap_limit:
            reasons.append(_("scrap %(pct).2f %% > %(limit).2f %%", pct=self.scrap_pct, limit=scrap_limit))
        return reasons

    def _apply_thresholds(self):
        activity_type = None
        for row in self:
            reasons = row._threshold_breaches()
            reason_text = "; ".join(reasons)
            production = row.production_id
            if reasons and not row.flagged:
                row.sudo().write({"flagged": True, "flag_reason": reason_text})
                production.sudo().shopfloor_cost_flagged = True
                responsible = production.user_id or self.env.user
                if activity_type is None:
                    activity_type = self.env.ref("mail.mail_activity_data_todo", raise_if_not_found=False)
                if activity_type:
                    production.sudo().activity_schedule(
                        activity_type_id=activity_type.id,
                        summary=_("Cost variance above threshold"),
                        note=_("%(mo)s: %(reasons)s", mo=production.name, reasons=reason_text),
                        user_id=responsible.id,
                    )
            elif reasons and row.flag_reason != reason_text:
                row.sudo().flag_reason = reason_text
            elif not reasons and row.flagged and row.state in ("progress", "to_close"):
                # Back within the thresholds while running: the flag goes, the
                # activity stays for the responsible to close with a note.
                row.sudo().write({"flagged": False, "flag_reason": False})
                production.sudo().shopfloor_cost_flagged = False


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


def _write_changed(record, values):
    """Write only what changed: an unchanged refresh costs no UPDATE."""
    changed = {}
    for name, value in values.items():
        field = record._fields[name]
        current = record[name]
        if field.type == "many2one":
            current = current.id
        elif field.type in ("float", "monetary"):
            if current is not None and value is not None and abs((current or 0.0) - (value or 0.0)) < 1e-9:
                continue
        if current != value:
            changed[name] = value
    if changed:
        record.sudo().write(changed)


class _ProductionCost:
    """The cost figures of one MO and its work orders, computed from its records."""

    def __init__(self, production):
        self.production = production
        self.env = production.env
        self.currency = production.company_id.currency_id
        self._setup_loss = None
        self.uom = production.product_uom_id
        self.qty_planned = production.product_qty
        if production.state in ("done", "cancel"):
            self.qty_good = production.qty_produced
        else:
            # qty_produced is a non-stored compute over the finished moves;
            # while the order runs, qty_producing is what the floor reported.
            self.qty_good = production.qty_producing

    def _is_setup_log(self, log):
        """Setup and teardown time: logs the floor tagged so (setup/teardown
        events), else any log with Odoo's "Setup and Adjustments" loss."""
        kind = log.shopfloor_kind if "shopfloor_kind" in log._fields else False
        if kind:
            return kind in ("setup", "teardown")
        if self._setup_loss is None:
            self._setup_loss = self.env.ref("mrp.block_reason2", raise_if_not_found=False)
        return log.loss_id == self._setup_loss

    def _round(self, amount):
        return self.currency.round(amount)

    # -- operations ---------------------------------------------------------------

    def _standard_minutes(self, workorder, quantity):
        """Odoo's own expected duration formula (setup + cycles x cycle time /
        efficiency + cleanup) for ``quantity`` in the MO's unit; 0 for 0."""
        if quantity <= 0:
            return 0.0
        operation = workorder.operation_id
        if operation:
            # mrp.routing.workcenter._get_duration_expected without its
            # variant-applicability check (the WO exists, so it applies).
            product = self.production.product_id
            workcenter = workorder.workcenter_id
            quantity = self.uom._compute_quantity(quantity, product.uom_id)
            cycles = float_round(
                quantity / workcenter._get_capacity(product), precision_digits=0, rounding_method="UP"
            )
            return (
                workcenter._get_expected_duration(product)
                + cycles * operation.time_cycle * 100.0 / workcenter.time_efficiency
            )
        # A work order added by hand has no operation: scale its own estimate.
        return workorder.duration_expected * _safe_ratio(quantity, self.qty_planned)

    def _workorder_figures(self, workorder):
        production = self.production
        workcenter = workorder.workcenter_id
        rate = workcenter.costs_hour
        logs = workorder.time_ids
        duration_actual = sum(logs.mapped("duration"))
        running = logs.filtered(lambda log: log.loss_type in RUNNING_LOSS_TYPES)
        labour_minutes = sum(running.mapped("duration"))
        machine_minutes = _union_minutes(
            [(log.date_start, log.date_end) for log in running if log.date_start and log.date_end]
        )
        setup_actual = sum(logs.filtered(self._is_setup_log).mapped("duration"))
        duration_planned = self._standard_minutes(workorder, self.qty_planned)
        if workorder.state in ("done", "cancel"):
            qty_good = workorder.qty_produced
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
            "setup_standard": workcenter._get_expected_duration(production.product_id) if workorder.operation_id else 0.0,
            "setup_actual": setup_actual,
            "cost_standard": cost_standard,
            "cost_planned": self._round(duration_planned / 60.0 * rate),
            "cost_actual": cost_actual,
        }

    # -- material and scrap -------------------------------------------------------

    def _done_scraps(self):
        return self.production.scrap_ids.filtered(lambda scrap: scrap.state == "done")

    def _finished_scrap_qty(self, workorder=None):
        """Finished units scrapped: validated ``stock.scrap`` of the MO's product
        plus the counts the floor reported on the work orders (qty_scrap of
        completion/production events, kept on ``shopfloor_qty_scrap``)."""
        production = self.production
        product = production.product_id
        scraps = self._done_scraps().filtered(lambda scrap: scrap.product_id == product)
        workorders = production.workorder_ids
        if workorder is not None:
            scraps = scraps.filtered(lambda scrap: scrap.workorder_id == workorder)
            workorders = workorder
        booked = sum(scrap.product_uom_id._compute_quantity(scrap.scrap_qty, self.uom) for scrap in scraps)
        counted = sum(workorders.mapped("shopfloor_qty_scrap")) if "shopfloor_qty_scrap" in workorders._fields else 0.0
        return booked + counted

    def _bom_qty_per_unit(self, bom_line):
        """Component quantity (in the component's own unit) per MO unit."""
        bom = bom_line.bom_id
        per_bom = bom_line.product_uom_id._compute_quantity(bom_line.product_qty, bom_line.product_id.uom_id)
        bom_qty_in_mo_unit = bom.product_uom_id._compute_quantity(bom.product_qty, self.uom)
        return _safe_ratio(per_bom, bom_qty_in_mo_unit)

    def _component_lines(self):
        production = self.production
        per_product = {}

        def entry(product):
            return per_product.setdefault(
                product, {"bom_qty_per_unit": 0.0, "planned": 0.0, "consumed": 0.0, "scrapped": 0.0}
            )

        bom_lines_seen = set()
        for move in production.move_raw_ids:
            product = move.product_id
            data = entry(product)
            if move.bom_line_id and move.bom_line_id.id not in bom_lines_seen:
                bom_lines_seen.add(move.bom_line_id.id)
                data["bom_qty_per_unit"] += self._bom_qty_per_unit(move.bom_line_id)
            elif not production.bom_id and move.state != "cancel":
                # No BOM: the MO's own planned quantities are the standard.
                planned = move.product_uom._compute_quantity(move.product_uom_qty, product.uom_id)
                data["bom_qty_per_unit"] += _safe_ratio(planned, self.qty_planned)
            if move.state == "cancel" or not (move.picked or move.state == "done"):
                continue
            data["consumed"] += move.product_uom._compute_quantity(move.quantity, product.uom_id)
        for scrap in self._done_scraps():
            if scrap.product_id == production.product_id:
                continue
            data = entry(scrap.product_id)
            data["scrapped"] += scrap.product_uom_id._compute_quantity(scrap.scrap_qty, scrap.product_id.uom_id)

        lines = []
        for product, data in per_product.items():
            price = product.standard_price
            qty_expected = data["bom_qty_per_unit"] * self.qty_good
            cost_standard = self._round(qty_expected * price)
            cost_actual = self._round(data["consumed"] * price)
            cost_scrap = self._round(data["scrapped"] * price)
            lines.append({
                "product_id": product.id,
                "uom_id": product.uom_id.id,
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
            })
        return lines

    # -- rows ---------------------------------------------------------------------

    def _common(self):
        production = self.production
        return {
            "production_id": production.id,
            "product_id": production.product_id.id,
            "product_categ_id": production.product_id.categ_id.id,
            "company_id": production.company_id.id,
            "date": production.date_start,
            "uom_id": self.uom.id,
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
        production = self.production
        totals = dict.fromkeys(
            (
                "duration_planned", "duration_expected", "duration_actual", "labour_minutes", "machine_minutes",
                "setup_standard", "setup_actual", "cost_standard", "cost_planned", "cost_actual",
            ),
            0.0,
        )
        for sequence, workorder in enumerate(production.workorder_ids.sorted(lambda wo: (wo.sequence, wo.id))):
            figures = self._workorder_figures(workorder)
            for key in totals:
                totals[key] += figures[key]
            values = self._common()
            values.update(self._time_figures(figures, figures["qty_good"], figures["qty_scrap"]))
            values.update({
                "name": f"{production.name} - {workorder.name}",
                "level": "workorder",
                "sequence": sequence + 1,
                "workorder_id": workorder.id,
                "workcenter_id": workorder.workcenter_id.id,
                "state": workorder.state,
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
                "variance_pct": _safe_ratio(figures["cost_actual"] - figures["cost_standard"], figures["cost_standard"])
                * 100.0,
            })
            yield (production.id, workorder.id), values, None

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
        values.update({
            "name": production.name,
            "level": "production",
            "sequence": 0,
            "workorder_id": False,
            "workcenter_id": False,
            "state": production.state,
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
        })
        yield (production.id, False), values, lines

