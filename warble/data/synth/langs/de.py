"""German. Nouns carry gender ('~f', '~n', default masculine); '{thing.acc}' puts a noun in the accusative.

Predicative adjectives do not inflect in German, so evaluations need no agreement; acts are infinitive phrases,
which German puts at the end of the clause, so templates end with them.
"""

CODE = "de"
WEIGHT = 0.06
TZ = 1
SPACED = True
CASED = True
LOWERCASE_USERS = 0.05

FIRST = ("Lukas|Anna|Leon|Mia|Felix|Lena|Jonas|Laura|Paul|Sophie|Tim|Marie|Niklas|Hannah|Jan|Lea|Moritz|"
         "Julia|Finn|Katharina|Emre|Aylin|Max|Johanna")
LAST = ("Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Schulz|Hoffmann|Koch|Richter|Klein|"
        "Wolf|Schröder|Neumann|Braun|Zimmermann|Krüger|Hartmann")
HANDLE_WORDS = "der|die|einfach|nur|echt|kleine|mal|team|hallo|ich"

SLOTS = dict(
    pos="großartig|der Wahnsinn|richtig gut|mega|unterschätzt|perfekt|ein Traum|überragend|ein Meisterwerk|"
        "einfach schön|besser als gedacht|zum Niederknien",
    neg="überbewertet|eine Katastrophe|peinlich|langweilig|viel zu teuer|enttäuschend|ein Witz|"
        "anstrengend|unterirdisch|zum Weinen",
    int="ehrlich gesagt|echt|wirklich|ernsthaft|absolut|irgendwie|ganz ehrlich",
    time="heute|heute Abend|am Wochenende|morgen|gerade|diese Woche|am Sonntag|schon wieder",
    open="also|mal ehrlich:|unpopuläre Meinung:|kurze Info:|Achtung:|Frage an alle:|Geständnis:|"
         "ich sag's ja nur:",
    close="Punkt.|mehr sag ich nicht|lol|haha|ernsthaft|so.|Ende der Diskussion|einfach so|xD",
    laugh="haha|hahaha|lol|xD|😂😂|hahahaha|LOL",
)

TEMPLATES = dict(
    post="{thing} ist {pos}.|{thing} war {neg}, ich bleibe dabei.|Ich kann nicht aufhören, an {thing.acc} "
         "zu denken.|Nichts geht über {thing.acc}.|Heute nur {act}, sonst nichts.|"
         "{int}, {ent} ist {pos}.|{ent} ist {neg} und keiner will es zugeben.|"
         "{num} Stunden {act} und es hat sich gelohnt.|Mein ganzes Wochenende: {act}.|"
         "Warum ist {thing} dieses Jahr so {neg}?|{thing} > {thing2}, keine Diskussion.|"
         "Ich bin immer noch nicht über {thing.acc} hinweg.|Heute Abend: {act} {emo}|"
         "Wir müssen über {thing.acc} reden.|Tag {num}: wieder {act}.|Zum ersten Mal {act} und wow.|"
         "{thing}: glatte {num}/10.|{thing} hat mir den Tag versaut.|"
         "Danke {user}, dass du mich zum {act_noun} gebracht hast.|{thing} wohnt mietfrei in meinem Kopf.|"
         "{thing} {time} war {pos} {emo}|Jedes Mal, wenn ich {thing.acc} sehe, werde ich emotional.|"
         "{ent} enttäuscht nie.|Ich will {time} einfach nur {act}.|Die Debatte über {thing.acc} nervt.",
    question="Bin ich die Einzige oder ist {thing} {neg}?|Wer will {time} auch {act}?|"
             "Wie findet ihr {thing.acc}?|Findet noch jemand, dass {ent} {pos} ist?|"
             "Soll ich anfangen, {act_zu}, oder ist es zu spät?|{user} willst du {time} {act}?|"
             "Lohnt sich {thing} wirklich?|Tipps fürs {act_noun}? Frage für einen Freund|"
             "Warum redet niemand über {thing.acc}?",
    extra="{laugh}|Ich kann nicht mehr.|Das war's.|{emo}{emo}|Egal.|Drückt mir die Daumen.|Keine Worte.|"
          "Was für Zeiten.|Ich bin so müde.|Wer ist dabei?|Und es ist erst Dienstag.|Weiter geht's.",
    news="{news}|EILMELDUNG: {news}|Berichten zufolge: {news}|Neu: {news}|{news}. Mehr dazu hier",
    reply="{pthing} war {pos}, ganz klar.|Nee, {pthing} ist {neg}.|Genau das {emo}|Absolut richtig.|"
          "So wahr {laugh}|Du findest {pthing.acc} echt {pos}? {laugh}|Geht mir genauso.|"
          "Ich schrei {laugh}|Quelle?|Bei allem Respekt, nein.|Besser kann man es nicht sagen.|"
          "{pthing} hätte mehr verdient.|Sag ich seit Jahren.|Hast du {thing.acc} gesehen?|"
          "Sehe ich komplett anders, {pthing} war {neg}.",
    quote="Das hier 👇|{laugh} wer hat das geschrieben|Lauter für die hinten.|Gespeichert.|"
          "Genau das hab ich über {pthing.acc} gesagt.|Deshalb liebe ich {tag}|Nicht schon wieder {laugh}|"
          "Einer musste es ja sagen.|Lest das, bevor ihr anfangt, {act_zu}.",
    spam="folgt mir, ich folge zurück 100% {tag} {tag}|GEWINNE ein GRATIS iPhone!! klick hier {link}|"
         "500€ am Tag von zu Hause verdienen, schreib mir {link}|1000 Follower in 24h {link}|"
         "RT + Follow zum Gewinnen {tag} {tag} {tag}",
    pii_contact="schreib mir unter {pii} wegen der Tickets|meine Mail ist {pii}, schick mir die Notizen bitte|"
                "ruft {pii} an zum Reservieren|neue Nummer: {pii}",
    pii_money="bitte überweist an {pii} danke|meine Karte {pii} wird überall abgelehnt??|"
              "Portemonnaie verloren, die Karte war {pii}",
    pii_id="das Formular wollte {pii} im Klartext|klaut nicht meine Identität: {pii} haha",
    pii_tech="mein Server unter {pii} stürzt ständig ab|wer loggt sich da von {pii} ein??",
)

