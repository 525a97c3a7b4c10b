"""A print-and-mail provider over HTTP (Lob-style): create a letter from our PDF, read its tracking.

The API is called only at `printmail_base_url`, with the API key as the basic-auth user. Every
letter is created with an `Idempotency-Key`: sending the same request again (after a timeout, or
after a worker died before recording the answer) gets back the letter the provider already
made, not a second one. The provider forgets a key after a day, so a retry first looks the
letter up by the key, which it also sends as metadata. Answers are sorted the way the SMTP path
sorts them: timeouts, lost connections, 429 and 5xx are temporary (a 429's Retry-After is
kept); other 4xx are permanent, with the code. 401 and 403 mean our credentials or account are
wrong, not the letter: they raise ProviderConfigError, which is deliberately not a
ProviderError, so no caller fails a letter for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx

from app.config import Settings
from app.db import utcnow


@dataclass(frozen=True, slots=True)
class PostalAddress:
    """An address as printed: the addressee's name first, then the lines; ISO country code."""

    lines: tuple[str, ...]
    country: str


@dataclass(frozen=True, slots=True)
class TrackingEvent:
    """One event in a provider letter's life; `kind` is the name normalised ("in_transit")."""

    id: str
    kind: str
    name: str
    time: datetime | None


class ProviderError(Exception):
    """A failed request about one letter; `temporary` decides between a retry and a failure."""

    def __init__(
        self, detail: str, *, code: int | None, temporary: bool, retry_after: float | None = None
    ) -> None:
        super().__init__(detail)
        self.detail, self.code, self.temporary = detail, code, temporary
        self.retry_after = retry_after  # seconds, from a 429's Retry-After


class ProviderConfigError(Exception):
    """Our side is wrong (credentials, account, settings): pause the channel, fail no letter."""

    def __init__(self, detail: str, *, code: int | None = None) -> None:
        super().__init__(detail)
        self.detail, self.code = detail, code


class PrintMailClient:
    """The provider's letters API over an `httpx.AsyncClient` made once and passed in."""

    def __init__(self, http: httpx.AsyncClient, settings: Settings) -> None:
        self.http = http
        self.settings = settings

    async def create_letter(
        self,
        *,
        idempotency_key: str,
        to: PostalAddress,
        sender: PostalAddress,
        pdf: bytes,
        description: str,
    ) -> str:
        """Have the provider print and post `pdf`; returns its id for the letter."""
        fields = {
            "description": description,
            "use_type": "operational",
            "color": "false",
            # The provider puts its own address page in front: our PDF stays as printed here.
            "address_placement": "insert_blank_page",
            # Lets a letter be found by our key once the provider has forgotten the key.
            "metadata[idempotency_key]": idempotency_key,
            **_address_fields("to", to),
            **_address_fields("from", sender),
        }
        answer = await self._request(
            "POST",
            "/letters",
            data=fields,
            files={"file": ("letter.pdf", pdf, "application/pdf")},
            headers={"Idempotency-Key": idempotency_key},
        )
        reference = answer.get("id")
        if not isinstance(reference, str) or not reference:
            raise ProviderError(
                "the provider accepted the letter but sent no id", code=None, temporary=True
            )
        return reference

    async def find_letter(self, idempotency_key: str) -> str | None:
        """The id of a letter made with `idempotency_key`, found by its metadata, or None.

        The provider keeps idempotency keys for a day only, and our retries run for days: a
        retry asks first, so an attempt whose answer was lost is not made twice."""
        answer = await self._request(
            "GET", "/letters", params={"metadata[idempotency_key]": idempotency_key, "limit": 2}
        )
        found = [
            item["id"]
            for item in answer.get("data") or []
            if isinstance(item, dict) and isinstance(item.get("id"), str) and item["id"]
        ]
        return found[0] if found else None

    async def tracking(self, reference: str) -> list[TrackingEvent]:
        """The letter's tracking events so far, oldest first."""
        answer = await self._request("GET", f"/letters/{quote(reference, safe='')}")
        events = [
            _tracking_event(raw)
            for raw in answer.get("tracking_events") or []
            if isinstance(raw, dict) and raw.get("id")
        ]
        latest = datetime.max.replace(tzinfo=UTC)  # events without a time keep their place last
        return sorted(events, key=lambda event: event.time or latest)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def _request(self, method: str, path: str, **options: Any) -> dict[str, Any]:
        base, key = self.settings.printmail_base_url.rstrip("/"), self.settings.printmail_api_key
        if not base or not key:
            raise ProviderConfigError(
                "post_transport is 'provider' but APPEALS_PRINTMAIL_BASE_URL or "
                "APPEALS_PRINTMAIL_API_KEY is not set"
            )
        try:
            response = await self.http.request(
                method,
                base + path,
                auth=httpx.BasicAuth(key, ""),
                timeout=self.settings.printmail_timeout_seconds,
                follow_redirects=False,  # only ever the configured address
                **options,
            )
        except httpx.TimeoutException as exc:
            raise ProviderError(
                f"no answer within {self.settings.printmail_timeout_seconds:g} s "
                f"({type(exc).__name__})",
                code=None,
                temporary=True,
            ) from exc
        except httpx.TransportError as exc:
            raise ProviderError(f"{type(exc).__name__}: {exc}", code=None, temporary=True) from exc
        return _answer(response)


