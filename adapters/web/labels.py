"""The Dutch words of the web application: titles of the commands, labels of their fields, values of choices.

The commands keep their English field names (they are the API's too); a person filling in a
form reads these. A field or value without an entry is shown as it is named in the command.
"""

from __future__ import annotations

from datetime import date

from casusregie.adapters.render.letter_markdown import dutch_date as letter_date

TITLES = {
    "case.refer": "Huishouden aanmelden",
    "case.assign": "Regisseur toewijzen",
    "case.add-member": "Gezinslid toevoegen",
    "case.consent": "Toestemming bewoners vastleggen",
    "case.corporation-consent-request": "Toestemming corporatie vragen",
    "case.corporation-consent": "Toestemming corporatie beantwoorden",
    "case.assess": "Aanmelding toetsen",
    "case.home-visit": "Huisbezoek vastleggen",
    "case.take-on": "In regie nemen",
    "case.aftercare": "Nazorgcontact vastleggen",
    "case.note": "Notitie of contactmoment",
    "document.attach": "Stuk toevoegen",
    "document.withdraw": "Stuk intrekken",
    "overleg.plan": "Casusoverleg plannen",
    "overleg.agenda": "Op de agenda van een casusoverleg zetten",
    "overleg.discuss": "Verslag van het casusoverleg over deze casus",
    "overleg.held": "Casusoverleg afsluiten",
    "case.add-person": "Persoon uit het netwerk toevoegen",
    "case.problem-add": "Probleem toevoegen",
    "case.problem-update": "Probleem bijwerken",
    "case.problem-resolve": "Probleem opgelost",
    "case.decline": "Niet in regie nemen",
    "case.letter": "Brief aan bewoners verstuurd",
    "case.no-letter": "Geen brief aan bewoners (met reden)",
    "info.request": "Informatie opvragen",
    "info.disclose": "Informatie verstrekken",
    "info.decline": "Informatieverzoek weigeren",
    "case.involve": "Ketenpartner betrekken",
    "meeting.schedule": "Overleg plannen",
    "meeting.held": "Overleg gehouden",
    "plan.goal": "Doel stellen",
    "plan.measure": "Maatregel afspreken",
    "plan.progress": "Voortgang maatregel",
    "plan.reschedule": "Maatregel verzetten",
    "plan.revise": "Plan herzien",
    "plan.agree": "Instemming met het plan",
    "plan.evaluate": "Evaluatie vastleggen",
    "case.escalate": "Opschalen",
    "case.escalation-outcome": "Uitkomst opschaling",
    "case.close": "Casus afsluiten",
    "case.reopen": "Casus heropenen",
    "request.register": "Verzoek van betrokkene registreren",
    "request.extend": "Termijn verlengen",
    "request.withhold": "Onderdeel weigeren",
    "request.release": "Weigering intrekken",
    "request.decide-access": "Inzagebesluit nemen",
    "request.rectify": "Rectificatie beslissen",
    "request.restrict": "Beperking beslissen",
    "request.object": "Bezwaar beslissen",
    "request.erase": "Wissing beslissen",
    "request.informed": "Ontvanger geïnformeerd",
    "person.erase": "Persoon wissen",
    "user.add": "Gebruiker toevoegen",
    "user.link-subject": "Account bij identiteitsprovider koppelen",
    "user.deactivate": "Gebruiker deactiveren",
}

