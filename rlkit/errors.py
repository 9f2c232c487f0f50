"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class RlkitError(Exception):
    """A problem with what the user asked for (bad name, bad value, bad file).

    Its message is one line: a line break inside it (a key the user typed with one, say)
    shows as ``\\n``."""

    def __str__(self) -> str:
        return super().__str__().replace("\r", "\\r").replace("\n", "\\n")


class ConfigError(RlkitError):
    """An unknown config key, or a value of the wrong type or range."""


class CheckpointError(RlkitError):
    """A checkpoint that does not exist, is corrupt, or belongs to something else."""


class RunError(RlkitError):
    """Training stopped by a fault: a diverged loss, an env that raised or returned a
    non-finite value, a full disk, a run directory in use. The message is the one line the
    CLI prints; ``checkpoint_step`` is the step of the last good checkpoint (None: none)."""

    def __init__(self, message: str, checkpoint_step: int | None = None) -> None:
        super().__init__(message)
        self.checkpoint_step = checkpoint_step
