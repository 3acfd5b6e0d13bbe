"""Finding credentials in file text and masking them before anything is stored or offered.

Every text Shutka keeps (the catalog's file text and chunks, the bank's entries, the line store,
Titans episodes) and every buffer the engine reads at request time passes through `mask` first,
once, where the text enters: the indexer's decoding (indexer.chunking.decode_source) and the
assistant's facade for editor buffers.

What is found:
- well-known credential shapes: AWS access key ids (AKIA/ASIA + 16), GitHub tokens (`ghp_`, `gho_`,
  `ghu_`, `ghs_`, `ghr_`, `github_pat_`), Slack (`xox[abprs]-`), Stripe (`sk_`/`rk_` + `live`/`test`/
  `prod`), Google API keys (`AIza`), OpenAI-style `sk-` keys (32+ characters), npm tokens (`npm_`),
  JWTs (`eyJ….eyJ….…`) and PEM private-key blocks (`-----BEGIN … PRIVATE KEY-----` … END);
- string literals assigned to a name that says key, secret, token, password, passwd, pwd, credential
  or auth (`apiKey = "…"`, `password: '…'`, `"client_secret": "…"`, `TOKEN ?? "…"`): an AWS secret
  key shape (40 base64 characters), or any literal of MIN_LITERAL_CHARS+ that has high Shannon
  entropy and is not a URL, a path, a data URI, a template or an identifier-like phrase;
- every match of the user's `secret_deny` regexes. A built-in finding that a `secret_allow` regex
  matches is kept as written (known test fixtures).

How it is masked: each character of a secret becomes a mask character of the SAME size, so nothing
else moves. ASCII (every built-in shape is ASCII) becomes `*`; a wider character becomes a star of
the same UTF-8 length (and UTF-16 length), so Python offsets, the catalog's tree-sitter byte spans,
line numbers and LSP columns stay valid without any re-mapping. Whitespace, quotes and backslashes
inside a span are kept, so a masked private-key block keeps its lines and a string stays a string.
A masked secret leaves a run of at least MIN_MASK_RUN mask characters, which is how `has_mask` tells
a line that must never be offered as a completion.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

SCANNER_VERSION = 1
"""Bump when what is found or how it is masked changes: the catalog re-reads every file (part of the
chunker fingerprint, see indexer.sync), which re-masks what an older index stored."""

MIN_LITERAL_CHARS = 20
"""A literal assigned to a secret-sounding name is judged by entropy from this length on."""
MIN_ENTROPY = 3.5
"""Shannon entropy (bits per character) above which such a literal is a secret; random base64/alnum
of 20+ characters measures ~4.0 (rarely under 3.4), words and identifiers mostly 3.3-3.9, so
identifier-like phrases are excluded separately (see `_looks_like_words`)."""
MIN_HEX_ENTROPY = 3.0
"""The same for hex strings (16 symbols: random 32-hex measures ~3.6, never much under 3.0)."""
MIN_PEM_BODY = 16
"""Base64 characters a private-key block must hold to be masked: bare BEGIN/END markers (a PEM
parser's constants) are not a key."""
MIN_MASK_RUN = 8
"""`has_mask` looks for this many mask characters in a row (the shortest built-in secret has 20)."""

MASK = "*"
_WIDE_MASKS = {2: "\u066d", 3: "\u2217", 4: "\U0001f7b6"}
"""Mask characters by UTF-8 length (ARABIC FIVE POINTED STAR, ASTERISK OPERATOR, MEDIUM SIX SPOKED
ASTERISK): each has the UTF-8 and UTF-16 length of the character it replaces."""
_KEEP = frozenset(" \t\r\n\f\v\"'`\\")
_MASK_RUN = re.compile("[*\u066d\u2217\U0001f7b6]{" + str(MIN_MASK_RUN) + ",}")

_E = r"(?![A-Za-z0-9_])"   # not followed by more of a token (the start is checked in `_token_findings`)
TOKEN_SHAPES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("aws_access_key_id", re.compile(r"A(?:KI|SI)A[A-Z0-9]{16}" + _E)),
    ("github_token", re.compile(r"gh[pousr]_[A-Za-z0-9]{36,255}" + _E)),
    ("github_token", re.compile(r"github_pat_[A-Za-z0-9_]{22,255}" + _E)),
    ("slack_token", re.compile(r"xox[abprs]-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9-])")),
    ("stripe_key", re.compile(r"sk_(?:live|test|prod)_[A-Za-z0-9]{16,250}" + _E)),
    ("stripe_key", re.compile(r"rk_(?:live|test|prod)_[A-Za-z0-9]{16,250}" + _E)),
    ("google_api_key", re.compile(r"AIza[A-Za-z0-9_-]{35}(?![A-Za-z0-9_-])")),
    ("openai_key", re.compile(r"sk-(?=[A-Za-z0-9_-]*\d)(?=[A-Za-z0-9_-]*[A-Za-z])[A-Za-z0-9_-]{32,250}"
                              r"(?![A-Za-z0-9_-])")),
    ("npm_token", re.compile(r"npm_[A-Za-z0-9]{36}" + _E)),
    ("jwt", re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*(?![A-Za-z0-9_-])")),
)
"""Credentials recognised by their own shape, wherever they are (strings, comments, templates). Each
starts with a literal, which keeps the search fast (a leading look-behind would not)."""
_TOKEN_CHAR = re.compile(r"[A-Za-z0-9_]")

_PEM_CHARS = r"[A-Za-z0-9+/=\s\"'`\\,:-]"
_PEM = re.compile(r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----(?P<body>" + _PEM_CHARS + r"*?)"
                  r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|(?=[^A-Za-z0-9+/=\s\"'`\\,:-])|\Z)")
_BASE64 = re.compile(r"[A-Za-z0-9+/=]")

_LITERAL = re.compile(r"""(["'`])(?=([!#-&(-\[\]-_a-~]{""" + str(MIN_LITERAL_CHARS) + r""",})\1)""")
"""Every quoted run of printable ASCII without spaces, quotes or backslashes. Only the opening quote
is consumed, so every quote is tried as an opener and a mis-paired one cannot hide the real literal."""
_ASSIGNED = re.compile(
    r"""(?P<q>["'])?(?P<name>[A-Za-z_$][\w$.-]{0,80})(?(q)(?P=q))\]?\s*[?!]?\s*"""
    r"""(?::\s*[A-Za-z_$][\w$.<>\[\]| ]{0,40}?\s*)?"""
    r"""(?:[=!]==?|\?\?=?|\|\|=?|=|:|(?(q),|(?!)))\s*$""")
"""What may precede a secret literal on its line: `name =`, `name: string =`, `name:`, `"name":`,
`name ??`, `name ||`, `name ===`, and `"Name",` (a header set by name)."""
_NAME_WORD = re.compile(r"(?:key|secret|token|passw(?:or)?d|pwd|credential)s?$|^auth(?!or(?!i[sz]))|auth$")
_PUBLIC = frozenset({"public", "publishable", "pub"})
_AWS_SECRET_NAME = re.compile(r"aws|secret", re.IGNORECASE)
_AWS_SECRET = re.compile(r"[A-Za-z0-9/+]{40}")
_HEX = re.compile(r"[0-9a-fA-F-]+")
_WORDS_SPLIT = re.compile(r"[-_./: ]+")
_WORD = re.compile(r"(?:[A-Za-z][a-z]*(?:[A-Z][a-z]+)*|[A-Z]+)(?:[A-Z]?\d{1,2})?|\d{1,4}")
_CAMEL = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")


@dataclass(frozen=True, slots=True)
class Finding:
    """One secret: characters [start, end) of the text, and which rule found it."""

    start: int
    end: int
    kind: str


@dataclass(frozen=True, slots=True)
class Masked:
    """A text with its secrets masked, and how many there were."""

    text: str
    count: int = 0


class ScanSettings(Protocol):
    """The `[indexer]` settings the scanner reads (indexer.config.IndexerConfig)."""

    scan_secrets: bool
    secret_allow: tuple[str, ...]
    secret_deny: tuple[str, ...]


# --- masking ---------------------------------------------------------------------------------------


def _mask_char(ch: str) -> str:
    if ch in _KEEP:
        return ch
    if ch < "\x80":
        return MASK
    return _WIDE_MASKS[len(ch.encode("utf-8", "surrogatepass"))]


def has_mask(text: str) -> bool:
    """Whether `text` holds a masked secret (a run of MIN_MASK_RUN mask characters): such text is
    never offered as a completion. A comment banner of eight or more `*` counts too (no loss)."""
    return _MASK_RUN.search(text) is not None


# --- the rules -------------------------------------------------------------------------------------


def entropy(text: str) -> float:
    """Shannon entropy of `text` in bits per character (0 for empty text)."""
    n = len(text)
    if n == 0:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def is_secret_name(name: str) -> bool:
    """Whether a name says it holds a secret: one of its words (camelCase, snake_case, dotted) is or
    ends in key, secret, token, password, passwd, pwd, credential (plural too), or starts with auth
    (authorization, authToken) without being author/authority; a public or publishable key is not."""
    parts = [[w.lower() for w in _CAMEL.findall(part)] + [part.lower()] for part in _WORDS_SPLIT.split(name.strip("$"))]
    if any(w in _PUBLIC for words in parts for w in words):
        return False
    return any(_NAME_WORD.search(w) for words in parts for w in words)


def _looks_like_words(value: str) -> bool:
    """An identifier, a constant name, a MIME type or a phrase of words (`client_credentials_flow`,
    `X-Authorization-Header`, `AUTH_TOKEN_KEY_V2`): not random, whatever its entropy."""
    parts = [p for p in _WORDS_SPLIT.split(value) if p]
    return bool(parts) and all(_WORD.fullmatch(p) for p in parts)


def is_secret_literal(value: str, name: str) -> bool:
    """Whether a literal assigned to `name` (already known to sound secret) is a secret."""
    if _AWS_SECRET.fullmatch(value) and _AWS_SECRET_NAME.search(name):
        return True
    lowered = value.lower()
    if "://" in value or "${" in value or lowered.startswith(("/", "./", "../", "~/", "data:", "#", "http")):
        return False
    if _looks_like_words(value):
        return False
    threshold = MIN_HEX_ENTROPY if _HEX.fullmatch(value) else MIN_ENTROPY
    return entropy(value) >= threshold


def _assigned_name(text: str, quote_at: int) -> str | None:
    """The name a literal opening at `quote_at` is assigned to (same line), or None."""
    line_start = text.rfind("\n", 0, quote_at) + 1
    head = text[max(line_start, quote_at - 200):quote_at]
    m = _ASSIGNED.search(head)
    return m.group("name") if m else None


def _literal_findings(text: str) -> Iterable[Finding]:
    for m in _LITERAL.finditer(text):
        quote_at, value = m.start(), m.group(2)
        name = _assigned_name(text, quote_at)
        if name is not None and is_secret_name(name.rsplit(".", 1)[-1]) and is_secret_literal(value, name):
            start = quote_at + 1
            yield Finding(start, start + len(value), "assigned_secret")


def _token_findings(text: str) -> Iterable[Finding]:
    for kind, pattern in TOKEN_SHAPES:
        for m in pattern.finditer(text):
            start = m.start()
            if start == 0 or not _TOKEN_CHAR.match(text, start - 1):  # not the tail of a longer token
                yield Finding(start, m.end(), kind)


def _pem_findings(text: str) -> Iterable[Finding]:
    if "PRIVATE KEY" not in text:
        return
    for m in _PEM.finditer(text):
        if len(_BASE64.findall(m.group("body"))) >= MIN_PEM_BODY:
            yield Finding(m.start(), m.end(), "private_key")


# --- the scanner -----------------------------------------------------------------------------------


class SecretScanner:
    """Finds and masks secrets; built once per settings (see `scanner_for`). Thread-safe (no state)."""

    def __init__(self, allow: Sequence[str] = (), deny: Sequence[str] = (), enabled: bool = True) -> None:
        """`allow`/`deny`: regexes as validated by IndexerConfig (a bad one raises re.error here)."""
        self.enabled = enabled
        self.allow = tuple(re.compile(p) for p in allow)
        self.deny = tuple(re.compile(p) for p in deny)

    def findings(self, text: str) -> list[Finding]:
        """Secrets in `text`, sorted and merged where they overlap (one secret found by two rules
        counts once). Empty when scanning is off."""
        if not self.enabled or not text:
            return []
        found: list[Finding] = []
        found += _token_findings(text)
        found += _pem_findings(text)
        found += _literal_findings(text)
        if self.allow:
            found = [f for f in found if not any(p.search(text, f.start, f.end) for p in self.allow)]
        for pattern in self.deny:
            for m in pattern.finditer(text):
                start, end = (m.span(1) if pattern.groups else m.span())
                if end > start:
                    found.append(Finding(start, end, "denied"))
        return _merge(found)

    def mask(self, text: str) -> Masked:
        """`text` with every finding masked (same length, same lines) and the number of findings."""
        found = self.findings(text)
        if not found:
            return Masked(text, 0)
        parts, last = [], 0
        for f in found:
            parts.append(text[last:f.start])
            parts.append("".join(_mask_char(ch) for ch in text[f.start:f.end]))
            last = f.end
        parts.append(text[last:])
        return Masked("".join(parts), len(found))


def _merge(found: list[Finding]) -> list[Finding]:
    merged: list[Finding] = []
    for f in sorted(found, key=lambda f: (f.start, -f.end)):
        if merged and f.start < merged[-1].end:
            last = merged[-1]
            if f.end > last.end:
                merged[-1] = Finding(last.start, f.end, last.kind)
            continue
        merged.append(f)
    return merged


@lru_cache(maxsize=16)
def _cached(allow: tuple[str, ...], deny: tuple[str, ...], enabled: bool) -> SecretScanner:
    return SecretScanner(allow, deny, enabled)


def scanner_for(settings: ScanSettings) -> SecretScanner:
    """The scanner of these `[indexer]` settings (compiled once per distinct settings)."""
    return _cached(tuple(settings.secret_allow), tuple(settings.secret_deny), bool(settings.scan_secrets))


_PROBE = " aZ9_-.\"'`=\n"
"""A little of every kind of character: a pattern with an empty match in it (`\\b`, `^`, `x?`) is refused."""


def check_patterns(patterns: Iterable[str]) -> tuple[str, ...]:
    """`patterns` if each is a regex that cannot match the empty string; else ValueError naming it."""
    out = []
    for p in patterns:
        try:
            compiled = re.compile(p)
        except re.error as exc:
            raise ValueError(f"{p!r} is not a valid regular expression ({exc})") from None
        if compiled.search("") is not None or any(m.end() == m.start() for m in compiled.finditer(_PROBE)):
            raise ValueError(f"{p!r} matches the empty string (it would match everywhere)")
        out.append(p)
    return tuple(out)
