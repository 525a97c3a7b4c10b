"""State machines as data, and the one error for a move one of them does not allow.

Every stateful thing (a delivery on each channel, a signature, a campaign, an inbound message)
declares its machine in its domain's models module: a `Machine` over its status enum, the allowed
moves written down as a mapping from each state to the states it may become. Whoever changes a
status asks the machine (`allows`) or lets it refuse (`check`), which raises `IllegalTransition`:
a 409 whose JSON body says `"error": "IllegalTransition"`, whichever machine refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Generic, TypeVar

from app.errors import Conflict

E = TypeVar("E", bound=Enum)


class IllegalTransition(Conflict):
    """A status change its state machine does not allow."""

    kind = "IllegalTransition"


@dataclass(frozen=True, slots=True)
class Machine(Generic[E]):
    """The allowed moves between the states of one enum; `name` says what moves ("a signature").

    A state missing from `moves` is one this machine never reaches (a web-form delivery is never
    `sent`): nothing leaves it. Every state a move leads to must itself be listed, so a machine
    cannot strand something in a state nobody wrote down."""

    name: str
    moves: Mapping[E, frozenset[E]]

    def __post_init__(self) -> None:
        unlisted = {to for targets in self.moves.values() for to in targets} - set(self.moves)
        if unlisted:
            names = ", ".join(sorted(str(state.value) for state in unlisted))
            raise ValueError(f"{self.name}: moves lead to states with no entry: {names}")

    def allowed(self, start: E) -> frozenset[E]:
        """The states `start` may become."""
        return self.moves.get(start, frozenset())

    def allows(self, start: E, to: E) -> bool:
        return to in self.moves.get(start, ())

    def check(self, start: E, to: E, *, what: str | None = None) -> None:
        """Refuse a move this machine does not allow; `what` is the message if it is refused."""
        if to not in self.moves.get(start, ()):
            raise IllegalTransition(
                what or f"{self.name} cannot go from {start.value} to {to.value}"
            )
