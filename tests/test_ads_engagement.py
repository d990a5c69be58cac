"""Engagement prediction: labels, features, training and scoring through the CLI, the Warble head, the Python API."""

import json
import math

import numpy as np
import pyarrow.parquet as pq
import pytest

from warble.ads.engagement import EngagementModel, train_engagement
from warble.ads.features import Featurizer, columns_from_posts, tabular_tokens
from warble.ads.labels import BASE_REACH, LabelSpec, build_labels, fit_label_spec, impressions
from warble.cli import main
from warble.errors import InputError


def _cli(capsys, *args):
    rc = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


# ---- labels -----------------------------------------------------------------------------------------------------

def _label_columns():
    return {"view_count": np.array([100, np.nan, np.nan, 50, 80]),
            "author_followers": np.array([10, 1000, np.nan, 5, 40]),
            "like_count": np.array([7, 3, 1, np.nan, 2]), "repost_count": np.array([1, 10, 0, 0, 0]),
            "repost_of_id": [None, None, None, None, "p0"]}


def test_labels_use_views_else_followers_and_skip_unknowns():
    spec = LabelSpec(reach=0.1, fanout=5.0)
    labels = build_labels(_label_columns(), spec, actions=("like", "repost", "reply"))
    like = labels["like"]
    # Post 0: views; post 1: 0.1 * (1000 + 20) + 5 * 10 reposts; post 2: nothing to count impressions with;
    # post 3: unknown like count (null, not zero); post 4: a repost carries its original's counts.
    assert like.trials[0] == 100 and like.trials[1] == pytest.approx(0.1 * (1000 + BASE_REACH) + 50)
    assert like.valid.tolist() == [True, True, False, False, False]
    assert not labels["reply"].valid.any()  # no reply counts at all
    post, y, w = like.examples()
    got = sorted(zip(post.tolist(), y.tolist(), w.tolist()))
    assert got == sorted([(0, 1.0, 7.0), (0, 0.0, 93.0), (1, 1.0, 3.0), (1, 0.0, pytest.approx(149.0))])
    assert like.base_rate() == pytest.approx(10 / (100 + 152))


def test_impressions_never_fewer_than_engagements():
    trials = impressions([np.nan], [10.0], [500.0], {"repost": np.array([500.0]), "like": np.array([900.0])},
                         LabelSpec(reach=0.1, fanout=0.0))
    assert trials[0] == 900.0


def test_reach_measured_from_views_or_default():
    followers = np.arange(100) * 10.0
    spec = fit_label_spec(0.3 * (followers + BASE_REACH), followers)
    assert spec.reach == pytest.approx(0.3) and spec.reach_source == "measured"
    assert fit_label_spec(np.full(100, np.nan), followers) == LabelSpec()
    assert LabelSpec.from_dict(spec.to_dict()) == spec


# ---- features ---------------------------------------------------------------------------------------------------

def test_post_dicts_get_defaults_and_bad_posts_are_refused():
    cols = columns_from_posts([{"text": "hello #world?"},
                               {"text": "x", "created_at": "2025-07-01T13:00:00Z", "author_followers": 1000,
                                "lang": "en", "reply": True, "urls": ["https://t.co/a/photo/1"]}])
    assert math.isnan(cols["created_ms"][0]) and math.isnan(cols["author_followers"][0])
    toks = tabular_tokens(*(cols[k][0] for k in ("text", "created_ms", "lang", "author_followers", "urls",
                                                 "mentions", "reply")))
    assert {"lang=und", "fol=unknown", "time=unknown", "question", "tags=1", "original"} <= set(toks)
    toks = tabular_tokens(*(cols[k][1] for k in ("text", "created_ms", "lang", "author_followers", "urls",
                                                 "mentions", "reply")))
    assert {"lang=en", "fol=9", "hour=13", "dow=1", "reply", "media", "links=1"} <= set(toks)
    for bad in ([{"txt": "no text"}], ["a string"], [{"text": "x", "author_followers": "many"}],
                [{"text": "x", "created_at": "yesterday"}], "not a list"):
        with pytest.raises(InputError):
            columns_from_posts(bad)


def test_featurizer_idf_and_row_norms():
    cols = columns_from_posts([{"text": "cats and dogs"}, {"text": "cats and birds"}, {"text": "rare words"}])
    f = Featurizer().fit(cols)
    X = f.text_matrix(cols)
    norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())
    assert norms == pytest.approx([np.sqrt(2)] * 3, rel=1e-5)  # word and character spaces, each unit length
    def idf(word):
        return f.idf_word[f.word.transform([word]).indices[0]]

    assert idf("rare") == pytest.approx(math.log(4 / 2) + 1)  # in one post of three (smoothed)
    assert idf("cats") == pytest.approx(math.log(4 / 3) + 1)  # in two
    assert f.baseline_matrix(cols).shape[0] == 3


