"""The parsed form of a search query: the contract between the query parser (`warble.search.query`) and every
index backend, which compiles it into its own engine's queries. Nodes are immutable and compare by value.

Semantics (docs/SEARCH.md has the grammar):
- `And` of its children (adjacent items: implicit AND); `Or` binds tighter than AND, as on the platform
  ("a b OR c" is a AND (b OR c)); `Not` excludes (`-word`, `-"phrase"`, `-#tag`, `-from:x`, `-filter:replies`,
  `-( ... )`). A query made only of exclusions matches every post except those.
- `Term`: a word, matched through the index's analyzer (case-folded, accent-folded where the backend does so).
- `Phrase`: the words in this order, adjacent.
- `Hashtag`, `Mention`: the post's hashtags / mentions fields (lowercase, without # or @). Text placeholders
  (`@user`) mean a mention is matched on the field, never in the text.
- `From(user)`: the author (handle or author id). `To(user)`: a reply whose mentions include the user.
- `Lang(code)`: the post's language code. `Since(date)`: created on or after that UTC day; `Until(date)`: created
  before that UTC day (exclusive, as on the platform).
- `MinCount(field, n)`: engagement count >= n; field is one of "like_count", "repost_count", "reply_count".
- `Filter(kind)`: "links" (has URLs), "replies" (is a reply), "quote" (quotes a post), "retweets" (a repost).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

FILTER_KINDS = ("links", "replies", "quote", "retweets")  # filter:retweets = reposts (the platform's name)
MIN_COUNT_FIELDS = {"min_faves": "like_count", "min_retweets": "repost_count", "min_replies": "reply_count"}


@dataclass(frozen=True)
class Term:
    text: str


@dataclass(frozen=True)
class Phrase:
    text: str


@dataclass(frozen=True)
class Hashtag:
    tag: str  # lowercase, no '#'


@dataclass(frozen=True)
class Mention:
    user: str  # lowercase, no '@'


@dataclass(frozen=True)
class From:
    user: str  # lowercase, no '@'


@dataclass(frozen=True)
class To:
    user: str  # lowercase, no '@'


@dataclass(frozen=True)
class Lang:
    code: str  # lowercase


@dataclass(frozen=True)
class Since:
    date: dt.date  # inclusive


@dataclass(frozen=True)
class Until:
    date: dt.date  # exclusive


@dataclass(frozen=True)
class MinCount:
    field: str  # like_count | repost_count | reply_count
    n: int


@dataclass(frozen=True)
class Filter:
    kind: str  # one of FILTER_KINDS


@dataclass(frozen=True)
class Not:
    child: Node


@dataclass(frozen=True)
class And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    children: tuple[Node, ...]


Node = Term | Phrase | Hashtag | Mention | From | To | Lang | Since | Until | MinCount | Filter | Not | And | Or
TEXT_NODES = (Term, Phrase)  # what relevance ranking scores; everything else only filters


def text_terms(node: Node) -> list[str]:
    """The words of the query's positive Terms and Phrases, in order: what dense retrieval and highlighting use."""
    if isinstance(node, Term):
        return [node.text]
    if isinstance(node, Phrase):
        return node.text.split()
    if isinstance(node, (And, Or)):
        return [w for c in node.children for w in text_terms(c)]
    return []
