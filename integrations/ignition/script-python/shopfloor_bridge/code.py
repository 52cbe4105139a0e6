# Shopfloor Bridge gateway script library for Ignition 8.1+ (Jython 2.7).
#
# Turns the tag changes of a ShopfloorMachine UDT instance into CloudEvents
# (the bridge's own schema, so the sidecar needs no mapping) and publishes them
# over MQTT through Cirrus Link's MQTT Transmission (or MQTT Engine) scripting
# function. Every event first goes to a local queue on disk; the queue is
# flushed in order, and an event leaves it only once the publish went out while
# the MQTT client stayed online. Event ids are fixed when an event is made, so a
# resend is the same event and Odoo keeps one copy.
#
# Install as the project library script `shopfloor_bridge` of the gateway's
# scripting project and call it from a Gateway Tag Change event script and a
# Gateway Timer script (see integrations/ignition/README.md).
import hashlib
import json
import os
import threading

# ---------------------------------------------------------------------------
# Settings: edit them here (or set them from a gateway startup script with
# shopfloor_bridge.SETTINGS.update({...})).
SETTINGS = {
    # "events": CloudEvents built here (counts, state, order).
    # "tags": every change as tag-change JSON, for the "Ignition tag-change JSON"
    # mapping preset in Odoo (the rules are then configured in Odoo instead).
    "mode": "events",
    # "transmission": system.cirruslink.transmission.publish (MQTT Transmission);
    # "engine": system.cirruslink.engine.publish (MQTT Engine).
    "publisher": "transmission",
    # Name of the server in the module's Servers settings (it must match exactly).
    "mqtt_server": "Shopfloor broker",
    # Boolean tag that is true while that MQTT client is connected, e.g.
    # "[MQTT Transmission]Transmission Info/Transmitters/<Transmitter>/Edge Nodes/<Group>/<Edge>/MQTT Client/Online".
    # Empty: rely on publish raising an error when the client is down.
    "online_tag": "",
    "qos": 1,
    # Events go to <events_prefix>/<machine source>/events (the sidecar's
    # connection subscribes to shopfloor/#), tag changes to
    # <tags_prefix>/<machine source> (the preset's topic filter is ignition/tags/#).
    "events_prefix": "shopfloor",
    "tags_prefix": "ignition/tags",
    # Local store-and-forward folder. A relative path is below the gateway's
    # working directory (the Ignition install folder): use an absolute path on
    # a disk that survives a gateway upgrade.
    "queue_dir": "data/shopfloor-bridge",
    # Most events published per flush (a Timer script flushes the rest).
    "flush_batch": 500,
    # State tag value -> machine state. down: downtime with the ReasonCode tag
    # as reason; setup: a setup log; running/idle: neither.
    "state_map": {0: "idle", 1: "running", 2: "idle", 3: "down", 4: "setup"},
    # Reason used when the machine goes down with an empty ReasonCode.
    "default_reason": "UNKNOWN",
}

# UDT members this script reacts to (see udt/ShopfloorMachine.json).
COUNT_MEMBERS = ("GoodCount", "ScrapCount")
WATCHED = COUNT_MEMBERS + ("State", "Order")
CONTEXT_MEMBERS = ("Source", "Order", "Operation", "ReasonCode", "ScrapReason", "Unit")
# In "tags" mode every member a rule in Odoo may read is sent, bad quality included.
TAG_MEMBERS = WATCHED + ("Operation", "ReasonCode", "ScrapReason")

_state_lock = threading.RLock()
_queue_lock = threading.RLock()
_next_seq = [None]


def _logger():
    return system.util.getLogger("shopfloor_bridge")  # noqa: F821 (Ignition's system)


# --- files ------------------------------------------------------------------


def _dir(*parts):
    path = os.path.join(SETTINGS["queue_dir"], *parts)
    if not os.path.isdir(path):
        os.makedirs(path)
    return path


def _write_atomically(path, text):
    """Write then rename: a crash leaves the old file or the new one, never half."""
    tmp = path + ".tmp"
    handle = open(tmp, "wb")
    try:
        handle.write(text.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())
    finally:
        handle.close()
    if os.path.exists(path):
        os.remove(path)  # Windows cannot rename over an existing file.
    os.rename(tmp, path)


def _read_json(path, default):
    if not os.path.exists(path):
        return default
    handle = open(path, "rb")
    try:
        return json.loads(handle.read().decode("utf-8"))
    finally:
        handle.close()


# --- the machine's remembered state ----------------------------------------


def _state_path(machine_path):
    key = hashlib.sha1(machine_path.encode("utf-8")).hexdigest()[:16]
    return os.path.join(_dir("state"), key + ".json")


