"""Brazilian Portuguese. Nouns carry gender ('~f'); 'x/y' adjectives agree; acts are infinitives."""

import re

CODE = "pt"
WEIGHT = 0.09
TZ = -3
SPACED = True
CASED = True
LOWERCASE_USERS = 0.35

FIRST = ("Ana|João|Maria|Pedro|Juliana|Lucas|Beatriz|Gabriel|Larissa|Rafael|Fernanda|Thiago|Camila|Bruno|"
         "Letícia|Mateus|Vitória|Caio|Isabela|Gustavo|Bianca|Felipe|Yasmin|Diego")
LAST = ("Silva|Santos|Oliveira|Souza|Lima|Pereira|Costa|Ferreira|Almeida|Carvalho|Gomes|Ribeiro|Martins|"
        "Rocha|Barbosa|Araújo|Cardoso|Moreira|Nascimento|Teixeira")
HANDLE_WORDS = "a|o|so|eu|real|oficial|mini|team|tipo|mano"

SLOTS = dict(
    pos="incrível|maravilhoso/maravilhosa|perfeito/perfeita|muito bom/muito boa|sensacional|absurdo/absurda|"
        "lindo/linda|subestimado/subestimada|uma obra-prima|top demais|surreal|bom demais/boa demais",
    neg="um desastre|ruim demais|superestimado/superestimada|uma vergonha|chato/chata|caro demais|"
        "decepcionante|uma piada|horrível|fraco/fraca",
    int="sinceramente|sério|literalmente|de verdade|honestamente|tipo|realmente",
    time="hoje|hoje à noite|esse fim de semana|amanhã|agora|essa semana|no domingo|de novo hoje|o dia todo",
    open="gente|olha|opinião impopular:|aviso:|não sei vocês mas|confesso que|curiosidade:|fio:|"
         "pergunta séria:|sério,",
    close="e é isso|falei mesmo|kkkk|nada mais a declarar|sem mais|tô falando sério|fim|e pronto|"
          "aceitem|confia",
    laugh="kkkkk|kkkkkkk|KKKKKK|kkk|hahaha|rsrs|kkkkkkkkk",
)

