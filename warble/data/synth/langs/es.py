"""Spanish. Nouns carry gender ('~f'); 'x/y' adjectives agree with the last noun; acts are infinitives."""

import re

CODE = "es"
WEIGHT = 0.13
TZ = -4
SPACED = True
CASED = True
LOWERCASE_USERS = 0.25

FIRST = ("Sofía|Mateo|Valentina|Santiago|Camila|Diego|Lucía|Alejandro|Martina|Javier|Isabella|Carlos|"
         "Daniela|Andrés|Paula|Miguel|Fernanda|Pablo|Gabriela|Hugo|Ximena|Nicolás|Renata|Tomás|Carmen")
LAST = ("García|Martínez|López|Hernández|González|Pérez|Rodríguez|Sánchez|Ramírez|Torres|Flores|Rivera|"
        "Gómez|Díaz|Morales|Castillo|Ortiz|Ruiz|Vargas|Romero")
HANDLE_WORDS = "la|el|soy|yo|loca|real|mini|chica|vato|team|puro|solo"

SLOTS = dict(
    pos="increíble|buenísimo/buenísima|una maravilla|lo mejor del año|brutal|una joya|espectacular|"
        "perfecto/perfecta|top|demasiado bueno/demasiado buena|una locura|precioso/preciosa|un temazo",
    neg="un desastre|malísimo/malísima|aburridísimo/aburridísima|una vergüenza|sobrevalorado/sobrevalorada|"
        "lo peor|un chiste|carísimo/carísima|decepcionante|un horror",
    int="la verdad|en serio|sinceramente|literalmente|de verdad|neta|posta|honestamente",
    time="hoy|esta noche|este finde|mañana|ahora mismo|esta semana|el domingo|otra vez hoy|todo el día",
    open="bueno|a ver|opinión impopular:|aviso:|no sé ustedes pero|confieso que|dato curioso:|ojo:|"
         "pregunta seria:|hilo:",
    close="y punto|lo dije y lo sostengo|nada más que decir|jaja|xd|la neta|no miento|fin|"
          "cambio y fuera|y ya",
    laugh="jajaja|jajajaja|JAJAJA|jaja|jsjsjs|jajsjsj|xd|XD",
)

