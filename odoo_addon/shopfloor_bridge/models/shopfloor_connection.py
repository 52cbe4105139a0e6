import json
import math
from datetime import datetime, timedelta

import pytz

from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from .. import alerting, backbone, historian, plc
from ..field_guard import refuse_protected_write
from ..opcua_node import endpoint_error
from ..revision_diff import restoring
from ..rpc_errors import rpc_error
from ..secret_columns import store_each_quietly, store_quietly, without_quiet
from ..storable_text import escape
from ..topic_filter import filter_list_error, sparkplug_id_error

INT4_MAX = 2**31 - 1
KEY_EXPIRY_WARNING_DAYS = 30

MANAGER_GROUP = "shopfloor_bridge.shopfloor_bridge_group_manager"
INTEGRATION_GROUP = "shopfloor_bridge.shopfloor_bridge_group_integration"
# Holds no user: the stored secrets are read and written only by sudo code
# (the write-only fields below and sidecar_config for the connection's sidecar).
SECRETS_GROUP = "shopfloor_bridge.shopfloor_bridge_group_secrets"
# Write-only field → the column that stores it.
# Written by the sidecar (heartbeat) and by mapping changes (revision), never by hand;
# a connection's company holds its events and mappings, so it does not move.
AUDITED_FIELDS = {
    "revision": None,
    "last_seen": None,
    "sidecar_version": None,
    "spool_depth": None,
    "spool_parked": None,
    "rate_in": None,
    "rate_applied": None,
    "stats_json": None,
}
SECRET_FIELDS = {
    "mqtt_password": "mqtt_password_secret",
    "mqtt_client_key": "mqtt_client_key_secret",
    "opcua_password": "opcua_password_secret",
    "http_tls_key": "http_tls_key_secret",
    "backbone_password": "backbone_password_secret",
    "backbone_client_key": "backbone_client_key_secret",
    "sql_password": "sql_password_secret",  # historian import
}
# Settings of the HTTP intake and the Sparkplug host role: the sidecar applies
# them when the revision moves, as it does mapping changes.
RELOADED_FIELDS = (
    "http_enabled",
    "http_port",
    "http_bind",
    "http_tls_cert",
    "http_max_body_bytes",
    "sparkplug_host_role",
    "mqtt_keepalive_s",
    "backbone_url",
    "backbone_names",
    "backbone_group",
    "backbone_consumer",
    "backbone_username",
    "backbone_tls",
    "backbone_ca",
    "backbone_reject_unauthorized",
    "backbone_client_cert",
    "backbone_prefetch",
    "backbone_sasl_mechanism",
    "backbone_claim_idle_ms",
    "plc_host",
    "plc_port",
    "plc_unit_id",
    "plc_rack",
    "plc_slot",
    "plc_poll_interval_ms",
    "plc_timeout_ms",
    "batch_size",
    "batch_wait_ms",
    "batch_send_at",
    "delivery_partitions",
    "catchup_backlog",
    "catchup_batch_size",
)
# ---- historian import (issue 19): the drop folder and the SQL query, reloaded like the rest
HISTORIAN_RELOADED_FIELDS = (
    "folder_path",
    "folder_pattern",
    "folder_encoding",
    "folder_delimiter",
    "folder_settle_ms",
    "folder_poll_interval_ms",
    "sql_driver",
    "sql_host",
    "sql_port",
    "sql_database",
    "sql_username",
    "sql_query",
    "sql_watermark_column",
    "sql_initial_watermark",
    "sql_interval_ms",
)
RELOADED_FIELDS += HISTORIAN_RELOADED_FIELDS
# ---- end historian import
# Written through the write-only inputs: a value typed is a new secret the sidecar must load.
# Readable by managers, but a secret all the same: kept out of the ORM's statements (secret_columns).
QUIET_FIELDS = ("alert_webhook_url",)
RELOADED_SECRETS = ("http_tls_key", "backbone_password", "backbone_client_key", "sql_password")
DEFAULT_HTTP_PORT = 8088
DEFAULT_HTTP_MAX_BODY_BYTES = 4 * 1024 * 1024
DEFAULT_PREFETCH = 500
MAX_PREFETCH = 10000
DEFAULT_CLAIM_IDLE_MS = 30000
MIN_CLAIM_IDLE_MS = 1000
MAX_CLAIM_IDLE_MS = 3600000
MAX_PARTITIONS = 16
MAX_BATCH = 1000


def acting_connections(env):
    """The connections the caller acts for: those listing it among their
    integration users, in its companies. ``None`` for the superuser, who may
    act for any connection."""
    if env.su:
        return None
    if not env.user.has_group(INTEGRATION_GROUP):  # listed once, since taken out of the group
        return env["shopfloor.connection"].sudo().browse()
    return (
        env["shopfloor.connection"]
        .sudo()
        .with_context(active_test=False)
        .search([("integration_user_ids", "in", env.uid), ("company_id", "in", env.user.company_ids.ids)])
    )


def check_rpc_caller(env):
    """The sidecar API is for the integration users of a connection only.

    Checked on the server because the RPC methods run with elevated rights
    (sudo) once the caller is known to be allowed. Returns the connections
    the caller acts for (``None``: the superuser, any connection).
    """
    connections = acting_connections(env)
    if connections is not None and not connections:
        raise rpc_error(
            "forbidden",
            env._(
                "User %(user)s may not call the Shop Floor Bridge sidecar API: it is not an integration user "
                "of any connection. A manager adds it under Shop Floor → Configuration → Connections → "
                '(connection) → Security → Integration users, or creates one there with "New integration user".',
                user=env.user.login,
            ),
        )
    return connections


def refuse_connection(env, connection):
    """The AccessError for a caller that may not act for ``connection``."""
    return rpc_error(
        "forbidden",
        env._(
            "User %(user)s may not act for connection %(code)s (company %(company)s): it is not one of its "
            "integration users. A manager of %(company)s adds it under the connection's Security tab.",
            user=env.user.login,
            code=connection.code,
            company=connection.company_id.name,
        ),
    )


