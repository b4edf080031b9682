"""The order gateway: wire protocol, ZeroMQ order entry, CURVE authentication, sessions,
throttles and the member client SDK. Arrives with the gateway issue; until then members trade
through `carbonx simulate` in process."""
