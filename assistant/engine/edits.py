"""Copy-and-edit: a retrieved line with its identifiers rewritten from the local context.

Code repeats with other names: `this.userId = userId;` above the cursor where the source file had
`this.orderId = orderId;`. When the line before the candidate and the line before the cursor (or the
typed part and the candidate's own start) have the same token structure and differ only in
identifiers, the differences are a renaming; applied to the candidate's continuation (whole names, and
name stems at camelCase boundaries: `user` -> `order` turns `userCount` into `orderCount`), it gives a
line that was never written anywhere — the way past the exact-copy ceiling.

Sibling files repeat each other the same way: `radioCard.tsx` and `switchCard.tsx` differ by one word
of their names, and so do their lines (`Classes.RADIO_CONTROL_CARD` there, `Classes.SWITCH_CONTROL_CARD`
here; `Classes.PORTAL` in `portal.tsx`, `Classes.CONTEXT_MENU` in `contextMenuSingleton.tsx`).
`file_analogy` finds the differing words and `analogy_renames` applies them in three spellings; the
engine keeps such an edit only when every name it makes is known (visible at the cursor, or defined in
another file according to the code graph), so it never invents a name.
"""

from __future__ import annotations

import re

from assistant.engine.candidates import IDENT_RE, StoredLine, is_name, tokens

MIN_STEM = 3
NAME_PART_RE = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
FILE_ROLE_RE = re.compile(r"\.(test|spec|stories|d)$")
ANALOGY_WORDS = 3
"""At most this many differing words on each side of a file-name analogy."""
MODULE_SPECIFIER_RE = re.compile(r"""(?:\bfrom|\bimport|\brequire\s*\(|\bimport\s*\()\s*(['"])([^'"\n]*)\1""")


def made_names(original: str, edited: str) -> list[str]:
    """Identifiers of `edited` (strings included, import paths not: `new_module_specifiers` judges those)
    that `original` does not contain: the names an edit wrote."""
    before = set(IDENT_RE.findall(_without_specifiers(original)))
    return list(dict.fromkeys(n for n in IDENT_RE.findall(_without_specifiers(edited)) if n not in before))


def name_parts(name: str) -> list[str]:
    """camelCase / PascalCase / snake_case word parts of a name, lower case: `ClearTimeoutFunction` ->
    clear, timeout, function."""
    return [p.lower() for p in NAME_PART_RE.findall(name)]


def _without_specifiers(line: str) -> str:
    return MODULE_SPECIFIER_RE.sub(lambda m: m.group()[: m.start(2) - m.start()], line)


def new_module_specifiers(original: str, edited: str) -> list[str]:
    """Module specifiers (`from "…"`, `import("…")`, `require("…")`) of `edited` that `original` does not
    have: the import paths an edit rewrote."""
    before = {m.group(2) for m in MODULE_SPECIFIER_RE.finditer(original)}
    return [m.group(2) for m in MODULE_SPECIFIER_RE.finditer(edited) if m.group(2) not in before]


def identifier_map(src: list[str], dst: list[str]) -> dict[str, str]:
    """Renaming that turns token list `src` into `dst`, or {} when they differ in anything but
    identifiers (or rename one name two ways)."""
    if len(src) != len(dst) or src == dst:
        return {}
    out: dict[str, str] = {}
    for a, b in zip(src, dst, strict=True):
        if a == b:
            continue
        if not (is_name(a) and is_name(b)) or out.get(a, b) != b:
            return {}
        out[a] = b
    return out


def stems(mapping: dict[str, str]) -> dict[str, str]:
    """Name stems implied by a renaming: userId -> orderId gives user -> order (and User -> Order); a
    constant's gives its lower case too (MEDIUM -> LARGE: medium -> large)."""
    out: dict[str, str] = {}
    for a, b in mapping.items():
        i = 0
        while i < min(len(a), len(b)) and a[-1 - i] == b[-1 - i]:
            i += 1
        while i and not _boundary(a, len(a) - i):  # the shared tail must start a word part ("Id")
            i -= 1
        j = 0
        while j < min(len(a), len(b)) - i and a[j] == b[j]:
            j += 1
        while j and not (_boundary(a, j) and _boundary(b, j)):  # the shared head must end one
            j -= 1
        sa, sb = a[j : len(a) - i], b[j : len(b) - i]
        if len(sa) >= MIN_STEM and len(sb) >= 1 and sa[0].isalpha() and sb[0].isalpha():
            out[sa] = sb
            out[sa[0].swapcase() + sa[1:]] = sb[0].swapcase() + sb[1:]
            if sa.isupper() and sb.isupper():  # a constant's value in lower case: SMALL: "small"
                out[sa.lower()] = sb.lower()
    return out


