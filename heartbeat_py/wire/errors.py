"""Why a packet was refused: one exception type per reason, so the daemon can count,
log (rate-limited) and drop without ever crashing on what a peer sent."""


class WireError(Exception):
    """Base of every refusal raised while decoding or screening a packet."""

    reason = "bad packet"


class TooLarge(WireError):
    reason = "oversized packet"


class Truncated(WireError):
    reason = "truncated packet"


class Garbled(WireError):
    reason = "garbled packet"


class BadAuth(WireError):
    """Missing, unknown-index or wrong authentication; heartbeat logs this as
    `failed authentication`."""

    reason = "failed authentication"


class UnknownNode(WireError):
    """The sender is not in any `node` line and `autojoin` does not let it in."""

    reason = "node not in configuration"


class Replay(WireError):
    """The packet carries a generation (`hg`) lower than the last one seen from its
    sender: heartbeat's `attempted replay attack`."""

    reason = "attempted replay attack"
