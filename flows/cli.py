"""The `hfdaily` command: run a date, backfill a range, rebuild the site, demo, sandbox, serve."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import time
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, NoReturn

from tasks.dates import parse_date
from tasks.errors import HfDailyError
from tasks.memory import limit_malloc_arenas

DEMO_DATES = ("2025-01-22", "2025-01-23", "2025-01-24")
MAX_REVIEW = 50  # papers per `hfdaily review` (tasks/arxiv_api.py: MAX_PAPERS; importing it here would load Prefect)

# Prefect settings the CLI sets when the user has set them nowhere: (environment name, path in prefect.toml, value).
PREFECT_DEFAULTS: tuple[tuple[str, tuple[str, ...], str], ...] = (
    # The temporary server gets 20 s to start by default; a busy 2-core machine sometimes needs more.
    ("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", ("server", "ephemeral", "startup_timeout_seconds"), "90"),
    # Its telemetry heartbeat logs an ERROR on every run of a machine that cannot reach Prefect's collector.
    ("PREFECT_SERVER_ANALYTICS_ENABLED", ("server", "analytics_enabled"), "false"),
)


def _date_arg(value: str) -> dt.date:
    try:
        return parse_date(value)
    except HfDailyError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _at_least(low: float, kind: type[int] | type[float]) -> Callable[[str], float]:
    """An argparse type: a number of `kind` not below `low` (the same bounds as the run form's)."""

    def convert(value: str) -> float:
        try:
            number = kind(value)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(f"{value!r} is not {'an integer' if kind is int else 'a number'}") from exc
        if number < low:
            raise argparse.ArgumentTypeError(f"{value} is less than {low:g}")
        return number

    return convert


class _Parser(argparse.ArgumentParser):
    """Bad arguments get one line on stderr (not the usage block) and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def _verbose(parser: argparse.ArgumentParser, default: Any = argparse.SUPPRESS) -> None:
    parser.add_argument("-v", "--verbose", action="store_true", default=default,
                        help="show every log line, tracebacks included (they always go to the log file)")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="hfdaily", description="Daily multilingual digest of HF Daily Papers.")
    _verbose(p, default=False)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="fetch, enrich, store and render one date")
    run.add_argument("--date", type=_date_arg, help="YYYY-MM-DD (default: today, UTC)")
    run.add_argument("--max-cost", type=_at_least(0, float), metavar="USD",
                     help="stop starting LLM calls past this spend")
    run.add_argument("--no-render", action="store_true", help="store the day but do not render pages")
    run.add_argument("--no-post", action="store_true",
                     help="do not post the day to the Telegram channel (nor edit its post)")

    bf = sub.add_parser("backfill", help="run every date from START to END (inclusive)")
    bf.add_argument("start", type=_date_arg)
    bf.add_argument("end", type=_date_arg)
    bf.add_argument("--force", action="store_true", help="re-run dates that are already complete")
    bf.add_argument("--max-parallel", type=_at_least(1, int), default=2, help="dates processed at once (default 2)")
    bf.add_argument("--max-cost", type=_at_least(0, float), metavar="USD")
    bf.add_argument("--batch", action="store_true",
                    help="LLM calls through the providers' batch APIs at half price: submit and return; run the "
                         "same command again later (or let the batch-collect deployment) to collect")

    rv = sub.add_parser("review", help="review papers on request: arXiv ids or arxiv.org / huggingface.co links")
    rv.add_argument("papers", nargs="+", metavar="ID_OR_URL", help="1 to 50 arXiv ids or paper links")
    rv.add_argument("--max-cost", type=_at_least(0, float), metavar="USD",
                    help="stop starting LLM calls past this spend")
    rv.add_argument("--no-render", action="store_true", help="store the reviews but do not render pages")

    sub.add_parser("site", help="re-render the whole site from the day store")

    demo = sub.add_parser("demo", help="start the sandbox and run a few sample dates against it (offline)")
    demo.add_argument("--out", type=Path, default=Path("demo"), help="where data/ and site/ go (default demo/)")
    demo.add_argument("--dates", nargs="+", type=_date_arg, default=list(DEMO_DATES))

    sb = sub.add_parser("sandbox", help="serve the local stand-in for HF, arXiv and the LLM APIs")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=_at_least(0, int), default=8765, help="0 picks a free port")
    sb.add_argument("--recorded", type=Path, help="serve recorded daily_papers responses from this folder")
    sb.add_argument("--papers-per-day", type=_at_least(0, int), default=8)

    sub.add_parser("serve", help="serve the deployments (daily, backfill, rebuild-site, review) from this process")

    al = sub.add_parser("alerts", help="create or update the alerting automations on the Prefect server")
    al.add_argument("--block", default=None, metavar="TYPE/NAME",
                    help="notification block the alerts go to (default custom-webhook/hfdaily-alerts)")
    al.add_argument("--webhook-url", help="save this URL as the custom-webhook block first "
                                          "(default: HFDAILY_ALERT_WEBHOOK_URL)")
    sub.add_parser("limits", help="create or update the Prefect global concurrency limits that share the LLM "
                                  "budgets between runs, processes and machines (run it next to `prefect deploy`)")
    for command in sub.choices.values():
        _verbose(command)
    return p


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "backfill" and args.end < args.start:
        parser.error(f"end {args.end} is before start {args.start}")
    if args.command == "review" and len(args.papers) > MAX_REVIEW:
        parser.error(f"{len(args.papers)} papers given; a review takes at most {MAX_REVIEW} (nothing was run)")
    return args


def _toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # absent or unreadable: Prefect reports a broken file itself


def _lookup(table: Mapping[str, Any], path: Sequence[str]) -> Any:
    for key in path:
        if not isinstance(table, Mapping) or key not in table:
            return None
        table = table[key]
    return table


def prefect_defaults(environ: Mapping[str, str], cwd: Path) -> dict[str, str]:
    """The PREFECT_DEFAULTS the user has not set in any place Prefect reads settings from: the environment,
    `.env`, `prefect.toml` and `pyproject.toml` ([tool.prefect]) in `cwd`, and the active profile."""
    from dotenv import dotenv_values  # python-dotenv comes with pydantic-settings

    dotenv = dotenv_values(cwd / ".env") if (cwd / ".env").is_file() else {}
    prefect_toml, pyproject = _toml(cwd / "prefect.toml"), _toml(cwd / "pyproject.toml")
    home = Path(environ.get("PREFECT_HOME") or "~/.prefect").expanduser()
    profiles = _toml(Path(environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser())
    active = environ.get("PREFECT_PROFILE") or profiles.get("active") or ""
    profile = _lookup(profiles, ("profiles", str(active))) or {}
    return {
        name: value for name, path, value in PREFECT_DEFAULTS
        if name not in environ and name not in dotenv and name not in profile
        and _lookup(prefect_toml, path) is None and _lookup(pyproject, ("tool", "prefect", *path)) is None
    }


# Commands that read the settings: checked before any of them creates a flow run.
NEEDS_SETTINGS = ("run", "backfill", "site", "demo", "serve", "alerts", "limits", "review")
# Commands whose console is kept to hfdaily's own lines (flows/console.py); serve and alerts show Prefect's.
QUIET = ("run", "backfill", "site", "demo", "review")


def main(argv: Sequence[str] | None = None) -> int:
    """Exit status: 0 done, 1 the work failed (its one line names the log file), 2 a bad argument or setting
    (nothing was run), 130 interrupted."""
    args = _parse(argv)
    limit_malloc_arenas()  # before Prefect and the runs start their threads (tasks/memory.py)
    # Before anything imports prefect: its settings are read once, when it is first imported.
    os.environ.update(prefect_defaults(os.environ, Path.cwd()))
    if args.command in NEEDS_SETTINGS:
        from tasks.settings import load_settings

        try:
            load_settings()
        except HfDailyError as exc:
            print(f"hfdaily: error: bad setting: {exc} (nothing was run)", file=sys.stderr)
            return 2
    if args.command == "sandbox":
        return COMMANDS[args.command](args)
    return _with_console(args)


def _with_console(args: argparse.Namespace) -> int:
    from flows.console import command_console, error_line, print_traceback
    from flows.launch import STARTED, settle, stop_temporary_server, uses_temporary_server
    from tasks.api_waits import announce_api_waits

    announce_api_waits()
    temporary = uses_temporary_server()
    failure: BaseException | None = None
    with command_console(args.command, args.verbose, quiet=args.command in QUIET) as log:
        try:
            code = COMMANDS[args.command](args)
        except KeyboardInterrupt as exc:
            code, failure = 130, exc
        except Exception as exc:
            code, failure = 1, exc
            if log.path is not None or not isinstance(exc, HfDailyError):
                log.write_failure(exc)  # an unexpected error's traceback is the first thing to look at
        if temporary and STARTED:
            # Before the temporary server stops, its last task states are written, not lost mid-write; then it
            # stops here, so the command's own last line is the last line.
            settle()
            stop_temporary_server()
    if isinstance(failure, KeyboardInterrupt):
        print("hfdaily: interrupted", file=sys.stderr)
    elif failure is not None:
        if args.verbose:
            print_traceback(failure)
        print(error_line(failure, log), file=sys.stderr)
    return code


def _run(args: argparse.Namespace) -> int:
    from flows.daily import daily_digest
    from flows.launch import run_here
    from tasks.dates import today_utc

    day = args.date or today_utc()
    summary = run_here(daily_digest, f"daily-{day}", date=day, max_cost=args.max_cost, render=not args.no_render,
                       post=not args.no_post)
    print(f"{summary['date']}: {summary['line']}")
    if summary.get("page"):
        print(f"page: {summary['page']}")
    if summary.get("telegram"):
        print(f"telegram: {summary['telegram']}")
    return 0


def _backfill(args: argparse.Namespace) -> int:
    from flows.backfill import backfill
    from flows.launch import run_here
    from tasks.progress import Progress, ProgressPrinter, listening

    # A live line on a terminal (plain lines every 30 s elsewhere): dates, papers, calls, dollars, ETA.
    with listening(Progress()) as progress, ProgressPrinter(progress, sys.stderr):
        result = run_here(backfill, f"backfill-{args.start}-to-{args.end}", start=args.start, end=args.end,
                          force=args.force, max_parallel=args.max_parallel, max_cost=args.max_cost,
                          **({"mode": "batch"} if getattr(args, "batch", False) else {}))
    for date, outcome in result["dates"].items():
        print(f"{date}: {outcome}")
    if "batches" in result:
        from flows.batches import batch_line

        print(f"batches: {batch_line(result['batches']['collected'], result['batches']['submitted'])}")
    return 1 if result["failed"] else 0


def _review(args: argparse.Namespace) -> int:
    from flows.launch import run_here
    from flows.review import review, review_name

    summary = run_here(review, review_name({"papers": args.papers}), papers=args.papers, max_cost=args.max_cost,
                       render=not args.no_render)
    for row in summary["papers"]:
        left = f" (not done: {', '.join(row['not_done'])})" if row["not_done"] else ""
        print(f"{row['id']}: {row['status']}{left}" + (f"; page: {row['page']}" if row["page"] else ""))
    for why in summary["failed"].values():
        print(f"hfdaily: error: {why}", file=sys.stderr)
    print(summary["line"])
    return 1 if summary["failed"] or any(row["not_done"] for row in summary["papers"]) else 0


def _site(args: argparse.Namespace) -> int:
    from flows.launch import run_here
    from flows.runs import minute_name
    from flows.site import rebuild_site

    written = run_here(rebuild_site, minute_name("rebuild-site", None))
    print(f"rendered {written} files")
    return 0


def _demo(args: argparse.Namespace) -> int:
    from sandbox.server import start

    out: Path = args.out.resolve()
    began = time.monotonic()
    with start() as sb:
        os.environ.update(sandbox_env(sb.url, out))
        from flows.daily import daily_digest
        from flows.launch import run_here
        from tasks.render import quiet_site_url_warning

        quiet_site_url_warning()  # the demo's site is opened from disk: relative feed links are what it needs
        for date in sorted(args.dates):
            summary = run_here(daily_digest, f"daily-{date}", date=date, max_cost=None, render=True)
            print(f"{date}: {summary['line']}")
    print(f"\ndemo finished in {time.monotonic() - began:.1f} s")
    print(f"day files: {out / 'data' / 'days'}")
    print(f"site:      {(out / 'site' / 'index.html').as_uri()}")
    return 0


def sandbox_env(url: str, out: Path) -> dict[str, str]:
    """Settings that point every upstream at a running sandbox (with throwaway keys)."""
    return {
        "HFDAILY_HF_URL": url,
        "HFDAILY_ARXIV_URL": url,
        "HFDAILY_ARXIV_API_URL": url,
        "OPENAI_BASE_URL": f"{url}/openai/v1",
        "ANTHROPIC_BASE_URL": f"{url}/anthropic",
        "MISTRAL_BASE_URL": f"{url}/mistral",
        "OPENAI_API_KEY": "sandbox-openai-key",
        "ANTHROPIC_API_KEY": "sandbox-anthropic-key",
        "MISTRAL_API_KEY": "sandbox-mistral-key",
        "HFDAILY_DATA_DIR": str(out / "data"),
        "HFDAILY_SITE_DIR": str(out / "site"),
    }


def _sandbox(args: argparse.Namespace) -> int:
    from sandbox.__main__ import main as sandbox_main

    argv = ["--host", args.host, "--port", str(args.port), "--papers-per-day", str(args.papers_per_day)]
    return sandbox_main(argv + (["--recorded", str(args.recorded)] if args.recorded else []))


def _serve(args: argparse.Namespace) -> int:
    from flows.serve import serve_deployments

    serve_deployments()
    return 0


def _alerts(args: argparse.Namespace) -> int:
    from flows.alerts import DEFAULT_BLOCK, setup_alerts

    for name, what in setup_alerts(args.block or DEFAULT_BLOCK, args.webhook_url):
        print(f"{what}: {name}")
    return 0


def _limits(args: argparse.Namespace) -> int:
    from prefect.client.orchestration import get_client
    from prefect.settings import get_current_settings

    from tasks.llm.shared import ensure_limits
    from tasks.settings import load_settings

    if not get_current_settings().api.url:
        raise HfDailyError("hfdaily limits needs a Prefect server to keep them: set PREFECT_API_URL")
    with get_client(sync_client=True) as client:
        for spec, what in ensure_limits(load_settings(), client):
            print(f"{spec.name}: {what} - {spec.describe()}")
    return 0


COMMANDS = {"run": _run, "backfill": _backfill, "site": _site, "demo": _demo, "sandbox": _sandbox,
            "serve": _serve, "alerts": _alerts, "limits": _limits, "review": _review}

if __name__ == "__main__":
    raise SystemExit(main())
