"""The byte-level BPE tokenizer: lossless on any script, single-id specials, transformers-compatible, reported."""

import json
import unicodedata

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from transformers import PreTrainedTokenizerFast

from warble.data.files import write_table
from warble.data.schema import posts_to_batch, validate_post
from warble.errors import ConfigError, InputError
from warble.tokenizer import Tokenizer, train_tokenizer
from warble.tokenizer import specials as sp

TEXTS = [
    "Just landed in Tokyo!! 🛬🇯🇵 best trip ever 👩🏽‍💻👨‍👩‍👧",
    "今日はとても暑いですね。明日は雨が降るかもしれません。",
    "오늘 날씨가 정말 좋네요! 산책하러 갈까요?",
    "مرحبا بالعالم! هذا اختبار للنص العربي #سلام",
    "check https://example.com/a?b=1&c=%20 and www.test.org/x, or http",
    "@user thanks!! #MondayMotivation #100DaysOfCode @user_2 @username",
    "It's 12345678 and 3.14159, 1,000,000 or -42 (0x1F) at 23:59",
    "mail me: <email> or call <phone>; card <card>, id <gov_id> from <ip>",
    "tabs\tand\n\nnewlines  double  spaces   and trailing ",
    "Ελληνικά, русский, हिन्दी, ไทย, עברית ✨ ‼️ café naïve",
    "\x00 control \u200b zero-width \ue000 private 𓀀 hieroglyph",
]


