"""Alert rules of a connection, pure Python: what each kind measures, when it
breaches, the words people read, and the webhook bodies.

The ORM side (``models/shopfloor_alert_rule.py``) gathers the figures a
rule needs into a ``Figures`` and asks ``verdict``; an alert opens on the
first breach and resolves on the first clear verdict. A verdict of ``None``
means "not enough to tell yet" (a growth rate needs a minute of samples):
the alert keeps its state.
"""

import html
import json
import math
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, unquote, urlsplit

import markupsafe
import requests
from requests.utils import requote_uri

# kind → (label, unit of the threshold, default threshold, what the value is)
KINDS = {
    "heartbeat_age": ("Heartbeat older than", "s", 120.0),
    "spool_depth": ("Spool depth over", "events", 10000.0),
    "spool_growth": ("Spool growing faster than", "events/min", 1000.0),
    "dlq_count": ("Dead letters over", "events", 50.0),
    "dlq_rate": ("Dead letters growing faster than", "events/h", 20.0),
    "pending_age": ("An event pending longer than", "min", 30.0),
    "clock_skew": ("Clock skew beyond", "ms (0: the connection's skew bound)", 0.0),
    "source_down": ("Source disconnected for", "s", 60.0),
}
KIND_SELECTION = [(kind, f"{label} N {unit.split(' ')[0]}") for kind, (label, unit, _default) in KINDS.items()]
# Kinds the ingest path re-checks when a batch leaves dead or rejected events.
DLQ_KINDS = ("dlq_count", "dlq_rate")
# Growth rates compare with a sample at least this old, so one heartbeat's jitter is no trend.
GROWTH_WINDOW_S = 60.0
WEBHOOK_KINDS = [
    ("slack", "Slack (incoming webhook)"),
    ("teams", "Microsoft Teams (workflow webhook)"),
    ("json", "Generic JSON"),
]
WEBHOOK_SCHEMES = ("https", "http")
DEFAULT_WEBHOOK_TIMEOUT_S = 5.0
MAX_WEBHOOK_TIMEOUT_S = 30.0
WEBHOOK_MAX_ATTEMPTS = 5


def default_rules():
    """The rules a new connection gets: every kind, at its default threshold."""
    return [{"kind": kind, "threshold": default} for kind, (_label, _unit, default) in KINDS.items()]


@dataclass
class Figures:
    """What the connection's last heartbeat and its events say now."""

    now: datetime
    last_seen: datetime | None = None
    stats: dict = field(default_factory=dict)
    spool_depth: int = 0
    dead_letters: int = 0
    dead_letters_last_hour: int = 0
    oldest_pending: datetime | None = None
    skew_bound_ms: int = 0


@dataclass
class Sample:
    """What a rule remembers between evaluations (growth rates, how long a source is down)."""

    value: float | None = None
    at: datetime | None = None
    since: datetime | None = None


@dataclass
class Verdict:
    breached: bool | None
    value: float
    detail: str
    sample: Sample


