"""Budgets shared by every run on one key, through Prefect global concurrency limits.

The runs of one process share their pacers (tasks/llm/pacing.py). Runs in several processes or on several machines
share a key's budget only through something they all see: the Prefect server. Each budget is a global concurrency
limit with slot decay, taken with Prefect's `rate_limit`:

    hfdaily-openai-rpm      a request is 1000 slots; they decay at RPM/60 × 1000 a second
    hfdaily-openai-tpm      a token is 1 slot; they decay at TPM/60 a second
    (hfdaily-anthropic-rpm, -tpm, -otpm; hfdaily-mistral-rpm, -tpm)

Why a request is 1000 slots: the server decays a limit by floor(decay × seconds since the limit last changed), and
every acquisition, even a refused one, restarts that clock. A limit of 50 requests a minute (0.83 a second) asked
more often than every 1.2 s would never decay. At ≥ 100 slots a second the floor costs at most one slot per change.

The limits must exist: the server does not create missing ones (an unknown name limits nothing). `hfdaily limits`
(`ensure_limits`) creates or updates them from the settings; run it next to `prefect deploy`. A run looks for them
once: without a server (PREFECT_API_URL unset) or without the limits, the in-process pacer alone governs, and the
log says so once. A call takes slots from a small prepaid reservoir that a background thread keeps topped up, one
round trip per chunk (half a second of the budget): a process asks the server a few times a second, not once per
call, and a call waits for the server only when the shared budget is spent. If the server is slow or down (no
slots within a minute, or an error), the provider falls back to in-process pacing for a minute (logged once) and
the run goes on.

The round trip is the request Prefect's `rate_limit` makes (`increment_concurrency_slots`, mode rate_limit), sent
from the refill thread itself, and a refusal's Retry-After is waited out here. Prefect's `rate_limit` would queue
it on a service of Prefect's global event loop, which the interpreter drains at exit: a top-up still refused when a
run's last call was made held its process up to the full minute after the run was final. Here the wait is on an
event that `close()` sets: the runner closes a process's reservoirs when its last run releases its runtime (and
opens them for the next), so a top-up ends at once and nothing is left for the exit to wait for. Waiting out the
server's Retry-After, never asking sooner, also matters for the budget: a refused request restarts the limit's
decay clock without decaying it, so asking more often than told would starve the asker.
"""

from __future__ import annotations

import contextvars
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from tasks.log import get_logger
from tasks.settings import Settings

PREFIX = "hfdaily"
PROVIDERS = ("openai", "anthropic", "mistral")
SLOTS_PER_UNIT = {"rpm": 1000, "tpm": 1, "otpm": 1}
CHUNK_S = 0.5  # a refill takes this many seconds of the budget
BURST_S = 2.0  # the shared bucket holds this many seconds of the budget (at least one call's worth)
MIN_TOKENS_CAPACITY = 16_000  # a single call may need this many tokens in one go
ACQUIRE_TIMEOUT_S = 60.0  # longer than this waiting for the server: treat it as down
REQUEST_TIMEOUT_S = 20.0  # one round trip; the deadline above is checked after each
COOL_DOWN_S = 60.0  # after a failure, pace in-process this long before asking the server again
LOOKUP_EVERY_S = 60.0  # how long one look-up of which limits exist holds


def limit_name(provider: str, kind: str) -> str:
    return f"{PREFIX}-{provider}-{kind}"


@dataclass(frozen=True)
class LimitSpec:
    """A global concurrency limit for one budget: its name, capacity and decay, in slots."""

    name: str
    kind: str
    limit: int
    slot_decay_per_second: float

    @property
    def slots_per_unit(self) -> int:
        return SLOTS_PER_UNIT[self.kind]

    def describe(self) -> str:
        unit = "requests" if self.kind == "rpm" else ("output tokens" if self.kind == "otpm" else "tokens")
        per_minute = self.slot_decay_per_second / self.slots_per_unit * 60
        return f"{per_minute:,.0f} {unit} a minute ({self.limit} slots, decaying {self.slot_decay_per_second:g}/s)"