@pytest.fixture(scope="module")
def trained(corpus_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("tok") / "tokenizer"
    report = train_tokenizer(corpus_dir, out, vocab_size=2048, progress=False)
    return corpus_dir, out, report


@pytest.fixture(scope="module")
def tok(trained):
    return Tokenizer.load(trained[1])


@pytest.mark.parametrize("text", TEXTS)
def test_roundtrip_is_lossless(tok, text):
    ids = tok.encode(text)
    assert tok.decode(ids) == text
    assert all(0 <= i < tok.vocab_size for i in ids)


def test_text_is_nfc_normalized(tok):
    decomposed = unicodedata.normalize("NFD", "café")
    assert tok.decode(tok.encode(decomposed)) == "café"


def test_no_unknown_token(tok):
    assert json.loads(tok.to_json())["model"]["unk_token"] is None
    assert len(tok.encode("\U0010fffd\U0001fae8")) > 0  # unseen characters still encode, as bytes


def test_placeholders_are_single_ids_inside_text(tok):
    for p in sp.PLACEHOLDERS:
        pid = tok.hf.token_to_id(p)
        assert tok.encode(p) == [pid]
        assert pid in tok.encode(f"before {p} after")
        assert tok.decode([pid]) == p  # ordinary tokens: decoding keeps them
    # Kept handles and links are not cut after the placeholder's letters.
    assert tok.hf.token_to_id("@user") not in tok.encode("hi @username")
    assert tok.hf.token_to_id("http") not in tok.encode("see https://example.com")


def test_hashtags_mentions_and_numbers_pre_tokenize(tok):
    pieces = [p for p, _ in tok.hf.pre_tokenizer.pre_tokenize_str("I love #Summer2024 @bob_1 1234567")]
    assert "Ġ#Summer2024" in pieces and "Ġ@bob_1" in pieces
    assert pieces[-3:] == ["123", "456", "7"]


def test_control_tokens(tok):
    ids = tok.control_ids(lang="ja", reply=True, engagement=5, topic="music")
    assert tok.decode(ids, skip_special=False) == "<|lang:ja|><|reply|><|eng:2|><|topic:music|>"
    assert tok.decode(ids) == ""
    assert tok.control_ids() == []
    assert tok.control_ids(lang="xx", topic="no such topic") == tok.control_ids(lang="und", topic="other")
    assert tok.control_ids(reply=False) == [tok.hf.token_to_id(sp.ORIGINAL)]
    buckets = {n: tok.decode(tok.control_ids(engagement=n), skip_special=False) for n in (0, 1, 2, 3, 9, 10, 99, 100)}
    assert buckets == {0: "<|eng:0|>", 1: "<|eng:1|>", 2: "<|eng:1|>", 3: "<|eng:2|>", 9: "<|eng:2|>",
                       10: "<|eng:3|>", 99: "<|eng:3|>", 100: "<|eng:4|>"}
    assert len(set(sp.LANGS)) >= 40


def test_special_token_text_stays_text(tok):
    ids = tok.encode("a <|eos|> b <|lang:en|>")
    assert tok.eos_id not in ids and tok.decode(ids) == "a <|eos|> b <|lang:en|>"


def test_encode_post(tok):
    meta = {"lang": "en", "reply": False}
    assert tok.encode_post("hello", meta) == [tok.bos_id, *tok.control_ids(**meta), *tok.encode("hello"), tok.eos_id]
    assert tok.encode_post("hello") == [tok.bos_id, *tok.encode("hello"), tok.eos_id]
    assert tok.encode_posts(["a", "b"]) == [tok.encode_post("a"), tok.encode_post("b")]


def test_transformers_gives_the_same_ids(trained, tok):
    corpus, tok_dir, _ = trained
    hf = PreTrainedTokenizerFast(tokenizer_file=str(tok_dir / "tokenizer.json"))
    posts = pq.read_table(sorted((corpus / "corpus" / "train").glob("*.parquet"))[0]).column("text").to_pylist()
    for text in [*TEXTS, *posts[:300]]:
        assert hf.encode(text) == tok.encode(text)
        assert hf.decode(tok.encode(text)) == text
    assert len(hf) == tok.vocab_size
    # Text that spells a special token: transformers matches it unless told not to, as Tokenizer never does.
    strict = PreTrainedTokenizerFast(tokenizer_file=str(tok_dir / "tokenizer.json"), split_special_tokens=True)
    assert strict.encode("a <|bos|> b") == tok.encode("a <|bos|> b") != hf.encode("a <|bos|> b")


def test_saved_files_and_report(trained, tok):
    _, tok_dir, report = trained
    assert 2 < report["bytes_per_token"] < 8  # English-heavy posts
    assert report["validation_posts"] > 0 and report["sample_posts"] > 1000
    assert json.loads((tok_dir / "report.json").read_text()) == report
    meta = json.loads((tok_dir / "warble.json").read_text())
    assert (meta["bos_id"], meta["eos_id"], meta["pad_id"]) == (tok.bos_id, tok.eos_id, tok.pad_id)
    assert meta["controls"]["<|topic:other|>"] == tok.control_ids(topic="other")[0]
    assert len({tok.bos_id, tok.eos_id, tok.pad_id}) == 3
    assert tok.vocab_size <= 2048
    assert Tokenizer.load(tok_dir / "tokenizer.json").encode(TEXTS[0]) == tok.encode(TEXTS[0])


def test_training_is_deterministic(trained, tmp_path):
    corpus, tok_dir, _ = trained
    a = train_tokenizer(corpus, tmp_path / "a", vocab_size=1024, sample_posts=500, seed=3, progress=False)
    train_tokenizer(corpus, tmp_path / "b", vocab_size=1024, sample_posts=500, seed=3, progress=False)
    assert a["sample_posts"] == 500
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() == (tmp_path / "b" / "tokenizer.json").read_bytes()
    train_tokenizer(corpus, tmp_path / "c", vocab_size=1024, sample_posts=500, seed=4, progress=False)
    assert (tmp_path / "a" / "tokenizer.json").read_bytes() != (tmp_path / "c" / "tokenizer.json").read_bytes()


def test_topics_from_labels(tmp_path):
    posts = [validate_post({"id": str(i), "author_id": "a", "text": f"post number {i} about art and culture",
                            "origin": "test", "labels": {"topic": "Arts & Culture" if i % 2 else "music"}})
             for i in range(50)]
    write_table(pa.Table.from_batches([posts_to_batch(posts)]), tmp_path / "corpus/corpus/train/part-00000.parquet")
    report = train_tokenizer(tmp_path / "corpus", tmp_path / "tok", vocab_size=600, progress=False)
    assert "arts_&_culture" in report["topics"] and report["bytes_per_token"] is None  # no validation split
    tok = Tokenizer.load(tmp_path / "tok")
    assert tok.decode(tok.control_ids(topic="Arts & Culture"), skip_special=False) == "<|topic:arts_&_culture|>"


def test_bad_inputs(tmp_path, trained):
    with pytest.raises(InputError, match="no tokenizer here"):
        Tokenizer.load(tmp_path / "missing")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(InputError, match="not a readable tokenizer"):
        Tokenizer.load(tmp_path / "bad.json")
    with pytest.raises(InputError, match="not a corpus directory"):
        train_tokenizer(tmp_path / "nowhere", tmp_path / "out", progress=False)
    (tmp_path / "empty" / "corpus" / "train").mkdir(parents=True)
    with pytest.raises(InputError, match="holds no Parquet files"):
        train_tokenizer(tmp_path / "empty", tmp_path / "out", progress=False)
    with pytest.raises(ConfigError, match="too small"):
        train_tokenizer(trained[0], tmp_path / "out", vocab_size=300, progress=False)
