"""The life cycle shared by the package's clients, store and writer: open once, use, close.

A :class:`Resource` is an async context manager with an explicit :class:`State`. What it owns
(sessions, task groups, files, locks) is acquired in :meth:`Resource._open`, each with its
release pushed on an :class:`~contextlib.AsyncExitStack`; closing unwinds the stack, newest
first, so every release runs even when an earlier one fails or the closer is cancelled.
Misuse is a bug in the caller and says so at once, instead of surfacing later as an
``AttributeError`` on ``None`` or as an error of a closed aiohttp session.
"""

from __future__ import annotations

import enum
from contextlib import AsyncExitStack
from types import TracebackType
from typing import Self

from .errors import LifecycleError

__all__ = ("Resource", "State")


class State(enum.Enum):
    UNOPENED = "unopened"  # made, not entered yet
    OPEN = "open"  # entered and usable
    CLOSED = "closed"  # closed, or failed to open; cannot be entered again


class Resource:
    """Base for an async context manager that is entered once, used while open, closed once.

    Entering twice, or after closing, raises :class:`LifecycleError`, as does any use that a
    subclass guards with :meth:`_require_open` while the resource is not open. Closing twice
    (or closing one never opened) is harmless. If :meth:`_open` fails, what it had already
    acquired is released before the error propagates, and the resource is closed.

    Two rules for subclasses. A task group entered by :meth:`_open` must be closed by the
    task that entered it (anyio's rule), as before. And a release that awaits must shield
    itself from cancellation, briefly (see :func:`ste_async._http.close_session`): the stack
    as a whole cannot be shielded, because a task group's cancel scope has to be exited in the
    order it was entered, not from inside a newer scope.
    """

    _state: State = State.UNOPENED
    _stack: AsyncExitStack | None = None

    @property
    def state(self) -> State:
        return self._state

    async def _open(self, stack: AsyncExitStack) -> None:
        """Acquire what the resource owns, pushing each release onto ``stack``."""
        raise NotImplementedError

    def _require_open(self) -> None:
        """Raise :class:`LifecycleError` unless the resource is open."""
        if self._state is not State.OPEN:
            name = type(self).__name__
            if self._state is State.UNOPENED:
                raise LifecycleError(f"{name} is not open yet: use it inside 'async with'")
            raise LifecycleError(f"{name} is closed: use it inside its 'async with' block")

    async def __aenter__(self) -> Self:
        name = type(self).__name__
        if self._state is State.OPEN:
            raise LifecycleError(f"{name} is already open: enter it once")
        if self._state is State.CLOSED:
            raise LifecycleError(f"{name} is closed and cannot be reopened: make a new one")
        try:
            async with AsyncExitStack() as stack:
                await self._open(stack)
                self._stack = stack.pop_all()
        except BaseException:
            self._state = State.CLOSED  # what was acquired is released; it cannot be retried
            raise
        self._state = State.OPEN
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Release everything the resource owns, newest first; closing twice is harmless."""
        self._state = State.CLOSED
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()
