"""The event log's schema: every kind of record, its typed fields, and what each means.

A record is ``(time_s, event, message_id, node, values)``: ``values`` holds the kind's fields
in the order :data:`KINDS` declares them, typed (a recipient list is a tuple of addresses, a
queue length an int, a time a float); an optional field absent from a record is ``None``.
This module is the only place that knows a field's name, its type, how it reads as text in
``events.csv`` (``key=value`` pairs, :func:`detail_text`) and back (:func:`parse_detail`), and
what it means: the tables of ``docs/events.md`` are generated from it (:func:`markdown`,
``python -m simulator.eventkinds``) and a test holds the two equal.

Every field name has one type wherever it occurs, so the log is also one wide table with a
typed column per field (what the Parquet writer uses: :data:`FIELD_TYPES`).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable, Sequence
from itertools import chain, compress, repeat
from operator import is_not, itemgetter
from typing import Any, NamedTuple

from .coded import take

TEXT, INT, FLOAT, LIST, FLAG = "text", "int", "float", "list", "flag"

# Each field name's one type. TEXT: a word; INT: an integer; FLOAT: seconds (absolute times are
# written as Python's shortest exact text); LIST: addresses or host names, comma-separated in
# the text; FLAG: yes/no.
FIELD_TYPES: dict[str, str] = {
    "kind": TEXT, "from": TEXT, "sender": TEXT, "to": LIST, "size": INT, "wire": INT, "about": TEXT,
    "code": TEXT, "rcpts": LIST, "rcpt": TEXT, "queue": INT, "hosts": LIST, "host": TEXT,
    "accepted": FLAG, "why": TEXT, "until": FLOAT, "next": FLOAT, "reason": TEXT, "dsn": TEXT,
    "device": INT, "protocol": TEXT, "copies": INT, "offset": FLOAT, "seen": INT, "new": TEXT,
    "by": TEXT, "folder": TEXT, "where": TEXT, "via": TEXT, "copy": TEXT, "client": TEXT, "status": TEXT,
}


class Field(NamedTuple):
    """One field of a kind of record: its name, what it means there, its enumerated values
    (the whole set it may take, when the set is fixed) and whether records may omit it."""

    name: str
    doc: str
    values: tuple[str, ...] = ()
    optional: bool = False

    @property
    def type(self) -> str:
        return FIELD_TYPES[self.name]


class Kind(NamedTuple):
    """A kind of record: its fields in order, and what its message_id and node columns hold."""

    name: str
    section: str
    message_id: str
    node: str
    fields: tuple[Field, ...]
    meaning: str


CODES_FAILED = ("421", "451", "450", "452")
MESSAGES, CAPACITY, OUTAGES, RETRIEVAL, USERS = ("Messages and sessions", "Capacity", "Outages",
                                                 "Devices and retrieval", "What users do with mail")

_KINDS: tuple[Kind, ...] = (
    Kind("created", MESSAGES, "the new message",
         "the sender's node (user mail), or the server that made it (DSN, a list's copy)",
         (Field("kind", "", ("mail", "bounce", "warning")),
          Field("from", "author: the user, or `MAILER-DAEMON@<server>`"),
          Field("sender", "envelope sender; `<>` for a DSN"),
          Field("to", "recipients"),
          Field("size", "bytes as written"),
          Field("wire", "bytes on the wire"),
          Field("about", "for a DSN: the message it reports on; for a list's copy: the message it copies",
                optional=True),
          Field("code", "for a DSN: the failure that caused it", optional=True)),
         "a user pressed send, or a server made a DSN or a list's copy. This is the only record of a message's "
         "envelope and sizes"),
    Kind("accepted", MESSAGES, "the message", "the receiving server",
         (Field("from", "the client: the user's node for a submission, the sending server for a relay"),
          Field("rcpts", "the recipients it accepted")),
         "the server took responsibility for the message (it is about to send 250 after DATA). "
         "Logged again if the same message is received again"),
    Kind("delivered", MESSAGES, "the message", "the server holding the mailbox", (Field("rcpt", ""),),
         "the message is in the recipient's mailbox: `delivered_at`"),
    Kind("expanded", MESSAGES, "the message", "the server holding the list or alias",
         (Field("rcpt", "the list's or alias's address"),
          Field("via", "", ("list", "alias")),
          Field("to", "its members or targets, groups and domains expanded, each once"),
          Field("copy", "for a list: the id of its copy, a new message whose `created` record follows",
                optional=True)),
         "the server took the message for a mailing list or an alias, at the moment it would have delivered it "
         "to a mailbox: that pair's `delivered_at`, status `expanded`. An alias's targets become recipients of "
         "the same message; a list re-sends a copy to its members, with its owner as envelope sender "
         "(docs/scenario.md, \"Lists and aliases\")"),
    Kind("duplicate", MESSAGES, "the message", "the server holding the mailbox", (Field("rcpt", ""),),
         "the message arrived again for a recipient whose mailbox already has it (after a cut session). "
         "It is not stored twice"),
    Kind("enqueued", MESSAGES, "the message", "the server", (Field("queue", "messages in this queue now"),),
         "the message's first delivery job entered this server's outgoing queue"),
    Kind("dequeued", MESSAGES, "the message", "the server", (Field("queue", "messages in this queue now"),),
         "the message's last delivery job at this server finished (sent, bounced, or both)"),
    Kind("attempt", MESSAGES, "the message", "the sending server",
         (Field("rcpts", "recipients still to deliver in this job"),
          Field("hosts", "the MX hosts to try, in order; under `exim`, without the hosts whose retry time "
                         "has not come")),
         "a delivery attempt starts: the job has a session slot"),
    Kind("connect_failed", MESSAGES, "the message", "the sending server",
         (Field("host", ""), Field("code", "", ("421",))),
         "the host was down or unreachable and `connect_timeout` has passed, or it refused the session at its "
         "greeting (a `refused` record at the host, 2 RTT earlier). The attempt moves to the next host"),
    Kind("session_cut", MESSAGES, "the message", "the sending server",
         (Field("host", ""),
          Field("accepted", "`yes`: the host had accepted before the cut, so a duplicate will follow; "
                            "`no`: it had not", ("yes", "no"))),
         "an outage cut the attempt's session (or its wait for a connection). The attempt fails"),
    Kind("sent", MESSAGES, "the message", "the sending server",
         (Field("host", ""), Field("rcpts", "the recipients the host accepted"), Field("code", "", ("250",))),
         "the host accepted: those recipients are its now. Logged at the moment of acceptance; the 250 "
         "reaches the client d later, and an outage in that window still counts as a lost reply "
         "(`session_cut accepted=yes`, then a duplicate)"),
    Kind("rcpt_deferred", MESSAGES, "the message", "the sending server",
         (Field("host", ""), Field("rcpts", "recipients that got a 4xx"),
          Field("code", "`450`: greylisted, or over the host's rate limit answering at RCPT; `452`: the host's "
                        "queue is full", ("450", "452"))),
         "the host deferred those recipients; the attempt fails for them"),
    Kind("held", MESSAGES, "the message", "the sending server",
         (Field("rcpts", "still undelivered"), Field("hosts", "the MX hosts"),
          Field("why", "`dead`: under the postfix policy, every recipient domain of the job is a dead "
                       "destination; `retry_time`: under the exim policy, no MX host's retry time has come",
                ("dead", "retry_time")),
          Field("until", "absolute time that state ends")),
         "the job was due for an attempt, but a connection-level failure (a host that did not answer) has "
         "closed its destination: it is deferred without a connection. A `deferred` record follows (code "
         "`421`). Only the `postfix` and `exim` retry policies keep this state (docs/scenario.md)"),
    Kind("deferred", MESSAGES, "the message", "the sending server",
         (Field("rcpts", "still undelivered"), Field("code", "the last failure", CODES_FAILED),
          Field("next", "absolute time of the next attempt")),
         "a failed attempt will be retried"),
    Kind("bounced", MESSAGES, "the message", "the server that gave up, or the sender's node for a submission "
                                             "refusal",
         (Field("rcpt", ""),
          Field("code", "`550`, `552`, `554`, or the last failure's code on expiry",
                ("550", "552", "554", *CODES_FAILED)),
          Field("reason", "`refused`: a permanent reply; `expired`: give-up time reached; `submission`: "
                          "refused by the sender's own server", ("refused", "expired", "submission")),
          Field("dsn", "the bounce's id, or `-` when none was sent"),
          Field("host", "when a remote host refused", optional=True)),
         "delivery to this recipient has failed for good"),
    Kind("bounce_sent", MESSAGES, "the original message", "the server",
         (Field("dsn", "the DSN's id"), Field("rcpts", "the recipients it reports")),
         "a bounce DSN was created for the sender"),
    Kind("warning_sent", MESSAGES, "the original message", "the server",
         (Field("dsn", "the DSN's id"), Field("rcpts", "the recipients it reports")),
         "a delay warning DSN was created for the sender"),
    Kind("submit_failed", MESSAGES, "the message", "the sender's node",
         (Field("host", "the home server"),
          Field("code", "`421`: the server was down or unreachable and did not answer within 30 s, logged at "
                        "the end of those 30 s, or it refused the session at its greeting, logged when the client "
                        "learned it; `451`: an outage cut the session; `452` or `450`: a capacity limit deferred "
                        "the recipients", ("421", "451", "452", "450")),
          Field("accepted", "`yes` when the cut came after the server had accepted, so a duplicate will follow",
                ("yes",), optional=True),
          Field("next", "absolute time of the next try")),
         "submission failed; the client submits again at `next`"),
    Kind("refused", CAPACITY, "the message", "the refusing server",
         (Field("client", "the sending server, or the user's node for a submission"),
          Field("code", "", ("421", "452", "450")),
          Field("status", "the enhanced status code: `4.3.2` too many sessions, `4.7.0` or `4.7.1` over the rate "
                          "limit, `4.3.1` queue full", ("4.3.2", "4.7.0", "4.3.1", "4.7.1")),
          Field("why", "the limit: `max_inbound`, `rate_limit` or `queue_limit`",
                ("max_inbound", "rate_limit", "queue_limit"))),
         "a capacity limit refused the session as it opened: at the greeting (`421`), to MAIL FROM (`452`) or "
         "to every RCPT (`450`). The client learns it later (`connect_failed`, `rcpt_deferred` or "
         "`submit_failed`). Counted per server and reply in `summary.json` (`refusals`)"),
    Kind("processing", CAPACITY, "the message", "the server", (Field("rcpts", "the recipients it accepted"),),
         "a worker starts processing the message (a server with `processing`; docs/scenario.md)"),
    Kind("processed", CAPACITY, "the message", "the server", (Field("rcpts", "the recipients it accepted"),),
         "the processing is done: at this moment the message is delivered to the server's mailboxes and "
         "queued for the rest"),
    Kind("server_down", OUTAGES, "empty", "the server", (),
         "the server stops answering and forwarding; its sessions are cut"),
    Kind("server_up", OUTAGES, "empty", "the server", (), "an outage of the server ended"),
    Kind("link_down", OUTAGES, "empty", "the link, as `a--b` in the order of its `between`", (),
         "the link breaks; sessions across it are cut, routes change"),
    Kind("link_up", OUTAGES, "empty", "the link", (), "an outage of the link ended"),
    Kind("device", RETRIEVAL, "empty", "the user's node",
         (Field("rcpt", "the user's address"), Field("device", "1, 2, ..."), Field("protocol", "",
                                                                                 ("pop3", "imap", "http")),
          Field("copies", "retrievals the run waits for per message: 1 for POP3 without `keep`, else the number "
                          "of devices"),
          Field("offset", "seconds: the first poll time, or for IMAP with IDLE the connect time")),
         "a device exists; logged once per device at time 0"),
    Kind("retrieved", RETRIEVAL, "the message", "the user's node",
         (Field("rcpt", ""), Field("device", ""), Field("protocol", "", ("pop3", "imap", "http")),
          Field("seen", "`1` when another device had already fetched the message and flagged it seen on the "
                        "server; always `0` for POP3", ("0", "1"))),
         "the device now holds the whole message"),
    Kind("retrieve_failed", RETRIEVAL, "empty", "the user's node",
         (Field("rcpt", ""), Field("device", ""), Field("protocol", "", ("pop3", "imap", "http")),
          Field("why", "`connect`: the server could not be reached, logged 30 s after the try; `cut`: an outage "
                       "cut the session; `locked`: another POP3 session held the maildrop",
                ("connect", "cut", "locked"))),
         "a retrieval attempt failed; the device tries again later"),
    Kind("reply", USERS, "the message replied to", "the replier's node",
         (Field("new", "the reply's id"), Field("by", "the replier's address")),
         "logged when the reply is sent, after the think time; the reply has its own `created`"),
    Kind("forward", USERS, "the message forwarded", "the forwarder's node",
         (Field("new", "the forward's id"), Field("by", "the forwarder's address")),
         "as `reply`, for a forward"),
    Kind("filed", USERS, "the message", "the user's node",
         (Field("rcpt", ""), Field("folder", ""),
          Field("where", "`server` for IMAP and webmail users, `local` for POP3", ("server", "local"))),
         "the user filed the message into a folder"),
)

KINDS: dict[str, Kind] = {k.name: k for k in _KINDS}
SECTIONS = (MESSAGES, CAPACITY, OUTAGES, RETRIEVAL, USERS)


# ---- text form ---------------------------------------------------------------------------------

def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


_WRITE: dict[str, Callable[[Any], str]] = {
    TEXT: _text, INT: str, FLOAT: repr, LIST: ",".join, FLAG: lambda v: "yes" if v else "no",
}
_READ: dict[str, Callable[[str], Any]] = {
    TEXT: str, INT: int, FLOAT: float, LIST: lambda s: tuple(s.split(",")) if s else (), FLAG: lambda s: s == "yes",
}


_FLAG_TEXT = {True: "yes", False: "no"}


def _flag(values: Sequence[Any]) -> list[str]:
    texts: list[str | None] = list(map(_FLAG_TEXT.get, values))  # one C call a value for True and False
    return texts if None not in texts else ["yes" if v else "no" for v in values]  # type: ignore[return-value]


# How a column of one field's values becomes its text: one C-level map per column where it can be.
_WRITE_COLUMN: dict[str, Callable[[Sequence[Any]], Sequence[str]]] = {
    TEXT: lambda col: list(map(str, col)), INT: lambda col: list(map(str, col)),
    FLOAT: lambda col: list(map(repr, col)), LIST: lambda col: list(map(",".join, col)), FLAG: _flag,
}


def _column_writer(kind: Kind) -> Callable[[Sequence[tuple[Any, ...]]], list[str]]:
    """The detail texts of many records of one kind at once (see :func:`kind_texts`).

    Each field's values are turned into text a column at a time; each record's text is then one
    ``"".join`` of its pieces (every field's ``" key="`` and value; an optional field as
    ``" key=value"`` or, when absent, as nothing), gathered by ``zip`` with no Python step per
    record (a format string would be parsed anew for each record: four times the cost). The
    first field's key has no leading space when the first field is always there; otherwise the
    space is dropped from each text."""
    fields = kind.fields
    if not fields:
        return lambda rows: [""] * len(rows)
    strip = fields[0].optional
    writers = [(_WRITE_COLUMN[f.type], f" {f.name}=", f.optional) for f in fields]
    if not strip:
        writers[0] = (writers[0][0], writers[0][1][1:], False)

    def write(rows: Sequence[tuple[Any, ...]]) -> list[str]:
        pieces: list[Iterable[str]] = []
        for k, (column_text, key, optional) in enumerate(writers):
            column = list(map(itemgetter(k), rows))  # not zip(*rows): an iterator per row wakes the collector
            if optional:
                pieces.append(_optional_texts(column, column_text, key))
            else:
                pieces += (repeat(key), column_text(column))
        out = list(map("".join, zip(*pieces)))  # noqa: B905 (the keys are endless repeats)
        return [t[1:] for t in out] if strip else out

    return write


def _optional_texts(column: list[Any], column_text: Callable[[Sequence[Any]], Sequence[str]],
                    prefix: str) -> list[str]:
    """An optional field's ``" key=value"`` texts, nothing where it is absent (None): a Python step
    only per record that has it, none when every record has it."""
    absent = column.count(None)
    if not absent:
        return list(map(prefix.__add__, column_text(column)))
    out = [""] * len(column)
    if absent < len(column):
        present = list(compress(range(len(column)), map(is_not, column, repeat(None))))
        for i, text in zip(present, column_text(take(column, present)), strict=True):
            out[i] = prefix + text
    return out


_COLUMN_WRITERS = {name: _column_writer(kind) for name, kind in KINDS.items()}
_NUMBER = {name: code for code, name in enumerate(KINDS)}


def kind_texts(event: str, values: Sequence[tuple[Any, ...]]) -> list[str]:
    """The ``detail`` texts of records all of kind ``event`` (``values`` theirs), a field a column at a time."""
    return _COLUMN_WRITERS[event](values)


def detail_texts(events: Sequence[str], values: Sequence[tuple[Any, ...]],
                 groups: Iterable[tuple[str, Sequence[int]]] | None = None,
                 texts_of: Callable[[str, Sequence[tuple[Any, ...]]], list[str]] = kind_texts) -> list[str]:
    """The ``detail`` column of ``events.csv`` for many records at once (``events[i]`` and
    ``values[i]`` are one record's): the records of each kind are written together, a column at a
    time (``texts_of(event, values)``, by default :func:`kind_texts`). ``groups``, if given, are each
    kind with the positions of all its records; otherwise the records are grouped by a stable sort
    of their kinds' numbers. Each kind's texts are put back in the records' order by one gather
    (the inverse of the grouping's order), with no Python step per record."""
    import numpy as np

    n = len(events)
    if groups is None:
        codes = np.fromiter(map(_NUMBER.__getitem__, events), dtype=np.int16, count=n)
        order = np.argsort(codes, kind="stable")
        positions = order.tolist()
        ends = np.cumsum(np.bincount(codes, minlength=len(_NUMBER))).tolist()
        parts = [(name, positions[start:end]) for name, start, end in zip(KINDS, [0, *ends[:-1]], ends, strict=True)
                 if end > start]
    else:
        parts = [(event, list(positions)) for event, positions in groups if len(positions)]
        order = np.fromiter(chain.from_iterable(p for _, p in parts), dtype=np.int64)
    texts: list[str] = []
    for event, kept in parts:
        texts += texts_of(event, take(values, kept))
    texts.append("")  # for a record in no group
    where = np.full(n, len(texts) - 1, dtype=np.int64)  # each record's place in texts
    where[order] = np.arange(len(order))
    return take(texts, where.tolist())


def detail_text(event: str, values: tuple[Any, ...]) -> str:
    """The ``detail`` column of ``events.csv``: ``key=value`` pairs, absent optional fields left out."""
    return _COLUMN_WRITERS[event]([values])[0] if values else ""


def parse_detail(event: str, detail: str) -> tuple[Any, ...]:
    """The typed values of a record read back from its ``detail`` text (``events.csv``)."""
    given = dict(part.partition("=")[::2] for part in detail.split())
    kind = KINDS[event]
    unknown = set(given) - {f.name for f in kind.fields}
    if unknown:
        raise ValueError(f"{event}: unknown field(s) {', '.join(sorted(unknown))} in {detail!r}")
    out: list[Any] = []
    for f in kind.fields:
        text = given.get(f.name)
        if text is None:
            if not f.optional:
                raise ValueError(f"{event}: field {f.name!r} missing in {detail!r}")
            out.append(None)
        else:
            out.append(_READ[f.type](text))
    return tuple(out)


def text_fields(event: str, values: tuple[Any, ...]) -> dict[str, str]:
    """A record's fields by name, each as ``events.csv`` writes it (absent optional fields left out)."""
    return {f.name: _WRITE[f.type](v) for f, v in zip(KINDS[event].fields, values, strict=True) if v is not None}


def as_dict(event: str, values: tuple[Any, ...]) -> dict[str, Any]:
    """A record's fields by name (absent optional fields left out)."""
    return {f.name: v for f, v in zip(KINDS[event].fields, values, strict=True) if v is not None}


def index(event: str, name: str) -> int:
    """Where field ``name`` sits in the values of ``event``'s records."""
    for i, f in enumerate(KINDS[event].fields):
        if f.name == name:
            return i
    raise KeyError(f"{event} records have no field {name!r}")


_PYTHON_TYPES: dict[str, type | tuple[type, ...]] = {TEXT: str, INT: int, FLOAT: (float, int), LIST: tuple,
                                                       FLAG: bool}


def problems(event: str, values: tuple[Any, ...]) -> list[str]:
    """What is wrong with a record's values against the schema (empty when nothing)."""
    kind = KINDS.get(event)
    if kind is None:
        return [f"unknown event {event!r}"]
    if len(values) != len(kind.fields):
        return [f"{event}: {len(values)} values for {len(kind.fields)} fields"]
    out = []
    for f, v in zip(kind.fields, values, strict=True):
        if v is None:
            if not f.optional:
                out.append(f"{event}.{f.name} is missing")
            continue
        if not isinstance(v, _PYTHON_TYPES[f.type]) or (f.type == INT and isinstance(v, bool)):
            out.append(f"{event}.{f.name}={v!r} is not {f.type}")
        elif isinstance(v, tuple) and not all(isinstance(x, str) for x in v):
            out.append(f"{event}.{f.name}={v!r} is not a tuple of text")
        elif f.values and _WRITE[f.type](v) not in f.values and not (event == "bounced" and f.name == "code"):
            out.append(f"{event}.{f.name}={v!r} is not one of {', '.join(f.values)}")
    return out


# ---- documentation -----------------------------------------------------------------------------

def _field_doc(f: Field) -> str:
    note = f.doc
    if f.values and not note:
        note = ", ".join(f"`{v}`" for v in f.values)
    return f"`{f.name}`" + (f" ({note})" if note else "")


def markdown() -> str:
    """The event tables of docs/events.md, one per section."""
    out: list[str] = []
    for section in SECTIONS:
        out += [f"### {section}", "", "| event | message_id | node | detail keys | meaning |", "|---|---|---|---|---|"]
        for kind in _KINDS:
            if kind.section == section:
                keys = ", ".join(_field_doc(f) for f in kind.fields) or "none"
                out.append(f"| `{kind.name}` | {kind.message_id} | {kind.node} | {keys} | {kind.meaning} |")
        out.append("")
    out += ["### Field types", "",
            "Each field name has one type wherever it occurs: `text` a word, `int` an integer, `float` seconds "
            "(written as Python's shortest exact text), `list` comma-separated words, `flag` `yes` or `no`.", ""]
    out.append("| field | type |")
    out.append("|---|---|")
    out += [f"| `{name}` | {type_} |" for name, type_ in FIELD_TYPES.items()]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    sys.stdout.write(markdown())
