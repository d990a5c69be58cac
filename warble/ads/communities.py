"""Interest communities learned from a search index's live posts, in the spirit of Twitter's SimClusters.

SimClusters (Satuluri et al., KDD 2020) clusters the bipartite producer-consumer graph into communities, gives every
producer a "known for" community, then every user a sparse "interested in" vector over communities. Here the
bipartite graph is authors x what they post (words, hashtags, the accounts they mention or reply to), plus the
mean embedding of their posts:

1. Author profiles: the LSA (truncated SVD, 128 dims) of the author's TF-IDF row (sublinear tf, terms in 2+ and at
   most 20% of authors), and the author's mean post embedding (each post centred on its language's mean), both
   L2-normalised. Communities are clustered on the term profile by default (`term_weight` mixes in the embedding):
   on the 50k-post synthetic corpus the CPU-preset model's embeddings carry no topic signal (lookalikes by
   embedding score at chance; docs), while terms and hashtags do.
2. "Producers" (authors with at least `min_posts` posts, whose profiles are reliable) are clustered with spherical
   k-means (k-means on unit vectors, i.e. on cosine): cheap, deterministic with a seed, and what spectral
   clustering of the producers' cosine-similarity graph approximates at this size. Each language's producers are
   clustered apart (K split in proportion), since words and embeddings separate languages before topics. K is
   given, or about sqrt(producers).
3. Every author, producer or not, gets a sparse membership vector: its cosine to each community centroid, keeping
   the top `max_memberships` that are positive and within `keep_ratio` of its best.

A community is summarised by class-based TF-IDF (a term's frequency in the community times its log-rarity across
communities): top terms, top hashtags, and the posts nearest its embedding centroid as examples.

The learned state is cached under idx/audience/ (communities.json + arrays.npz), keyed by the index's state (its
post count, newest key, compliance lists and embedder) and the learning options, so the next call only loads it.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from warble.errors import ConfigError, InputError

FORMAT = "warble.audience-communities/v1"
CACHE_DIR = "audience"

# ----------------------------------------------------------------------------------------------------- terms
# Short stop lists for the corpus's Latin-script languages (English comes from scikit-learn); rarer function words
# are handled by TF-IDF's max_df and by the class-based IDF of the summaries.
_STOP_TEXT = """
el la los las de del que en un una por con para es lo al se su sus mas pero como muy este esta esto ya hay todo
eso ser son fue tengo tiene mi me te tu yo nos le les sin sobre cuando donde
o os as um uma do da dos das em no na nos nas ao aos com por para mais mas como muito isso esse essa eu voce ele
ela ter tem foi estou ate sem seu sua meu minha pra
le les des du une et est pas pour dans sur avec qui que ce cette ces mon ma mes ton ta je tu il elle nous vous ils
au aux ou mais plus tout tres fait suis son sa leurs leur avoir etre
der die das und ist nicht ein eine einen dem den des mit auf fur von zu im ich du er sie wir ihr es auch aber noch
nur mal schon wie was wenn bei aus nach oder sehr mein meine hab habe ist sind war
user http https amp rt via
"""
_STOP_EXTRA = frozenset(_STOP_TEXT.split())
_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE_OR_TAG = re.compile(r"[@#＠＃][\w]+")
_PLACEHOLDER = re.compile(r"<[a-z_]+>")
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]+")
_WORD = re.compile(r"[^\W\d_]{3,}")


def _stopwords() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(ENGLISH_STOP_WORDS) | _STOP_EXTRA


_STOP: frozenset[str] | None = None


def text_terms(text: str) -> list[str]:
    """Salient words of a text: lowercase words of 3+ letters minus stop words, and character bigrams of CJK runs
    (Japanese and Korean have no spaces). Links, @mentions, #hashtags and PII placeholders are left out: hashtags
    and mentions come from the post's own fields."""
    global _STOP
    if _STOP is None:
        _STOP = _stopwords()
    text = _PLACEHOLDER.sub(" ", _HANDLE_OR_TAG.sub(" ", _URL.sub(" ", text.lower())))
    out = []
    for run in _CJK.findall(text):
        out.extend(run[i:i + 2] for i in range(max(1, len(run) - 1)))
    text = _CJK.sub(" ", text)
    out.extend(w for w in _WORD.findall(text) if w not in _STOP)
    return out


