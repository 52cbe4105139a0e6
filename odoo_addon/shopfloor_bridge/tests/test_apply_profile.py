"""Where apply spends its time, per event type: a profiler, not a test.

Tagged out of the normal suite (``-standard``); run it on its own:

    SFB_ODOO_TEST_TAGS=shopfloor_profile/shopfloor_bridge npm run test:odoo

It stores and applies, through ``ingest`` in batches as the sidecar sends
them, (1) the ingest bench's realistic mix (four streams: starts, counts,
quality checks, a material booking, a scrap, a material stop and a pause per
twenty events) and (2) a day using every one of the sixteen event types,
and logs (``shopfloor_bridge.profile`` lines in the Odoo log):
- per batch mix: ms, SQL queries and kB of PostgreSQL WAL per event of the whole ingest call;
- per event type: ms, Odoo CPU ms and SQL queries per event inside its
  handler (what the batch does for several events at once, such as Odoo's
  stock cascade at the synchronisation points, the scraps it makes and
  validates together and the flush of a group of events, is counted in the
  call, not in the event that deferred it);
- per phase of the call (storing, the handlers, the group flushes, Odoo's
  producing cascade, the scraps' validation, the outcomes, the history, each
  post-apply hook): ms per call, ms and Odoo CPU ms per event, each phase
  without the phases inside it. Run at two batch sizes (``SFB_PROFILE_BATCH``,
  default 500), it tells what a call costs whatever its size from what each
  event costs;
- the runs of Python's garbage collector per generation, and their ms per event
  (a full collection's pause lands on whichever phase allocated at that moment);
- cProfile's top functions by cumulative time for the realistic mix.
The batches are sent by the connection's integration user, as the sidecar sends
them (``SFB_PROFILE_AS=superuser``: by the test's superuser). Before the realistic
mix, it logs Odoo's own floor for it (``odoo_floor``): the Odoo records the mix
leaves, made by Odoo's batch calls without the bridge, then rolled back.
Tagged ``shopfloor_profile_rpc``, ``TestApplyProfileRpc`` sends the same realistic mix
over JSON-RPC (``execute_kw`` with the integration user's API key), to tell what the
HTTP path adds.
``SFB_PROFILE_EVENTS`` sets the size of each mix (default 2000); ``SFB_PROFILE_CPROFILE=0``
leaves cProfile (and its overhead on the CPU figures) out; ``SFB_PROFILE_PHASE`` (a phase's
name as the phase table prints it, e.g. ``outcomes``) runs cProfile inside that phase alone;
``SFB_PROFILE_FOCUS`` (a regular expression over function names) adds the callees of those
functions, ``SFB_PROFILE_CALLERS`` their callers; ``SFB_PROFILE_FILTER`` (a regular expression
over file paths and names) lists only the matching functions; ``SFB_PROFILE_SORT=tottime``
lists the functions by their own time instead of their cumulative time, and the statements by
the time they took;
``SFB_PROFILE_SQL=N`` lists the N statements run most often (their text with numbers and
placeholder lists folded), with their count per 1,000 events and the time they took;
``SFB_PROFILE_SQL_FROM`` (a regular expression over statements) adds, under each listed
statement it matches, the code paths that ran it: the last frames outside the ORM, the
cursor and this profiler, innermost last.
"""

import contextlib
import cProfile
import gc
import io
import logging
import os
import pstats
import re
import traceback
from collections import defaultdict
from contextlib import contextmanager
from datetime import datetime, timedelta
from time import perf_counter, process_time
from unittest.mock import patch

from odoo.tests import HttpCase, new_test_user, tagged

from .. import handlers
from .common import ShopfloorCase

_logger = logging.getLogger("odoo.addons.shopfloor_bridge.profile")