TEMPLATES = dict(
    post="{thing} está {pos}.|{thing} fue {neg}, lo digo y lo sostengo.|No puedo dejar de pensar en {thing}.|"
         "No hay nada como {act} {time}.|Llevo todo el día {act_ger} y no me arrepiento.|"
         "{int}, {ent} es {pos}.|{ent} es {neg} y nadie lo quiere admitir.|"
         "Pasé {num} horas {act_ger} y valió la pena.|Mi finde entero fue {act}.|"
         "¿Por qué {thing} es {neg} este año?|{thing} > {thing2}, y no acepto discusión.|"
         "Todavía no supero {thing}.|Hoy toca {act} {emo}|Necesitamos hablar de {thing}.|"
         "Día {num} de {act}: sigo firme.|Probé {act} por primera vez y wow.|"
         "{thing} y {thing2} en la misma semana, no estoy lista.|Le doy a {thing} un {num}/10.|"
         "Le conté a mi amiga de {thing} y ahora no para de {act}.|{thing} me arruinó el día.|"
         "Gracias a {user} por meterme en esto de {act}.|Mi talento oculto: {act} en vez de dormir.|"
         "{thing} vive en mi cabeza sin pagar alquiler.|Quien organizó {thing} merece un aumento.|"
         "{thing} {time} estuvo {pos} {emo}|Cada vez que veo {thing} me emociono.|{ent} nunca falla.|"
         "Yo con {user} {act_ger} desde el mediodía.|Estoy harto de tanto debate sobre {thing}.",
    question="¿Soy yo o {thing} está {neg}?|¿Quién más va a {act} {time}?|¿Qué opinan de {thing}?|"
             "¿Alguien más piensa que {ent} es {pos}?|¿Debería empezar a {act} o ya es tarde?|"
             "{user} ¿vas a {act} {time}?|¿En serio vale la pena {thing}?|"
             "¿Recomendaciones para {act}? Es para una amiga|¿Por qué nadie habla de {thing}?|"
             "¿Por dónde empiezo con {ent}?",
    extra="{laugh}|No puedo más.|Eso es todo.|{emo}{emo}|En fin.|Deséenme suerte.|Sin palabras.|"
          "Qué tiempos.|Estoy muerta de sueño.|¿Quién se apunta?|Y apenas es martes.|Seguimos.",
    news="{news}|ÚLTIMA HORA: {news}|Según medios locales, {news}|Atención: {news}|{news}. Más info aquí",
    reply="{pthing} estuvo {pos}, sin discusión.|Nah, {pthing} es {neg}.|Exacto {emo}|Totalmente de acuerdo.|"
          "Qué razón tienes {laugh}|¿En serio crees que {pthing} es {pos}? {laugh}|Yo igual, {act} {time}.|"
          "Me muero {laugh}|¿Fuente?|Con todo respeto, no.|No lo pudiste decir mejor.|"
          "{pthing} merecía más, la verdad.|Esto es oro.|Lo vengo diciendo hace años.|"
          "¿Pero viste {thing}?|Pienso exactamente lo mismo.|Muy en desacuerdo, {pthing} fue {neg}.",
    quote="Esto 👇|{laugh} quién escribió esto|Más alto para los de atrás.|Lo guardo.|"
          "Justo lo que dije de {pthing}.|Por esto amo {tag}|Otra vez esto no {laugh}|"
          "Alguien tenía que decirlo.|Lean esto antes de {act}.|Las respuestas aquí son lo mejor.",
    spam="sígueme y te sigo 100% {tag} {tag}|GANA un iPhone GRATIS!! entra aquí {link}|"
         "gana 500 dólares al día desde casa, escríbeme {link}|consigue 1000 seguidores YA {link}|"
         "RT + follow para ganar {tag} {tag} {tag}",
    pii_contact="escríbeme al {pii} para las entradas|mi correo es {pii}, mándame los apuntes porfa|"
                "llama al {pii} para reservar|número nuevo, guárdalo: {pii}",
    pii_money="hagan la transferencia a {pii} gracias|mi tarjeta {pii} sigue dando error??|"
              "perdí la cartera, la tarjeta era {pii} por si alguien la encuentra",
    pii_id="el formulario me pidió {pii} así sin más|no me roben la identidad: {pii} jaja",
    pii_tech="mi servidor en {pii} se cae cada rato|quien se conecta desde {pii} que pare ya",
)