def post_terms(text: str, hashtags: list[str], mentions: list[str]) -> list[str]:
    """The features a post gives its author: its words, `#tag` per hashtag and `@handle` per account it mentions
    or replies to (the author-to-author edges of the bipartite graph)."""
    return text_terms(text) + ["#" + h.lower() for h in hashtags] + ["@" + m.lower() for m in mentions]


# ----------------------------------------------------------------------------------------------------- live posts
@dataclass
class LivePosts:
    """Column arrays of an index's live posts, with authors numbered 0..A-1."""

    ids: list[str]
    texts: list[str]
    langs: list[str]
    hashtags: list[list[str]]
    mentions: list[list[str]]
    author: np.ndarray  # [N] int32: index into `authors`
    created_ms: np.ndarray  # [N] int64 (ms since the epoch; 0 when unknown)
    authors: list[str]
    handles: list[str]
    vectors: np.ndarray | None  # [N, d] float32, the index's stored post embeddings (None: lexical-only index)

    def __len__(self) -> int:
        return len(self.ids)


def _iter_live(index, batch: int = 20_000):
    """(rows, vectors or None) per batch of live posts.

    Uses `SearchIndex.iter_live(batch=, vectors=True)` when the index offers it (requested from the index's owner);
    until then the index's store of record, which yields live rows only (deleted posts and opted-out authors are
    never there) and the embeddings it caches."""
    if hasattr(index, "iter_live"):
        yield from index.iter_live(batch=batch, vectors=True)
        return
    store = getattr(index, "store", None)
    if store is None:
        raise ConfigError(f"{type(index).__name__} cannot list its live posts yet (needs iter_live); use the "
                          "embedded index backend")
    vec_of: dict[int, np.ndarray] = {}
    if index.spec.get("kind", "none") != "none":
        for keys, vecs, _ in store.iter_vectors(batch=batch):
            vec_of.update(zip(keys.tolist(), vecs))
    for rows in store.iter_live(batch=batch):
        vecs = None
        if vec_of:
            vecs = np.stack([vec_of[k] for k, _ in rows]).astype(np.float32)
        yield [r for _, r in rows], vecs


def read_live_posts(index, progress: bool = False) -> LivePosts:
    """Every live post of an open SearchIndex (deleted posts and opted-out authors are not live)."""
    ids, texts, langs, tags, mentions, author, created, vecs = [], [], [], [], [], [], [], []
    number: dict[str, int] = {}
    handles: list[str] = []
    total = index.stats()["posts"]
    with tqdm(total=total, desc="read posts", unit="post", file=sys.stderr, disable=not progress,
              dynamic_ncols=True, leave=False) as bar:
        for rows, v in _iter_live(index):
            for r in rows:
                a = number.setdefault(r["author_id"], len(number))
                if a == len(handles):
                    handles.append(r.get("author_handle") or "")
                ids.append(r["id"])
                texts.append(r["text"] or "")
                langs.append(r.get("lang") or "und")
                tags.append(list(r.get("hashtags") or []))
                mentions.append(list(r.get("mentions") or []))
                author.append(a)
                c = r.get("created_at")
                created.append(int(c.timestamp() * 1000) if hasattr(c, "timestamp") else int(c or 0))
            if v is not None:
                vecs.append(np.asarray(v, dtype=np.float32))
            bar.update(len(rows))
    if not ids:
        raise InputError(f"{index.path}: the index holds no live posts")
    return LivePosts(ids=ids, texts=texts, langs=langs, hashtags=tags, mentions=mentions, author=np.asarray(author, np.int32),
                     created_ms=np.asarray(created, np.int64), authors=list(number), handles=handles,
                     vectors=np.concatenate(vecs) if vecs else None)


def index_state(index) -> dict:
    """What the learned communities depend on: a change in any of these means relearning."""
    s = index.stats()
    keys = ("posts", "max_key", "dead_not_compacted", "opted_out_authors", "deleted_ids", "embedder")
    return {"path": str(Path(index.path).resolve()), **{k: s.get(k) for k in keys}}


