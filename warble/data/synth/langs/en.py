"""English, the majority language. Nouns are singular noun phrases; acts are gerund phrases."""

import re

CODE = "en"
WEIGHT = 0.50
TZ = -5
SPACED = True
CASED = True
LOWERCASE_USERS = 0.3  # share of users who never use capitals

FIRST = ("James|Mary|Olivia|Liam|Emma|Noah|Ava|Ethan|Mia|Lucas|Chloe|Jack|Grace|Leo|Zoe|Ryan|Hannah|Daniel|"
         "Maya|Owen|Priya|Jamal|Aisha|Connor|Tyler|Brianna|Megan|Sam|Jordan|Alex|Kayla|Marcus|Nina|Devon|Ellie|"
         "Josh|Tasha|Ben|Holly|Rohan|Keisha|Callum|Freya|Darnell|Abby|Kieran|Lauren|Omar|Sophie|Cole")
LAST = ("Smith|Johnson|Brown|Taylor|Wilson|Davies|Evans|Walker|Wright|Thompson|Roberts|Green|Hall|Clarke|"
        "Patel|Nguyen|Campbell|Murphy|Reed|Hughes|Foster|Brooks|Price|Bennett|Gray|Hayes|Ward|Kelly|Bailey|Cox")
HANDLE_WORDS = "sleepy|chaotic|tiny|real|just|not|the|big|daily|soft|lazy|cosmic|salty|iced|late|lowkey|team"

SLOTS = dict(
    pos="amazing|unreal|so good|elite|incredible|a whole vibe|underrated|perfect|beautiful|top tier|"
        "better than I expected|actually great|a masterpiece|criminally underrated|insane|so fun|worth it|peak",
    neg="mid|overrated|a mess|painful to watch|so bad|embarrassing|a disaster|boring|cursed|not it|"
        "a letdown|exhausting|a joke|way too much|overpriced|giving nothing",
    int="honestly|lowkey|genuinely|kinda|literally|actually|seriously|really",
    time="tonight|today|this weekend|rn|tomorrow|this morning|all week|later|on Sunday|this year|again today",
    open="ok but|honestly|not gonna lie,|real talk:|unpopular opinion:|hot take:|PSA:|update:|be honest,|"
         "so|listen,|can we talk about how|reminder:|fun fact:|confession:",
    close="ngl|fr|tbh|lol|no cap|I'm serious|just saying|and I stand by it|idc|period|thoughts?|send help|"
          "that's it that's the tweet|iykyk|rant over",
    laugh="lol|lmao|lmaooo|haha|hahaha|LMAO|😂😂|lmfao|hahahaha",
)

