"""Chinese pictures show Chinese on a machine without CJK fonts (issue 26):
the spectrogram and the genre timeline drawn in Chinese in a fresh Python
with a fresh matplotlib font cache (``MPLCONFIGDIR`` in a temporary folder)
from which every installed CJK font is removed; any "Glyph ... missing"
warning fails the test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import pytest

from genrescope.plot import CJK_FONT_FILE

SCRIPT = textwrap.dedent("""
    import json, sys, warnings
    from matplotlib import font_manager
    from fontTools.ttLib import TTFont

    def has_han(path):                      # a font holding 中 (U+4E2D)
        try:
            font = TTFont(path, fontNumber=0, lazy=True)
            return 0x4E2D in font.getBestCmap()
        except Exception:
            return False

    manager = font_manager.fontManager      # built now, in the empty MPLCONFIGDIR
    removed = [f.fname for f in manager.ttflist if has_han(f.fname)]
    manager.ttflist = [f for f in manager.ttflist if f.fname not in removed]

    from genrescope import Classifier
    from genrescope.plot import figure_to_array, spectrogram_figure, timeline_figure
    from genrescope.synth import chord, groove

    clf = Classifier.load("genres", device="cpu", precision="fp32")
    y = 0.6 * chord(15.0, clf.model.sr) + 0.4 * groove(15.0, clf.model.sr)
    pred = clf.classify(y, sr=clf.model.sr, duration_s=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure_to_array(spectrogram_figure(pred, lang="zh", title="示例：爵士乐"))
        figure_to_array(timeline_figure(pred.timeline, lang="zh", title="流派时间线"))
    json.dump({"removed": removed, "warnings": [str(w.message) for w in caught],
               "fonts": sorted({f.name for f in manager.ttflist})}, sys.stdout)
""")


@pytest.mark.slow
def test_chinese_pictures_need_no_installed_font(tmp_path):
    assert CJK_FONT_FILE.is_file() and CJK_FONT_FILE.stat().st_size < 3_000_000
    env = dict(os.environ, MPLCONFIGDIR=str(tmp_path / "mpl"))
    out = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout)
    missing = [w for w in result["warnings"] if "missing from" in w or "Glyph" in w]
    assert missing == [], missing[:5]
    assert (tmp_path / "mpl").is_dir()          # the fresh cache was used


def test_shipped_font_covers_the_page_texts():
    """Every Chinese character the pictures and genre names use is in the font."""
    from fontTools.ttLib import TTFont

    from genrescope import plot
    from genrescope.labels import CCMUSIC_GENRES

    cmap = TTFont(CJK_FONT_FILE).getBestCmap()
    texts = [g.zh for g in CCMUSIC_GENRES] + [
        v for table in plot._TEXT.values() for v in table.values() if isinstance(v, str)]
    lacking = {c for text in texts for c in text if ord(c) > 0x2E7F and ord(c) not in cmap}
    assert lacking == set()
