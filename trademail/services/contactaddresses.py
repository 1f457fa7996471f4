"""Street addresses and post-office boxes in normalised listing text.

An address is found by its core, the part prose does not have: a number and a street
("1200 Harbor Blvd", "Hafenstraße 12", "Calle Mayor 12", "Atatürk Cad. No: 45"), a unit and a
street or district in one list ("Plot 45, Sector 18", "Shop No. 14, Kapda Bazar"), a post-office
box, or what follows an "Address:" label. The core then takes what completes it (", 69002
Lyon", ", piso 5, C1043 CABA", " - SP, 01310-200") up to the end of its sentence or the label
of the next contact detail. Every pattern uses bounded repetition only, so a hostile
20,000-character text costs linear time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

Span = tuple[str, int, int]

# Vietnamese letters (Latin Extended Additional: "Duẩn", "Ấp") are taken in either case.
_UP = "A-ZÀ-ÖØ-ÞÇĞİÖŞÜĄĆČĎĐĘĚŁŃŇŐŘŚŠŤŰŹŻŽȘȚƠƯ\u1e00-\u1eff"
_LOW = "a-zà-öø-ÿ\u0100-\u024f\u1e00-\u1eff"
# A word of a street's name. Bounded, and never started inside another word, so that a
# 20,000-character run of letters or digits costs each position a few steps, not a rescan.
_NAME_BODY = rf"[{_UP}0-9][{_UP}{_LOW}0-9'’.\-]{{0,30}}"
_NAME = rf"(?<![\w'’.\-]){_NAME_BODY}"
_WORD = rf"(?<![\w'’.\-])[{_UP}][{_UP}{_LOW}'’.\-]{{0,30}}"
_EN_TYPES = (r"Street|St|Road|Rd|Avenue|Ave|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|"
             r"Place|Pl|Highway|Hwy|Parkway|Pkwy|Square|Sq|Terrace|Crescent|Close|Quay|Loop|"
             r"Circle|Cir|Trail|Pike|Marg")
# Streets named after the word for street: Jalan Besar, Jl. Sudirman, Soi 12, Lorong 3.
_PREFIX_STREET = rf"\b(?:Jalan|Jln\.?|Jl\.|Lorong|Thanon|Soi)[ \t]+{_NAME}(?:[ \t]+{_NAME}){{0,3}}"
# A numbered unit, plot or block of a list-style address ("Shop No. 14", "Street 14B").
_UNIT = (r"\b(?:House|Plot|Flat|Holding|Godown|Shop|Office|Unit|Warehouse|Building|Bldg\.?|"
         r"Block|Gala|Khasra|Survey|Door|Apartment|Apt\.?|Villa|Lot|Gate|Sector|Street|St\.|"
         r"Road|Rd\.|Lane|Gali|Moo|Floor|Phase|Zone|Stall|Suite|Room|Rm\.?|Lô|Số|Kav\.|Blok|Blk\.?|"
         r"Level|Lvl\.?)[ \t]*"
         r"(?:No\.?|Nos\.?|#)?[ \t]*:?[ \t]*[A-Z]?\d{1,5}[A-Za-z]?(?:[/\-]\d{1,4}[A-Za-z]?)?\b"
         # "6th Floor", "12/F", "Tower B"
         r"|\b\d{1,2}(?:st|nd|rd|th)[ \t]+Floor\b|\b\d{1,2}/F\b|"
         r"\b(?:Tower|Block|Wing|Building|Bldg\.?|Flat|Unit)[ \t]+[A-Z]\b")
# A named district, estate or market ("Al Quoz Industrial Area 3", "Kapda Bazar"), or an
# area named by what it is ("Village Bhadaj", "Col. Juárez", "Quartier Plateau").
_LOCALITY = (rf"{_NAME}(?:[ \t]+{_NAME}){{0,3}}[ \t]+(?:(?:Industrial|Technology|Tech|IT|Science|"
             r"Logistics|Business)[ \t]+(?:Area|Estate|Park|Zone|Town|Bay|Centre|Center)|"
             r"(?:Special[ \t]+)?Economic[ \t]+Zone|Export[ \t]+Processing[ \t]+Zone|SEZ|EPZ|"
             r"Free[ \t]+(?:Trade[ \t]+)?Zone|Bazaa?r|Mandi|Nagar|Colony|Chowk|Layout|Enclave|"
             r"Vihar|Puram|Ganj|Phase[ \t]+[IVX\d]{1,4})(?:[ \t]+\d{1,3})?\b")
_AREA = (r"\b(?:Village|Vill\.|Taluka|Tal\.|Tehsil|District|Dist\.|Mandal|Ward|Kebele|Woreda|"
         rf"Quartier|Barrio|Colonia|Col\.|Bairro|Mahallesi|Mah\.|"
         # Vietnam, Indonesia, the Philippines and Thailand
         r"Phường|Quận|Huyện|Xã|Thị[ \t]xã|KCN|Khu[ \t]công[ \t]nghiệp|Kelurahan|Kel\.|Kecamatan|"
         rf"Kec\.|Desa|Barangay|Brgy\.|Tambon|Amphoe|Khet|Khwaeng)[ \t]+{_NAME}"
         rf"(?:[ \t]+{_NAME}){{0,2}}")
_UNIT_LIST = re.compile(
    rf"(?:(?:{_UNIT})(?:[ \t]+(?:{_UNIT}))?|{_LOCALITY}|\b[A-Z]{{1,2}}-\d{{1,4}}(?:/\d{{1,4}})?),"
    rf"[ \t]*"
    rf"(?:{_UNIT}|{_LOCALITY}|{_AREA}|{_PREFIX_STREET}|(?:{_NAME}[ \t]+){{1,3}}(?:{_EN_TYPES})\b)")
# Numbered things of trade and of documents, never the name of a street or of a town.
_NOUNS = (r"(?i:grade|model|size|article|art|table|lot|container|batch|version|figure|fig|line|"
          r"annex|page|week|order|phase|class|item|items|type|series|part|section|chapter|step|"
          r"level|stage|option|pack|box|bag|pallet|carton|sample|samples|test|year|month|day|hall|"
          r"booth|stand|row|unit|units|pieces|pcs|bags|cartons|boxes|pallets|meters|metres|tons|"
          r"bottles|sets|pairs|rolls|drums|edition|update|report|regulation|survey|launch|plan|"
          r"production|no|nr|mesh|stock|bales|micron|microns|sqft|sqm|visitors|workers|"
          r"employees|members|buyers|customers|clients|users|hours|days|sizes|colou?rs|designs|"
          r"styles|models|grades|lines|shifts|machines|tonnes|kgs|liters|litres|gallons|feet|"
          r"yards|inches|pounds|dozens?|cases|crates|bundles|coils|sheets|tubes|pipes|tins|cans|"
          r"jars|sacks|containers|rpm|watts|volts|degrees|points|votes|views|likes|followers)")
_FR_TYPES = (r"rue|avenue|av\.|boulevard|bd|place|chemin|allée|impasse|quai|route|cours|rang|"
             r"montée|voie|sentier|passage|faubourg|promenade|esplanade|square|rond-point")
_FR_ARTICLE = r"(?:de[ \t]+la[ \t]+|de[ \t]+l'|du[ \t]+|des[ \t]+|de[ \t]+|d'|la[ \t]+)"
_STREET_PATTERNS = [
    # 1200 Harbor Blvd, Suite 400 · 221B Baker Street · 14, Kingsway Road
    rf"\b\d{{1,5}}[A-Za-z]?,?[ \t]+(?:{_NAME}[ \t]+){{1,4}}(?:{_EN_TYPES})\b\.?"
    r"(?:[ \t]+(?:N|S|E|W|NE|NW|SE|SW)\b)?"
    r"(?:,?[ \t]*(?:Suite|Ste|Unit|Apt|Floor|#)[ \t]*[\w\-]+)?",
    # House 12, Road 7 (South Asia) · Moi Avenue, Nyumba Na. 12 · Lot 52, Quartier Industriel
    rf"\b(?:House|Plot|Flat|Holding|Godown)[ \t]*(?:No\.?|#)?[ \t]*\d{{1,5}}[A-Za-z]?,[ \t]*"
    rf"{_NAME}(?:[ \t]+\d{{1,5}})?",
    rf"{_NAME}[ \t]+(?:Avenue|Road|Street|Lane|Drive|Boulevard),[ \t]*(?:Plot|House|Nyumba|"
    r"Building|Bldg|Block|Unit|Suite|Floor|Shop)[ \t]*(?:Na\.|No\.?)?[ \t]*\d{1,5}",
    rf"\bLot[ \t]+\d{{1,5}},[ \t]*(?:Quartier|Zone|Lotissement|Hay|Cité)[ \t]+{_NAME}",
    rf"\b(?:Zone|Quartier)[ \t]+(?i:industriel(?:le)?|franche|artisanale?)[ \t]+"
    rf"(?:de[ \t]+)?{_NAME}",
    # Immeuble Alpha, 3e étage · Résidence Les Palmiers, Cocody (West and North Africa)
    rf"\b(?:Immeuble|Imm\.|Résidence|Bâtiment|Bât\.)[ \t]+{_NAME}(?:[ \t]+{_NAME}){{0,2}},[ \t]*"
    rf"(?:\d{{1,2}}(?:e|er|ème|è)[ \t]+étage|{_NAME})",
    # ZI des Paluds · ZAC de la Plaine · Z.I. Nord, 13400 Aubagne
    rf"\b(?:Z\.?I\.?|Z\.?A\.?C?\.?|Parc[ \t]d'activités|Lieu-dit)[ \t]+(?:{_FR_ARTICLE}{_NAME}|"
    rf"{_NAME},[ \t]*\d{{5}})",
    _PREFIX_STREET + r"(?:,?[ \t]+No\.?[ \t]*\d{1,5}[A-Za-z]?)?",
    rf"\b\d{{1,5}}[ \t]+(?:Jalan|Jln\.?|Lorong)[ \t]+{_NAME}",
    # 12 rue de la République · 45 bis avenue Jean Jaurès · 1250 rang Saint-Joseph
    rf"\b\d{{1,4}}(?:[ \t]?(?:bis|ter))?,?[ \t]+(?i:{_FR_TYPES})[ \t]+{_FR_ARTICLE}?"
    rf"{_NAME}(?:[ \t]+{_NAME}){{0,3}}",
    # rue des Pétroliers · Rue de la Loi 155 · Avenue Louise 54 (Belgium: the number after)
    rf"\b(?i:rue|avenue|boulevard|chaussée|place|quai)[ \t]+(?:de[ \t]+la|du|des|de)[ \t]+"
    rf"[{_UP}][{_LOW}]{{1,30}}(?:[ \t]*,?[ \t]*\d{{1,4}}[a-z]?\b)?",
    rf"\b(?:Rue|Avenue|Boulevard|Chaussée|Place|Quai)[ \t]+{_WORD}(?:[ \t]+{_WORD}){{0,2}}[ \t]*,?"
    r"[ \t]*\d{1,4}[a-z]?\b",
    # Hafenstraße 12 · Industriestr. 4a · Carl-Benz-Ring 18 · Keizersgracht 123
    rf"\b[{_UP}][{_LOW}ß]{{1,30}}(?:-[{_UP}][{_LOW}ß]{{1,30}}){{0,4}}(?:straße|strasse|str\.|weg|"
    r"allee|platz|gasse|chaussee|straat|laan|gracht|plein|singel|dijk|dreef|steeg)[ \t]*"
    r"\d{1,4}[a-z]?\b",
    # "ring", "damm", "kai", "ufer", "kade" also end English words ("Bearing 6205", "Arcade 12"):
    # such a street needs its postal code and town ("Nordring 12, 90409 Nürnberg").
    rf"\b[{_UP}][{_LOW}ß]{{1,30}}(?:ring|damm|ufer|kai|kade)[ \t]*\d{{1,3}}[a-z]?,[ \t]*\d{{4,5}}"
    r"[ \t]+[A-ZÄÖÜ]",
    rf"\b[{_UP}][{_LOW}ß]{{1,30}}(?:-[{_UP}][{_LOW}ß]{{1,30}}){{1,4}}-(?:Straße|Strasse|Weg|Allee|"
    r"Platz|Ring|Damm)[ \t]*\d{1,4}[a-z]?\b",
    # Am Sandtorkai 40, 20457 Hamburg (a preposition alone is prose: "Im Jahr 2024")
    rf"\b(?:Am|An[ \t]der|Im|Auf[ \t]dem|In[ \t]der|Zum|Zur)[ \t]+[{_UP}][{_LOW}ß\-]{{1,30}}[ \t]+"
    r"\d{1,4}[a-z]?,[ \t]*\d{4,5}[ \t]+[A-ZÄÖÜ]",
    # Ruta Provincial 15 km 29 · Carretera Federal 200 Km 45 · Rodovia BR-116, km 23
    rf"\b(?:Ruta|Rta\.|Carretera|Ctra\.|Rodovia|Rod\.|Autopista|Autovía|Estrada)"
    rf"[ \t]+(?:{_NAME}[ \t]+){{0,2}}(?:[A-Z]{{1,3}}-?)?\d{{1,4}}[ \t]*,?[ \t]*"
    r"(?i:km|k\.m\.|kil[óô]metro|quil[ôó]metro)[ \t]*\d{1,4}(?:[.,]\d{1,3})?",
    # Calle Mayor 25 · Avda. de la Constitución 12 · Rua Augusta, 1500 · Contrada Villa 18
    r"\b(?:Calle|C/|Avda\.?|Avenida|Av\.|Jr\.|Jirón|Paseo|Plaza|Pza\.|Carrera|Cra\.?|Camino|Carretera|"
    r"Ronda|Calzada|Callejón|Pasaje|Bulevar|Rambla|Travesía|Carrer|Avinguda|Passeig|Rua|"
    r"Travessa|Praça|Largo|Estrada|Alameda|Rodovia|Rod\.|Beco|Via|Viale|Piazza|Piazzale|Corso|"
    r"Contrada|C\.da|Località|Loc\.|Strada|Vicolo|Borgo|Frazione|Fraz\.|Lungomare|Str\.|Calea|"
    r"Bulevardul|Aleea|Splaiul|Șoseaua|Blvd\.|Blvr\.|Prolongación|Prol\.|Circuito|Periférico|"
    # Albanian, Slavic and Baltic names put the word for street first too
    r"Rruga|Rr\.|Bulevardi|Ulica|Ulitsa|Ulice|Iela|Gatvė|Utca|ul\.|Ul\.|vul\.|Vul\.|Prospekt|"
    r"Prosp\.|Pereulok|Shosse|"
    # and so do transliterated Arabic ones: Derb Lalla Azzouna 12, Sharia El Tahrir 45
    r"Derb|Zankat|Zenkat|Zanqat|Sharia|Shari'|Sikka)[ \t]+"
    r"(?:(?:de|del|da|do|dos|das|la|las|los|di|della|dei|degli|delle|e|i|të)[ \t]+|"
    r"(?:dell|dall|all|d|l)['’]){0,2}"
    rf"{_NAME_BODY}(?:[ \t]+[{_UP}{_LOW}][{_UP}{_LOW}'.\-]{{0,30}}){{0,3}}[ \t]*,?[ \t]*"
    r"(?:(?:(?i:n[º°o]|nr|num|número)\.?[ \t]*:?[ \t]*|#[ \t]*)?\d{1,5}(?:-\d{1,3})?\b|"
    r"(?i:s/n|sin[ \t]número)(?!\w))",
    # Calle 93 # 11-26 · Transversal 23 No. 45-67 · Diagonal 40A Bis # 21-13 (Colombia)
    r"\b(?:Calle|Cl\.|Carrera|Cra\.?|Kr\.|Avenida|Av\.|Transversal|Tv\.|Diagonal|Dg\.|"
    r"Circular|Autopista)[ \t]+\d{1,3}[A-Z]?(?:[ \t]?Bis)?[ \t]*(?:#|No\.?|N[º°])[ \t]*"
    r"\d{1,3}[A-Z]?[ \t]*-[ \t]*\d{1,3}\b",
    # Atatürk Cad. No: 45 · Cumhuriyet Mah. 1234 Sok. No: 7 · 3. Cadde No: 18
    # İkitelli OSB Mah. Marmara Sanayi Sitesi M Blok No: 45
    rf"{_NAME}(?:[ \t]+{_NAME}){{0,2}}[ \t]+(?:Caddesi|Cadde|Cad\.|Cd\.|Sokak|Sokağ[ıi]|Sok\.|Sk\.|"
    r"Bulvar[ıi]|Blv\.|Mahallesi|"
    r"Mah\.|OSB|Sanayi[ \t]Sitesi|Sitesi|Blok|Plaza|Han[ıi])(?:(?:[ \t]+[\w.]+){0,8}?[ \t]*"
    r"No[ \t]*[:.]?[ \t]*\d{1,5}|[ \t]+\d{1,4}(?:/\d{1,3})?(?=,))",
    # Mtaa wa Uhuru 45 · Barabara ya Nyerere (Swahili)
    rf"\b(?:Mtaa|Barabara)[ \t]+(?:wa|ya)[ \t]+[{_UP}][{_LOW}]{{1,30}}(?:[ \t]+\d{{1,5}})?",
    # 25 Lê Duẩn, Phường Bến Nghé · 14 Jalan Mawar, Kelurahan Menteng: a number and a name,
    # then a named quarter of a town
    rf"\b\d{{1,5}}[A-Za-z]?(?:/\d{{1,4}})?[ \t]+{_NAME}(?:[ \t]+{_NAME}){{0,3}},[ \t]*{_AREA}",
    # 1-2-3 Shibuya, Shibuya-ku · 3-5-12 Nishi-Shinjuku, Shinjuku-ku (Japan: chōme-ban-gō)
    rf"\b\d{{1,2}}-\d{{1,3}}(?:-\d{{1,4}})?,?[ \t]+{_NAME}(?:[ \t]+{_NAME}){{0,2}},?[ \t]+"
    rf"(?:{_NAME}-)?(?i:ku|shi|cho|chō|machi|gun|mura)\b",
    # 東京都渋谷区渋谷1-2-3 · 大阪市中央区本町2丁目3番4号
    r"[\u4e00-\u9fff\u3040-\u30ff]{1,12}[都道府県市区町村][\u4e00-\u9fff\u3040-\u30ff]{0,12}\d{1,4}"
    r"(?:丁目|番地?|号|-)\d{1,4}(?:(?:番地?|号|-)\d{0,4}){0,2}",
    # 123 Teheran-ro, Gangnam-gu · Teheran-ro 123 · 45 Seolleung-ro 93-gil (Korea)
    rf"\b\d{{1,5}}(?:-\d{{1,4}})?,?[ \t]+{_NAME}-(?:ro|gil|daero)\b"
    r"(?:[ \t]+\d{1,3}(?:beon)?-gil\b)?|"
    rf"\b{_NAME}-(?:ro|gil|daero)[ \t]+\d{{1,5}}(?:-\d{{1,4}})?(?:-gil)?\b",
    # ул. Ленина, д. 5 · проспект Мира 12 · вул. Хрещатик, 22
    r"(?i:\bул\.|улица|пр-т|просп\.|проспект|пер\.|переулок|шоссе|наб\.|бульвар|пл\.|вул\.|"
    r"вулиця)[ \t]*[^\W\d_][\w.\-]{1,30}(?:[ \t]+[^\W\d_][\w.\-]{1,30}){0,2},?[ \t]*"
    r"(?i:д\.|дом|буд\.)?[ \t]*\d{1,4}",
    # King Fahd Road, Al Olaya, Riyadh 12214: no house number, but a district, a town and a code
    rf"(?:{_NAME}[ \t]+){{1,4}}(?:Road|Rd\.?|Street|St\.?|Avenue|Ave\.?|Highway|Boulevard|Blvd)"
    rf",[ \t]*(?:{_NAME}[ \t]+){{0,3}}{_NAME},[ \t]*{_WORD}(?:[ \t]+{_WORD})?[ \t]+\d{{4,6}}\b"
    r"(?![ \t.\-]?\d)",
    # Farm Doornkraal, R36, Letsitele · R44 Stellenbosch, 7600 (South Africa's regional routes)
    rf"\b(?:Farm|Plaas|Erf|Portion)[ \t]+{_NAME},[ \t]*[RN]\d{{1,3}}\b|"
    # (refrigerants are named the same way: "R32 Refrigerant, 2025")
    rf"\bR\d{{1,3}},?[ \t]+(?!(?i:refrigerant|gas|freon|coolant|compressor|cylinder)){_NAME}"
    rf"(?:[ \t]+{_NAME})?,[ \t]*(?!(?:19|20)\d\d)\d{{4}}\b(?![ \t]*[a-z])",
    # Số 12 Đường Lê Lợi (Vietnam)
    r"\b(?:Số[ \t]+)?\d{1,5}[A-Za-z]?(?:/\d{1,4})?,?[ \t]+(?:Đường|đường|Phố|phố)[ \t]+"
    r"[^\W\d_]{1,15}(?:[ \t]+[^\W\d_]{1,15}){0,3}",
    # P.O. Box 48210-00100 · Postfach 10 12 34 · Apartado 123 · PMB 12 · Private Bag X12 · ص.ب
    r"(?:\bP\.?[ \t]?O\.?[ \t]?Box|\bPOB\b|\bGPO[ \t]Box|\bPost[ \t]?Box|\bPostfach|\bPostbus|"
    r"\bApartado(?:[ \t]de[ \t]Correos|[ \t]Postal)?|\bCasilla(?:[ \t]de[ \t]Correo)?|"
    r"\bCaixa[ \t]Postal|\bCasella[ \t]Postale|\bS\.L\.P\.?|\bB\.P\.|\bBP|\bP\.?M\.?B\.?|"
    r"\bPrivate[ \t](?:Mail[ \t])?Bag|\bLocked[ \t]Bag|\bP\.K\.|\bPosta[ \t]Kutusu|ص\.?[ \t]?ب\.?|"
    r"صندوق[ \t]بريد)[ \t]*:?[ \t]*[A-Z]?\d[\d \-]{0,12}\d(?![/\d])"
    rf"(?:[ \t]+(?![A-Z]{{2}}\b){_NAME}(?:[ \t]+\d{{4,6}}\b)?)?",
    # 深圳市南山区科技园路18号 · 张江路88弄5号 · 递铺镇阳光工业园区8号
    r"[\u4e00-\u9fff]{1,12}(?:路|街|道|大道|巷|弄|胡同)[ \t]*\d{1,5}[ \t]*(?:[号號弄巷])"
    r"(?:[ \t]*\d{1,5}[ \t]*[号號栋幢楼室]){0,3}",
    r"(?P<cjk>[\u4e00-\u9fff]{2,24})\d{1,5}[ \t]*[号號](?:[ \t]*\d{1,5}[ \t]*[栋幢楼室]){0,2}",
    # شارع الملك فهد 2415
    r"شارع[ \t]+[\u0621-\u064a]{1,30}(?:[ \t]+[\u0621-\u064a]{1,30}){0,3}(?:[ \t]*\d{1,5})?",
]
_STREET = re.compile("|".join(f"(?:{p})" for p in _STREET_PATTERNS))

# Gewerbepark Süd 4, 86551 Aichach · ul. Marszałkowska 10/12, 00-590 Warszawa: a name and a
# number, then a postal code and a town, is an address in most of Europe; "Grade 2, 2000
# Pieces" and "Article 12, 2024 Regulation" are not. The postal code and town are found
# first, as they are rare, and the street is looked for just before them.
_POSTAL_TOWN = re.compile(rf",[ \t]*(?!(?:19|20)\d\d\b|\d{{1,2}}000\b)(?:\d{{4}}[ \t]?[A-Z]{{2}}|"
                          rf"\d{{4,5}}|\d{{2}}-\d{{3}}|\d{{3}}[ \t]\d{{2}})[ \t]+(?!{_NOUNS}\b)"
                          rf"[{_UP}][{_LOW}]{{2,}}")
_STREET_BEFORE = re.compile(rf"(?:\b(?:ul|al|os|pl)\.[ \t]+)?(?!{_NOUNS}\b){_WORD}"
                            rf"(?:[ \t]+{_NAME}){{0,3}}[ \t]+\d{{1,4}}[a-zA-Z]?(?:/\d{{1,4}})?")

# What may follow a street to complete the address: ", 69002 Lyon", ", Long Beach, CA 90802",
# ", piso 5, C1043 CABA", " - SP, 01310-200", " Kadikoy/Istanbul", "، دبي". A postal code is
# never the start of a phone number ("Via Roma 5, 0871 961234"), and a name is never the
# start of an email address.
_POSTAL = (r"(?:\d{5}-\d{3,4}|\d{4}-\d{3}|\d{4,6}|[A-Z]\d{4}(?:[A-Z]{3})?|"
           r"[A-Z]{1,2}\d[A-Z\d]?[ \t]\d[A-Z]{2}|[A-Z]\d[A-Z][ \t]?\d[A-Z]\d)"
           r"(?![\w\-]|[ \t.\-/]?\d)")
_CITY = (rf"{_NAME}(?![@\w])(?:[ \t]+(?:{_NAME}|de|do|da|del|di|la|el|al|sur|am|upon)"
         r"(?![@\w])){0,3}(?:[ \t]*\([A-Z]{2}\))?")
_UNIT_TAIL = (r"(?i:piso|planta|floor|fl\.|suite|ste\.?|unit|apt\.?|oficina|office|local|bloque|"
              r"block|kat|daire|room|rm\.?|#)[ \t]*[\w\-]{1,6}")
_SEP = r"(?:,|[ \t]+[-–]|[ \t]*،)[ \t]*"
_ARABIC_WORDS = r"[\u0621-\u064a]{2,20}(?:[ \t]+[\u0621-\u064a]{2,20}){0,2}"
_CYRILLIC_WORDS = (r"[А-ЯЁЇІЄҐ][а-яёїієґ'\-]{1,30}"
                   r"(?:[ \t]+[А-ЯЁЇІЄҐа-яёїієґ][а-яёїієґ'\-]{1,30}){0,2}")
_ADDRESS_TAIL = re.compile(
    rf"(?:{_SEP}(?:{_UNIT_TAIL}|{_CITY}|{_ARABIC_WORDS}|{_CYRILLIC_WORDS})|"
    rf",?[ \t]*{_POSTAL}(?:[ \t]+{_CITY})?|"
    rf"[ \t]+[A-Z]{{2}}[ \t]+\d{{5}}(?:-\d{{4}})?|(?:[ \t]+{_WORD})?/{_WORD}|"
    r"(?<=[^\W\d_])[ \t]+〒?\d{3}-\d{4}(?![\w\-])){0,5}")

# The label of the next contact detail ends an address ("…, 28013 Madrid Tel 91 …").
_CONTACT_LABEL = re.compile(
    r"\b(?:tel(?![ \t]+aviv)|t[eé]l|tlf|tfno|phone|fax|mob|mobile|cell|gsm|e-?mail|mail|web|"
    r"website|www|whats[ \t]?app|skype|wechat|telegram|viber|contact|kontakt|call|zap|courriel|"
    r"correo|instagram)\b|[☎📞📱✉]|هاتف|جوال|واتساب|للتواصل|البريد|الموقع|电话|手机|邮箱|微信",
    re.IGNORECASE)
_STOP = re.compile(r"[\n;|。]|\.(?=[ \t]|$)")
# A full stop after these shortens a word; it does not end the address.
_ABBREVIATED = frozenset("st rd ave av avda blvd str no nr jl jln cad cd mah sok sk bldg apt ste "
                         "dr ln hwy col pza km bd sq pl ct loc fraz c.da p.o fl rm".split())


# A number followed by a unit is a quantity, not a house number: "Via Rotterdam 5 days".
_QUANTITY = re.compile(
    r"[ \t]*(?:[x×%]|(?:days?|weeks?|months?|years?|hours?|hrs?|jours|semaines|días|semanas|"
    r"giorni|settimane|tage|wochen|gün|stars?|pcs|pieces|units|kgs?|tons?|tonnes?|mt|lbs?|"
    r"pallets?|cartons?|bags?|boxes|containers?|cm|mm|m|ft)\b)", re.IGNORECASE)

_TYPE_WORD = re.compile(r"\b[A-Za-z]{3,}")
_CJK_PLACE = re.compile(r"[省市县区镇乡村路街道园]")
_AMOUNT = re.compile(r"\d" + _QUANTITY.pattern, re.IGNORECASE)


def find_addresses(text: str) -> Iterator[Span]:
    """Every street address and post-office box in `text`."""
    for match in _STREET.finditer(text):
        # "3月12号" is a date and "第5号" a number: a Chinese address names a town or a street.
        cjk = match.group("cjk")
        if _QUANTITY.match(text, match.end()) or (cjk and not _CJK_PLACE.search(cjk)) or \
                _counted_things(text, match):
            continue
        yield "street_address", match.start(), _address_end(text, match.end())
    for match in _UNIT_LIST.finditer(text):
        first, second = (_TYPE_WORD.findall(part)[:1] for part in match.group().split(",", 1))
        if first != second:  # "Unit 1, Unit 2" are parts of a plant, not an address
            yield "street_address", match.start(), _address_end(text, match.end())
    for town in _POSTAL_TOWN.finditer(text):
        street = _last_match(_STREET_BEFORE, text, max(0, town.start() - 70), town.start())
        if street is not None:
            yield "street_address", street, _address_end(text, town.end())
    yield from _labelled_addresses(text)


# "We have 12 Oak Street varieties", "25 Sesame Street toys": things named after a street,
# counted. An address is not followed by a plural noun, unless a word such as "at" comes first.
_PLURAL_AFTER = re.compile(r"[ \t]+(?:[a-z]{2,}[^aius\W]s|[A-Z]{2,}s|[a-z]{2,}ies)\b")
_PLACE_WORDS = frozenset("""
    at on in to from near opposite behind beside address located visit visiting is are office
    warehouse store shop showroom factory plant hq depot yard mill premises site location
    à au en chez bei in an am auf en dans
