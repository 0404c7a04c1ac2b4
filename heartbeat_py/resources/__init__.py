"""heartbeat v1 resources: haresources groups, the script calling convention, the v1
resource protocol of heartbeat 3.0.6, ping nodes. docs/heartbeat-resources.md."""
from .manager import ResourceManager

__all__ = ["ResourceManager"]
