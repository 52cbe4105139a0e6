"""Profile of one ``shopfloor.event.ingest`` call, run inside ``odoo shell``.

Not a test and not part of ``npm test``: a tool to rerun while making ingest
cheaper. It builds the benchmark's plant (two confirmed MOs of the demo
products, four streams of the realistic mix of ``sidecar/bench/ingest.bench.ts``),
ingests ``SFB_PROFILE_EVENTS`` events in batches of ``SFB_PROFILE_BATCH`` as the
demo sidecar user, and prints per mode the ms per event, the SQL queries per
event and cProfile's top cumulative functions. Everything is rolled back.

    SFB_PROFILE_MODE=store python3 /opt/odoo18/odoo-bin shell -d DB \\
        --addons-path=/opt/odoo18/odoo/addons,odoo_addon --no-http < tools/profile/ingest_profile.py

``SFB_PROFILE_MODE``: ``store`` (apply deferred, as the bench's store-only run),
``apply`` (store and apply in the call) or ``both``; ``SFB_PROFILE_TOP``: how
many functions cProfile lists (0: none); ``SFB_PROFILE_CALLEES``: functions
(regular expressions, comma-separated) whose callees cProfile lists too;
``SFB_PROFILE_PHASES=1``: the Odoo CPU of each part of the call (validation, INSERT, waiting search, claim and loop,
handlers, hooks) besides, and per event type the Odoo CPU of applying one
event (its handler and its savepoint); what the batch does for several events
at once (deferred cascades, scraps and time logs written per batch, outcomes)
is the line "shared by the batch".
"""

import cProfile
import io
import os
import pstats
import time
from datetime import datetime, timedelta

EPOCH = datetime(2026, 11, 23, 6, 0, 0)
STREAMS = {
    "FG-HINGE": [
        ("plant1/line1/press-01", "Stamping", "ALU-1MM", 0.4, "KG"),
        ("plant1/line1/assembly-01", "Assembly", "RIV4", 4, "PCS"),
    ],
    "FG-MOUNT": [
        ("plant1/line2/press-02", "Stamping", "ALU-1MM", 0.4, "KG"),
        ("plant1/line2/assembly-02", "Assembly", "RIV4", 4, "PCS"),
    ],
}


