"""What the records say to people: Vietnamese source messages, translated at the edges.

The records know nothing of languages or requests. A :class:`Message` names what to say: its
message id (the Vietnamese source text, ``%(name)s`` placeholders) and the values to put in,
so that an edge (the web, the command line) translates it into its reader's language with
the same catalogue as the pages. ``msg`` builds one, ``nmsg`` one that depends on a count,
and ``N_`` marks a message id kept in a constant. A parameter that is itself a Message (the
name of a status) is translated along with it.

``msg``, ``nmsg`` and ``N_`` are also what the catalogue test looks for: a message written
through them without an English translation fails the suite.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

Gettext = Callable[[str], str]
Ngettext = Callable[[str, str, int], str]
# How an edge turns a message into its reader's language (``str``: the source text).
Speaker = Callable[["Message"], str]


def N_(message: str) -> str:
    """Mark a message id where it is defined; it is translated where it is shown."""
    return message


def _source(message: str) -> str:
    return message


def _source_plural(singular: str, plural: str, n: int) -> str:
    return singular if n == 1 else plural


@dataclass(frozen=True, slots=True)
class Message:
    """A message id (Vietnamese source text) and its parameters, translated at an edge."""

    msgid: str
    params: Mapping[str, object] = field(default_factory=dict)
    # A message about a count: its plural id and the count (``%(num)d`` in both).
    plural: str | None = None
    n: int = 0

    def render(self, gettext: Gettext = _source, ngettext: Ngettext = _source_plural) -> str:
        """The message in the language of the given translation functions (default: source)."""
        if self.plural is None:
            # An empty id would fetch the catalogue's header.
            text = gettext(self.msgid) if self.msgid else ""
            values = dict(self.params)
        else:
            text = ngettext(self.msgid, self.plural, self.n)
            values = {"num": self.n, **self.params}
        if not values:
            return text
        return text % {
            key: value.render(gettext, ngettext) if isinstance(value, Message) else value
            for key, value in values.items()
        }

    def __str__(self) -> str:
        return self.render()


def msg(message: str, **params: object) -> Message:
    """A message with ``%(name)s`` placeholders filled from the keywords."""
    return Message(message, params)


def nmsg(singular: str, plural: str, n: int, **params: object) -> Message:
    """A message that depends on a count ``n`` (``%(num)d``): "1 ngày" / "1 day", "2 days"."""
    return Message(singular, params, plural=plural, n=n)


def one_of(choices: Iterable[object]) -> Message:
    """The message for a value that must be one of the choices (listed as they are typed)."""
    return msg("Chọn một trong: %(choices)s", choices=", ".join(str(c) for c in choices))
