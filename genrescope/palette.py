"""One colour per genre, the same in every picture and map: the page's and
``genrescope library --map``'s map (:mod:`genrescope.library.map`) and the
genre timelines (:func:`genrescope.plot.timeline_figure`).

Colour-blind-safe colours: Okabe & Ito's eight ("Color universal design",
2008) and Paul Tol's "muted" scheme (https://personal.sron.nl/~pault/).
The default model's ten genres have fixed colours, chosen so that genres
that often sound alike (jazz and classical, blues and jazz, disco and pop)
are far apart; any other label gets a colour from its name, so one label
has one colour in every library and language.
"""

from __future__ import annotations

import zlib

#: Okabe & Ito's colour-blind-safe palette (yellow left out: unreadable on white).
OKABE_ITO = ("#E69F00", "#56B4E9", "#009E73", "#0072B2", "#D55E00", "#CC79A7", "#000000")
#: Paul Tol's muted scheme.
TOL_MUTED = ("#332288", "#88CCEE", "#44AA99", "#117733", "#999933", "#DDCC77", "#CC6677",
             "#882255", "#AA4499")
PALETTE = OKABE_ITO + TOL_MUTED
#: The default model's genres (GTZAN's ten).
GENRE_COLOURS = {
    "blues": "#0072B2", "classical": "#E69F00", "country": "#009E73", "disco": "#CC79A7",
    "hiphop": "#000000", "jazz": "#882255", "metal": "#D55E00", "pop": "#56B4E9",
    "reggae": "#999933", "rock": "#777777",
}
#: Points and bars of no genre (an unanalysed or failed track).
NO_GENRE = "#BBBBBB"


def genre_colour(label: str | None) -> str:
    """The colour of a genre label (``"jazz"``, ``"Symphony"``) as ``#RRGGBB``."""
    if not label or label == "?":
        return NO_GENRE
    key = label.lower()
    if key in GENRE_COLOURS:
        return GENRE_COLOURS[key]
    return PALETTE[zlib.crc32(key.encode("utf-8")) % len(PALETTE)]