def _boundary(name: str, k: int) -> bool:
    """True when a camelCase / snake_case word part starts at index k of `name`."""
    if k <= 0 or k >= len(name):
        return True
    return name[k].isupper() or name[k] == "_" or name[k - 1] == "_" or name[k].isdigit()


def rename(text: str, mapping: dict[str, str], stem_map: dict[str, str]) -> str:
    """Apply whole-name renames, then stem renames at camelCase/underscore boundaries."""

    def one(m: re.Match[str]) -> str:
        name = m.group()
        if name in mapping:
            return mapping[name]
        for a, b in stem_map.items():
            k = name.find(a)
            if k < 0:
                continue
            before_ok = k == 0 or name[k - 1] == "_" or (a[0].isupper() and name[k - 1].islower())
            end = k + len(a)
            after_ok = (end == len(name) or name[end].isupper() or name[end] in "_0123456789"
                        or name[end:] in ("s", "es"))  # plurals: users -> orders
            if before_ok and after_ok:
                return name[:k] + b + name[end:]
        return name

    return IDENT_RE.sub(one, text)


def edit_candidate(source: StoredLine, previous: StoredLine | None, continuation: str,
                   cursor_previous: list[str] | None, typed: str) -> tuple[str, dict[str, str]] | None:
    """The continuation with the renaming the contexts imply, or None when nothing applies.

    `previous`: the non-blank line before `source` in its file; `cursor_previous`: the tokens of the
    non-blank line before the cursor; `typed`: what is typed on the cursor's line."""
    mapping: dict[str, str] = {}
    if previous is not None and cursor_previous:
        mapping.update(identifier_map(previous.toks, cursor_previous))
    head = source.text[: len(source.text) - len(continuation)]
    typed_map = identifier_map(tokens(head), tokens(typed.strip()))
    for a, b in typed_map.items():
        if mapping.get(a, b) != b:
            return None
        mapping[a] = b
    if not mapping:
        return None
    edited = rename(continuation, mapping, stems(mapping))
    return (edited, mapping) if edited != continuation else None


def shape_edit(source: StoredLine, continuation: str, typed: str) -> str | None:
    """The continuation of a line that starts like `typed` with other names, with those names renamed
    to the typed ones (`this.maxTimeMS = maxTimeMS;` for `this.timeoutMS` -> ` = timeoutMS;`), or None.

    A name the source's head uses as a variable is not renamed where the continuation uses it as a
    member (`const next = await iterator.next();` for `const result` -> ` = await iterator.next();`);
    inside a string it is (`RadioCard.displayName = `${PREFIX}.RadioCard`;`)."""
    head = source.text[: len(source.text) - len(continuation)]
    head_toks = tokens(head)
    mapping = identifier_map(head_toks, tokens(typed.strip()))
    if not mapping:
        return None
    members = {a for a in mapping if any(t == a and i and head_toks[i - 1] in (".", "?.")
                                         for i, t in enumerate(head_toks))}
    stem_map = stems(mapping)
    in_string = string_mask(head, continuation)

    def one(m: re.Match[str]) -> str:
        name = m.group()
        member = continuation[: m.start()].rstrip().endswith(".") and not in_string[m.start()]
        if member and name in mapping and name not in members:
            return name
        return rename(name, mapping, stem_map)

    return IDENT_RE.sub(one, continuation)


Analogy = tuple[tuple[str, ...], tuple[str, ...]]
"""The words two file names differ in: (source's, target's), lower case, in name order."""