BATCH = int(os.environ.get("SFB_PROFILE_BATCH", "500"))
# The phase of the ingest call that is not one of the phases inside it (``per_phase``).
CALL_PHASE = "call (the rest)"
# How SFB_PROFILE_SQL folds statements: numbers, and lists of placeholders or numbers.
SQL_NUMBERS = re.compile(r"\b\d+\b")
SQL_LISTS = re.compile(r"\((?:\s*(?:%s|\d+)\s*,)+\s*(?:%s|\d+)\s*\)")
# The frames SFB_PROFILE_SQL_FROM leaves out of a path: the ORM's machinery, the cursor, this file.
SQL_FROM_SKIPPED = re.compile(
    r"/odoo/(orm/|models\.py|fields\.py|api\.py|sql_db\.py|tools/)|/contextlib\.py|/unittest/|test_apply_profile\.py"
)
SQL_FROM_DEPTH = 4
INTEGRATION = "shopfloor_bridge.shopfloor_bridge_group_integration"
# Per line: (source, operation, material code, qty, unit) of its press and its assembly.
LINE_STREAMS = (
    (
        ("plant1/line1/press-01", "Cutting", "STEEL-2MM", 0.4, "KG"),
        ("plant1/line1/assembly-01", "Assembly", "M8", 4, "PCS"),
    ),
    (
        ("plant1/line2/press-02", "Cutting", "STEEL-2MM", 0.4, "KG"),
        ("plant1/line2/assembly-02", "Assembly", "M8", 4, "PCS"),
    ),
)


