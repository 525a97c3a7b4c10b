"""Every integer a client can send is bounded: a huge id or offset is a 422, never a 500.

The test walks the application's routes rather than a list, so a route added later without a
bound fails here. It signs in as an admin (API token and page session) so that requests get
past authentication to the parameters.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin

import httpx
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy.ext.asyncio import AsyncSession

from app.staff.models import Role
from tests.factories import bearer, make_staff
from tests.staff.signin import signed_in

HUGE = (2**63, 2**31)  # past SQLite's 64-bit integers; past PostgreSQL's `integer`


@dataclass(frozen=True)
class IntParam:
    route: APIRoute
    method: str
    name: str
    where: str  # "path" or "query"


def _routes(app: FastAPI) -> Iterator[APIRoute]:
    for route in app.routes:
        if isinstance(route, APIRoute):
            yield route
        router = getattr(route, "original_router", None)
        if router is not None:
            yield from (r for r in router.routes if isinstance(r, APIRoute))


def _is_int(annotation: Any) -> bool:
    if annotation is int:
        return True
    if get_origin(annotation) in (Union, types.UnionType):
        return int in get_args(annotation)
    return False


def _params(dependant: Dependant) -> Iterator[tuple[str, str, Any]]:
    for where, fields in (("path", dependant.path_params), ("query", dependant.query_params)):
        for field in fields:
            yield where, field.name, field.field_info.annotation
    for sub in dependant.dependencies:
        yield from _params(sub)


def int_params(app: FastAPI) -> list[IntParam]:
    found = []
    for route in _routes(app):
        for method in sorted(route.methods - {"HEAD"}):
            for where, name, annotation in _params(route.dependant):
                if _is_int(annotation):
                    found.append(IntParam(route, method, name, where))
    return found


def _url(param: IntParam, value: int) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(value) if name == param.name else "1" if match.group(2) == ":int" else "x"

    path = re.sub(r"\{(\w+)(:\w+)?\}", fill, param.route.path)
    return path + (f"?{param.name}={value}" if param.where == "query" else "")


class TestIntegerBounds:
    def test_the_walk_finds_the_routes(self, client: httpx.AsyncClient) -> None:
        app = client._transport.app  # type: ignore[attr-defined]
        names = {(p.route.path, p.name) for p in int_params(app)}
        assert ("/api/v1/cases", "offset") in names
        assert ("/staff/deliveries/{delivery_id:int}", "delivery_id") in names
        assert len(names) > 20

    async def test_no_integer_parameter_answers_500(
        self, client: httpx.AsyncClient, session: AsyncSession
    ) -> None:
        _, token = await make_staff(session, Role.admin)
        await signed_in(client, session, Role.admin)
        app = client._transport.app  # type: ignore[attr-defined]
        wrong = []
        for param in int_params(app):
            for value in HUGE:
                response = await client.request(
                    param.method, _url(param, value), headers=bearer(token)
                )
                # A GET reaches its parameters, so it must name the bad one (422).
                refused = response.status_code == 422 or param.method != "GET"
                if response.status_code >= 500 or not refused:
                    wrong.append((param.method, _url(param, value), response.status_code))
        assert wrong == [], "\n".join(map(str, wrong))


class TestTheWalkIsHonest:
    def test_an_unbounded_route_would_be_found(self) -> None:
        app = FastAPI()

        @app.get("/things/{thing_id}")
        async def thing(thing_id: int, offset: int | None = None) -> dict[str, int]:
            return {"id": thing_id, "offset": offset or 0}

        assert {(p.name, p.where) for p in int_params(app)} == {
            ("thing_id", "path"),
            ("offset", "query"),
        }
