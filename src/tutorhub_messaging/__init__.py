"""TutorHub messaging backend: conversations, chat messages and the realtime chat hub."""

from __future__ import annotations

SERVICE_NAME = "tutorhub-messaging"


def __getattr__(name: str) -> str:
    # ``__version__`` is read from the installed package's metadata when first asked for, not on
    # every import: ``serve`` binds its port before importing anything it can do without.
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("tutorhub-messaging")
    except PackageNotFoundError:  # running from a source tree without an install
        found = "0.0.0"
    globals()["__version__"] = found
    return found