# ----------------------------------------------------------------------------------------------------- profiles
def _normalize(x: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def author_documents(posts: LivePosts) -> list[list[str]]:
    docs: list[list[str]] = [[] for _ in posts.authors]
    for i, a in enumerate(posts.author):
        docs[a].extend(post_terms(posts.texts[i], posts.hashtags[i], posts.mentions[i]))
    return docs


def mean_embeddings(posts: LivePosts) -> tuple[np.ndarray, np.ndarray] | tuple[None, None]:
    """(each author's mean post embedding, centred, L2-normalised; the corpus mean). Each post is centred on the
    mean of its language: that removes the direction every embedding shares and the language's own, which
    otherwise dominate every cosine (the model's embeddings say more about the language than the topic)."""
    if posts.vectors is None:
        return None, None
    mu = posts.vectors.mean(axis=0)
    centred = posts.vectors - mu
    langs = np.asarray(posts.langs)
    for lang in np.unique(langs):
        sel = langs == lang
        centred[sel] -= centred[sel].mean(axis=0)
    sums = np.zeros((len(posts.authors), posts.vectors.shape[1]), np.float64)
    np.add.at(sums, posts.author, centred)
    return _normalize(sums).astype(np.float32), mu.astype(np.float32)


def author_languages(posts: LivePosts) -> list[str]:
    """Each author's most frequent post language."""
    counts: list[Counter] = [Counter() for _ in posts.authors]
    for a, lang in zip(posts.author, posts.langs):
        counts[a][lang] += 1
    return [c.most_common(1)[0][0] for c in counts]


def term_profiles(docs: list[list[str]], dims: int, seed: int):
    """(TF-IDF matrix [A, V] sparse, its vocabulary, LSA profile [A, dims] L2-normalised)."""
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    min_df = 2 if len(docs) >= 20 else 1
    vec = TfidfVectorizer(analyzer=lambda d: d, min_df=min_df, max_df=0.2, sublinear_tf=True)
    try:
        tfidf = vec.fit_transform(docs)
    except ValueError:  # no term survives (a tiny or empty corpus)
        vec = TfidfVectorizer(analyzer=lambda d: d, sublinear_tf=True)
        tfidf = vec.fit_transform([d or ["<empty>"] for d in docs])
    vocab = vec.get_feature_names_out().tolist()
    dims = max(1, min(dims, tfidf.shape[1] - 1, tfidf.shape[0] - 1))
    lsa = TruncatedSVD(n_components=dims, random_state=seed).fit_transform(tfidf) if dims > 1 else tfidf.toarray()
    return tfidf, vocab, _normalize(lsa.astype(np.float32))


def combine_profiles(lsa: np.ndarray, emb: np.ndarray | None, term_weight: float) -> np.ndarray:
    """One unit vector per author: the term half weighted `term_weight`, the embedding half the rest."""
    if emb is None or term_weight >= 1:
        return lsa
    if term_weight <= 0:
        return emb
    return _normalize(np.hstack([math.sqrt(term_weight) * lsa, math.sqrt(1 - term_weight) * emb]))


# ----------------------------------------------------------------------------------------------------- learning
@dataclass
class Communities:
    """The learned communities and every author's profile and memberships."""

    meta: dict  # cache key, options, timings
    communities: list[dict]  # id, size_authors, members, producers, top_hashtags, top_terms, examples, term_weights
    authors: list[str]
    handles: list[str]
    lsa: np.ndarray  # [A, D] float32 unit vectors: the authors' term profiles
    emb: np.ndarray | None  # [A, d] float32 unit vectors: the authors' mean post embeddings (centred)
    membership: np.ndarray  # [A, K] float32, sparse in content: zero except an author's top communities
    centroids: np.ndarray  # [K, D] profile-space centroids
    emb_centroids: np.ndarray | None  # [K, d] community mean post embedding minus the corpus mean, unit vectors
    emb_mean: np.ndarray | None  # [d] corpus mean post embedding
    post_author: np.ndarray  # [N] int32
    post_ms: np.ndarray  # [N] int64

    @property
    def k(self) -> int:
        return len(self.communities)

    def profiles(self, kind: str = "terms") -> np.ndarray:
        """Author profiles to compare: "terms" (LSA of TF-IDF), "embedding" (mean post embedding) or "both"."""
        if kind == "terms" or self.emb is None:
            return self.lsa
        return self.emb if kind == "embedding" else combine_profiles(self.lsa, self.emb, 0.5)

    def author_number(self) -> dict[str, int]:
        return {a: i for i, a in enumerate(self.authors)}

    # ------------------------------------------------------------------------------------------------ cache files
    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        arrays = {"lsa": self.lsa.astype(np.float16), "membership": self.membership,
                  "centroids": self.centroids, "post_author": self.post_author, "post_ms": self.post_ms}
        if self.emb_centroids is not None:
            arrays.update(emb=self.emb.astype(np.float16), emb_centroids=self.emb_centroids, emb_mean=self.emb_mean)
        tmp = directory / "arrays.tmp.npz"
        np.savez_compressed(tmp, **arrays)
        tmp.replace(directory / "arrays.npz")
        doc = {"format": FORMAT, "meta": self.meta, "authors": self.authors, "handles": self.handles,
               "communities": self.communities}
        tmp = directory / "communities.tmp.json"
        tmp.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
        tmp.replace(directory / "communities.json")  # written last: its presence means the arrays are complete

    @classmethod
    def load(cls, directory: Path) -> Communities | None:
        try:
            doc = json.loads((directory / "communities.json").read_text(encoding="utf-8"))
            z = np.load(directory / "arrays.npz")
        except (OSError, ValueError):
            return None
        if doc.get("format") != FORMAT:
            return None
        return cls(meta=doc["meta"], communities=doc["communities"], authors=doc["authors"], handles=doc["handles"],
                   lsa=z["lsa"].astype(np.float32), emb=z["emb"].astype(np.float32) if "emb" in z else None,
                   membership=z["membership"], centroids=z["centroids"],
                   emb_centroids=z.get("emb_centroids"),
                   emb_mean=z.get("emb_mean"), post_author=z["post_author"],
                   post_ms=z["post_ms"])


@dataclass(frozen=True)
class LearnOptions:
    k: int | None = None  # None: default_k(producers)
    min_posts: int = 3  # a producer has at least this many posts
    term_weight: float = 1.0  # share of the term (LSA) half in the clustering profile; the rest: mean embedding
    lsa_dims: int = 128
    max_memberships: int = 3
    keep_ratio: float = 0.6  # keep a membership within this fraction of the author's best cosine
    by_language: bool = True  # cluster each language's producers apart (see _cluster)
    seed: int = 0

    def key(self) -> dict:
        return dict(self.__dict__)


# Profile defaults per embedder kind, measured on the 50k-post synthetic corpus (docs): the CPU-preset Warble model's
# embeddings carry no topic signal there (lookalikes at chance), all-MiniLM-L6-v2's do (lookalike p@50 0.62 against
# 0.36 for terms; clustering on terms + embeddings lifts brief targeting p@50 from 0.74 to 0.91).
EMBEDDER_DEFAULTS = {"minilm": {"term_weight": 0.5, "similarity": "embedding"}}
FALLBACK_DEFAULTS = {"term_weight": 1.0, "similarity": "terms"}


def profile_defaults(index) -> dict:
    """{"term_weight", "similarity"} for an index, by the kind of embedder it was built with."""
    return EMBEDDER_DEFAULTS.get(index.spec.get("kind"), FALLBACK_DEFAULTS)


def default_k(producers: int) -> int:
    """K when not given: about the square root of the number of producers (the usual rule of thumb), 2 to 96.
    A silhouette search over K was tried and rejected: it prefers the few language clusters to topics."""
    return int(min(96, max(2, round(math.sqrt(producers)))))


def _split_k(sizes: dict[str, int], k: int) -> dict[str, int]:
    """K communities shared among languages in proportion to their producers (largest remainder), at least one
    each; languages too small for a community of their own (< MIN_GROUP producers) share one group."""
    total = sum(sizes.values())
    exact = {g: k * n / total for g, n in sizes.items()}
    alloc = {g: max(1, int(v)) for g, v in exact.items()}
    for g in sorted(exact, key=lambda g: int(exact[g]) - exact[g]):
        if sum(alloc.values()) >= k:
            break
        alloc[g] += 1
    return {g: min(a, sizes[g]) for g, a in alloc.items()}


MIN_GROUP = 10


def _cluster(x: np.ndarray, langs: list[str], k: int, opts: LearnOptions):
    """Spherical k-means, run per language when `opts.by_language` (the K communities split among languages):
    terms and the model's embeddings both separate languages first, so one global k-means spends most of its K
    on languages and mixes topics inside them. Returns (labels, unit centroids, each community's language)."""
    from sklearn.cluster import KMeans

    groups = np.asarray(langs if opts.by_language else ["*"] * len(langs), dtype=object)
    sizes = Counter(groups.tolist())
    small = {g for g, n in sizes.items() if n < MIN_GROUP}
    if small and len(small) < len(sizes):
        groups[np.isin(groups, list(small))] = "*"
        sizes = Counter(groups.tolist())
    labels = np.zeros(len(x), np.int64)
    centroids, comm_langs = [], []
    for g, kg in sorted(_split_k(dict(sizes), k).items()):
        sel = np.flatnonzero(groups == g)
        km = KMeans(kg, n_init=4, random_state=opts.seed).fit(x[sel])
        labels[sel] = km.labels_ + len(centroids)
        centroids.extend(km.cluster_centers_)
        comm_langs.extend([g if g != "*" else None] * kg)
    return labels, _normalize(np.asarray(centroids, np.float32)), comm_langs


def _c_tfidf(counts: list[Counter], top: int) -> list[list[tuple[str, float]]]:
    """Class-based TF-IDF: a term's share in a community times log(1 + mean community size / its total count)."""
    total = Counter()
    for c in counts:
        total.update(c)
    mean_size = sum(sum(c.values()) for c in counts) / max(1, len(counts))
    out = []
    for c in counts:
        n = sum(c.values()) or 1
        scored = [(t, (v / n) * math.log(1 + mean_size / total[t])) for t, v in c.items() if v >= 2 or len(c) < 50]
        scored.sort(key=lambda tv: -tv[1])
        out.append(scored[:top])
    return out


def learn(posts: LivePosts, opts: LearnOptions, *, state: dict | None = None, progress: bool = False) -> Communities:
    """Learn communities from an index's live posts (see the module docstring)."""
    t0 = time.perf_counter()
    steps = tqdm(total=5, desc="communities", file=sys.stderr, disable=not progress, dynamic_ncols=True, leave=False)
    docs = author_documents(posts)
    _, vocab, lsa = term_profiles(docs, opts.lsa_dims, opts.seed)
    emb, emb_mu = mean_embeddings(posts)
    profiles = combine_profiles(lsa, emb, opts.term_weight)
    steps.update()

    n_posts = np.bincount(posts.author, minlength=len(posts.authors))
    producers = np.flatnonzero(n_posts >= opts.min_posts)
    want = opts.k or 8
    for floor in (opts.min_posts - 1, 1):  # a small corpus: lower the bar until there are enough producers
        if len(producers) >= 5 * want:
            break
        producers = np.flatnonzero(n_posts >= max(1, floor))
    x = profiles[producers]
    k = max(1, min(opts.k or default_k(len(producers)), len(producers)))
    steps.update()
    langs = author_languages(posts)
    labels, centroids, comm_langs = _cluster(x, [langs[a] for a in producers], k, opts)
    k = len(centroids)
    steps.update()

    # Memberships ("interested in"): cosine to each centroid, the author's top few, near its best.
    sims = profiles @ centroids.T
    membership = np.zeros_like(sims)
    top = np.argsort(-sims, axis=1)[:, :opts.max_memberships]
    best = sims[np.arange(len(sims)), top[:, 0]]
    for j in range(top.shape[1]):
        s = sims[np.arange(len(sims)), top[:, j]]
        ok = (s > 0) & (s >= opts.keep_ratio * best)
        membership[np.flatnonzero(ok), top[ok, j]] = s[ok]
    primary = np.where(membership.max(axis=1) > 0, membership.argmax(axis=1), -1)

    emb_centroids = None
    if emb is not None:
        post_primary = primary[posts.author]
        emb_centroids = np.zeros((k, posts.vectors.shape[1]), np.float32)
        for c in range(k):
            sel = post_primary == c
            if sel.any():
                emb_centroids[c] = posts.vectors[sel].mean(axis=0) - emb_mu
        emb_centroids = _normalize(emb_centroids)
    steps.update()

    communities = _summaries(posts, k, primary, membership, labels, comm_langs, emb_centroids, emb_mu)
    steps.update()
    steps.close()
    meta = {"state": state or {}, "options": opts.key(), "k": k,
            "producers": len(producers), "authors": len(posts.authors), "posts": len(posts),
            "vocabulary": len(vocab), "learn_seconds": round(time.perf_counter() - t0, 3)}
    return Communities(meta=meta, communities=communities, authors=posts.authors, handles=posts.handles,
                       lsa=lsa, emb=emb, membership=membership.astype(np.float32), centroids=centroids,
                       emb_centroids=emb_centroids, emb_mean=emb_mu, post_author=posts.author,
                       post_ms=posts.created_ms)


def _summaries(posts: LivePosts, k: int, primary: np.ndarray, membership: np.ndarray, labels: np.ndarray,
               comm_langs: list[str | None], emb_centroids: np.ndarray | None, emb_mu: np.ndarray | None) -> list[dict]:
    terms = [Counter() for _ in range(k)]  # words and #hashtags together: what a brief's keywords match
    for i, a in enumerate(posts.author):
        c = primary[a]
        if c >= 0:
            terms[c].update(text_terms(posts.texts[i]) + ["#" + h.lower() for h in posts.hashtags[i]])
    weights = _c_tfidf(terms, 300)
    out = []
    for c in range(k):
        members = np.flatnonzero(membership[:, c] > 0)
        out.append({
            "id": c,
            "lang": comm_langs[c],
            "size_authors": int((primary == c).sum()),  # authors whose strongest community this is
            "members": len(members),  # authors with any membership in it
            "producers": int((labels == c).sum()),
            "top_hashtags": [t for t, _ in weights[c] if t.startswith("#")][:10],
            "top_terms": [t for t, _ in weights[c] if not t.startswith("#")][:15],
            "term_weights": {t: round(w, 6) for t, w in weights[c]},
            "examples": _examples(posts, c, primary, membership, emb_centroids, emb_mu),
        })
    return out


def _examples(posts: LivePosts, c: int, primary: np.ndarray, membership: np.ndarray,
              emb_centroids: np.ndarray | None, emb_mu: np.ndarray | None, n: int = 3) -> list[dict]:
    """The community's most typical posts: nearest its embedding centroid (else by the author's membership)."""
    sel = np.flatnonzero(primary[posts.author] == c)
    if not len(sel):
        return []
    if emb_centroids is not None:
        score = (posts.vectors[sel] - emb_mu) @ emb_centroids[c]
    else:
        score = membership[posts.author[sel], c]
    out, seen = [], set()
    for i in sel[np.argsort(-score)]:
        text = posts.texts[i]
        if text in seen:
            continue
        seen.add(text)
        out.append({"id": posts.ids[i], "text": text})
        if len(out) == n:
            break
    return out


def load_or_learn(index, opts: LearnOptions, *, rebuild: bool = False, progress: bool = False,
                  cache_dir: str | Path | None = None) -> tuple[Communities, bool]:
    """(communities, came from the cache). The cache is idx/audience/ unless `cache_dir`; it is reused only when
    the index's state and the options match what it was learned from."""
    state = index_state(index)
    directory = Path(cache_dir) if cache_dir else Path(index.path) / CACHE_DIR
    if not rebuild:
        cached = Communities.load(directory)
        if cached is not None and cached.meta.get("state") == state and cached.meta.get("options") == opts.key():
            return cached, True
    comms = learn(read_live_posts(index, progress=progress), opts, state=state, progress=progress)
    try:
        comms.save(directory)
    except OSError as e:  # a read-only index directory: work without the cache
        print(f"warning: cannot cache communities in {directory}: {e}", file=sys.stderr)
    return comms, False