@tagged("-standard", "post_install", "-at_install", "shopfloor_profile")
class TestApplyProfile(ShopfloorCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        size = int(os.environ.get("SFB_PROFILE_EVENTS", "2000"))
        cls.size = size
        # Line 2 makes its own product, so that each work center runs one order at a time (as the bench's plant).
        hinge = cls.env["product.product"].create({"name": "Hinge", "default_code": "FG-HINGE", "is_storable": True})
        cls.bom_line2 = cls.bom.copy({"product_tmpl_id": hinge.product_tmpl_id.id})
        for operation in cls.bom_line2.operation_ids:
            operation.workcenter_id = cls.wc_press2 if operation.name == "Cutting" else cls.wc_assembly2
        cls.big_mos = [cls._make_line_mo(bom) for bom in (cls.bom, cls.bom_line2, cls.bom, cls.bom_line2)]
        cls.env["shopfloor.reason.map"].create(
            {"connection_id": cls.connection.id, "code": "DEFECT", "loss_id": cls.loss_material.id}
        )
        # Who sends the batches: the connection's integration user, as the sidecar does;
        # SFB_PROFILE_AS=superuser sends them as the test's superuser instead.
        if os.environ.get("SFB_PROFILE_AS") == "superuser":
            cls.sender = cls.env.user
        else:
            cls.sender = new_test_user(cls.env, "sf-profile-sidecar", groups=INTEGRATION)
            cls.connection.integration_user_ids = [(4, cls.sender.id)]

    @classmethod
    def _make_line_mo(cls, bom):
        production = cls.env["mrp.production"].create(
            {"product_id": bom.product_tmpl_id.product_variant_ids[:1].id, "bom_id": bom.id, "product_qty": 20000}
        )
        production.action_confirm()
        production.action_assign()
        return production

    # ------------------------------------------------------------------ the mixes

    def realistic_stream(self, production, stream, count, tag, second):
        """The ingest bench's line day (its ``eventsOf``), in this plant."""
        source, operation, material, qty, unit = stream
        order = production.name
        base = {"order": order, "operation": operation}
        events = []
        clock = [second]

        def make(type_, data):
            clock[0] += 7
            events.append(self.make_event(type_, data, source=source, time=self.at(seconds=clock[0])))

        make("workorder.started", base)
        cycle, stop = 0, ""
        while len(events) < count:
            cycle += 1
            step = cycle % 20
            if step in (3, 13):
                make("quality.result", {**base, "characteristic": "thickness", "pass": True, "value": 1.01})
            elif step == 5:
                make("material.consumed", {**base, "material": material, "qty": qty, "uom": unit})
            elif step == 8:
                make("scrap.reported", {**base, "qty": 1, "reason_code": "DEFECT"})
            elif step == 10:
                stop = f"{tag}-{source}-dt-{cycle}"
                make("downtime.started", {"reason_code": "MAT", "downtime_id": stop})
            elif step == 11:
                make("downtime.ended", {"reason_code": "MAT", "downtime_id": stop})
            elif step in (12, 17):
                make("workorder.resumed", base)
            elif step == 16:
                make("workorder.paused", {**base, "reason_code": "MAT"})
            else:
                make("production.reported", {**base, "qty_good": 2, "qty_scrap": 0})
        return events

    def every_type_stream(self, production, stream, count, tag, second):
        """A line day with all sixteen types: changeovers, holds, breakdowns that open
        maintenance requests, and a completion at the end."""
        source, operation, material, qty, unit = stream
        base = {"order": production.name, "operation": operation}
        events = []
        clock = [second]

        def make(type_, data):
            clock[0] += 7
            events.append(self.make_event(type_, data, source=source, time=self.at(seconds=clock[0])))

        make("setup.started", base)
        make("setup.ended", base)
        make("workorder.started", base)
        cycle = 0
        while len(events) < count - 3:
            cycle += 1
            step = cycle % 24
            hold = f"{tag}-{source}-h-{cycle}"
            stop = f"{tag}-{source}-dt-{cycle}"
            if step == 2:
                make("quality.result", {**base, "characteristic": "width", "pass": True, "value": 3.0})
            elif step == 4:
                make("material.consumed", {**base, "material": material, "qty": qty, "uom": unit})
            elif step == 6:
                make("scrap.reported", {**base, "qty": 1, "reason_code": "DEFECT"})
            elif step == 7:
                make("scrap.reported", {**base, "material": material, "qty": qty})
            elif step == 9:
                make("downtime.started", {"reason_code": "BRK", "downtime_id": stop})
            elif step == 10:
                make("downtime.ended", {"reason_code": "BRK", "downtime_id": f"{tag}-{source}-dt-{cycle - 1}"})
            elif step == 11:
                make("workorder.resumed", base)
            elif step == 14:
                make("quality.hold", {**base, "hold_id": hold, "reason": "burr"})
            elif step == 15:
                make("quality.released", {**base, "hold_id": f"{tag}-{source}-h-{cycle - 1}"})
            elif step == 17:
                make("workorder.paused", {**base, "reason_code": "MAT"})
            elif step == 18:
                make("workorder.resumed", base)
            else:
                make("production.reported", {**base, "qty_good": 2, "qty_scrap": 0})
        make("workorder.completed", {**base, "qty_good": 1})
        make("teardown.started", base)
        make("teardown.ended", base)
        return events

    def interleaved(self, make_stream, productions, tag, start=0):
        """Four streams (two lines' MOs × press and assembly), round robin as a plant's events arrive."""
        pairs = [
            (production, stream)
            for production, streams in zip(productions, LINE_STREAMS, strict=True)
            for stream in streams
        ]
        streams = [make_stream(production, stream, self.size // len(pairs), tag, start) for production, stream in pairs]
        out = []
        for group in zip(*streams, strict=True):
            out.extend(group)
        return out

    # ------------------------------------------------------------------ measuring

    @contextmanager
    def per_type(self):
        """Time and SQL inside each handler, per event type."""
        cr = self.env.cr
        totals = defaultdict(lambda: [0, 0.0, 0, 0.0])
        real = handlers.apply_event

        def timed(event, **kwargs):
            started, queries, cpu = perf_counter(), cr.sql_log_count, process_time()
            try:
                return real(event, **kwargs)
            finally:
                row = totals[event.type]
                row[0] += 1
                row[1] += perf_counter() - started
                row[2] += cr.sql_log_count - queries
                row[3] += process_time() - cpu

        with patch.object(handlers, "apply_event", side_effect=timed):
            yield totals

    @contextmanager
    def per_phase(self, profiler=None, only=None):
        """Wall and CPU time of each phase of the ingest calls, each without the phases inside
        it: ``{phase: [calls, seconds, CPU seconds]}``. With ``profiler`` and ``only`` (a phase's name),
        the profiler runs inside that phase alone (``SFB_PROFILE_PHASE``)."""
        from ..handlers.producing import ProducingSync  # noqa: PLC0415
        from ..services import hooks as hook_module  # noqa: PLC0415
        from ..services.apply import ApplyService  # noqa: PLC0415
        from ..services.ingest import IngestService  # noqa: PLC0415

        phases = defaultdict(lambda: [0, 0.0, 0.0])
        inner = [0.0, 0.0]  # wall and CPU time spent in the phases inside the one running now

        def timing(name, function):
            profiled = profiler is not None and name == only

            def timed(*args, **kwargs):
                outer, inner[:] = list(inner), [0.0, 0.0]
                started, cpu = perf_counter(), process_time()
                if profiled:
                    profiler.enable()
                try:
                    return function(*args, **kwargs)
                finally:
                    if profiled:
                        profiler.disable()
                    spent, spent_cpu = perf_counter() - started, process_time() - cpu
                    row = phases[name]
                    row[0] += 1
                    row[1] += spent - inner[0]
                    row[2] += spent_cpu - inner[1]
                    inner[:] = [outer[0] + spent, outer[1] + spent_cpu]

            return timed

        event_model = type(self.env["shopfloor.event"])
        log_model = type(self.env["shopfloor.event.log"])
        hooks_of = {
            name: tuple(
                timing(f"hook {hook.__module__.rsplit('.', 1)[-1]}", hook) for hook in getattr(hook_module, name)
            )
            for name in ("POST_INGEST", "POST_APPLY")
        }
        patches = [
            patch.object(event_model, "ingest", timing(CALL_PHASE, event_model.ingest)),
            patch.object(IngestService, "store", timing("store", IngestService.store)),
            patch.object(ApplyService, "apply_with_waiting", timing("waiting lookup", ApplyService.apply_with_waiting)),
            patch.object(ApplyService, "apply", timing("claim, order, loop", ApplyService.apply)),
            patch.object(handlers, "apply_event", timing("handlers", handlers.apply_event)),
            patch.object(ApplyService, "_close_group", timing("group flush", ApplyService._close_group)),
            patch.object(ProducingSync, "flush", timing("producing cascade", ProducingSync.flush)),
            patch.object(ProducingSync, "validate_scraps", timing("scrap validation", ProducingSync.validate_scraps)),
            patch.object(
                ApplyService, "_write_outcomes", staticmethod(timing("outcomes", ApplyService._write_outcomes))
            ),
            patch.object(log_model, "_create_rows", timing("history", log_model._create_rows)),
            patch.object(hook_module, "run", timing("hooks' flush", hook_module.run)),
            *(patch.object(hook_module, name, wrapped) for name, wrapped in hooks_of.items()),
        ]
        with contextlib.ExitStack() as stack:
            for one in patches:
                stack.enter_context(one)
            yield phases

    @contextmanager
    def collections(self):
        """Python's cyclic garbage collector while it runs: ``{generation: [runs, seconds]}``.
        Its pauses land on whatever code allocates when a threshold is crossed; a full
        (generation 2) collection walks every object of the process, Odoo's registry included."""
        runs = defaultdict(lambda: [0, 0.0])
        started = {}

        def note(phase, info):
            if phase == "start":
                started["at"] = perf_counter()
            elif "at" in started:
                row = runs[info["generation"]]
                row[0] += 1
                row[1] += perf_counter() - started.pop("at")

        gc.callbacks.append(note)
        try:
            yield runs
        finally:
            gc.callbacks.remove(note)

    @contextmanager
    def statements(self):
        """With SFB_PROFILE_SQL: {statement shape: [count, seconds]} of what the cursor runs."""
        if not os.environ.get("SFB_PROFILE_SQL"):
            yield None
            return
        cursor = type(self.env.cr)
        execute = cursor.execute
        shapes = defaultdict(lambda: [0, 0.0, defaultdict(int)])
        traced = re.compile(os.environ["SFB_PROFILE_SQL_FROM"]) if os.environ.get("SFB_PROFILE_SQL_FROM") else None

        def counted(cr, query, params=None, log_exceptions=True):
            started = perf_counter()
            try:
                return execute(cr, query, params, log_exceptions)
            finally:
                text = " ".join(str(getattr(query, "code", query)).split())
                shape = shapes[SQL_NUMBERS.sub("N", SQL_LISTS.sub("(…)", text))]
                shape[0] += 1
                shape[1] += perf_counter() - started
                if traced and traced.search(text):
                    frames = [f for f in traceback.extract_stack()[:-1] if not SQL_FROM_SKIPPED.search(f.filename)]
                    path = " → ".join(
                        f"{f.filename.rsplit('/', 2)[-1]}:{f.lineno} {f.name}" for f in frames[-SQL_FROM_DEPTH:]
                    )
                    shape[2][path] += 1

        with patch.object(cursor, "execute", counted):
            yield shapes

    def backend_cpu_seconds(self):
        """CPU seconds of this cursor's PostgreSQL backend so far (/proc, same machine), or None."""
        self.env.cr.execute("SELECT pg_backend_pid()")
        try:
            with open(f"/proc/{self.env.cr.fetchone()[0]}/stat", encoding="ascii") as stat:
                fields_ = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields_[11]) + int(fields_[12])) / os.sysconf("SC_CLK_TCK")

    def wal_position(self):
        """Where PostgreSQL's write-ahead log is: what lies between two positions is every
        change written meanwhile (rows, their index entries, full pages after a checkpoint)."""
        self.env.cr.execute("SELECT pg_current_wal_insert_lsn()")
        return self.env.cr.fetchone()[0]

    def run_mix(self, name, events, profile=False):
        cr = self.env.cr
        profiler = cProfile.Profile() if profile else None
        statuses = defaultdict(int)
        problems = defaultdict(int)
        started, queries = perf_counter(), cr.sql_log_count
        wal = self.wal_position()
        cpu, backend_cpu = process_time(), self.backend_cpu_seconds()
        only = os.environ.get("SFB_PROFILE_PHASE")
        with (
            self.per_type() as totals,
            self.per_phase(profiler, only) as phases,
            self.statements() as statements,
            self.collections() as collected,
        ):
            for index in range(0, len(events), BATCH):
                # A cold cache per call: each RPC call of the sidecar starts a transaction of its own.
                self.env.invalidate_all()
                if profiler and not only:
                    profiler.enable()
                # No apply budget: every event is applied in the call that stores it.
                results = (
                    self.env["shopfloor.event"]
                    .with_user(self.sender)
                    .with_context(shopfloor_apply_budget_ms=10**9)
                    .ingest(events[index : index + BATCH])
                )
                self.env.flush_all()
                if profiler and not only:
                    profiler.disable()
                for result in results:
                    statuses[result["status"]] += 1
                    if result["status"] != "applied":
                        problems[(result["status"], (result.get("error") or "")[:160])] += 1
        seconds, sql = perf_counter() - started, cr.sql_log_count - queries
        cpu = process_time() - cpu  # with cProfile's own overhead when profiling
        backend_after = self.backend_cpu_seconds()
        cr.execute("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), %s)", [wal])
        wal_kb = float(cr.fetchone()[0]) / 1024 / len(events)
        backend = (
            f"{(backend_after - backend_cpu) * 1000 / len(events):.2f}"
            if backend_cpu is not None and backend_after is not None
            else "n/a"
        )
        lines = [
            f"{name}: {len(events)} events in batches of {BATCH}: {seconds * 1000 / len(events):.2f} ms/event, "
            f"Odoo CPU {cpu * 1000 / len(events):.2f} ms/event, PostgreSQL CPU {backend} ms/event, "
            f"{sql / len(events):.1f} SQL/event, WAL {wal_kb:.1f} kB/event, {len(events) / seconds:.0f} events/s; "
            f"outcomes {dict(statuses)}",
            f"  {'type':<22}{'events':>8}{'ms/event':>10}{'CPU ms':>8}{'SQL/event':>11}  (inside the handler)",
        ]
        for type_, (count, spent, type_sql, type_cpu) in sorted(totals.items(), key=lambda item: -item[1][1]):
            lines.append(
                f"  {type_:<22}{count:>8}{spent * 1000 / count:>10.2f}{type_cpu * 1000 / count:>8.2f}"
                f"{type_sql / count:>11.1f}"
            )
        calls = phases[CALL_PHASE][0] or 1
        lines.append(
            f"  {'phase of the call':<22}{'ms/call':>10}{'ms/event':>10}{'CPU ms/event':>14}"
            "  (each without the phases inside it)"
        )
        for phase, (_count, spent, spent_cpu) in sorted(phases.items(), key=lambda item: -item[1][1]):
            lines.append(
                f"  {phase:<22}{spent * 1000 / calls:>10.1f}{spent * 1000 / len(events):>10.3f}"
                f"{spent_cpu * 1000 / len(events):>14.3f}"
            )
        lines.append(
            "  garbage collector: "
            + (
                ", ".join(
                    f"generation {generation} {runs}× {seconds * 1000 / len(events):.3f} ms/event"
                    for generation, (runs, seconds) in sorted(collected.items())
                )
                or "did not run"
            )
        )
        lines += [f"  {count} × {status}: {error}" for (status, error), count in sorted(problems.items())]
        if statements is not None:
            by = 1 if os.environ.get("SFB_PROFILE_SORT") == "tottime" else 0  # by time spent, else by count
            top = sorted(statements.items(), key=lambda item: -item[1][by])[: int(os.environ["SFB_PROFILE_SQL"])]
            lines.append(f"  {'per 1,000':>9}{'ms each':>9}  statement")
            for text, (count, spent, paths) in top:
                lines.append(
                    f"  {count * 1000 / len(events):>9.0f}{spent * 1000 / count:>9.3f}  "
                    f"{text if len(text) <= 600 else text[:250] + ' … ' + text[-300:]}"
                )
                lines += [
                    f"  {times * 1000 / len(events):>9.0f}{'':>9}    from {path}"
                    for path, times in sorted(paths.items(), key=lambda item: -item[1])
                ]
        if profiler:
            stream = io.StringIO()
            order = os.environ.get("SFB_PROFILE_SORT", "cumulative")  # "tottime": where the CPU itself goes
            restrictions = [int(os.environ.get("SFB_PROFILE_TOP", "45"))]
            if os.environ.get("SFB_PROFILE_FILTER"):  # e.g. "shopfloor_bridge": only the bridge's functions
                restrictions.insert(0, os.environ["SFB_PROFILE_FILTER"])
            pstats.Stats(profiler, stream=stream).sort_stats(order).print_stats(*restrictions)
            focus = os.environ.get("SFB_PROFILE_FOCUS")
            if focus:  # e.g. "validate_scraps": what those functions spend their time on
                pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_callees(focus)
            callers = os.environ.get("SFB_PROFILE_CALLERS")
            if callers:  # e.g. "sql.py.*__init__": who calls those functions, and how often
                pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_callers(callers)
            lines.append(stream.getvalue())
        _logger.info("\n".join(lines))
        return statuses

    # ------------------------------------------------------------------ Odoo's own floor

    def odoo_floor(self, events, productions):
        """Odoo's own work for the Odoo records ``events`` must leave, each kind made by
        one batch call per batch of ``BATCH``, without the bridge: a lower bound of what
        applying them can cost, whatever the bridge does. Per batch:
        - every time log the events open (start, resume, downtime start), made
          already closed, by one ``create`` (a pause or a downtime end adds nothing);
        - each component move's consumption set once (``_set_quantity_done``);
        - each MO's producing quantity written once, and Odoo's cascade run once;
        - the scraps made by one ``create`` and done by one ``_action_done``
          (``scrap_reported.validate_scraps``: Odoo's steps of ``do_scrap``).
        Left out, so the bound stays low: the events themselves (inbox, keys, outcome,
        audit log), quality results, overtime splits, undo data, dating the scraps.
        Returns (Odoo CPU ms, PostgreSQL CPU ms or None, SQL queries) per event."""
        from ..handlers.scrap_reported import validate_scraps  # noqa: PLC0415

        env = self.env
        cr = env.cr
        by_name = {production.name: production for production in productions}
        productive = env.ref("mrp.block_reason7")
        materials = {"STEEL-2MM": self.product_steel, "M8": self.product_bolt}  # the connection's material map
        workorder_of = {}  # source → the work order its events name
        for event in events:
            data = event["data"]
            if data.get("order") in by_name and data.get("operation"):
                workorder_of.setdefault(
                    event["source"],
                    by_name[data["order"]].workorder_ids.filtered(lambda w, op=data["operation"]: w.name == op)[:1],
                )

        def moment(event, seconds=0):
            stamp = datetime.fromisoformat(event["time"].replace("Z", "+00:00")).replace(tzinfo=None)
            return stamp + timedelta(seconds=seconds)

        savepoint = cr.savepoint()
        try:
            env.invalidate_all()
            cpu, backend, queries = process_time(), self.backend_cpu_seconds(), cr.sql_log_count
            for index in range(0, len(events), BATCH):
                env.invalidate_all()  # a cold cache per call, as in the mix
                logs, scraps = [], []
                consumed, produced = defaultdict(float), defaultdict(float)
                for event in events[index : index + BATCH]:
                    workorder = workorder_of[event["source"]]
                    production = workorder.production_id
                    data = event["data"]
                    kind = event["type"]
                    if kind in ("workorder.started", "workorder.resumed", "downtime.started"):
                        loss = self.loss_material if kind == "downtime.started" else productive
                        logs.append(
                            {
                                "workcenter_id": workorder.workcenter_id.id,
                                "workorder_id": workorder.id,
                                "loss_id": loss.id,
                                "date_start": moment(event),
                                "date_end": moment(event, 7),
                                "user_id": env.uid,
                                "company_id": production.company_id.id,
                                "description": f"{kind} from {event['source']}",
                            }
                        )
                    elif kind == "production.reported":
                        produced[production] += data["qty_good"]
                    elif kind == "material.consumed":
                        product = materials[data["material"]]
                        move = production.move_raw_ids.filtered(lambda m, p=product: m.product_id == p)[:1]
                        consumed[move] += data["qty"]
                    elif kind == "scrap.reported":
                        product = production.product_id
                        values = {
                            "product_id": product.id,
                            "product_uom_id": product.uom_id.id,
                            "scrap_qty": data["qty"],
                            "company_id": production.company_id.id,
                            "production_id": production.id,
                            "workorder_id": workorder.id,
                        }
                        scraps.append((env, values, moment(event)))
                env["mrp.workcenter.productivity"].create(logs)
                for move, qty in consumed.items():
                    move._set_quantity_done(move.quantity + qty)
                    move.write({"picked": True, "manual_consumption": True})
                for production, qty in produced.items():
                    production.qty_producing += qty
                    production._set_qty_producing()
                if scraps:
                    validate_scraps(scraps)
                env.flush_all()
            cpu = process_time() - cpu
            backend_after = self.backend_cpu_seconds()
            sql = cr.sql_log_count - queries
        finally:
            savepoint.close(rollback=True)
            env.invalidate_all()
        backend_ms = (backend_after - backend) * 1000 / len(events) if None not in (backend, backend_after) else None
        return cpu * 1000 / len(events), backend_ms, sql / len(events)

    def test_profile(self):
        # One test transaction runs every call: ``run_mix`` and ``odoo_floor`` clear the
        # cache before each, as Odoo does between the sidecar's RPC calls.
        profile = os.environ.get("SFB_PROFILE_CPROFILE", "1") == "1"
        realistic = self.interleaved(self.realistic_stream, self.big_mos[:2], "real")
        # Odoo's own floor for the same events on the same MOs, rolled back before the mix applies.
        odoo_ms, backend_ms, sql = self.odoo_floor(realistic, self.big_mos[:2])
        _logger.info(
            "Odoo's own floor for the realistic mix (its Odoo records made by one batch call per kind and "
            "batch, no bridge): Odoo CPU %.2f ms/event, PostgreSQL CPU %s ms/event, %.1f SQL/event",
            odoo_ms,
            "n/a" if backend_ms is None else f"{backend_ms:.2f}",
            sql,
        )
        self.run_mix("realistic mix", realistic, profile)
        self.run_mix("every type", self.interleaved(self.every_type_stream, self.big_mos[2:], "all", start=6 * 3600))


@tagged("-standard", "post_install", "-at_install", "shopfloor_profile_rpc")
class TestApplyProfileRpc(TestApplyProfile, HttpCase):
    """The realistic mix sent over JSON-RPC (``execute_kw`` with the integration user's API
    key, as the sidecar's client), against the same mix called in-process; Odoo CPU is
    this process's (the test server runs in a thread of it)."""

    def test_profile(self):
        key = (
            self.env["res.users.apikeys"]
            .with_user(self.sender)
            ._generate("rpc", "profile", datetime.now() + timedelta(days=1))
        )
        realistic = self.interleaved(self.realistic_stream, self.big_mos[:2], "real")
        cr = self.env.cr
        self.env.invalidate_all()
        started, cpu = perf_counter(), process_time()
        statuses = defaultdict(int)
        for index in range(0, len(realistic), BATCH):
            results = self.make_jsonrpc_request(
                "/jsonrpc",
                {
                    "service": "object",
                    "method": "execute_kw",
                    "args": [
                        cr.dbname,
                        self.sender.id,
                        key,
                        "shopfloor.event",
                        "ingest",
                        [realistic[index : index + BATCH]],
                        {"context": {"shopfloor_apply_budget_ms": 10**9}},
                    ],
                },
            )
            for result in results:
                statuses[result["status"]] += 1
        seconds, cpu = perf_counter() - started, process_time() - cpu
        _logger.info(
            "realistic mix over JSON-RPC: %s events in batches of %s: %.2f ms/event, Odoo CPU %.2f ms/event "
            "(this process: the test server's thread and the client), %s events/s; outcomes %s",
            len(realistic),
            BATCH,
            seconds * 1000 / len(realistic),
            cpu * 1000 / len(realistic),
            round(len(realistic) / seconds),
            dict(statuses),
        )