LABELS = {
    "case": "Casusnummer",
    "on": "Datum",
    "date": "Datum",
    "due": "Uiterste datum",
    "reason": "Reden",
    "summary": "Samenvatting",
    "description": "Omschrijving",
    "director": "Regisseur (gebruiker)",
    "team": "Team",
    "referring_org": "Aanmeldende organisatie",
    "referring_worker": "Aanmelder (naam en functie)",
    "problems": "Problemen per leefgebied",
    "members": "Gezinsleden",
    "member": "Gezinslid",
    "name": "Naam",
    "birth_date": "Geboortedatum",
    "role": "Rol",
    "bsn": "BSN",
    "address": "Adres",
    "home_corporation": "Corporatie van de woning",
    "consent_given_on": "Toestemming gegeven op",
    "consent": "Toestemming",
    "given": "Toestemming gegeven",
    "grant": "Toestemming verleend",
    "criteria": "Criteria waaraan is voldaan (één per regel)",
    "acute_reason": "Reden voor acute voorrang",
    "invited": "Uitgenodigd (niet bezocht)",
    "advice": "Advies aan de aanmelder",
    "late_reason": "Reden dat het besluit na de termijn valt",
    "person_name": "Naam",
    "relation": "Rol in de casus (melder, buur, familie, netwerk)",
    "household": "Huishouden (waar de casus er meer heeft)",
    "contact": "Telefoon of e-mail",
    "partner_name": "Naam van de organisatie (buiten het profiel)",
    "overleg": "Casusoverleg (kenmerk, bijv. W3KQ7MX)",
    "neighbourhood": "Wijk of team",
    "chair": "Voorzitter (gebruikersnaam; self: uzelf)",
    "persons": "Aanwezige betrokkenen (persoonsnummers, één per regel)",
    "with_whom": "Met wie (bij een contactmoment)",
    "about": "Over wie (persoonsnummer; leeg: het huishouden)",
    "corrects": "Corrigeert notitie (bijv. N2)",
    "type": "Soort stuk",
    "dated": "Datum van het stuk",
    "source": "Bron (organisatie uit het profiel, bijv. politie, of een omschrijving)",
    "title": "Titel of korte omschrijving",
    "content_base64": "Bestand",
    "document": "Stuk (bijv. D1)",
    "despite": "Reden om toch af te sluiten (open maatregelen, geen brief, geen MDO of minimale begeleiding)",
    "ground": "Grond",
    "motivation": "Motivering",
    "partner": "Ketenpartner",
    "purpose": "Doel van de verwerking",
    "legal_basis": "Grondslag",
    "partner_legal_basis": "Grondslag van de partner",
    "categories": "Categorieën gegevens (één per regel)",
    "subjects": "Over wie (persoonsnummers, één per regel)",
    "request": "Verzoek",
    "items": "Verstrekte gegevens",
    "category": "Categorie",
    "content": "Inhoud",
    "subject": "Over wie (persoonsnummer; leeg: het huishouden)",
    "organisation": "Organisatie",
    "kind": "Soort",
    "participants": "Deelnemers (organisaties, één per regel)",
    "attended": "Aanwezig (organisaties, één per regel)",
    "minutes": "Verslag",
    "meeting": "Overleg",
    "life_domain": "Leefgebied",
    "goal": "Doel",
    "owner": "Eigenaar (organisatie)",
    "measure": "Maatregel",
    "status": "Stand",
    "signed": "Ondertekend",
    "level": "Niveau",
    "escalation": "Opschaling",
    "outcome": "Uitkomst",
    "judgement_neighbours": "Oordeel buren",
    "judgement_partners": "Oordeel ketenpartners",
    "aftercare": "Nazorg",
    "handover_to": "Warme overdracht aan",
    "note": "Toelichting",
    "person": "Persoon",
    "requester_name": "Naam verzoeker",
    "requester_address": "Adres verzoeker",
    "received_on": "Ontvangen op",
    "identity_check": "Identiteit vastgesteld door",
    "channel": "Kanaal",
    "scope": "Reikwijdte",
    "months": "Maanden",
    "notice_sent_on": "Bericht aan betrokkene verstuurd op",
    "item": "Onderdeel",
    "signatory": "Ondertekenaar",
    "signatory_title": "Functie ondertekenaar",
    "field": "Gegeven",
    "value": "Nieuwe waarde",
    "lift": "Beperking opheffen",
    "upheld": "Bezwaar gegrond",
    "partly": "Gedeeltelijk",
    "tell_person": "Betrokkene informeren",
    "not_telling_reason": "Reden om niet te informeren",
    "what": "Omschrijving voor de betrokkene (zonder de inhoud)",
    "user_id": "Gebruikersnaam",
    "issuer": "Identiteitsprovider (issuer)",
    "match_name": "Naam (zoeken)",
    "match_born": "Geboortedatum (zoeken)",
    "match_bsn": "BSN (zoeken)",
    "om_consent": "Toestemming OM",
}