def _load_state(machine_path):
    state = _read_json(_state_path(machine_path), {})
    state.setdefault("counts", {})
    state.setdefault("order_totals", {"GoodCount": 0, "ScrapCount": 0})
    return state


def _save_state(machine_path, state):
    _write_atomically(_state_path(machine_path), json.dumps(state, sort_keys=True))


# --- the queue ----------------------------------------------------------------


def _queue_files():
    names = [n for n in os.listdir(_dir("queue")) if n.endswith(".json")]
    names.sort()
    return names


def _enqueue(topic, payload):
    with _queue_lock:
        if _next_seq[0] is None:
            names = _queue_files()
            _next_seq[0] = int(names[-1][:-5]) + 1 if names else 1
        seq = _next_seq[0]
        _next_seq[0] = seq + 1
        record = {"topic": topic, "payload": payload}
        _write_atomically(os.path.join(_dir("queue"), "%020d.json" % seq), json.dumps(record, sort_keys=True))


def _client_online():
    tag = SETTINGS["online_tag"]
    if not tag:
        return True
    value = system.tag.readBlocking([tag])[0]  # noqa: F821
    return bool(value.quality.isGood() and value.value)


def _publish(topic, body):
    from java.lang import String

    if SETTINGS["publisher"] == "engine":
        publish = system.cirruslink.engine.publish  # noqa: F821
    else:
        publish = system.cirruslink.transmission.publish  # noqa: F821
    publish(SETTINGS["mqtt_server"], topic, String(body).getBytes("UTF-8"), SETTINGS["qos"], False)


def flush():
    """Publish queued records oldest first; stop at the first failure. Returns how many went out."""
    sent = 0
    with _queue_lock:
        for name in _queue_files()[: SETTINGS["flush_batch"]]:
            path = os.path.join(_dir("queue"), name)
            record = _read_json(path, None)
            if record is None:
                continue
            body = json.dumps(record["payload"], sort_keys=True, separators=(",", ":"))
            try:
                if not _client_online():
                    break
                _publish(record["topic"], body)
                # Went offline while publishing: the message may not have left.
                # Keep it; a resend carries the same id and Odoo keeps one copy.
                if not _client_online():
                    break
            except Exception as error:  # noqa: BLE001 (any publish failure keeps the record)
                _logger().warn("shopfloor_bridge: publish to %s failed, kept in queue: %s" % (record["topic"], error))
                break
            os.remove(path)
            sent += 1
    return sent


def queued():
    """Number of records waiting (for a status tag or a Perspective view)."""
    with _queue_lock:
        return len(_queue_files())


# --- events -------------------------------------------------------------------


def _iso(millis):
    from java.text import SimpleDateFormat
    from java.util import Date, TimeZone

    formatter = SimpleDateFormat("yyyy-MM-dd'T'HH:mm:ss.SSS'Z'")
    formatter.setTimeZone(TimeZone.getTimeZone("UTC"))
    return formatter.format(Date(long(millis)))  # noqa: F821 (Jython's long)


def _event_id(*parts):
    text = u"\u241f".join([unicode(p) for p in parts])  # noqa: F821 (Jython's unicode)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _event(source, event_type, millis, data, id_parts):
    return {
        "specversion": "1.0",
        "id": _event_id(source, event_type, *id_parts),
        "source": source,
        "type": event_type,
        "time": _iso(millis),
        "datacontenttype": "application/json",
        "data": dict((k, v) for k, v in data.items() if v not in (None, "")),
    }


def _text(value):
    if value is None:
        return ""
    return unicode(value).strip()  # noqa: F821


def _context(machine_path):
    paths = [machine_path + "/" + member for member in CONTEXT_MEMBERS]
    values = system.tag.readBlocking(paths)  # noqa: F821
    context = {}
    for member, qualified in zip(CONTEXT_MEMBERS, values):
        context[member] = _text(qualified.value) if qualified.quality.isGood() else ""
    return context


def _count_events(member, value, millis, machine_path, context, state, tag_path):
    last = state["counts"].get(member)
    state["counts"][member] = value
    if last is None:
        return []  # First value ever seen: the baseline, nothing to report.
    delta = value - last if value >= last else value  # Below the last value: the PLC reset the counter.
    if delta <= 0:
        return []
    state["order_totals"][member] = state["order_totals"].get(member, 0) + delta
    source, order = context["Source"], state.get("order") or context["Order"]
    ids = (tag_path, value, millis)
    if member == "GoodCount":
        data = {"order": order, "operation": state.get("operation") or context["Operation"], "qty_good": delta}
        data["uom"] = context["Unit"]
        return [_event(source, "production.reported", millis, data, ids)]
    data = {"qty": delta, "order": order, "reason_code": context["ScrapReason"], "uom": context["Unit"]}
    return [_event(source, "scrap.reported", millis, data, ids)]