def finite_number(value):
    """A heartbeat figure as a float, or None for what is no finite number (text, bools, NaN)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def verdict(kind, threshold, figures, sample=None):
    """Whether the condition of a rule of ``kind`` holds now."""
    sample = sample or Sample()
    return _MEASURES[kind](threshold, figures, sample)


def _heartbeat_age(threshold, figures, sample):
    # A connection whose sidecar never reported has nothing to be late with.
    if not figures.last_seen:
        return Verdict(False, 0.0, "no heartbeat yet", sample)
    age = max(0.0, (figures.now - figures.last_seen).total_seconds())
    return Verdict(age > threshold, age, f"last heartbeat {age:.0f} s ago", sample)


def _spool_depth(threshold, figures, sample):
    depth = float(figures.spool_depth)
    return Verdict(depth > threshold, depth, f"{depth:.0f} events in the sidecar's spool", sample)


def _spool_growth(threshold, figures, sample):
    depth = float(figures.spool_depth)
    if sample.at is None or sample.value is None or figures.now < sample.at:
        return Verdict(None, 0.0, "first sample", Sample(depth, figures.now))
    minutes = (figures.now - sample.at).total_seconds() / 60.0
    if minutes * 60.0 < GROWTH_WINDOW_S:
        return Verdict(None, 0.0, "sampling", sample)
    rate = (depth - sample.value) / minutes
    detail = f"spool grew by {rate:.0f} events/min (now {depth:.0f})"
    return Verdict(rate > threshold, rate, detail, Sample(depth, figures.now))


def _dlq_count(threshold, figures, sample):
    count = float(figures.dead_letters)
    return Verdict(count > threshold, count, f"{count:.0f} dead, rejected or failed events", sample)


def _dlq_rate(threshold, figures, sample):
    count = float(figures.dead_letters_last_hour)
    return Verdict(count > threshold, count, f"{count:.0f} events dead, rejected or failed in the last hour", sample)


def _pending_age(threshold, figures, sample):
    if not figures.oldest_pending:
        return Verdict(False, 0.0, "nothing pending", sample)
    minutes = max(0.0, (figures.now - figures.oldest_pending).total_seconds() / 60.0)
    return Verdict(minutes > threshold, minutes, f"oldest pending event waits for {minutes:.0f} min", sample)


def _clock_skew(threshold, figures, sample):
    bound = threshold if threshold > 0 else float(figures.skew_bound_ms)
    # The sidecar's worst per-source skew (observed time − source time), sent with each heartbeat.
    worst = abs(finite_number(figures.stats.get("max_skew_ms")) or 0.0)
    if bound <= 0:
        return Verdict(False, worst, "no skew bound set", sample)
    return Verdict(worst > bound, worst, f"source clock off by {worst:.0f} ms (bound {bound:.0f} ms)", sample)


def _source_down(threshold, figures, sample):
    connected = figures.stats.get("source_connected")
    down = connected is False or (finite_number(connected) == 0.0)
    if not down:
        return Verdict(False, 0.0, "source connected", Sample())
    since = sample.since or figures.now
    seconds = max(0.0, (figures.now - since).total_seconds())
    source = figures.stats.get("source") or figures.stats.get("source_kind") or "source"
    error = figures.stats.get("source_error")
    detail = f"{source} disconnected for {seconds:.0f} s"
    if isinstance(error, str) and error:
        detail += f": {error[:300]}"
    return Verdict(seconds >= threshold, seconds, detail, Sample(since=since))


_MEASURES = {
    "heartbeat_age": _heartbeat_age,
    "spool_depth": _spool_depth,
    "spool_growth": _spool_growth,
    "dlq_count": _dlq_count,
    "dlq_rate": _dlq_rate,
    "pending_age": _pending_age,
    "clock_skew": _clock_skew,
    "source_down": _source_down,
}
assert set(_MEASURES) == set(KINDS)


# ---------------------------------------------------------------- words and bodies


@dataclass
class Notice:
    """One alert's news, the same for every channel."""

    transition: str  # "opened" | "resolved"
    connection: str
    rule: str
    kind: str
    message: str
    value: float
    threshold: float
    opened_at: str
    resolved_at: str
    url: str

    @property
    def title(self):
        verb = "RESOLVED" if self.transition == "resolved" else "ALERT"
        return f"[{verb}] {self.connection}: {self.rule}"


def slack_body(notice):
    """Slack incoming webhook: a JSON object whose ``text`` is the message (mrkdwn)."""
    text = f"*{notice.title}*\n{notice.message}"
    if notice.url:
        text += f"\n<{notice.url}|Open in Odoo>"
    return {"text": text}


def teams_body(notice):
    """Microsoft Teams workflow webhook ("When a Teams webhook request is received"):
    a message whose attachment is an Adaptive Card (schema 1.4)."""
    facts = [
        {"title": "Connection", "value": notice.connection},
        {"title": "Rule", "value": notice.rule},
        {"title": "Value", "value": f"{notice.value:g}"},
        {"title": "Threshold", "value": f"{notice.threshold:g}"},
        {"title": "Opened", "value": notice.opened_at},
    ]
    if notice.resolved_at:
        facts.append({"title": "Resolved", "value": notice.resolved_at})
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": notice.title,
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": "Good" if notice.transition == "resolved" else "Attention",
            },
            {"type": "TextBlock", "text": notice.message, "wrap": True},
            {"type": "FactSet", "facts": facts},
        ],
    }
    if notice.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in Odoo", "url": notice.url}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }


