"""Brand safety: keyword matching, taxonomy and tiers, classifier training and metrics, adjacency, the CLIs."""

import argparse
import io
import json
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from warble.ads.safety import (
    SafetyChecker,
    SafetyVerdict,
    Taxonomy,
    adjacency,
    category_metrics,
    read_posts,
    safe_slots,
)
from warble.ads.safety_keywords import KeywordMatcher, deobfuscate, fold
from warble.ads.safety_train import binary_metrics, choose_thresholds, load_classifiers, train_safety
from warble.cli import main
from warble.errors import ConfigError, InputError, WarbleError

HANDLABELLED = Path(__file__).parent / "data" / "ads_safety_handlabelled.jsonl"


# ---------------------------------------------------------------------------------------------- keywords

def found(matcher, text):
    return [kw for kw, _ in matcher.find(text)]


@pytest.fixture(scope="module")
def matcher():
    return KeywordMatcher([(k, None) for k in ("fuck*", "ass", "white power", "kill", "kill myself", "ar 15*",
                                                "murder*", "死ね", "шлюха", "café")])


@pytest.mark.parametrize("text, expected", [
    ("What the FUCK", ["fuck*"]),                     # case
    ("Fucking hell", ["fuck*"]),                      # trailing-* keyword
    ("murdered and murderers", ["murder*"]),
    ("a classic assassin in class", []),              # word boundaries: no "ass" inside words
    ("you ass!", ["ass"]),
    ("kill_ass", ["kill", "ass"]),                   # underscore separates words
    ("#fuck this", ["fuck*"]),                        # hashtags
    ("#WhitePower rally", ["white power"]),           # multi-word keyword, joined in a hashtag
    ("#whitepower", ["white power"]),
    ("white-power", ["white power"]),
    ("#KillThemAll", ["kill"]),                       # CamelCase hashtag split into words
    ("I will kill myself", ["kill myself"]),          # the longer keyword wins at one position
    ("bought an AR-15 and two ar15s", ["ar 15*"]),
    ("お前は死ねよ", ["死ね"]),                          # no-space script: matched inside text
    ("ты шлюха", ["шлюха"]),                          # Cyrillic keyword in Cyrillic text
    ("un CAFÉ noir", ["café"]),                       # accents and case
])
def test_keywords_boundaries_case_unicode(matcher, text, expected):
    assert sorted(found(matcher, text)) == sorted(expected)


@pytest.mark.parametrize("text", [
    "f*ck", "f**k", "fuuuuck", "sh1t fuck", "f.u.c.k", "f u c k", "f-u-c-k", "ｆｕｃｋ", "𝐟𝐮𝐜𝐤",  # masks, repeats,
    "fu\u200bck", "f\u00adu\u00adck", "fück", "fuсk",                                       # spelled out, NFKC,
    "you are a f u c k i n g idiot",                                                     # invisible chars, accents,
])                                                                                       # Cyrillic look-alike с
def test_keywords_obfuscations(matcher, text):
    assert found(matcher, text) == ["fuck*"]


def test_leetspeak_only_inside_words():
    m = KeywordMatcher([("shit", 1), ("bitch", 2), ("ass", 3), ("aa", 4)])
    assert found(m, "sh1t") == ["shit"] and found(m, "$hit") == ["shit"] and found(m, "b!tch") == ["bitch"]
    assert found(m, "a55") == ["ass"]
    assert found(m, "@@ 2024 wow! @ss") == []  # mentions, numbers and punctuation are not letters
    assert deobfuscate("shit!") == "shit!" and deobfuscate("@user 2024") == "@user 2024"
    assert fold("ＡＢＣ É") == "abc e"


def test_real_cyrillic_words_are_not_turned_into_latin():
    m = KeywordMatcher([("cop", 1)])
    assert found(m, "сор") == []          # all-Cyrillic word: left alone
    assert found(m, "cоp") == ["cop"]     # Latin word with one Cyrillic о: de-confused


def test_keyword_matcher_rejects_empty_keywords():
    with pytest.raises(ValueError):
        KeywordMatcher([(" * ", 1)])
    assert KeywordMatcher([]).find("anything") == []


# ---------------------------------------------------------------------------------------------- taxonomy and tiers

