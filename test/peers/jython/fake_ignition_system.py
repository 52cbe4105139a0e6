# A stand-in for the parts of Ignition's `system` scripting API the kit's
# gateway script uses (Ignition itself cannot run here). Fake on purpose and
# named so: the script under test runs on real Jython 2.7 with real java.*
# classes; only the gateway around it is simulated.
#
# What it imitates, from Ignition 8.1 and Cirrus Link's documentation:
# - system.tag.readBlocking(paths) -> list of QualifiedValue (value, quality, timestamp)
# - QualityCode: isGood(), getName() ("Good", "Bad_NotConnected", ...)
# - system.util.getLogger(name) -> logger with debug/info/warn/error
# - system.date.now() -> java.util.Date
# - system.cirruslink.transmission.publish(server, topic, byte[], qos, retained)
#   and system.cirruslink.engine.publish(...) with the same signature
import sys

from java.lang import String  # noqa: I001
from java.util import Date


class FakeQuality(object):
    def __init__(self, name):
        self._name = name

    def isGood(self):
        return self._name == "Good" or self._name.startswith("Good_")

    def getName(self):
        return self._name

    def __str__(self):
        return self._name


GOOD = FakeQuality("Good")


class FakeQualifiedValue(object):
    def __init__(self, value, quality=GOOD, millis=0):
        self.value = value
        self.quality = quality
        self.timestamp = Date(long(millis))  # noqa: F821 (Jython's long)


class FakeLogger(object):
    def __init__(self, name, sink):
        self._name = name
        self._sink = sink

    def _log(self, level, message):
        self._sink.append((level, message))
        sys.stderr.write("[%s] %s: %s\n" % (level, self._name, message))

    def debug(self, message):
        self._log("debug", message)

    def info(self, message):
        self._log("info", message)

    def warn(self, message):
        self._log("warn", message)

    def error(self, message):
        self._log("error", message)


class FakeBrokerDown(Exception):
    pass


class FakeMqttModule(object):
    """Captures what the script publishes; can be taken offline, or drop offline right after a publish."""

    def __init__(self, gateway):
        self._gateway = gateway

    def publish(self, server, topic, payload, qos, retained):
        gateway = self._gateway
        if not gateway.online:
            raise FakeBrokerDown("MQTT server %s is not connected" % server)
        text = unicode(String(payload, "UTF-8"))  # noqa: F821 (Jython's unicode)
        gateway.published.append({"server": server, "topic": topic, "payload": text, "qos": qos, "retained": retained})
        if gateway.drop_after_next_publish:
            gateway.drop_after_next_publish = False
            gateway.online = False
            gateway.tags[gateway.online_tag] = FakeQualifiedValue(False, GOOD, gateway.clock)


class FakeTagApi(object):
    def __init__(self, gateway):
        self._gateway = gateway

    def readBlocking(self, paths, timeout=45000):
        tags = self._gateway.tags
        return [tags.get(p, FakeQualifiedValue(None, FakeQuality("Bad_NotFound"), 0)) for p in paths]


class FakeUtil(object):
    def __init__(self, gateway):
        self._gateway = gateway

    def getLogger(self, name):
        return FakeLogger(name, self._gateway.log)


class FakeDate(object):
    def __init__(self, gateway):
        self._gateway = gateway

    def now(self):
        return Date(long(self._gateway.clock))  # noqa: F821


class FakeCirrusLink(object):
    def __init__(self, gateway):
        self.transmission = FakeMqttModule(gateway)
        self.engine = FakeMqttModule(gateway)


class FakeIgnitionGateway(object):
    """The fake `system` object plus the gateway state a test drives."""

    def __init__(self, online_tag):
        self.tags = {}
        self.published = []
        self.log = []
        self.clock = 0
        self.online = True
        self.online_tag = online_tag
        self.drop_after_next_publish = False
        self.tag = FakeTagApi(self)
        self.util = FakeUtil(self)
        self.date = FakeDate(self)
        self.cirruslink = FakeCirrusLink(self)

    def set_online(self, online):
        self.online = online
        self.tags[self.online_tag] = FakeQualifiedValue(online, GOOD, self.clock)