TEMPLATES = dict(
    post="{thing} tá {pos}.|{thing} foi {neg}, falei e repito.|Não consigo parar de pensar em {thing}.|"
         "Nada melhor que {act} {time}.|Passei o dia todo {act_ger} e não me arrependo.|"
         "{int}, {ent} é {pos}.|{ent} é {neg} e ninguém quer admitir.|"
         "Passei {num} horas {act_ger} e valeu a pena.|Meu fim de semana inteiro foi {act}.|"
         "Por que {thing} tá {neg} esse ano?|{thing} > {thing2}, sem discussão.|"
         "Ainda não superei {thing}.|Hoje é dia de {act} {emo}|A gente precisa falar de {thing}.|"
         "Dia {num} de {act}: firme e forte.|Tentei {act} pela primeira vez e nossa.|"
         "{thing} e {thing2} na mesma semana, não tô pronta.|Dou nota {num}/10 pra {thing}.|"
         "Contei pra minha amiga de {thing} e agora ela não para de {act}.|{thing} estragou meu dia.|"
         "Obrigada {user} por me viciar em {act}.|Meu defeito é {act} em vez de dormir.|"
         "{thing} mora na minha cabeça sem pagar aluguel.|{thing} {time} tava {pos} {emo}|"
         "Toda vez que vejo {thing} eu choro.|{ent} nunca erra.|Eu e {user} {act_ger} desde o almoço.|"
         "Cansei dessa discussão sobre {thing}.",
    question="É impressão minha ou {thing} tá {neg}?|Quem mais vai {act} {time}?|O que vocês acham de {thing}?|"
             "Mais alguém acha que {ent} é {pos}?|Devo começar a {act} ou já é tarde?|"
             "{user} você vai {act} {time}?|Vale mesmo a pena {thing}?|"
             "Dicas pra {act}? Pergunto por uma amiga|Por que ninguém fala de {thing}?",
    extra="{laugh}|Não aguento mais.|É isso.|{emo}{emo}|Enfim.|Me desejem sorte.|Sem palavras.|"
          "Que fase.|Tô morta de sono.|Quem topa?|E ainda é terça.|Seguimos.",
    news="{news}|URGENTE: {news}|Segundo a imprensa, {news}|Atenção: {news}|{news}. Saiba mais",
    reply="{pthing} foi {pos}, sem debate.|Nada a ver, {pthing} é {neg}.|Exatamente isso {emo}|"
          "Concordo demais.|Verdade {laugh}|Você acha mesmo que {pthing} é {pos}? {laugh}|"
          "Eu também, {act} {time}.|Morri {laugh}|Fonte?|Com todo respeito, não.|Disse tudo.|"
          "{pthing} merecia mais.|Falo isso há anos.|Mas você viu {thing}?|"
          "Discordo total, {pthing} foi {neg}.",
    quote="Isso 👇|{laugh} quem escreveu isso|Mais alto pro pessoal do fundo.|Salvando.|"
          "Exatamente o que eu disse sobre {pthing}.|Por isso eu amo {tag}|De novo isso não {laugh}|"
          "Alguém tinha que falar.|Leiam isso antes de {act}.",
    spam="sigo de volta 100% me segue {tag} {tag}|GANHE um iPhone GRÁTIS!! clica aqui {link}|"
         "ganhe R$500 por dia em casa, me chama {link}|1000 seguidores em 24h {link}|"
         "RT + segue pra ganhar {tag} {tag} {tag}",
    pii_contact="me chama no {pii} pros ingressos|meu email é {pii}, manda o resumo pfv|"
                "liga no {pii} pra reservar|número novo, salva aí: {pii}",
    pii_money="faz o pix pra {pii} obrigada|meu cartão {pii} tá sendo recusado??|"
              "perdi a carteira, o cartão era {pii}",
    pii_id="o formulário pediu {pii} assim do nada|não roubem minha identidade: {pii} kkkk",
    pii_tech="meu servidor em {pii} cai toda hora|quem tá logando de {pii}??",
)

