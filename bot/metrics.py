"""Prometheus metrics of one process, served at /metrics (adapters/http.py). One registry per
process, built by the composition root (no module-level globals): commands and their latency,
digests posted and failed, messages sent and the platforms' latency, Hugging Face requests and
their latency, and whether this process leads."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Seconds: a command should answer well inside Slack's and Discord's 3-second limit.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def status_class(status: int | None) -> str:
    """An HTTP status as a small label set: 2xx, 4xx, 429, 5xx, or "error" without one."""
    if status is None:
        return "error"
    return "429" if status == 429 else f"{status // 100}xx"


class Metrics:
    def __init__(self, commands: frozenset[str]) -> None:
        self.registry = CollectorRegistry()
        self._known = commands  # other names are counted as "unknown": labels stay bounded
        self.commands = Counter(
            "paperboy_commands", "Commands answered", ["command", "outcome"], registry=self.registry
        )
        self.command_seconds = Histogram(
            "paperboy_command_seconds",
            "Time to answer a command",
            ["command"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.digests = Counter(
            "paperboy_digests",
            "Digest runs that posted, failed or found nothing to do",
            ["outcome"],
            registry=self.registry,
        )
        self.messages = Counter(
            "paperboy_platform_messages",
            "Messages sent to a platform",
            ["platform", "outcome"],
            registry=self.registry,
        )
        self.platform_seconds = Histogram(
            "paperboy_platform_request_seconds",
            "Time a platform took to take a message",
            ["platform"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.hf_seconds = Histogram(
            "paperboy_hf_request_seconds",
            "Hugging Face API requests, by status class",
            ["status"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.leader = Gauge(
            "paperboy_leader", "1 when this process leads the shared jobs", registry=self.registry
        )
        self.scheduled_jobs = Gauge(
            "paperboy_scheduled_jobs", "Jobs scheduled in this process", registry=self.registry
        )

    def command(self, name: str, seconds: float, *, ok: bool) -> None:
        label = name if name in self._known else "unknown"
        self.commands.labels(label, "ok" if ok else "error").inc()
        self.command_seconds.labels(label).observe(seconds)

    def hf_request(self, status: int | None, seconds: float) -> None:
        self.hf_seconds.labels(status_class(status)).observe(seconds)

    def sent(self, platform: str, seconds: float, *, ok: bool) -> None:
        self.messages.labels(platform, "ok" if ok else "error").inc()
        if ok:
            self.platform_seconds.labels(platform).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
