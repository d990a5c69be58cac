"""The search query language: every operator, precedence, negation, unicode, case folding, each malformed query
with its position, and parse(unparse(x)) == x over many generated ASTs."""

import datetime as dt
import pickle
import random

import pytest

from warble.errors import InputError
from warble.search.ast import (
    FILTER_KINDS, MIN_COUNT_FIELDS, And, Filter, From, Hashtag, Lang, Mention, MinCount, Not, Or, Phrase, Since, Term,
    To, Until,
)
from warble.search.query import MAX_DEPTH, QuerySyntaxError, caret, parse, simplify, unparse

a, b, c, d = Term("a"), Term("b"), Term("c"), Term("d")


def test_acceptance_query():
    assert parse("#ai from:someone -filter:replies since:2024-01-01") == And((
        Hashtag("ai"), From("someone"), Not(Filter("replies")), Since(dt.date(2024, 1, 1))))


@pytest.mark.parametrize("query,node", [
    ("hello", Term("hello")),
    ('"exact phrase"', Phrase("exact phrase")),
    ("“curly quotes”", Phrase("curly quotes")),
    ('"mixed quotes”', Phrase("mixed quotes")),
    ('"  spaced \t out  "', Phrase("spaced out")),
    ('"one"', Phrase("one")),
    ('"OR and -x #y"', Phrase("OR and -x #y")),
    ("#hashtag", Hashtag("hashtag")),
    ("＃fullwidth", Hashtag("fullwidth")),
    ("@mention", Mention("mention")),
    ("from:user", From("user")),
    ("from:@user", From("user")),
    ("from:12345", From("12345")),
    ("to:user", To("user")),
    ("to:@user", To("user")),
    ("lang:es", Lang("es")),
    ("lang:und", Lang("und")),
    ("lang:zh-CN", Lang("zh-cn")),
    ("since:2024-01-01", Since(dt.date(2024, 1, 1))),
    ("until:2024-02-29", Until(dt.date(2024, 2, 29))),
    ("min_faves:10", MinCount("like_count", 10)),
    ("min_retweets:0", MinCount("repost_count", 0)),
    ("min_replies:007", MinCount("reply_count", 7)),
    ("filter:links", Filter("links")),
    ("filter:replies", Filter("replies")),
    ("filter:quote", Filter("quote")),
    ("filter:retweets", Filter("retweets")),
    ("-filter:replies", Not(Filter("replies"))),
])
def test_each_operator(query, node):
    assert parse(query) == node
    assert parse(f"  {query}\n") == node, "surrounding whitespace is ignored"


def test_every_min_count_and_filter_is_covered():
    for name, field in MIN_COUNT_FIELDS.items():
        assert parse(f"{name}:3") == MinCount(field, 3)
    for kind in FILTER_KINDS:
        assert parse(f"filter:{kind}") == Filter(kind)


def test_precedence_or_binds_tighter_than_and():
    assert parse("a b OR c") == And((a, Or((b, c))))
    assert parse("a OR b c") == And((Or((a, b)), c))
    assert parse("a OR b c OR d") == And((Or((a, b)), Or((c, d))))
    assert parse("a OR b OR c") == Or((a, b, c))
    assert parse("(a b) OR c") == Or((And((a, b)), c))
    assert parse("from:x OR from:y lang:en") == And((Or((From("x"), From("y"))), Lang("en")))


def test_negation_forms():
    assert parse("-a") == Not(a)
    assert parse('-"a b"') == Not(Phrase("a b"))
    assert parse("-#tag") == Not(Hashtag("tag"))
    assert parse("-@who") == Not(Mention("who"))
    assert parse("-from:x") == Not(From("x"))
    assert parse("-lang:en") == Not(Lang("en"))
    assert parse("-(a b)") == Not(And((a, b)))
    assert parse("-(a OR b)") == Not(Or((a, b)))
    assert parse("-a OR b") == Or((Not(a), b)), "'-' binds tighter than OR"
    assert parse("a -b") == And((a, Not(b)))
    assert parse("--a") == a and parse("---a") == Not(a) and parse("-(-a)") == a
    assert parse("-a -b") == And((Not(a), Not(b))), "a query of only exclusions is fine"


def test_hyphens_inside_words_are_not_negation():
    assert parse("e-mail") == Term("e-mail")
    assert parse("a-b -c") == And((Term("a-b"), Not(c)))
    assert parse('"x"-y') == And((Phrase("x"), Not(Term("y"))))


