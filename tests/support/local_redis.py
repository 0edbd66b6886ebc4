"""The local Redis the tests use (a fresh machine for the suite has one at this address)."""

REDIS_URL = "redis://127.0.0.1:6379/0"
