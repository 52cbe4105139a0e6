"""Message-queue connections (RabbitMQ, Kafka, Redis Streams), pure Python (no ORM).

What a connection of kind ``amqp``, ``kafka`` or ``redis`` names must be
something its broker takes, so a typing error shows on the connection form
and not as a sidecar that cannot start. Each function answers why a value is
wrong ('' when it is right); the connection model turns that into the
message a person reads. The rules are the brokers' own:

- RabbitMQ: a queue name is an AMQP short string (at most 255 bytes of
  UTF-8); names starting with ``amq.`` are reserved for the broker. The URL is
  ``amqp://host:5672/vhost`` or ``amqps://host:5671/vhost``, or a cluster's
  nodes, ``amqp://node1:5672,node2:5672/vhost`` (tried in turn); the virtual
  host is one path segment, URL-encoded (``%2F`` for ``/``).
- Kafka: a topic name is 1 to 249 of ``[a-zA-Z0-9._-]``, neither ``.`` nor
  ``..``; names starting with ``__`` are the broker's internal topics. The
  bootstrap list is ``host:port`` pairs joined by commas, no scheme.
- Redis: a stream is any key; the URL is ``redis://host:6379/0`` or
  ``rediss://…`` with the database number as the path, or, behind Sentinel,
  ``redis+sentinel://host1:26379,host2:26379/<primary name>/<db>``: the
  sentinels, the name they monitor the primary under, the database
  (``rediss+sentinel://`` over TLS); or a Redis Cluster's nodes,
  ``redis+cluster://node1:6379,node2:6379`` (database 0 only; ``rediss+cluster://`` over TLS).
"""

import ipaddress
import re
from urllib.parse import unquote

from .topic_filter import CONTROL, line_control_error

BACKBONE_KINDS = ("amqp", "kafka", "redis")
URL_SCHEMES = {"amqp": ("amqp", "amqps"), "redis": ("redis", "rediss")}
TLS_SCHEMES = ("amqps", "rediss", "rediss+cluster", "rediss+sentinel")
URL_EXAMPLES = {
    "amqp": "amqp://host:5672/vhost or amqps://host:5671/vhost",
    "kafka": "host:9092,host2:9092",
    "redis": "redis://host:6379/0 or rediss://host:6380/0",
}
NAME_WORDS = {"amqp": "queue", "kafka": "topic", "redis": "stream"}
SASL_MECHANISMS = [
    ("none", "None"),
    ("plain", "PLAIN"),
    ("scram-sha-256", "SCRAM-SHA-256"),
    ("scram-sha-512", "SCRAM-SHA-512"),
]

AMQP_MAX_NAME_BYTES = 255
KAFKA_MAX_TOPIC_CHARS = 249
KAFKA_TOPIC = re.compile(r"^[a-zA-Z0-9._-]+$")
HOST_NAME = re.compile(r"^[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$")


def split_names(text):
    """The queue/topic/stream names of a text field: one per line, blanks dropped.

    Only for a text ``list_error`` accepts: Python reads U+001C to U+001E and U+0085,
    control characters, as line breaks and as space, so one name holding one would
    silently become two, or another name."""
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


def list_error(text):
    """Why the text of a list of names holds what no name may ('' when it does not): a control
    character other than the line breaks and tabs between and around names."""
    return line_control_error(text)


def host_error(host):
    """Why ``host`` is not a host name or IP address ('' when it is)."""
    if not host:
        return "a host is missing"
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{host} is not an IPv6 address"
        return ""
    if not HOST_NAME.match(host) or len(host) > 253:
        return f"{host!r} is not a host name or IP address"
    return ""


def port_error(port_text):
    """Why ``port_text`` is not a TCP port ('' when it is)."""
    if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
        return f"{port_text!r} is not a port (1 to 65535)"
    return ""


def host_port_error(text, port_required):
    """Why ``text`` is not ``host``, ``host:port`` or ``[ipv6]:port`` ('' when it is)."""
    if text.startswith("["):
        closing = text.find("]")
        host, rest = (text, "") if closing < 0 else (text[: closing + 1], text[closing + 1 :])
        if rest and not rest.startswith(":"):
            return f"{text!r} is not host:port"
        has_port, port = bool(rest), rest[1:]
    else:
        host, sep, port = text.rpartition(":")
        has_port = bool(sep)
        if not has_port:
            host = port
    error = host_error(host)
    if error:
        return error
    if not has_port:
        return "the port is missing (host:9092)" if port_required else ""
    return port_error(port)