def specs(settings: Settings) -> list[LimitSpec]:
    """The limits the settings' budgets call for, every provider and budget kind."""
    out = []
    for provider in PROVIDERS:
        for kind, per_minute in settings.budget(provider).items():
            unit = SLOTS_PER_UNIT[kind]
            rate = per_minute / 60.0
            floor = 1 if kind == "rpm" else MIN_TOKENS_CAPACITY
            capacity = max(math.ceil(rate * BURST_S), floor)
            out.append(LimitSpec(limit_name(provider, kind), kind, capacity * unit, round(rate * unit, 6)))
    return out


def ensure_limits(settings: Settings, client: Any) -> list[tuple[LimitSpec, str]]:
    """Create the limits, or update those whose capacity or decay differ (idempotent). [(limit, what was done)]."""
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate, GlobalConcurrencyLimitUpdate
    from prefect.exceptions import ObjectNotFound

    done = []
    for spec in specs(settings):
        try:
            have = client.read_global_concurrency_limit_by_name(spec.name)
        except ObjectNotFound:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(
                name=spec.name, limit=spec.limit, slot_decay_per_second=spec.slot_decay_per_second, active=True))
            done.append((spec, "created"))
            continue
        if (have.limit, round(have.slot_decay_per_second, 6), have.active) == (
                spec.limit, spec.slot_decay_per_second, True):
            done.append((spec, "unchanged"))
            continue
        client.update_global_concurrency_limit(spec.name, GlobalConcurrencyLimitUpdate(
            limit=spec.limit, slot_decay_per_second=spec.slot_decay_per_second, active=True))
        done.append((spec, "updated"))
    forget()
    return done


class ServerSlots:
    """Rate-limit slots asked of the Prefect server, one request at a time, on a client of its own (thread-safe).

    The client is kept while the budget is open (making one costs ~50 ms). `close()` detaches it; a request still
    in flight on it finishes in its own (daemon) thread and closes it, so closing never waits for the server.
    """

    def __init__(self) -> None:
        self._current: _Client | None = None
        self._lock = threading.Lock()

    def ask(self, name: str, slots: int) -> float | None:
        """None if the server granted `slots` of limit `name`; else the seconds it says to wait before asking again.
        Raises when the server cannot answer or has no such limit."""
        import httpx

        with self._lock:
            if self._current is None:
                from prefect.client.orchestration import get_client

                # Settings of its own: never the flow run's context client, which closes with the run.
                client = get_client(sync_client=True, httpx_settings={"timeout": REQUEST_TIMEOUT_S})
                client.__enter__()
                self._current = _Client(client)
            held = self._current
            held.users += 1
        try:
            response = held.client.increment_concurrency_slots(names=[name], slots=slots, mode="rate_limit")
        except httpx.HTTPStatusError as exc:
            if exc.response.status_code != 423:  # 423 Locked: spent for now
                raise
            return max(0.0, float(exc.response.headers.get("Retry-After", 1.0)))
        finally:
            with self._lock:
                held.users -= 1
                last = held.detached and not held.users
            if last:
                held.client.__exit__(None, None, None)
        if not response.json():
            raise LookupError(f"the Prefect server has no limit {name}")
        return None

    def close(self) -> None:
        """Detach the client: closed now if idle, else by the request in flight once it ends."""
        with self._lock:
            held, self._current = self._current, None
            if held is None:
                return
            held.detached = True
            idle = not held.users
        if idle:
            held.client.__exit__(None, None, None)


@dataclass
class _Client:
    client: Any
    users: int = 0  # requests in flight on it
    detached: bool = False  # closed by the budget: the last request closes it


