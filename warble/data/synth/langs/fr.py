"""French. Nouns carry gender ('~f'); 'x/y' adjectives agree; acts are infinitives; elision is fixed at the end."""

import re

CODE = "fr"
WEIGHT = 0.07
TZ = 1
SPACED = True
CASED = True
LOWERCASE_USERS = 0.15

FIRST = ("Camille|Léa|Hugo|Louis|Chloé|Manon|Lucas|Inès|Théo|Jade|Nathan|Emma|Raphaël|Sarah|Mathis|"
         "Clara|Yanis|Zoé|Antoine|Margaux|Bastien|Amandine|Karim|Océane")
LAST = ("Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau|Simon|Laurent|Lefebvre|"
        "Michel|Garnier|Faure|Rousseau|Blanc|Fontaine|Chevalier")
HANDLE_WORDS = "la|le|petit|petite|juste|vrai|team|mlle|mr|pti|jsuis"

SLOTS = dict(
    pos="incroyable|génial/géniale|magnifique|parfait/parfaite|trop bien|une pépite|exceptionnel/exceptionnelle|"
        "sous-coté/sous-cotée|fou/folle|un chef-d'œuvre|vraiment réussi/vraiment réussie|canon",
    neg="nul/nulle|surcoté/surcotée|une catastrophe|décevant/décevante|chiant/chiante|ridicule|"
        "beaucoup trop cher/beaucoup trop chère|gênant/gênante|un désastre|moyen/moyenne",
    int="franchement|sérieusement|honnêtement|littéralement|clairement|carrément|vraiment",
    time="ce soir|aujourd'hui|ce week-end|demain|là maintenant|cette semaine|dimanche|encore aujourd'hui",
    open="bon|alors|avis impopulaire :|petit rappel :|je dis ça je dis rien mais|vraie question :|"
         "thread :|info :|j'avoue,",
    close="voilà|c'est tout|point final|mdr|je dis ça|bref|je maintiens|tkt|ptdr|fin du débat",
    laugh="mdr|mdrrr|ptdr|hahaha|MDR|jpp|😂😂|ahah",
)

TEMPLATES = dict(
    post="{thing} est {pos}.|{thing} était {neg}, je l'ai dit.|J'arrête pas de penser à {thing}.|"
         "Rien de mieux que {act} {time}.|J'ai passé la journée à {act} et je regrette rien.|"
         "{int}, {ent} est {pos}.|{ent} est {neg} et personne veut l'admettre.|"
         "J'ai passé {num} heures à {act}, ça valait le coup.|Tout mon week-end : {act}.|"
         "Pourquoi {thing} est {neg} cette année ?|{thing} > {thing2}, débat clos.|"
         "Je suis toujours pas remis de {thing}.|Ce soir : {act} {emo}|Faut qu'on parle de {thing}.|"
         "Jour {num} à {act} : je tiens bon.|J'ai testé {act} pour la première fois et waouh.|"
         "{thing} et {thing2} la même semaine, je suis pas prête.|Je donne {num}/10 à {thing}.|"
         "{thing} m'a gâché la journée.|Merci {user} de m'avoir mis à {act}.|"
         "Mon défaut : {act} au lieu de dormir.|{thing} habite dans ma tête.|"
         "{thing} {time} c'était {pos} {emo}|À chaque fois que je vois {thing} je suis ému.|"
         "{ent} ne déçoit jamais.|Je suis avec {user}, on est en train de {act}.|"
         "Le débat sur {thing} me fatigue.",
    question="C'est moi ou {thing} est {neg} ?|Qui d'autre va {act} {time} ?|Vous pensez quoi de {thing} ?|"
             "Quelqu'un d'autre trouve que {ent} est {pos} ?|Je devrais commencer à {act} ou c'est trop tard ?|"
             "{user} tu vas {act} {time} ?|Sérieux, {thing} vaut le coup ?|"
             "Des conseils pour {act} ? C'est pour un ami|Pourquoi personne parle de {thing} ?",
    extra="{laugh}|J'en peux plus.|C'est tout.|{emo}{emo}|Bref.|Souhaitez-moi bonne chance.|Aucun mot.|"
          "Quelle époque.|Je suis épuisée.|Qui est chaud ?|Et on est que mardi.|On avance.",
    news="{news}|URGENT : {news}|Selon la presse, {news}|Info : {news}|{news}. Plus d'infos ici",
    reply="{pthing} était {pos}, point.|Non, {pthing} est {neg}.|Exactement {emo}|Tellement d'accord.|"
          "Trop vrai {laugh}|Tu trouves vraiment que {pthing} est {pos} ? {laugh}|Pareil, {act} {time}.|"
          "Je suis morte {laugh}|Source ?|Avec tout le respect, non.|On peut pas mieux dire.|"
          "{pthing} méritait mieux.|Je le dis depuis des années.|Mais t'as vu {thing} ?|"
          "Pas du tout d'accord, {pthing} était {neg}.",
    quote="Ça 👇|{laugh} qui a écrit ça|Plus fort pour ceux du fond.|Je garde.|"
          "Exactement ce que je disais sur {pthing}.|Voilà pourquoi j'aime {tag}|Pas encore ça {laugh}|"
          "Il fallait que quelqu'un le dise.|Lisez ça avant de {act}.",
    spam="abonne-toi je te suis en retour 100% {tag} {tag}|GAGNE un iPhone GRATUIT!! clique ici {link}|"
         "gagne 500€ par jour depuis chez toi, écris-moi {link}|1000 abonnés en 24h {link}|"
         "RT + follow pour gagner {tag} {tag} {tag}",
    pii_contact="écris-moi au {pii} pour les places|mon mail c'est {pii}, envoie-moi les notes stp|"
                "appelez le {pii} pour réserver|nouveau numéro : {pii}",
    pii_money="faites le virement sur {pii} merci|ma carte {pii} est refusée partout ??|"
              "j'ai perdu mon portefeuille, la carte c'était {pii}",
    pii_id="le formulaire m'a demandé {pii} en clair|volez pas mon identité : {pii} mdr",
    pii_tech="mon serveur {pii} plante encore|qui se connecte depuis {pii} ??",
)

