"""The ``tutorhub-messaging`` command: ``serve``, ``deliver``, ``migrate``, ``demo`` and ``token``."""

from __future__ import annotations

# Imported here: the standard library and what the parser needs, nothing more, so that ``serve``
# binds its port (``listening``) a few tenths of a second after it is started; settings, logging,
# the web framework and the database layer are imported by each command when it runs.
import argparse
import gc
import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn

from tutorhub_messaging.demo.users import DEFAULT_SITE
from tutorhub_messaging.identity.principal import KNOWN_ROLES
from tutorhub_messaging.listening import MAX_PORT, MIN_PORT

if TYPE_CHECKING:
    from tutorhub_messaging.settings import Settings

# SQLAlchemy starts a wrapped driver error with the wrapper's class: "(sqlalchemy...Error) ...".
_LIBRARY_PREFIX = re.compile(r"^\([\w.]+\)\s*")
# Allocations between two young-generation collections (Python's default is 700).
GC_YOUNG_THRESHOLD = 10_000
# Middle-generation collections per full one at most (Python's default is 10).
GC_FULL_COLLECTION_EVERY = 100


def _start_logging(settings: Settings) -> None:
    from tutorhub_messaging.logs import configure_logging

    configure_logging(settings.log_level, queue_lines=settings.log_queue_lines)


def _stop_logging() -> None:
    # Imported when needed, like everything heavy here: the command must bind its port first.
    from tutorhub_messaging.logs import stop_logging

    stop_logging()


def _fail(message: str, *, status: int) -> NoReturn:
    _stop_logging()  # what was logged before comes first
    print(f"tutorhub-messaging: {message}", file=sys.stderr)
    raise SystemExit(status)


def _settings_or_exit() -> Settings:
    from tutorhub_messaging.settings import MIN_HS256_SECRET_BYTES, SettingsError, load_settings

    try:
        settings = load_settings()
    except SettingsError as exc:
        _fail(str(exc), status=2)
    if settings.short_secret:
        print(
            f"tutorhub-messaging: warning: MESSAGING_JWT_SECRET is shorter than {MIN_HS256_SECRET_BYTES} "
            "bytes, which production refuses",
            file=sys.stderr,
        )
    return settings


def one_line(exc: BaseException) -> str:
    """A failure as one line: no library's "background on this error" link, no SQL, no password."""
    from tutorhub_messaging.logs import redact

    text = str(exc).split("\n(Background on this error", 1)[0].strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return redact(_LIBRARY_PREFIX.sub("", first))


def _migrate(settings: Settings) -> str:
    """Apply the migrations; the revision the database is at afterwards. A database already at the
    newest revision is left as it is without importing Alembic (see ``db.revision``)."""
    from tutorhub_messaging.db.revision import HEAD_REVISION, current_revision

    _check_sqlite_file(settings)
    if current_revision(settings.database_url) == HEAD_REVISION:
        return HEAD_REVISION
    from tutorhub_messaging.db.migrate import upgrade
    from tutorhub_messaging.logs import redact_url

    try:
        upgrade(settings.database_url)
    except Exception as exc:
        _fail(f"migration failed on {redact_url(settings.database_url)}: {one_line(exc)}", status=1)
    return HEAD_REVISION


def _check_sqlite_file(settings: Settings) -> None:
    """Open an SQLite file the plain way first: when it cannot be, the async driver's worker
    thread would print a traceback of its own next to the one-line error."""
    if not settings.is_sqlite:
        return
    import sqlite3

    from sqlalchemy.engine import make_url

    path = make_url(settings.database_url).database
    if not path or path == ":memory:":
        return
    try:
        sqlite3.connect(path).close()
    except sqlite3.Error as exc:
        _fail(f"cannot open the SQLite database {path}: {exc}", status=1)


def tune_garbage_collector(full_every: int = GC_FULL_COLLECTION_EVERY) -> None:
    """Keep the cyclic garbage collector from stalling the event loop.

    Everything imported at start (SQLAlchemy, FastAPI, pydantic, Socket.IO) lives for the whole
    process, yet a full collection walks it all: under load that was a 250 ms pause every few
    seconds. Freezing it takes it out of every later collection. A larger first generation makes
    the frequent young collections rarer; each one stays short. What a full collection still
    walks is what the traffic keeps alive (sockets, sessions, rooms): with 1,000 sockets under
    inbox load that was up to 250-500 ms, every ~3 minutes at Python's pace, each one failing
    the latency bound for the seconds around it. ``full_every`` spaces them out (cyclic garbage
    that lived long is freed later instead). Call it once everything the process needs is
    imported; it turns the collector on, whether or not it was.
    """
    if gc.isenabled():
        gc.collect()  # what importing left as garbage, before it is frozen
    # Else ``serve`` imported with the collector off: a collection of everything, all of it in the
    # young generation, would cost ~0.12 s of the start to free the import's cyclic garbage; it is
    # frozen with the rest instead (measured: ~2,000 objects, ~0.45 MiB; ~8,000 and ~1.3 MiB when
    # the start also ran the migrations).
    gc.freeze()
    _young, middle, _full = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, full_every)
    gc.enable()  # ``serve`` turns it off while it imports the service


