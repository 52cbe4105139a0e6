"""Workcenter OEE and downtime Pareto, read straight from the time logs.

Both reports are SQL views over ``mrp.workcenter.productivity`` (the time logs
the event handlers write and a user can open). Ratios cannot be summed, so
``read_group`` recomputes them from the summed minutes of each group: a pivot
cell for "Press 01, November" shows the OEE of all its minutes, not an average
of daily percentages. Formulas: readme/USAGE.md (Real-time cost).
"""

from odoo import api, fields, models, tools

from ..field_guard import require_groups

USER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_user"

OEE_RATIOS = ("availability", "performance", "quality", "oee", "utilisation")
OEE_MINUTES = (
    "productive_minutes",
    "performance_minutes",
    "quality_minutes",
    "availability_minutes",
    "loaded_minutes",
    "available_minutes",
)


def _ratio(numerator, denominator):
    return 100.0 * numerator / denominator if denominator else 0.0


def oee_ratios(productive, performance, quality, availability, available):
    """The loss cascade on Odoo's loss categories, in percent.

    loaded = all closed time logs; run = loaded - availability losses;
    net = run - performance losses; productive = net - quality losses.
    OEE = A x P x Q = productive / loaded, which is Odoo's own
    ``mrp.workcenter.oee`` (productive / (productive + blocked)).
    """
    loaded = productive + performance + quality + availability
    run = loaded - availability
    net = run - performance
    return {
        "availability": _ratio(run, loaded),
        "performance": _ratio(net, run),
        "quality": _ratio(productive, net),
        "oee": _ratio(productive, loaded),
        "utilisation": _ratio(run, available),
    }


def _add_ratios(groups):
    for group in groups:
        if all(name in group for name in OEE_MINUTES):
            group.update(
                oee_ratios(
                    group["productive_minutes"] or 0.0,
                    group["performance_minutes"] or 0.0,
                    group["quality_minutes"] or 0.0,
                    group["availability_minutes"] or 0.0,
                    group["available_minutes"] or 0.0,
                )
            )
    return groups