TOPICS = dict(
    football=dict(
        thing="le derby|la nouvelle recrue~f|l'arbitre|le but à la dernière minute|la compo~f|"
              "la deuxième mi-temps~f|la finale~f|le gardien|le mercato|le maillot extérieur|le penalty",
        act="regarder le match|jouer au foot avec les potes|râler sur la compo|revoir les résumés",
        news="{ent} recrute un attaquant pour quatre saisons|{ent} se sépare de son entraîneur après cinq "
             "défaites|{ent} file en finale aux tirs au but|le capitaine de {ent} forfait pour le derby",
        tag="foot|Ligue1|football",
    ),
    music=dict(
        thing="le nouvel album|le refrain|le concert|le clip|la setlist~f|le festival|"
              "la version acoustique~f|la nouvelle chanson~f|ma playlist~f",
        act="écouter l'album en boucle|faire des playlists|apprendre la guitare|chanter dans la voiture",
        news="{ent} annonce une tournée mondiale|{ent} sort un album surprise à minuit|"
             "{ent} annule trois concerts",
        tag="musique|concert|NouvelleMusique",
    ),
    movies=dict(
        thing="la fin~f|la suite~f|la bande-annonce~f|la bande originale~f|le twist|le méchant|"
              "la dernière scène~f|le casting|la photo~f|la scène post-générique~f",
        act="aller au ciné seul|binger la série|revoir la trilogie|faire ma liste de films",
        news="{ent} explose le box-office|{ent} aura une suite avec le casting original|"
             "la bande-annonce de {ent} est enfin sortie",
        tag="cinéma|film|séries",
    ),
    gaming=dict(
        thing="le nouveau patch|le boss final|le passe de combat|le monde ouvert|le mode coop|"
              "la partie classée~f|le DLC|le speedrun|le système de loot",
        act="jouer en ligne avec les potes|grind la ranked|streamer le soir|finir le mode histoire",
        news="{ent} reçoit une mise à jour surprise|les serveurs de {ent} tombent encore|"
             "{ent} sortira cet été",
        tag="gaming|jeuxvidéo|gamer",
    ),
    kpop=dict(
        thing="le comeback|la choré~f|le teaser|la fancam~f|le lightstick|la tournée~f|le MV|"
              "la perf en live~f|le fanmeeting|le concept",
        act="streamer le MV|apprendre la choré|voter pour les émissions|acheter toutes les versions",
        news="{ent} annonce un comeback le mois prochain|{ent} gagne la première place|"
             "{ent} ajoute des dates à sa tournée",
        tag="kpop|kpopfr",
    ),
    politics=dict(
        thing="le budget|le débat|la réforme~f|l'élection~f|le plan fiscal|le discours du ministre|"
              "l'opposition~f|le dernier sondage|la campagne~f|la loi logement~f",
        act="regarder le débat|lire la réforme|débattre avec mon oncle|suivre les sondages",
        news="l'Assemblée adopte {thing} après une nuit de débats|le gouvernement annonce {thing}|"
             "un nouveau sondage montre un duel serré",
        tag="politique|élections|débat",
    ),
    tech=dict(
        thing="la mise à jour~f|le nouveau téléphone|la batterie~f|l'assistant IA|la bêta~f|"
              "le nouveau portable|le mode sombre|la refonte de l'appli~f|l'appareil photo|le lancement",
        act="coder à 3h du matin|configurer mon nouveau PC|tester la bêta|bosser sur un projet perso",
        news="{ent} dévoilé avec une meilleure batterie|{ent} repoussé à l'an prochain|"
             "une faille de sécurité découverte dans {ent}",
        tag="tech|IA|dev",
    ),
    cooking=dict(
        ent="la ratatouille~f|le bœuf bourguignon|les crêpes~f|la quiche~f|le gratin dauphinois|"
            "la tarte Tatin~f|les croissants",
        thing="la recette~f|la sauce~f|le pain maison|le gratin|le dessert|la pâte~f|"
              "la soupe de ma grand-mère~f|le brunch|la cocotte~f",
        act="faire du pain|cuisiner pour les potes|tester de nouvelles recettes|faire des pâtes maison",
        news="les prix alimentaires repartent à la hausse|une petite crêperie devient la plus courue de la ville",
        tag="cuisine|recette|faitmaison",
    ),
    crypto=dict(
        thing="la chute~f|le marché|mon portefeuille|le nouveau token|le graphique|le halving|"
              "l'airdrop|les frais~f|mon wallet|le rallye",
        act="acheter la baisse|regarder les graphiques|faire du staking|vérifier mon wallet",
        news="{ent} bondit de 12% en une nuit|{ent} passe sous un seuil clé|"
             "les régulateurs proposent de nouvelles règles",
        tag="crypto|cryptomonnaie",
    ),
    fitness=dict(
        thing="le leg day|mon nouveau record|le shaker de protéines|la routine~f|la salle~f|"
              "le semi-marathon|le cardio|les étirements~f|le jour de repos|le cours de spinning",
        act="aller à la salle|courir sous la pluie|faire du yoga|soulever lourd|préparer le marathon",
        news="une étude montre que les séances courtes marchent aussi|le marathon de Paris complet en une heure",
        tag="sport|muscu|running",
    ),
    travel=dict(
        ent="Lisbonne|Kyoto|Mexico|Séoul|Marrakech|Montréal|Dakar|Bali|Istanbul",
        thing="le vol|l'escale~f|l'hôtel|la vue~f|le trajet en train|le passeport|la street food~f|"
              "la plage~f|l'auberge~f|le coucher de soleil",
        act="faire ma valise|préparer le prochain voyage|explorer la vieille ville|chercher des vols pas chers",
        news="nouvelles lignes aériennes vers {ent} cet été|grève à l'aéroport, gros retards",
        tag="voyage|vacances|roadtrip",
    ),
    fashion=dict(
        thing="la nouvelle collection~f|cette veste~f|le défilé|ma tenue~f|le drop de sneakers|"
              "la friperie~f|la campagne~f|le look du jour",
        act="chiner en friperie|préparer mes tenues|faire les soldes|coudre mes vêtements",
        news="{ent} présente sa collection de printemps|les sneakers {ent} en rupture en quelques minutes",
        tag="mode|ootd|style",
    ),
    pets=dict(
        thing="mon chien|ma chatte~f|le chiot|la visite chez le véto~f|la balade~f|le nouveau jouet|"
              "l'adoption~f|l'heure du bain~f|le chaton",
        act="promener le chien|regarder mon chat dormir|prendre mon chat en photo|dresser le chiot",
        news="le refuge local offre les frais d'adoption ce week-end|record d'adoptions cette année",
        tag="chat|chien|adoption",
    ),
    climate=dict(
        thing="la canicule~f|l'incendie|le rapport du GIEC|la piste cyclable~f|la sécheresse~f|"
              "la tempête~f|la taxe carbone~f|le sommet|le plan de recyclage",
        act="aller au boulot à vélo|tout recycler|installer des panneaux solaires|aller à la marche pour le climat",
        news="cet été est le plus chaud jamais mesuré|le sommet se termine sans accord",
        tag="climat|écologie|canicule",
    ),
    books=dict(
        thing="le dernier chapitre|le rebondissement final|ma pile à lire~f|la suite~f|le club de lecture|"
              "le livre audio|la couverture~f|l'héroïne~f|la fin~f",
        act="lire au lit|relire mes préférés|aller à la bibliothèque|finir un livre d'une traite",
        news="{ent} remporte le grand prix du roman|les bibliothèques battent un record de prêts",
        tag="lecture|livres|booktok",
    ),
    space=dict(
        thing="le lancement|l'éclipse~f|la pluie d'étoiles filantes~f|l'image du télescope~f|la fusée~f|"
              "le ciel ce soir|la pleine lune~f|la station spatiale~f|la comète~f",
        act="regarder les étoiles|suivre le lancement en direct|photographier la lune",
        news="le lancement est reporté à cause de la météo|des astronomes repèrent une nouvelle comète",
        tag="espace|astronomie",
    ),
)

_CONTRACT = {"de le": "du", "à le": "au", "de les": "des", "à les": "aux",
             "De le": "Du", "À le": "Au", "De les": "Des", "À les": "Aux"}
_CONTRACT_RE = re.compile(r"\b(?:[Dd]e|[Àà]) les?\b")
_ELIDE_RE = re.compile(r"\b([Qq]u|[Dd]|[Jj]|[Nn])e (?=[aeiouhéèêâîôAEIOUÉÈÊ])")


def finish(text: str) -> str:
    """'de le' -> 'du', 'que il' -> 'qu'il' (slots meet after filling)."""
    text = _CONTRACT_RE.sub(lambda m: _CONTRACT[m.group(0)], text)
    return _ELIDE_RE.sub(r"\1'", text)