TAXONOMY = """
default_tier = "standard"
[tiers.limited]
exclude = "low"
[tiers.standard]
exclude = "medium"
[tiers.full]
exclude = "high"
overrides = { rude = "none", gore = "none" }
[categories.gore]
floor = "high"
high = ["decapitated"]
medium = ["stabbed"]
low = ["fight"]
[categories.rude]
medium = ["jerk"]
high = ["scumbag"]
"""


@pytest.fixture
def tax_file(tmp_path):
    p = tmp_path / "tax.toml"
    p.write_text(TAXONOMY)
    return p


def test_default_taxonomy_has_floor_categories_and_tiers():
    tax = Taxonomy.load()
    assert {"hate", "adult", "violence", "illegal_drugs", "terrorism"} <= {
        c.name for c in tax.categories.values() if c.floor}
    assert {"offensive", "weapons"} <= set(tax.categories) and tax.default_tier == "standard"
    assert [t.exclude for t in tax.tiers.values()] == [1, 2, 3]  # limited, standard, full


@pytest.mark.parametrize("tier, text, flagged", [
    ("limited", "a fight broke out", ["gore"]),
    ("standard", "a fight broke out", []),
    ("standard", "he was stabbed", ["gore"]),
    ("full", "he was stabbed", []),                       # override "none", and below the floor
    ("full", "he was decapitated", ["gore"]),             # the floor applies to every tier, overrides or not
    ("standard", "what a jerk", ["rude"]),
    ("full", "what a scumbag", []),                       # non-floor category exempted by the override
    ("limited", "what a scumbag", ["rude"]),
])
def test_tier_logic(tax_file, tier, text, flagged):
    [v] = SafetyChecker.load(None, taxonomy=tax_file).check([text], tier=tier)
    assert v.flagged == flagged and v.safe == (not flagged)


def test_verdict_fields_and_block_list(tax_file):
    checker = SafetyChecker.load(None, taxonomy=tax_file, keywords=["Acme Rival", "  "])
    safe, floor, blocked = checker.check(["lovely day", "he was decapitated #fight", "try #AcmeRival instead"])
    assert safe == SafetyVerdict(True, {"gore": 0.0, "rude": 0.0, "advertiser": 0.0}, [], [], [], {})
    assert floor.flagged == ["gore"] and floor.categories["gore"] == 1.0 and floor.risk == {"gore": "high"}
    assert sorted(floor.matches) == ["decapitated", "fight"] and "floor category" in floor.reasons[0]
    assert blocked.flagged == ["advertiser"] and blocked.matches == ["Acme Rival"]
    assert set(floor.to_dict()) == {"safe", "categories", "flagged", "matches", "reasons", "risk"}
    with pytest.raises(ConfigError, match="unknown tier"):
        checker.check(["x"], tier="premium")
    with pytest.raises(TypeError):
        checker.check("not a list")


@pytest.mark.parametrize("text, message", [
    ("[tiers.a\nexclude=", "not valid TOML"),
    ("[tiers.a]\nexclude = 'low'\n", "needs a \\[categories"),
    ("[categories.x]\nlow=['a']\n", "needs a \\[tiers"),
    ("[categories.x]\nlow=['a']\n[tiers.a]\nexclude = 'severe'\n", "expected one of low, medium, high"),
    ("[categories.x]\nfloor='extreme'\n[tiers.a]\nexclude = 'low'\n", "categories.x.floor"),
    ("[categories.x]\nlow='a'\n[tiers.a]\nexclude = 'low'\n", "must be a list"),
    ("[categories.x]\nlows=['a']\n[tiers.a]\nexclude = 'low'\n", "unknown key 'lows'"),
    ("[categories.x]\nlow=['a']\n[tiers.a]\nexclude='low'\noverrides={y='none'}\n", "unknown category 'y'"),
    ("[categories.x]\nlow=['a']\n[tiers.a]\ndescription='no exclude'\n", "needs exclude"),
    ("[categories.advertiser]\nlow=['a']\n[tiers.a]\nexclude='low'\n", "reserved"),
    ("default_tier='b'\n[categories.x]\nlow=['a']\n[tiers.a]\nexclude='low'\n", "default_tier 'b'"),
])
def test_malformed_taxonomy_is_an_input_error(tmp_path, text, message):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        Taxonomy.load(p)


# ---------------------------------------------------------------------------------------------- metrics