def test_nesting_and_simplification():
    assert parse("(a)") == a and parse("((a))") == a
    assert parse("a (b c) d") == And((a, b, c, d)), "nested Ands flatten"
    assert parse("(a OR b) OR (c OR d)") == Or((a, b, c, d))
    assert parse("a (b OR (c d))") == And((a, Or((b, And((c, d))))))
    assert parse("(#x OR #y) -(filter:links OR filter:quote) min_faves:5") == And((
        Or((Hashtag("x"), Hashtag("y"))), Not(Or((Filter("links"), Filter("quote")))), MinCount("like_count", 5)))
    deep = "(" * MAX_DEPTH + "a" + ")" * MAX_DEPTH
    assert parse(deep) == a


def test_or_is_the_uppercase_keyword_only():
    assert parse("a or b") == And((a, Term("or"), b))
    assert parse("a Or b") == And((a, Term("Or"), b))
    assert parse("a AND b") == And((a, Term("AND"), b)), "no AND keyword: juxtaposition is AND"
    assert parse("ORegon") == Term("ORegon")


def test_unknown_operators_are_words():
    assert parse("foo:bar") == Term("foo:bar")
    assert parse("http://example.com/x?y=1") == Term("http://example.com/x?y=1")
    assert parse("near:london url:x") == And((Term("near:london"), Term("url:x")))
    assert parse("12:30") == Term("12:30")
    assert parse("from") == Term("from") and parse("xfrom:y") == Term("xfrom:y")


def test_operator_names_are_case_insensitive():
    assert parse("FROM:Jack Lang:EN Filter:Links SINCE:2024-01-01") == And((
        From("jack"), Lang("en"), Filter("links"), Since(dt.date(2024, 1, 1))))


def test_case_folding():
    assert parse("#AI @NASA from:@Jack to:BOB lang:PT") == And((
        Hashtag("ai"), Mention("nasa"), From("jack"), To("bob"), Lang("pt")))
    assert parse("Hello") == Term("Hello"), "words keep their case: the index analyzer folds"
    assert parse('"Hello World"') == Phrase("Hello World")
    assert parse("#ÉTÉ") == Hashtag("été")


def test_unicode_words():
    assert parse("東京 タワー") == And((Term("東京"), Term("タワー")))
    assert parse("🙂") == Term("🙂")
    assert parse("🚀 OR 🌕") == Or((Term("🚀"), Term("🌕")))
    assert parse("-🙂") == Not(Term("🙂"))
    assert parse("👨‍👩‍👧") == Term("👨‍👩‍👧"), "ZWJ emoji sequences stay one word"
    assert parse("café naïve") == And((Term("café"), Term("naïve")))
    assert parse("#日本 @ユーザー") == And((Hashtag("日本"), Mention("ユーザー")))
    assert parse("#हिंदी") == Hashtag("हिंदी"), "combining marks belong to the hashtag"
    assert parse("a\u00a0b") == And((a, b)), "non-breaking space separates words"
    assert parse("«quoted»") == Term("«quoted»")


def test_unicode_is_nfc_normalized():
    decomposed = "cafe\u0301"  # e + combining acute, as some keyboards type it
    assert parse(decomposed) == Term("café")
    assert parse(f'"{decomposed} au lait"') == Phrase("café au lait")
    assert parse(f"#{decomposed.upper()}") == Hashtag("café")


def test_words_stop_at_parentheses_and_quotes():
    assert parse("f(x)") == And((Term("f"), Term("x")))
    assert parse('say"hi there"') == And((Term("say"), Phrase("hi there")))
    assert parse('":)"') == Phrase(":)"), "an emoticon with a parenthesis can be quoted"


