"""The Dutch wording of the letters written for a case (`regie letter`), in one place.

Each kind of letter is a set of named parts; ``case_letters`` decides which parts a letter uses
and in which order (that follows from the case), this module holds what they say. A profile
changes the parts that differ in its municipality with ``[letters.texts]``, keyed ``kind.part``
(``"bewonersbrief.vragen" = "..."``); an empty text leaves the part out. A part that names a
value the case does not have (``{meeting_time}`` where no time was given) is left out too.

Placeholders are ``{name}``: the names in ``COMMON`` for every kind and those in ``PLACEHOLDERS``
for one kind. Values are put in once, as text: a name that itself holds ``{...}`` stays as it is.
Parts whose name ends in ``_items`` are bullet lists, one item a line.

Sources: seed 001 (Nieuwegein: the letter to the resident, the advice to the referrer, the plan
discussed with the residents, privacy), seed 002 (Amersfoort, Achter de Voordeur: "bewoners
krijgen eerst een brief met daarin een aankondiging van het bezoek van een intaker"; an
interview of about an hour; taking part is voluntary), seed 003 (Utrecht: partners send an
informed representative to the casusoverleg, and a replacement when they cannot come) and seed
004 (Zwolle: the client agrees to the mediation and signs the agreements; the
begeleidingsovereenkomst; guidance for at least one year).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from casusregie.domain.letters import LETTER_KINDS as KINDS

#: What each kind is, for `regie letter --help`.
DESCRIPTIONS: dict[str, str] = {
    "bewonersbrief": "to the resident: the case was taken on; who directs, what happens next, their rights",
    "advies-aanmelder": "to the referring partner of a declined case: the recorded advice",
    "uitnodiging-mdo": "to the partners at a scheduled MDO or casusoverleg: date and who takes part",
    "aankondiging-achter-de-voordeur": "to the household: an announced home visit (Achter de Voordeur)",
    "begeleidingsovereenkomst": "to the client: the plan's goals and measures to sign (guidance agreement)",
}

#: Placeholders every kind may use.
COMMON: frozenset[str] = frozenset(
    {
        "organisation",  # Gemeente Utrecht
        "municipality",  # Utrecht
        "approach",  # the approach's name from the profile
        "department",  # the letterhead's second line
        "director_title",  # casemanager, procesregisseur, ...
        "signatory",  # the name under the letter (the case director)
        "case_number",  # the kenmerk
        "date",  # the letter's date, e.g. 3 december 2026
        "contact",  # how to reach the team
        "privacy_address",  # where requests and objections go: organisation, department, postal address
    }
)

#: Placeholders only one kind may use.
PLACEHOLDERS: dict[str, frozenset[str]] = {
    "bewonersbrief": frozenset({"name", "referrer", "referred_on", "taken_on", "meeting", "meeting_date"}),
    "advies-aanmelder": frozenset({"referrer", "worker", "household", "referred_on", "decided_on"}),
    "uitnodiging-mdo": frozenset({"household", "meeting", "meeting_date", "meeting_time", "meeting_place"}),
    "aankondiging-achter-de-voordeur": frozenset({"name", "visitor", "visit_date", "visit_time"}),
    "begeleidingsovereenkomst": frozenset({"name", "minimum_guidance", "result_target"}),
}

_AP = "de Autoriteit Persoonsgegevens (www.autoriteitpersoonsgegevens.nl)"

TEMPLATES: dict[str, dict[str, str]] = {
    # -- seed 001, step 2: "Als de casus in behandeling wordt genomen wordt de inwoner hierover per brief
    #    geïnformeerd door de gemeente, tenzij er gegronde redenen zijn om dit niet te doen."
    "bewonersbrief": {
        "subject": "Regie op de hulp aan uw huishouden",
        "aanhef": "Geachte {name},",
        "inleiding": (
            "Op {referred_on} heeft {referrer} uw huishouden bij ons aangemeld voor de {approach}. Wij hebben "
            "besloten uw situatie in behandeling te nemen. In deze brief leest u wat dat voor u betekent, wat er "
            "nu gaat gebeuren en welke rechten u heeft."
        ),
        "kop_aanpak": "Wat betekent dit voor u?",
        "aanpak": (
            "Bij u en uw huishouden zijn verschillende organisaties betrokken. Het is belangrijk dat zij goed "
            "samenwerken en niet langs elkaar heen werken. Daarom neemt de gemeente de regie: wij zorgen dat de "
            "organisaties hun hulp op elkaar afstemmen, in één plan van aanpak voor het hele huishouden."
        ),
        "kop_regie": "Wie heeft de regie?",
        "regie": (
            "{signatory} is uw {director_title}. Uw {director_title} houdt het overzicht, zorgt dat de "
            "organisaties samenwerken en is uw vaste aanspreekpunt."
        ),
        "kop_vervolg": "Wat gaat er nu gebeuren?",
        "vervolg": (
            "Samen met de betrokken organisaties maken wij een plan van aanpak. Daarin staan de doelen die wij "
            "willen bereiken, de afspraken over wat er gebeurt, wie dat doet en wanneer. Eén van de betrokken "
            "organisaties bespreekt het plan met u. Daarna volgen wij samen met u hoe het gaat."
        ),
        "overleg": "Op {meeting_date} bespreken de betrokken organisaties uw situatie in een {meeting}.",
        "kop_gegevens": "Uw gegevens",
        "gegevens": (
            "Om u goed te helpen, delen de betrokken organisaties informatie over uw situatie met elkaar en met "
            "de gemeente. Zij delen alleen informatie voor zover de wet waaraan zij gebonden zijn dat toelaat en "
            "voor zover die nodig is voor de aanpak. Over die samenwerking hebben de organisaties afspraken "
            "gemaakt in een convenant en een privacyreglement. De gemeente legt de informatie vast in een "
            "beveiligd dossier en houdt bij wie uw gegevens inziet."
        ),
        "kop_rechten": "Uw rechten",
        "rechten": ("U heeft het recht om te weten welke gegevens wij over u verwerken. U kunt ons daarom vragen om:"),
        "rechten_items": (
            "inzage in uw gegevens: u krijgt een overzicht van de gegevens die wij over u hebben, van wie wij ze "
            "hebben gekregen en aan wie wij ze hebben gegeven (artikel 15 AVG);\n"
            "verbetering of aanvulling van gegevens die niet kloppen (artikel 16 AVG);\n"
            "verwijdering van uw gegevens (artikel 17 AVG); dat kan niet altijd, bijvoorbeeld als wij ze nodig "
            "hebben voor een wettelijke taak;\n"
            "beperking van het gebruik van uw gegevens, bijvoorbeeld zolang wij onderzoeken of ze kloppen "
            "(artikel 18 AVG)."
        ),
        "verzoek": (
            "Stuur uw verzoek naar {privacy_address}. Vermeld daarbij het kenmerk {case_number}. Wij beslissen "
            "binnen een maand op uw verzoek."
        ),
        "kop_bezwaar": "Bent u het er niet mee eens?",
        "bezwaar": (
            "Bent u het er niet mee eens dat wij uw gegevens voor deze aanpak gebruiken? Dan kunt u daartegen "
            "bezwaar maken (artikel 21 AVG). Schrijf in een brief waarom u het er niet mee eens bent en stuur "
            "die naar {privacy_address}, met het kenmerk {case_number}. U krijgt binnen een maand een besluit "
            "op uw bezwaar."
        ),
        "klacht": (
            "Bent u niet tevreden over de manier waarop wij met uw gegevens omgaan? Laat het ons weten. U kunt "
            f"ook een klacht indienen bij {_AP}."
        ),
        "vragen": (
            "Heeft u vragen over deze brief? Neem dan contact op met {signatory}, uw {director_title}, via "
            "{contact}. Vermeld daarbij het kenmerk {case_number}."
        ),
        "groet": "Met vriendelijke groet,",
    },
    # -- seed 001, step 2: "Zo nee, dan wordt deze niet in behandeling genomen en krijgt de aanmelder een advies."
    "advies-aanmelder": {
        "subject": "Advies over uw aanmelding van {referred_on}",
        "aanhef": "Geachte {worker},",
        "aanhef_algemeen": "Geachte heer, mevrouw,",
        "inleiding": (
            "Op {referred_on} heeft {referrer} {household} aangemeld voor de {approach}. Dank u wel voor uw "
            "aanmelding. Wij hebben beoordeeld of de situatie van het huishouden gemeentelijke regie vraagt."
        ),
        "kop_besluit": "Ons besluit",
        "besluit": (
            "Op {decided_on} hebben wij besloten de casus niet in behandeling te nemen: gemeentelijke regie is "
            "op dit moment niet nodig. Hieronder leest u ons advies."
        ),
        "kop_advies": "Ons advies",
        "kop_vervolg": "Wat kunt u doen?",
        "vervolg": (
            "Verandert de situatie, of komt u met dit advies niet verder? Dan kunt u het huishouden opnieuw "
            "aanmelden. Vermeld daarbij ons kenmerk {case_number}."
        ),
        "gegevens": (
            "Deze brief bevat persoonsgegevens. Gebruik ze alleen voor de hulp aan dit huishouden, deel ze niet "
            "verder dan daarvoor nodig is en bewaar de brief niet langer dan nodig."
        ),
        "vragen": (
            "Heeft u vragen over dit advies? Neem dan contact op met {signatory}, {director_title}, via "
            "{contact}. Vermeld daarbij het kenmerk {case_number}."
        ),
        "groet": "Met vriendelijke groet,",
    },
    # -- seed 001, step 3: the MDO with the involved partners; seed 002: only partners actually involved sit
    #    at the table; seed 003 (Utrecht, 6): an informed representative, and a replacement when absent.
    "uitnodiging-mdo": {
        "naam_mdo": "multidisciplinair overleg (MDO)",
        "naam_casusoverleg": "casusoverleg",
        "subject": "Uitnodiging {meeting} op {meeting_date}",
        "aan": "Aan de deelnemers aan het {meeting}",
        "ter_attentie": "t.a.v. de deelnemer aan het {meeting}",
        "aanhef": "Geachte heer, mevrouw,",
        "inleiding": (
            "Graag nodigen wij u uit voor het {meeting} over {household} (ons kenmerk {case_number}). "
            "Uw organisatie is bij dit huishouden betrokken."
        ),
        "doel_mdo": (
            "In het overleg bespreken wij met de betrokken organisaties de situatie van het huishouden op alle "
            "leefgebieden. Op basis van de gedeelde informatie stellen wij samen het plan van aanpak op: de "
            "doelen, de maatregelen, wie ze uitvoert en wanneer."
        ),
        "doel_casusoverleg": (
            "In het overleg bespreken wij met de betrokken organisaties hoe het met het huishouden gaat, de "
            "voortgang van de afgesproken maatregelen en wat er in het plan van aanpak moet veranderen."
        ),
        "kop_wanneer": "Wanneer en waar",
        "datum": "Datum: {meeting_date}",
        "tijd": "Tijd: {meeting_time}",
        "plaats": "Plaats: {meeting_place}",
        "kop_deelnemers": "Deelnemers",
        "deelnemers": (
            "Aan het overleg nemen alleen de organisaties deel die bij het huishouden betrokken zijn. De "
            "{director_title} zit het overleg voor."
        ),
        "kop_voorbereiding": "Voorbereiding",
        "voorbereiding": (
            "Wij vragen u goed geïnformeerd aan het overleg deel te nemen. Breng de informatie in die nodig is "
            "voor de aanpak en die uw organisatie volgens het wettelijk kader waaraan zij gebonden is mag delen. "
            "Kunt u niet aanwezig zijn? Zorg dan voor vervanging door een collega die de situatie kent, en laat "
            "het ons weten."
        ),
        "gegevens": (
            "Deze uitnodiging bevat persoonsgegevens. Gebruik ze alleen voor de voorbereiding van het overleg "
            "en deel ze niet verder."
        ),
        "vragen": (
            "Heeft u vragen? Neem dan contact op met {signatory}, {director_title}, via {contact}. Vermeld "
            "daarbij het kenmerk {case_number}."
        ),
        "groet": "Met vriendelijke groet,",
    },
    # -- seed 002 (Achter de Voordeur; Amersfoort): "bewoners krijgen eerst een brief met daarin een aankondiging
    #    van het bezoek van een intaker; intakers bellen vervolgens aan om een afspraak te maken voor een
    #    activerend interview van circa één uur"; "bewoners doen mee op basis van vrijwilligheid".
    "aankondiging-achter-de-voordeur": {
        "subject": "Aankondiging van een huisbezoek",
        "aanhef": "Geachte {name},",
        "inleiding": (
            "In de {approach} werken de gemeente en een aantal organisaties samen om bewoners te helpen die "
            "met meerdere vragen of problemen tegelijk te maken hebben. Met deze brief laten wij u weten dat "
            "wij graag bij u langskomen."
        ),
        "bezoek_datum": "Op {visit_date} komt {visitor} bij u langs voor een gesprek bij u thuis.",
        "bezoek_tijd": "Wij verwachten rond {visit_time} bij u te zijn.",
        "bezoek_afspraak": (
            "In de komende weken belt {visitor} bij u aan om een afspraak te maken voor een gesprek bij u thuis."
        ),
        "kop_gesprek": "Waarover gaat het gesprek?",
        "gesprek": (
            "Het gesprek duurt ongeveer een uur. Wij vragen hoe het met u en uw huishouden gaat, bijvoorbeeld "
            "met wonen, werk en inkomen, gezondheid en opvoeding, en of u ergens hulp bij kunt gebruiken. Uw "
            "eigen vragen en wensen zijn daarbij het uitgangspunt. Samen bekijken wij wat de volgende stap is."
        ),
        "vrijwillig": (
            "U beslist zelf of u meedoet. Wilt u geen bezoek, of komt het moment u niet uit? Laat het ons dan "
            "weten via {contact}."
        ),
        "legitimatie": (
            "De medewerker die bij u langskomt, kan zich altijd legitimeren. Twijfelt u? Vraag dan naar de "
            "legitimatie, of neem contact met ons op via {contact}."
        ),
        "kop_gegevens": "Uw gegevens",
        "gegevens": (
            "Wat u ons vertelt, leggen wij vast in een beveiligd dossier. Wij delen het alleen met organisaties "
            "die u kunnen helpen, voor zover de wet dat toelaat. U kunt ons altijd vragen welke gegevens wij "
            "over u hebben (inzage, artikel 15 AVG). Stuur uw verzoek naar {privacy_address}, met het kenmerk "
            "{case_number}."
        ),
        "vragen": "Heeft u vragen over deze brief? Neem dan contact met ons op via {contact}.",
        "groet": "Met vriendelijke groet,",
    },
    # -- seed 004 (Zwolle): "Vervolgens worden er afspraken gemaakt wie wat doet en wanneer, de cliënt tekent
    #    hier ook voor"; "er wordt een begeleidingsovereenkomst voor voorwaardelijke hulpverlening afgesloten
    #    en het huishouden wordt gedurende tenminste één jaar begeleid".
    "begeleidingsovereenkomst": {
        "subject": "Begeleidingsovereenkomst",
        "aanhef": "Geachte {name},",
        "inleiding": (
            "U heeft ingestemd met de begeleiding in de {approach}. Samen met u en de betrokken organisaties "
            "hebben wij afspraken gemaakt over wat er gaat gebeuren, wie wat doet en wanneer. Die afspraken "
            "staan in deze overeenkomst. Wilt u de overeenkomst lezen en, als u het ermee eens bent, "
            "ondertekenen? U krijgt een getekend exemplaar terug."
        ),
        "kop_partijen": "Partijen",
        "partijen_items": (
            "{name}, hierna: de cliënt;\n"
            "{organisation}, voor deze overeenkomst vertegenwoordigd door {signatory}, {director_title}."
        ),
        "kop_doelen": "1. Doelen",
        "doelen": "Met de begeleiding willen wij samen met u het volgende bereiken:",
        "kop_maatregelen": "2. Afspraken: wie doet wat en wanneer",
        "maatregelen": "Om die doelen te bereiken zijn de volgende maatregelen afgesproken:",
        "kop_client": "3. Wat u afspreekt",
        "client_items": (
            "Ik werk mee aan de afspraken in deze overeenkomst.\n"
            "Ik kom afspraken met de {director_title} en de hulpverleners na. Kan ik een keer niet, dan laat ik "
            "dat vooraf weten.\n"
            "Ik ben bereikbaar voor de {director_title} en de betrokken hulpverleners.\n"
            "Ik vertel het de {director_title} als er iets belangrijks verandert in mijn situatie."
        ),
        "kop_gemeente": "4. Wat de gemeente afspreekt",
        "gemeente_items": (
            "De {director_title} houdt de regie: hij of zij zorgt dat de organisaties hun hulp op elkaar "
            "afstemmen en is uw vaste aanspreekpunt.\n"
            "De {director_title} volgt hoe het gaat en bespreekt de voortgang regelmatig met u.\n"
            "Als het nodig is, passen wij de afspraken samen met u aan. Een nieuwe versie legt u opnieuw ter "
            "ondertekening voor."
        ),
        "kop_duur": "5. Duur en voorwaarden",
        "duur": "De begeleiding duurt ten minste {minimum_guidance}.",
        "resultaat": "Ons doel is dat de problemen binnen {result_target} sterk zijn verminderd of verdwenen.",
        "voorwaarden": (
            "De hulp is voorwaardelijk. Komt u de afspraken niet na, dan bespreken wij dat met u en met de "
            "betrokken organisaties. Dat kan gevolgen hebben voor de hulp en de maatregelen die de organisaties "
            "nemen."
        ),
        "kop_gegevens": "6. Uw gegevens",
        "gegevens": (
            "De betrokken organisaties delen informatie over uw situatie alleen voor zover de wet dat toelaat en "
            "het nodig is voor deze afspraken. U kunt ons altijd vragen welke gegevens wij over u hebben "
            "(inzage, artikel 15 AVG), en daartegen bezwaar maken (artikel 21 AVG). Stuur uw verzoek naar "
            "{privacy_address}, met het kenmerk {case_number}."
        ),
        "kop_ondertekening": "7. Ondertekening",
        "ondertekening": "Aldus overeengekomen en in tweevoud ondertekend.",
        "kolom_client": "De cliënt",
        "kolom_gemeente": "Namens {organisation}",
    },
}

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_NAME = re.compile(r"^[a-z_]+$")


def allowed(kind: str) -> frozenset[str]:
    """The placeholders a part of ``kind`` may use."""
    return COMMON | PLACEHOLDERS[kind]


def placeholders(text: str) -> list[str]:
    """The placeholder names in ``text`` (``{name}``), in order."""
    return _PLACEHOLDER.findall(text)


def fill(text: str, values: Mapping[str, str]) -> str:
    """``text`` with every ``{name}`` replaced by its value, once (a value holding braces stays as it is)."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def text_problems(texts: Mapping[str, str]) -> list[tuple[str, str]]:
    """What is wrong with a profile's ``[letters.texts]``: ``(key, message)`` pairs."""
    problems: list[tuple[str, str]] = []
    for key, text in texts.items():
        kind, _, part = key.partition(".")
        if kind not in TEMPLATES:
            problems.append((key, f"unknown kind of letter {kind!r} (kinds: {', '.join(KINDS)})"))
            continue
        if part not in TEMPLATES[kind]:
            problems.append((key, f"{kind} has no part {part!r} (parts: {', '.join(TEMPLATES[kind])})"))
            continue
        known = allowed(kind)
        for name in placeholders(text):
            if not _NAME.match(name) or name not in known:
                problems.append((key, f"unknown placeholder {{{name}}} (a {kind} knows: {', '.join(sorted(known))})"))
        if _PLACEHOLDER.sub("", text).count("{") or _PLACEHOLDER.sub("", text).count("}"):
            problems.append((key, "a brace that is not part of a placeholder {name}"))
    return problems