def json_body(notice):
    """Generic JSON: every field of the notice, flat."""
    return {
        "event": f"shopfloor.alert.{notice.transition}",
        "connection": notice.connection,
        "rule": notice.rule,
        "kind": notice.kind,
        "message": notice.message,
        "value": notice.value,
        "threshold": notice.threshold,
        "opened_at": notice.opened_at,
        "resolved_at": notice.resolved_at or None,
        "url": notice.url or None,
    }


BODIES = {"slack": slack_body, "teams": teams_body, "json": json_body}


def webhook_payload(kind, notice):
    """The exact bytes posted for ``kind`` (UTF-8 JSON)."""
    return json.dumps(BODIES[kind](notice), ensure_ascii=False, sort_keys=True)


# ---------------------------------------------------------------- webhook URLs
# A Slack or Teams webhook URL is its own password: whoever has it may post to the
# channel. It is kept from everything a person other than a manager reads (the
# log, the alert's chatter, the delivery's error), and messages about it never
# repeat it.


def webhook_url_error(url):
    """Why ``url`` cannot be a webhook's address, in words that do not repeat it; None when it can."""
    text = (url or "").strip()
    if not text:
        return None
    if any(char.isspace() or ord(char) < 32 or ord(char) == 127 for char in text):
        return "it holds spaces or control characters"
    try:
        parts = urlsplit(text)
        port = parts.port  # raises ValueError for a port that is not a number in range
    except ValueError:
        return "it is not a URL"
    if port == 0:
        return "its port cannot be 0"
    if parts.scheme.lower() not in WEBHOOK_SCHEMES:
        return "it must start with https:// (or http://)"
    if not parts.hostname:
        return "it names no host"
    return None


def _secret_pieces(url):
    """The parts of a webhook URL that may hold its secret, as each may be written back to us."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        user, password = parts.username, parts.password
    except ValueError:
        # Not a URL at all: only the whole of it can be named.
        return [text] if len(text) > 1 else []
    tail = text[len(f"{parts.scheme}://{parts.netloc}") :] if parts.netloc else text
    raw = [text, tail, parts.path, parts.query, parts.fragment, user or "", password or ""]
    raw += _as_sent(text)
    pieces = set()
    for piece in raw:
        if len(piece) < 2:
            continue
        for form in (piece, unquote(piece), *_encoded(piece)):
            if len(form) > 1:
                # As HTML escapes it: Python's, and markupsafe's (Odoo's chatter: &#39; &#34;).
                pieces.update((form, html.escape(form), html.escape(form, quote=False), str(markupsafe.escape(form))))
    return sorted(pieces, key=len, reverse=True)


def _as_sent(url):
    """The URL and the request target requests sends for ``url`` (encoded, dot segments
    resolved), which its errors and the receiver repeat; none for a URL it refuses to send."""
    try:
        prepared = requests.Request("POST", url).prepare()
    except (requests.RequestException, ValueError, UnicodeError):
        return []
    return [prepared.url, prepared.path_url]


def _encoded(piece):
    """``piece`` percent-encoded as a client would send it; none for text no request can carry
    (a lone surrogate)."""
    try:
        return [requote_uri(piece), quote(unquote(piece), safe="/")]
    except UnicodeError:
        return []


def shown_url(url):
    """What of a webhook URL people may read: its scheme, host and port."""
    try:
        parts = urlsplit((url or "").strip())
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "…"
    if not parts.scheme or not host:
        return "…"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}/…"


def redact_webhook_url(text, url, limit=None):
    """``text`` (an error, the receiver's answer) with every part of ``url`` that may hold its
    secret (path, query, fragment, user, password; as typed, percent-encoded or decoded, or
    HTML-escaped) replaced by an ellipsis; at most ``limit`` characters of it."""
    text = str(text)
    full = (url or "").strip()
    pieces = _secret_pieces(full)
    if limit is not None:
        # Cut after redacting: a secret that began before the limit is gone whole, not half.
        text = text[: limit + (len(pieces[0]) if pieces else 0)]
    if len(full) > 1:
        text = text.replace(full, shown_url(full))
    for piece in pieces:
        text = text.replace(piece, "…")
    return text if limit is None else text[:limit]