def _state_events(code, millis, context, state, tag_path):
    new = SETTINGS["state_map"].get(code, "running" if code is None else "idle")
    old = state.get("machine_state")
    state["machine_state"] = new
    if old is None or old == new:
        return []
    source, order = context["Source"], state.get("order") or context["Order"]
    events = []
    if old == "down":
        data = {"reason_code": state.get("downtime_reason"), "downtime_id": state.get("downtime_id"), "order": order}
        events.append(_event(source, "downtime.ended", millis, data, (tag_path, code, millis)))
    elif old == "setup":
        events.append(_event(source, "setup.ended", millis, {"order": order}, (tag_path, code, millis)))
    if new == "down":
        reason = context["ReasonCode"] or SETTINGS["default_reason"]
        downtime_id = "%s@%d" % (source, millis)
        state["downtime_reason"], state["downtime_id"] = reason, downtime_id
        data = {"reason_code": reason, "downtime_id": downtime_id, "order": order}
        events.append(_event(source, "downtime.started", millis, data, (tag_path, code, millis)))
    elif new == "setup":
        events.append(_event(source, "setup.started", millis, {"order": order}, (tag_path, code, millis)))
    return events


def _order_events(order, millis, context, state, tag_path):
    old = state.get("order") or ""
    if order == old:
        return []
    source, events = context["Source"], []
    if old:
        totals = state["order_totals"]
        data = {
            "order": old,
            "operation": state.get("operation"),
            "qty_good": totals.get("GoodCount", 0),
            "qty_scrap": totals.get("ScrapCount", 0),
            "uom": context["Unit"],
        }
        events.append(_event(source, "workorder.completed", millis, data, (tag_path, old, order, millis)))
    state["order"], state["operation"] = order, context["Operation"]
    state["order_totals"] = {"GoodCount": 0, "ScrapCount": 0}
    if order:
        data = {"order": order, "operation": context["Operation"]}
        events.append(_event(source, "workorder.started", millis, data, (tag_path, order, millis)))
    return events


def _tag_change_record(tag_path, qualified, millis):
    quality = qualified.quality
    return {
        "tagPath": tag_path,
        "value": qualified.value,
        "quality": quality.getName() if hasattr(quality, "getName") else unicode(quality),  # noqa: F821
        "timestamp": millis,
    }


def on_tag_change(tag_path, new_value):
    """Call from a Gateway Tag Change script: shopfloor_bridge.on_tag_change(str(event.tagPath), newValue).

    A gateway restart fires every tag once (initialChange); the remembered state
    makes that first value report only what changed while the script was down.
    Returns the records queued (for tests and the script console).
    """
    tag_path = unicode(tag_path)  # noqa: F821
    machine_path, _, member = tag_path.rpartition("/")
    if new_value is None:
        return []
    millis = new_value.timestamp.getTime() if new_value.timestamp is not None else system.date.now().getTime()  # noqa: F821
    if SETTINGS["mode"] == "tags":
        if member not in TAG_MEMBERS:
            return []
        context = _context(machine_path)
        record = _tag_change_record(tag_path, new_value, millis)
        _enqueue("%s/%s" % (SETTINGS["tags_prefix"], context["Source"] or "unknown"), record)
        flush()
        return [record]
    if member not in WATCHED:
        return []
    if not new_value.quality.isGood():
        # Not counted and not remembered: the next good value reports the whole
        # difference since the last good one, so nothing is lost.
        _logger().debug("shopfloor_bridge: %s has quality %s, skipped" % (tag_path, new_value.quality))
        return []
    with _state_lock:
        context = _context(machine_path)
        if not context["Source"]:
            # The remembered state is left as it was: once Source is set, the
            # next change reports everything since the last one sent.
            message = "shopfloor_bridge: %s/Source is empty, the change of %s is not sent" % (machine_path, member)
            _logger().warn(message)
            return []
        state = _load_state(machine_path)
        if member in COUNT_MEMBERS:
            try:
                value = int(new_value.value)
            except (TypeError, ValueError):
                _logger().warn("shopfloor_bridge: %s is not a count: %r" % (tag_path, new_value.value))
                return []
            events = _count_events(member, value, millis, machine_path, context, state, tag_path)
        elif member == "State":
            code = new_value.value
            events = _state_events(int(code) if code is not None else None, millis, context, state, tag_path)
        else:
            events = _order_events(_text(new_value.value), millis, context, state, tag_path)
        topic = "%s/%s/events" % (SETTINGS["events_prefix"], context["Source"])
        # Queued before the state is saved: after a crash in between, the same
        # change is derived again with the same ids, a duplicate Odoo drops.
        for event in events:
            _enqueue(topic, event)
        _save_state(machine_path, state)
    flush()
    return events
