"""Who is calling: a user (with roles) or another service (M2M)."""

from __future__ import annotations

from dataclasses import dataclass, field

SUPER_ADMIN = "superAdmin"
ADMIN = "admin"
TUTOR = "tutor"
STUDENT = "student"
KNOWN_ROLES = (SUPER_ADMIN, ADMIN, TUTOR, STUDENT)


@dataclass(frozen=True, slots=True)
class Principal:
    user_id: str
    roles: frozenset[str] = field(default_factory=frozenset)
    session_id: str | None = None
    fullname: str | None = None
    avatar: str | None = None
    email: str | None = None
    service_name: str | None = None  # set only for M2M tokens
    # The token's ``exp`` (seconds since the epoch); None for an absolute session.
    expires_at: float | None = None

    @property
    def is_service(self) -> bool:
        return self.service_name is not None

    @property
    def is_super_admin(self) -> bool:
        return SUPER_ADMIN in self.roles

    @property
    def is_admin(self) -> bool:
        """admin or superAdmin: may read any conversation and message over REST."""
        return ADMIN in self.roles or SUPER_ADMIN in self.roles

    @property
    def role_id(self) -> str | None:
        """The roles as the directory stores them: one string, comma-separated when several."""
        return ",".join(sorted(self.roles)) if self.roles else None