""".split())


def _counted_things(text: str, match: re.Match[str]) -> bool:
    if not text[match.start()].isdigit() or not _PLURAL_AFTER.match(text, match.end()):
        return False
    before = text[max(0, match.start() - 24):match.start()].split()
    return bool(before) and before[-1].lower() not in _PLACE_WORDS and \
        before[-1][-1] not in ":-–(,"


def _last_match(pattern: re.Pattern[str], text: str, start: int, end: int) -> int | None:
    """Where the first match of `pattern` that ends exactly at `end` starts, if any."""
    for match in pattern.finditer(text, start, end):
        if match.end() == end:
            return match.start()
    return None


def _address_end(text: str, core_end: int) -> int:
    """The end of the address whose core ends at `core_end`, with what completes it."""
    tail = _ADDRESS_TAIL.match(text, core_end)
    return _cut(text, core_end, tail.end() if tail else core_end)


def _cut(text: str, start: int, end: int) -> int:
    """`end`, or earlier where a sentence ends or the next contact detail's label begins."""
    label = _CONTACT_LABEL.search(text, start, end)
    if label:
        end = label.start()
    for stop in _STOP.finditer(text, start, end):
        if stop.group() != "." or _ends_sentence(text, stop.start()):
            end = stop.start()
            break
    while end > start and text[end - 1] in " \t,.;:-–(/،":
        end -= 1
    return end


