"""Sign-in rate limits: failures per (account, address) lock that pair, failures per account
only slow its sign-ins down, attempts per client address are capped; a polite 429 page.

The tests of the lock and the slowdown run the real limits on a fake clock whose `sleep`
moves it on, so waiting fifteen minutes or ten seconds takes no time."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.main import create_app
from app.staff import service as staff_service
from app.staff.models import Role
from app.staff.ratelimit import MAX_DELAY, SLOW_AFTER, LoginLimits, slowdown
from tests.factories import make_staff
from tests.staff.signin import form_token

PASSWORD = "correct horse battery staple"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        var_dir=tmp_path / "var",
        staff_login_rate_per_account="3/hour",
        staff_login_rate_per_ip="6/hour",
    )


async def _account(session: AsyncSession) -> str:
    user, _ = await make_staff(session, Role.admin)
    await staff_service.set_password(session, user=user, password=PASSWORD, actor="test")
    await session.commit()
    return user.email


async def _try(client: httpx.AsyncClient, email: str, password: str) -> httpx.Response:
    page = await client.get("/staff/login")
    return await client.post(
        "/staff/login",
        data={"login_csrf": form_token(page.text), "email": email, "password": password},
    )


class TestLoginLimits:
    async def test_an_account_locks_after_repeated_failures_even_for_the_right_password(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _account(session)
        for _ in range(3):
            assert (await _try(client, email, "guess guess guess")).status_code == 401
        refused = await _try(client, email, PASSWORD)
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) > 0
        assert "Please wait a little" in refused.text
        assert "Too many sign-in attempts" in refused.text
        assert (await client.get("/staff")).status_code == 303  # not signed in

    async def test_one_address_is_limited_across_accounts(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _account(session)
        for i in range(6):
            response = await _try(client, f"someone-{i}@staff.invalid", "guess guess guess")
            assert response.status_code == 401
        refused = await _try(client, email, PASSWORD)
        assert refused.status_code == 429
        assert "retry-after" in refused.headers

    async def test_successes_do_not_count_against_the_account(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        email = await _account(session)
        for _ in range(4):
            client.cookies.clear()
            assert (await _try(client, email, PASSWORD)).status_code == 303


class FakeClock:
    """Monotonic seconds that move only when told to, or when someone sleeps on them."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


From = Callable[[str], Awaitable[httpx.AsyncClient]]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def from_address(
    database_url: str,
    tmp_path: Path,
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: FakeClock,
) -> AsyncIterator[From]:
    """Browsers at different client addresses, all on one app whose limits run on `clock`
    (the default settings: 5 failures per pair and 20 attempts per address in 15 minutes)."""
    settings = Settings(database_url=database_url, var_dir=tmp_path / "var")
    app = create_app(settings)
    app.state.sessionmaker = sessionmaker
    app.state.staff_login_limits = LoginLimits.from_settings(
        settings, clock=clock, sleep=clock.sleep
    )
    async with AsyncExitStack() as stack:

        async def browser(address: str) -> httpx.AsyncClient:
            transport = httpx.ASGITransport(app=app, client=(address, 40000))
            client = httpx.AsyncClient(transport=transport, base_url="http://testserver")
            return await stack.enter_async_context(client)

        yield browser


STRANGER = "203.0.113.66"
COLLEAGUE = "198.51.100.10"


class TestAStrangerCannotLockAColleagueOut:
    async def test_the_colleague_signs_in_at_once_from_elsewhere_and_the_stranger_stays_locked(
        self, from_address: From, session: AsyncSession, clock: FakeClock
    ) -> None:
        email = await _account(session)
        stranger = await from_address(STRANGER)
        for _ in range(5):
            assert (await _try(stranger, email, "guess guess guess")).status_code == 401
        assert (await _try(stranger, email, "guess guess guess")).status_code == 429
        before = clock.now
        assert (await _try(await from_address(COLLEAGUE), email, PASSWORD)).status_code == 303
        assert clock.now == before  # not even slowed: one stranger is below SLOW_AFTER
        # Even the right password does not open the stranger's locked pair.
        refused = await _try(stranger, email, PASSWORD)
        assert refused.status_code == 429
        assert "Too many sign-in attempts" in refused.text

    async def test_the_lock_lasts_the_window_and_retry_after_says_how_long_is_left(
        self, from_address: From, session: AsyncSession, clock: FakeClock
    ) -> None:
        email = await _account(session)
        stranger = await from_address(STRANGER)
        for _ in range(5):
            await _try(stranger, email, "guess guess guess")
        clock.now += 5 * 60
        refused = await _try(stranger, email, PASSWORD)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == str(10 * 60)
        clock.now += 10 * 60 - 1
        assert (await _try(stranger, email, PASSWORD)).status_code == 429
        clock.now += 1
        assert (await _try(stranger, email, PASSWORD)).status_code == 303

    async def test_the_lock_is_per_pair_so_the_same_address_may_try_another_account(
        self, from_address: From, session: AsyncSession
    ) -> None:
        locked, other = await _account(session), await _account(session)
        stranger = await from_address(STRANGER)
        for _ in range(5):
            await _try(stranger, locked, "guess guess guess")
        assert (await _try(stranger, locked, PASSWORD)).status_code == 429
        assert (await _try(stranger, other, PASSWORD)).status_code == 303