def file_analogy(source_path: str, target_path: str) -> Analogy | None:
    """The words in which two file names differ once their shared leading and trailing words are set
    aside, as (source's, target's), or None.

    `radioCard.tsx`, `switchCard.tsx` -> (("radio",), ("switch",)); `portal.tsx`,
    `contextMenuSingleton.tsx` -> (("portal",), ("context", "menu", "singleton")). None for the same
    name, when one side has nothing left or more than ANALOGY_WORDS words, or a word is too short."""
    a, b = _name_parts(source_path), _name_parts(target_path)
    if a == b:
        return None
    head = 0
    while head < min(len(a), len(b)) and a[head] == b[head]:
        head += 1
    tail = 0
    while tail < min(len(a), len(b)) - head and a[-1 - tail] == b[-1 - tail]:
        tail += 1
    da, db = tuple(a[head : len(a) - tail]), tuple(b[head : len(b) - tail])
    if not da or not db or len(da) > ANALOGY_WORDS or len(db) > ANALOGY_WORDS:
        return None
    if any(len(w) < MIN_STEM - 1 for w in da + db):
        return None
    return da, db


def _name_parts(path: str) -> list[str]:
    stem = FILE_ROLE_RE.sub("", path.rsplit("/", 1)[-1].split(".", 1)[0])
    return [p.lower() for p in NAME_PART_RE.findall(stem)]


def _spellings(words: tuple[str, ...]) -> tuple[str, str, str]:
    """camelCase, PascalCase and UPPER_SNAKE spellings of a run of words."""
    pascal = "".join(w.capitalize() for w in words)
    return words[0] + pascal[len(words[0]):], pascal, "_".join(w.upper() for w in words)


def analogy_renames(text: str, analogy: Analogy, typed: str = "") -> list[tuple[str, list[str]]]:
    """`text` with the source's words renamed to the target's inside identifiers, in camel, Pascal and
    UPPER spelling -> [(new text, the names it made)], one per reading of the target's words: all of
    them first, then ever shorter leading runs (`PORTAL` -> `CONTEXT_MENU_SINGLETON`, `CONTEXT_MENU`,
    `CONTEXT`); the caller keeps the first whose names exist. Texts that rename nothing are left out.

    When the word counts differ the analogy is looser, and words inside string literals (prose, labels)
    are left alone; `typed` (the line before `text`) says whether `text` starts inside one."""
    old, new = analogy
    mask = None if len(old) == len(new) == 1 else string_mask(typed, text)  # scanned once, for the uneven readings
    out: list[tuple[str, list[str]]] = []
    for k in range(len(new), 0, -1):
        in_string = mask if k != len(old) else None
        renamed, made = _rename_run(text, tuple(zip(_spellings(old), _spellings(new[:k]), strict=True)), in_string)
        if made and all(renamed != t for t, _ in out):
            out.append((renamed, made))
    return out


def string_mask(typed: str, text: str) -> list[bool]:
    """For each character of `text` (which follows `typed` on one line), whether it lies inside a
    string literal ('…', "…" or the text parts of `…${}…`); a rough scan, not a parser."""
    quote: str | None = None
    depth = 0  # open `${` of the template we are in
    mask: list[bool] = []
    escaped = False
    line = typed + text
    for i, ch in enumerate(line):
        if i >= len(typed):
            mask.append(quote is not None)
        if escaped:
            escaped = False
        elif quote is not None:
            if ch == "\\":
                escaped = True
            elif ch == quote:
                quote = None
            elif quote == "`" and ch == "{" and i > 0 and line[i - 1] == "$":
                quote, depth = None, depth + 1
        elif ch in "'\"`":
            quote = ch
        elif ch == "}" and depth:
            quote, depth = "`", depth - 1
    return mask


def _rename_run(text: str, spellings: tuple[tuple[str, str], ...],
                in_string: list[bool] | None = None) -> tuple[str, list[str]]:
    made: list[str] = []

    def one(m: re.Match[str]) -> str:
        name = m.group()
        if in_string is not None and in_string[m.start()]:
            return name
        for old, new in spellings:
            k = name.find(old)
            if k >= 0 and _boundary(name, k) and _boundary(name, k + len(old)):
                renamed = name[:k] + new + name[k + len(old):]
                made.append(renamed)
                return renamed
        return name

    return IDENT_RE.sub(one, text), made