def test_binary_metrics_match_hand_computed_values():
    m = binary_metrics([1, 1, 0, 0, 1, 0], [1, 0, 1, 0, 1, 0])  # tp 2, fp 1, fn 1
    assert (m["tp"], m["fp"], m["fn"], m["support"]) == (2, 1, 1, 3)
    assert m["precision"] == m["recall"] == m["f1"] == round(2 / 3, 4)
    assert binary_metrics([0, 0], [0, 0])["precision"] == 0.0  # undefined -> 0


def test_category_metrics_per_category():
    def v(*flags):
        return SafetyVerdict(not flags, {}, list(flags), [], [])

    verdicts = [v("hate"), v("hate", "adult"), v(), v("adult")]
    labels = [["hate"], [], ["hate", "adult"], ["adult"]]
    out = category_metrics(verdicts, labels, ["hate", "adult"])
    # hate: flagged posts 0, 1; true posts 0, 2 -> tp 1, fp 1, fn 1; adult: flagged 1, 3; true 2, 3 -> same counts
    assert out["hate"]["precision"] == out["hate"]["recall"] == 0.5
    assert (out["adult"]["tp"], out["adult"]["fp"], out["adult"]["fn"]) == (1, 1, 1)


def test_choose_thresholds():
    y, p = np.array([0, 0, 1, 1]), np.array([0.1, 0.4, 0.35, 0.8])
    # at 0.35: P 2/3, R 1, F1 0.8 (best); at 0.8: P 1 (the first >= 0.9); recall >= 0.9 last holds at 0.35
    assert choose_thresholds(y, p) == {"low": 0.35, "medium": 0.35, "high": 0.8}
    assert choose_thresholds(y, p, target_precision=0.95)["medium"] == 0.8
    with pytest.raises(InputError, match="both classes"):
        choose_thresholds(np.array([0, 0]), np.array([0.1, 0.2]))


def test_handlabelled_keyword_set():
    """The hand-written set (tests/data/README.md): keyword-only precision/recall per category, as a regression
    check of the default lists. Small and written by the list's author: not a measure of real-world recall."""
    posts = read_posts(str(HANDLABELLED))
    checker = SafetyChecker.load(None)
    out = category_metrics(checker.check([p["text"] for p in posts]), [p["categories"] for p in posts],
                           [c for c in checker.category_names if c != "advertiser"])
    tp, fp, fn = (sum(m[k] for m in out.values()) for k in ("tp", "fp", "fn"))
    assert tp / (tp + fp) >= 0.85 and tp / (tp + fn) >= 0.75, out  # measured: 0.93 and 0.87 (micro-averaged)
    assert all(m["support"] >= 4 for m in out.values())


# ---------------------------------------------------------------------------------------------- adjacency

def test_safe_slots_rule():
    assert safe_slots([True, False, True, True], window=1) == [True, False, False, True, True]
    assert safe_slots([True, False, True, True], window=2) == [False, False, False, False, True]
    assert safe_slots([True, False], window=0) == [True, True, True]
    assert safe_slots([], window=1) == [True]
    with pytest.raises(ValueError):
        safe_slots([True], window=-1)


@dataclass
class FakeHit:
    text: str


def test_adjacency_on_texts_hits_and_verdicts():
    checker = SafetyChecker.load(None)
    texts = ["new shoes day", "buy cocaine here", "sunny walk", "lunch", "coffee"]
    expected = [True, False, False, True, True, True]
    assert adjacency(texts, checker) == expected
    assert adjacency([{"id": str(i), "text": t} for i, t in enumerate(texts)], checker) == expected
    assert adjacency([FakeHit(t) for t in texts], checker) == expected
    assert adjacency(checker.check(texts), checker, window=2) == [False, False, False, False, True, True]
    with pytest.raises(TypeError):
        adjacency([1, 2], checker)


# ---------------------------------------------------------------------------------------------- training

WORDS = ["the", "a", "of", "to", "and", "in", "on", "for", "with", "my", "our", "your", "this", "that", "today",
         "game", "music", "food", "city", "team", "day", "news"]
BAD = {"hate": ["vermin", "scum", "invaders", "subhuman"], "offensive": ["moron", "idiot", "loser", "trash"]}


