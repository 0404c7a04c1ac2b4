"""drbdadm's failures: the line it prints and the exit code it gives."""


class AdmError(Exception):
    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


class UsageError(AdmError):
    """A command line drbdadm does not accept, or a resource it does not know."""


class PlanError(AdmError):
    """A command that cannot be planned from this configuration."""


class ExecError(AdmError):
    """A step the engine (or the meta-data code) refused or could not carry out."""


class EngineNotRunning(ExecError):
    """No engine answers on the control socket."""
