"""TutorHub messaging backend: conversations, chat messages and the realtime chat hub."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tutorhub-messaging")
except PackageNotFoundError:  # running from a source tree without an install
    __version__ = "0.0.0"

SERVICE_NAME = "tutorhub-messaging"
