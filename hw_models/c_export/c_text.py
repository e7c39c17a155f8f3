"""Names entering generated C (and its build file) as inert text: comments, string literals, identifiers.

A candidate's name comes from a space, a study or a user's YAML and may hold anything, ``*/ system(...); /*``
included. Every name the generator writes goes through one of these: :func:`comment_text` (a comment cannot
be closed from inside it), :func:`string_literal` (a C string that holds the name's UTF-8 bytes and nothing
else) or :func:`check_identifier` (a name that becomes part of a C identifier must already be one).
"""

from __future__ import annotations

import re

from dslnas.hw_models.c_export.program import CExportError

# Characters kept as themselves. Left out on purpose: '*' and '/' (comment delimiters), '\\' (line splices
# and escapes), '?' (C99 trigraphs such as ??/), '"' and "'" (literal delimiters), '$' and '`' (a Makefile or
# a shell that might see the text), and every control or non-ASCII character (a newline ends a // comment).
_INERT = re.compile(r"[A-Za-z0-9 _.,:;=+@#%()\[\]{}<>!~^&|-]")
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
NAME_CHARS_SHOWN = 120


def comment_text(text: str) -> str:
    """``text`` for inside a ``/* ... */`` or ``#`` comment: inert characters kept, every other character
    written as ``\\xNN`` / ``\\uNNNN`` (so ``*/`` cannot end the comment), cut to :data:`NAME_CHARS_SHOWN`."""
    shown = text[:NAME_CHARS_SHOWN]
    out = "".join(ch if _INERT.fullmatch(ch) else _escaped(ch) for ch in shown)
    return out + ("..." if len(text) > NAME_CHARS_SHOWN else "")


def string_literal(text: str) -> str:
    """A C99 string literal (quotes included) whose bytes are ``text``'s UTF-8: inert characters as
    themselves, every other byte as a three-digit octal escape (never followed by a digit it could absorb)."""
    parts = []
    for ch in text:
        if _INERT.fullmatch(ch):
            parts.append(ch)
        else:
            parts.extend(f"\\{byte:03o}" for byte in ch.encode("utf-8"))
    return '"' + "".join(parts) + '"'


def check_identifier(name: str, what: str) -> str:
    """``name`` when it is a C identifier (it is pasted into ``dsl_chain_<name>`` and the like), else CExportError."""
    if not IDENTIFIER.match(name):
        raise CExportError(f"{what} {name!r} cannot be part of a C identifier: use letters, digits and '_' "
                           "(not starting with a digit)")
    return name


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"
