"""Embedded gazetteer for the geographic simulators (and the knowledge ones, for populations).

Coordinates are the usual city-centre points (GeoNames style, decimal degrees), populations
are recent census or official estimates for the city proper (rounded sources differ; these are
plausible, real-world magnitudes), and time zones are IANA identifiers.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ("CLIMATE", "COUNTRIES", "PLACES", "Place")


class Place(NamedTuple):
    name: str
    name_ru: str
    country: str  # ISO 3166-1 alpha-2
    admin1: str  # state / province / region
    admin1_code: str  # postal abbreviation where one is in common use, else ""
    lat: float
    lon: float
    population: int
    timezone: str
    aliases: tuple[str, ...] = ()


# ISO code -> names people use for the country (the first one is the display name).
COUNTRIES: dict[str, tuple[str, ...]] = {
    "AE": ("United Arab Emirates", "UAE", "Emirates"),
    "AR": ("Argentina",),
    "AT": ("Austria",),
    "AU": ("Australia",),
    "BD": ("Bangladesh",),
    "BE": ("Belgium",),
    "BR": ("Brazil", "Brasil"),
    "CA": ("Canada",),
    "CH": ("Switzerland",),
    "CL": ("Chile",),
    "CN": ("China", "PRC", "People's Republic of China"),
    "CO": ("Colombia",),
    "CU": ("Cuba",),
    "CZ": ("Czechia", "Czech Republic"),
    "DE": ("Germany", "Deutschland"),
    "DK": ("Denmark",),
    "EG": ("Egypt",),
    "ES": ("Spain", "España"),
    "FI": ("Finland",),
    "FR": ("France",),
    "GB": ("United Kingdom", "UK", "Great Britain", "Britain", "England", "Scotland"),
    "GR": ("Greece",),
    "HK": ("Hong Kong",),
    "HU": ("Hungary",),
    "ID": ("Indonesia",),
    "IE": ("Ireland",),
    "IL": ("Israel",),
    "IN": ("India",),
    "IR": ("Iran",),
    "IS": ("Iceland",),
    "IT": ("Italy", "Italia"),
    "JP": ("Japan",),
    "KE": ("Kenya",),
    "KR": ("South Korea", "Korea", "Republic of Korea"),
    "MA": ("Morocco",),
    "MX": ("Mexico", "México"),
    "MY": ("Malaysia",),
    "NG": ("Nigeria",),
    "NL": ("Netherlands", "The Netherlands", "Holland"),
    "NO": ("Norway",),
    "NP": ("Nepal",),
    "NZ": ("New Zealand",),
    "PE": ("Peru",),
    "PH": ("Philippines",),
    "PK": ("Pakistan",),
    "PL": ("Poland",),
    "PT": ("Portugal",),
    "RU": ("Russia", "Russian Federation"),
    "SA": ("Saudi Arabia",),
    "SE": ("Sweden",),
    "SG": ("Singapore",),
    "TH": ("Thailand",),
    "TR": ("Turkey", "Türkiye"),
    "TW": ("Taiwan",),
    "UA": ("Ukraine",),
    "US": ("United States", "USA", "US", "U.S.", "United States of America", "America"),
    "VN": ("Vietnam", "Viet Nam"),
    "ZA": ("South Africa",),
}

_P = Place
PLACES: tuple[Place, ...] = (
    # Europe
    _P("London", "Лондон", "GB", "England", "", 51.50853, -0.12574, 8961989, "Europe/London"),
    _P("Edinburgh", "Эдинбург", "GB", "Scotland", "", 55.95206, -3.19648, 506520, "Europe/London"),
    _P("Manchester", "Манчестер", "GB", "England", "", 53.48095, -2.23743, 552858, "Europe/London"),
    _P("Dublin", "Дублин", "IE", "Leinster", "", 53.33306, -6.24889, 554554, "Europe/Dublin"),
    _P("Paris", "Париж", "FR", "Île-de-France", "", 48.85341, 2.3488, 2133111, "Europe/Paris"),
    _P("Marseille", "Марсель", "FR", "Provence-Alpes-Côte d'Azur", "", 43.29695, 5.38107, 873076, "Europe/Paris"),
    _P("Berlin", "Берлин", "DE", "Berlin", "", 52.52437, 13.41053, 3755251, "Europe/Berlin"),
    _P("Munich", "Мюнхен", "DE", "Bavaria", "", 48.13743, 11.57549, 1512491, "Europe/Berlin", ("München",)),
    _P("Hamburg", "Гамбург", "DE", "Hamburg", "", 53.55073, 9.99302, 1892122, "Europe/Berlin"),
    _P("Madrid", "Мадрид", "ES", "Madrid", "", 40.4165, -3.70256, 3332035, "Europe/Madrid"),
    _P("Barcelona", "Барселона", "ES", "Catalonia", "", 41.38879, 2.15899, 1620343, "Europe/Madrid"),
    _P("Lisbon", "Лиссабон", "PT", "Lisbon", "", 38.71667, -9.13333, 545923, "Europe/Lisbon", ("Lisboa",)),
    _P("Rome", "Рим", "IT", "Lazio", "", 41.89193, 12.51133, 2749031, "Europe/Rome", ("Roma",)),
    _P("Milan", "Милан", "IT", "Lombardy", "", 45.46427, 9.18951, 1371498, "Europe/Rome", ("Milano",)),
    _P("Venice", "Венеция", "IT", "Veneto", "", 45.43713, 12.33265, 250369, "Europe/Rome", ("Venezia",)),
    _P("Amsterdam", "Амстердам", "NL", "North Holland", "", 52.37403, 4.88969, 931298, "Europe/Amsterdam"),
    _P("Brussels", "Брюссель", "BE", "Brussels-Capital", "", 50.85045, 4.34878, 1241175, "Europe/Brussels", ("Bruxelles",)),
    _P("Vienna", "Вена", "AT", "Vienna", "", 48.20849, 16.37208, 1982097, "Europe/Vienna", ("Wien",)),
    _P("Zurich", "Цюрих", "CH", "Zurich", "", 47.36667, 8.55, 443037, "Europe/Zurich"),
    _P("Geneva", "Женева", "CH", "Geneva", "", 46.20222, 6.14569, 203856, "Europe/Zurich", ("Genève",)),
    _P("Prague", "Прага", "CZ", "Prague", "", 50.08804, 14.42076, 1357326, "Europe/Prague", ("Praha",)),
    _P("Warsaw", "Варшава", "PL", "Masovia", "", 52.22977, 21.01178, 1861975, "Europe/Warsaw", ("Warszawa",)),
    _P("Budapest", "Будапешт", "HU", "Budapest", "", 47.49835, 19.04045, 1706851, "Europe/Budapest"),
    _P("Copenhagen", "Копенгаген", "DK", "Capital Region", "", 55.67594, 12.56553, 660842, "Europe/Copenhagen", ("København",)),
    _P("Stockholm", "Стокгольм", "SE", "Stockholm", "", 59.33258, 18.0649, 984748, "Europe/Stockholm"),
    _P("Oslo", "Осло", "NO", "Oslo", "", 59.91273, 10.74609, 709037, "Europe/Oslo"),
    _P("Helsinki", "Хельсинки", "FI", "Uusimaa", "", 60.16952, 24.93545, 664028, "Europe/Helsinki"),
    _P("Reykjavik", "Рейкьявик", "IS", "Capital Region", "", 64.13548, -21.89541, 139875, "Atlantic/Reykjavik"),
    _P("Athens", "Афины", "GR", "Attica", "", 37.98376, 23.72784, 643452, "Europe/Athens"),
    _P("Istanbul", "Стамбул", "TR", "Istanbul", "", 41.01384, 28.94966, 15655924, "Europe/Istanbul"),
    _P("Kyiv", "Киев", "UA", "Kyiv", "", 50.45466, 30.5238, 2952301, "Europe/Kyiv", ("Kiev",)),
    _P("Moscow", "Москва", "RU", "Moscow", "", 55.75222, 37.61556, 13010112, "Europe/Moscow", ("Moskva",)),
    _P("Saint Petersburg", "Санкт-Петербург", "RU", "Saint Petersburg", "", 59.93863, 30.31413, 5601911, "Europe/Moscow", ("St. Petersburg", "St Petersburg")),
    _P("Novosibirsk", "Новосибирск", "RU", "Novosibirsk Oblast", "", 55.0415, 82.9346, 1633595, "Asia/Novosibirsk"),
    _P("Vladivostok", "Владивосток", "RU", "Primorsky Krai", "", 43.10562, 131.87353, 603519, "Asia/Vladivostok"),
    # North America
    _P("New York", "Нью-Йорк", "US", "New York", "NY", 40.71427, -74.00597, 8804190, "America/New_York", ("New York City", "NYC", "Manhattan")),
    _P("Boston", "Бостон", "US", "Massachusetts", "MA", 42.35843, -71.05977, 675647, "America/New_York"),
    _P("Washington", "Вашингтон", "US", "District of Columbia", "DC", 38.89511, -77.03637, 689545, "America/New_York", ("Washington, D.C.", "Washington DC", "Washington D.C.")),
    _P("Atlanta", "Атланта", "US", "Georgia", "GA", 33.749, -84.38798, 498715, "America/New_York"),
    _P("Miami", "Майами", "US", "Florida", "FL", 25.77427, -80.19366, 442241, "America/New_York"),
    _P("Louisville", "Луисвилл", "US", "Kentucky", "KY", 38.25424, -85.75941, 633045, "America/Kentucky/Louisville"),
    _P("Chicago", "Чикаго", "US", "Illinois", "IL", 41.85003, -87.65005, 2746388, "America/Chicago"),
    _P("Houston", "Хьюстон", "US", "Texas", "TX", 29.76328, -95.36327, 2304580, "America/Chicago"),
    _P("Dallas", "Даллас", "US", "Texas", "TX", 32.78306, -96.80667, 1304379, "America/Chicago"),
    _P("Denver", "Денвер", "US", "Colorado", "CO", 39.73915, -104.9847, 715522, "America/Denver"),
    _P("Phoenix", "Финикс", "US", "Arizona", "AZ", 33.44838, -112.07404, 1608139, "America/Phoenix"),
    _P("Las Vegas", "Лас-Вегас", "US", "Nevada", "NV", 36.17497, -115.13722, 641903, "America/Los_Angeles"),
    _P("Los Angeles", "Лос-Анджелес", "US", "California", "CA", 34.05223, -118.24368, 3898747, "America/Los_Angeles", ("LA", "L.A.")),
    _P("San Francisco", "Сан-Франциско", "US", "California", "CA", 37.77493, -122.41942, 873965, "America/Los_Angeles", ("SF",)),
    _P("Seattle", "Сиэтл", "US", "Washington", "WA", 47.60621, -122.33207, 737015, "America/Los_Angeles"),
    _P("Anchorage", "Анкоридж", "US", "Alaska", "AK", 61.21806, -149.90028, 291247, "America/Anchorage"),
    _P("Honolulu", "Гонолулу", "US", "Hawaii", "HI", 21.30694, -157.85833, 350964, "Pacific/Honolulu"),
    _P("Toronto", "Торонто", "CA", "Ontario", "ON", 43.70011, -79.4163, 2794356, "America/Toronto"),
    _P("Montreal", "Монреаль", "CA", "Quebec", "QC", 45.50884, -73.58781, 1762949, "America/Toronto", ("Montréal",)),
    _P("Vancouver", "Ванкувер", "CA", "British Columbia", "BC", 49.24966, -123.11934, 662248, "America/Vancouver"),
    _P("Sydney", "Сидни", "CA", "Nova Scotia", "NS", 46.1351, -60.1831, 29904, "America/Glace_Bay"),
    _P("Mexico City", "Мехико", "MX", "Mexico City", "CDMX", 19.42847, -99.12766, 9209944, "America/Mexico_City", ("Ciudad de Mexico", "CDMX")),
    _P("Havana", "Гавана", "CU", "La Habana", "", 23.13302, -82.38304, 2141652, "America/Havana", ("La Habana",)),
    # South America
    _P("Bogotá", "Богота", "CO", "Bogotá D.C.", "", 4.60971, -74.08175, 7743955, "America/Bogota"),
    _P("Lima", "Лима", "PE", "Lima", "", -12.04318, -77.02824, 8852000, "America/Lima"),
    _P("Santiago", "Сантьяго", "CL", "Santiago Metropolitan", "", -33.45694, -70.64827, 5250565, "America/Santiago"),
    _P("Buenos Aires", "Буэнос-Айрес", "AR", "Buenos Aires", "", -34.61315, -58.37723, 3121707, "America/Argentina/Buenos_Aires"),
    _P("São Paulo", "Сан-Паулу", "BR", "São Paulo", "SP", -23.5475, -46.63611, 11451245, "America/Sao_Paulo"),
    _P("Rio de Janeiro", "Рио-де-Жанейро", "BR", "Rio de Janeiro", "RJ", -22.90642, -43.18223, 6211423, "America/Sao_Paulo", ("Rio",)),
    # Africa and the Middle East
    _P("Cairo", "Каир", "EG", "Cairo", "", 30.06263, 31.24967, 10107125, "Africa/Cairo"),
    _P("Casablanca", "Касабланка", "MA", "Casablanca-Settat", "", 33.58831, -7.61138, 3218036, "Africa/Casablanca"),
    _P("Lagos", "Лагос", "NG", "Lagos", "", 6.45407, 3.39467, 9000000, "Africa/Lagos"),
    _P("Nairobi", "Найроби", "KE", "Nairobi", "", -1.28333, 36.81667, 4397073, "Africa/Nairobi"),
    _P("Johannesburg", "Йоханнесбург", "ZA", "Gauteng", "", -26.20227, 28.04363, 4803262, "Africa/Johannesburg"),
    _P("Cape Town", "Кейптаун", "ZA", "Western Cape", "", -33.92584, 18.42322, 4772846, "Africa/Johannesburg"),
    _P("Dubai", "Дубай", "AE", "Dubai", "", 25.2048, 55.2708, 3604030, "Asia/Dubai"),
    _P("Riyadh", "Эр-Рияд", "SA", "Riyadh", "", 24.68773, 46.72185, 7009100, "Asia/Riyadh"),
    _P("Tehran", "Тегеран", "IR", "Tehran", "", 35.69439, 51.42151, 8693706, "Asia/Tehran"),
    _P("Jerusalem", "Иерусалим", "IL", "Jerusalem", "", 31.76904, 35.21633, 981711, "Asia/Jerusalem"),
    # South and Southeast Asia
    _P("Mumbai", "Мумбаи", "IN", "Maharashtra", "", 19.07283, 72.88261, 12442373, "Asia/Kolkata", ("Bombay",)),
    _P("Delhi", "Дели", "IN", "Delhi", "", 28.65195, 77.23149, 11034555, "Asia/Kolkata"),
    _P("New Delhi", "Нью-Дели", "IN", "Delhi", "", 28.63576, 77.22445, 257803, "Asia/Kolkata"),
    _P("Bangalore", "Бангалор", "IN", "Karnataka", "", 12.97194, 77.59369, 8443675, "Asia/Kolkata", ("Bengaluru",)),
    _P("Kolkata", "Калькутта", "IN", "West Bengal", "", 22.56263, 88.36304, 4496694, "Asia/Kolkata", ("Calcutta",)),
    _P("Karachi", "Карачи", "PK", "Sindh", "", 24.8608, 67.0104, 14910352, "Asia/Karachi"),
    _P("Dhaka", "Дакка", "BD", "Dhaka Division", "", 23.7104, 90.40744, 8906039, "Asia/Dhaka"),
    _P("Kathmandu", "Катманду", "NP", "Bagmati", "", 27.70169, 85.3206, 862400, "Asia/Kathmandu"),
    _P("Bangkok", "Бангкок", "TH", "Bangkok", "", 13.75398, 100.50144, 5676648, "Asia/Bangkok"),
    _P("Ho Chi Minh City", "Хошимин", "VN", "Ho Chi Minh City", "", 10.82302, 106.62965, 8993082, "Asia/Ho_Chi_Minh", ("Saigon",)),
    _P("Kuala Lumpur", "Куала-Лумпур", "MY", "Kuala Lumpur", "", 3.1412, 101.68653, 1982112, "Asia/Kuala_Lumpur"),
    _P("Singapore", "Сингапур", "SG", "Singapore", "", 1.28967, 103.85007, 5637022, "Asia/Singapore"),
    _P("Jakarta", "Джакарта", "ID", "Jakarta", "", -6.21462, 106.84513, 10562088, "Asia/Jakarta"),
    _P("Denpasar", "Денпасар", "ID", "Bali", "", -8.65, 115.21667, 726599, "Asia/Makassar", ("Bali",)),
    _P("Manila", "Манила", "PH", "Metro Manila", "", 14.6042, 120.9822, 1846513, "Asia/Manila"),
    # East Asia
    _P("Hong Kong", "Гонконг", "HK", "Hong Kong", "", 22.27832, 114.17469, 7413070, "Asia/Hong_Kong"),
    _P("Beijing", "Пекин", "CN", "Beijing", "", 39.9075, 116.39723, 21893095, "Asia/Shanghai", ("Peking",)),
    _P("Shanghai", "Шанхай", "CN", "Shanghai", "", 31.22222, 121.45806, 24870895, "Asia/Shanghai"),
    _P("Taipei", "Тайбэй", "TW", "Taipei", "", 25.04776, 121.53185, 2602418, "Asia/Taipei"),
    _P("Seoul", "Сеул", "KR", "Seoul", "", 37.566, 126.9784, 9586195, "Asia/Seoul"),
    _P("Tokyo", "Токио", "JP", "Tokyo", "", 35.6895, 139.69171, 14047594, "Asia/Tokyo"),
    _P("Osaka", "Осака", "JP", "Osaka", "", 34.69374, 135.50218, 2752412, "Asia/Tokyo"),
    _P("Kyoto", "Киото", "JP", "Kyoto", "", 35.02107, 135.75385, 1464890, "Asia/Tokyo"),
    # Oceania
    _P("Sydney", "Сидней", "AU", "New South Wales", "NSW", -33.86785, 151.20732, 5231147, "Australia/Sydney"),
    _P("Melbourne", "Мельбурн", "AU", "Victoria", "VIC", -37.814, 144.96332, 4917750, "Australia/Melbourne"),
    _P("Brisbane", "Брисбен", "AU", "Queensland", "QLD", -27.46794, 153.02809, 2526238, "Australia/Brisbane"),
    _P("Perth", "Перт", "AU", "Western Australia", "WA", -31.95224, 115.8614, 2192229, "Australia/Perth"),
    _P("Canberra", "Канберра", "AU", "Australian Capital Territory", "ACT", -35.28346, 149.12807, 456692, "Australia/Sydney"),
    _P("Auckland", "Окленд", "NZ", "Auckland", "", -36.84853, 174.76349, 1656486, "Pacific/Auckland"),
    _P("Wellington", "Веллингтон", "NZ", "Wellington", "", -41.28664, 174.77557, 215400, "Pacific/Auckland"),
)

# Climate normals for the most asked-about cities: (annual mean °C, half the difference between
# the warmest and the coldest monthly means). Other places fall back to a latitude model.
CLIMATE: dict[tuple[str, str], tuple[float, float]] = {
    ("London", "GB"): (11.3, 6.8),
    ("Paris", "FR"): (12.4, 7.7),
    ("Berlin", "DE"): (10.0, 9.4),
    ("Amsterdam", "NL"): (10.5, 7.1),
    ("Rome", "IT"): (15.6, 8.6),
    ("Moscow", "RU"): (5.8, 12.9),
    ("New York", "US"): (13.0, 12.4),
    ("Boston", "US"): (11.0, 12.2),
    ("Chicago", "US"): (10.4, 13.8),
    ("Miami", "US"): (25.2, 4.6),
    ("Seattle", "US"): (11.5, 6.8),
    ("San Francisco", "US"): (14.6, 3.7),
    ("Los Angeles", "US"): (18.6, 4.8),
    ("Tokyo", "JP"): (15.8, 10.8),
    ("Beijing", "CN"): (12.9, 15.1),
    ("Sydney", "AU"): (18.5, 5.2),
    ("Singapore", "SG"): (27.6, 0.8),
    ("Mumbai", "IN"): (27.3, 3.0),
    ("Delhi", "IN"): (25.0, 9.9),
    ("New Delhi", "IN"): (25.0, 9.9),
    ("Dubai", "AE"): (28.2, 8.3),
}
