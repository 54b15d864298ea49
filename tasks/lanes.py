"""A task runner with one thread pool per lane, so LLM steps wait for their provider among themselves.

Why: an LLM call that waits for its provider's budget (tasks/llm/pacing.py) holds a thread while it waits. With one
shared pool, threads waiting for OpenAI's budget starve the Anthropic calls queued behind them although Anthropic
has budget to spare: head-of-line blocking (on a cold day the first Anthropic call started 6.4 s after the first
OpenAI call). With a lane per provider, a task waits for a thread only behind tasks of the same provider: each
provider's lane has HFDAILY_PROVIDER_CONCURRENCY threads (the most calls it may have in flight), and PDFs and every
other task share the default lane of HFDAILY_MAX_WORKERS threads.

Prefect's ThreadPoolTaskRunner hands its executor `submit(ctx.run, run_task_sync, task=…, parameters=…)`; the lane
executor reads the task and its parameters and passes the call to that lane's pool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from prefect.task_runners import ThreadPoolTaskRunner

from tasks.settings import Settings

DEFAULT_LANE = "default"
LaneOf = Callable[[Any, Mapping[str, Any]], str]


class LaneExecutor(Executor):
    """Routes each submitted call to the thread pool of its lane (pools start lazily, threads on demand)."""

    def __init__(self, sizes: Mapping[str, int], lane_of: LaneOf, initializer: Callable[[], None] | None = None,
                 name: str = "lane") -> None:
        self._sizes = dict(sizes)
        self._lane_of = lane_of
        self._initializer = initializer
        self._name = name
        self._pools: dict[str, ThreadPoolExecutor] = {}

    def lane(self, kwargs: Mapping[str, Any]) -> str:
        try:
            lane = self._lane_of(kwargs.get("task"), kwargs.get("parameters") or {})
        except Exception:  # a lane is a scheduling hint: never fail a submission over it
            lane = DEFAULT_LANE
        return lane if lane in self._sizes else DEFAULT_LANE

    def pool(self, lane: str) -> ThreadPoolExecutor:
        if lane not in self._pools:  # submissions come from the flow's own thread
            self._pools[lane] = ThreadPoolExecutor(
                max_workers=self._sizes[lane], initializer=self._initializer, thread_name_prefix=f"{self._name}-{lane}"
            )
        return self._pools[lane]

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        return self.pool(self.lane(kwargs)).submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        for pool in self._pools.values():
            pool.shutdown(wait=wait, cancel_futures=cancel_futures)


def step_lane(task: Any, parameters: Mapping[str, Any]) -> str:
    """An LLM step's lane is the first provider of its prompt's chain; every other task runs in the default lane."""
    step = parameters.get("step")
    if getattr(task, "name", None) != "llm-step" or not isinstance(step, str):
        return DEFAULT_LANE
    from tasks.llm.prompts import load_prompt

    return load_prompt(step).chain[0].provider


class LaneTaskRunner(ThreadPoolTaskRunner):
    """Prefect's thread-pool task runner with a pool per lane, sized from the settings when a run starts."""

    def __init__(self, max_workers: int | None = None, lane_of: LaneOf = step_lane) -> None:
        super().__init__(max_workers=max_workers)
        self._lane_of = lane_of
        self.sizes: dict[str, int] = {}

    def duplicate(self) -> LaneTaskRunner:
        return type(self)(max_workers=self._max_workers, lane_of=self._lane_of)

    def __enter__(self) -> LaneTaskRunner:
        # Entered by the engine before the flow's body, where an exception would leave the run Running for good:
        # a bad setting keeps the defaults here, and the body's load_settings() fails the run saying which.
        try:
            settings = Settings()
            workers, per_provider = settings.max_workers, settings.provider_concurrency
        except Exception:
            fields = Settings.model_fields
            workers, per_provider = fields["max_workers"].default, fields["provider_concurrency"].default
        self._max_workers = workers
        self.sizes = {DEFAULT_LANE: workers}
        self.sizes.update(dict.fromkeys(("openai", "anthropic", "mistral"), per_provider))
        super().__enter__()
        assert self._executor is not None
        self._executor.shutdown(wait=False)  # the single pool the parent made (no thread started yet)
        self._executor = LaneExecutor(self.sizes, self._lane_of, self._register_worker_thread)  # type: ignore[assignment]
        return self
