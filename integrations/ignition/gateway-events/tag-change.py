# Gateway Event Scripts > Tag Change > "Shopfloor Bridge" (Ignition 8.1+).
# Tag Paths: every GoodCount, ScrapCount, State and Order member of each
# ShopfloorMachine instance (integrations/ignition/README.md prints the list);
# in "tags" mode also Operation, ReasonCode and ScrapReason.
# Variables Ignition provides here: event, initialChange, newValue, previousValue, executionCount.
shopfloor_bridge.on_tag_change(str(event.tagPath), newValue)
