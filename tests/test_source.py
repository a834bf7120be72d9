"""The production httpx client against the fake HF server: paging, retries, outages."""

import datetime as dt

import pytest

from bot.source import HFSource, HFUnavailable
from tests.conftest import NOW, RecordingSleep
from tests.fake_hf import FakeHF, Fault


async def test_a_day_is_fetched_with_the_documented_parameters_and_token(
    hf_source: HFSource, fake_hf: FakeHF
) -> None:
    papers, skipped = await hf_source.daily_papers(dt.date(2025, 5, 13))
    assert skipped == 0
    assert {p.id for p in papers} == {i["paper"]["id"] for i in fake_hf.days["2025-05-13"]}
    request = fake_hf.requests_to("/api/daily_papers")[0]
    assert request.query == {"date": "2025-05-13", "limit": "100", "p": "0"}
    assert request.headers["Authorization"] == "Bearer hf_test_token"


async def test_paging_continues_until_a_short_page(hf_source: HFSource, fake_hf: FakeHF) -> None:
    template = fake_hf.days["2025-05-13"][0]
    items = []
    for n in range(230):
        item = {**template, "paper": {**template["paper"], "id": f"2505.{n:05d}", "title": f"Paper {n}"}}
        items.append(item)
    fake_hf.set_day("2025-05-14", items)
    papers, _ = await hf_source.daily_papers(dt.date(2025, 5, 14))
    assert len(papers) == 230
    assert [r.query["p"] for r in fake_hf.requests_to("/api/daily_papers")] == ["0", "1", "2"]


async def test_weekend_is_an_empty_list_not_an_error(hf_source: HFSource) -> None:
    papers, skipped = await hf_source.daily_papers(dt.date(2025, 5, 17))  # a Saturday
    assert papers == [] and skipped == 0


async def test_a_future_date_is_never_requested(hf_source: HFSource, fake_hf: FakeHF) -> None:
    with pytest.raises(ValueError, match="future"):
        await hf_source.daily_papers(NOW.date() + dt.timedelta(days=1))
    assert fake_hf.requests == []


