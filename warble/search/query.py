"""The platform's advanced-search query language: `parse` turns a query string into the AST of
`warble.search.ast`, `unparse` writes an AST back as a canonical query string. docs/SEARCH.md has the grammar.

Hand-written (a tokenizer and a recursive-descent parser) rather than generated: the language is small, and a
hand-written parser gives the errors users see their exact wording and a position (`QuerySyntaxError`).

Choices the grammar leaves open, decided here:
- Words (`Term`) and phrases keep the user's case: the index's analyzer folds case (and accents) for text, and
  keeping the text lets logs and `unparse` show what was typed. Hashtags, mentions, users and language codes are
  matched against stored fields, so they are lowercased here (`str.lower`, then NFC), once for every backend.
- Unknown `name:value` (`foo:bar`, `http://x.co`) is a plain word, as on the platform. A known operator name
  (case-insensitive: `From:x` is `from:x`) with a missing or bad value is an error, never silently a word.
- A token that starts with `#` or `@` is always a hashtag or mention, so `#covid-19` or a lone `@` is an error
  that says what is allowed (letters, digits, marks and `_`), not a word that matches nothing.
- `OR` is the uppercase keyword only (`or` is a word). There is no `AND` keyword: juxtaposition is AND.
- Every value is Unicode-normalized (NFC), as the corpus is, so a query typed with combining accents matches.
Positions are 0-based offsets in code points (Python string indices) into the query as given.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass

import regex

from warble.errors import InputError
from warble.search.ast import (
    FILTER_KINDS, MIN_COUNT_FIELDS, And, Filter, From, Hashtag, Lang, Mention, MinCount, Node, Not, Or, Phrase, Since,
    Term, To, Until,
)

QUOTES = '"“”'  # any of them opens a phrase and any closes it: phones mix straight and curly quotes
MAX_DEPTH = 50  # nested parentheses: a bound so a hostile query gets an error, not a RecursionError
MAX_COUNT = 2**63 - 1  # min_*: the largest count an int64 engagement column can compare against

_WORD_END = re.compile(r"[\s()" + QUOTES + "]")  # a word runs to whitespace, a parenthesis or a quote
_QUOTE = re.compile("[" + QUOTES + "]")
# `regex`'s \w is Unicode's word class, which includes combining marks (`re`'s does not): Devanagari, Thai or a
# lowercased Turkish İ (i + U+0307) are whole hashtags and handles.
_NAME_CHAR = regex.compile(r"\w")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_COUNT = re.compile(r"[0-9]+")  # ASCII digits only: `\d` would accept Arabic-Indic or fullwidth digits
_LANG = re.compile(r"[a-z]{2,3}(?:[-_][a-z0-9]{1,8})*")  # en, und, ceb, zh-cn, pt_br
_USER_OPERATORS = {"from": From, "to": To}
_DATE_OPERATORS = {"since": Since, "until": Until}
OPERATORS = ("from", "to", "lang", "since", "until", *MIN_COUNT_FIELDS, "filter")  # every other `name:` is a word
_COUNT_OPERATOR = {field: name for name, field in MIN_COUNT_FIELDS.items()}


class QuerySyntaxError(InputError):
    """A malformed query. `str()` is one line for the CLI; `pretty()` adds the query with a caret under `position`."""

    def __init__(self, message: str, query: str, position: int):
        super().__init__(message, query, position)  # all three in args, so the error pickles (process pools)
        self.message = message
        self.query = query
        self.position = position

    def __str__(self) -> str:
        shown, _ = _window(self.query, self.position)
        return f"{self.message} at {self.position}: {shown!r}"

    def pretty(self) -> str:
        """Three lines: the message, the query, and a caret under the problem."""
        return f"{self.message} at {self.position}\n{caret(self.query, self.position)}"


def caret(query: str, position: int, indent: str = "  ") -> str:
    """The query (a window around `position` when long) and a line with `^` under `position`.

    The caret column counts what a terminal shows: East Asian wide characters (CJK, most emoji) take two columns
    and combining marks none, so the caret stays under the right character in queries that mix scripts.
    """
    shown, at = _window(query, position)
    shown = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in shown)  # newlines, tabs
    return f"{indent}{shown}\n{indent}{' ' * _columns(shown[:at])}^"


def _window(query: str, position: int, width: int = 80) -> tuple[str, int]:
    """At most `width` characters of the query around `position` (with … where cut) and `position` within them."""
    if len(query) <= width:
        return query, position
    start = max(0, min(position - width // 2, len(query) - width))
    end = start + width
    shown = ("…" if start else "") + query[start:end] + ("…" if end < len(query) else "")
    return shown, position - start + (1 if start else 0)


def _columns(text: str) -> int:
    width = 0
    for c in text:
        if unicodedata.category(c) in ("Mn", "Me", "Cf"):  # combining marks, zero-width joiners
            continue
        width += 2 if unicodedata.east_asian_width(c) in ("W", "F") else 1
    return width


# ---------------------------------------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "phrase", "(", ")", "-", "OR", "end"
    text: str  # the word as typed, or the phrase's words joined by single spaces
    pos: int


def _tokenize(query: str) -> list[_Token]:
    """Split the query into words, phrases, parentheses, `-` and `OR`. Phrases and `-` are decided here because
    they depend on characters, not tokens: a quote opens a phrase anywhere, `-` negates only at a token start."""
    tokens = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(_Token(c, c, i))
            i += 1
        elif c in QUOTES:
            close = _QUOTE.search(query, i + 1)
            if close is None:
                raise QuerySyntaxError(f"unbalanced quote {c!r}", query, i)
            text = " ".join(unicodedata.normalize("NFC", query[i + 1:close.start()]).split())
            if not text:
                raise QuerySyntaxError("empty phrase", query, i)
            tokens.append(_Token("phrase", text, i))
            i = close.end()
        elif c == "-":
            # `-` must touch what it excludes: `- x` and a trailing `-` are typos, not the word "-"
            if i + 1 == n or query[i + 1].isspace():
                raise QuerySyntaxError("'-' must be followed directly by what it excludes", query, i)
            tokens.append(_Token("-", c, i))
            i += 1
        else:
            end = _WORD_END.search(query, i)
            j = end.start() if end else n
            word = query[i:j]
            tokens.append(_Token("OR" if word == "OR" else "word", word, i))
            i = j
    tokens.append(_Token("end", "", n))
    return tokens


# ---------------------------------------------------------------------------------------------------------- leaves


def _leaf(word: str, pos: int, query: str) -> Node:
    """One word token as a node: a hashtag, a mention, a known operator, or else a plain word."""
    if word[0] in "#＃":
        return Hashtag(_name(word[1:], pos + 1, query, "hashtag"))
    if word[0] in "@＠":
        return Mention(_name(word[1:], pos + 1, query, "mention"))
    name, colon, value = word.partition(":")
    op = name.lower()
    if not colon or op not in OPERATORS:
        return Term(unicodedata.normalize("NFC", word))
    at = pos + len(name) + 1  # where the value starts: errors point there
    if not value:
        raise QuerySyntaxError(f"empty value for '{op}:'", query, at)
    if op in _USER_OPERATORS:
        if value[0] in "@＠":  # from:@user is from:user
            value, at = value[1:], at + 1
        return _USER_OPERATORS[op](_name(value, at, query, f"user for '{op}:'"))
    if op == "lang":
        code = value.lower()
        if not _LANG.fullmatch(code):
            message = f"bad language code {value!r} for 'lang:' (want a code such as en, es, ja)"
            raise QuerySyntaxError(message, query, at)
        return Lang(code)
    if op in _DATE_OPERATORS:
        return _DATE_OPERATORS[op](_date(value, at, query, op))
    if op in MIN_COUNT_FIELDS:
        if not _COUNT.fullmatch(value):
            raise QuerySyntaxError(f"bad number {value!r} for '{op}:' (want a whole number >= 0)", query, at)
        if int(value) > MAX_COUNT:
            raise QuerySyntaxError(f"number {value} for '{op}:' is too large", query, at)
        return MinCount(MIN_COUNT_FIELDS[op], int(value))
    kind = value.lower()  # filter:
    if kind not in FILTER_KINDS:
        raise QuerySyntaxError(f"unknown filter {value!r} (known: {', '.join(FILTER_KINDS)})", query, at)
    return Filter(kind)


def _name(text: str, pos: int, query: str, what: str) -> str:
    """A hashtag, mention or user name: word characters only, lowercased, NFC. Errors point at the first bad
    character (or at where the name should start, when it is empty)."""
    if not text:
        raise QuerySyntaxError(f"empty {what}", query, pos)
    for k, c in enumerate(text):
        if not _NAME_CHAR.match(c):
            raise QuerySyntaxError(f"bad {what} (letters, digits and _ only, not {c!r})", query, pos + k)
    return unicodedata.normalize("NFC", unicodedata.normalize("NFC", text).lower())


def _date(value: str, pos: int, query: str, op: str) -> dt.date:
    if not _DATE.fullmatch(value):
        raise QuerySyntaxError(f"bad date {value!r} for '{op}:' (want YYYY-MM-DD)", query, pos)
    try:
        return dt.date(int(value[:4]), int(value[5:7]), int(value[8:]))
    except ValueError as e:  # month 13, February 30, year 0: Python's message says which
        raise QuerySyntaxError(f"bad date {value!r} for '{op}:' ({e})", query, pos) from None


# ---------------------------------------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the tokens, one method per grammar rule (docs/SEARCH.md):

        query   = and_ END
        and_    = or_ { or_ }                 juxtaposition is AND: the loosest binding
        or_     = unary { "OR" unary }        OR binds tighter than AND, as on the platform
        unary   = { "-" } primary             `-` binds tightest
        primary = WORD | PHRASE | "(" and_ ")"
    """

    def __init__(self, query: str):
        self.query = query
        self.tokens = _tokenize(query)
        self.i = 0

    def peek(self) -> _Token:
        return self.tokens[self.i]

    def take(self) -> _Token:
        tok = self.tokens[self.i]
        self.i += 1
        return tok

    def error(self, message: str, pos: int) -> QuerySyntaxError:
        return QuerySyntaxError(message, self.query, pos)

    def query_(self) -> Node:
        if self.peek().kind == "end":
            raise self.error("empty query", 0)
        if self.peek().kind == ")":
            raise self.error("unbalanced parenthesis ')'", self.peek().pos)
        node = self.and_(0)
        if self.peek().kind == ")":
            raise self.error("unbalanced parenthesis ')'", self.peek().pos)
        return node

    def and_(self, depth: int) -> Node:
        items = [self.or_(depth)]  # callers have checked that something other than `)` or the end comes next
        while self.peek().kind not in (")", "end"):
            items.append(self.or_(depth))
        return _and(items)

    def or_(self, depth: int) -> Node:
        if self.peek().kind == "OR":
            raise self.error("OR with nothing before it", self.peek().pos)
        items = [self.unary(depth)]
        while self.peek().kind == "OR":
            op = self.take()
            if self.peek().kind == "OR":
                raise self.error("OR twice in a row", self.peek().pos)
            if self.peek().kind in (")", "end"):
                raise self.error("OR with nothing after it", op.pos)
            items.append(self.unary(depth))
        return _or(items)

    def unary(self, depth: int) -> Node:
        # a loop, not recursion, so `------x` cannot exhaust the stack; `--x` is x
        negations, first = 0, self.peek()
        while self.peek().kind == "-":
            self.take()
            negations += 1
        if negations and self.peek().kind in ("OR", ")", "end"):
            raise self.error("'-' must be followed directly by what it excludes", first.pos)
        node = self.primary(depth)
        return _not(node) if negations % 2 else node

    def primary(self, depth: int) -> Node:
        tok = self.take()
        if tok.kind == "phrase":
            return Phrase(tok.text)
        if tok.kind == "word":
            return _leaf(tok.text, tok.pos, self.query)
        assert tok.kind == "(", tok  # and_/or_/unary stop at every other kind before calling here
        if depth >= MAX_DEPTH:
            raise self.error(f"query nested too deeply (more than {MAX_DEPTH} parentheses)", tok.pos)
        if self.peek().kind == ")":
            raise self.error("empty group ()", tok.pos)
        if self.peek().kind == "end":
            raise self.error("unbalanced parenthesis '('", tok.pos)
        node = self.and_(depth + 1)
        if self.peek().kind != ")":
            raise self.error("unbalanced parenthesis '('", tok.pos)
        self.take()
        return node


