"""Errors the engine reports to drbdadm: drbdsetup's texts and exit codes."""
from __future__ import annotations

from .states import SS_TEXT, state_exit_code

# drbdsetup's "Failure: (N) ..." codes (enum drbd_ret_code)
ERR_LOCAL_ADDR = 102
ERR_OPEN_DISK = 104
ERR_DISK_TOO_SMALL = 111
ERR_MD_INVALID = 119
ERR_AUTH_ALG = 120
ERR_AUTH_ALG_ND = 121
ERR_DISCARD_IMPOSSIBLE = 123
ERR_DISK_CONFIGURED = 124
ERR_NET_CONFIGURED = 125
ERR_MINOR_INVALID = 127
ERR_RESIZE_RESYNC = 130
ERR_PAUSE_IS_SET = 134
ERR_PAUSE_IS_CLEAR = 135
ERR_NO_DISK = 138
ERR_VERIFY_ALG = 146
ERR_RES_NOT_KNOWN = 158
ERR_MINOR_OR_VOLUME_EXISTS = 161
ERR_INVALID_REQUEST = 162

FAILURE_TEXT = {
    ERR_LOCAL_ADDR: "Local address(port) already in use.",
    ERR_OPEN_DISK: "Can not open backing device.",
    ERR_DISK_TOO_SMALL: "Low.dev. smaller than requested DRBD-dev. size.",
    ERR_MD_INVALID: "No valid meta-data signature found.",
    ERR_AUTH_ALG: "The 'cram-hmac-alg' you specified is not known in the kernel. "
                  "(Maybe you need to modprobe it, or modprobe hmac?)",
    ERR_AUTH_ALG_ND: "The 'cram-hmac-alg' you specified is not a digest.",
    ERR_DISCARD_IMPOSSIBLE: "--discard-my-data not allowed when primary.",
    ERR_DISK_CONFIGURED: "Device is attached to a disk (use detach first)",
    ERR_NET_CONFIGURED: "Device has a net-config (use disconnect first)",
    ERR_MINOR_INVALID: "Device minor not allocated",
    ERR_RESIZE_RESYNC: "Resize not allowed during resync.",
    ERR_PAUSE_IS_SET: "Sync-pause flag is already set",
    ERR_PAUSE_IS_CLEAR: "Sync-pause flag is already cleared",
    ERR_NO_DISK: "Device does not have a disk-config",
    ERR_VERIFY_ALG: "VERIFYAlgNotAvail",
    ERR_RES_NOT_KNOWN: "Unknown resource",
    ERR_MINOR_OR_VOLUME_EXISTS: "Minor or volume exists already (delete it first)",
    ERR_INVALID_REQUEST: "Invalid configuration request",
}


class EngineError(Exception):
    """A refused step: `message` is what drbdadm prints, `code` its exit status."""

    def __init__(self, message: str, code: int = 10):
        super().__init__(message)
        self.message = message
        self.code = code


def failure(err: int, who: str = "", detail: str = "") -> EngineError:
    text = detail or FAILURE_TEXT.get(err, "error")
    prefix = f"{who}: " if who else ""
    return EngineError(f"{prefix}Failure: ({err}) {text}", 10)


def state_failed(rv: int, who: str = "") -> EngineError:
    prefix = f"{who}: " if who else ""
    return EngineError(f"{prefix}State change failed: ({rv}) {SS_TEXT.get(rv, 'unknown error')}",
                       state_exit_code(rv))