async def test_429_waits_for_retry_after_then_succeeds(
    hf_source: HFSource, fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    fake_hf.fail_next(Fault(429, {"Retry-After": "7"}))
    papers, _ = await hf_source.daily_papers(dt.date(2025, 5, 13))
    assert len(papers) == 2
    assert len(fake_hf.requests) == 2
    assert recording_sleep.waits and recording_sleep.waits[0] >= 7


async def test_429_honours_the_ratelimit_header(
    hf_source: HFSource, fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    fake_hf.fail_next(Fault(429, {"RateLimit": '"api";r=0;t=12'}))
    await hf_source.daily_papers(dt.date(2025, 5, 13))
    assert recording_sleep.waits[0] >= 12


async def test_nearly_spent_rate_window_pauses_before_the_next_call(
    fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    fake_hf.fail_next(Fault(200, {"RateLimit": '"api";r=1;t=40'}, body="[]"))
    source = HFSource(base_url=fake_hf.url, sleep=recording_sleep, today=lambda: NOW.date())
    try:
        await source.daily_papers(dt.date(2025, 5, 13))
    finally:
        await source.aclose()
    assert recording_sleep.waits == [40]


async def test_5xx_and_malformed_json_are_retried_with_growing_jittered_backoff(
    hf_source: HFSource, fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    fake_hf.fail_next(Fault(503), Fault(502), Fault(200, body="{not json"))
    papers, _ = await hf_source.daily_papers(dt.date(2025, 5, 13))
    assert len(papers) == 2
    assert len(recording_sleep.waits) == 3
    assert 0.25 <= recording_sleep.waits[0] <= 0.5
    assert 0.5 <= recording_sleep.waits[1] <= 1.0


async def test_a_persistent_outage_ends_in_a_clear_error_naming_url_and_status(
    fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    fake_hf.fail_next(*[Fault(500)] * 50)
    source = HFSource(base_url=fake_hf.url, retry_budget=10, sleep=recording_sleep, today=lambda: NOW.date())
    try:
        with pytest.raises(HFUnavailable) as raised:
            await source.daily_papers(dt.date(2025, 5, 13))
    finally:
        await source.aclose()
    message = str(raised.value)
    assert f"{fake_hf.url}/api/daily_papers" in message and "status 500" in message
    assert sum(recording_sleep.waits) <= 10


async def test_a_retry_after_beyond_the_budget_fails_at_once(
    hf_source: HFSource, fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    fake_hf.fail_next(Fault(429, {"Retry-After": "3600"}))
    with pytest.raises(HFUnavailable, match="status 429"):
        await hf_source.daily_papers(dt.date(2025, 5, 13))
    assert recording_sleep.waits == []


async def test_slow_responses_time_out_and_are_retried(
    fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    fake_hf.fail_next(Fault(delay=1.0))
    source = HFSource(base_url=fake_hf.url, timeout=0.2, sleep=recording_sleep, today=lambda: NOW.date())
    try:
        papers, _ = await source.daily_papers(dt.date(2025, 5, 13))
    finally:
        await source.aclose()
    assert len(papers) == 2
    assert len(recording_sleep.waits) == 1


async def test_unreachable_host_is_reported(recording_sleep: RecordingSleep) -> None:
    source = HFSource(
        base_url="http://127.0.0.1:9", retry_budget=3, sleep=recording_sleep, today=lambda: NOW.date()
    )
    try:
        with pytest.raises(HFUnavailable, match="ConnectError"):
            await source.daily_papers(dt.date(2025, 5, 13))
    finally:
        await source.aclose()


async def test_real_retry_after_wait_is_at_least_one_second(fake_hf: FakeHF) -> None:
    import time

    fake_hf.fail_next(Fault(429, {"Retry-After": "1"}))
    source = HFSource(base_url=fake_hf.url, today=lambda: NOW.date())
    started = time.monotonic()
    try:
        await source.daily_papers(dt.date(2025, 5, 13))
    finally:
        await source.aclose()
    assert time.monotonic() - started >= 1.0


async def test_one_paper_and_not_found(hf_source: HFSource) -> None:
    paper = await hf_source.paper("2505.07787")
    assert paper is not None and paper.title.startswith("Learning from Peers")
    assert await hf_source.paper("2505.99999") is None


@pytest.mark.parametrize("header", ["nan", "inf", "soon", "Wed, 99 Foo 2025 99:99:99 GMT", "-3"])
async def test_a_nonsense_retry_after_falls_back_to_backoff(
    hf_source: HFSource, fake_hf: FakeHF, recording_sleep: RecordingSleep, header: str
) -> None:
    fake_hf.fail_next(Fault(429, {"Retry-After": header}))
    papers, _ = await hf_source.daily_papers(dt.date(2025, 5, 13))
    assert len(papers) == 2
    assert len(recording_sleep.waits) == 1 and 0 < recording_sleep.waits[0] <= 30


async def test_a_page_that_is_not_a_list_is_a_clear_outage(hf_source: HFSource, fake_hf: FakeHF) -> None:
    fake_hf.fail_next(Fault(200, body='{"error": "Invalid date"}'))
    with pytest.raises(HFUnavailable, match="did not return a JSON list"):
        await hf_source.daily_papers(dt.date(2025, 5, 13))


async def test_a_lookup_someone_waits_for_keeps_to_its_short_budget(
    fake_hf: FakeHF, recording_sleep: RecordingSleep
) -> None:
    # Hugging Face answers, but only after 3 s: a lookup with a 0.5 s budget gives up instead
    # of waiting (each request is cut to what is left of the budget, not the 15 s timeout).
    fake_hf.fail_next(*(Fault(delay=3.0) for _ in range(5)))
    source = HFSource(base_url=fake_hf.url, retry_budget=60, sleep=recording_sleep, today=lambda: NOW.date())
    try:
        with pytest.raises(HFUnavailable, match=r"giving up within the 0\.5 s retry budget"):
            await source.paper("2505.07787", budget=0.5)
    finally:
        await source.aclose()
    assert len(fake_hf.requests_to("/api/papers/")) == 1
    assert sum(recording_sleep.waits) <= 0.5
