# Gateway Event Scripts > Timer > "Shopfloor Bridge flush" (Ignition 8.1+).
# Delay 5000 ms, Fixed Delay, Dedicated Thread: publishes what waited in the
# local queue while the broker was unreachable, oldest first.
shopfloor_bridge.flush()