class SharedBudget:
    """One provider's budgets on the Prefect server, drawn through a local prepaid reservoir (thread-safe).

    A background thread keeps at least a chunk of every budget prepaid, so a call waits for the server only when
    the shared budget itself is spent, not for a round trip. `close()` stops the top-ups (a closed budget leaves
    calls to the in-process pacer); `open()` resumes them.
    """

    def __init__(self, provider: str, limits: Mapping[str, LimitSpec], budget: Mapping[str, float],
                 ask: Callable[[str, int], float | None] | None = None) -> None:
        self.provider = provider
        self.limits = dict(limits)
        self.chunk = {k: max(1.0, budget[k] / 60.0 * CHUNK_S) for k in self.limits}
        self.balance = dict.fromkeys(self.limits, 0.0)
        self.round_trips = 0
        self.round_trip_s = 0.0
        self.refused = 0  # requests the server refused (spent for now)
        self.waited_s = 0.0  # time calls spent waiting for the reservoir
        self._server = ServerSlots() if ask is None else None
        self._ask = ask or self._server.ask  # type: ignore[union-attr]
        self._cond = threading.Condition()
        self._need = dict.fromkeys(self.limits, 0.0)  # the most a waiting call needs
        self._off_until = 0.0
        self._refilling: set[str] = set()  # budgets a refill thread is topping up
        self._closed = threading.Event()  # a fresh one per open period: a refill watches the one it began under
        self._warned = False

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def open(self) -> None:
        """Top up again (a run starts in this process)."""
        with self._cond:
            if self._closed.is_set():
                self._closed = threading.Event()

    def close(self) -> None:
        """Stop topping up: a refill in flight ends now, its Retry-After wait cut short (no run needs it)."""
        with self._cond:
            self._closed.set()
            self._cond.notify_all()
        if self._server is not None:
            self._server.close()

    def prime(self) -> None:
        """Start prepaying now, before the first call needs it (the run's feed and PDFs come first)."""
        with self._cond:
            self._start_refill()

    def take(self, cost: Mapping[str, float]) -> None:
        """Draw a call's cost from the reservoir, waiting while it is short. Never raises for the server's sake."""
        need = {k: cost.get(k, 0.0) for k in self.limits}
        began = time.monotonic()
        with self._cond:
            while self._drawing() and any(self.balance[k] < need[k] for k in need):
                for k in need:
                    self._need[k] = max(self._need[k], need[k])
                self._start_refill()
                self._cond.wait(1.0)
            if self._drawing():
                for k in need:
                    self.balance[k] -= need[k]
            self.waited_s += time.monotonic() - began
            self._start_refill()  # top up behind this call

    def settle(self, delta: Mapping[str, float]) -> None:
        """A call cost `delta` more (or less) than it drew: the next calls draw the difference."""
        with self._cond:
            for kind in self.limits:
                self.balance[kind] -= delta.get(kind, 0.0)

    # -- the refill thread -----------------------------------------------------------------------------------
    def _drawing(self) -> bool:
        """Whether calls draw on the server's budget now (open, not cooling down after a failure). Holds `_cond`."""
        return not self._closed.is_set() and time.monotonic() >= self._off_until

    def _short(self) -> dict[str, float]:
        """Per budget, how much to prepay now to hold a chunk beyond what waiting calls need (0: enough)."""
        return {k: max(0.0, self.chunk[k] + self._need[k] - self.balance[k]) for k in self.limits}

    def _start_refill(self) -> None:
        """One refill thread per budget that is short (the budgets' round trips overlap)."""
        if not self._drawing():
            return
        for kind, short in self._short().items():
            if short > 0 and kind not in self._refilling:
                self._refilling.add(kind)
                # With the caller's context: Prefect's settings (the API's address) may live in it.
                threading.Thread(target=contextvars.copy_context().run, args=(self._refill, kind, self._closed),
                                 name=f"shared-{self.provider}-{kind}", daemon=True).start()

    def _refill(self, kind: str, closed: threading.Event) -> None:
        try:
            while True:
                with self._cond:
                    units = self._short()[kind]
                    if units <= 0 or closed.is_set() or time.monotonic() < self._off_until:
                        return
                got = self._acquire(self.limits[kind], max(units, self.chunk[kind]), closed)
                with self._cond:
                    self.balance[kind] += got  # paid for: kept for the next call, even once closed
                    self._need[kind] = 0.0  # waiting calls state it again
                    self._cond.notify_all()
        except _Closed:
            pass
        except Exception as exc:  # slow, down, or a limit deleted: local pacing only, for a while
            if closed.is_set():  # the request failed because the budget was closed under it
                return
            with self._cond:
                self._off_until = time.monotonic() + COOL_DOWN_S
                self.balance = dict.fromkeys(self.limits, 0.0)
                self._cond.notify_all()
                warn, self._warned = not self._warned, True
            if warn:
                get_logger().warning("%s: shared budget on the Prefect server unavailable (%s: %s); pacing "
                                     "in-process for %g s at a time", self.provider, type(exc).__name__,
                                     str(exc)[:160], COOL_DOWN_S)
        finally:
            with self._cond:
                self._refilling.discard(kind)
                self._cond.notify_all()

    def _acquire(self, spec: LimitSpec, units: float, closed: threading.Event) -> float:
        """Ask the server until it grants the slots for `units`, waiting out each refusal's Retry-After; the units
        prepaid. TimeoutError after ACQUIRE_TIMEOUT_S without them; _Closed once `closed` is set."""
        slots = min(spec.limit, max(1, math.ceil(units * spec.slots_per_unit)))
        began = time.monotonic()
        deadline = began + ACQUIRE_TIMEOUT_S
        while True:
            retry_after = self._ask(spec.name, slots)
            if retry_after is None:
                break
            self.refused += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no {slots} slots of {spec.name} within {ACQUIRE_TIMEOUT_S:g} s")
            if closed.wait(min(retry_after, left)):
                raise _Closed
        self.round_trips += 1
        self.round_trip_s += time.monotonic() - began
        return slots / spec.slots_per_unit