TOPICS = dict(
    football=dict(
        thing="el clásico|el fichaje nuevo|el árbitro|el golazo del final|la alineación|el segundo tiempo|"
              "la final~f|el portero|la prórroga~f|la camiseta nueva~f|el mercado de fichajes|el penal",
        act="ver el partido|jugar una pachanga|discutir la alineación|ver los resúmenes|gritarle a la tele",
        act_ger="viendo el partido|discutiendo la alineación|viendo resúmenes|jugando al fútbol",
        news="{ent} ficha a un delantero por cuatro temporadas|{ent} destituye a su entrenador tras cinco "
             "derrotas|{ent} llega a la final por penales|el capitán de {ent} se pierde el clásico por lesión",
        tag="fútbol|LaLiga|Clásico|VamosEquipo",
    ),
    music=dict(
        thing="el disco nuevo|el estribillo|el concierto|el videoclip|el setlist|el festival|"
              "la versión acústica~f|la canción nueva~f|mi playlist~f|el bajo",
        act="escuchar el disco en bucle|hacer playlists|aprender guitarra|cantar en el coche|"
            "hacer fila para el concierto",
        act_ger="escuchando el disco|cantando|tocando la guitarra|armando playlists",
        news="{ent} anuncia gira mundial desde marzo|{ent} lanza un disco sorpresa a medianoche|"
             "{ent} cancela tres conciertos",
        tag="música|NuevaMúsica|concierto",
    ),
    movies=dict(
        thing="el final|la secuela~f|el tráiler|la banda sonora~f|el giro de guion|el villano|"
              "la última escena~f|el reparto|la fotografía~f|la escena post-créditos~f",
        act="ir al cine sola|maratonear la serie|volver a ver la trilogía|armar mi lista de pelis",
        act_ger="viendo pelis|maratoneando la serie|viendo la trilogía",
        news="{ent} rompe récords de taquilla|{ent} tendrá secuela con el reparto original|"
             "sale por fin el tráiler de {ent}",
        tag="cine|películas|series",
    ),
    gaming=dict(
        thing="el parche nuevo|el jefe final|el pase de batalla|el mundo abierto|el modo cooperativo|"
              "la partida~f|el DLC|la clasificatoria~f|el speedrun|el sistema de botín",
        act="jugar en línea con amigos|subir de rango|hacer stream de noche|pasarme el modo historia",
        act_ger="jugando|subiendo de rango|haciendo stream|farmeando",
        news="{ent} recibe una actualización sorpresa|los servidores de {ent} caen otra vez|"
             "{ent} confirma fecha para el verano",
        tag="gaming|videojuegos|gamer",
    ),
    kpop=dict(
        thing="el comeback|la coreografía~f|el teaser|el fancam|el lightstick|la gira~f|"
              "el concepto nuevo|el MV|la presentación en vivo~f|el fanmeeting",
        act="hacer streaming del MV|aprender la coreo|votar en los programas|comprar todas las versiones",
        act_ger="streameando el MV|aprendiendo la coreo|votando|viendo fancams",
        news="{ent} anuncia comeback para el mes que viene|{ent} gana el primer lugar en el programa musical|"
             "{ent} agrega fechas a su gira",
        tag="kpop|kpoper",
    ),
    politics=dict(
        thing="el presupuesto|el debate|la reforma~f|la elección~f|el plan fiscal|el discurso del ministro|"
              "la oposición~f|la última encuesta~f|la campaña~f|la ley de vivienda~f",
        act="ver el debate|leer la reforma|discutir con mi tío|revisar las encuestas",
        act_ger="viendo el debate|leyendo la reforma|discutiendo de política",
        news="el congreso aprueba {thing} tras una sesión nocturna|el gobierno anuncia {thing}|"
             "nueva encuesta muestra un empate técnico",
        tag="política|elecciones|debate",
    ),
    tech=dict(
        thing="la actualización~f|el móvil nuevo|la batería~f|el asistente de IA|la beta~f|"
              "el portátil nuevo|el modo oscuro|el rediseño de la app|la cámara~f|el lanzamiento",
        act="programar de madrugada|configurar el portátil nuevo|probar la beta|armar un proyecto personal",
        act_ger="programando|probando la beta|depurando código",
        news="presentan {ent} con más batería|{ent} se retrasa hasta el año que viene|"
             "encuentran un fallo de seguridad en {ent}",
        tag="tecnología|IA|programación",
    ),
    cooking=dict(
        ent="la paella~f|el gazpacho|las empanadas~f|la tortilla de patatas~f|los tacos|el ceviche|"
            "el arroz con leche|el mole",
        thing="la receta~f|la salsa~f|el pan casero|el guiso|el postre|la masa~f|el sofrito|"
              "la comida de la abuela~f|el brunch|la olla exprés~f",
        act="hornear pan|cocinar para mis amigos|probar recetas nuevas|hacer pasta casera|"
            "preparar la comida de la semana",
        act_ger="cocinando|horneando|probando recetas",
        news="los precios de los alimentos vuelven a subir|abren un puesto de tacos que ya tiene fila",
        tag="receta|cocina|comida",
    ),
    crypto=dict(
        thing="la caída~f|el mercado|mi portafolio|el token nuevo|el gráfico|el halving|el airdrop|"
              "la comisión~f|mi billetera~f|el rally",
        act="comprar en la caída|mirar los gráficos|hacer staking|revisar mi billetera",
        act_ger="mirando gráficos|comprando en la caída|haciendo staking",
        news="{ent} sube un 12% en una noche|{ent} cae por debajo de un nivel clave|"
             "reguladores proponen nuevas reglas para los exchanges",
        tag="cripto|criptomonedas",
    ),
    fitness=dict(
        thing="el día de pierna|mi nuevo récord|el batido de proteína|la rutina~f|el gimnasio|"
              "la media maratón~f|el cardio|el estiramiento|el descanso|la clase de spinning~f",
        act="ir al gimnasio|salir a correr|hacer yoga|levantar pesado|entrenar para la maratón",
        act_ger="entrenando|corriendo|haciendo yoga",
        news="un estudio dice que entrenar poco también funciona|la maratón de la ciudad se agota en una hora",
        tag="gym|fitness|entrenamiento",
    ),
    travel=dict(
        ent="Lisboa|Kioto|Ciudad de México|Seúl|Marrakech|Buenos Aires|Cartagena|Cusco|Bali",
        thing="el vuelo|la escala~f|el hotel|la vista~f|el viaje en tren|el pasaporte|la comida callejera~f|"
              "la playa~f|el hostal|el atardecer",
        act="hacer la maleta|planear el próximo viaje|recorrer el casco antiguo|buscar vuelos baratos",
        act_ger="viajando|haciendo la maleta|buscando vuelos",
        news="nuevas rutas aéreas a {ent} este verano|huelga en el aeropuerto provoca retrasos",
        tag="viajes|viajar|mochilero",
    ),
    fashion=dict(
        thing="la colección nueva~f|esta chaqueta~f|el desfile|mi outfit|el drop de zapatillas|"
              "la compra de segunda mano~f|la campaña~f|el look de hoy",
        act="ir de tiendas|armar outfits|buscar ropa vintage|coser mi propia ropa",
        act_ger="armando outfits|comprando ropa|cosiendo",
        news="{ent} presenta su colección de primavera|las zapatillas de {ent} se agotan en minutos",
        tag="moda|outfit|estilo",
    ),
    pets=dict(
        thing="mi perro|mi gata~f|el cachorro|la visita al veterinario~f|el paseo|el juguete nuevo|"
              "la adopción~f|la hora del baño~f|el gatito",
        act="pasear al perro|ver dormir a mi gata|sacarle fotos a mi perro|entrenar al cachorro",
        act_ger="paseando al perro|mimando a mi gata|jugando con el cachorro",
        news="el refugio local elimina la tarifa de adopción este finde|récord de adopciones este año",
        tag="perros|gatos|mascotas|adoptanocompres",
    ),
    climate=dict(
        thing="la ola de calor~f|el incendio|el informe climático|el carril bici|la sequía~f|"
              "la tormenta~f|el impuesto al carbono|la cumbre~f|el plan de reciclaje",
        act="ir en bici al trabajo|reciclar todo|instalar paneles solares|ir a la marcha por el clima",
        act_ger="reciclando|yendo en bici|plantando árboles",
        news="este verano fue el más caluroso jamás registrado|la cumbre termina sin acuerdo",
        tag="clima|CambioClimático|olaDeCalor",
    ),
    books=dict(
        thing="el último capítulo|el giro final|mi lista de lecturas~f|la secuela~f|el club de lectura|"
              "el audiolibro|la portada~f|la protagonista~f|el final",
        act="leer en la cama|releer mis favoritos|ir a la biblioteca|terminar un libro de una sentada",
        act_ger="leyendo|subrayando|releyendo",
        news="{ent} gana el premio nacional de novela|las bibliotecas baten récord de préstamos",
        tag="libros|lectura|booktwitter",
    ),
    space=dict(
        thing="el lanzamiento|el eclipse|la lluvia de estrellas~f|la foto del telescopio~f|el cohete|"
              "el cielo de hoy|la luna llena~f|la estación espacial~f|el cometa",
        act="mirar las estrellas|ver el lanzamiento en vivo|fotografiar la luna",
        act_ger="mirando las estrellas|viendo el lanzamiento",
        news="se retrasa el lanzamiento por mal tiempo|astrónomos descubren un nuevo cometa",
        tag="espacio|astronomía",
    ),
)

_CONTRACT = re.compile(r"\b([Dd]e|[Aa]) el\b")


def finish(text: str) -> str:
    """'de el' -> 'del', 'a el' -> 'al' (slots meet after filling)."""
    return _CONTRACT.sub(r"\1l", text) if " el" in text else text