@pytest.mark.parametrize("query,position,message", [
    ("", 0, "empty query"),
    ("   \t\n", 0, "empty query"),
    ("#ai (from:x", 4, "unbalanced parenthesis '('"),
    ("((a)", 0, "unbalanced parenthesis '('"),
    ("x (", 2, "unbalanced parenthesis '('"),
    ("a) b", 1, "unbalanced parenthesis ')'"),
    (")", 0, "unbalanced parenthesis ')'"),
    ("(a))", 3, "unbalanced parenthesis ')'"),
    ('say "hello', 4, "unbalanced quote '\"'"),
    ("“open", 0, "unbalanced quote '“'"),
    ('a "" b', 2, "empty phrase"),
    ('"   "', 0, "empty phrase"),
    ("OR a", 0, "OR with nothing before it"),
    ("a OR", 2, "OR with nothing after it"),
    ("a OR OR b", 5, "OR twice in a row"),
    ("(OR a)", 1, "OR with nothing before it"),
    ("(a OR) b", 3, "OR with nothing after it"),
    ("OR", 0, "OR with nothing before it"),
    ("-", 0, "'-' must be followed directly"),
    ("a - b", 2, "'-' must be followed directly"),
    ("a -", 2, "'-' must be followed directly"),
    ("(a -)", 3, "'-' must be followed directly"),
    ("-OR a", 0, "'-' must be followed directly"),
    ("from:", 5, "empty value for 'from:'"),
    ("a to: b", 5, "empty value for 'to:'"),
    ("from:@", 6, "empty user for 'from:'"),
    ("lang:", 5, "empty value for 'lang:'"),
    ("filter:", 7, "empty value for 'filter:'"),
    ("since:", 6, "empty value for 'since:'"),
    ('from:"jack"', 5, "empty value for 'from:'"),
    ("()", 0, "empty group ()"),
    ("a ( ) b", 2, "empty group ()"),
    ("min_faves:x", 10, "bad number 'x' for 'min_faves:'"),
    ("min_retweets:-1", 13, "bad number '-1'"),
    ("min_replies:1.5", 12, "bad number '1.5'"),
    ("min_faves:1k", 10, "bad number '1k'"),
    ("min_faves:١٢", 10, "bad number"),
    ("min_faves:99999999999999999999", 10, "too large"),
    ("since:2024-13-01", 6, "bad date '2024-13-01' for 'since:' (month must be in 1..12)"),
    ("until:2023-02-29", 6, "day is out of range for month"),
    ("since:2024-1-1", 6, "want YYYY-MM-DD"),
    ("since:yesterday", 6, "want YYYY-MM-DD"),
    ("since:0000-01-01", 6, "bad date"),
    ("filter:media", 7, "unknown filter 'media' (known: links, replies, quote, retweets)"),
    ("-filter:nope", 8, "unknown filter 'nope'"),
    ("lang:english", 5, "bad language code 'english'"),
    ("lang:e", 5, "bad language code"),
    ("#", 1, "empty hashtag"),
    ("@", 1, "empty mention"),
    ("#covid-19", 6, "bad hashtag (letters, digits and _ only, not '-')"),
    ("@jack.", 5, "bad mention"),
    ("from:a,b", 6, "bad user for 'from:'"),
    ("to:@@x", 4, "bad user for 'to:'"),
    ("東京 (🙂 #a!", 8, "bad hashtag"),
])
def test_malformed_queries(query, position, message):
    with pytest.raises(QuerySyntaxError) as e:
        parse(query)
    err = e.value
    assert err.position == position, str(err)
    assert message in err.message
    assert str(err) == f"{err.message} at {position}: {query!r}"
    assert isinstance(err, InputError), "the CLI turns it into one line and exit code 2"


def test_too_deep_nesting_is_an_error_not_a_crash():
    query = "(" * (MAX_DEPTH + 1) + "a" + ")" * (MAX_DEPTH + 1)
    with pytest.raises(QuerySyntaxError, match="nested too deeply") as e:
        parse(query)
    assert e.value.position == MAX_DEPTH
    assert parse("-" * 10_000 + "a") == a, "long '-' chains do not recurse"


def test_error_display():
    with pytest.raises(QuerySyntaxError) as e:
        parse("#ai (from:x")
    assert str(e.value) == "unbalanced parenthesis '(' at 4: '#ai (from:x'"
    assert e.value.pretty() == "unbalanced parenthesis '(' at 4\n  #ai (from:x\n      ^"
    assert pickle.loads(pickle.dumps(e.value)).position == 4, "errors cross process boundaries"


def test_caret_counts_display_columns():
    # 東京 and 🙂 are two columns wide each: the caret lands under '!' at column 2+2+1+1+2+1+2 = 11
    assert caret("東京 (🙂 #a!", 8, indent="") == "東京 (🙂 #a!\n" + " " * 11 + "^"
    assert caret("a\nb", 2, indent="") == "a b\n  ^", "control characters do not break the line"
    assert caret("ab", 2, indent="") == "ab\n  ^", "an error at the end points past the last character"


def test_long_queries_are_shown_as_a_window():
    query = "word " * 100 + "since:2024-99-01 " + "word " * 100
    with pytest.raises(QuerySyntaxError) as e:
        parse(query)
    assert e.value.position == 506
    line = str(e.value)
    assert len(line) < 200 and "2024-99-01" in line and "…" in line
    shown, marker = e.value.pretty().splitlines()[1:]
    assert shown[marker.index("^"):].startswith("2024-99-01")


@pytest.mark.parametrize("query", [
    "#ai from:someone -filter:replies since:2024-01-01",
    "a b OR c", "(a b) OR c", "-(a OR b) -c", '"hello world" OR “bonjour” lang:fr',
    "from:x OR to:y min_faves:10 min_retweets:2 min_replies:0 until:2025-12-31",
    "東京 🙂 #日本 @ユーザー", "foo:bar or http://x.co", "--a", "(a (b (c d)))",
])
def test_unparse_is_canonical(query):
    node = parse(query)
    text = unparse(node)
    assert parse(text) == node
    assert unparse(parse(text)) == text