# ---- training and scoring through the CLI ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def eng_dir(corpus_dir, tmp_path_factory):
    out = tmp_path_factory.mktemp("eng") / "eng"
    assert main(["ads", "train-engagement", str(corpus_dir), "--out", str(out), "--no-progress"]) == 0
    return out


def test_train_engagement_writes_the_model_dir(eng_dir, capsys):
    meta = json.loads((eng_dir / "meta.json").read_text())
    assert meta["actions"] == ["like", "repost", "reply", "quote"]
    assert meta["models"] == ["baseline"] and meta["run_dir"] is None and "not trained" in meta["warble_head"]
    assert meta["label_spec"]["reach_source"] == "measured"  # the synthetic corpus has impressions
    assert meta["counts"]["train"]["like"]["posts"] > 1000 and meta["counts"]["validation"]["like"]["posts"] > 50
    assert set(meta["validation"]["like"]["baseline"]) >= {"rce", "pr_auc", "ece", "base_rate"}
    # Replies follow question marks strongly in the simulator: better than the base rate on unseen posts.
    assert meta["validation"]["reply"]["baseline"]["rce"] > 0
    assert (eng_dir / "weights.safetensors").is_file() and (eng_dir / "reliability.png").is_file()


def test_score_json_and_predictions(eng_dir, corpus_dir, synth_raw, tmp_path, capsys):
    preds, plot = tmp_path / "p.parquet", tmp_path / "rel.png"
    rc, out, _ = _cli(capsys, "ads", "score", "--model", eng_dir, corpus_dir, "--json", "--truth", synth_raw,
                      "--out", preds, "--plot", plot)
    assert rc == 0
    d = json.loads(out)
    assert set(d) >= {"engagements", "posts", "seconds", "posts_per_s", "model"}
    assert set(d["engagements"]) == {"like", "repost", "reply", "quote"} and d["model"] == "baseline"
    for action, e in d["engagements"].items():
        assert set(e) >= {"rce", "pr_auc", "ece", "base_rate", "n", "by_model"}, action
        assert e["rce"] == e["by_model"]["baseline"]["rce"]
        assert 0 < e["base_rate"] < 0.1 and 0 < e["pr_auc"] <= 1
    # The synthetic platform's engagement function is known: predictions must follow it.
    for action in ("like", "reply"):
        assert d["engagements"][action]["by_model"]["baseline"]["truth_pearson"] > 0.5, action
    assert "rce" in d["engagements"]["like"]["truth"]
    t = pq.read_table(preds)
    assert t.num_rows == d["posts"] and "baseline_like" in t.column_names
    assert plot.read_bytes()[:4] == b"\x89PNG"
    # The text report names the model and prints a table.
    rc, out, _ = _cli(capsys, "ads", "score", "--model", eng_dir, corpus_dir, "--split", "validation")
    assert rc == 0 and "top-level model: baseline" in out and "like" in out


def test_baseline_beats_the_base_rate_on_its_training_posts(eng_dir, corpus_dir, capsys):
    rc, out, _ = _cli(capsys, "ads", "score", "--model", eng_dir, corpus_dir, "--split", "train", "--json")
    assert rc == 0
    d = json.loads(out)
    for action in ("like", "reply"):  # strong signal (topic, media, question marks, replies)
        assert d["engagements"][action]["rce"] > 0, action


def test_warble_head_and_blend(corpus_dir, run_dir, tmp_path, capsys):
    out = tmp_path / "eng_w"
    meta = train_engagement(corpus_dir, out, run_dir=run_dir, progress=False, log=lambda s: None)
    assert meta["models"] == ["baseline", "warble", "blend"] and meta["run_dir"]
    assert set(meta["blend"]) == set(meta["actions"]) and meta["best_model"] in meta["models"]
    rc, stdout, _ = _cli(capsys, "ads", "score", "--model", out, corpus_dir, "--split", "validation", "--json")
    assert rc == 0
    d = json.loads(stdout)
    assert set(d["engagements"]["like"]["by_model"]) == {"baseline", "warble", "blend"}
    assert d["model"] == meta["best_model"]
    model = EngagementModel.load(out)
    try:
        posts = [{"text": "what a goal tonight ⚽ #football"}, {"text": "new phone who dis?", "author_followers": 5}]
        for m in ("baseline", "warble", "blend"):
            p = model.predict(posts, model=m)
            assert set(p) == set(meta["actions"]) and all(v.shape == (2,) for v in p.values())
            assert all(((v > 0) & (v < 1)).all() for v in p.values())
        assert model.predict([])["like"].shape == (0,)
    finally:
        model.close()
    # The server passes its own engine: used, checked, and left running on close().
    from warble.serve.engine import Engine

    engine = Engine.load(run_dir, device="cpu")
    try:
        shared = EngagementModel.load(out, engine=engine)
        assert shared.models == ["baseline", "warble", "blend"]
        p = shared.predict([{"text": "hello there"}], model="warble")["like"]
        shared.close()
        assert engine.embed(["still running"]).shape == (1, engine.embedding_dim)
        # Another model of the same width (here: the same vectors rotated) is refused by the probe texts.
        class OtherModel:
            embedding_dim = engine.embedding_dim

            def embed(self, texts):
                return np.roll(engine.embed(texts), 1, axis=1)

        with pytest.raises(InputError, match="not the model the Warble head was trained on"):
            EngagementModel.load(out, engine=OtherModel())
    finally:
        engine.shutdown()
    # Without the run directory the head cannot embed: the baseline is served and the notes say why.
    meta["run_dir"] = str(tmp_path / "gone")
    (out / "meta.json").write_text(json.dumps(meta))
    orphan = EngagementModel.load(out)
    assert orphan.models == ["baseline"] and orphan.best == "baseline" and "missing" in orphan.notes[0]
    assert 0 < orphan.predict([{"text": "hello there"}])["like"][0] < 1 and p.shape == (1,)


