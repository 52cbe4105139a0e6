# Script Console (Ignition 8.1+): prints the Tag Paths for the Tag Change
# script, one per line, for every ShopfloorMachine instance of a provider.
provider = "[default]"
members = ["GoodCount", "ScrapCount", "State", "Order"]  # tags mode: + Operation, ReasonCode, ScrapReason
results = system.tag.browse(provider, {"tagType": "UdtInstance", "typeId": "ShopfloorMachine", "recursive": True})
for instance in results.getResults():
    for member in members:
        print("%s/%s" % (instance["fullPath"], member))
