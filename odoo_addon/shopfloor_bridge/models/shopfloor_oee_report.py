"""Workcenter OEE and downtime Pareto, read straight from the time logs.

Both reports are SQL views over ``mrp.workcenter.productivity`` (the time logs
the event handlers write and a user can open). Ratios cannot be summed, so
``read_group`` recomputes them from the summed minutes of each group: a pivot
cell for "Press 01, November" shows the OEE of all its minutes, not an average
of daily percentages. Formulas: readme/USAGE.md (Real-time cost).

Beside Odoo's time-based figures, the OEE report has standard OEE (ISO 22400-2,
Nakajima): availability = run time / planned production time, performance =
ideal cycle time x total count / run time, quality = good count / total count,
with the six big losses, from the time logs, the working calendar and the
counts of the applied floor events (readme/USAGE.md, Standard OEE).
"""

import json
from datetime import UTC, date, datetime, time, timedelta

from odoo import api, fields, models, tools
from odoo.tools import split_every

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


STANDARD_RATIOS = ("std_availability", "std_performance", "std_quality", "std_oee")
STANDARD_SUMS = ("planned_minutes", "run_minutes", "ideal_minutes", "good_count", "total_count")
STANDARD_FIGURES = (
    *STANDARD_SUMS,
    "working_minutes",
    "planned_stop_minutes",
    "breakdown_minutes",
    "setup_minutes",
    "idle_minutes",
    "small_stop_minutes",
    "reduced_speed_minutes",
    "startup_reject_count",
    "production_reject_count",
    "flag_count",
)
# Event types whose applied counts make standard OEE's total and good counts
# (a production.corrected counts its signed qty as good, its signed qty_scrap as scrap;
# a scrap.reversed takes the quantity it returned off the scrap).
COUNT_EVENT_TYPES = (
    "production.reported",
    "workorder.completed",
    "scrap.reported",
    "production.corrected",
    "scrap.reversed",
)
# A time log ``p`` with its loss ``l`` in one standard-OEE class: its reason's, else by Odoo's category.
OEE_CLASS_SQL = """CASE WHEN l.shopfloor_oee_loss = 'planned_stop' THEN 'planned_stop'
                            WHEN l.shopfloor_oee_loss = 'setup' OR p.shopfloor_kind IN ('setup', 'teardown')
                            THEN 'setup'
                            WHEN l.shopfloor_oee_loss IS NOT NULL THEN l.shopfloor_oee_loss
                            WHEN p.loss_type = 'availability' THEN 'breakdown'
                            ELSE 'run' END"""
# SQL shared by the report's view and the live view's shift counts, over an applied
# event ``e`` of COUNT_EVENT_TYPES and its order ``mo``. Counts of applied events, in the
# order's unit; a scrap counts when it scrapped the order's own product (as the
# stock.scrap it made says); a reversal of such a scrap takes what its return move
# brought back off it.
COUNT_GOOD_IN_SQL = """CASE WHEN e.type IN ('scrap.reported', 'scrap.reversed') THEN 0
                            WHEN e.type = 'production.corrected'
                            THEN CASE WHEN jsonb_typeof(e.data_json::jsonb -> 'qty') = 'number'
                                      THEN (e.data_json::jsonb ->> 'qty')::float ELSE 0 END
                            WHEN jsonb_typeof(e.data_json::jsonb -> 'qty_good') = 'number'
                            THEN (e.data_json::jsonb ->> 'qty_good')::float ELSE 0 END"""
COUNT_SCRAP_IN_SQL = """CASE WHEN e.type = 'scrap.reported' THEN s.scrap_qty
                            WHEN e.type = 'scrap.reversed' THEN -COALESCE(r.product_uom_qty, 0)
                            WHEN jsonb_typeof(e.data_json::jsonb -> 'qty_scrap') = 'number'
                            THEN (e.data_json::jsonb ->> 'qty_scrap')::float ELSE 0 END"""
COUNT_JOINS_SQL = """JOIN mrp_production mo ON mo.id = e.production_id
                  LEFT JOIN stock_scrap s ON e.type IN ('scrap.reported', 'scrap.reversed')
                        AND s.id = substring(e.result_refs FROM 'stock\\.scrap,([0-9]+)')::int
                  LEFT JOIN stock_move r ON e.type = 'scrap.reversed'
                        AND r.id = substring(e.result_refs FROM 'stock\\.move,([0-9]+)')::int"""