def _address_fields(prefix: str, address: PostalAddress) -> dict[str, str]:
    """The provider's address fields: a name, two lines and a country (no city or postcode
    fields: our directory keeps addresses as printed lines)."""
    name, *rest = address.lines or ("",)
    fields = {
        f"{prefix}[name]": name,
        f"{prefix}[address_line1]": rest[0] if rest else "",
        f"{prefix}[address_country]": address.country,
    }
    if len(rest) > 1:
        fields[f"{prefix}[address_line2]"] = ", ".join(rest[1:])
    return fields


def _answer(response: httpx.Response) -> dict[str, Any]:
    status = response.status_code
    if 200 <= status < 300:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise ProviderError(
                f"unreadable answer ({status}): {response.text[:200]!r}",
                code=status,
                temporary=True,
            )
        return body
    detail = f"{status}: {_message(response)}"
    if status in (401, 403):
        raise ProviderConfigError(f"the provider refused our credentials ({detail})", code=status)
    if status == 429:
        raise ProviderError(
            detail,
            code=status,
            temporary=True,
            retry_after=_retry_after(response.headers.get("Retry-After")),
        )
    raise ProviderError(detail, code=status, temporary=status >= 500 or status == 408)


def _message(response: httpx.Response) -> str:
    """The provider's own explanation (`{"error": {"message": ...}}`), else the start of the
    body."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return response.text[:300] or response.reason_phrase


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds, from either form: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - utcnow()).total_seconds())


def _tracking_event(raw: dict[str, Any]) -> TrackingEvent:
    name = str(raw.get("name") or "")
    kind = name.lower().replace("-", "_").replace(" ", "_")
    if not kind:
        # Webhook-style types ("letter.returned_to_sender") carry the kind after the last dot.
        kind = str(raw.get("type") or "").rsplit(".", 1)[-1].replace("-", "_")
    time = None
    if isinstance(raw.get("time"), str):
        try:
            time = datetime.fromisoformat(raw["time"].replace("Z", "+00:00"))
        except ValueError:
            time = None
        if time is not None and time.tzinfo is None:
            time = time.replace(tzinfo=UTC)
    return TrackingEvent(id=str(raw["id"]), kind=kind, name=name or kind, time=time)


def make_printmail(settings: Settings) -> PrintMailClient:
    """The client a worker keeps for its life (closed with `aclose`)."""
    return PrintMailClient(httpx.AsyncClient(follow_redirects=False), settings)