def write_task(root: Path, task: str, splits=("train", "val", "test"), n=80, seed=0) -> None:
    rng = random.Random(seed)
    d = root / task
    d.mkdir(parents=True)
    (d / "mapping.txt").write_text(f"0\tnot-{task}\n1\t{task}\n")
    for split in splits:
        texts, labels = [], []
        for i in range(n):
            y = i % 3 == 0
            words = rng.choices(WORDS, k=8) + (rng.choices(BAD[task], k=2) if y else [])
            rng.shuffle(words)
            texts.append(" ".join(words))
            labels.append(int(y))
        (d / f"{split}_text.txt").write_text("\n".join(texts) + "\n")
        (d / f"{split}_labels.txt").write_text("\n".join(map(str, labels)) + "\n")


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory):
    root = tmp_path_factory.mktemp("tweeteval")
    write_task(root, "hate")
    write_task(root, "offensive", splits=("train", "val"), seed=1)  # no test split: val is the test, as in ../shared
    return root


@pytest.fixture(scope="module")
def eng(tiny_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("eng")
    train_safety(tiny_data, out, progress=False)
    return out


def test_train_safety_on_tiny_tweeteval_layout(eng):
    manifest = json.loads((eng / "safety" / "manifest.json").read_text())
    assert set(manifest["classifiers"]) == {"hate", "offensive"}
    hate, off = manifest["classifiers"]["hate"], manifest["classifiers"]["offensive"]
    assert "tested on test" in hate["splits"] and "val (no test split)" in off["splits"]
    for entry in (hate, off):
        t = entry["thresholds"]
        assert 0 < t["low"] <= t["medium"] <= t["high"] < 1
        assert entry["test"]["f1"] > 0.9  # the planted words make the task easy
        assert {"with_keywords", "keywords_only", "levels", "pr_auc"} <= set(entry["test"])
    clfs = load_classifiers(eng / "safety")
    p = clfs["hate"].predict_proba(["vermin scum invaders", "music food city day"])
    assert p[0] > clfs["hate"].thresholds["medium"] > p[1]


def test_checker_uses_classifiers_only_when_trained(eng, tmp_path):
    with_clf = SafetyChecker.load(eng)
    assert sorted(with_clf.classifiers) == ["hate", "offensive"]
    [v] = with_clf.check(["vermin scum the city"])  # no keyword: the classifier alone
    assert "hate" in v.flagged and v.categories["hate"] > 0.5 and v.risk["hate"] in ("medium", "high")
    assert not SafetyChecker.load(tmp_path).classifiers and not SafetyChecker.load(None).classifiers


def test_train_safety_errors(tmp_path, tiny_data):
    with pytest.raises(InputError, match="not found"):
        train_safety(tmp_path / "nope", tmp_path / "out", progress=False)
    with pytest.raises(InputError, match="no task folder emoji"):
        train_safety(tiny_data, tmp_path / "out", tasks=["emoji"], progress=False)
    write_task(tmp_path / "data", "hate", splits=("train",))
    (tmp_path / "data" / "hate" / "train_labels.txt").write_text("0\n1\n")
    with pytest.raises(InputError, match="80 posts but 2 labels"):
        train_safety(tmp_path / "data", tmp_path / "out", progress=False)
    (tmp_path / "bad" / "safety").mkdir(parents=True)
    (tmp_path / "bad" / "safety" / "manifest.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot be read"):
        SafetyChecker.load(tmp_path / "bad")


def test_embedding_head_on_the_warble_model(run_dir, tiny_data, tmp_path):
    """--model-run: the same task learned from the Warble model's frozen embeddings, reported beside TF-IDF."""
    report = train_safety(tiny_data, tmp_path, tasks=["hate"], model_run=run_dir, embed_posts=40, progress=False)
    head = report["classifiers"]["hate"]["embedding_head"]
    assert head["train_posts"] == 40 and head["test"]["n"] == 80  # training posts capped, test split in full
    assert 0 < head["thresholds"]["low"] <= head["thresholds"]["medium"] <= head["thresholds"]["high"] < 1
    assert 0 <= head["test"]["pr_auc"] <= 1 and set(head["test"]["levels"]) == {"low", "medium", "high"}
    manifest = json.loads((tmp_path / "safety" / "manifest.json").read_text())
    assert manifest["classifiers"]["hate"]["embedding_head"]["test"] == head["test"]
    with pytest.raises(InputError, match="model run not found"):
        train_safety(tiny_data, tmp_path, tasks=["hate"], model_run=tmp_path / "nope", progress=False)


def test_real_tweeteval_precision_recall(shared, tmp_path):
    """The real TweetEval hate and offensive tasks (train -> fit/tune, val as the test split): the numbers the docs
    report. Floors sit a little under what was measured, so a broken pipeline fails."""
    report = train_safety(shared / "tweeteval", tmp_path, tasks=["hate", "offensive"], progress=False)
    for task, m in report["classifiers"].items():
        t = m["test"]
        print(task, {k: t[k] for k in ("precision", "recall", "f1", "pr_auc")}, m["thresholds"])
        assert t["f1"] >= 0.6 and t["pr_auc"] >= 0.65, (task, t)
        assert t["levels"]["high"]["precision"] >= t["precision"] >= t["levels"]["low"]["precision"]


# ---------------------------------------------------------------------------------------------- CLI

def cli_json(capsys, *args):
    assert main(["ads", "safety", *map(str, args), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def posts_txt(tmp_path):
    p = tmp_path / "posts.txt"
    p.write_text("new running shoes, 20% off today\n\nbuy cocaine here, dm me\nvermin scum the city\n"
                 "what a lovely day " + "y" * 300 + "\n")
    return p


def test_cli_keywords_only_without_safety_dir(capsys, posts_txt, tmp_path):
    (tmp_path / "eng").mkdir()  # an ads model directory without safety/ (e.g. only engagement models)
    out = cli_json(capsys, posts_txt, "--model", tmp_path / "eng")
    assert out["posts"] == 4 and out["unsafe"] == 1 and out["classifiers"] == [] and "keyword" in out["note"]
    assert out["by_category"]["illegal_drugs"] == 1 and out["tier"] == "standard" and out["taxonomy"] == "default"
    r = out["results"]
    assert [x["safe"] for x in r] == [True, False, True, True]
    assert r[1]["flagged"] == ["illegal_drugs"] and r[1]["matches"] == ["buy cocaine"] and r[1]["reasons"]
    assert len(r[3]["text"]) == 200 and set(r[0]) >= {"text", "safe", "flagged", "categories", "matches", "reasons"}


def test_cli_with_trained_classifiers(capsys, posts_txt, eng):
    out = cli_json(capsys, "--model", eng, posts_txt)
    assert out["classifiers"] == ["hate", "offensive"] and "note" not in out
    assert out["results"][2]["flagged"] == ["hate"] and out["unsafe"] == 2
    assert "hate" in out["results"][2]["reasons"][0] and "classifier" in out["results"][2]["reasons"][0]


def test_cli_stdin_jsonl_tier_block_list_and_text_output(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO("a fight at the game\nAcme is better\n"))
    out = cli_json(capsys, "-", "--tier", "limited", "--block", "acme")
    assert [x["flagged"] for x in out["results"]] == [["violence"], ["advertiser"]]
    (tmp_path / "block.txt").write_text("# competitors\nglobex\n")
    (tmp_path / "p.jsonl").write_text(json.dumps({"id": "7", "text": "Globex rocks"}) + "\n")
    out = cli_json(capsys, tmp_path / "p.jsonl", "--block-file", tmp_path / "block.txt")
    assert out["results"][0]["id"] == "7" and out["results"][0]["flagged"] == ["advertiser"]
    assert main(["ads", "safety", str(tmp_path / "p.jsonl"), "--block", "globex"]) == 0
    text = capsys.readouterr().out
    assert "1 posts, 1 unsafe for tier standard" in text and "UNSAFE  Globex rocks" in text


def test_cli_adjacency_on_search_json(capsys, tmp_path):
    hits = [{"id": str(i), "text": t} for i, t in enumerate(["launch day", "meth lab bust", "great coffee", "rain"])]
    (tmp_path / "hits.json").write_text(json.dumps({"query": "q", "hits": hits, "took_ms": 1.0}))
    out = cli_json(capsys, tmp_path / "hits.json", "--adjacency")
    assert out["adjacency"] == {"window": 1, "slots": [True, False, False, True, True], "safe_slots": 3}
    assert [r["id"] for r in out["results"]] == ["0", "1", "2", "3"]


def test_read_posts_formats(tmp_path):
    (tmp_path / "crlf.txt").write_bytes(b"hello\r\n\r\nworld \xe2\x80\xa8 two\r\n")  # U+2028 stays inside a post
    assert [p["text"] for p in read_posts(str(tmp_path / "crlf.txt"))] == ["hello", "world \u2028 two"]
    (tmp_path / "list.json").write_text(json.dumps(["a post", {"text": "another", "id": "9"}]))
    assert read_posts(str(tmp_path / "list.json")) == [{"text": "a post"}, {"text": "another", "id": "9"}]
    assert read_posts("-", stdin=io.StringIO("x\n\ny\n")) == [{"text": "x"}, {"text": "y"}]
    (tmp_path / "bad.jsonl").write_text("{oops\n")
    with pytest.raises(InputError, match="bad.jsonl:1: not valid JSON"):
        read_posts(str(tmp_path / "bad.jsonl"))


def test_cli_evaluation_on_labelled_jsonl(capsys):
    out = cli_json(capsys, HANDLABELLED)
    ev = out["evaluation"]
    assert {"hate", "adult", "violence", "illegal_drugs", "terrorism", "self_harm"} <= set(ev)
    assert all({"precision", "recall", "f1", "support"} <= set(m) for m in ev.values())


@pytest.mark.parametrize("args, message", [
    (["missing.txt"], "posts file not found"),
    (["POSTS", "--model", "no/such/dir"], "model directory not found"),
    (["POSTS", "--taxonomy", "no.toml"], "taxonomy not found"),
    (["POSTS", "--taxonomy", "BADTOML"], "not valid TOML"),
    (["POSTS", "--tier", "gold"], "unknown tier 'gold'"),
    (["POSTS", "--block-file", "nope.txt"], "block list not found"),
    (["POSTS", "--window", "-1"], "--window"),
    (["BADJSONL"], "needs a \"text\" string field"),
    (["BADJSON"], "expected `warble search --json` output"),
])
def test_cli_error_paths(capsys, tmp_path, args, message):
    files = {"POSTS": tmp_path / "p.txt", "BADTOML": tmp_path / "t.toml", "BADJSONL": tmp_path / "b.jsonl",
             "BADJSON": tmp_path / "b.json"}
    files["POSTS"].write_text("hello\n")
    files["BADTOML"].write_text("[tiers\n")
    files["BADJSONL"].write_text('{"text": "ok"}\n{"body": "no text"}\n')
    files["BADJSON"].write_text('{"results": []}')
    argv = [str(files.get(x, x)) for x in args]
    assert main(["ads", "safety", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith(("warble ads: error:", "warble ads safety: error:")), err
    assert message in err and "Traceback" not in err


def _train_safety_cli(argv):
    """`warble ads train-safety` through warble.cli once wired there; until then through its module, the same way."""
    from warble.ads import train_safety_cli

    p = argparse.ArgumentParser()
    train_safety_cli.add_arguments(p)
    return train_safety_cli.run(p.parse_args(argv))


def test_train_safety_cli(capsys, tiny_data, tmp_path):
    assert _train_safety_cli(["--data", str(tiny_data), "--out", str(tmp_path / "eng"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["classifiers"]) == {"hate", "offensive"}  # TweetEval layout: the two safety tasks by default
    for m in out["classifiers"].values():
        assert {"precision", "recall", "f1", "levels"} <= set(m["test"]) and set(m["thresholds"]) == {
            "low", "medium", "high"}
    assert _train_safety_cli(["--data", str(tiny_data / "hate"), "--out", str(tmp_path / "e2"),
                              "--no-progress"]) == 0
    assert "trained 1 classifier(s)" in capsys.readouterr().out
    with pytest.raises(WarbleError, match="between 0 and 1"):
        _train_safety_cli(["--data", str(tiny_data), "--out", str(tmp_path / "e3"), "--target-precision", "2"])
    with pytest.raises(ConfigError, match="empty"):
        _train_safety_cli(["--data", str(tiny_data), "--out", str(tmp_path / "e3"), "--tasks", ","])


def test_train_safety_is_wired_into_the_cli(capsys, tiny_data, tmp_path):
    try:
        main(["ads", "train-safety", "--help"])
    except SystemExit as e:
        if e.code != 0:
            pytest.skip("`warble ads train-safety` is not wired into warble/cli.py yet")
    capsys.readouterr()
    assert main(["ads", "train-safety", "--data", str(tiny_data), "--tasks", "hate", "--out", str(tmp_path),
                 "--json"]) == 0
    assert set(json.loads(capsys.readouterr().out)["classifiers"]) == {"hate"}