COUNT_FILTER_SQL = """e.state = 'applied'
                   AND e.type IN ({types})
                   AND (e.type NOT IN ('scrap.reported', 'scrap.reversed') OR s.product_id = mo.product_id)""".format(
    types=", ".join(f"'{type_}'" for type_ in COUNT_EVENT_TYPES)
)
# Where the time a count row ``c`` of ``count_event`` covers begins: the order's previous
# count at the work center, or, for its first, when the order started there (its first
# applied workorder.started up to the count; asked only then, through the production index).
COUNT_FROM_SQL = """COALESCE(LAG(c.time) OVER (PARTITION BY c.production_id, c.workcenter_id ORDER BY c.time, c.id),
                                (SELECT MIN(s.time) FROM shopfloor_event s
                                  WHERE s.state = 'applied' AND s.type = 'workorder.started'
                                    AND s.production_id = c.production_id AND s.workcenter_id = c.workcenter_id
                                    AND s.time <= c.time))"""
# A counted row ``c`` (production_id, workcenter_id, workorder_id) of an order ``mo`` at a
# work center ``wc``: minutes per unit at ideal speed (the work center's override for the
# product, else the operation's cycle over the work center's capacity), NULL when unknown.
IDEAL_UNIT_MINUTES_SQL = """COALESCE(ic.ideal_cycle_time,
                                NULLIF(op.time_cycle_manual, 0)
                                    / NULLIF(COALESCE(cap.capacity, wc.default_capacity, 1), 0))"""
IDEAL_JOINS_SQL = """JOIN mrp_production mo ON mo.id = c.production_id
                  JOIN mrp_workcenter wc ON wc.id = c.workcenter_id
                  LEFT JOIN shopfloor_ideal_cycle ic ON ic.workcenter_id = c.workcenter_id
                                                    AND ic.product_id = mo.product_id
                  LEFT JOIN mrp_workcenter_capacity cap ON cap.workcenter_id = c.workcenter_id
                                                       AND cap.product_id = mo.product_id
                  LEFT JOIN LATERAL (
                      SELECT o.time_cycle_manual
                        FROM mrp_workorder wo
                        JOIN mrp_routing_workcenter o ON o.id = wo.operation_id
                       WHERE wo.production_id = c.production_id
                         AND (wo.id = c.workorder_id OR (c.workorder_id IS NULL AND wo.workcenter_id = c.workcenter_id))
                       ORDER BY wo.id LIMIT 1
                  ) op ON TRUE"""


def _ratio(numerator, denominator):
    return 100.0 * numerator / denominator if denominator else 0.0


def standard_ratios(planned, run, ideal, good, total):
    """ISO 22400-2 availability, performance, quality and OEE, in percent;
    None where the denominator is zero (no planned time, no run, no count)."""
    availability = 100.0 * run / planned if planned else None
    performance = 100.0 * ideal / run if run else None
    quality = 100.0 * good / total if total else None
    parts = (availability, performance, quality)
    oee = None if None in parts else availability * performance * quality / 1e4
    return {"std_availability": availability, "std_performance": performance, "std_quality": quality, "std_oee": oee}


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
        if all(name in group for name in STANDARD_SUMS):
            group.update(standard_ratios(*(group[name] or 0.0 for name in STANDARD_SUMS)))
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