VALUES = {
    "regisseur": "regisseur",
    "partner": "partner",
    "manager": "manager",
    "privacy-officer": "privacyfunctionaris",
    "auditor": "auditor",
    "beheerder": "beheerder",
    "goals-met": "doelen behaald",
    "partly-met": "doelen deels behaald",
    "not-met": "doelen niet behaald",
    "escalated": "opgeschaald of overgedragen",
    "client-refused": "cliënt weigert",
    "moved-away": "verhuisd",
    "improved": "verbeterd",
    "unchanged": "onveranderd",
    "worsened": "verslechterd",
    "unknown": "onbekend",
    "access": "inzage (art. 15)",
    "rectification": "rectificatie (art. 16)",
    "erasure": "wissing (art. 17)",
    "restriction": "beperking (art. 18)",
    "objection": "bezwaar (art. 21)",
    "started": "gestart",
    "done": "uitgevoerd",
    "failed": "mislukt",
    "cancelled": "geannuleerd",
    "mdo": "MDO",
    "casusoverleg": "casusoverleg",
    "referred": "aangemeld",
    "taken-on": "in regie",
    "declined": "niet in regie genomen",
    "closed": "afgesloten",
}

DEADLINES = {
    "intake": "Besluit over de aanmelding",
    "letter": "Brief aan bewoners",
    "plan": "Plan van aanpak",
    "evaluation": "Evaluatie",
    "casusoverleg": "Casusoverleg",
}

WORK_KINDS = {  # the kinds of task on a worklist
    "intake": "besluit over de aanmelding",
    "consent": "toestemming bewoners",
    "corporation-consent": "toestemming corporatie",
    "letter": "brief aan bewoners",
    "plan": "plan van aanpak",
    "evaluation": "evaluatie",
    "casusoverleg": "casusoverleg",
    "information": "informatieverzoek",
    "answer": "informatieverzoek beantwoorden",
    "measure": "maatregel",
    "escalation": "opschaling",
    "aftercare": "nazorgcontact",
    "request": "verzoek van betrokkene",
    "art19-task": "ontvanger informeren (art. 19 AVG)",
}


def task(item: dict[str, object]) -> str:
    """What a worklist item asks, in Dutch (the privacy officer's items are worded in English by the read side)."""
    what = str(item.get("what") or "")
    if item.get("kind") == "request":
        kind = what.split(" request", 1)[0]
        return f"verzoek {value(kind)}" + (" (verlengd)" if "(extended)" in what else "")
    if item.get("kind") == "art19-task":
        organisation = what.removeprefix("inform ").removesuffix(" (art. 19 AVG)")
        return f"{organisation} informeren over de rectificatie, beperking of wissing (art. 19 AVG)"
    return what


ROLES = {
    "regisseur": "Casusregisseur",
    "partner": "Ketenpartner",
    "manager": "Manager",
    "privacy-officer": "Privacyfunctionaris",
    "auditor": "Auditor",
    "beheerder": "Beheerder",
}


def label(name: str) -> str:
    return LABELS.get(name, name.replace("_", " "))


def value(name: object) -> str:
    text = str(getattr(name, "value", name))
    return VALUES.get(text, text)


def month(value: date) -> str:
    """``februari 2026``."""
    return letter_date(value).split(" ", 1)[1]


def dutch_date(value: object) -> str:
    """``3 februari 2026``; what is not a date (or an ISO date string) is shown as it is."""
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    if not isinstance(value, date):
        return "" if value is None else str(value)
    return letter_date(value)