class _Closed(Exception):
    """The budget was closed while a refill waited for the server."""


_found: dict[str, Any] = {"at": -math.inf, "names": None, "said": False}
_found_lock = threading.Lock()


def forget() -> None:
    """Look the limits up again on the next run (after `hfdaily limits` in this process, or in tests)."""
    with _found_lock:
        _found.update(at=-math.inf, names=None, said=False)


def _server_limits() -> dict[str, LimitSpec] | None:
    """The hfdaily limits the Prefect server has (active, with decay), looked up at most once a minute; None
    without a server."""
    if not os.environ.get("PREFECT_API_URL"):
        from prefect.settings import get_current_settings

        if not get_current_settings().api.url:
            return None
    with _found_lock:
        if time.monotonic() - _found["at"] < LOOKUP_EVERY_S:
            return _found["names"]
        try:
            from prefect.client.orchestration import get_client

            with get_client(sync_client=True) as client:
                limits = client.read_global_concurrency_limits(limit=200)
            found = {}
            for lim in limits:
                parts = lim.name.split("-")
                if lim.name.startswith(f"{PREFIX}-") and lim.active and lim.slot_decay_per_second > 0 \
                        and len(parts) == 3 and parts[2] in SLOTS_PER_UNIT:
                    found[lim.name] = LimitSpec(lim.name, parts[2], lim.limit, lim.slot_decay_per_second)
        except Exception as exc:
            get_logger().warning("could not read the shared budgets from the Prefect server (%s); pacing "
                                 "in-process", type(exc).__name__)
            found = {}
        _found.update(at=time.monotonic(), names=found)
        return found


def shared_budgets(settings: Settings) -> dict[str, SharedBudget]:
    """A SharedBudget per provider whose limits all exist on the server; says once what is paced where."""
    limits = _server_limits()
    out: dict[str, SharedBudget] = {}
    missing: list[str] = []
    for provider in PROVIDERS:
        budget = settings.budget(provider)
        names = {kind: limit_name(provider, kind) for kind in budget}
        if limits is not None and all(n in limits for n in names.values()):
            out[provider] = SharedBudget(provider, {k: limits[n] for k, n in names.items()}, budget)
        else:
            missing += [n for n in names.values() if not limits or n not in limits]
    with _found_lock:
        said, _found["said"] = _found["said"], True
    if not said:
        log = get_logger()
        # No server, or one where `hfdaily limits` was never run: a one-machine setup, nothing to warn about.
        if limits is None:
            log.debug("LLM budgets are paced in this process only (no Prefect server to share them through)")
        elif not limits:
            log.debug("LLM budgets are paced in this process only: the Prefect server has no hfdaily limits "
                      "(`hfdaily limits` creates them)")
        elif missing:
            log.warning("LLM budgets are paced in this process only for %s: the Prefect server has no limit %s "
                        "(run `hfdaily limits` to create them)",
                        ", ".join(p for p in PROVIDERS if p not in out), ", ".join(missing))
        else:
            log.info("LLM budgets shared through the Prefect server's global concurrency limits %s-*", PREFIX)
    return out
