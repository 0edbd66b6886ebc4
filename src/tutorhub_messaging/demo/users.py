"""The demo's people: fixed ids, so seeding twice finds them again instead of adding others."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tutorhub_messaging.settings import Settings

# Files of the web client's build (webapp/public/demo/), served by this service under /app/.
DEMO_FILES = "/app/demo"
# Where browsers reach the service when nothing else is said: `serve`'s default address.
DEFAULT_SITE = "http://127.0.0.1:3000"


@dataclass(frozen=True, slots=True)
class DemoUser:
    role: str
    id: str
    fullname: str
    avatar: str


STUDENT = DemoUser("student", "5a3d0c4e-1f6b-4c2a-9e1d-000000000001", "Sam Rivera", f"{DEMO_FILES}/sam.svg")
TUTOR = DemoUser("tutor", "5a3d0c4e-1f6b-4c2a-9e1d-000000000002", "Tara Okafor", f"{DEMO_FILES}/tara.svg")
SUPER_ADMIN = DemoUser(
    "superAdmin", "5a3d0c4e-1f6b-4c2a-9e1d-000000000004", "Max Keller", f"{DEMO_FILES}/max.svg"
)
ADMIN_NAME = "Ada Moreno"
ENROLLMENT_ID = "5a3d0c4e-1f6b-4c2a-9e1d-0000000000e1"
TUTOR_PROFILE_ID = "5a3d0c4e-1f6b-4c2a-9e1d-0000000000f1"
COURSE_PACK_ID = "5a3d0c4e-1f6b-4c2a-9e1d-0000000000c1"
COURSE_TITLE = "Algebra I: linear equations"
COURSE_GUIDELINES_BYTES = 883
WORKSHEET_BYTES = 867


def admin_of(settings: Settings) -> DemoUser:
    """The demo admin is the configured system admin, so the warnings other services send through
    ``sendSystemMessage`` land in conversations the demo admin sees."""
    return DemoUser("admin", settings.system_admin_id.lower(), ADMIN_NAME, f"{DEMO_FILES}/ada.svg")


def demo_users(settings: Settings) -> tuple[DemoUser, ...]:
    return (STUDENT, TUTOR, admin_of(settings), SUPER_ADMIN)
