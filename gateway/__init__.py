"""The order gateway: the wire protocol, order entry, and the member client SDK.

Sessions, throttles, authorisation, execution reports with their resends, and the drop copy
(``gateway.session.Gateway``), with no sockets and no clock: the node (``carbonx.node``) owns the
sockets and hands it each frame. Around it: CURVE key files (``gateway.keys``), the ZAP handler that
admits members' keys (``gateway.zap``) and the gateway's options (``gateway.access``). The client SDK
is ``gateway.client`` (``MemberClient``, ``AsyncMemberClient``). See docs/ARCHITECTURE.md and
docs/PROTOCOL.md.
"""