def parse(query: str) -> Node:
    """The AST of a query, simplified (see `simplify`); `QuerySyntaxError` (an `InputError`) if it is malformed."""
    return _Parser(query).query_()


# ---------------------------------------------------------------------------------------------------- simplify


def _and(items: list[Node]) -> Node:
    """AND of the items, nested Ands flattened, one item as itself: one tree per meaning, so ASTs compare."""
    flat = [c for item in items for c in (item.children if isinstance(item, And) else (item,))]
    return flat[0] if len(flat) == 1 else And(tuple(flat))


def _or(items: list[Node]) -> Node:
    flat = [c for item in items for c in (item.children if isinstance(item, Or) else (item,))]
    return flat[0] if len(flat) == 1 else Or(tuple(flat))


def _not(node: Node) -> Node:
    return node.child if isinstance(node, Not) else Not(node)  # `-(-a)` is a


def simplify(node: Node) -> Node:
    """The canonical form `parse` returns: nested Ands (and Ors) flattened, single-child And/Or replaced by the
    child, double negation removed. For ASTs built by hand (tests, other front ends) before comparing them."""
    if isinstance(node, Not):
        return _not(simplify(node.child))
    if isinstance(node, (And, Or)) and node.children:
        kids = [simplify(c) for c in node.children]
        return _and(kids) if isinstance(node, And) else _or(kids)
    return node  # a leaf, or an empty And/Or (which `unparse` refuses: the language cannot write one)