def events_of(tag, stream, count):
    """The bench's line day of one work center (``eventsOf``)."""
    source, order, operation, material, qty, uom = stream
    made = []
    second = 0

    def make(kind, data):
        nonlocal second
        second += 7
        made.append(
            {
                "specversion": "1.0",
                "id": f"{tag}-{source}-{len(made) + 1}",
                "source": source,
                "type": kind,
                "time": (EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "connection": "plant1-mqtt",
                "data": data,
            }
        )

    make("workorder.started", {"order": order, "operation": operation, "operator": "op-17"})
    cycle = 0
    stop = ""
    while len(made) < count:
        cycle += 1
        step = cycle % 20
        if step in (3, 13):
            make(
                "quality.result",
                {
                    "order": order,
                    "operation": operation,
                    "characteristic": "thickness",
                    "pass": True,
                    "value": 1.01,
                    "low": 0.95,
                    "high": 1.05,
                    "unit": "mm",
                },
            )
        elif step == 5:
            make(
                "material.consumed",
                {"order": order, "operation": operation, "material": material, "qty": qty, "uom": uom},
            )
        elif step == 8:
            make("scrap.reported", {"order": order, "operation": operation, "qty": 1, "reason_code": "DEFECT"})
        elif step == 10:
            stop = f"{tag}-{source}-dt-{cycle}"
            make("downtime.started", {"reason_code": "MAT", "downtime_id": stop})
        elif step == 11:
            make("downtime.ended", {"reason_code": "MAT", "downtime_id": stop})
        elif step in (12, 17):
            make("workorder.resumed", {"order": order, "operation": operation})
        elif step == 16:
            make("workorder.paused", {"order": order, "operation": operation, "reason_code": "MAT"})
        else:
            make("production.reported", {"order": order, "operation": operation, "qty_good": 2, "qty_scrap": 0})
    return made


def plant(env, tag):
    streams = []
    for code, lines in STREAMS.items():
        product = env["product.product"].search([("default_code", "=", code)], limit=1)
        production = env["mrp.production"].create({"product_id": product.id, "product_qty": 20000, "origin": tag})
        production.action_confirm()
        production.action_assign()
        streams += [(source, production.name, op, mat, qty, uom) for source, op, mat, qty, uom in lines]
    return streams


def interleaved(tag, streams, total):
    per = -(-total // len(streams))
    lists = [events_of(tag, stream, per) for stream in streams]
    out = [event for group in zip(*lists, strict=False) for event in group]
    return out[:total]


PHASES = {}


def timed(name, function):
    """``function`` adding its Odoo CPU seconds and calls to ``PHASES[name]`` (outermost call only)."""

    def wrapper(*args, **kwargs):
        entry = PHASES.setdefault(name, [0.0, 0, 0])
        entry[2] += 1
        if entry[2] > 1:
            try:
                return function(*args, **kwargs)
            finally:
                entry[2] -= 1
        started = time.process_time()
        try:
            return function(*args, **kwargs)
        finally:
            entry[0] += time.process_time() - started
            entry[1] += 1
            entry[2] -= 1

    return wrapper


def time_phases():
    """Wraps the parts of one ingest call, for the CPU breakdown (``SFB_PROFILE_PHASES=1``)."""
    from odoo.addons.shopfloor_bridge import handlers  # noqa: PLC0415
    from odoo.addons.shopfloor_bridge.models import shopfloor_event  # noqa: PLC0415
    from odoo.addons.shopfloor_bridge.services import apply, hooks, ingest  # noqa: PLC0415

    ingest.IngestContext.prepare = timed("prepare (validate, scope)", ingest.IngestContext.prepare)
    ingest.IngestService.store = timed("store (INSERT, logs)", ingest.IngestService.store)
    apply.ApplyService.apply_with_waiting = timed("apply_with_waiting (all)", apply.ApplyService.apply_with_waiting)
    apply.ApplyService.apply = timed("apply (claim + loop)", apply.ApplyService.apply)
    handlers.apply_event = timed("handlers.apply_event", handlers.apply_event)
    apply.ApplyService._applied_values = timed("outcome values", apply.ApplyService._applied_values)
    hooks.run = timed("hooks.run (post-apply/ingest)", hooks.run)
    # One event's step of the apply loop (its handler, and its savepoint when it has one of its own).
    step_name = "_step" if hasattr(apply.ApplyService, "_step") else "_apply_one"
    real_step = getattr(apply.ApplyService, step_name)

    def step_by_type(service, event, *args, **kwargs):
        return timed(f"type {event.type}", real_step)(service, event, *args, **kwargs)

    setattr(apply.ApplyService, step_name, step_by_type)
    shopfloor_event.hooks.run = hooks.run
    shopfloor_event.ShopfloorEvent._notify_dlq_growth = timed(
        "_notify_dlq_growth", shopfloor_event.ShopfloorEvent._notify_dlq_growth
    )
    return handlers


def backend_cpu_seconds(cr):
    """CPU seconds PostgreSQL's backend of this cursor has used (utime + stime, /proc)."""
    cr.execute("SELECT pg_backend_pid()")
    with open(f"/proc/{cr.fetchone()[0]}/stat", encoding="ascii") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run(env, mode, total, batch, top):
    tag = f"prof{mode}{int(time.time() * 1000)}"
    events = interleaved(tag, plant(env, tag), total)
    sidecar = env.ref("shopfloor_bridge.demo_user_sidecar")
    model = env["shopfloor.event"].with_user(sidecar)
    if mode == "store":
        model = model.with_context(shopfloor_defer_apply=True)
    env.flush_all()
    cr = env.cr
    profiler = cProfile.Profile() if top else None
    statuses = {}
    queries = cr.sql_log_count
    pg_started = backend_cpu_seconds(cr)
    cpu_started = time.process_time()
    started = time.perf_counter()
    for index in range(0, len(events), batch):
        if profiler:
            profiler.enable()
        results = model.ingest(events[index : index + batch])
        model.env.flush_all()
        if profiler:
            profiler.disable()
        for result in results:
            statuses[result["status"]] = statuses.get(result["status"], 0) + 1
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    pg_cpu = backend_cpu_seconds(cr) - pg_started
    queries = cr.sql_log_count - queries - 2
    print(
        f"[{mode}] {total} events, batch {batch}: {seconds * 1000 / total:.3f} ms/event wall "
        f"({total / seconds:.0f} events/s), Odoo CPU {cpu * 1000 / total:.3f} ms/event, PostgreSQL CPU "
        f"{pg_cpu * 1000 / total:.3f} ms/event, {queries / total:.3f} queries/event, {statuses}"
    )
    for name, (seconds_in, calls, _depth) in sorted(PHASES.items(), key=lambda item: -item[1][0]):
        if not name.startswith("type "):
            print(f"  {name:<34} Odoo CPU {seconds_in * 1000 / total:.3f} ms/event ({calls} calls)")
    by_type = {name[5:]: entry for name, entry in PHASES.items() if name.startswith("type ")}
    if by_type:
        print(f"  {'per event type':<34} {'events':>7} {'ms/event':>9} {'ms per 1000 of the mix':>23}")
        for name, (seconds_in, calls, _depth) in sorted(by_type.items(), key=lambda item: -item[1][0]):
            print(f"  {name:<34} {calls:>7} {seconds_in * 1000 / calls:>9.3f} {seconds_in * 1e6 / total:>23.0f}")
        loop = PHASES.get("apply (claim + loop)", [0.0])[0]
        shared = loop - sum(entry[0] for entry in by_type.values())
        print(f"  {'shared by the batch':<34} {'':>7} {'':>9} {shared * 1e6 / total:>23.0f}")
    PHASES.clear()
    if profiler:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).sort_stats("cumulative")
        stats.print_stats(top)
        for name in filter(None, os.environ.get("SFB_PROFILE_CALLEES", "").split(",")):
            stats.print_callees(name)
        print(out.getvalue())


def main(env):
    mode = os.environ.get("SFB_PROFILE_MODE", "both")
    total = int(os.environ.get("SFB_PROFILE_EVENTS", "2000"))
    batch = int(os.environ.get("SFB_PROFILE_BATCH", "500"))
    top = int(os.environ.get("SFB_PROFILE_TOP", "40"))
    if os.environ.get("SFB_PROFILE_PHASES") == "1":
        time_phases()
    for one in ("store", "apply") if mode == "both" else (mode,):
        run(env, one, total, batch, top)
    env.cr.rollback()


main(env)  # noqa: F821 (odoo shell's global)