TOPICS = dict(
    football=dict(
        thing="o clássico|a contratação nova~f|o juiz|o gol no último minuto|a escalação~f|o segundo tempo|"
              "a final~f|o goleiro|a prorrogação~f|a camisa nova~f|a janela de transferências~f|o pênalti",
        act="ver o jogo|jogar uma pelada|discutir a escalação|ver os melhores momentos|gritar com a TV",
        act_ger="vendo o jogo|discutindo a escalação|jogando bola",
        news="{ent} contrata atacante por quatro temporadas|{ent} demite o técnico após cinco derrotas|"
             "{ent} vai à final nos pênaltis|capitão do {ent} fora do clássico por lesão",
        tag="futebol|Brasileirão|clássico",
    ),
    music=dict(
        thing="o álbum novo|o refrão|o show|o clipe|a setlist~f|o festival|a versão acústica~f|"
              "a música nova~f|minha playlist~f",
        act="ouvir o álbum no repeat|montar playlists|aprender violão|cantar no carro|fazer fila pro show",
        act_ger="ouvindo o álbum|cantando|tocando violão",
        news="{ent} anuncia turnê mundial|{ent} lança álbum surpresa à meia-noite|{ent} cancela três shows",
        tag="música|NovaMúsica|show",
    ),
    movies=dict(
        thing="o final|a sequência~f|o trailer|a trilha sonora~f|a reviravolta~f|o vilão|a última cena~f|"
              "o elenco|a fotografia~f|a cena pós-créditos~f",
        act="ir ao cinema sozinha|maratonar a série|rever a trilogia|montar minha lista de filmes",
        act_ger="maratonando a série|vendo filme|revendo a trilogia",
        news="{ent} bate recorde de bilheteria|{ent} vai ganhar sequência com o elenco original|"
             "saiu o trailer de {ent}",
        tag="cinema|filmes|séries",
    ),
    gaming=dict(
        thing="o patch novo|o chefão final|o passe de batalha|o mundo aberto|o modo coop|a ranqueada~f|"
              "a DLC~f|o speedrun|o sistema de loot",
        act="jogar online com os amigos|subir de elo|fazer live de madrugada|zerar o modo história",
        act_ger="jogando|subindo de elo|fazendo live",
        news="{ent} recebe atualização surpresa|servidores de {ent} caem de novo|{ent} chega no meio do ano",
        tag="games|gamer|jogos",
    ),
    kpop=dict(
        thing="o comeback|a coreografia~f|o teaser|a fancam~f|o lightstick|a turnê~f|o MV|"
              "a apresentação ao vivo~f|o fanmeeting",
        act="fazer streaming do MV|aprender a coreografia|votar nos programas|comprar todas as versões",
        act_ger="streamando o MV|aprendendo a coreo|votando",
        news="{ent} anuncia comeback para o mês que vem|{ent} vence o primeiro lugar|"
             "{ent} adiciona datas à turnê",
        tag="kpop|kpopbr",
    ),
    politics=dict(
        thing="o orçamento|o debate|a reforma~f|a eleição~f|o plano fiscal|o discurso do ministro|"
              "a oposição~f|a última pesquisa~f|a campanha~f|a lei da moradia~f",
        act="ver o debate|ler a reforma|discutir com meu tio|acompanhar as pesquisas",
        act_ger="vendo o debate|lendo a reforma|discutindo política",
        news="o congresso aprova {thing} após sessão de madrugada|o governo anuncia {thing}|"
             "nova pesquisa mostra empate técnico",
        tag="política|eleições|debate",
    ),
    tech=dict(
        thing="a atualização~f|o celular novo|a bateria~f|o assistente de IA|a beta~f|o notebook novo|"
              "o modo escuro|o redesign do app|a câmera~f|o lançamento",
        act="programar de madrugada|configurar o notebook novo|testar a beta|fazer um projeto pessoal",
        act_ger="programando|testando a beta|debugando",
        news="{ent} é anunciado com bateria maior|{ent} é adiado para o ano que vem|"
             "falha de segurança encontrada em {ent}",
        tag="tecnologia|IA|programação",
    ),
    cooking=dict(
        ent="a feijoada~f|o pão de queijo|a coxinha~f|o brigadeiro|a moqueca~f|o escondidinho|o bolo de cenoura",
        thing="a receita~f|o molho|o pão caseiro|o ensopado|a sobremesa~f|a massa~f|"
              "a sopa da minha avó~f|o brunch|a panela de pressão~f",
        act="fazer pão|cozinhar pros amigos|testar receitas novas|fazer massa caseira|fazer marmita",
        act_ger="cozinhando|fazendo pão|testando receitas",
        news="preço dos alimentos sobe de novo|barraquinha de coxinha vira sucesso na cidade",
        tag="receita|culinária|comida",
    ),
    crypto=dict(
        thing="a queda~f|o mercado|minha carteira~f|o token novo|o gráfico|o halving|o airdrop|"
              "a taxa~f|a alta~f",
        act="comprar na queda|olhar os gráficos|fazer staking|conferir a carteira",
        act_ger="olhando gráficos|comprando na queda|fazendo staking",
        news="{ent} sobe 12% da noite pro dia|{ent} cai abaixo de um nível importante|"
             "reguladores propõem novas regras para corretoras",
        tag="cripto|criptomoedas",
    ),
    fitness=dict(
        thing="o treino de perna|meu novo recorde|o whey|a rotina~f|a academia~f|a meia maratona~f|"
              "o cardio|o alongamento|o dia de descanso|a aula de spinning~f",
        act="ir pra academia|correr na chuva|fazer yoga|pegar pesado|treinar pra maratona",
        act_ger="treinando|correndo|fazendo yoga",
        news="estudo diz que treinos curtos também funcionam|maratona da cidade esgota em uma hora",
        tag="academia|treino|corrida",
    ),
    travel=dict(
        ent="Lisboa|Quioto|Cidade do México|Seul|Marrakech|Buenos Aires|Salvador|Fernando de Noronha|Bali",
        thing="o voo|a escala~f|o hotel|a vista~f|a viagem de trem~f|o passaporte|a comida de rua~f|"
              "a praia~f|o hostel|o pôr do sol",
        act="fazer a mala|planejar a próxima viagem|explorar o centro histórico|procurar passagem barata",
        act_ger="viajando|fazendo a mala|procurando passagem",
        news="novas rotas aéreas para {ent} nesse verão|greve no aeroporto causa atrasos",
        tag="viagem|viajar|mochilão",
    ),
    fashion=dict(
        thing="a coleção nova~f|essa jaqueta~f|o desfile|meu look|o drop de tênis|o garimpo no brechó|"
              "a campanha~f|o look do dia",
        act="garimpar em brechó|montar looks|aproveitar a liquidação|costurar minhas roupas",
        act_ger="montando looks|garimpando|costurando",
        news="{ent} apresenta coleção de primavera|tênis da {ent} esgota em minutos",
        tag="moda|lookdodia|estilo",
    ),
    pets=dict(
        thing="meu cachorro|minha gata~f|o filhote|a ida ao veterinário~f|o passeio|o brinquedo novo|"
              "a adoção~f|a hora do banho~f|o gatinho",
        act="passear com o cachorro|ver minha gata dormir|tirar foto do meu cachorro|adestrar o filhote",
        act_ger="passeando com o cachorro|mimando a gata|brincando com o filhote",
        news="abrigo zera taxa de adoção nesse fim de semana|recorde de adoções esse ano",
        tag="cachorro|gatos|adotenãocompre",
    ),
    climate=dict(
        thing="a onda de calor~f|a queimada~f|o relatório do clima|a ciclovia nova~f|a seca~f|"
              "a tempestade~f|o imposto de carbono|a cúpula~f|o plano de reciclagem",
        act="ir de bike pro trabalho|reciclar tudo|instalar painel solar|ir na marcha pelo clima",
        act_ger="reciclando|pedalando|plantando árvores",
        news="esse verão foi o mais quente já registrado|a cúpula termina sem acordo",
        tag="clima|meioambiente|ondadecalor",
    ),
    books=dict(
        thing="o último capítulo|a reviravolta final~f|minha lista de leitura~f|a continuação~f|"
              "o clube do livro|o audiolivro|a capa~f|a protagonista~f|o final",
        act="ler na cama|reler meus favoritos|ir na biblioteca|terminar um livro de uma vez",
        act_ger="lendo|relendo|grifando",
        news="{ent} vence o prêmio de literatura|bibliotecas batem recorde de empréstimos",
        tag="livros|leitura|booktwitter",
    ),
    space=dict(
        thing="o lançamento|o eclipse|a chuva de meteoros~f|a foto do telescópio~f|o foguete|"
              "o céu de hoje|a lua cheia~f|a estação espacial~f|o cometa",
        act="olhar as estrelas|ver o lançamento ao vivo|fotografar a lua",
        act_ger="olhando as estrelas|vendo o lançamento",
        news="lançamento adiado por causa do tempo|astrônomos descobrem um novo cometa",
        tag="espaço|astronomia",
    ),
)

_CONTRACT = {"de o": "do", "de a": "da", "de os": "dos", "de as": "das", "em o": "no", "em a": "na",
             "em os": "nos", "em as": "nas", "a o": "ao", "a os": "aos", "por o": "pelo", "por a": "pela",
             "pra o": "pro", "pra os": "pros", "pra a": "pra", "pra as": "pras"}
_CONTRACT_RE = re.compile(r"\b(de|em|a|por|pra) (os?|as?)\b")


def finish(text: str) -> str:
    """'de o' -> 'do', 'em a' -> 'na' (slots meet after filling)."""
    return _CONTRACT_RE.sub(lambda m: _CONTRACT.get(m.group(0), m.group(0)), text)
