# Runs generated scenarios through the Ignition kit's gateway script under
# real Jython 2.7 (the fake gateway of fake_ignition_system.py around it), for
# the property test in ignition_kit.int.test.ts. One Jython start for all
# scenarios; each gets a fresh queue folder and a freshly loaded script.
#
#   java -jar jython-standalone-2.7.4.jar run_ignition_property.py <library dir> <work dir> <scenarios.json> <out.json>
#
# A scenario is a list of steps:
#   {"op": "write", "member": "GoodCount", "value": 12, "good": true, "ms": 1000}
#   {"op": "online", "value": false}     broker reachable or not
#   {"op": "drop_next"}                  the client drops right after the next publish
#   {"op": "restart"}                    gateway restart: script reloaded, every tag fired once
#   {"op": "flush"}                      the timer script runs
# After the last step the broker comes back and the queue is flushed until empty.
# Output per scenario: {"made": [events on_tag_change returned], "published": [payloads], "left": n}.
import __builtin__
import imp
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_ignition_system import GOOD, FakeIgnitionGateway, FakeQualifiedValue, FakeQuality  # noqa: E402

library_dir, work_dir, scenarios_path, out_path = sys.argv[1:5]
MACHINE = "[default]Plant1/Line1/Press01"
ONLINE_TAG = "[MQTT Transmission]Transmission Info/Transmitters/T/Edge Nodes/G/E/MQTT Client/Online"
START = 1796104800000
BAD = FakeQuality("Bad_NotConnected")


def run(index, steps):
    gateway = FakeIgnitionGateway(ONLINE_TAG)
    __builtin__.system = gateway
    queue_dir = os.path.join(work_dir, "scenario-%d" % index)

    def load():
        code = os.path.join(library_dir, "shopfloor_bridge", "code.py")
        module = imp.load_source("shopfloor_bridge_%d" % index, code)
        module.SETTINGS.update({"mode": "events", "queue_dir": queue_dir, "online_tag": ONLINE_TAG})
        return module

    bridge = load()
    made = []
    gateway.set_online(True)
    gateway.tags[MACHINE + "/Source"] = FakeQualifiedValue("plant1/line1/press-01", GOOD, START)
    gateway.tags[MACHINE + "/Unit"] = FakeQualifiedValue("Units", GOOD, START)
    gateway.tags[MACHINE + "/Operation"] = FakeQualifiedValue("Stamping", GOOD, START)
    for step in steps:
        op = step["op"]
        if op == "write":
            gateway.clock = START + step["ms"]
            path = MACHINE + "/" + step["member"]
            qualified = FakeQualifiedValue(step["value"], GOOD if step["good"] else BAD, gateway.clock)
            gateway.tags[path] = qualified
            made.extend(bridge.on_tag_change(path, qualified))
        elif op == "online":
            gateway.set_online(step["value"])
        elif op == "drop_next":
            gateway.drop_after_next_publish = True
        elif op == "flush":
            bridge.flush()
        elif op == "restart":
            bridge = load()
            for member in ("GoodCount", "ScrapCount", "State", "Order"):
                qualified = gateway.tags.get(MACHINE + "/" + member)
                if qualified is not None:
                    made.extend(bridge.on_tag_change(MACHINE + "/" + member, qualified))
    gateway.drop_after_next_publish = False
    for _ in range(1000):
        gateway.set_online(True)
        if bridge.queued() == 0:
            break
        bridge.flush()
    published = [json.loads(m["payload"]) for m in gateway.published]
    return {"made": made, "published": published, "left": bridge.queued()}


scenarios = json.load(open(scenarios_path))
results = [run(i, steps) for i, steps in enumerate(scenarios)]
out = open(out_path, "w")
out.write(json.dumps(results))
out.close()
