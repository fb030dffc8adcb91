"""Build the CJK font shipped for the Chinese pictures (issue 26).

    .venv/bin/python tools/build_cjk_font.py /usr/share/fonts/truetype/wqy/wqy-microhei.ttc

writes ``genrescope/assets/fonts/WenQuanYiMicroHei-GB2312.ttf``: WenQuanYi
Micro Hei (Apache-2.0, Debian's ``fonts-wqy-microhei``) cut to the
characters of GB 2312 (the 6 763 common simplified Chinese characters and
its symbols), ASCII, Latin-1, general and CJK punctuation and full-width
forms: about 2 MB instead of 5. :func:`genrescope.plot._fonts` registers it
with matplotlib when a Chinese picture is drawn, so the pictures show Chinese
on a machine without any CJK font.
"""

from __future__ import annotations

import argparse
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "genrescope" / "assets" / "fonts"
NAME = "WenQuanYiMicroHei-GB2312.ttf"


def gb2312_codepoints() -> set[int]:
    """Every character GB 2312 encodes (rows 0xA1-0xF7, cells 0xA1-0xFE)."""
    points = set()
    for row in range(0xA1, 0xF8):
        for cell in range(0xA1, 0xFF):
            try:
                points.add(ord(bytes([row, cell]).decode("gb2312")))
            except UnicodeDecodeError:
                pass
    return points


def codepoints() -> set[int]:
    ranges = [(0x20, 0x7E), (0xA0, 0xFF), (0x2000, 0x206F), (0x2190, 0x21FF),
              (0x2200, 0x22FF), (0x2500, 0x257F), (0x3000, 0x303F), (0xFF00, 0xFFEF)]
    return gb2312_codepoints() | {c for a, b in ranges for c in range(a, b + 1)}


def main(argv=None) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source", help="wqy-microhei.ttc (or .ttf)")
    ap.add_argument("--out", default=str(OUT))
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    font = (TTCollection(args.source).fonts[0] if args.source.endswith(".ttc")
            else subset.load_font(args.source, subset.Options()))
    options = subset.Options()
    options.layout_features = ["*"]
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False                    # matplotlib renders unhinted at picture sizes
    sub = subset.Subsetter(options)
    sub.populate(unicodes=sorted(codepoints()))
    sub.subset(font)
    font.save(out / NAME)
    print(f"{out / NAME}: {(out / NAME).stat().st_size / 1e6:.2f} MB, "
          f"family {font['name'].getDebugName(1)!r}")


if __name__ == "__main__":
    main()