class TestBehindATrustedProxy:
    async def test_the_forwarded_client_is_what_the_lock_counts(
        self, database_url: str, tmp_path: Path, sessionmaker: async_sessionmaker[AsyncSession]
    ) -> None:
        settings = Settings(
            database_url=database_url, var_dir=tmp_path / "var", trusted_proxies=["10.0.0.1"]
        )
        app = create_app(settings)
        app.state.sessionmaker = sessionmaker
        async with sessionmaker() as session:
            email = await _account(session)
        transport = httpx.ASGITransport(app=app, client=("10.0.0.1", 40000))
        async with (
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as stranger,
            httpx.AsyncClient(transport=transport, base_url="http://testserver") as colleague,
        ):
            stranger.headers["X-Forwarded-For"] = STRANGER
            colleague.headers["X-Forwarded-For"] = COLLEAGUE
            for _ in range(5):
                assert (await _try(stranger, email, "guess guess guess")).status_code == 401
            assert (await _try(stranger, email, PASSWORD)).status_code == 429
            # Both arrive from the proxy's address, yet only the stranger is locked.
            assert (await _try(colleague, email, PASSWORD)).status_code == 303


class TestPerAccountSlowdown:
    async def test_failures_from_many_addresses_slow_the_owner_down_but_let_them_in(
        self, from_address: From, session: AsyncSession, clock: FakeClock
    ) -> None:
        email = await _account(session)
        for n in range(3):  # 12 failures: four from each of three addresses, none locked
            guesser = await from_address(f"203.0.113.{n + 1}")
            for _ in range(4):
                assert (await _try(guesser, email, "guess guess guess")).status_code == 401
        before = clock.now
        assert (await _try(await from_address(COLLEAGUE), email, PASSWORD)).status_code == 303
        assert clock.now - before == slowdown(12) == 4.0

    async def test_the_delay_is_capped_however_many_guess_so_the_owner_always_gets_in(
        self, from_address: From, session: AsyncSession, clock: FakeClock
    ) -> None:
        email = await _account(session)
        for n in range(10):  # 40 failures
            guesser = await from_address(f"203.0.113.{n + 1}")
            for _ in range(4):
                await _try(guesser, email, "guess guess guess")
        before = clock.now
        assert (await _try(await from_address(COLLEAGUE), email, PASSWORD)).status_code == 303
        assert clock.now - before == MAX_DELAY

    async def test_the_slowdown_ends_when_the_failures_leave_the_window(
        self, from_address: From, session: AsyncSession, clock: FakeClock
    ) -> None:
        email = await _account(session)
        for n in range(3):
            guesser = await from_address(f"203.0.113.{n + 1}")
            for _ in range(4):
                await _try(guesser, email, "guess guess guess")
        clock.now += 15 * 60
        before = clock.now
        assert (await _try(await from_address(COLLEAGUE), email, PASSWORD)).status_code == 303
        assert clock.now == before

    async def test_other_accounts_are_not_slowed(
        self, from_address: From, session: AsyncSession, clock: FakeClock
    ) -> None:
        attacked, other = await _account(session), await _account(session)
        for n in range(3):
            guesser = await from_address(f"203.0.113.{n + 1}")
            for _ in range(4):
                await _try(guesser, attacked, "guess guess guess")
        before = clock.now
        assert (await _try(await from_address(COLLEAGUE), other, PASSWORD)).status_code == 303
        assert clock.now == before


class TestSlowdown:
    @pytest.mark.parametrize(
        ("failures", "seconds"),
        [(0, 0), (SLOW_AFTER - 1, 0), (SLOW_AFTER, 1), (SLOW_AFTER + 1, 2), (SLOW_AFTER + 3, 8)],
    )
    def test_it_starts_at_one_second_and_doubles(self, failures: int, seconds: float) -> None:
        assert slowdown(failures) == seconds

    def test_it_never_passes_the_cap(self) -> None:
        assert slowdown(SLOW_AFTER + 4) == MAX_DELAY
        assert slowdown(10_000) == MAX_DELAY