TOPICS = dict(
    football=dict(
        thing="das Derby~n|der Neuzugang|der Schiri|das Siegtor in der Nachspielzeit~n|die Aufstellung~f|"
              "die zweite Halbzeit~f|das Pokalfinale~n|der Torwart|das Transferfenster~n|das Auswärtstrikot~n|"
              "der Elfmeter",
        act="das Spiel schauen|mit den Jungs kicken|über die Aufstellung streiten|die Highlights nochmal schauen",
        act_zu="Fußball zu schauen|im Verein zu spielen",
        act_noun="Fußballschauen",
        news="{ent} verpflichtet einen Stürmer bis 2030|{ent} trennt sich nach fünf Niederlagen vom Trainer|"
             "{ent} steht nach Elfmeterschießen im Finale|Kapitän von {ent} fällt für das Derby aus",
        tag="Fußball|Bundesliga|Derby",
    ),
    music=dict(
        thing="das neue Album~n|der Refrain|das Konzert~n|das Musikvideo~n|die Setlist~f|das Festival~n|"
              "die Akustikversion~f|der neue Song|meine Playlist~f",
        act="das Album in Dauerschleife hören|Playlists basteln|Gitarre lernen|im Auto mitsingen",
        act_zu="Gitarre zu lernen|Platten zu sammeln",
        act_noun="Gitarrespielen",
        news="{ent} kündigt eine Welttournee an|{ent} veröffentlicht um Mitternacht ein Überraschungsalbum|"
             "{ent} sagt drei Konzerte ab",
        tag="Musik|NeueMusik|Konzert",
    ),
    movies=dict(
        thing="das Ende~n|die Fortsetzung~f|der Trailer|der Soundtrack|der Plot-Twist|der Bösewicht|"
              "die letzte Szene~f|die Besetzung~f|die Kameraarbeit~f",
        act="allein ins Kino gehen|die Serie durchschauen|die Trilogie nochmal schauen",
        act_zu="Serien zu bingen|öfter ins Kino zu gehen",
        act_noun="Serienschauen",
        news="{ent} bricht Rekorde am Startwochenende|{ent} bekommt eine Fortsetzung|"
             "der erste Trailer zu {ent} ist endlich da",
        tag="Kino|Film|Serien",
    ),
    gaming=dict(
        thing="der neue Patch|der Endboss|der Battle Pass|die offene Welt~f|der Koop-Modus|"
              "das Ranked-Match~n|das DLC~n|der Speedrun|das Loot-System~n",
        act="mit Freunden online zocken|Ranked grinden|abends streamen|den Story-Modus durchspielen",
        act_zu="zu streamen|Speedruns zu machen",
        act_noun="Zocken",
        news="{ent} bekommt ein überraschendes Update|die Server von {ent} sind schon wieder down|"
             "{ent} erscheint im Sommer",
        tag="Gaming|Zocken|Gamer",
    ),
    kpop=dict(
        thing="das Comeback~n|die Choreo~f|der Teaser|die Fancam~f|der Lightstick|die Tour~f|das MV~n|"
              "der Live-Auftritt|das Fanmeeting~n",
        act="das MV streamen|die Choreo lernen|für die Musikshow voten|alle Albumversionen kaufen",
        act_zu="die Choreo zu lernen|Fancams zu schauen",
        act_noun="Streamen",
        news="{ent} kündigt ein Comeback für nächsten Monat an|{ent} gewinnt den ersten Platz|"
             "{ent} ergänzt neue Tourdaten",
        tag="kpop|kpopde",
    ),
    politics=dict(
        thing="der Haushalt|die Debatte~f|die Reform~f|die Wahl~f|der Steuerplan|die Rede der Ministerin~f|"
              "die Opposition~f|die neueste Umfrage~f|der Wahlkampf|das Mietgesetz~n",
        act="die Debatte schauen|den Gesetzentwurf lesen|mit meinem Onkel diskutieren|Umfragen checken",
        act_zu="mich politisch zu engagieren|wählen zu gehen",
        act_noun="Diskutieren",
        news="der Bundestag beschließt {thing.acc} nach einer Nachtsitzung|die Regierung kündigt "
             "{thing.acc} an|neue Umfrage zeigt ein Kopf-an-Kopf-Rennen",
        tag="Politik|Wahl|Debatte",
    ),
    tech=dict(
        thing="das Update~n|das neue Handy~n|der Akku|der KI-Assistent|die Beta~f|der neue Laptop|"
              "der Dark Mode|das App-Redesign~n|die Kamera~f|der Launch",
        act="um drei Uhr nachts programmieren|den neuen Laptop einrichten|die Beta testen|an einem Projekt basteln",
        act_zu="programmieren zu lernen|die Beta zu testen",
        act_noun="Programmieren",
        news="{ent} mit besserem Akku vorgestellt|{ent} auf nächstes Jahr verschoben|"
             "Sicherheitslücke in {ent} entdeckt",
        tag="Tech|KI|Programmieren",
    ),
    cooking=dict(
        ent="Käsespätzle|Apfelstrudel|Currywurst|Rouladen|Kartoffelsalat|Flammkuchen|Zwiebelkuchen",
        thing="das Rezept~n|die Soße~f|das selbstgebackene Brot~n|der Eintopf|der Nachtisch|der Teig|"
              "Omas Suppe~f|der Brunch|der Schmortopf",
        act="Brot backen|für Freunde kochen|neue Rezepte ausprobieren|Nudeln selber machen",
        act_zu="Brot zu backen|mehr zu kochen",
        act_noun="Backen",
        news="Lebensmittelpreise steigen erneut|ein kleiner Imbiss wird zum Geheimtipp der Stadt",
        tag="Kochen|Rezept|Backen",
    ),
    crypto=dict(
        thing="der Dip|der Markt|mein Portfolio~n|der neue Token|der Chart|das Halving~n|der Airdrop|"
              "die Gebühr~f|meine Wallet~f|die Rally~f",
        act="den Dip kaufen|Charts anstarren|Coins staken|die Wallet checken",
        act_zu="in Krypto zu investieren|Coins zu staken",
        act_noun="Traden",
        news="{ent} steigt über Nacht um 12%|{ent} fällt unter eine wichtige Marke|"
             "Regulierer planen neue Regeln für Börsen",
        tag="Krypto|Bitcoin",
    ),
    fitness=dict(
        thing="der Leg Day|mein neuer PR|der Proteinshake|die Routine~f|das Gym~n|der Halbmarathon|"
              "das Cardio~n|das Dehnen~n|der Ruhetag|der Spinningkurs",
        act="ins Gym gehen|im Regen laufen|Yoga machen|schwer heben|für den Marathon trainieren",
        act_zu="ins Gym zu gehen|laufen zu gehen",
        act_noun="Laufen",
        news="Studie: kurze Workouts wirken genauso gut|der Stadtmarathon ist in einer Stunde ausverkauft",
        tag="Fitness|Gym|Laufen",
    ),
    travel=dict(
        ent="Lissabon|Kyoto|Mexiko-Stadt|Seoul|Marrakesch|Reykjavík|Wien|Bali|Istanbul",
        thing="der Flug|der Umstieg|das Hotel~n|die Aussicht~f|die Zugfahrt~f|der Reisepass|"
              "das Streetfood~n|der Strand|das Hostel~n|der Sonnenuntergang",
        act="Koffer packen|die nächste Reise planen|die Altstadt erkunden|günstige Flüge suchen",
        act_zu="mehr zu reisen|Interrail zu machen",
        act_noun="Reisen",
        news="neue Flugverbindungen nach {ent} ab Sommer|Streik am Flughafen sorgt für Verspätungen",
        tag="Reisen|Urlaub|Fernweh",
    ),
    fashion=dict(
        thing="die neue Kollektion~f|diese Jacke~f|die Modenschau~f|mein Outfit~n|der Sneaker-Drop|"
              "der Secondhand-Fund|die Kampagne~f|der Look von heute",
        act="Secondhand shoppen|Outfits planen|im Sale shoppen|Klamotten selbst nähen",
        act_zu="selbst zu nähen|Secondhand zu kaufen",
        act_noun="Shoppen",
        news="{ent} zeigt die Frühjahrskollektion|die Sneaker von {ent} sind in Minuten ausverkauft",
        tag="Mode|OOTD|Style",
    ),
    pets=dict(
        thing="mein Hund|meine Katze~f|der Welpe|der Tierarztbesuch|der Spaziergang|das neue Spielzeug~n|"
              "die Adoption~f|die Badezeit~f|das Kätzchen~n",
        act="mit dem Hund rausgehen|der Katze beim Schlafen zusehen|den Welpen trainieren",
        act_zu="einen Hund zu adoptieren|Katzen zu pflegen",
        act_noun="Gassigehen",
        news="das Tierheim verzichtet am Wochenende auf Gebühren|Rekord bei Adoptionen in diesem Jahr",
        tag="Hund|Katze|Tierheim",
    ),
    climate=dict(
        thing="die Hitzewelle~f|der Waldbrand|der Klimabericht|der neue Radweg|die Dürre~f|der Sturm|"
              "die CO2-Steuer~f|der Gipfel|das Recyclingkonzept~n",
        act="mit dem Rad zur Arbeit fahren|alles recyceln|Solarmodule installieren|zur Klimademo gehen",
        act_zu="weniger zu fliegen|Fleisch zu reduzieren",
        act_noun="Radfahren",
        news="dieser Sommer war der heißeste seit Beginn der Aufzeichnungen|der Gipfel endet ohne Einigung",
        tag="Klima|Klimaschutz|Hitzewelle",
    ),
    books=dict(
        thing="das letzte Kapitel~n|die Wendung am Ende~f|mein Stapel ungelesener Bücher|die Fortsetzung~f|"
              "der Buchclub|das Hörbuch~n|das Cover~n|die Heldin~f|das Ende~n",
        act="im Bett lesen|Lieblingsbücher nochmal lesen|in die Bibliothek gehen|ein Buch in einem Rutsch lesen",
        act_zu="mehr zu lesen|einem Buchclub beizutreten",
        act_noun="Lesen",
        news="{ent} gewinnt den Buchpreis|Bibliotheken melden Rekordausleihen",
        tag="Bücher|Lesen|Buchtipp",
    ),
    space=dict(
        thing="der Start|die Sonnenfinsternis~f|der Sternschnuppenregen|das Teleskopbild~n|die Rakete~f|"
              "der Nachthimmel|der Vollmond|die Raumstation~f|der Komet",
        act="Sterne gucken|den Raketenstart live schauen|den Mond fotografieren",
        act_zu="Sterne zu beobachten|ein Teleskop zu kaufen",
        act_noun="Sternegucken",
        news="der Start wird wegen schlechtem Wetter verschoben|Astronomen entdecken einen neuen Kometen",
        tag="Weltraum|Astronomie",
    ),
)

_ACC = {"der": "den", "ein": "einen", "mein": "meinen", "dein": "deinen", "unser": "unseren", "kein": "keinen"}


def acc(noun: str, gender: str) -> str:
    """Accusative of a noun phrase. Only masculine ones change: der neue Patch -> den neuen Patch,
    mein neuer PR -> meinen neuen PR."""
    words = noun.split(" ")
    new = _ACC.get(words[0].lower())
    if gender != "m" or not new or len(words) < 2:
        return noun
    words[0] = new.capitalize() if words[0][0].isupper() else new
    for i in range(1, len(words) - 1):  # attributive adjectives between determiner and noun
        w = words[i]
        if w[:1].islower():
            words[i] = w + "n" if w.endswith("e") else (w[:-2] + "en" if w.endswith("er") else w)
    return " ".join(words)


TRANSFORMS = {"acc": acc}
