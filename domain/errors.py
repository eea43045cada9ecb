"""Errors every layer may raise; the CLI turns each into one clear line and exit code 1.

The domain is the innermost layer, so the shared base lives here: adapters, commands and
the privacy layer all import it without the domain importing any of them.
"""


class RegieError(Exception):
    """Base of every error that is meant for the user, not a programming error."""


class DomainRuleViolation(RegieError):
    """A command broke a rule of the case workflow (an illegal transition)."""


class ValidationFailed(RegieError):
    """Input that is malformed or refers to something that does not exist."""


class AccessDenied(RegieError):
    """The acting user may not do this (role, organisation or need-to-know)."""


class NotFound(ValidationFailed):
    """An id that does not refer to anything in this store."""


class Conflict(RegieError):
    """Someone else changed the same record at the same time; retrying is safe."""


class StoreProblem(RegieError):
    """The store or its keys cannot be used (missing, damaged, wrong key)."""


class PreconditionFailed(Conflict):
    """The caller acted on a version of a record that is no longer the newest (HTTP If-Match)."""