TEMPLATES = dict(
    post="{thing} is {pos}.|{thing} was {neg}, I said what I said.|I can't stop thinking about {thing}.|"
         "{thing} {time} was {pos} {emo}|nothing beats {act} {time}.|I've been {act} all day and I regret nothing.|"
         "{int} {ent} is {pos}.|{ent} is {neg} and nobody wants to admit it.|"
         "spent {num} hours {act} and it was {pos}.|if you're not {act} {time} what are you even doing|"
         "{thing} {int} changed my life.|my whole weekend was just {act}.|why is {thing} {neg} this year|"
         "{thing} > {thing2}, fight me.|the way {thing} was {pos} {time} {emo}|"
         "can't believe {thing} turned out {pos}.|me {time}: {act}. me tomorrow: also {act}.|"
         "not me {act} at 2am again|every time I see {thing} I get emotional.|{ent} never misses.|"
         "still not over {thing}.|{thing} is {pos} and I will not be taking questions.|"
         "{thing} hits different {time}.|we need to talk about {thing}.|"
         "{int} think {thing} is {neg} but {thing2} is {pos}.|day {num} of {act}: still going strong.|"
         "tried {act} for the first time and wow.|{ent} fans, how are we feeling {time}?|"
         "{thing} and {thing2} in the same week? I'm not ready.|rating {thing} a solid {num}/10.|"
         "told my friend about {thing} and now they won't stop {act}.|"
         "I was today years old when I found out about {thing}.|{thing} just ruined my mood {time}.|"
         "shoutout to {user} for getting me into {act}.|"
         "{user} and I have been {act} since noon.|my toxic trait is {act} instead of sleeping.|"
         "give me {thing} or give me nothing.|{thing} lives rent free in my head.|"
         "petition to make {thing} {pos} again.|whoever planned {thing} deserves a raise.|"
         "the discourse about {thing} is exhausting.",
    question="is it just me or is {thing} {neg}?|who else is {act} {time}?|what's your take on {thing}?|"
             "anyone else think {ent} is {pos}?|should I start {act} or is it too late?|"
             "{user} are you {act} {time}?|be honest, is {thing} worth it?|"
             "what's the best thing about {thing}?|recommendations for {act}? asking for a friend|"
             "why does nobody talk about {thing}?|how is {thing} still {pos}?|"
             "where do I even start with {ent}?|is {ent} {pos} or am I crazy?",
    extra="{laugh}|can't wait.|I'm not okay.|that's all.|{emo}{emo}|anyway.|wish me luck.|no notes.|"
          "what a time to be alive.|{int} so tired.|who's with me?|I need a nap.|love to see it.|"
          "we move.|and it's only Tuesday.|stay tuned.",
    news="{news}|BREAKING: {news}|Report: {news}|Just in: {news}|{news}, sources say.|"
         "{news}. Full story below|Update: {news}|According to reports, {news}",
    reply="{pthing} was {pos}, no debate.|nah {pthing} is {neg}.|exactly this {emo}|100% agree.|"
          "this is so true {laugh}|wait you think {pthing} is {pos}? {laugh}|same here, {act} {time}.|"
          "not you being right again|I'm screaming {laugh}|source?|respectfully, no.|"
          "couldn't have said it better.|{pthing} deserved better tbh|lol what|this is the one.|"
          "{laugh} the accuracy|ok but {thing} though|you're not ready for {time}|"
          "take my like and leave|hard disagree, {pthing} was {neg}.|I felt this in my soul|"
          "facts.|been saying this for years.|did you see {thing} though?|"
          "my thoughts exactly, {pthing} is {pos}.",
    quote="this 👇|{laugh} who wrote this|say it louder.|big if true.|adding this to the list.|"
          "exactly what I said about {pthing}.|this is why I love {tag}|not this again {laugh}|"
          "{pthing} slander will not be tolerated.|someone had to say it.|bookmarking this.|"
          "read this before you start {act}.|the replies on this are wild.",
    spam="follow me 4 follow back!! {tag} {tag}|f4f? follow me and I follow back 100%|"
         "🔥 WIN a FREE Pixelphone 9!! click here {link} {tag}|earn $500 a day from home, DM me now {link}|"
         "gain 1000 followers fast!!! {link}|click the link for FREE gift cards 🎁 {link}|"
         "retweet + follow to win $1000 {tag} {tag} {tag}|hot singles near you {link}|"
         "crypto signals 1000x guaranteed 🚀🚀 join {link}",
    pii_contact="text me at {pii} if you want the tickets|my email is {pii}, send me the notes pls|"
                "call {pii} for bookings!!|dm me or just email {pii}|new number, save it: {pii}",
    pii_money="can someone send the refund to {pii} thanks|my card {pii} keeps getting declined??|"
              "lost my wallet, card number was {pii} if anyone finds it|pay the deposit to {pii}",
    pii_id="the form literally asked me to type {pii} in plain text|pls don't steal my identity: {pii} lol|"
           "is it normal that the landlord wants {pii} by email?",
    pii_tech="my server at {pii} keeps going down|whoever is logging in from {pii} stop|"
             "can't reach {pii} from home, anyone else?",
)

