"""`hfdaily serve`: the deployments of prefect.yaml, served from this one process (no work pool, no worker).

prefect.yaml stays the one description of the deployments: this module reads its names, entry points,
parameters, schedules, descriptions and tags, and hands the same flows to Prefect's `serve`. Runs
start in subprocesses of this process, in its working directory, with its environment (keys from the
env or, with HFDAILY_USE_SECRET_BLOCKS=true, from the Prefect Secret blocks `hfdaily-<provider>-api-key`).
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import Any

import yaml
from prefect import Flow, serve
from prefect.deployments.runner import EntrypointType, RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.settings import get_current_settings

from tasks.errors import HfDailyError
from tasks.settings import PROJECT_ROOT, Settings

PREFECT_YAML = PROJECT_ROOT / "prefect.yaml"
PROVIDERS = ("openai", "anthropic", "mistral")


def deployment_specs(path: Path = PREFECT_YAML) -> list[dict[str, Any]]:
    """The `deployments:` entries of prefect.yaml (YAML anchors resolved)."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise HfDailyError(f"cannot read {path}: {exc}") from exc
    specs = data.get("deployments") or []
    if not specs:
        raise HfDailyError(f"{path} defines no deployments")
    return specs


def load_flow(entrypoint: str) -> Flow:
    """`flows/daily.py:daily_digest` → the flow object, imported as a module (not loaded from the file)."""
    file, _, name = entrypoint.partition(":")
    module = importlib.import_module(file.removesuffix(".py").replace("/", "."))
    obj = getattr(module, name, None)
    if not isinstance(obj, Flow):
        raise HfDailyError(f"entrypoint {entrypoint} is not a flow")
    return obj


def schedules_of(spec: dict[str, Any]) -> list[Schedule]:
    out: list[Schedule] = []
    for s in spec.get("schedules") or []:
        common = {"timezone": s.get("timezone"), "active": s.get("active", True), "parameters": s.get("parameters")}
        if "cron" in s:
            out.append(Cron(s["cron"], **common))
        elif "interval" in s:
            out.append(Interval(s["interval"], **common))
        else:
            raise HfDailyError(f"deployment {spec.get('name')}: only cron and interval schedules are served")
    return out


def to_deployments(specs: list[dict[str, Any]]) -> list[RunnerDeployment]:
    """One served deployment per prefect.yaml entry: same name, parameters, schedules, description, tags, and
    the same parameter-schema enforcement."""
    return [
        load_flow(spec["entrypoint"]).to_deployment(
            name=spec["name"],
            description=spec.get("description"),
            tags=spec.get("tags"),
            parameters=spec.get("parameters") or {},
            schedules=schedules_of(spec),
            enforce_parameter_schema=spec.get("enforce_parameter_schema", True),
            entrypoint_type=EntrypointType.MODULE_PATH,  # runs import flows.* wherever this process runs
        )
        for spec in specs
    ]


def key_sources(settings: Settings) -> dict[str, str]:
    """Where each provider's key comes from: `env`, `secret block` or `missing` (never the key itself)."""
    out = {}
    for provider in PROVIDERS:
        secret = getattr(settings, f"{provider}_api_key")
        if secret is not None and secret.get_secret_value():
            out[provider] = "env"
        elif settings.use_secret_blocks and settings.api_key(provider):
            out[provider] = "secret block"
        else:
            out[provider] = "missing"
    return out


def telegram_source(settings: Settings) -> str:
    """Whether the runs post to Telegram and where the bot token comes from (never the token itself)."""
    secret = settings.telegram_bot_token
    if secret is not None and secret.get_secret_value():
        source = "env"
    elif settings.use_secret_blocks and settings.telegram_token():
        source = "secret block"
    else:
        return "off (no bot token)"
    if not settings.telegram_chat_id:
        return f"off (token from {source}, no HFDAILY_TELEGRAM_CHAT_ID)"
    return f"posting to {settings.telegram_chat_id}, token from {source}"


def serve_deployments(limit: int | None = None) -> None:
    """Serve every deployment of prefect.yaml until interrupted; needs a running Prefect server."""
    api_url = get_current_settings().api.url
    if not api_url:
        raise HfDailyError("hfdaily serve needs a running Prefect server: start `prefect server start` "
                           "and set PREFECT_API_URL (e.g. http://127.0.0.1:4200/api)")
    deployments = to_deployments(deployment_specs())
    settings = Settings()
    keys = ", ".join(f"{p} from {s}" if s != "missing" else f"{p} missing" for p, s in key_sources(settings).items())
    print(f"hfdaily serve: {', '.join(d.name for d in deployments)} against {api_url}, runs in {Path.cwd()}")
    print(f"LLM keys: {keys}")
    print(f"Telegram: {telegram_source(settings)}")
    serve(*deployments, limit=limit)