def url_error(kind, url):
    """Why ``url`` is not a broker address for a connection of ``kind`` ('' when it is)."""
    url = (url or "").strip()
    if not url:
        return f"the broker URL is missing (e.g. {URL_EXAMPLES[kind]})"
    if any(char.isspace() for char in url) and kind != "kafka":
        return "a URL holds no spaces"
    if kind == "kafka":
        return bootstrap_error(url)
    schemes = URL_SCHEMES[kind]
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if kind == "redis" and scheme in ("redis+sentinel", "rediss+sentinel"):
        return sentinel_url_error(url)
    if kind == "redis" and scheme in ("redis+cluster", "rediss+cluster"):
        return cluster_url_error(url)
    if scheme not in schemes:
        also = f", or {SENTINEL_EXAMPLE} behind Sentinel, or {CLUSTER_EXAMPLE}" if kind == "redis" else ""
        return f"the URL must start with {schemes[0]}:// or {schemes[1]}:// (e.g. {URL_EXAMPLES[kind]}){also}"
    # Split by hand: urlsplit raises ValueError on a stray bracket ("amqp://[::1/x"), which a
    # constraint would show as a server error, and refuses a list of nodes with an IPv6 one.
    netloc, path, _query, fragment = URL_PARTS.match(url).groups()
    if "@" in netloc:
        return (
            "the URL holds a user or password: put them in the User and Password fields instead "
            "(the URL is shown to everyone who may read the connection; the password is kept secret)"
        )
    if kind == "amqp" and "," in netloc:
        error = _host_entries_error(netloc, "node", AMQP_NODES_EXAMPLE)
    else:
        error = host_port_error(netloc, port_required=False)
    if error:
        return error
    if fragment:
        return "a URL has no #fragment here"
    if kind == "amqp":
        if path.count("/") > 1:
            return "the virtual host is one path segment, URL-encoded (amqp://host:5672/%2F for the vhost '/')"
        if _query:
            return amqp_query_error(_query)
    elif path not in ("", "/") and not re.fullmatch(r"/\d+", path):
        return "the path of a Redis URL is the database number (redis://host:6379/0)"
    elif _query:
        # The sidecar's client would take each parameter for an option of its own, over the sidecar's.
        return f"this URL has no ?query or #fragment (e.g. {URL_EXAMPLES[kind]})"
    return ""


MQTT_SCHEMES = ("mqtt", "mqtts", "tcp", "ssl", "tls", "ws", "wss")


def mqtt_url_error(url):
    """Why ``url`` is not a broker URL the sidecar's MQTT client reads as written ('' when it is),
    as the sidecar's ``mqttUrlProblem`` says (core/mqtt-url.ts): a scheme it speaks, a host and
    port, no path or ?query over TCP (the client ignores the one and reads ?clientId= over the
    connection's MQTT client id), no ?clientId= over WebSocket either, no #fragment."""
    if any(char.isspace() for char in url):
        return "a URL holds no spaces"
    scheme, sep, _rest = url.partition("://")
    if not sep or not re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme):
        return "it is not scheme://host:port (e.g. mqtt://broker:1883, mqtts://broker:8883)"
    scheme = scheme.lower()
    if scheme not in MQTT_SCHEMES:
        return f"{scheme}:// is no MQTT scheme (mqtt://, mqtts://, tcp://, ssl://, tls://, ws://, wss://)"
    netloc, path, query, fragment = URL_PARTS.match(url).groups()
    error = host_port_error(netloc.rpartition("@")[2], port_required=False)
    if error:
        return error
    if fragment is not None:
        return "a broker URL has no #fragment"
    if scheme in ("ws", "wss"):
        if query is not None and any(pair.split("=")[0] == "clientId" for pair in query.split("&")):
            return "?clientId= would replace the connection's MQTT client id: set it there"
        return ""
    if path not in ("", "/"):
        return f"MQTT over TCP has no path ({path} would be ignored); over WebSocket it has: ws://host:8080/mqtt"
    if query is not None:
        return "MQTT over TCP has no ?query (the client would read ?clientId= over the connection's MQTT client id)"
    return ""


AMQP_NODES_EXAMPLE = "amqp://node1:5672,node2:5672,node3:5672/vhost"
# RabbitMQ's URI query parameters the sidecar reads (sources/amqp/source.ts, amqpUriQuery): the
# whole numbers each takes (least to most, and 0 too where zero is true: the broker's limit), and
# how to say them.
AMQP_QUERY = {
    "heartbeat": (
        1,
        65535,
        False,
        "seconds from 1 to 65535 (0 would turn heartbeats off and leave a broker that stops answering unnoticed)",
    ),
    "connection_timeout": (1, 3600000, False, "milliseconds from 1 to 3600000"),
    "channel_max": (1, 65535, True, "channels from 0 (the broker's limit) to 65535"),
    "frame_max": (4096, 4294967295, True, "bytes, 0 (the broker's limit) or 4096 to 4294967295"),
}
_AMQP_TLS_ELSEWHERE = (
    "TLS is set on the connection: its CA, Verify queue broker certificate, client certificate and key"
)
# Parameters of that spec with a field of their own on the connection.
AMQP_QUERY_ELSEWHERE = {
    "cacertfile": _AMQP_TLS_ELSEWHERE,
    "certfile": _AMQP_TLS_ELSEWHERE,
    "keyfile": _AMQP_TLS_ELSEWHERE,
    "verify": _AMQP_TLS_ELSEWHERE,
    "server_name_indication": "the certificate is checked against the host the URL names",
    "depth": _AMQP_TLS_ELSEWHERE,
    "fail_if_no_peer_cert": _AMQP_TLS_ELSEWHERE,
    "password": "the password goes in the connection's Queue password",
    "auth_mechanism": "the sidecar logs in with the connection's Queue user and Queue password (PLAIN)",
}