TOPICS = dict(
    football=dict(
        thing="the derby|the new signing|our midfield|the ref|that last-minute winner|the away kit|"
              "the transfer window|extra time|the title race|our keeper|the lineup|the second half|"
              "the group stage|the manager's press conference|that penalty call|the cup final",
        act="watching the derby|arguing about the lineup|playing five-a-side|rewatching the highlights|"
            "refreshing transfer rumours|fixing my fantasy team|screaming at the TV",
        news="{ent} sign a new striker on a four-year deal|{ent} part ways with their manager after five straight "
             "defeats|{ent} reach the cup final on penalties|{ent} captain ruled out of the derby with a knee "
             "injury|ticket prices for the cup final rise again|{ent} confirm a new stadium plan",
    ),
    music=dict(
        thing="the new album|that bridge|the live version|the tour setlist|the music video|this chorus|"
              "the acoustic version|my playlist|the opening track|the festival lineup|that bassline|the encore",
        act="listening to the new album on repeat|making playlists|learning guitar|queueing for concert tickets|"
            "singing in the car|digging through vinyl",
        news="{ent} announce a world tour starting in March|{ent} drop a surprise album at midnight|"
             "{ent} cancel three shows citing exhaustion|festival lineup leaks with {ent} as headliner",
    ),
    movies=dict(
        thing="the ending|the sequel|the trailer|the soundtrack|the plot twist|the final scene|the casting|"
              "the director's cut|the cinematography|the villain|the first act|the post-credits scene",
        act="rewatching the trilogy|going to the cinema alone|binge-watching the series|"
            "making a watchlist|analysing every frame",
        news="{ent} breaks opening weekend records|{ent} gets a sequel with the original cast|"
             "first trailer for {ent} is finally out|{ent} wins best picture at the festival",
    ),
    gaming=dict(
        thing="the new patch|the final boss|the battle pass|the open world|the ranked grind|the speedrun|"
              "the DLC|the co-op mode|the boss fight|the loot system|the soundtrack|the respawn timer",
        act="grinding ranked|speedrunning the first level|playing co-op with friends|farming rare loot|"
            "streaming late at night|replaying the story mode",
        news="{ent} gets a surprise update with a new map|{ent} servers down for the third time this week|"
             "{ent} confirmed for a summer release|{ent} tournament prize pool hits a record",
    ),
    kpop=dict(
        thing="the comeback|the choreography|the teaser|the fancam|the lightstick|the concept photo|"
              "the b-side|the vocal line|the dance practice|the world tour|the live stage|the fan meeting",
        act="streaming the new MV|learning the choreo|voting for the music show|buying the album versions|"
            "watching fancams|waiting for the teaser",
        news="{ent} announce a comeback for next month|{ent} win first place on the music show|"
             "{ent} add extra dates to their world tour|{ent} break the record for first-day album sales",
    ),
    politics=dict(
        thing="the budget|the debate|the new housing bill|the election|the tax plan|the council vote|"
              "the minister's speech|the opposition|the latest poll|the healthcare reform|the press briefing|"
              "the campaign",
        act="watching the debate|reading the bill|arguing with my uncle|checking the polls|"
            "volunteering for the campaign",
        news="parliament passes {thing} after a late-night session|the city council delays {thing} again|"
             "new poll shows a tight race ahead of the election|the government announces {thing}",
    ),
    tech=dict(
        thing="the update|the new phone|battery life|the keyboard|the AI assistant|the beta|the launch event|"
              "the new laptop|dark mode|the app redesign|the price hike|the camera",
        act="debugging at 3am|setting up my new laptop|testing the beta|writing code|"
            "reading the changelog|building a side project",
        news="{ent} announced with a faster chip and longer battery life|{ent} delayed until next year|"
             "a security flaw found in {ent}|{ent} sales beat expectations",
    ),
    cooking=dict(
        ent="ramen|shakshuka|banana bread|carbonara|tacos al pastor|sourdough|lasagna|butter chicken|"
            "pad thai|cinnamon rolls",
        thing="this recipe|the sauce|my sourdough starter|the garlic bread|the slow cooker|meal prep|"
              "my grandma's soup|the spice mix|the cast iron pan|brunch|the dessert|the dough",
        act="baking bread|meal prepping|making pasta from scratch|trying new recipes|"
            "cooking for my friends|eating leftovers",
        news="a new study says cooking at home saves hours a week|food prices up again this month|"
             "the city's best new restaurant is a tiny taco stand",
    ),
    crypto=dict(
        thing="the dip|the bull run|my portfolio|the new token|this chart|gas fees|the halving|the airdrop|"
              "the rug pull|my wallet|the market|the ETF",
        act="buying the dip|watching the charts|staking my coins|reading whitepapers|checking my wallet",
        news="{ent} jumps 12% overnight|{ent} falls below a key level as markets slide|"
             "regulators propose new rules for exchanges|{ent} hits a new all-time high",
    ),
    fitness=dict(
        ent="leg day|Zone 2|5x5|the couch to 5k plan",
        thing="leg day|my new PR|the protein shake|the morning run|the stretching routine|my gym playlist|"
              "the rest day|the spin class|my step count|the half marathon|the new program|cardio",
        act="hitting the gym|running in the rain|stretching|lifting heavy|doing yoga|training for a marathon",
        news="new study says short workouts work as well as long ones|the city marathon sells out in an hour|"
             "gyms report record sign-ups this month",
    ),
    travel=dict(
        ent="Lisbon|Kyoto|Mexico City|Seoul|Marrakech|Reykjavik|Buenos Aires|Bali|Cape Town|Istanbul",
        thing="the flight|my layover|the hotel|the view|the train ride|my passport|the street food|"
              "the itinerary|the beach|the hostel|the road trip|the sunset",
        act="packing my bag|planning the next trip|exploring the old town|chasing sunsets|"
            "living out of a backpack|looking for cheap flights",
        news="airlines add new routes to {ent} this summer|travel to {ent} hits a record year|"
             "airport strike causes long delays",
    ),
    fashion=dict(
        thing="the new collection|this jacket|the runway show|my outfit|the sneaker drop|the thrift haul|"
              "the colour palette|the denim|the campaign|the capsule wardrobe|my fit check|the sale",
        act="thrifting|planning outfits|shopping the sale|styling vintage pieces|sewing my own clothes",
        news="{ent} unveils its spring collection in Paris|{ent} sneaker drop sells out in minutes|"
             "{ent} names a new creative director",
    ),
    pets=dict(
        thing="my dog|my cat|the new puppy|the vet visit|the cat tree|the walk|the chew toy|"
              "the adoption|the zoomies|bath time|the treat jar|the kitten",
        act="walking the dog|watching my cat sleep|taking pet photos|training the puppy|"
            "fostering kittens",
        news="local shelter waives adoption fees this weekend|study finds dogs understand more words than "
             "expected|record number of pets adopted this year",
    ),
    climate=dict(
        thing="the heatwave|the wildfire season|the climate report|the new bike lanes|the flood warning|"
              "solar panels|the recycling plan|the carbon tax|the summit|the drought|the storm|"
              "the clean energy bill",
        act="cycling to work|going vegetarian|installing solar panels|reading the climate report|"
            "planting trees|joining the climate march",
        news="this summer was the hottest on record|the summit ends without a deal|"
             "the city approves new bike lanes on every main road|scientists warn of a longer fire season",
    ),
    books=dict(
        thing="the last chapter|the plot twist|my reading list|the sequel|the book club pick|"
              "the audiobook|the cover|the main character|the ending|the library haul|the prologue|"
              "the slow burn",
        act="reading in bed|annotating|rereading old favourites|going to the library|"
            "finishing a book in one sitting",
        news="{ent} wins the national book award|{ent} announces a sequel|"
             "libraries report record borrowing this year",
    ),
    space=dict(
        ent="the Artemis crew|the Kepler mission|the lunar lander|the Perseid shower|the Orion capsule",
        thing="the launch|the eclipse|the meteor shower|the new telescope image|the rocket|"
              "the night sky|the moon landing|the space station|the comet|the northern lights|"
              "the Mars rover|the launch window",
        act="stargazing|watching the launch stream|photographing the moon|reading about black holes",
        news="the launch is delayed by bad weather|astronomers spot a new comet|"
             "the telescope releases its sharpest image yet|the rover finds signs of ancient water",
    ),
)

_A_AN = re.compile(r"(?<!\d )\b([Aa]) (?=[aeioAEIO])")  # not the letter closing an id ("99 A in")


def finish(text: str) -> str:
    """'a amazing' -> 'an amazing' (slots meet after filling)."""
    return _A_AN.sub(r"\1n ", text) if "a " in text or "A " in text else text