# ----------------------------------------------------------------------------------------------------- unparse


def unparse(node: Node) -> str:
    """A canonical query string for the AST: `parse(unparse(x)) == simplify(x)`. For logs, caches and tests.

    Raises ValueError for an AST the language cannot write: an empty And/Or, a Term that is not one plain word
    (`"a b"`, `"OR"`, `"-x"`, `"from:x"`), a Phrase with a quote, a name that is not lowercase word characters.
    """
    return _render(simplify(node))


def _render(node: Node) -> str:
    if isinstance(node, And):
        if not node.children:
            raise ValueError("an empty And cannot be written as a query")
        return " ".join(_render(c) for c in node.children)  # an Or child needs no parentheses: OR binds tighter
    if isinstance(node, Or):
        if not node.children:
            raise ValueError("an empty Or cannot be written as a query")
        return " OR ".join(f"({_render(c)})" if isinstance(c, And) else _render(c) for c in node.children)
    if isinstance(node, Not):
        inner = _render(node.child)
        return f"-({inner})" if isinstance(node.child, (And, Or)) else f"-{inner}"
    text = _leaf_text(node)
    # The leaf rules live in one place, the parser: ask it rather than repeat them here.
    try:
        back = parse(text)
    except QuerySyntaxError:
        back = None
    if back != node:
        raise ValueError(f"{node!r} cannot be written in the query language")
    return text


def _leaf_text(node: Node) -> str:
    if isinstance(node, Term):
        return node.text
    if isinstance(node, Phrase):
        return f'"{node.text}"'
    if isinstance(node, Hashtag):
        return f"#{node.tag}"
    if isinstance(node, Mention):
        return f"@{node.user}"
    if isinstance(node, From):
        return f"from:{node.user}"
    if isinstance(node, To):
        return f"to:{node.user}"
    if isinstance(node, Lang):
        return f"lang:{node.code}"
    if isinstance(node, Since):
        return f"since:{node.date.isoformat()}"
    if isinstance(node, Until):
        return f"until:{node.date.isoformat()}"
    if isinstance(node, MinCount):
        if node.field not in _COUNT_OPERATOR:
            raise ValueError(f"{node!r}: field must be one of {sorted(_COUNT_OPERATOR)}")
        return f"{_COUNT_OPERATOR[node.field]}:{node.n}"
    if isinstance(node, Filter):
        return f"filter:{node.kind}"
    raise TypeError(f"not a query node: {node!r}")