def amqp_query_error(query):
    """Why the ``?query`` of an AMQP URI is not one the sidecar reads ('' when it is): RabbitMQ's URI
    query parameters heartbeat, connection_timeout, channel_max and frame_max, each a whole number
    once. Anything else would be ignored, and seem to work."""
    seen = set()
    for pair in query.split("&"):
        name, eq, value = pair.partition("=")
        if name not in AMQP_QUERY:
            if name in AMQP_QUERY_ELSEWHERE:
                return f"the query parameter {name!r} is not read here: {AMQP_QUERY_ELSEWHERE[name]}"
            return (
                f"{name!r} is no query parameter the sidecar reads "
                "(heartbeat, connection_timeout, channel_max, frame_max)"
            )
        if name in seen:
            return f"the query names {name} twice"
        seen.add(name)
        least, most, zero, what = AMQP_QUERY[name]
        number = int(value) if eq and re.fullmatch(r"[0-9]{1,10}", value) else None
        if number is None or not (least <= number <= most or (number == 0 and zero)):
            return f"{name}={value}: {name} is a whole number of {what}"
    return ""


# scheme://authority/path?query#fragment, as RFC 3986 splits it (the scheme is checked before).
URL_PARTS = re.compile(r"^[^:]*://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?$", re.DOTALL)
SENTINEL_EXAMPLE = "redis+sentinel://host1:26379,host2:26379/mymaster/0"
CLUSTER_EXAMPLE = "redis+cluster://node1:6379,node2:6379"
SENTINEL_PATH = re.compile(r"^/([^/]+)(?:/(\d+))?/?$")


def is_sentinel_url(url):
    """Whether a Redis URL names its server through Sentinel (``redis+sentinel://``)."""
    return (url or "").strip().lower().startswith("redis+sentinel://")


def is_cluster_url(url):
    """Whether a Redis URL names a Redis Cluster's nodes (``redis+cluster://``)."""
    return (url or "").strip().lower().startswith("redis+cluster://")


def _host_list_error(url, hosts, what, example):
    """Why the ``host[:port],…`` list of a Sentinel or Cluster URL is wrong ('' when it is not); ``what``
    names an entry."""
    if "@" in hosts:
        return (
            "the URL holds a user or password: put them in the User and Password fields instead "
            "(the URL is shown to everyone who may read the connection; the password is kept secret)"
        )
    if "?" in url or "#" in url:
        return f"this URL has no ?query or #fragment (e.g. {example})"
    return _host_entries_error(hosts, what, example)


def _host_entries_error(hosts, what, example):
    """Why an entry of a ``host[:port],…`` list is not a host and port ('' when none is wrong)."""
    for entry in hosts.split(","):
        error = host_port_error(entry.strip(), port_required=False)
        if error:
            return f"{what} {entry.strip()!r}: {error} (e.g. {example})"
    return ""


def cluster_url_error(url):
    """Why ``url`` is not ``redis+cluster://node1:6379,node2`` ('' when it is)."""
    _scheme, rest = url.split("://", 1)
    hosts, _slash, path = rest.partition("/")
    error = _host_list_error(url, hosts, "node", CLUSTER_EXAMPLE)
    if error:
        return error
    if path not in ("", "0"):
        return f"a Redis Cluster has database 0 only: no path after the nodes (e.g. {CLUSTER_EXAMPLE})"
    return ""


def sentinel_url_error(url):
    """Why ``url`` is not ``redis+sentinel://host1:26379,host2/<primary name>[/<db>]`` ('' when it is)."""
    _scheme, rest = url.split("://", 1)
    hosts, slash, path = rest.partition("/")
    error = _host_list_error(url, hosts, "sentinel", SENTINEL_EXAMPLE)
    if error:
        return error
    match = SENTINEL_PATH.match(slash + path)
    if not match:
        return (
            "after the sentinels comes the name they monitor the primary under, then the database "
            f"number if not 0 (e.g. {SENTINEL_EXAMPLE})"
        )
    name = match.group(1)
    try:
        if re.search(r"%(?![0-9A-Fa-f]{2})", name):
            raise ValueError(name)
        unquote(name, errors="strict")
    except (ValueError, UnicodeDecodeError):
        return f"the primary's name {name!r} is not valid percent-encoding (UTF-8, %20 for a space)"
    return ""


