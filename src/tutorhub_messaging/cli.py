"""``tutorhub-messaging serve | migrate | token``."""

from __future__ import annotations

import argparse
import gc
import sys

from tutorhub_messaging.identity.principal import KNOWN_ROLES
from tutorhub_messaging.logs import configure_logging
from tutorhub_messaging.settings import Settings, SettingsError, load_settings

# Allocations between two young-generation collections (Python's default is 700).
GC_YOUNG_THRESHOLD = 10_000


def _settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        print(f"tutorhub-messaging: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _migrate(settings: Settings) -> None:
    from tutorhub_messaging.db.migrate import upgrade

    try:
        upgrade(settings.database_url)
    except Exception as exc:
        print(f"tutorhub-messaging: migration failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise SystemExit(1) from None


def tune_garbage_collector() -> None:
    """Keep the cyclic garbage collector from stalling the event loop.

    Everything imported at start (SQLAlchemy, FastAPI, pydantic, Socket.IO) lives for the whole
    process, yet a full collection walks it all: under load that was a 250 ms pause every few
    seconds. Freezing it takes it out of every later collection. A larger first generation makes
    the frequent young collections rarer; each one stays short. Call it once everything the
    process needs is imported.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


def _seed_demo(settings: Settings) -> None:
    from tutorhub_messaging.demo.command import DemoRefused, run_demo_seed

    try:
        seeded = run_demo_seed(settings)
    except DemoRefused as exc:
        print(f"tutorhub-messaging: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    print(f"demo ready: {seeded.messages_added} sample messages added; sign in at /app/", file=sys.stderr)


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    settings = _settings_or_exit()
    configure_logging(settings.log_level)
    if not args.no_migrate:
        _migrate(settings)
    if args.demo:
        _seed_demo(settings)
    import tutorhub_messaging.app  # noqa: F401  (the whole service, imported before the freeze)

    tune_garbage_collector()
    uvicorn.run(
        "tutorhub_messaging.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        loop="uvloop",
        http="httptools",
        ws="websockets-sansio",
        ws_per_message_deflate=False,  # deflate costs CPU and ~2x memory per connection
        log_config=None,
        access_log=False,
        proxy_headers=True,
        timeout_graceful_shutdown=10,
    )


def cmd_migrate(_args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    configure_logging(settings.log_level)
    _migrate(settings)
    print("migrations applied", file=sys.stderr)


def cmd_demo(_args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    configure_logging(settings.log_level)
    _migrate(settings)
    _seed_demo(settings)


def cmd_token(args: argparse.Namespace) -> None:
    from tutorhub_messaging.identity.tokens import mint_service_token, mint_user_token

    settings = _settings_or_exit()
    secret = settings.hs256_secret
    if secret is None:
        print("tutorhub-messaging: token needs MESSAGING_JWT_SECRET", file=sys.stderr)
        raise SystemExit(2)
    if args.m2m:
        if not args.service:
            print("tutorhub-messaging: --m2m needs --service NAME", file=sys.stderr)
            raise SystemExit(2)
        print(mint_service_token(secret, service_name=args.service, ttl_seconds=args.ttl or 3600))
        return
    ttl = None if args.ttl == 0 and args.role == "superAdmin" else (args.ttl or 3600)
    print(
        mint_user_token(
            secret,
            user_id=args.user_id,
            role=args.role,
            fullname=args.fullname,
            avatar=args.avatar,
            ttl_seconds=ttl,
        )
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tutorhub-messaging", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the service (REST + Socket.IO on one port)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=3000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--no-migrate", action="store_true", help="do not apply migrations on start")
    serve.add_argument("--demo", action="store_true", help="seed the demo users first (development only)")
    serve.set_defaults(func=cmd_serve)

    migrate = commands.add_parser("migrate", help="apply migrations to MESSAGING_DATABASE_URL")
    migrate.set_defaults(func=cmd_migrate)

    demo = commands.add_parser("demo", help="seed demo users and conversations (development only)")
    demo.set_defaults(func=cmd_demo)

    token = commands.add_parser("token", help="print a signed access token for local use")
    token.add_argument("--user-id", help="user UUID (default: a new one)")
    token.add_argument("--role", choices=KNOWN_ROLES, default="student")
    token.add_argument("--fullname")
    token.add_argument("--avatar")
    token.add_argument("--ttl", type=int, default=3600, help="seconds; 0 with superAdmin: no expiry")
    token.add_argument("--m2m", action="store_true", help="print a service (M2M) token")
    token.add_argument("--service", help="service name for --m2m")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