class ShopfloorOeeWorkingTime(models.Model):
    """Working minutes of each work center per UTC day, from Odoo's calendar.

    Odoo's own ``_work_intervals_batch`` (attendances minus the resource's and
    the calendar's leaves, in the resource's time zone) is Python, so the OEE
    view reads its result from this table. ``_refresh`` rebuilds it before the
    report is read, whenever the days with time logs or counts, or a calendar,
    attendance, leave or work center changed since the last build.
    """

    _name = "shopfloor.oee.working.time"
    _description = "Working time per work center and day (standard OEE)"
    _order = "date desc, workcenter_id"

    workcenter_id = fields.Many2one("mrp.workcenter", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one("res.company", readonly=True)
    date = fields.Date(required=True, help="UTC day.")
    minutes = fields.Float("Working time (min)")
    signature = fields.Char(help="What the table was built from; a different one rebuilds it.")

    _sql_constraints = [
        ("workcenter_date_uniq", "unique(workcenter_id, date)", "One working time per work center and day."),
    ]

    def _signature(self):
        cr = self.env.cr
        cr.execute(
            """SELECT LEAST(
                          (SELECT MIN(date_start)::date FROM mrp_workcenter_productivity),
                          (SELECT MIN(time)::date FROM shopfloor_event WHERE state = 'applied' AND type IN %(types)s)),
                      GREATEST(
                          (SELECT MAX(GREATEST(date_start, COALESCE(date_end, now() AT TIME ZONE 'UTC')))::date
                             FROM mrp_workcenter_productivity),
                          (SELECT MAX(time)::date FROM shopfloor_event WHERE state = 'applied' AND type IN %(types)s)),
                      concat_ws('|',
                          (SELECT MAX(write_date) || '/' || COUNT(*) FROM resource_calendar),
                          (SELECT MAX(write_date) || '/' || COUNT(*) FROM resource_calendar_attendance),
                          (SELECT MAX(write_date) || '/' || COUNT(*) FROM resource_calendar_leaves),
                          (SELECT MAX(write_date) || '/' || COUNT(*) FROM resource_resource),
                          (SELECT MAX(write_date) || '/' || COUNT(*) FROM mrp_workcenter))""",
            {"types": COUNT_EVENT_TYPES},
        )
        first, last, stamps = cr.fetchone()
        return first, last, f"{first}|{last}|{stamps}"

    @api.model
    def _refresh(self):
        self.env.flush_all()
        first, last, signature = self._signature()
        cr = self.env.cr
        cr.execute(f"SELECT signature FROM {self._table} LIMIT 1")  # noqa: S608
        stored = cr.fetchone()
        if (stored[0] if stored else None) == signature or (not stored and not first):
            return
        rows = self._working_minutes(first, last) if first else []
        # In place, so that a row keeps its id while its day stays in the span.
        cr.execute(
            f"""DELETE FROM {self._table} t
                 WHERE NOT (t.date BETWEEN %s AND %s)
                    OR t.workcenter_id NOT IN (SELECT id FROM mrp_workcenter)""",  # noqa: S608
            (first or date.min, last or date.min),
        )
        for chunk in split_every(1000, rows):
            cr.execute(
                f"""INSERT INTO {self._table} (workcenter_id, company_id, date, minutes, signature,
                                               create_uid, create_date, write_uid, write_date)
                    SELECT r.workcenter_id, r.company_id, r.date, r.minutes, %s, %s, now() at time zone 'UTC',
                           %s, now() at time zone 'UTC'
                      FROM jsonb_to_recordset(%s::jsonb)
                           AS r(workcenter_id int, company_id int, date date, minutes float)
                    ON CONFLICT (workcenter_id, date) DO UPDATE
                       SET minutes = EXCLUDED.minutes, company_id = EXCLUDED.company_id,
                           signature = EXCLUDED.signature, write_date = EXCLUDED.write_date""",  # noqa: S608
                (signature, self.env.uid, self.env.uid, json.dumps(chunk, default=str)),
            )
        cr.execute(f"UPDATE {self._table} SET signature = %s", (signature,))  # noqa: S608
        self.invalidate_model()

    def _working_minutes(self, first, last):
        start = datetime.combine(first, time.min, tzinfo=UTC)
        end = datetime.combine(last + timedelta(days=1), time.min, tzinfo=UTC)
        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        workcenters = self.env["mrp.workcenter"].sudo().with_context(active_test=False).search([])
        rows = []
        for calendar in workcenters.resource_calendar_id | self.env["resource.calendar"]:
            members = workcenters.filtered(lambda wc, cal=calendar: wc.resource_calendar_id == cal)
            minutes = {(wc.id, day): 0.0 for wc in members for day in days}
            if calendar:
                intervals = calendar._work_intervals_batch(start, end, resources=members.resource_id)
                for wc in members:
                    for begin, stop, _attendance in intervals[wc.resource_id.id]:
                        _add_by_utc_day(minutes, wc.id, begin, stop)
            else:  # Odoo plans a work center without a calendar round the clock
                minutes = dict.fromkeys(minutes, 1440.0)
            rows += [
                {
                    "workcenter_id": wc.id,
                    "company_id": wc.company_id.id or None,
                    "date": day,
                    "minutes": minutes[wc.id, day],
                }
                for wc in members
                for day in days
            ]
        return rows


def _add_by_utc_day(minutes, workcenter_id, begin, stop):
    begin, stop = begin.astimezone(UTC), stop.astimezone(UTC)
    while begin < stop:
        midnight = datetime.combine(begin.date() + timedelta(days=1), time.min, tzinfo=UTC)
        piece_end = min(stop, midnight)
        key = (workcenter_id, begin.date())
        if key in minutes:
            minutes[key] += (piece_end - begin).total_seconds() / 60.0
        begin = piece_end


class ShopfloorOeeReport(models.Model):
    _name = "shopfloor.oee.report"
    _description = "Workcenter OEE per day (from time logs)"
    _auto = False
    _order = "date desc, workcenter_id"
    _rec_name = "workcenter_id"

    date = fields.Date(readonly=True, help="UTC day; a time log across midnight counts on each day its share.")
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
    availability = fields.Float(
        "Availability % (Odoo, time logs)",
        readonly=True,
        aggregator="avg",
        help="Odoo's time-based cascade: logged minutes less availability losses over logged minutes.",
    )
    performance = fields.Float("Performance % (Odoo, time logs)", readonly=True, aggregator="avg")
    quality = fields.Float("Quality % (Odoo, time logs)", readonly=True, aggregator="avg")
    oee = fields.Float(
        "Odoo OEE %",
        readonly=True,
        aggregator="avg",
        help="Odoo's own time-based OEE (as mrp.workcenter.oee): productive minutes over logged minutes.",
    )
    utilisation = fields.Float("Utilisation %", readonly=True, aggregator="avg")
    # Standard OEE (ISO 22400-2): time in minutes, counts in the product's unit.
    working_minutes = fields.Float(
        "Working Time (min)", readonly=True, help="Odoo's working calendar that day: attendances minus leaves."
    )
    planned_stop_minutes = fields.Float(
        "Planned Stops (min)", readonly=True, help="Time logs whose reason is a planned stop."
    )
    planned_minutes = fields.Float(
        "Planned Production Time (min)", readonly=True, help="Working time less planned stops."
    )
    run_minutes = fields.Float(
        "Run Time (min)",
        readonly=True,
        help="Time logged running (productive, reduced speed, quality and small stops), overlaps counted once.",
    )
    ideal_minutes = fields.Float(
        "Ideal Time of Counted Units (min)", readonly=True, help="Ideal cycle time x total count, unit by unit."
    )
    total_count = fields.Float(readonly=True, help="Units counted, good and scrap (ISO 22400: produced quantity).")
    good_count = fields.Float(readonly=True, help="Good units counted (ISO 22400: good quantity).")
    breakdown_minutes = fields.Float("Breakdowns (min)", readonly=True)
    setup_minutes = fields.Float("Setup and Adjustments (min)", readonly=True)
    idle_minutes = fields.Float(
        "Unlogged Stops (min)", readonly=True, help="Planned production time neither run nor logged as a stop."
    )
    small_stop_minutes = fields.Float("Small Stops (min)", readonly=True)
    reduced_speed_minutes = fields.Float(
        "Reduced Speed (min)", readonly=True, help="Run time less ideal time less small stops."
    )
    startup_reject_count = fields.Float(
        "Startup Rejects", readonly=True, help="Scrap of an order on this work center before its first good unit."
    )
    production_reject_count = fields.Float("Production Rejects", readonly=True)
    std_availability = fields.Float(
        "Availability % (ISO 22400)", readonly=True, aggregator="avg", help="Run time / planned production time."
    )
    std_performance = fields.Float(
        "Performance % (ISO 22400)", readonly=True, aggregator="avg", help="Ideal cycle time x total count / run time."
    )
    std_quality = fields.Float(
        "Quality % (ISO 22400)", readonly=True, aggregator="avg", help="Good count / total count."
    )
    std_oee = fields.Float(
        "OEE % (ISO 22400)", readonly=True, aggregator="avg", help="Availability x performance x quality."
    )
    flag = fields.Char(
        readonly=True, help="Why a figure is above 100 % or cannot be trusted: the data contradicts itself."
    )
    flag_count = fields.Integer("Flagged Days", readonly=True)

    def init(self):
        tools.drop_view_if_exists(self.env.cr, self._table)
        # The view's text is this module's constants only (the SQL it shares with the live view).
        self.env.cr.execute(  # pylint: disable=sql-injection
            f"""
            CREATE VIEW {self._table} AS (
            WITH pieces AS (
                -- Each time log cut at UTC midnight: a day owns the minutes logged in it
                -- (a shift across midnight counts on both days, like its counts). A log
                -- still open runs until now in the run time, as in the live view, now on
                -- the clock of the event that opened it (skew_ms = observed − source time):
                -- a source clock running ahead stamps its counts ahead as well. A positive
                -- skew moves nothing: an event delivered late (an edge buffer after an
                -- outage, a backfill) says nothing of its clock, and taking its lateness
                -- off now cut the run short while its counts kept coming. Odoo
                -- gives it no duration yet, so its own figures wait for the end. A piece's
                -- duration is its share of Odoo's: exact for productive and performance
                -- losses (their duration is the span), pro rata for the others, whose
                -- duration Odoo counts in the calendar's working hours only.
                SELECT p.workcenter_id, p.company_id, p.loss_id, p.loss_type, p.shopfloor_kind,
                       p.date_end IS NOT NULL AS closed, d::date AS day, b.date_start, b.date_end,
                       CASE WHEN p.date_end IS NULL AND p.loss_type IN ('productive', 'performance')
                            THEN EXTRACT(EPOCH FROM b.date_end - b.date_start) / 60.0
                            -- Odoo counts other losses in the calendar's working hours, known at the end
                            WHEN p.date_end IS NULL THEN 0
                            WHEN p.date_end > p.date_start
                            THEN p.duration * EXTRACT(EPOCH FROM b.date_end - b.date_start)
                                 / EXTRACT(EPOCH FROM p.date_end - p.date_start)
                            ELSE p.duration END AS duration
                  FROM mrp_workcenter_productivity p
                  LEFT JOIN shopfloor_event o ON p.date_end IS NULL AND o.id = p.shopfloor_event_id
                 CROSS JOIN LATERAL (SELECT COALESCE(p.date_end, now() AT TIME ZONE 'UTC'
                                                     - LEAST(COALESCE(o.skew_ms, 0), 0) * interval '1 millisecond')
                                                 AS until) k
                 CROSS JOIN LATERAL generate_series(date_trunc('day', p.date_start),
                                                    GREATEST(p.date_start, k.until),
                                                    interval '1 day') d
                 -- the piece of the log in that day
                 CROSS JOIN LATERAL (SELECT GREATEST(p.date_start, d) AS date_start,
                                            LEAST(k.until, d + interval '1 day') AS date_end) b
                 -- the day it starts, then each day it runs into past midnight
                 WHERE d = date_trunc('day', p.date_start) OR d < k.until
            ), logs AS (
                SELECT p.workcenter_id, p.company_id, p.day,
                       SUM(CASE WHEN p.loss_type = 'productive' THEN p.duration ELSE 0 END) AS productive,
                       SUM(CASE WHEN p.loss_type = 'performance' THEN p.duration ELSE 0 END) AS performance,
                       SUM(CASE WHEN p.loss_type = 'quality' THEN p.duration ELSE 0 END) AS quality,
                       SUM(CASE WHEN p.loss_type = 'availability' THEN p.duration ELSE 0 END) AS availability
                  FROM pieces p
                 WHERE p.closed
                 GROUP BY p.workcenter_id, p.company_id, p.day
            ), classed AS (
                -- Each piece in one standard-OEE class: its reason's, else by Odoo's category.
                SELECT p.workcenter_id, p.day, p.date_start, p.date_end, p.duration,
                       {OEE_CLASS_SQL} AS oee_class
                  FROM pieces p
                  JOIN mrp_workcenter_productivity_loss l ON l.id = p.loss_id
                 WHERE p.date_end > p.date_start
            ), class_ranges AS (
                SELECT workcenter_id, day,
                       SUM(CASE WHEN oee_class = 'planned_stop' THEN duration ELSE 0 END) AS planned_stop,
                       SUM(CASE WHEN oee_class = 'breakdown' THEN duration ELSE 0 END) AS breakdown,
                       SUM(CASE WHEN oee_class = 'setup' THEN duration ELSE 0 END) AS setup,
                       SUM(CASE WHEN oee_class = 'small_stop'
                                THEN EXTRACT(EPOCH FROM date_end - date_start) / 60.0 ELSE 0 END) AS small_stop,
                       SUM(EXTRACT(EPOCH FROM date_end - date_start) / 60.0) AS logged_span,
                       range_agg(tsrange(date_start, date_end)) AS all_ranges,
                       range_agg(tsrange(date_start, date_end))
                           FILTER (WHERE oee_class IN ('run', 'small_stop')) AS run_ranges
                  FROM classed
                 GROUP BY workcenter_id, day
            ), class_day AS (
                SELECT c.workcenter_id, c.day, c.planned_stop, c.breakdown, c.setup, c.small_stop,
                       c.logged_span
                           - (SELECT SUM(EXTRACT(EPOCH FROM upper(r) - lower(r)) / 60.0) FROM unnest(c.all_ranges) r)
                           AS overlap,
                       COALESCE((SELECT SUM(EXTRACT(EPOCH FROM upper(r) - lower(r)) / 60.0)
                                   FROM unnest(c.run_ranges) r), 0) AS run
                  FROM class_ranges c
            ), count_event AS (
                SELECT e.id, e.workcenter_id, e.production_id, e.workorder_id, e.time, e.type,
                       {COUNT_GOOD_IN_SQL} AS good_in,
                       {COUNT_SCRAP_IN_SQL} AS scrap_in
                  FROM shopfloor_event e
                  {COUNT_JOINS_SQL}
                 WHERE e.workcenter_id IS NOT NULL AND {COUNT_FILTER_SQL}
            ), count_sequence AS (
                SELECT c.*,
                       COALESCE(SUM(CASE WHEN c.type != 'workorder.completed' THEN c.good_in END) OVER earlier, 0)
                           AS good_before,
                       COALESCE(SUM(CASE WHEN c.type != 'workorder.completed' THEN c.scrap_in END) OVER earlier, 0)
                           AS scrap_before,
                       MIN(CASE WHEN c.good_in > 0 THEN c.time END)
                           OVER (PARTITION BY c.production_id, c.workcenter_id) AS first_good,
                       {COUNT_FROM_SQL} AS previous_time
                  FROM count_event c
                WINDOW earlier AS (PARTITION BY c.production_id, c.workcenter_id ORDER BY c.time, c.id
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
            ), counted AS (
                -- A completion carries the work order's totals: only what the reports
                -- before it did not count is added.
                SELECT c.workcenter_id, c.production_id, c.workorder_id, c.time,
                       CASE WHEN c.type = 'workorder.completed' THEN GREATEST(c.good_in - c.good_before, 0)
                            ELSE c.good_in END AS good,
                       CASE WHEN c.type = 'workorder.completed' THEN GREATEST(c.scrap_in - c.scrap_before, 0)
                            ELSE c.scrap_in END AS scrap,
                       c.first_good,
                       CASE WHEN c.type IN ('production.reported', 'workorder.completed')
                             AND c.previous_time::date < c.time::date THEN c.previous_time END AS split_from
                  FROM count_sequence c
            ), shared AS (
                -- A count covers the time since the order's previous count at the work
                -- center (the first one, since the order started there): when that time
                -- ran across midnight, each day takes its share.
                SELECT c.workcenter_id, c.production_id, c.workorder_id, c.time, c.first_good, d.day,
                       c.good * d.share AS good, c.scrap * d.share AS scrap
                  FROM counted c
                 CROSS JOIN LATERAL (
                       SELECT g::date AS day,
                              CASE WHEN c.split_from IS NULL THEN 1.0
                                   ELSE EXTRACT(EPOCH FROM LEAST(c.time, g + interval '1 day')
                                                           - GREATEST(c.split_from, g))
                                        / EXTRACT(EPOCH FROM c.time - c.split_from) END AS share
                         FROM generate_series(date_trunc('day', COALESCE(c.split_from, c.time)),
                                              date_trunc('day', c.time), interval '1 day') g
                       ) d
            ), ideal AS (
                SELECT c.*, {IDEAL_UNIT_MINUTES_SQL} AS unit_minutes
                  FROM shared c
                  {IDEAL_JOINS_SQL}
            ), count_day AS (
                SELECT workcenter_id, day,
                       SUM(good + scrap) AS total, SUM(good) AS good,
                       SUM(CASE WHEN first_good IS NULL OR time < first_good THEN scrap ELSE 0 END) AS startup_scrap,
                       SUM(scrap) AS scrap,
                       COALESCE(SUM((good + scrap) * unit_minutes), 0) AS ideal,
                       SUM(CASE WHEN unit_minutes IS NULL THEN good + scrap ELSE 0 END) AS without_ideal
                  FROM ideal
                 GROUP BY workcenter_id, day
            ), span AS (
                SELECT MIN(day) AS first_day, MAX(day) AS last_day
                  FROM (SELECT day FROM pieces UNION ALL SELECT day FROM count_day) days
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
                       AS available_minutes,
                   -- Odoo's calendar (shopfloor.oee.working.time, built before each read).
                   COALESCE(w.minutes, 0) AS working_minutes,
                   COALESCE(k.planned_stop, 0) AS planned_stop_minutes,
                   GREATEST(COALESCE(w.minutes, 0) - COALESCE(k.planned_stop, 0), 0) AS planned_minutes,
                   COALESCE(k.run, 0) AS run_minutes,
                   COALESCE(k.overlap, 0) AS overlap_minutes,
                   COALESCE(k.breakdown, 0) AS breakdown_minutes,
                   COALESCE(k.setup, 0) AS setup_minutes,
                   COALESCE(k.small_stop, 0) AS small_stop_minutes,
                   COALESCE(n.ideal, 0) AS ideal_minutes,
                   COALESCE(n.total, 0) AS total_count,
                   COALESCE(n.good, 0) AS good_count,
                   COALESCE(n.startup_scrap, 0) AS startup_reject_count,
                   COALESCE(n.scrap - n.startup_scrap, 0) AS production_reject_count,
                   COALESCE(n.without_ideal, 0) AS without_ideal
              FROM grid g
              LEFT JOIN logs l ON l.workcenter_id = g.workcenter_id AND l.day = g.day
              LEFT JOIN class_day k ON k.workcenter_id = g.workcenter_id AND k.day = g.day
              LEFT JOIN count_day n ON n.workcenter_id = g.workcenter_id AND n.day = g.day
              LEFT JOIN shopfloor_oee_working_time w ON w.workcenter_id = g.workcenter_id AND w.date = g.day
              LEFT JOIN calendar_day c ON c.calendar_id = g.resource_calendar_id
                                      AND c.weekday = EXTRACT(ISODOW FROM g.day)::int - 1
             WHERE l.workcenter_id IS NOT NULL OR k.workcenter_id IS NOT NULL OR n.workcenter_id IS NOT NULL
                OR g.resource_calendar_id IS NULL OR COALESCE(c.minutes, 0) > 0
            ), checked AS (
            SELECT m.*,
                   -- What makes a figure pass 100 % (or unknowable): the data contradicts itself.
                   NULLIF(concat_ws('; ',
                       CASE WHEN m.overlap_minutes > 0.01 THEN format(
                           'Overlapping time logs: %s min logged twice, counted once in run time',
                           round(m.overlap_minutes::numeric, 1)) END,
                       CASE WHEN m.run_minutes > m.planned_minutes + 0.01 THEN format(
                           'Run time (%s min) beyond planned production time (%s min): '
                           'time logs outside the working calendar or during planned stops',
                           round(m.run_minutes::numeric, 1), round(m.planned_minutes::numeric, 1)) END,
                       CASE WHEN m.ideal_minutes > m.run_minutes + 0.01 THEN format(
                           'Counts faster than the ideal cycle time allows: %s units need %s min, run time is %s min',
                           round(m.total_count::numeric, 3), round(m.ideal_minutes::numeric, 1),
                           round(m.run_minutes::numeric, 1)) END,
                       CASE WHEN m.without_ideal > 0 THEN format(
                           '%s units without an ideal cycle time (routing or work center): performance too low',
                           round(m.without_ideal::numeric, 3)) END
                   ), '') AS flag
              FROM minutes m
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
                   100.0 * (m.loaded_minutes - m.availability_minutes) / NULLIF(m.available_minutes, 0) AS utilisation,
                   m.working_minutes, m.planned_stop_minutes, m.planned_minutes, m.run_minutes, m.ideal_minutes,
                   m.total_count, m.good_count, m.breakdown_minutes, m.setup_minutes,
                   GREATEST(m.planned_minutes - m.run_minutes - m.breakdown_minutes - m.setup_minutes, 0)
                       AS idle_minutes,
                   m.small_stop_minutes,
                   GREATEST(m.run_minutes - m.ideal_minutes - m.small_stop_minutes, 0) AS reduced_speed_minutes,
                   m.startup_reject_count, m.production_reject_count,
                   -- Same as standard_ratios() in Python, for ungrouped rows.
                   100.0 * m.run_minutes / NULLIF(m.planned_minutes, 0) AS std_availability,
                   100.0 * m.ideal_minutes / NULLIF(m.run_minutes, 0) AS std_performance,
                   100.0 * m.good_count / NULLIF(m.total_count, 0) AS std_quality,
                   100.0 * (m.run_minutes / NULLIF(m.planned_minutes, 0))
                       * (m.ideal_minutes / NULLIF(m.run_minutes, 0))
                       * (m.good_count / NULLIF(m.total_count, 0)) AS std_oee,
                   m.flag, CASE WHEN m.flag IS NULL THEN 0 ELSE 1 END AS flag_count
              FROM checked m
            )
        """
        )

    @api.model
    def _search(self, domain, offset=0, limit=None, order=None):
        # Every read of the report (list, pivot, graph, compute_*) searches first.
        self.env["shopfloor.oee.working.time"]._refresh()
        return super()._search(domain, offset=offset, limit=limit, order=order)

    @api.model
    def read_group(self, domain, fields, groupby, offset=0, limit=None, orderby=False, lazy=True):
        wanted = set(fields)
        requested = {name for name in OEE_RATIOS if any(f.split(":")[0] == name for f in wanted)}
        standard = {name for name in STANDARD_RATIOS if any(f.split(":")[0] == name for f in wanted)}
        if requested or standard:
            fields = [f for f in fields if f.split(":")[0] not in OEE_RATIOS + STANDARD_RATIOS]
        if requested:
            fields += [f"{name}:sum" for name in OEE_MINUTES if not any(f.split(":")[0] == name for f in fields)]
        if standard:
            fields += [f"{name}:sum" for name in STANDARD_SUMS if not any(f.split(":")[0] == name for f in fields)]
        groups = super().read_group(domain, fields, groupby, offset=offset, limit=limit, orderby=orderby, lazy=lazy)
        return _add_ratios(groups) if requested or standard else groups

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

    @api.model
    def compute_standard_oee(self, workcenter_ids, date_from, date_to):
        """Standard OEE (ISO 22400-2) and the six big losses of each workcenter
        over [date_from, date_to] (dates, inclusive), with the flags of its days."""
        require_groups(self.env, [USER_GROUP], "read the OEE report")
        domain = [("workcenter_id", "in", list(workcenter_ids)), ("date", ">=", date_from), ("date", "<=", date_to)]
        groups = self.read_group(domain, [f"{name}:sum" for name in STANDARD_FIGURES], ["workcenter_id"], lazy=False)
        flags = {}
        for row in self.search_read(domain + [("flag", "!=", False)], ["workcenter_id", "date", "flag"], order="date"):
            flags.setdefault(row["workcenter_id"][0], []).append(f"{row['date']}: {row['flag']}")
        result = []
        for group in groups:
            workcenter_id = group["workcenter_id"][0]
            row = {"workcenter_id": workcenter_id, "flags": flags.get(workcenter_id, [])}
            row.update({name: group[name] or 0.0 for name in STANDARD_FIGURES})
            row.update(standard_ratios(*(row[name] for name in STANDARD_SUMS)))
            result.append(row)
        return result

    def _drill_domain(self):
        self.ensure_one()
        start = datetime.combine(self.date, time.min)
        return start, start + timedelta(days=1)

    def action_open_time_logs(self):
        """The time logs behind this row's minutes."""
        start, end = self._drill_domain()
        action = self.env["ir.actions.act_window"]._for_xml_id("mrp.mrp_workcenter_productivity_report")
        # Every log with minutes in the day: those that run into it from the day before,
        # and the one still open.
        action["domain"] = [
            ("workcenter_id", "=", self.workcenter_id.id),
            ("date_start", "<", end),
            "|",
            "|",
            ("date_end", "=", False),
            ("date_end", ">", start),
            ("date_start", ">=", start),
        ]
        action["context"] = {}
        action["view_mode"] = "list,form"
        action["views"] = [(False, "list"), (False, "form")]
        return action

    def action_open_count_events(self):
        """The applied floor events behind this row's counts."""
        start, end = self._drill_domain()
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_event_action")
        action["domain"] = [
            ("workcenter_id", "=", self.workcenter_id.id),
            ("state", "=", "applied"),
            ("type", "in", list(COUNT_EVENT_TYPES)),
            ("time", ">=", start),
            ("time", "<", end),
        ]
        action["context"] = {}
        return action


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