def bootstrap_error(text):
    """Why ``text`` is not a Kafka bootstrap list ``host:port,host2:port`` ('' when it is)."""
    if "://" in text:
        return (
            "Kafka takes its bootstrap brokers without a scheme, host:9092,host2:9092 (TLS is the "
            "'TLS' box, not the URL)"
        )
    for entry in text.split(","):
        entry = entry.strip()
        if not entry:
            return "the bootstrap list has an empty entry (host:9092,host2:9092: no doubled or trailing commas)"
        if any(char.isspace() for char in entry):
            return f"{entry!r}: separate the brokers with commas (host:9092,host2:9092)"
        error = host_port_error(entry, port_required=True)
        if error:
            return f"{entry!r}: {error}"
    return ""


def name_error(kind, name):
    """Why ``name`` is not a queue (amqp), topic (kafka) or stream (redis) name ('' when it is)."""
    if CONTROL.search(name):
        return f"{name!r} holds a control character"
    if kind == "amqp":
        if len(name.encode("utf-8")) > AMQP_MAX_NAME_BYTES:
            return f"a queue name is at most {AMQP_MAX_NAME_BYTES} bytes"
        if name.startswith("amq."):
            return f"{name!r}: queue names starting with 'amq.' are reserved for the broker"
        return ""
    if kind == "kafka":
        if name in (".", ".."):
            return f"{name!r} is not a topic name"
        if len(name) > KAFKA_MAX_TOPIC_CHARS:
            return f"a topic name is at most {KAFKA_MAX_TOPIC_CHARS} characters"
        if not KAFKA_TOPIC.match(name):
            return f"{name!r}: a topic name holds only letters a-z and A-Z, digits, '.', '_' and '-'"
        if name.startswith("__"):
            return f"{name!r}: topics starting with '__' are Kafka's internal topics"
        return ""
    return ""


def names_error(kind, names):
    """Why the list ``names`` is not what a connection of ``kind`` consumes ('' when it is)."""
    word = NAME_WORDS[kind]
    if not names:
        return f"name at least one {word} to consume, one per line"
    seen = set()
    for name in names:
        error = name_error(kind, name)
        if error:
            return error
        if name in seen:
            return f"{word} {name!r} is listed twice"
        seen.add(name)
    return ""


def group_error(kind, group):
    """Why ``group`` is not a consumer group of ``kind`` ('' when it is; amqp has none)."""
    if kind == "amqp":
        return ""
    if CONTROL.search(group):
        # Before the spaces around it are trimmed: Python trims U+001C to U+001F and U+0085 as space.
        return f"the consumer group {group!r} holds a control character"
    group = group.strip()
    if not group:
        broker = "Kafka" if kind == "kafka" else "Redis"
        return (
            f"a {broker} connection needs a consumer group: the sidecars of one group share the "
            f"{NAME_WORDS[kind]}s, each message goes to one of them"
        )
    return ""


def pem_certificate_error(text):
    """Why ``text`` is not PEM certificate text ('' when it is or is empty)."""
    text = (text or "").strip()
    if text and ("-----BEGIN CERTIFICATE-----" not in text or "-----END CERTIFICATE-----" not in text):
        return "it must be PEM text (-----BEGIN CERTIFICATE----- … -----END CERTIFICATE-----)"
    return ""


def pem_private_key_error(text):
    """Why ``text`` is not an unencrypted PEM private key ('' when it is or is empty)."""
    text = (text or "").strip()
    if not text:
        return ""
    if "ENCRYPTED PRIVATE KEY" in text or "Proc-Type: 4,ENCRYPTED" in text:
        return "the key is encrypted: the sidecar needs it unencrypted (openssl pkey -in key.pem -out plain.pem)"
    if not re.search(r"-----BEGIN [A-Z ]*PRIVATE KEY-----", text) or not re.search(
        r"-----END [A-Z ]*PRIVATE KEY-----", text
    ):
        return "it must be a PEM private key (-----BEGIN PRIVATE KEY----- … -----END PRIVATE KEY-----)"
    return ""


def without_userinfo(url):
    """``url`` without a user or password in it (``mqtt://u:p@host`` → ``mqtt://host``), for showing."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    authority, slash, path = rest.partition("/")
    return f"{scheme}://{authority.rpartition('@')[2]}{slash}{path}"


def tls_implied(kind, url):
    """Whether the URL itself asks for TLS (amqps://, rediss://, rediss+cluster://, rediss+sentinel://)."""
    return kind in URL_SCHEMES and (url or "").strip().lower().split("://", 1)[0] in TLS_SCHEMES
