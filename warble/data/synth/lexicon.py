"""Shared vocabulary: topics, their popularity, names, emoji and hashtags that every language uses.

Everything here was written for Warble; the names of teams, bands, games, films and products are invented.
Vocabulary is kept as '|'-separated strings so a topic's whole word list reads on one line.
"""

from __future__ import annotations


def split(s: str) -> tuple[str, ...]:
    return tuple(w.strip() for w in s.split("|") if w.strip())


# name -> relative popularity (drives both interests and engagement reach); 16 topics.
TOPICS = {
    "football": 1.6,
    "music": 1.5,
    "movies": 1.3,
    "gaming": 1.3,
    "kpop": 1.2,
    "politics": 1.2,
    "tech": 1.1,
    "cooking": 1.0,
    "crypto": 0.9,
    "fitness": 0.9,
    "travel": 0.9,
    "fashion": 0.8,
    "pets": 0.8,
    "climate": 0.7,
    "books": 0.6,
    "space": 0.6,
}
TOPIC_NAMES = tuple(TOPICS)

# Proper names that read the same in every language. Topics missing here take them from the language module.
ENTITIES = {
    "football": split("Rivermouth FC|Atlético Norte|Northgate United|Sporting Vale|Real Costa|Olympique Lune|"
                      "FC Bergheim|Dynamo Aurel|Harbour City|Union Sankt Lorenz"),
    "music": split("Juniper Lane|Sol Rivera|DJ Kaito|Neon Harbor|Marina Vale|The Velvet Static|Odessa Gray|"
                   "Little Monsoon|Kasimir|Paper Satellites|Luz Marina|Echo Park Choir"),
    "movies": split("The Last Lantern|Midnight Orchard|Paper Moons|Glass Harbor|Echoes of Juno|Iron Tide|"
                    "The Quiet Year|Saltwater Kings|Velvet Rain|Northbound"),
    "gaming": split("Starfall Odyssey|Hollow Crown|Neon Drift|Tactics Arena|Pixel Farm|Grimhold|Skyforge|"
                    "Deepwell|Moonlit Racers|Ashen Realms"),
    "kpop": split("NOVA9|Starlit|LUMEN|aeri|BLAZE7|Moonveil|TWINKLE|VERTEX|SOLARIS|HANA|Seojun|Yuna"),
    "tech": split("the Pixelphone 9|Orbit OS|Nimbus Buds|the A7 chip|Lumen Glass|CodeForge|the Tessel laptop|"
                  "Quanta AI|the Vela watch|HaloSync"),
    "crypto": split("Bitcoin|Ethereum|Solana|$BTC|$ETH|$DOGE|NebulaCoin|$ORBIT|Chainlink|USDC|$PEPE"),
    "fashion": split("Maison Vell|Kodo|Lyra Studio|Northwear|Atelier Sena|Bloom & Co|Vantablue|Ruiz Denim"),
    "pets": split("Biscuit|Luna|Mochi|Pepper|Tofu|Nugget|Olive|Pancake|Miso|Coco|Bruno|Kiwi"),
    "books": split("The Salt Garden|A House of Small Hours|The Clockmaker's Daughter|Winter Ledger|"
                   "The Glass Cartographer|E. M. Calder|Noor Haddad|Iris Okonkwo|The Long Quiet"),
}

EMOJI = {
    "football": "⚽|🥅|🏟️|🔥|🙌|😤|🏆",
    "music": "🎶|🎧|🎤|🎸|💿|🥁|✨",
    "movies": "🎬|🍿|🎥|🎞️|😭|🤯",
    "gaming": "🎮|🕹️|👾|🏆|💀|🔥",
    "kpop": "💜|✨|🫶|😭|💖|🎤|🌟",
    "politics": "🗳️|🏛️|📢|🤦|👀|📰",
    "tech": "💻|📱|🤖|⚡|🔋|👀",
    "cooking": "🍳|🥘|🍜|🍰|😋|🧄|🍝",
    "crypto": "🚀|📈|📉|💎|🙌|🌕|💸",
    "fitness": "💪|🏋️|🏃|🔥|🥵|🧘",
    "travel": "✈️|🌍|🏝️|🧳|📸|🗺️|🌅",
    "fashion": "👗|👟|🧥|💅|✨|🛍️",
    "pets": "🐶|🐱|🐾|🥹|❤️|🐕",
    "climate": "🌍|🔥|🌡️|🌊|🌱|☀️",
    "books": "📚|📖|☕|🥲|✨|🔖",
    "space": "🚀|🌌|🔭|🌕|🪐|✨",
}
GENERIC_EMOJI = split("😂|🥲|😭|🔥|❤️|🙌|👏|💀|✨|😍|🤔|😤|🙃|👀|💯|🥹|😅|🤝|😎|🫠")

# English-style hashtags are used on every language's timeline; languages add their own.
TAGS = {
    "football": "football|MatchDay|derby|UCL|transfers|COYR|footballtwitter",
    "music": "NowPlaying|NewMusic|music|concert|vinyl|AOTY",
    "movies": "movies|film|cinema|FilmTwitter|Oscars|NowWatching",
    "gaming": "gaming|gamer|GamingNews|indiegames|esports|PS5|speedrun",
    "kpop": "kpop|NOVA9|LUMEN_comeback|STARLIT|kpopfancam|MoonveilDay",
    "politics": "politics|election|debate|vote|budget",
    "tech": "tech|AI|gadgets|programming|opensource|startups",
    "cooking": "cooking|foodie|recipe|homecooking|baking|foodtwitter",
    "crypto": "crypto|Bitcoin|BTC|ETH|DeFi|altcoins|HODL",
    "fitness": "fitness|gym|legday|running|workout|fitfam",
    "travel": "travel|wanderlust|travelgram|roadtrip|backpacking",
    "fashion": "fashion|OOTD|style|streetwear|thrifting",
    "pets": "dogsoftwitter|catsoftwitter|pets|adoptdontshop|caturday",
    "climate": "climate|ClimateAction|heatwave|sustainability|renewables",
    "books": "books|booktwitter|amreading|bookclub|reading",
    "space": "space|astronomy|NASA|rocketlaunch|nightsky",
}
TAGS = {k: split(v) for k, v in TAGS.items()}
EMOJI = {k: split(v) for k, v in EMOJI.items()}

# Where links point. Only reserved example domains, so no generated link names a real site.
DOMAINS = split("example.com|www.example.com|news.example.org|blog.example.net|shop.example.com|example.org|"
                "video.example.net|m.example.com")
LINK_WORDS = split("story|update|review|guide|video|thread|live|photos|interview|report|recap|deal|watch|read")

# The app a post was sent from. Humans use the official clients; bots use automation services.
HUMAN_SOURCES = (("Twitter for iPhone", 0.45), ("Twitter for Android", 0.35), ("Twitter Web App", 0.18),
                 ("TweetDeck", 0.02))
BOT_SOURCES = split("AutoTweetBot|dlvr.it|IFTTT|twittbot.net|PostBurst Scheduler|FeedPusher")
