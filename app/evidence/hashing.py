"""The hashes of a dossier, and their check.

An item's hash is the SHA-256 of its `content` in a canonical JSON encoding: keys sorted, UTF-8
(no `\\u` escapes for non-ASCII), no spaces. The dossier's hash is the SHA-256 of the same
encoding of the dossier without its own `sha256`, each item replaced by its kind, id and hash:
so it covers the header (which letter, whether personal data is in) and every item, and a
changed item is named by its own hash. Pure functions: the CLI and the tests use them on a file,
the dossier builder on what it builds.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

FORMAT = "appeals-dossier/1"


def canonical(value: Any) -> bytes:
    """The one encoding every hash is taken over."""
    return json.dumps(
        value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False
    ).encode("utf-8")


def sha256(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def item(kind: str, ident: str, content: dict[str, Any]) -> dict[str, Any]:
    """A dossier item: its kind, id, content and the content's hash."""
    return {"kind": kind, "id": ident, "content": content, "sha256": sha256(content)}


def dossier_hash(dossier: dict[str, Any]) -> str:
    """The hash of the whole (`dossier` with or without its `sha256`)."""
    summary = {key: value for key, value in dossier.items() if key != "sha256"}
    summary["items"] = [
        {"kind": i.get("kind"), "id": i.get("id"), "sha256": i.get("sha256")}
        for i in dossier.get("items", [])
    ]
    return sha256(summary)


def seal(dossier: dict[str, Any]) -> dict[str, Any]:
    """`dossier` with its hash."""
    return {**dossier, "sha256": dossier_hash(dossier)}


@dataclass(frozen=True, slots=True)
class Check:
    """What `verify` found: nothing (intact), or each thing that changed."""

    problems: tuple[str, ...]

    @property
    def intact(self) -> bool:
        return not self.problems


def verify_file(data: bytes) -> Check:
    """Check a dossier as saved: its hashes, and that its bytes are the canonical encoding the
    API and `export` write (so a changed space or key order is found too, not only content)."""
    try:
        dossier = json.loads(data)
    except ValueError as exc:
        return Check((f"not a dossier: not JSON ({exc})",))
    check = verify(dossier)
    if check.intact and data.removesuffix(b"\n") != canonical(dossier):
        return Check(("the file's bytes are not the dossier as issued (spacing or order changed)",))
    return check


def verify(dossier: Any) -> Check:
    """Recompute every item's hash and the dossier's, and say what no longer matches."""
    if not isinstance(dossier, dict) or dossier.get("format") != FORMAT:
        return Check((f"not a dossier ({FORMAT} expected)",))
    items = dossier.get("items")
    if not isinstance(items, list):
        return Check(("the dossier has no list of items",))
    problems = []
    for index, entry in enumerate(items):
        if not isinstance(entry, dict) or "content" not in entry:
            problems.append(f"item {index}: not an item")
            continue
        if sha256(entry["content"]) != entry.get("sha256"):
            problems.append(f"item {entry.get('kind')} {entry.get('id')}: content changed")
    if dossier_hash(dossier) != dossier.get("sha256"):
        problems.append("the dossier's hash does not match (its header or items changed)")
    return Check(tuple(problems))