class ShopfloorOeeReport(models.Model):
    _name = "shopfloor.oee.report"
    _description = "Workcenter OEE per day (from time logs)"
    _auto = False
    _order = "date desc, workcenter_id"
    _rec_name = "workcenter_id"

    date = fields.Date(readonly=True, help="UTC day of the time logs' start.")
    workcenter_id = fields.Many2one("mrp.workcenter", "Work Center", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    productive_minutes = fields.Float("Productive (min)", readonly=True)
    performance_minutes = fields.Float("Performance Loss (min)", readonly=True)
    quality_minutes = fields.Float("Quality Loss (min)", readonly=True)
    availability_minutes = fields.Float("Availability Loss (min)", readonly=True)
    loaded_minutes = fields.Float("Logged (min)", readonly=True)
    available_minutes = fields.Float(
        "Calendar (min)", readonly=True, help="Working time of the workcenter's calendar that day (24 h without one)."
    )
    availability = fields.Float("Availability %", readonly=True, aggregator="avg")
    performance = fields.Float("Performance %", readonly=True, aggregator="avg")
    quality = fields.Float("Quality %", readonly=True, aggregator="avg")
    oee = fields.Float("OEE %", readonly=True, aggregator="avg")
    utilisation = fields.Float("Utilisation %", readonly=True, aggregator="avg")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(f"""
            CREATE VIEW {self._table} AS (
            WITH logs AS (
                SELECT p.workcenter_id, p.company_id, p.date_start::date AS day,
                       SUM(CASE WHEN p.loss_type = 'productive' THEN p.duration ELSE 0 END) AS productive,
                       SUM(CASE WHEN p.loss_type = 'performance' THEN p.duration ELSE 0 END) AS performance,
                       SUM(CASE WHEN p.loss_type = 'quality' THEN p.duration ELSE 0 END) AS quality,
                       SUM(CASE WHEN p.loss_type = 'availability' THEN p.duration ELSE 0 END) AS availability
                  FROM mrp_workcenter_productivity p
                 WHERE p.date_end IS NOT NULL
                 GROUP BY p.workcenter_id, p.company_id, day
            ), span AS (
                SELECT MIN(day) AS first_day, MAX(day) AS last_day FROM logs
            ), calendar_day AS (
                -- Working minutes per weekday (0 = Monday, Odoo's dayofweek);
                -- two-week calendars count each week type half.
                SELECT a.calendar_id, a.dayofweek::int AS weekday,
                       SUM((a.hour_to - a.hour_from) * 60.0
                           * CASE WHEN a.week_type IS NULL THEN 1.0 ELSE 0.5 END) AS minutes
                  FROM resource_calendar_attendance a
                 WHERE a.display_type IS NULL AND COALESCE(a.day_period, '') != 'lunch'
                   AND a.resource_id IS NULL
                 GROUP BY a.calendar_id, a.dayofweek
            ), grid AS (
                SELECT wc.id AS workcenter_id, wc.company_id, wc.resource_calendar_id, d::date AS day
                  FROM mrp_workcenter wc
                 CROSS JOIN span
                 CROSS JOIN LATERAL generate_series(span.first_day, span.last_day, interval '1 day') d
            )
            , minutes AS (
            SELECT g.day, g.workcenter_id, g.company_id,
                   COALESCE(l.productive, 0) AS productive_minutes,
                   COALESCE(l.performance, 0) AS performance_minutes,
                   COALESCE(l.quality, 0) AS quality_minutes,
                   COALESCE(l.availability, 0) AS availability_minutes,
                   COALESCE(l.productive + l.performance + l.quality + l.availability, 0) AS loaded_minutes,
                   CASE WHEN g.resource_calendar_id IS NULL THEN 1440.0 ELSE COALESCE(c.minutes, 0) END
                       AS available_minutes
              FROM grid g
              LEFT JOIN logs l ON l.workcenter_id = g.workcenter_id AND l.day = g.day
              LEFT JOIN calendar_day c ON c.calendar_id = g.resource_calendar_id
                                      AND c.weekday = EXTRACT(ISODOW FROM g.day)::int - 1
             WHERE l.workcenter_id IS NOT NULL
                OR g.resource_calendar_id IS NULL OR COALESCE(c.minutes, 0) > 0
            )
            -- Same cascade as oee_ratios() in Python, for ungrouped rows. The id is
            -- the row's work center and day, so it names the same row whatever
            -- other work centers or days appear later (a row number would shift).
            SELECT m.workcenter_id::bigint * 100000 + (m.day - DATE '2000-01-01') AS id,
                   m.day AS date, m.workcenter_id, m.company_id,
                   m.productive_minutes, m.performance_minutes, m.quality_minutes, m.availability_minutes,
                   m.loaded_minutes, m.available_minutes,
                   100.0 * (m.loaded_minutes - m.availability_minutes) / NULLIF(m.loaded_minutes, 0) AS availability,
                   100.0 * (m.productive_minutes + m.quality_minutes)
                       / NULLIF(m.loaded_minutes - m.availability_minutes, 0) AS performance,
                   100.0 * m.productive_minutes / NULLIF(m.productive_minutes + m.quality_minutes, 0) AS quality,
                   100.0 * m.productive_minutes / NULLIF(m.loaded_minutes, 0) AS oee,
                   100.0 * (m.loaded_minutes - m.availability_minutes) / NULLIF(m.available_minutes, 0) AS utilisation
              FROM minutes m
            )
        """)

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        wanted = set(fields)
        requested = {name for name in OEE_RATIOS if any(f.split(":")[0] == name for f in wanted)}
        if requested:
            fields = [f for f in fields if f.split(":")[0] not in OEE_RATIOS]
            fields += [f"{name}:sum" for name in OEE_MINUTES if not any(f.split(":")[0] == name for f in fields)]
        groups = super().read_group(domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy)
        return _add_ratios(groups) if requested else groups

    @api.model
    def compute_oee(self, workcenter_ids, date_from, date_to):
        """OEE of each workcenter over [date_from, date_to] (dates, inclusive),
        as a list of dicts; the same numbers the pivot shows for that filter."""
        require_groups(self.env, [USER_GROUP], "read the OEE report")
        domain = [("workcenter_id", "in", list(workcenter_ids)), ("date", ">=", date_from), ("date", "<=", date_to)]
        groups = self.read_group(domain, list(OEE_MINUTES) + list(OEE_RATIOS), ["workcenter_id"], lazy=False)
        result = []
        for group in groups:
            row = {"workcenter_id": group["workcenter_id"][0]}
            row.update({name: group[name] or 0.0 for name in OEE_MINUTES + OEE_RATIOS})
            result.append(row)
        return result


class ShopfloorDowntimeReport(models.Model):
    _name = "shopfloor.downtime.report"
    _description = "Downtime by reason (Pareto) from time logs"
    _auto = False
    _order = "duration desc"
    _rec_name = "loss_id"

    productivity_id = fields.Many2one("mrp.workcenter.productivity", "Time Log", readonly=True)
    date_start = fields.Datetime(readonly=True)
    date = fields.Date(readonly=True)
    workcenter_id = fields.Many2one("mrp.workcenter", "Work Center", readonly=True)
    company_id = fields.Many2one("res.company", readonly=True)
    loss_id = fields.Many2one("mrp.workcenter.productivity.loss", "Reason", readonly=True)
    loss_type = fields.Selection(
        [("availability", "Availability"), ("performance", "Performance"), ("quality", "Quality")],
        "Category",
        readonly=True,
    )
    production_id = fields.Many2one("mrp.production", "Manufacturing Order", readonly=True)
    workorder_id = fields.Many2one("mrp.workorder", "Work Order", readonly=True)
    duration = fields.Float("Minutes", readonly=True)
    occurrences = fields.Integer(readonly=True)
    share_pct = fields.Float("Share %", readonly=True, aggregator="avg")
    cumulative_pct = fields.Float("Cumulative %", readonly=True, aggregator="avg")

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        self.env.cr.execute(f"""
            CREATE VIEW {self._table} AS (
            SELECT p.id, p.id AS productivity_id, p.date_start, p.date_start::date AS date,
                   p.workcenter_id, p.company_id, p.loss_id, p.loss_type, wo.production_id, p.workorder_id,
                   p.duration, 1 AS occurrences, 0.0 AS share_pct, 0.0 AS cumulative_pct
              FROM mrp_workcenter_productivity p
              LEFT JOIN mrp_workorder wo ON wo.id = p.workorder_id
             WHERE p.date_end IS NOT NULL AND p.loss_type != 'productive'
            )
        """)

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        groupby_list = [groupby] if isinstance(groupby, str) else list(groupby or [])
        pareto = groupby_list and groupby_list[0].split(":")[0] == "loss_id"
        fields = [f for f in fields if f.split(":")[0] not in ("share_pct", "cumulative_pct")]
        if pareto and "duration:sum" not in fields and "duration" not in fields:
            fields.append("duration:sum")
        groups = super().read_group(domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy)
        if pareto:
            groups = pareto_order(groups)
        return groups

    @api.model
    def compute_pareto(self, domain):
        """Downtime reasons for ``domain``, longest first, with share and
        cumulative share in percent: the Pareto table as a list of dicts."""
        require_groups(self.env, [USER_GROUP], "read the downtime report")
        groups = self.read_group(domain, ["duration:sum", "occurrences:sum"], ["loss_id"], lazy=False)
        return [
            {
                "loss_id": group["loss_id"][0],
                "minutes": group["duration"],
                "occurrences": group["occurrences"],
                "share_pct": group["share_pct"],
                "cumulative_pct": group["cumulative_pct"],
            }
            for group in groups
        ]


def pareto_order(groups):
    """Sort groups by minutes, longest first, and add share and cumulative share."""
    groups = sorted(groups, key=lambda group: -(group.get("duration") or 0.0))
    total = sum(group.get("duration") or 0.0 for group in groups)
    running = 0.0
    for group in groups:
        running += group.get("duration") or 0.0
        group["share_pct"] = _ratio(group.get("duration") or 0.0, total)
        group["cumulative_pct"] = _ratio(running, total)
    return groups