def _ends_sentence(text: str, dot: int) -> bool:
    word = text[max(0, dot - 8):dot].split()[-1:] or [""]
    return len(word[0]) > 1 and word[0].lower() not in _ABBREVIATED


_ADDRESS_LABEL = re.compile(
    r"(?:\b(?i:address|addr|adres|adresi|adresse|anschrift|direcci[oó]n|domicilio|endere[cç]o|"
    r"indirizzo|sede|pata)|\bAdd|地址|地點|地点|العنوان|पता)[ \t]*[:：][ \t]*")
# "Email address:", "Web address:" label something else.
_OTHER_ADDRESS = re.compile(r"(?:e-?mail|mail|web|website|ip|mac|wallet|url|internet)[ \t\-]*$",
                            re.IGNORECASE)


# "digital address: GA-123-4567" (Ghana Post GPS): shaped like a part number, so only by its label.
_DIGITAL_ADDRESS = re.compile(
    r"(?i:digital[ \t]+address|gps[ \t]+address|ghana[ \t]?post(?:[ \t]+gps)?)(?:[ \t]+is)?[ \t]*"
    r"[:：]?[ \t]*(?P<code>[A-Z]{2}-\d{3,4}-\d{4})\b")


def _labelled_addresses(text: str) -> Iterator[Span]:
    """ "Address: No. 18, 2nd Cross, Peenya Industrial Area, Bangalore" whatever its format."""
    for code in _DIGITAL_ADDRESS.finditer(text):
        yield "street_address", code.start("code"), code.end("code")
    for label in _ADDRESS_LABEL.finditer(text):
        if _OTHER_ADDRESS.search(text, max(0, label.start() - 12), label.start()):
            continue
        start = label.end()
        end = _cut(text, start, min(len(text), start + 120))
        if _looks_like_an_address(text[start:end]):
            yield "street_address", start, end


def _looks_like_an_address(content: str) -> bool:
    if len(content) < 6 or "@" in content or "www" in content.lower() or _AMOUNT.search(content):
        return False
    if re.search(r"[\u4e00-\u9fff]", content):
        return bool(re.search(r"[省市区县路街镇村号]", content))
    commas = content.count(",") + content.count("،")
    has_digit = any(c.isdigit() for c in content)
    return (commas >= 2 or (commas == 1 and has_digit)) and not content[0].islower()
