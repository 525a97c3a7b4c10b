"""The whole API fuzzed with schemathesis, on SQLite and PostgreSQL, within a bounded budget.

A real `appeals serve` with seeded data (tests/fuzzing.py); every operation gets
`EXAMPLES_PER_OPERATION` generated requests (more in the coverage and stateful phases) and
none may answer 5xx or break its documented response schema. `bench/fuzz.py` runs the same
with a budget of thousands per operation.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import BACKENDS, fresh_database, require_backend
from tests.fuzzing import Target, fuzz_target, run_schemathesis, write_config

EXAMPLES_PER_OPERATION = 25


@pytest.fixture(params=BACKENDS, scope="module")
async def target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Target]:
    await require_backend(request.param)
    folder = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    async with fresh_database(request.param, folder) as url:
        with fuzz_target(url, folder) as running:
            yield running


def _report(output: str) -> str:
    """What schemathesis found, without its progress lines."""
    start = min((i for i in (output.find("ERRORS"), output.find("FAILURES")) if i >= 0), default=0)
    return output[start : start + 8000]


class TestFuzzing:
    @pytest.mark.parametrize("inbound", [False, True], ids=["staff-api", "inbound-mail"])
    def test_no_operation_answers_5xx_or_breaks_its_schema(
        self, target: Target, inbound: bool
    ) -> None:
        config = write_config(target, target.log.parent)
        result = run_schemathesis(
            target, config, inbound=inbound, max_examples=EXAMPLES_PER_OPERATION
        )
        assert result.returncode == 0, _report(result.stdout) + result.stderr[-2000:]
        assert "generated" in result.stdout and " 0 generated" not in result.stdout
        assert "Traceback" not in target.log.read_text()  # no unhandled error on the server
