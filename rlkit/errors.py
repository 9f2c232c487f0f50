"""User-facing errors: the CLI prints their message on one line and exits non-zero."""


class RlkitError(Exception):
    """A problem with what the user asked for (bad name, bad value, bad file)."""


class ConfigError(RlkitError):
    """An unknown config key, or a value of the wrong type or range."""


class CheckpointError(RlkitError):
    """A checkpoint that does not exist, is corrupt, or belongs to something else."""