def _refuse_workers_without_redis(workers: int, settings: Settings) -> None:
    """Several processes share rooms, presence and rate limits only through Redis."""
    if workers > 1 and not settings.redis_url:
        _fail(
            f"--workers {workers} needs MESSAGING_REDIS_URL "
            "(processes share rooms, presence and rate limits through Redis)",
            status=2,
        )


def _seed_demo(settings: Settings, site: str) -> int:
    """Seed the demo; the number of sample messages it added (0 when it was there already)."""
    from tutorhub_messaging.demo.command import DemoRefused, run_demo_seed

    try:
        return run_demo_seed(settings, site).messages_added
    except DemoRefused as exc:
        _fail(str(exc), status=2)


def cmd_serve(args: argparse.Namespace) -> None:
    from tutorhub_messaging.listening import ServeError, bind, listen_url

    try:
        # First, before settings and before the service is imported: a busy port fails before
        # anything has started, and clients reconnecting meanwhile wait instead of being refused.
        sock = bind(args.host, args.port)
    except ServeError as exc:
        _fail(str(exc), status=1)
    # No cyclic collections until the service is imported: importing it allocates hundreds of
    # thousands of objects that live as long as the process, and the collector walked them ~340
    # times on the way (~150 ms of a ~1.2 s start, while reconnecting clients wait). They are
    # frozen by tune_garbage_collector, which turns the collector back on.
    gc.disable()
    settings = _settings_or_exit()
    _refuse_workers_without_redis(args.workers, settings)
    _start_logging(settings)
    migrations = "skipped (--no-migrate)" if args.no_migrate else f"applied up to {_migrate(settings)}"
    if args.demo:
        # Browsers reach a wildcard address through the loopback one.
        browser_host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(args.host, args.host)  # noqa: S104
        added = _seed_demo(settings, listen_url(browser_host, args.port))
        print(f"demo ready: {added} sample messages added; sign in at /app/", file=sys.stderr)
    import tutorhub_messaging.app  # noqa: F401  (the whole service, imported before the freeze)
    from tutorhub_messaging.serving import run

    tune_garbage_collector(settings.gc_full_collection_every)
    try:
        run(settings, sock, host=args.host, port=args.port, workers=args.workers, migrations=migrations)
    except ServeError as exc:
        _fail(str(exc), status=3)


def cmd_deliver(args: argparse.Namespace) -> None:
    import uvloop

    from tutorhub_messaging.outbox.process import deliver_until_stopped

    settings = _settings_or_exit()
    if not settings.webhook_urls:
        _fail("nothing to deliver: MESSAGING_WEBHOOK_URLS is empty", status=2)
    _start_logging(settings)
    metrics = (args.metrics_host, args.metrics_port) if args.metrics_port is not None else None
    try:
        uvloop.run(deliver_until_stopped(settings, metrics=metrics))
    except OSError as exc:  # the metrics port is taken
        _fail(f"cannot serve metrics on {args.metrics_host}:{args.metrics_port}: {one_line(exc)}", status=1)
    finally:
        _stop_logging()


