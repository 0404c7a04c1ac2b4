"""heartbeat's UDP media (ucast, bcast, mcast), served from one asyncio event loop.

Each medium delivers every datagram it receives as on_datagram(data, (ip, port),
medium); medium.name is the link name (`eth0`) that link status is kept under.
"""
from .base import DEFAULT_UDPPORT, MediaError, UdpMedium
from .bcast import Bcast
from .directive import MEDIA_DIRECTIVES, media_from_directive, medium_from_config
from .mcast import Mcast
from .ucast import Ucast

__all__ = ["DEFAULT_UDPPORT", "MediaError", "UdpMedium", "Bcast", "Mcast", "Ucast",
           "MEDIA_DIRECTIVES", "media_from_directive", "medium_from_config"]
