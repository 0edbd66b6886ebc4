"""Test callers: users with real signed tokens, and service tokens."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from tutorhub_messaging.identity.tokens import mint_service_token, mint_user_token

TEST_SECRET = "test-secret-for-the-suite-only-0123456789"


@dataclass
class User:
    role: str = "student"
    fullname: str | None = None
    avatar: str | None = None
    id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def __post_init__(self) -> None:
        if self.fullname is None:
            self.fullname = f"{self.role.title()} {self.id[:4]}"
        if self.avatar is None:
            self.avatar = f"https://cdn.example.test/avatars/{self.id}.png"

    @property
    def token(self) -> str:
        ttl = None if self.role == "superAdmin" else 3600
        return mint_user_token(
            TEST_SECRET,
            user_id=self.id,
            role=self.role,
            fullname=self.fullname,
            avatar=self.avatar,
            ttl_seconds=ttl,
        )

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def service_token(name: str = "adminPanel") -> str:
    return mint_service_token(TEST_SECRET, service_name=name)


def service_headers(name: str = "adminPanel") -> dict[str, str]:
    return {"Authorization": f"Bearer {service_token(name)}"}