def cmd_migrate(_args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    _start_logging(settings)
    revision = _migrate(settings)
    _stop_logging()
    print(f"migrations applied: the database is at revision {revision}", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> None:
    settings = _settings_or_exit()
    _start_logging(settings)
    _migrate(settings)
    added = _seed_demo(settings, args.site_url)
    _stop_logging()
    print(f"demo ready: {added} sample messages added; sign in at /app/", file=sys.stderr)


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
        print(
            mint_service_token(secret, service_name=args.service, ttl_seconds=args.ttl or DEFAULT_TOKEN_TTL)
        )
        return
    ttl = None if args.ttl == 0 and args.role == "superAdmin" else (args.ttl or DEFAULT_TOKEN_TTL)
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


DESCRIPTION = """\
TutorHub messaging: the REST API and the realtime Socket.IO chat hub, on one port.

Settings come from MESSAGING_* environment variables (see the README's configuration table);
command-line options cover only how and where to run."""

EPILOG = """\
examples:
  tutorhub-messaging serve --host 0.0.0.0 --port 8080
  tutorhub-messaging deliver --metrics-port 9101
  tutorhub-messaging migrate
  tutorhub-messaging demo
  tutorhub-messaging token --role tutor --fullname "Tara Tutor"
  tutorhub-messaging token --m2m --service adminPanel

Run "tutorhub-messaging COMMAND --help" for a command's options."""

DEFAULT_TOKEN_TTL = 3600


class _Parser(argparse.ArgumentParser):
    """Usage mistakes in one line, with where to look."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _PrintVersion(argparse.Action):
    """argparse's ``version`` action, with the version read only when it is asked for."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs: Any) -> None:
        super().__init__(option_strings, dest=dest, default=argparse.SUPPRESS, nargs=0, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from tutorhub_messaging import __version__

        print(f"{parser.prog} {__version__}")
        parser.exit()


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not MIN_PORT <= value <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port ({MIN_PORT}-{MAX_PORT})")
    return value


def _count(minimum: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    return parse


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="tutorhub-messaging",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action=_PrintVersion, help="print the version and exit")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the service (REST + Socket.IO on one port)",
        description="Run the service: REST and the realtime hub on one port. Applies migrations first.",
    )
    serve.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on; 0.0.0.0 for every interface (default: %(default)s)",
    )
    serve.add_argument(
        "--port", type=_port, default=3000, help="TCP port to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=_count(1),
        default=1,
        help="processes serving the port; more than one needs MESSAGING_REDIS_URL (default: %(default)s)",
    )
    serve.add_argument(
        "--no-migrate", action="store_true", help="do not apply migrations on start (default: apply them)"
    )
    serve.add_argument(
        "--demo", action="store_true", help="seed the demo users first, development mode only (default: no)"
    )
    serve.set_defaults(func=cmd_serve)

    deliver = commands.add_parser(
        "deliver",
        help="deliver the webhooks in a process of its own (MESSAGING_WEBHOOK_DELIVERY=separate)",
        description=(
            "Deliver the outbox to MESSAGING_WEBHOOK_URLS and prune it, until SIGTERM or SIGINT. "
            "Run it beside service processes started with MESSAGING_WEBHOOK_DELIVERY=separate; "
            "several may run at once."
        ),
    )
    deliver.add_argument(
        "--metrics-port",
        type=_port,
        metavar="PORT",
        help="serve this process's counters at /metrics on this port (default: none)",
    )
    deliver.add_argument(
        "--metrics-host", default="127.0.0.1", help="address for --metrics-port (default: %(default)s)"
    )
    deliver.set_defaults(func=cmd_deliver)

    migrate = commands.add_parser(
        "migrate",
        help="apply migrations to MESSAGING_DATABASE_URL",
        description="Bring the database at MESSAGING_DATABASE_URL to the newest schema, then exit.",
    )
    migrate.set_defaults(func=cmd_migrate)

    demo = commands.add_parser(
        "demo",
        help="seed demo users and conversations (development mode only)",
        description=(
            "Apply migrations, then seed a demo student, tutor, admin and super admin with their "
            "conversations and sample messages. Running it again adds nothing."
        ),
    )
    demo.add_argument(
        "--site-url",
        default=DEFAULT_SITE,
        metavar="URL",
        help="where browsers reach the service; the sample images and documents link there "
        "(default: %(default)s)",
    )
    demo.set_defaults(func=cmd_demo)

    token = commands.add_parser(
        "token",
        help="print a signed access token for local use",
        description=(
            "Print an access token signed with MESSAGING_JWT_SECRET (in development without one: the "
            "built-in development key, which a service started the same way accepts)."
        ),
    )
    token.add_argument("--user-id", metavar="UUID", help="the user's id (default: a new random UUID)")
    token.add_argument(
        "--role", choices=KNOWN_ROLES, default="student", help="the user's role (default: %(default)s)"
    )
    token.add_argument("--fullname", metavar="NAME", help="display name carried in the token (default: none)")
    token.add_argument("--avatar", metavar="URL", help="avatar URL carried in the token (default: none)")
    token.add_argument(
        "--ttl",
        type=_count(0),
        default=DEFAULT_TOKEN_TTL,
        metavar="SECONDS",
        help="lifetime in seconds; 0 with --role superAdmin: no expiry (default: %(default)s, one hour)",
    )
    token.add_argument(
        "--m2m", action="store_true", help="print a service (M2M) token (default: a user token)"
    )
    token.add_argument("--service", metavar="NAME", help="the calling service's name, required with --m2m")
    token.set_defaults(func=cmd_token)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    args.func(args)