def xmlrpc_safe(value):
    """XML-RPC cannot carry None: False in its place, all the way down."""
    if value is None:
        return False
    if isinstance(value, dict):
        return {key: xmlrpc_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [xmlrpc_safe(item) for item in value]
    return value


def iso_utc(value):
    """An Odoo naive-UTC datetime as RFC 3339 text ('' when empty)."""
    if not value:
        return ""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class ShopfloorConnection(models.Model):
    _name = "shopfloor.connection"
    _description = "Shop Floor Connection"
    _inherit = ["mail.thread", "mail.activity.mixin"]
    _order = "company_id, code"

    code = fields.Char(
        required=True,
        index=True,
        tracking=True,
        help="What the sidecar's SHOPFLOOR_CONNECTION names; unique per company.",
    )
    name = fields.Char(required=True, tracking=True)
    kind = fields.Selection(
        [
            ("mqtt", "MQTT (JSON CloudEvents)"),
            ("sparkplug", "Sparkplug B"),
            ("opcua", "OPC UA"),
            ("amqp", "RabbitMQ (AMQP 0-9-1)"),
            ("kafka", "Kafka"),
            ("redis", "Redis Streams"),
            ("modbus", "Modbus TCP"),
            ("s7", "Siemens S7"),
            ("enip", "EtherNet/IP (Allen-Bradley Logix)"),
            ("folder", "CSV drop folder (historian exports)"),
            ("sql", "SQL query (historian database)"),
        ],
        required=True,
        default="mqtt",
        tracking=True,
        help="Where the sidecar takes its input: an MQTT broker, a Sparkplug B group, an OPC UA server, a "
        "message queue the plant already runs (RabbitMQ queues, Kafka topics, Redis streams), one PLC it polls "
        "directly (Modbus TCP, Siemens S7, EtherNet/IP), or a historian: CSV exports dropped in a folder, or rows "
        "polled from its database.",
    )
    is_plc = fields.Boolean(
        string="Polled PLC",
        compute="_compute_is_plc",
        help="Modbus TCP, Siemens S7 or EtherNet/IP: the settings under PLC apply.",
    )
    is_backbone = fields.Boolean(
        string="Message queue",
        compute="_compute_is_backbone",
        help="RabbitMQ, Kafka or Redis Streams: the settings under Message queue apply.",
    )
    site = fields.Char(help="Plant or site this endpoint serves (informative).")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    active = fields.Boolean(default=True, tracking=True)
    revision = fields.Integer(
        default=1,
        readonly=True,
        copy=False,
        tracking=True,
        help="Bumped by every mapping change; the sidecar reloads its configuration when it moves.",
    )

    # MQTT / Sparkplug transport
    mqtt_url = fields.Char(
        string="Broker URL",
        help="mqtt://host:1883 or mqtts://host:8883 (tcp://, ssl://, tls:// too), or over WebSocket "
        "ws://host:8080/mqtt or wss://host/mqtt. MQTT over TCP takes no path and no ?query.",
    )
    topic_filters = fields.Text(help="One MQTT topic filter per line, e.g. shopfloor/#")
    client_id = fields.Char(
        string="MQTT client id",
        help="Stable client id for the persistent session; empty = sfb-<connection code>.",
    )
    mqtt_protocol_version = fields.Selection(
        [("4", "3.1.1"), ("5", "5.0")], string="MQTT version", default="5", required=True
    )
    mqtt_keepalive_s = fields.Integer(
        string="Keepalive (s)",
        default=60,
        help="Seconds between the sidecar's MQTT pings when nothing else is sent (1 to 65535). A broker that "
        "leaves a ping unanswered (a frozen host, a network that drops packets) is taken for gone and connected "
        "again; the broker drops a sidecar silent for 1.5 times this. Lower notices a dead broker sooner; an MQTT 5 "
        "broker may ask for another value (Server Keep Alive), which the sidecar then uses.",
    )
    mqtt_username = fields.Char(string="MQTT user")
    mqtt_password = fields.Char(
        string="MQTT password",
        compute="_compute_secret_inputs",
        inverse="_inverse_secrets",
        help="Write-only: stored for the sidecar, never shown again. Type a new one to replace it.",
    )
    mqtt_password_secret = fields.Char(groups=SECRETS_GROUP, copy=False)
    mqtt_ca = fields.Text(
        string="CA certificate (PEM)",
        help="The CA that signed the broker's certificate (mqtts:// only). Empty: the system's CAs.",
    )
    mqtt_reject_unauthorized = fields.Boolean(
        string="Verify broker certificate",
        default=True,
        help="Refuse a broker whose certificate the CA does not vouch for. Turn off only for a test broker.",
    )
    mqtt_client_cert = fields.Text(
        string="Client certificate (PEM)",
        help="The sidecar's own certificate for brokers that require one (mutual TLS, mqtts:// only).",
    )
    mqtt_client_key = fields.Text(
        string="Client private key (PEM)",
        compute="_compute_secret_inputs",
        inverse="_inverse_secrets",
        help="Write-only: the private key of the client certificate, stored for the sidecar, never shown again.",
    )
    mqtt_client_key_secret = fields.Text(groups=SECRETS_GROUP, copy=False)
    sparkplug_group_id = fields.Char(string="Sparkplug group id")
    sparkplug_host_id = fields.Char(string="Sparkplug host id")
    sparkplug_host_role = fields.Selection(
        [("primary", "Primary host"), ("passive", "Passive (secondary) host")],
        string="Sparkplug host role",
        default="primary",
        required=True,
        help="Primary: publishes its STATE and asks edge nodes for a Rebirth on a sequence gap. Passive: only "
        "listens (no STATE, no Rebirth requests), beside the plant's primary host (e.g. Ignition).",
    )

    # Message queue (RabbitMQ, Kafka, Redis Streams)
    backbone_url = fields.Char(
        string="Broker URL (queue)",
        help="RabbitMQ: amqp://host:5672/vhost, or amqps://host:5671/vhost for TLS (the vhost URL-encoded: "
        "%2F for '/'), or a cluster's nodes, amqp://node1:5672,node2:5672/vhost (the sidecar connects to the "
        "first that answers and, when its node goes, to the next); RabbitMQ's query parameters heartbeat "
        "(seconds, default 15), connection_timeout (ms, default 10000), channel_max and frame_max are read, "
        "e.g. amqp://host/vhost?heartbeat=30. Kafka: the bootstrap brokers, "
        "host:9092,host2:9092 (no scheme; TLS is the TLS box). "
        "Redis: redis://host:6379/0 (the number is the database), or rediss://host:6380/0 for TLS, or behind "
        "Sentinel redis+sentinel://host1:26379,host2:26379/mymaster/0 (the sentinels, the primary's name, "
        "the database; rediss+sentinel:// for TLS), or a Redis Cluster's nodes, "
        "redis+cluster://node1:6379,node2:6379 (rediss+cluster:// for TLS). "
        "No user or password in the URL: they have their own fields.",
    )
    backbone_names = fields.Text(
        string="Queues / topics / streams",
        help="What the sidecar consumes, one per line: RabbitMQ queue names, Kafka topic names, Redis stream "
        "keys. They must exist with the durability the broker settings in the module's readme describe.",
    )
    backbone_group = fields.Char(
        string="Consumer group",
        help="Kafka consumer group id or Redis consumer group (required for both): the sidecars of one group "
        "share the work, each message goes to one of them and a dead one's share is taken over. Not used by "
        "RabbitMQ (sidecars on one queue share it anyway).",
    )
    backbone_consumer = fields.Char(
        string="Consumer name",
        help="This sidecar's name in its group (Kafka client id, Redis consumer, RabbitMQ consumer tag). "
        "Empty: derived from the sidecar's host name. Each sidecar of a group needs its own.",
    )
    backbone_username = fields.Char(string="Queue user", help="User name on the broker (Kafka: the SASL user).")
    backbone_password = fields.Char(
        string="Queue password",
        compute="_compute_secret_inputs",
        inverse="_inverse_secrets",
        help="Write-only: stored for the sidecar, never shown again. Type a new one to replace it.",
    )
    backbone_password_secret = fields.Char(groups=SECRETS_GROUP, copy=False)
    backbone_tls = fields.Boolean(
        string="TLS",
        help="Talk to the broker over TLS. Kafka: tick it for TLS listeners. RabbitMQ and Redis: the amqps:// "
        "and rediss:// URLs mean TLS; this box follows them.",
    )
    backbone_ca = fields.Text(
        string="Queue CA certificate (PEM)",
        help="The CA that signed the broker's certificate (TLS only). Empty: the system's CAs.",
    )
    backbone_reject_unauthorized = fields.Boolean(
        string="Verify queue broker certificate",
        default=True,
        help="Refuse a broker whose certificate the CA does not vouch for (TLS only). Turn off only for a test "
        "broker.",
    )
    backbone_client_cert = fields.Text(
        string="Queue client certificate (PEM)",
        copy=False,  # its key, a secret, is not copied: a copy gets both anew
        help="The sidecar's own certificate for brokers that require one (mutual TLS). Needs the key below.",
    )
    backbone_client_key = fields.Text(
        string="Queue client private key (PEM)",
        compute="_compute_secret_inputs",
        inverse="_inverse_secrets",
        help="Write-only: the unencrypted private key of the client certificate, stored for the sidecar, never "
        "shown again.",
    )
    backbone_client_key_secret = fields.Text(groups=SECRETS_GROUP, copy=False)
    backbone_prefetch = fields.Integer(
        string="Prefetch",
        default=DEFAULT_PREFETCH,
        help="Most messages taken and not yet acknowledged (RabbitMQ prefetch, Redis read COUNT, Kafka batch). "
        "A message is acknowledged only once the sidecar's spool holds it: what it has not stored, it does "
        "not take. 1 to 10000.",
    )
    backbone_sasl_mechanism = fields.Selection(
        backbone.SASL_MECHANISMS,
        string="SASL mechanism",
        default="none",
        required=True,
        help="Kafka only: how the user and password are checked (the broker's sasl.enabled.mechanisms). PLAIN "
        "sends the password as it is: use it with TLS only.",
    )
    backbone_claim_idle_ms = fields.Integer(
        string="Take over after (ms)",
        default=DEFAULT_CLAIM_IDLE_MS,
        help="Redis: how long a message another consumer took may stay unacknowledged before this one claims "
        "it (XAUTOCLAIM). Kafka: the group's session timeout, after which a dead sidecar's partitions go to "
        "the others (the broker allows 6000 to 1800000 unless configured otherwise). 1000 to 3600000.",
    )

    # Directly polled PLC (Modbus TCP, Siemens S7, EtherNet/IP)
    plc_host = fields.Char(
        string="PLC host",
        help="Host name or IP address of the PLC (or of the Modbus gateway); no scheme, no port.",
    )
    plc_port = fields.Integer(
        string="PLC port",
        default=0,
        help="TCP port; 0: the protocol's own (Modbus TCP 502, Siemens S7 102, EtherNet/IP 44818).",
    )
    plc_port_hint = fields.Char(string="Port in use", compute="_compute_plc_port_hint")
    plc_unit_id = fields.Integer(
        string="Unit id",
        default=1,
        help="Modbus: the unit (slave) id the requests carry, 0 to 255. A gateway routes it to a serial device; "
        "most TCP devices answer 1, 0 or 255.",
    )
    plc_rack = fields.Integer(string="Rack", default=0, help="Siemens S7: the CPU's rack, 0 to 7 (almost always 0).")
    plc_slot = fields.Integer(
        string="Slot",
        default=0,
        help="Siemens S7: the CPU's slot, 0 to 31 (S7-300: 2; S7-1200/1500: 1 or 0; S7-400: from the hardware "
        "configuration). EtherNet/IP: the Logix controller's slot in its chassis (usually 0).",
    )
    plc_poll_interval_ms = fields.Integer(
        string="Poll interval (ms)",
        default=plc.DEFAULT_POLL_INTERVAL_MS,
        help="Time from the start of one read of every tag to the start of the next; at least 50 ms.",
    )
    plc_timeout_ms = fields.Integer(
        string="Timeout (ms)",
        default=plc.DEFAULT_TIMEOUT_MS,
        help="How long one request may take before the PLC counts as unreachable (the sidecar then reconnects with "
        "backoff and the dashboard shows it). Reads never overlap: a timeout longer than the poll interval lets a "
        "slow PLC delay the next poll instead of losing it. 100 to 600000.",
    )
    plc_timeout_note = fields.Char(compute="_compute_plc_port_hint")
    # ---- historian import (issue 19): CSV drop folder, SQL query with a watermark
    is_historian = fields.Boolean(
        string="Historian import",
        compute="_compute_is_historian",
        help="A CSV drop folder or an SQL query: the settings under Historian import apply.",
    )
    folder_path = fields.Char(
        string="Drop folder",
        help="Absolute path of the folder the exports are written to, as the sidecar's machine sees it "
        "(FOLDER_PATH in the sidecar's environment overrides it). The sidecar creates done/ and failed/ in it.",
    )
    folder_pattern = fields.Char(
        string="File pattern",
        default="*.csv",
        help="Names of the files taken, with * and ? (case-insensitive). Files whose names end in .tmp or .part "
        "or start with . or ~ are never taken: an exporter that writes under such a name and renames when done "
        "needs no settle time.",
    )
    folder_encoding = fields.Selection(
        historian.CSV_ENCODINGS,
        string="Encoding",
        default="utf-8",
        required=True,
        help="The encoding the exports are written in. A file that is not valid in it goes to failed/ with the "
        "reason. The AVEVA Historian Client writes UTF-16 ('Unicode') or Windows-1252 ('ANSI').",
    )
    folder_delimiter = fields.Selection(
        historian.CSV_DELIMITERS,
        string="Delimiter",
        default="auto",
        required=True,
        help="Between fields. Detect: the one of , ; tab | the header line has most of.",
    )
    folder_settle_ms = fields.Integer(
        string="Settle time (ms)",
        default=5000,
        help="A file is read once its size and modification time have stayed the same this long. 0 to 3600000.",
    )
    folder_poll_interval_ms = fields.Integer(
        string="Folder poll interval (ms)", default=5000, help="How often the folder is listed. 100 to 3600000."
    )
    sql_driver = fields.Selection(historian.SQL_DRIVERS, string="Database", default="postgresql", required=True)
    sql_host = fields.Char(string="Database host", help="Host name or address (PostgreSQL: also a socket directory).")
    sql_port = fields.Integer(
        string="Database port", help="0 or empty: the database's own (PostgreSQL 5432, MariaDB 3306)."
    )
    sql_database = fields.Char(string="Database name")
    sql_username = fields.Char(string="Database user", help="A user that may only read what the query reads.")
    sql_password = fields.Char(
        string="Database password",
        compute="_compute_secret_inputs",
        inverse="_inverse_secrets",
        help="Write-only: stored for the sidecar, never shown again. Type a new one to replace it.",
    )
    sql_password_secret = fields.Char(groups=SECRETS_GROUP, copy=False)
    sql_query = fields.Text(
        string="Query",
        help="A SELECT with :last where the watermark goes, ordered by the watermark column, e.g. "
        "SELECT DateTime, TagName, Value, QualityDetail FROM history WHERE DateTime >= :last ORDER BY DateTime. "
        "Use >= (the sidecar skips the rows it took at the watermark's timestamp); each row goes to the payload "
        "mappings of transport SQL.",
    )
    sql_watermark_column = fields.Char(
        string="Watermark column",
        default="DateTime",
        help="The column of each row the watermark follows, as the query returns it (in another case when only "
        "one column has that name: PostgreSQL folds unquoted names to lower case).",
    )
    sql_initial_watermark = fields.Char(
        string="Initial watermark",
        default="1970-01-01 00:00:00",
        help="Where the first poll starts: a timestamp as the database writes it, or a number for a numeric "
        "column. Later polls go on from the watermark the sidecar committed.",
    )
    sql_interval_ms = fields.Integer(
        string="Query interval (ms)", default=10000, help="Time between two runs of the query. 100 to 86400000."
    )
    apply_mode = fields.Selection(
        historian.APPLY_MODES,
        string="Apply",
        default="realtime",
        required=True,
        help="On arrival: events are applied as they come. Batch: they are stored at once (duplicates and bad "
        "input answered as usual) and applied by the retry cron from the batch time on, for sites that import "
        "overnight rather than in real time.",
    )
    batch_apply_hour = fields.Float(
        string="Batch time",
        default=2.0,
        help="Batch mode: events stored are applied from this time of day on (the company's time zone, UTC "
        "without one); the retry cron applies them on its next run after it.",
    )
    # ---- end historian import

    # HTTP intake (CloudEvents HTTP binding and mapped JSON routes)
    http_enabled = fields.Boolean(
        string="HTTP intake",
        help="The sidecar also takes events over HTTP: POST /events (CloudEvents structured, binary and batched "
        "modes) and POST /routes/<route> (JSON a payload mapping turns into events), from the producers below.",
    )
    http_port = fields.Integer(
        string="HTTP port", default=DEFAULT_HTTP_PORT, help="TCP port; HTTP_PORT in the sidecar's environment wins."
    )
    http_bind = fields.Char(string="HTTP bind address", help="Address to listen on; empty: all addresses.")
    http_tls_cert = fields.Text(
        string="TLS certificate (PEM)",
        help="The certificate chain the HTTP intake presents; with the key below it serves HTTPS only.",
    )
    http_tls_key = fields.Text(
        string="TLS private key (PEM)",
        compute="_compute_secret_inputs",
        inverse="_inverse_secrets",
        help="Write-only: the private key of the TLS certificate, stored for the sidecar, never shown again.",
    )
    http_tls_key_secret = fields.Text(groups=SECRETS_GROUP, copy=False)
    http_max_body_bytes = fields.Integer(
        string="Largest request (bytes)",
        default=DEFAULT_HTTP_MAX_BODY_BYTES,
        help="A larger request body is refused (413) and nothing of it is taken.",
    )
    http_producer_ids = fields.One2many(
        "shopfloor.http.producer",
        "connection_id",
        string="HTTP producers",
        groups=MANAGER_GROUP,
        context={"active_test": False},
    )

    # OPC UA
    opcua_endpoint = fields.Char(string="OPC UA endpoint", help="opc.tcp://host:4840/path")
    opcua_security_mode = fields.Selection(
        [("None", "None"), ("Sign", "Sign"), ("SignAndEncrypt", "Sign and encrypt")],
        string="Security mode",
        default="None",
        required=True,
    )
    opcua_security_policy = fields.Selection(
        [
            ("None", "None"),
            ("Basic256Sha256", "Basic256Sha256"),
            ("Aes128_Sha256_RsaOaep", "Aes128_Sha256_RsaOaep"),
            ("Aes256_Sha256_RsaPss", "Aes256_Sha256_RsaPss"),
        ],
        string="Security policy",
        default="None",
        required=True,
    )
    opcua_auth = fields.Selection(
        [("anonymous", "Anonymous"), ("username", "User name"), ("certificate", "Certificate")],
        string="Authentication",
        default="anonymous",
        required=True,
    )
    opcua_username = fields.Char(string="OPC UA user")
    opcua_password = fields.Char(
        string="OPC UA password",
        compute="_compute_secret_inputs",
        inverse="_inverse_secrets",
        help="Write-only: stored for the sidecar, never shown again. Type a new one to replace it.",
    )
    opcua_password_secret = fields.Char(groups=SECRETS_GROUP, copy=False)
    uses_opcua = fields.Boolean(
        compute="_compute_uses_opcua",
        help="An OPC UA connection, or one with OPC UA floor targets (they write with these settings).",
    )
    secrets_set = fields.Char(
        string="Stored secrets",
        compute="_compute_secrets_set",
        help="Which secrets are stored (their values are never shown).",
    )
    opcua_publishing_interval_ms = fields.Integer(string="Publishing interval (ms)", default=1000)
    opcua_sampling_interval_ms = fields.Integer(string="Sampling interval (ms)", default=500)

    # Delivery and time
    skew_bound_ms = fields.Integer(
        string="Skew bound (ms)",
        default=5000,
        help="Events whose source clock differs from the canonical clock by more are flagged.",
    )
    skew_correct = fields.Boolean(
        string="Correct skewed times", help="Correct an out-of-bound event time by the estimated offset."
    )
    batch_size = fields.Integer(default=500, help="Events per ingest call (at most 1000).")
    batch_wait_ms = fields.Integer(
        string="Batch wait (ms)",
        default=1000,
        help="A batch that is not full goes to Odoo once its oldest event has waited this long. Every ingest "
        "call costs Odoo a share of its own (it reads its orders again and runs their cascades), so a short "
        "wait sends many small calls: events are applied sooner, and Odoo spends more CPU on each. A longer "
        "wait sends fewer, larger calls. The scale benchmark measures both.",
    )
    batch_send_at = fields.Integer(
        string="Send at (events)",
        default=100,
        help="A batch that is not full goes to Odoo as soon as this many events wait to go (in all the "
        "partitions free to take them), without waiting out the batch wait: a slow floor's events still "
        "go together once a wait, a busy floor's "
        "are not held back the whole wait (at 200 events/s and 100 here, a batch leaves every half "
        "second). 0: a batch goes only once full or once the wait is out.",
    )
    delivery_partitions = fields.Integer(
        string="Partitions",
        default=2,
        help="Batches in flight to Odoo at once, each carrying whole work centers (a work center's events stay "
        "in one partition, in time order); set Odoo's workers to at least this. 1 to 16.",
    )
    catchup_backlog = fields.Integer(
        string="Catch-up from (events)",
        default=5000,
        help="Queued events from which the sidecar runs in catch-up mode, with the catch-up batch size. " "0: never.",
    )
    catchup_batch_size = fields.Integer(
        string="Catch-up batch size",
        default=MAX_BATCH,
        help="Batch size in catch-up mode; Odoo's time limits bound it (at most 1000, at least the batch " "size).",
    )
    order_lookup = fields.Selection(
        [("name", "By manufacturing order name"), ("table", "Order mapping table")],
        default="name",
        required=True,
        help="How an order reference of the floor finds its manufacturing order.",
    )
    closed_order_policy = fields.Selection(
        [("dead_letter", "Dead-letter queue"), ("correction", "Correction on the order")],
        string="Closed orders",
        default="dead_letter",
        required=True,
        help="Floor events that arrive for an order (or work order) a person closed by hand. Dead-letter queue: "
        "they are parked there, naming who closed the order and when. Correction on the order: nothing is booked; "
        "the floor's count is recorded beside the booked quantity on the order (Floor counts after closing), its "
        "responsible gets an activity, and the event is applied and linked to that record.",
    )
    lot_policy = fields.Selection(
        [("floor", "The floor's lot or serial"), ("odoo", "Odoo generates one when the floor sends none")],
        string="Finished lots",
        default="floor",
        required=True,
        tracking=True,
        help="Lot or serial of a tracked finished product. Floor: the event's lot (found for the product in the "
        "company, or created); an event without one is refused. Odoo: the event's lot when it sends one, else the "
        "next one Odoo's own 'generate lot/serial' button on the order would give.",
    )
    max_attempts = fields.Integer(default=5, help="Failed applies retried this many times, then dead.")
    pending_timeout_minutes = fields.Integer(
        default=60, help="An event waiting for a prerequisite this long fails visibly."
    )
    dispatch_poll_interval_ms = fields.Integer(string="Dispatch poll interval (ms)", default=5000)

    # Who may act for this connection
    integration_user_ids = fields.Many2many(
        "res.users",
        "shopfloor_connection_integration_user_rel",
        "connection_id",
        "user_id",
        string="Integration users",
        domain=lambda self: [("groups_id", "in", self.env.ref(INTEGRATION_GROUP).id)],
        help="The users whose API keys a sidecar of this connection uses. Only they may fetch its configuration, "
        "send its events and heartbeats, and pull and acknowledge its floor messages.",
    )

    integration_key_expiry = fields.Datetime(
        string="First key expiry",
        compute="_compute_integration_key_expiry",
        help="When the first of the integration users' newest API keys expires (empty: no key that expires).",
    )
    integration_key_expiring = fields.Boolean(compute="_compute_integration_key_expiry")

    # ---- alerts (issue 21): rules, who hears of them, and where else they are posted
    responsible_user_ids = fields.Many2many(
        "res.users",
        "shopfloor_connection_responsible_user_rel",
        "connection_id",
        "user_id",
        string="Responsible users",
        domain=[("share", "=", False)],
        help="Get an activity and an e-mail when one of this connection's alerts opens, and an e-mail when it "
        "resolves. Empty: one Shop Floor manager of the connection's company.",
    )
    alert_rule_ids = fields.One2many(
        "shopfloor.alert.rule",
        "connection_id",
        string="Alert rules",
        default=lambda self: [(0, 0, values) for values in alerting.default_rules()],
    )
    alert_ids = fields.One2many("shopfloor.alert", "connection_id", string="Alerts")
    open_alert_count = fields.Integer(string="Open alerts", compute="_compute_open_alert_count")
    alert_webhook_kind = fields.Selection(
        alerting.WEBHOOK_KINDS,
        string="Alert webhook",
        help="Post every alert of this connection (opened and resolved) to this webhook too. A rule may name its "
        "own.",
    )
    alert_webhook_url = fields.Char(
        string="Alert webhook URL",
        groups=MANAGER_GROUP,
        help="The receiver's URL (a Slack or Teams webhook URL holds its secret: only managers see it).",
    )
    alert_webhook_timeout = fields.Float(
        string="Webhook timeout (s)",
        default=alerting.DEFAULT_WEBHOOK_TIMEOUT_S,
        help="How long a webhook post may take before it counts as failed and is retried later (at most 30 s).",
    )

    def _compute_open_alert_count(self):
        counts = dict(
            self.env["shopfloor.alert"]
            .sudo()
            ._read_group([("connection_id", "in", self.ids), ("state", "=", "open")], ["connection_id"], ["__count"])
        )
        for connection in self:
            connection.open_alert_count = counts.get(connection, 0)

    def action_open_alerts(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_alert_action")
        action["domain"] = [("connection_id", "=", self.id)]
        action["context"] = {"search_default_open": 1}
        return action

    def action_check_alerts(self):
        """Evaluates this connection's alert rules now."""
        self.check_access("write")
        self.env["shopfloor.alert.rule"].sudo()._evaluate_connections(self)
        return True

    # ---- end alerts

    # Heartbeat (written by the sidecar through `heartbeat`)
    last_seen = fields.Datetime(readonly=True, copy=False)
    sidecar_version = fields.Char(readonly=True, copy=False)
    spool_depth = fields.Integer(readonly=True, copy=False)
    spool_parked = fields.Integer(
        string="Parked in spool",
        readonly=True,
        copy=False,
        help="Spooled events the sidecar took out of delivery (failed too often, or parked by a person). They "
        "wait for someone to unpark or skip them with the sidecar's command line.",
    )
    rate_in = fields.Float(string="Events in /s", readonly=True, copy=False)
    rate_applied = fields.Float(string="Events applied /s", readonly=True, copy=False)
    stats_json = fields.Text(string="Last heartbeat", readonly=True, copy=False)

    # Mappings
    source_map_ids = fields.One2many("shopfloor.source.map", "connection_id", string="Sources")
    order_map_ids = fields.One2many("shopfloor.order.map", "connection_id", string="Orders")
    operation_map_ids = fields.One2many("shopfloor.operation.map", "connection_id", string="Operations")
    material_map_ids = fields.One2many("shopfloor.material.map", "connection_id", string="Materials")
    uom_map_ids = fields.One2many("shopfloor.uom.map", "connection_id", string="Units")
    reason_map_ids = fields.One2many("shopfloor.reason.map", "connection_id", string="Reasons")
    rule_ids = fields.One2many("shopfloor.mapping.rule", "connection_id", string="Tag rules")
    rules_never_read = fields.Char(
        compute="_compute_rules_never_read",
        help="Tag rules of a protocol this connection's sidecar does not read (see each rule's form).",
    )
    payload_map_ids = fields.One2many("shopfloor.payload.map", "connection_id", string="Payload mappings")

    event_ids = fields.One2many("shopfloor.event", "connection_id", string="Event records")
    dlq_count = fields.Integer(string="Dead letters", compute="_compute_event_counts")
    event_count = fields.Integer(string="Events", compute="_compute_event_counts")

    _sql_constraints = [
        ("code_company_uniq", "unique(company_id, code)", "The connection code must be unique per company."),
        ("batch_size_range", "check(batch_size between 1 and 1000)", "Batch size must be between 1 and 1000."),
        ("max_attempts_positive", "check(max_attempts >= 1)", "Max attempts must be at least 1."),
        (
            "batch_send_at_range",
            "check(batch_send_at between 0 and 1000)",
            "Send at must be between 0 (only full batches go before the wait is out) and 1000 events.",
        ),
        (
            "delivery_partitions_range",
            "check(delivery_partitions between 1 and 16)",
            "Partitions (batches in flight to Odoo) must be between 1 and 16.",
        ),
        (
            "catchup_backlog_positive",
            "check(catchup_backlog >= 0)",
            "The catch-up backlog must be 0 (never) or a number of events.",
        ),
        (
            "catchup_batch_size_range",
            "check(catchup_batch_size between 1 and 1000)",
            "The catch-up batch size must be between 1 and 1000.",
        ),
        (
            "mqtt_keepalive_range",
            "check(mqtt_keepalive_s between 1 and 65535)",
            "The MQTT keepalive must be between 1 and 65535 seconds (0, no keepalive, would leave a broker that "
            "stops answering unnoticed).",
        ),
        (
            "backbone_prefetch_range",
            "check(backbone_prefetch between 1 and 10000)",
            "The prefetch (messages taken and not yet acknowledged) must be between 1 and 10000.",
        ),
        (
            "backbone_claim_idle_range",
            "check(backbone_claim_idle_ms between 1000 and 3600000)",
            "'Take over after' must be between 1000 ms (1 s) and 3600000 ms (1 hour).",
        ),
        ("http_port_range", "check(http_port between 1 and 65535)", "The HTTP port must be between 1 and 65535."),
        (
            "folder_settle_range",
            "check(folder_settle_ms between 0 and 3600000)",
            "The settle time must be between 0 and 3600000 ms (1 hour).",
        ),
        (
            "folder_poll_range",
            "check(folder_poll_interval_ms between 100 and 3600000)",
            "The folder poll interval must be between 100 ms and 3600000 ms (1 hour).",
        ),
        (
            "sql_interval_range",
            "check(sql_interval_ms between 100 and 86400000)",
            "The query interval must be between 100 ms and 86400000 ms (1 day).",
        ),
        ("sql_port_range", "check(sql_port between 0 and 65535)", "The database port must be between 0 and 65535."),
        (
            "batch_apply_hour_range",
            "check(batch_apply_hour >= 0 and batch_apply_hour < 24)",
            "The batch time must be a time of day (00:00 to 23:59).",
        ),
        (
            "http_max_body_range",
            "check(http_max_body_bytes between 1024 and 268435456)",
            "The largest HTTP request must be between 1 KiB and 256 MiB.",
        ),
    ]

    @api.model_create_multi
    def create(self, vals_list):
        vals_list, quiet = without_quiet(self, vals_list, QUIET_FIELDS, "create")
        connections = super().create(vals_list)
        store_each_quietly(connections, quiet)
        connections._check_client_cert_has_key()
        for connection in connections:  # change control starts from the state it was created in
            self.env["shopfloor.mapping.revision"]._record(connection, _("Connection created"), initial=True)
        return connections

    @api.depends("kind")
    def _compute_is_plc(self):
        for connection in self:
            connection.is_plc = connection.kind in plc.PLC_KINDS

    @api.depends("kind", "plc_port", "plc_timeout_ms", "plc_poll_interval_ms")
    def _compute_plc_port_hint(self):
        for connection in self:
            connection.plc_port_hint = False
            connection.plc_timeout_note = False
            if connection.kind not in plc.PLC_KINDS:
                continue
            default = plc.DEFAULT_PORTS[connection.kind]
            connection.plc_port_hint = (
                _("%(port)s (the %(protocol)s default)", port=default, protocol=plc.PLC_LABELS[connection.kind])
                if not connection.plc_port
                else str(connection.plc_port)
            )
            if connection.plc_timeout_ms >= connection.plc_poll_interval_ms:
                connection.plc_timeout_note = _(
                    "The timeout is not shorter than the poll interval: reads never overlap, so a PLC that stops "
                    "answering delays the next poll by up to the timeout before the dashboard shows it unreachable."
                )

    @api.constrains(
        "kind",
        "plc_host",
        "plc_port",
        "plc_unit_id",
        "plc_rack",
        "plc_slot",
        "plc_poll_interval_ms",
        "plc_timeout_ms",
    )
    def _check_plc(self):
        for connection in self.filtered("is_plc"):
            error = connection._plc_error()
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s (%(kind)s): %(error)s.",
                        code=connection.code,
                        kind=connection._kind_label(),
                        error=error,
                    )
                )

    @api.constrains("lot_policy", "company_id")
    def _check_lot_policy(self):
        for connection in self.filtered(lambda conn: conn.lot_policy == "odoo"):
            # What mrp.production._prepare_stock_lot_values draws from first.
            sequence = (
                self.env["ir.sequence"]
                .sudo()
                .search_count(
                    [("code", "=", "stock.lot.serial"), ("company_id", "in", (False, connection.company_id.id))],
                    limit=1,
                )
            )
            if not sequence:
                raise ValidationError(
                    _(
                        "Connection %(code)s: Finished lots 'Odoo generates' needs the lot/serial sequence "
                        "(code stock.lot.serial) of company %(company)s; restore it in Settings > Technical > "
                        "Sequences, or choose the floor's lots.",
                        code=connection.code,
                        company=connection.company_id.display_name,
                    )
                )

    def _plc_error(self):
        """Why this PLC connection's settings would not poll anything ('' when they would)."""
        self.ensure_one()
        host = (self.plc_host or "").strip()
        if not host:
            return _("PLC host: the host name or IP address of the PLC is required")
        error = plc.host_error(host)
        if error:
            return _("PLC host: %s", error)
        if not 0 <= self.plc_port <= 65535:
            return _("PLC port: %s is not a port (1 to 65535, or 0 for the protocol's own)", self.plc_port)
        if self.kind == "modbus" and not 0 <= self.plc_unit_id <= 255:
            return _("Unit id: %s is not a Modbus unit id (0 to 255)", self.plc_unit_id)
        if self.kind == "s7" and not 0 <= self.plc_rack <= 7:
            return _("Rack: %s is not an S7 rack (0 to 7)", self.plc_rack)
        if self.kind in ("s7", "enip") and not 0 <= self.plc_slot <= 31:
            return _("Slot: %s is not a slot (0 to 31)", self.plc_slot)
        if not plc.MIN_POLL_INTERVAL_MS <= self.plc_poll_interval_ms <= plc.MAX_POLL_INTERVAL_MS:
            return _(
                "Poll interval: %(value)s ms is outside %(low)s ms to %(high)s ms (a day); a PLC polled faster "
                "than every 50 ms is busier answering than controlling",
                value=self.plc_poll_interval_ms,
                low=plc.MIN_POLL_INTERVAL_MS,
                high=plc.MAX_POLL_INTERVAL_MS,
            )
        if not plc.MIN_TIMEOUT_MS <= self.plc_timeout_ms <= plc.MAX_TIMEOUT_MS:
            return _(
                "Timeout: %(value)s ms is outside %(low)s ms to %(high)s ms",
                value=self.plc_timeout_ms,
                low=plc.MIN_TIMEOUT_MS,
                high=plc.MAX_TIMEOUT_MS,
            )
        return ""

    def write(self, vals):
        refuse_protected_write(self, vals, AUDITED_FIELDS)
        [vals], [quiet] = without_quiet(self, [vals], QUIET_FIELDS, "write")
        if "company_id" in vals and not self.env.su:
            self.check_access("write")
            moved = self.filtered(lambda c: c.company_id.id != vals["company_id"])
            if moved:
                raise rpc_error(
                    "forbidden",
                    _(
                        "The company (company_id) of connection %(codes)s cannot change: its events, mappings and "
                        "holds belong to %(company)s. Create a connection in the other company instead.",
                        codes=", ".join(moved.mapped("code")),
                        company=moved[:1].company_id.name,
                    ),
                )
        reloaded = [name for name in RELOADED_FIELDS if name in vals]
        before = {connection.id: {name: connection[name] for name in reloaded} for connection in self}
        configured = set(vals) - set(AUDITED_FIELDS)
        if configured:
            self.env["shopfloor.mapping.revision"]._ensure_baseline(self)
        result = super().write(vals)
        store_quietly(self, quiet)
        if {"kind", "backbone_client_cert"} & set(vals):
            self._check_client_cert_has_key()
        for connection in self:
            changed = [name for name in reloaded if connection[name] != before[connection.id][name]]
            changed += [name for name in RELOADED_SECRETS if vals.get(name)]  # write-only: typed means new
            if changed:
                connection._bump_revision(
                    _(
                        "settings the sidecar reloads changed (%s)",
                        ", ".join(self._fields[name].string for name in changed),
                    )
                )
            elif configured and not restoring(self.env):
                # Settings the sidecar reads at start (or Odoo alone): recorded, the revision stays.
                self.env["shopfloor.mapping.revision"]._record(
                    connection, _("Connection settings changed (%s)", ", ".join(sorted(configured)))
                )
        return result

    @api.constrains("alert_webhook_url")
    def _check_alert_webhook_url(self):
        for connection in self.sudo():
            error = alerting.webhook_url_error(connection.alert_webhook_url)
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s: the alert webhook URL cannot be used: %(error)s.",
                        code=connection.code,
                        error=error,
                    )
                )

    @api.constrains("http_enabled", "http_tls_cert")
    def _check_http_tls(self):
        for connection in self:
            cert = (connection.http_tls_cert or "").strip()
            if cert and "-----BEGIN CERTIFICATE-----" not in cert:
                raise ValidationError(
                    _(
                        "Connection %s: the TLS certificate must be PEM text (-----BEGIN CERTIFICATE----- …).",
                        connection.code,
                    )
                )

    @api.constrains(
        "kind",
        "backbone_url",
        "backbone_names",
        "backbone_group",
        "backbone_consumer",
        "backbone_tls",
        "backbone_ca",
        "backbone_client_cert",
        "backbone_username",
        "backbone_sasl_mechanism",
    )
    def _check_backbone(self):
        for connection in self.filtered("is_backbone"):
            error = connection._backbone_error()
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s (%(kind)s): %(error)s.",
                        code=connection.code,
                        kind=connection._kind_label(),
                        error=error,
                    )
                )

    # ---- historian import (issue 19)
    @api.constrains(
        "kind",
        "folder_path",
        "folder_pattern",
        "sql_host",
        "sql_database",
        "sql_username",
        "sql_query",
        "sql_watermark_column",
        "sql_initial_watermark",
    )
    def _check_historian(self):
        for connection in self.filtered("is_historian"):
            error = connection._historian_error()
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s (%(kind)s): %(error)s.",
                        code=connection.code,
                        kind=connection._kind_label(),
                        error=error,
                    )
                )

    def _historian_error(self):
        """Why this historian connection's settings would import nothing ('' when they would)."""
        self.ensure_one()
        if self.kind == "folder":
            error = historian.folder_path_error(self.folder_path)
            if error:
                return _("Drop folder: %s", error)
            error = historian.folder_pattern_error(self.folder_pattern)
            if error:
                return _("File pattern: %s", error)
            return ""
        for field_name in ("sql_host", "sql_database", "sql_username"):
            if not (self[field_name] or "").strip():
                return _("%s is required", self._fields[field_name].string)
        error = historian.sql_query_error(self.sql_query, self.sql_watermark_column)
        if error:
            return _("Query: %s", error)
        error = historian.initial_watermark_error(self.sql_initial_watermark)
        if error:
            return _("Initial watermark: %s", error)
        return ""

    @api.depends("kind")
    def _compute_is_historian(self):
        for connection in self:
            connection.is_historian = connection.kind in historian.HISTORIAN_KINDS

    def _sidecar_folder(self):
        """The drop folder as ``FolderConfig`` (contract.ts), or False for the other kinds."""
        self.ensure_one()
        if self.kind != "folder":
            return False
        return {
            "path": (self.folder_path or "").strip(),
            "pattern": (self.folder_pattern or "").strip() or "*.csv",
            "encoding": self.folder_encoding,
            "delimiter": self.folder_delimiter,
            "settle_ms": self.folder_settle_ms,
            "poll_interval_ms": self.folder_poll_interval_ms,
        }

    def _sidecar_sql(self):
        """The query as ``SqlConfig`` (contract.ts), or False for the other kinds."""
        self.ensure_one()
        connection = self.sudo()
        if connection.kind != "sql":
            return False
        return {
            "driver": connection.sql_driver,
            "host": (connection.sql_host or "").strip(),
            "port": connection.sql_port or 0,
            "database": (connection.sql_database or "").strip(),
            "username": connection.sql_username or "",
            "password": connection.sql_password_secret or "",
            "query": (connection.sql_query or "").strip(),
            "watermark_column": (connection.sql_watermark_column or "").strip(),
            "initial_watermark": (connection.sql_initial_watermark or "").strip(),
            "interval_ms": connection.sql_interval_ms,
        }

    def _next_batch_time(self, now):
        """The first batch time after ``now`` (naive UTC), in the company's time zone (UTC without one)."""
        self.ensure_one()
        zone = pytz.timezone(self.company_id.partner_id.tz or "UTC")
        local = pytz.utc.localize(now).astimezone(zone)
        hours = int(self.batch_apply_hour)
        minutes = round((self.batch_apply_hour - hours) * 60)
        due = zone.localize(datetime(local.year, local.month, local.day, min(hours, 23), min(minutes, 59)))
        if due <= local:
            due = zone.localize(datetime.combine(due.date() + timedelta(days=1), due.time().replace(tzinfo=None)))
        return due.astimezone(pytz.utc).replace(tzinfo=None)

    # ---- end historian import

    def _kind_label(self):
        return dict(self._fields["kind"]._description_selection(self.env)).get(self.kind, self.kind or "")

    def _endpoint_label(self):
        """Where the sidecar takes its input, for people (no user or password): the broker and what it
        consumes, or the OPC UA endpoint."""
        self.ensure_one()
        if self.kind in backbone.BACKBONE_KINDS:
            url = (self.backbone_url or "").strip()
            if self.kind == "kafka":
                url = ",".join(entry.strip() for entry in url.split(","))
            names = backbone.split_names(self.backbone_names)
            return " · ".join(part for part in (url, ", ".join(names)) if part)
        if self.kind == "opcua":
            return self.opcua_endpoint or ""
        if self.kind in plc.PLC_KINDS:
            return f"{self.plc_host or ''}:{self.plc_port or plc.DEFAULT_PORTS[self.kind]}"
        if self.kind == "folder":
            return " · ".join(part for part in (self.folder_path, self.folder_pattern) if part)
        if self.kind == "sql":
            driver = dict(historian.SQL_DRIVERS).get(self.sql_driver, "")
            return f"{driver} {self.sql_host or ''}/{self.sql_database or ''}"
        return backbone.without_userinfo(self.mqtt_url or "")

    def _backbone_error(self):
        """Why this message-queue connection's settings would not consume anything ('' when they would)."""
        self.ensure_one()
        kind = self.kind
        url = (self.backbone_url or "").strip()
        error = backbone.url_error(kind, url)
        if error:
            return _("Broker URL: %s", error)
        error = backbone.list_error(self.backbone_names) or backbone.names_error(
            kind, backbone.split_names(self.backbone_names)
        )
        if error:
            return _("Queues / topics / streams: %s", error)
        error = backbone.group_error(kind, self.backbone_group or "")
        if error:
            return _("Consumer group: %s", error)
        consumer = self.backbone_consumer or ""
        if consumer and (backbone.CONTROL.search(consumer) or consumer != consumer.strip()):
            return _("Consumer name: %r holds a control character or leading/trailing spaces", consumer)
        if kind in backbone.URL_SCHEMES and self.backbone_tls and not backbone.tls_implied(kind, url):
            secure = backbone.URL_SCHEMES[kind][1]
            if kind == "redis" and backbone.is_cluster_url(url):
                secure = "rediss+cluster"
            elif kind == "redis" and backbone.is_sentinel_url(url):
                secure = "rediss+sentinel"
            return _(
                "TLS is on but the URL starts with %(scheme)s://: use %(secure)s:// (e.g. %(example)s) or turn TLS off",
                scheme=url.split("://", 1)[0],
                secure=secure,
                example=backbone.URL_EXAMPLES[kind].split(" or ")[1],
            )
        tls = self.backbone_tls or backbone.tls_implied(kind, url)
        for field_name in ("backbone_ca", "backbone_client_cert"):
            error = backbone.pem_certificate_error(self[field_name])
            if error:
                return _("%(field)s: %(error)s", field=self._fields[field_name].string, error=error)
            if self[field_name] and self[field_name].strip() and not tls:
                return _(
                    "%(field)s is used only over TLS: turn TLS on (or use %(secure)s) or leave it empty",
                    field=self._fields[field_name].string,
                    secure="amqps://" if kind == "amqp" else "rediss://" if kind == "redis" else _("the TLS box"),
                )
        if kind == "kafka":
            if self.backbone_sasl_mechanism != "none" and not (self.backbone_username or "").strip():
                return _("SASL %s needs a user (Queue user)", self.backbone_sasl_mechanism.upper())
            if self.backbone_sasl_mechanism == "none" and (self.backbone_username or "").strip():
                return _(
                    "a user is set but no SASL mechanism: Kafka checks a user and password only through SASL; choose "
                    "the broker's mechanism (PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512) or clear the user"
                )
        elif self.backbone_sasl_mechanism != "none":
            return _("a SASL mechanism is for Kafka only: set it to None")
        return ""

    def _check_client_cert_has_key(self):
        """A client certificate without its key makes no TLS handshake. Checked once the write-only
        key typed with it is stored (after the inverse, which constraints run before)."""
        for connection in self.filtered("is_backbone"):
            if (connection.backbone_client_cert or "").strip() and not connection.sudo().backbone_client_key_secret:
                raise ValidationError(
                    _(
                        "Connection %(code)s (%(kind)s): the client certificate needs its private key: paste it in "
                        "%(field)s.",
                        code=connection.code,
                        kind=connection._kind_label(),
                        field=self._fields["backbone_client_key"].string,
                    )
                )

    @api.constrains("kind", "code", "sparkplug_group_id", "sparkplug_host_id")
    def _check_sparkplug_ids(self):
        # Topic levels of Sparkplug B: an empty group subscribes to nothing (spBv1.0//#), and + / #
        # in a group or in the host id (by default made of the code) make topics no broker takes.
        for connection in self.filtered(lambda c: c.kind == "sparkplug"):
            for label, value in (
                (_("Sparkplug group id"), connection.sparkplug_group_id),
                (
                    _("Sparkplug host id"),
                    connection.sparkplug_host_id or f"sfb-{connection.code}",
                ),
            ):
                error = sparkplug_id_error(value or "")
                if error:
                    raise ValidationError(
                        _(
                            "Connection %(code)s: the %(label)s %(error)s: %(value)r",
                            code=connection.code,
                            label=label,
                            error=error,
                            value=value or "",
                        )
                    )

    @api.constrains("topic_filters")
    def _check_topic_filters(self):
        # The sidecar subscribes to every line in one SUBSCRIBE: MQTT.js refuses the whole of it for
        # one misplaced wildcard, and Mosquitto drops the connection for one control character.
        for connection in self:
            error = filter_list_error(connection.topic_filters)
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s: %(field)s: %(error)s",
                        code=connection.code,
                        field=connection._fields["topic_filters"].string,
                        error=error,
                    )
                )

    @api.constrains("kind")
    def _check_kind_of_plc_rules(self):
        # A rule reads its addresses in one protocol's syntax: another PLC would not read them.
        for connection in self:
            stray = connection.with_context(active_test=False).rule_ids.filtered(
                lambda rule, kind=connection.kind: rule.protocol in plc.PLC_KINDS and rule.protocol != kind
            )
            if stray:
                raise ValidationError(
                    _(
                        "Connection %(code)s cannot become %(kind)s: tag rules %(addresses)s read %(protocol)s "
                        "addresses. Change their protocol and address, or delete them, first.",
                        code=connection.code,
                        kind=connection._kind_label(),
                        addresses=", ".join(stray.mapped("address")[:10]),
                        protocol=plc.PLC_LABELS[stray[0].protocol],
                    )
                )

    @api.constrains("mqtt_url")
    def _check_mqtt_url(self):
        # Checked by the sidecar only at start before: a typo stopped it there, a ?clientId= moved its session.
        for connection in self:
            url = (connection.mqtt_url or "").strip()
            if not url:
                continue  # the sidecar says so when an MQTT or Sparkplug connection has none
            error = backbone.mqtt_url_error(url)
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s: %(field)s: %(error)s.",
                        code=connection.code,
                        field=connection._fields["mqtt_url"].string,
                        error=error,
                    )
                )

    @api.constrains("opcua_endpoint")
    def _check_opcua_endpoint(self):
        # node-opcua only retried a malformed endpoint for ever, saying the server "may have rejected" it.
        for connection in self:
            if not connection.opcua_endpoint:
                continue  # the sidecar says so (opcua_endpoint) when an OPC UA connection has none
            error = endpoint_error(connection.opcua_endpoint)
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s: %(field)s: %(error)s.",
                        code=connection.code,
                        field=connection._fields["opcua_endpoint"].string,
                        error=error,
                    )
                )

    @api.constrains("kind", "sparkplug_group_id")
    def _check_group_of_sparkplug_rules(self):
        # A Sparkplug host reads its one group: metrics of another group would never be read.
        for connection in self.filtered(lambda c: c.kind == "sparkplug" and c.sparkplug_group_id):
            prefix = f"{connection.sparkplug_group_id}/"
            stray = connection.with_context(active_test=False).rule_ids.filtered(
                lambda rule, prefix=prefix: rule.protocol == "sparkplug" and not (rule.address or "").startswith(prefix)
            )
            if stray:
                raise ValidationError(
                    _(
                        "Connection %(code)s reads Sparkplug group %(group)s only, and rules %(addresses)s read "
                        "metrics of another group: change their address, or delete them, first.",
                        code=connection.code,
                        group=connection.sparkplug_group_id,
                        addresses=", ".join(stray.mapped("address")[:10]),
                    )
                )

    @api.constrains("kind")
    def _check_kind_of_payload_maps(self):
        # Its floor targets may have relied on the MQTT broker of the kind it had.
        targets = self.env["shopfloor.dispatch.target"].sudo().search([("connection_id", "in", self.ids)])
        targets._check_target()
        for connection in self:
            others = set(backbone.BACKBONE_KINDS) - {connection.kind}
            stray = connection.payload_map_ids.filtered(lambda mapping, others=others: mapping.transport in others)
            if stray:
                raise ValidationError(
                    _(
                        "Connection %(code)s cannot become %(kind)s: payload mappings %(names)s are for another "
                        "message queue. Change their transport or delete them first.",
                        code=connection.code,
                        kind=connection._kind_label(),
                        names=", ".join(stray.mapped("name")),
                    )
                )

    @api.constrains("delivery_partitions", "catchup_batch_size", "batch_size")
    def _check_catchup_batch(self):
        for connection in self:
            if connection.catchup_batch_size < connection.batch_size:
                raise ValidationError(
                    _(
                        "Connection %(code)s: the catch-up batch size (%(catchup)s) must be at least the batch size "
                        "(%(size)s): catch-up mode sends larger batches, never smaller.",
                        code=connection.code,
                        catchup=connection.catchup_batch_size,
                        size=connection.batch_size,
                    )
                )

    # ------------------------------------------------------------------ secrets

    def _compute_secret_inputs(self):
        # Write-only: reading a secret gives nothing, whoever asks.
        for connection in self:
            for name in SECRET_FIELDS:
                connection[name] = False

    def _inverse_secrets(self):
        """Stores what was typed in the write-only fields (one call for all of them)."""
        self.check_access("write")
        for connection in self:
            error = backbone.pem_private_key_error(connection.backbone_client_key)
            if error:
                raise ValidationError(
                    _(
                        "Connection %(code)s: %(field)s: %(error)s.",
                        code=connection.code,
                        field=self._fields["backbone_client_key"].string,
                        error=error,
                    )
                )
            for name, column in SECRET_FIELDS.items():
                value = connection[name]
                if value:  # an empty input leaves the stored secret as it is
                    connection._store_secret(column, value)
                    connection.message_post(
                        body=_("%(field)s changed.", field=self._fields[name].string), subtype_xmlid="mail.mt_note"
                    )
        # What was typed is not kept where a read could find it.
        self.invalidate_recordset(list(SECRET_FIELDS))

    def _store_secret(self, column, value):
        """Stores a secret by an UPDATE of its own, which Odoo does not log when it fails
        (see ``secret_columns``: the ORM's would, with the secret in it)."""
        self.ensure_one()
        store_quietly(self, {column: value})

    @api.depends("kind")
    def _compute_is_backbone(self):
        for connection in self:
            connection.is_backbone = connection.kind in backbone.BACKBONE_KINDS

    @api.onchange("kind", "backbone_url")
    def _onchange_backbone_url(self):
        # RabbitMQ and Redis say TLS in their URL's scheme: the box follows it.
        if self.kind in backbone.URL_SCHEMES:
            self.backbone_tls = backbone.tls_implied(self.kind, self.backbone_url)

    @api.depends("kind")
    def _compute_uses_opcua(self):
        Target = self.env["shopfloor.dispatch.target"].sudo()
        with_targets = set(
            Target.search([("connection_id", "in", self.ids), ("kind", "=", "opcua"), ("active", "=", True)])
            .mapped("connection_id")
            .ids
        )
        for connection in self:
            connection.uses_opcua = connection.kind == "opcua" or connection.id in with_targets

    @api.depends_context("uid")
    def _compute_secrets_set(self):
        for connection in self:
            stored = connection.sudo()
            connection.secrets_set = ", ".join(
                self._fields[name].string for name, column in SECRET_FIELDS.items() if stored[column]
            ) or _("none")

    def action_clear_secrets(self):
        """Forgets every stored password and key of these connections (enter the ones still needed again)."""
        self.check_access("write")
        for connection in self:
            connection.sudo().write(dict.fromkeys(SECRET_FIELDS.values(), False))
            connection.message_post(body=_("Stored secrets cleared."), subtype_xmlid="mail.mt_note")
        return True

    @api.depends("integration_user_ids")
    def _compute_integration_key_expiry(self):
        keys = self.env["res.users.apikeys"].sudo()
        soon = fields.Datetime.now() + timedelta(days=KEY_EXPIRY_WARNING_DAYS)
        for connection in self:
            latest = []
            for user in connection.sudo().integration_user_ids:
                newest = keys.search([("user_id", "=", user.id)], order="expiration_date desc", limit=1)
                if newest.expiration_date:
                    latest.append(newest.expiration_date)
            connection.integration_key_expiry = min(latest) if latest else False
            connection.integration_key_expiring = bool(latest) and min(latest) <= soon

    @api.depends("kind", "rule_ids.protocol", "rule_ids.never_read")
    def _compute_rules_never_read(self):
        for connection in self:
            unread = connection.rule_ids.filtered("never_read")
            if not unread:
                connection.rules_never_read = False
                continue
            connection.rules_never_read = _(
                "%(count)s tag rule(s) are never read: this %(kind)s connection's sidecar reads no tag of their "
                "protocol (%(addresses)s). Move them to a connection of that kind, or delete them.",
                count=len(unread),
                kind=connection._kind_label(),
                addresses=", ".join(unread.mapped("address")[:5]) + (", …" if len(unread) > 5 else ""),
            )

    @api.constrains("integration_user_ids", "company_id")
    def _check_integration_users(self):
        group = self.env.ref(INTEGRATION_GROUP)
        for connection in self.sudo():
            for user in connection.integration_user_ids:
                if group not in user.groups_id:
                    raise ValidationError(
                        _(
                            "%(user)s cannot be an integration user of %(code)s: it is not in the group "
                            "'Shop Floor Bridge / Integration (sidecar)'. Use \"New integration user\" on the "
                            "connection to make a technical user for its sidecar.",
                            user=user.login,
                            code=connection.code,
                        )
                    )
                if connection.company_id not in user.company_ids:
                    raise ValidationError(
                        _(
                            "%(user)s cannot be an integration user of %(code)s: company %(company)s is not one "
                            "of its companies.",
                            user=user.login,
                            code=connection.code,
                            company=connection.company_id.name,
                        )
                    )

    def _compute_event_counts(self):
        counts = {
            (connection.id, state): count
            for connection, state, count in self.env["shopfloor.event"]._read_group(
                [("connection_id", "in", self.ids)], ["connection_id", "state"], ["__count"]
            )
        }
        for connection in self:
            per_state = {state: n for (cid, state), n in counts.items() if cid == connection.id}
            connection.event_count = sum(per_state.values())
            connection.dlq_count = sum(per_state.get(s, 0) for s in ("failed", "dead", "rejected"))

    # ------------------------------------------------------------------ revision

    def _bump_revision(self, message, restored_from=None):
        """A mapping changed: move the revision the sidecar watches, record the change (old → new,
        ``shopfloor.mapping.revision``) and say it in the chatter. A restore's own writes move
        nothing: the restore moves the revision once, at its end."""
        if restoring(self.env):
            return
        for connection in self.sudo():
            # Direct SQL increment: concurrent mapping edits must never reuse a number.
            self.env.cr.execute(
                "UPDATE shopfloor_connection SET revision = revision + 1 WHERE id = %s RETURNING revision",
                [connection.id],
            )
            (revision,) = self.env.cr.fetchone()
            connection.invalidate_recordset(["revision"])
            self.env["shopfloor.mapping.revision"]._record(
                connection,
                _("Mapping revision %(revision)s: %(change)s", revision=revision, change=message),
                force=True,
                restored_from=restored_from,
            )

    # ------------------------------------------------------------------ actions

    def action_open_dlq(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_event_action_dlq")
        action["domain"] = [("connection_id", "=", self.id), ("state", "in", ["failed", "dead", "rejected"])]
        action["context"] = {}
        return action

    def action_open_events(self):
        self.ensure_one()
        self.check_access("read")
        action = self.env["ir.actions.act_window"]._for_xml_id("shopfloor_bridge.shopfloor_event_action")
        action["domain"] = [("connection_id", "=", self.id)]
        action["context"] = {}
        return action

    # ------------------------------------------------------------------ RPC

    @api.model
    def _find_by_code(self, code):
        """The connection ``code`` names, once its caller is known to act for it (sudo)."""
        allowed = check_rpc_caller(self.env)
        if not isinstance(code, str) or not code:
            raise rpc_error("bad_request", _("A connection code (text) is required, got %r.", code))
        if allowed is not None:
            connection = allowed.filtered(lambda c: c.active and c.code == code)[:1]
            if connection:
                return connection
        connection = self.sudo().search(
            [("code", "=", code), ("company_id", "in", self.env.user.company_ids.ids)], limit=1
        )
        if connection and allowed is not None:
            raise refuse_connection(self.env, connection)
        if not connection:
            raise rpc_error(
                "not_found",
                _(
                    "No active shop-floor connection with code %(code)r in your companies. "
                    "Create it under Manufacturing → Shop Floor → Configuration → Connections.",
                    code=code,
                ),
            )
        return connection

    @api.model
    def sidecar_config(self, code):
        """Everything the sidecar needs, shaped as SidecarConfig (sidecar/src/core/contract.ts)."""
        return xmlrpc_safe(self._find_by_code(code)._sidecar_config())

    def _topic_filter_list(self):
        """The connection's own MQTT topic filters, one per line of the field."""
        self.ensure_one()
        return [line.strip() for line in (self.topic_filters or "").splitlines() if line.strip()]

    def _mqtt_subscriptions(self):
        """Every filter the sidecar subscribes to: the connection's own and its MQTT payload mappings'."""
        self.ensure_one()
        mappings = self.payload_map_ids.filtered(lambda mapping: mapping.transport == "mqtt")
        return self._topic_filter_list() + mappings.mapped("match")

    def _sidecar_config(self):
        self.ensure_one()
        connection = self.sudo()
        topics = connection._topic_filter_list()
        uses_mqtt = connection.kind in ("mqtt", "sparkplug")
        mqtt = (
            {
                "url": (connection.mqtt_url or "").strip(),
                "topics": topics,
                "client_id": connection.client_id or f"sfb-{connection.code}",
                "protocol_version": int(connection.mqtt_protocol_version or "5"),
                "keepalive_s": connection.mqtt_keepalive_s,
                "username": connection.mqtt_username or "",
                "password": connection.mqtt_password_secret or "",
                "ca": connection.mqtt_ca or "",
                "reject_unauthorized": bool(connection.mqtt_reject_unauthorized),
                "client_cert": connection.mqtt_client_cert or "",
                "client_key": connection.mqtt_client_key_secret or "",
            }
            if uses_mqtt
            else False
        )
        sparkplug = (
            {
                "group_id": connection.sparkplug_group_id or "",
                "host_id": connection.sparkplug_host_id or f"sfb-{connection.code}",
                "role": connection.sparkplug_host_role or "primary",
            }
            if connection.kind == "sparkplug"
            else False
        )
        # OPC UA floor targets write with the connection's OPC UA security, whatever its kind.
        targets = connection._sidecar_dispatch_targets()
        opcua = (
            {
                "endpoint": connection.opcua_endpoint or "",
                "security_mode": connection.opcua_security_mode or "None",
                "security_policy": connection.opcua_security_policy or "None",
                "auth": connection.opcua_auth or "anonymous",
                "username": connection.opcua_username or "",
                "password": connection.opcua_password_secret or "",
                "publishing_interval_ms": connection.opcua_publishing_interval_ms or 0,
                "sampling_interval_ms": connection.opcua_sampling_interval_ms or 0,
            }
            if connection.kind == "opcua" or any(target["kind"] == "opcua" for target in targets)
            else False
        )
        return xmlrpc_safe(
            {
                "code": connection.code,
                "name": connection.name or "",
                "kind": connection.kind,
                "revision": connection.revision,
                "server_time": iso_utc(fields.Datetime.now()),
                "mqtt": mqtt,
                "sparkplug": sparkplug,
                "opcua": opcua,
                "backbone": connection._sidecar_backbone(),
                "plc": connection._sidecar_plc(),
                "folder": connection._sidecar_folder(),
                "sql": connection._sidecar_sql(),
                "batch": {
                    "size": connection.batch_size,
                    "wait_ms": connection.batch_wait_ms,
                    "send_at": connection.batch_send_at,
                    "partitions": connection.delivery_partitions,
                    "catchup_backlog": connection.catchup_backlog,
                    "catchup_size": connection.catchup_batch_size,
                },
                "skew": {"bound_ms": connection.skew_bound_ms, "correct": bool(connection.skew_correct)},
                "sources": [
                    {"source": row.source, "workcenter": row.workcenter_id.code or row.workcenter_id.name or ""}
                    for row in connection.source_map_ids
                ],
                "rules": [rule._sidecar_rule() for rule in connection.rule_ids.filtered("active")],
                "payload_maps": [
                    mapping._sidecar_payload_map()
                    for mapping in connection.payload_map_ids.filtered("active").sorted(lambda m: (m.sequence, m.id))
                ],
                "http": connection._sidecar_http(),
                "dispatch": {
                    "poll_interval_ms": connection.dispatch_poll_interval_ms,
                    "targets": targets,
                },
            }
        )

    def _sidecar_backbone(self):
        """The message queue as ``BackboneConfig`` (contract.ts), or False for the other kinds."""
        self.ensure_one()
        connection = self.sudo()
        kind = connection.kind
        if kind not in backbone.BACKBONE_KINDS:
            return False
        url = (connection.backbone_url or "").strip()
        if kind == "kafka":
            url = ",".join(entry.strip() for entry in url.split(","))
        return {
            "url": url,
            "names": backbone.split_names(connection.backbone_names),
            "group": (connection.backbone_group or "").strip() if kind != "amqp" else "",
            "consumer": (connection.backbone_consumer or "").strip(),
            "username": connection.backbone_username or "",
            "password": connection.backbone_password_secret or "",
            "tls": bool(connection.backbone_tls) or backbone.tls_implied(kind, url),
            "ca": connection.backbone_ca or "",
            "reject_unauthorized": bool(connection.backbone_reject_unauthorized),
            "client_cert": connection.backbone_client_cert or "",
            "client_key": connection.backbone_client_key_secret or "",
            "prefetch": connection.backbone_prefetch,
            "sasl_mechanism": connection.backbone_sasl_mechanism
            if kind == "kafka" and connection.backbone_sasl_mechanism != "none"
            else "",
            "claim_idle_ms": connection.backbone_claim_idle_ms,
        }

    def _sidecar_plc(self):
        """The polled PLC as ``PlcConfig`` (contract.ts), or False for the other kinds."""
        self.ensure_one()
        connection = self.sudo()
        if connection.kind not in plc.PLC_KINDS:
            return False
        return {
            "host": (connection.plc_host or "").strip(),
            "port": connection.plc_port,
            "unit_id": connection.plc_unit_id,
            "rack": connection.plc_rack,
            "slot": connection.plc_slot,
            "poll_interval_ms": connection.plc_poll_interval_ms,
            "timeout_ms": connection.plc_timeout_ms,
        }

    def _sidecar_http(self):
        """The HTTP intake as ``HttpIntakeConfig`` (contract.ts), or False when off.

        Producers without a token yet are left out: nobody could authenticate as them."""
        self.ensure_one()
        connection = self.sudo()
        if not connection.http_enabled:
            return False
        producers = (
            self.env["shopfloor.http.producer"]
            .sudo()
            .search([("connection_id", "=", connection.id), ("active", "=", True), ("token_sha256", "!=", False)])
        )
        return {
            "port": connection.http_port or DEFAULT_HTTP_PORT,
            "bind": connection.http_bind or "",
            "tls_cert": connection.http_tls_cert or "",
            "tls_key": connection.http_tls_key_secret or "",
            "max_body_bytes": connection.http_max_body_bytes or DEFAULT_HTTP_MAX_BODY_BYTES,
            "producers": [producer._sidecar_producer() for producer in producers],
        }

    def _sidecar_dispatch_targets(self):
        """Planning push-back targets ([] here; the dispatch part extends this)."""
        return []

    @api.model
    def heartbeat(self, code, stats=None):
        """The sidecar reports it is alive; answers the server clock and the revision to compare."""
        connection = self._find_by_code(code)
        stats = stats if isinstance(stats, dict) else {}

        def number(key, cast):
            # Whatever a sidecar sends (text, NaN, 1e308) must not fail the heartbeat:
            # a finite number in the column's range, else 0.
            try:
                value = float(stats.get(key) or 0)
            except (TypeError, ValueError, OverflowError):
                return cast(0)
            if not math.isfinite(value):
                return cast(0)
            return int(max(-INT4_MAX, min(INT4_MAX, value))) if cast is int else value

        now = fields.Datetime.now()
        connection.write(
            {
                "last_seen": now,
                "sidecar_version": escape(str(stats.get("version") or stats.get("sidecar_version") or ""))[:64],
                "spool_depth": number("spool_depth", int),
                "spool_parked": number("spool_parked", int),
                "rate_in": number("rate_in", float),
                "rate_applied": number("rate_applied", float),
                "stats_json": json.dumps(stats, sort_keys=True, default=str)[:65536],
            }
        )
        self.env["shopfloor.alert.rule"].sudo()._evaluate_connections(connection)
        return {"server_time": iso_utc(now), "revision": connection.revision}
