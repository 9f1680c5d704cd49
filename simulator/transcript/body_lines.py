"""The generated lines of a message body, exactly as many bytes as the simulation moved.

A :class:`Run` is a block of CRLF-terminated lines of at most 76 characters (RFC 2045) and of
an exact size: prose that never splits a word (English ``7bit``; accented ``8bit`` or its
``quoted-printable`` form; the explanations of a bounce or a delay warning), the last lines
justified to fit, or base64 lines of an attachment of ``raw`` octets, padded as its length
requires. A run renders only as far as asked: a transcript renders the excerpt it shows, a
capture the whole.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["CRLF", "LINE_BYTES", "LINE_CHARS", "Run"]

CRLF = b"\r\n"
LINE_CHARS = 76  # RFC 2045 line length for base64 and quoted-printable; text uses it too
LINE_BYTES = LINE_CHARS + 2


_WORDS_7 = ("Thanks for the notes from Tuesday. The draft is ready and the figures now match the ledger; "
            "could you check the totals in section three before we send it on? Best regards, and see you "
            "at the review on Friday.")
_WORDS_8 = ("Merci pour les notes de mardi. Le brouillon est prêt et les chiffres sont vérifiés; "
            "Grüße aus Zürich, à bientôt et bon café. Ça marche très bien — déjà fini.")
_WORDS_BOUNCE = ("What this means: the receiving system refused the address, or every attempt to reach it "
                 "failed for longer than the sending server keeps trying. Check the address for typing "
                 "mistakes and send the message again if it is right. The report below lists each recipient "
                 "with the reply the remote server gave, in the machine-readable form of RFC 3464, followed "
                 "by the headers of your message so you can tell which one this is about. Your postmaster "
                 "can help if the problem persists. This notice was written by a program; replies to it are "
                 "not read.")
_WORDS_DELAY = ("Nothing needs to be done yet: the sending server keeps the message in its queue and tries "
                "again on its own schedule. You will get another notice if it finally gives up. The report "
                "below lists each recipient with the last reply or error seen, in the machine-readable form "
                "of RFC 3464, followed by the headers of your message. This notice was written by a program; "
                "replies to it are not read.")
_B64_LINES = [base64.b64encode(bytes((i * 97 + k * 31) % 256 for i in range(57))) for k in range(16)]


def _qp(word: str) -> str:
    return "".join(c if ord(c) < 128 else "".join(f"={b:02X}" for b in c.encode()) for c in word)


_TOKENS = {
    "7bit": [w.encode() for w in _WORDS_7.split(" ")],
    "8bit": [w.encode() for w in _WORDS_8.split(" ")],
    "quoted-printable": [_qp(w).encode() for w in _WORDS_8.split(" ")],
    "bounce": [w.encode() for w in _WORDS_BOUNCE.split(" ")],
    "warning": [w.encode() for w in _WORDS_DELAY.split(" ")],
}


def _fill(tokens: Sequence[bytes], length: int, first: int, justify: bool, stop: int = -1) -> tuple[bytes, int]:
    """Words from token ``first`` on that fit in ``length`` bytes (words never split), and the
    next token (tokens repeat; ``stop``: end at that token instead); ``justify`` widens the gaps
    to make the line exactly ``length`` bytes. A line never starts with '.' or a space and never
    ends with a space."""
    words: list[bytes] = []
    used = 0
    k = first
    while k != stop:
        token = tokens[k % len(tokens)]
        need = len(token) + (1 if words else 0)
        if used + need > length:
            break
        words.append(token)
        used += need
        k += 1
    spare = length - used if justify else 0
    if len(words) < 2:
        return (words[0] if words else b"") + b"-" * spare, k
    gaps = len(words) - 1
    out = bytearray(words[0])
    for i, word in enumerate(words[1:]):
        out += b" " * (1 + spare // gaps + (1 if i < spare % gaps else 0))
        out += word
    return bytes(out), k


_PARAGRAPHS: dict[str, tuple[list[bytes], list[int]]] = {}


def _paragraph(kind: str) -> tuple[list[bytes], list[int]]:
    """The kind's text wrapped at 76 characters, each line with CRLF, then an empty line; and
    the token each line starts at."""
    cached = _PARAGRAPHS.get(kind)
    if cached is None:
        tokens = _TOKENS[kind]
        lines, starts, k = [], [], 0
        while k < len(tokens):
            starts.append(k)
            line, k = _fill(tokens, LINE_CHARS, k, justify=False, stop=len(tokens))
            lines.append(line + CRLF)
        starts.append(0)
        lines.append(CRLF)
        cached = _PARAGRAPHS[kind] = (lines, starts)
    return cached


def _prose(kind: str, size: int, limit: int) -> bytes:
    """``size`` bytes of the kind's paragraph, repeated, the last line(s) fitted exactly (the
    first ``limit`` bytes of it)."""
    lines, starts = _paragraph(kind)
    block = b"".join(lines)
    reps, rest = divmod(size, len(block))
    if rest == 1 and reps:
        reps, rest = reps - 1, rest + len(block)
    out = bytearray(block * min(reps, limit // len(block) + 1))
    if len(out) >= limit:
        return bytes(out[:limit])
    k = 0
    for i, line in enumerate(lines):
        if len(line) > rest or rest - len(line) == 1:
            k = starts[i]
            break
        out += line
        rest -= len(line)
    if rest >= 2:
        tokens = _TOKENS[kind]
        content = rest - 2
        if content > LINE_CHARS:  # two lines share it
            first, k = _fill(tokens, content // 2, k, justify=True)
            out += first + CRLF
            content -= len(first) + 2
        out += _fill(tokens, content, k, justify=True)[0] + CRLF
    elif rest == 1:
        out += b"-"
    return bytes(out[:limit])


def _b64_line(length: int, index: int) -> bytes:
    return _B64_LINES[index % len(_B64_LINES)][:length]


@dataclass(frozen=True, slots=True)
class Run:
    """A generated block of CRLF-terminated lines of at most 76 characters, exactly ``size`` bytes:
    prose (``7bit``, ``8bit``, ``quoted-printable``, ``bounce``, ``warning``) or base64 of ``raw``
    octets."""

    kind: str
    size: int
    raw: int = 0

    def render(self, limit: int | None = None) -> bytes:
        size = self.size if limit is None else min(self.size, limit)
        if self.size <= 0:
            return b""
        if self.kind != "base64":
            return _prose(self.kind, self.size, size)
        full, rem = divmod(self.size, LINE_BYTES)  # base64: 76 characters a line, then the rest
        wanted = min(full, size // LINE_BYTES + 1)
        out = bytearray(self._full_lines(wanted, last=rem == 0 and wanted == full))
        if rem >= 2 and len(out) < size:
            out += self._line(rem - 2, full, last=True) + CRLF
        return bytes(out[:size])

    def _line(self, length: int, index: int, last: bool = False) -> bytes:
        line = _b64_line(length, index)
        pad = (3 - self.raw % 3) % 3
        if last and pad and length > pad:
            line = line[: length - pad - 1] + b"A" + b"=" * pad
        return line

    def _full_lines(self, count: int, last: bool) -> bytes:
        """``count`` base64 lines of 76 characters; ``last``: the final one ends the run (padding)."""
        if count <= 0:
            return b""
        block_lines = len(_B64_LINES)
        block = b"".join(self._line(LINE_CHARS, i) + CRLF for i in range(block_lines))
        reps, extra = divmod(count, block_lines)
        out = block * reps + block[: extra * LINE_BYTES]
        if last:
            out = out[:-LINE_BYTES] + self._line(LINE_CHARS, count - 1, last=True) + CRLF
        return out
