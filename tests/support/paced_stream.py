"""The ``paced_stream`` test model's pace: it answers one response per element of IN, the first
40 ms after the request reached it, then one every 10 ms."""

FIRST_US = 40_000
GAP_US = 10_000
RESPONSES = 6
#: Within 10 % of the model's pace (4 ms of 40: the test machine is shared). The client adds the
#: network and the server's scheduling to the first response, never less than the model's delay.
TOLERANCE = 0.10
