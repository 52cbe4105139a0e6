# Runs the Ignition kit's gateway script (integrations/ignition/script-python/
# shopfloor_bridge/code.py) under real Jython 2.7 against the fake gateway in
# fake_ignition_system.py, through a short shift of one ShopfloorMachine
# instance, and writes every MQTT publish as one JSON line {topic, payload}.
#
#   java -jar jython-standalone-2.7.4.jar run_ignition_kit.py <library dir> <work dir> <events|tags> <out.jsonl>
#
# The shift: baseline values at start-up, an order started, setup, parts and
# scrap, a jam (downtime with reason), a bad-quality read of the counter, a
# broker outage while parts are counted (store and forward), a publish that
# the client may not have sent (resent with the same id), a gateway restart,
# and the order completed.
import __builtin__
import imp
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_ignition_system import GOOD, FakeIgnitionGateway, FakeQualifiedValue, FakeQuality  # noqa: E402

library_dir, work_dir, mode, out_path = sys.argv[1:5]

MACHINE = "[default]Plant1/Line1/Press01"
ONLINE_TAG = "[MQTT Transmission]Transmission Info/Transmitters/Shopfloor/Edge Nodes/Plant1/Line1/MQTT Client/Online"
# 2026-12-01T06:00:00Z
START = 1796104800000

gateway = FakeIgnitionGateway(ONLINE_TAG)
__builtin__.system = gateway  # Ignition puts `system` in every script's scope.


def load_library():
    """(Re)load the library the way a gateway (re)start does: module state starts empty."""
    module = imp.load_source("shopfloor_bridge", os.path.join(library_dir, "shopfloor_bridge", "code.py"))
    module.SETTINGS.update({"mode": mode, "queue_dir": work_dir, "online_tag": ONLINE_TAG})
    return module


bridge = load_library()


def at(seconds):
    gateway.clock = START + int(seconds * 1000)


def write(member, value, quality=GOOD):
    """A tag of the machine changes: the tag system stores it, then fires the gateway tag change script."""
    path = MACHINE + "/" + member
    qualified = FakeQualifiedValue(value, quality, gateway.clock)
    gateway.tags[path] = qualified
    bridge.on_tag_change(path, qualified)


def restart():
    global bridge
    bridge = load_library()
    # On start-up Ignition fires every subscribed tag once with its current value.
    for member in ("GoodCount", "ScrapCount", "State", "Order", "Operation", "ReasonCode", "ScrapReason"):
        qualified = gateway.tags[MACHINE + "/" + member]
        bridge.on_tag_change(MACHINE + "/" + member, qualified)


gateway.set_online(True)
at(0)
gateway.tags[MACHINE + "/Source"] = FakeQualifiedValue("plant1/line1/press-01", GOOD, gateway.clock)
gateway.tags[MACHINE + "/Unit"] = FakeQualifiedValue("Units", GOOD, gateway.clock)
for member, value in (
    ("Operation", ""),
    ("ReasonCode", ""),
    ("ScrapReason", ""),
    ("Order", ""),
    ("State", 2),
    ("GoodCount", 1000),
    ("ScrapCount", 40),
):
    write(member, value)

at(60)
write("Operation", "Stamping")
write("Order", "4711-010")
at(90)
write("State", 4)  # setup
at(390)
write("State", 1)  # running
at(400)
write("GoodCount", 1003)
at(420)
write("GoodCount", 1005)
at(430)
write("ScrapReason", "BURR")
write("ScrapCount", 41)
at(500)
write("ReasonCode", "JAM")
write("State", 3)  # down
at(510)
write("GoodCount", 0, FakeQuality("Bad_NotConnected"))  # PLC unreachable: not a count
at(620)
write("State", 1)
write("ReasonCode", "")
at(640)
write("GoodCount", 1010)

# Broker outage: the changes wait on disk, in order.
gateway.set_online(False)
at(700)
write("GoodCount", 1012)
at(710)
write("ScrapCount", 42)
assert bridge.queued() == 2, "two events must wait during the outage, found %d" % bridge.queued()
at(760)
gateway.set_online(True)
gateway.drop_after_next_publish = True  # the client drops right after this publish: kept, resent
assert bridge.flush() == 0, "a publish the client may not have sent stays queued"
gateway.set_online(True)
assert bridge.flush() == 2, "the queue drains in order once the broker is back"

# Gateway restart: the first values after start-up report nothing new.
at(800)
restart()
assert bridge.queued() == 0

at(900)
write("GoodCount", 1015)
at(960)
write("Order", "")  # order finished on the HMI

out = open(out_path, "w")
for message in gateway.published:
    out.write(json.dumps({"topic": message["topic"], "payload": json.loads(message["payload"])}, sort_keys=True))
    out.write("\n")
out.close()
sys.stderr.write("published %d messages\n" % len(gateway.published))