def test_unparse_examples():
    assert unparse(And((a, Or((b, c))))) == "a b OR c"
    assert unparse(Or((And((a, b)), c))) == "(a b) OR c"
    assert unparse(Not(And((a, b)))) == "-(a b)"
    assert unparse(Not(Not(a))) == "a"
    assert unparse(And((And((a,)), Or((Or((b, c)), d))))) == "a b OR c OR d"
    assert unparse(MinCount("repost_count", 3)) == "min_retweets:3"
    assert unparse(Since(dt.date(999, 1, 2))) == "since:0999-01-02"


@pytest.mark.parametrize("node", [
    And(()), Or(()), Term("two words"), Term("OR"), Term("-x"), Term("#x"), Term("from:x"), Term(""),
    Term("a(b"), Phrase('say "hi"'), Phrase(""), Phrase(" padded "), Hashtag("UPPER"), Hashtag("a-b"), Mention(""),
    From("a b"), Lang("english"), MinCount("view_count", 1), MinCount("like_count", -1), Filter("media"),
    And((a, Or(()))),
])
def test_unparse_refuses_what_the_language_cannot_write(node):
    with pytest.raises(ValueError):
        unparse(node)


def test_unparse_rejects_non_nodes():
    with pytest.raises(TypeError):
        unparse("a")


# ------------------------------------------------------------------------------------------ generated round trips

WORDS = ["a", "Hello", "or", "AND", "café", "東京", "🙂", "e-mail", "C#", "foo:bar", "http://x.co/p?q=1", "12:30",
         "naïve", "x_y", "don't", "ünïcödé", "Straße", "ORegon", "🚀🚀", "١٢٣", "a-", "«»"]
NAMES = ["ai", "nasa", "x_1", "日本", "été", "हिंदी", "straße", "user123", "1"]


def random_leaf(rng: random.Random):
    kind = rng.randrange(11)
    if kind == 0:
        return Term(rng.choice(WORDS))
    if kind == 1:
        return Phrase(" ".join(rng.choice(WORDS + ["OR", "-x", "(", ")", "from:x"]) for _ in range(rng.randint(1, 4))))
    if kind == 2:
        return Hashtag(rng.choice(NAMES))
    if kind == 3:
        return Mention(rng.choice(NAMES))
    if kind == 4:
        return rng.choice([From, To])(rng.choice(NAMES))
    if kind == 5:
        return Lang(rng.choice(["en", "es", "ja", "und", "zh-cn", "ceb"]))
    if kind in (6, 7):
        day = dt.date(2006, 3, 21) + dt.timedelta(days=rng.randrange(7000))
        return (Since if kind == 6 else Until)(day)
    if kind in (8, 9):
        return MinCount(rng.choice(list(MIN_COUNT_FIELDS.values())), rng.choice([0, 1, 7, 100, 10**12]))
    return Filter(rng.choice(FILTER_KINDS))


def random_ast(rng: random.Random, depth: int = 0):
    """Any shape, including single-child and nested And/Or and double negation: unparse must simplify them."""
    r = rng.random()
    if depth >= 5 or r < 0.35:
        return random_leaf(rng)
    if r < 0.5:
        return Not(random_ast(rng, depth + 1))
    kids = tuple(random_ast(rng, depth + 1) for _ in range(rng.randint(1, 4)))
    return And(kids) if r < 0.75 else Or(kids)


def test_round_trip_on_generated_asts():
    rng = random.Random(1234)
    for _ in range(3000):
        node = random_ast(rng)
        text = unparse(node)
        expected = simplify(node)
        assert parse(text) == expected, (node, text)
        assert unparse(expected) == text
        assert simplify(expected) == expected, "simplify is idempotent"


def test_random_strings_parse_or_fail_cleanly():
    """Any string either parses to an AST that round-trips, or raises QuerySyntaxError with a position inside it."""
    alphabet = list('ab #@-:()"“” \t') + ["OR", "or", "from:", "filter:", "links", "since:", "2024-01-01", "東",
                                          "🙂", "min_faves:", "5", "lang:", "en", "@x", "é"]
    rng = random.Random(99)
    parsed = 0
    for _ in range(5000):
        query = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        try:
            node = parse(query)
        except QuerySyntaxError as e:
            assert 0 <= e.position <= len(query), (query, e.position)
            continue
        parsed += 1
        assert parse(unparse(node)) == node, query
    assert parsed > 500, "the generator should produce plenty of valid queries too"