def test_python_api_baseline(eng_dir):
    model = EngagementModel.load(eng_dir)
    assert model.models == ["baseline"] and model.best == "baseline"
    p = model.predict([{"text": "big launch today! http", "author_followers": 12000, "lang": "en",
                        "created_at": "2025-07-01T18:00:00Z"}])
    assert 0 < p["like"][0] < 1
    with pytest.raises(InputError):
        model.predict([{"text": "x"}], model="warble")


# ---- error paths ------------------------------------------------------------------------------------------------

def test_errors(eng_dir, corpus_dir, tmp_path, capsys):
    (tmp_path / "plain.txt").write_text("just some text\nand more text here\n")
    assert main(["ingest", str(tmp_path / "plain.txt"), "--out", str(tmp_path / "plain"), "--no-progress"]) == 0
    capsys.readouterr()
    cases = [
        (["ads", "train-engagement", tmp_path / "nope", "--out", tmp_path / "e1"], "does not exist"),
        (["ads", "train-engagement", tmp_path, "--out", tmp_path / "e2"], "not a Warble corpus"),
        (["ads", "train-engagement", tmp_path / "plain", "--out", tmp_path / "e3"], "no engagement counts"),
        (["ads", "train-engagement", corpus_dir, "--out", eng_dir], "not empty"),
        (["ads", "train-engagement", corpus_dir, "--out", tmp_path / "e4", "--model", tmp_path / "norun"],
         "does not exist"),
        (["ads", "train-engagement", corpus_dir, "--out", tmp_path / "e5", "--C", "0"], "--C"),
        (["ads", "score", "--model", tmp_path, corpus_dir], "not an engagement model"),
        (["ads", "score", "--model", eng_dir, tmp_path / "nope"], "does not exist"),
        (["ads", "score", "--model", eng_dir, corpus_dir, "--models", "gbdt"], "unknown model"),
        (["ads", "score", "--model", eng_dir, corpus_dir, "--truth", tmp_path], "_truth"),
    ]
    for args, message in cases:
        rc, out, err = _cli(capsys, *args)
        assert rc == 2 and message in err and "Traceback" not in err, (args, err)
        assert err.startswith("warble ads: error:"), err
    # A corpus without labels is still scored: predictions, no metrics.
    rc, out, _ = _cli(capsys, "ads", "score", "--model", eng_dir, tmp_path / "plain", "--json")
    d = json.loads(out)
    assert rc == 0 and d["posts"] == 2 and d["engagements"]["like"]["rce"] is None
    (eng_dir.parent / "broken").mkdir()
    (eng_dir.parent / "broken" / "meta.json").write_text("{not json")
    (eng_dir.parent / "broken" / "weights.safetensors").write_bytes(b"junk")
    rc, _, err = _cli(capsys, "ads", "score", "--model", eng_dir.parent / "broken", corpus_dir)
    assert rc == 2 and "unreadable" in err


def test_benchmark_smoke(eng_dir, corpus_dir):
    """benchmarks/ads_engagement.py on the fixture model: one JSON object with positive rates."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "ads_engagement.py"
    p = subprocess.run([sys.executable, str(script), "--corpus", str(corpus_dir), "--eng", str(eng_dir), "--posts",
                        "300", "--batch", "100", "--repeat", "1", "--json"], capture_output=True, text=True, check=False,
                       timeout=120, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert p.returncode == 0, p.stderr[-2000:]
    out = json.loads(p.stdout)
    assert out["posts"] == 300 and out["baseline_posts_per_s"] > 0 and out["baseline_posts_per_cpu_s"] > 0
    assert isinstance(out["target_met"], bool) and out["warble_posts_per_s"] is None
