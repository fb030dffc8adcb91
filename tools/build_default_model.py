"""Rebuild the shipped default model ``genres`` with one command.

    .venv/bin/python tools/build_default_model.py \\
        ../shared/data/gtzan-mini ../shared/data/gtzan-snippets \\
        --also-music ../shared/data/music-clips --report build/genres-report

writes ``genrescope/assets/genres/`` (``--out``): ``config.json`` and
``model.safetensors`` (the genre head and the not-music head, about 0.5 MB;
the networks are the shipped ``msd_musicnn`` and ``msd_vgg`` bundles), and the
figures into ``--report``. The data stays where it is; embeddings are cached
(:class:`genrescope.training.common.FeatureCache`), so a second run takes seconds.

Steps, all on the base models' per-patch 456-d embeddings (musicnn's MSD
taggers: the musicnn penultimate layer, 200, and the VGG's pool5, 256) of
audio turned up to -20 dBFS RMS when quieter (``"input_level"``, see
:func:`genrescope.audio.raise_level`; ``--no-input-level``: as decoded):

1. grouped K-fold cross-validation by song (:func:`genrescope.training.crossval.cross_validate`
   with :func:`genrescope.dataset.grouped_folds`): held-out accuracy per
   source folder, macro-F1, confusion matrix, and the held-out accuracy on
   the same clips 20/30/40 dB quieter (``--quiet-db``);
2. temperature fitted on the held-out clip probabilities; ECE before and
   after; the "unsure" threshold (top probability under which held-out
   answers are right less than 60 % of the time) and how often it shows;
3. the genre head trained on every file (early stopping on a grouped 20 %);
   with ``--context audioset`` the genre head reads, beside every patch, the
   AudioSet companion's clip-level block (``head.context``: mn04's 384-d
   embedding and its genre classes' probabilities over the middle 10 s,
   :mod:`genrescope.context`), in the cross-validation, calibration and the
   final head alike (measured, not shipped: docs/models/genres.md); the
   default ``--context none`` builds the shipped recipe;
4. a not-music set synthesised by ``tools/make_nonmusic.py``; a linear
   binary head (music / not music) on the same embeddings: false alarms on
   the music by grouped cross-validation, on ``--also-music`` files (never
   trained on) and the hit rate on the held-out part of the non-music set
   (it reads the 456-d base embedding only, with or without the block).

``--compare FILE``: the ``--json`` of ``tools/genre_audioset_block.py``
(grouped CV over several fold seeds, without and with the block), recorded
in ``config.json`` ``metrics.cv_fold_seeds``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from genrescope.calibration import (clip_probabilities, fit_temperature,  # noqa: E402
                                    reliability, reliability_figure, unsure_threshold)
from genrescope.dataset import grouped_split, list_labelled  # noqa: E402
from genrescope.labels import MSD_STYLES, genre  # noqa: E402
from genrescope.overlap import fingerprints  # noqa: E402
from genrescope.context import with_context  # noqa: E402
from genrescope.training.common import stack, write_bundle  # noqa: E402
from genrescope.training.context import (AUDIOSET_CONTEXT, context_blocks,  # noqa: E402
                                         load_companion)
from genrescope.training.crossval import cross_validate  # noqa: E402
from genrescope.training.head import (BASE_MODEL, BASE_NAME, HEAD_DEFAULTS,  # noqa: E402
                                      INPUT_LEVEL, base_embeddings)
from not_music_head import (NOT_MUSIC_THRESHOLD, QUIET_DB, base_representation,  # noqa: E402
                            fit_default, quiet_copies, train_not_music)

NAME = "genres"
#: Styles named beside the genre: msd_musicnn's style tags (labels.MSD_STYLES)
#: whose clip mean reaches 0.15, at most 3 (read off gtzan-mini and the
#: music-clips by eye: there is no labelled style set here).
STYLES = {"from": "msd_musicnn", "min_probability": 0.15, "max": 3}
LICENSE_TEXT = """genrescope default model `genres`

Weights in model.safetensors: two small heads (a genre classifier and a
music / not-music classifier) trained by genrescope's tools/build_default_model.py
on embeddings of the musicnn networks shipped in ../msd_musicnn and
../msd_vgg (ISC licence, (c) Music Technology Group, Universitat Pompeu
Fabra 2019, code by Jordi Pons; see the LICENSE files there).

Training audio (not distributed): the GTZAN genre collection (G. Tzanetakis
and P. Cook, IEEE TSAP 2002; no licence, research use) and a non-music set
synthesised by tools/make_nonmusic.py (espeak-ng speech, numpy noises/tones).
"""
#: Added to LICENSE when the genre head reads the companion's block.
CONTEXT_LICENSE_TEXT = """
The genre head also reads, beside every patch, a clip summary computed by
the AudioSet network shipped in ../audioset (EfficientAT mn04, MIT licence,
(c) Florian Schmid; see the LICENSE file there): its embedding and genre
class probabilities (config.json head.context).
"""


#: The AudioSet companion (config "hearing"): not-music by AudioSet's kind of
#: sound, "outside" from 0.5 (0.25 with msd_musicnn's own tag of the family at
#: 0.3). Measured, not fitted here: benchmarks/hearing_rates.py and
#: docs/models/genres.md ("What it hears").
HEARING = {"model": "audioset", "max_seconds": 10.0, "not_music": "hearing",
           "outside_from": 0.5, "outside_confirmed_from": 0.25, "tag_from": 0.3,
           "tag_families": {**dict.fromkeys(("electronic", "electronica", "electro", "House",
                                             "dance"), "electronic"),
                            **dict.fromkeys(("ambient", "chillout"), "ambient_new_age"),
                            **dict.fromkeys(("soul", "funk", "rnb"), "rnb_soul_funk"),
                            "folk": "folk"}}

def audioset_blocks(kept, quiet, duration_s, cache, progress):
    """The companion's block of each music file and of its quieter copies
    (the same decode scaled, as the companion would hear them), and those
    copies' per-patch inputs with their blocks appended."""
    from genrescope.cache import cache_dir
    from genrescope.models.config import ContextSpec

    spec = ContextSpec.model_validate(AUDIOSET_CONTEXT)
    companion = load_companion(HEARING["model"])
    get = dict(spec=spec, companion=companion, max_seconds=HEARING["max_seconds"],
               duration_s=duration_s, cache=cache_dir(cache), progress=progress)
    blocks = context_blocks(kept, **get)
    quieter = {db: with_context(copies, context_blocks(list(copies), gain_db=-db, **get))
               for db, copies in quiet.items()}
    return blocks, quieter


def compare_means(compare: dict) -> dict:
    """``tools/genre_audioset_block.py --json`` -> mean held-out figures per run."""
    return {"seeds": compare["seeds"], **{
        name: {key: round(float(np.mean([r[key] for r in runs])), 4)
               for key in runs[0] if key != "confusion"}
        for name, runs in compare["runs"].items()}}


def build(data: list, out, *, report_dir=None, also_music: list = (), nonmusic_dir=None,
          nonmusic_per_kind: int = 24, nonmusic_kinds: tuple | None = None, k: int = 5,
          seed: int = 0, hidden: int | None = None, epochs: int | None = None,
          nm_epochs: int = 60, cache=None, duration_s: float = 30.0,
          nonmusic_duration_s: float | None = None, reuse_nonmusic: bool = False,
          quiet_db: tuple = QUIET_DB, music_probe_per_kind: int = 8,
          level: dict | None = INPUT_LEVEL, context: str | None = None,
          compare: dict | None = None, progress: bool = False) -> dict:
    """Build the bundle into ``out``; return the measured figures (also
    written to ``report_dir/summary.json`` when given).

    Parameters
    ----------
    data : list of str or Path
        Labelled music (any :func:`~genrescope.dataset.list_labelled` layout);
        their union is the training set.
    out : str or Path
        Bundle folder (created).
    also_music : list of str or Path
        Audio files or folders of music never trained on: the not-music
        head's false alarms and the genre answers are reported for them.
    nonmusic_dir : str or Path, optional
        Where the synthesised non-music clips go (default: a temporary folder).
    reuse_nonmusic : bool
        Keep the clips already listed in ``nonmusic_dir/nonmusic.csv``
        instead of synthesising them again.
    nonmusic_kinds : tuple of str, optional
        Subset of ``make_nonmusic.KINDS`` (tests use kinds without espeak-ng).
    quiet_db : tuple of float
        The training music attenuated by each of these (dB; ``()``: not):
        held-out genre accuracy on it is reported, and the not-music head
        learns it as music.
    music_probe_per_kind : int
        Synthesised solo/sung music per ``make_music_probe`` kind on the
        not-music head's music side (0: none).
    level : dict or None
        Input level (:func:`genrescope.audio.raise_level` arguments) of every
        embedding, recorded as the bundle's ``"input_level"``; None: as decoded.
    context : {"audioset", None}
        The genre head reads the companion's clip-level block
        (:data:`~genrescope.training.context.AUDIOSET_CONTEXT`) beside every patch.
    compare : dict, optional
        ``tools/genre_audioset_block.py --json`` output, recorded in the metrics.
    """
    from genrescope.cache import cache_dir

    out = Path(out)
    items = sorted({i for d in data for i in list_labelled(d)})
    labels = sorted({i.label for i in items})
    hidden = HEAD_DEFAULTS["hidden"] if hidden is None else hidden
    dev = torch.device("cpu")
    summary: dict = {"data": [str(Path(d).resolve()) for d in data], "files": len(items)}

    tmp = tempfile.TemporaryDirectory() if nonmusic_dir is None else None
    nm_folder = Path(nonmusic_dir or tmp.name)
    _, arrays, kept, skipped, _ = base_embeddings(items, dev, duration_s, cache_dir(cache),
                                                   progress, level=level)
    by_file = dict(zip(kept, arrays))
    quiet = quiet_copies(kept, nm_folder / "quiet", quiet_db, duration_s, cache, progress,
                         reuse_nonmusic, level)
    blocks, genre_in, genre_quiet = None, by_file, quiet
    if context:                   # the genre head's inputs: + the companion's block
        blocks, genre_quiet = audioset_blocks(kept, quiet, duration_s, cache, progress)
        genre_in = with_context(by_file, blocks)
        kept = [i for i in kept if i in genre_in]

    # 1. grouped cross-validation of the genre head, also on the quieter copies
    cv = cross_validate(items, k, seed=seed, hidden=hidden, epochs=epochs, cache=cache,
                        duration_s=duration_s, progress=progress, level=level,
                        variants={f"-{db:g} dB": genre_quiet[db] for db in genre_quiet},
                        context_blocks=blocks)
    files = cv.report.files
    y = np.array([labels.index(r.label) for r in files])
    source = np.array([Path(r.file).parent.name for r in files])
    ok = np.array([r.correct for r in files])
    summary["cv"] = {"k": k, "accuracy": cv.report.accuracy, "macro_f1": cv.report.macro_f1,
                     "fold_accuracies": cv.fold_accuracies,
                     "accuracy_by_source": {s: float(ok[source == s].mean())
                                            for s in sorted(set(source))},
                     "files_by_source": {s: int((source == s).sum()) for s in sorted(set(source))},
                     "confusion": {"labels": labels, "counts": np.asarray(
                         cv.report.confusion).tolist()},
                     "accuracy_quieter_by_source": {
                         name: {s: float(np.mean([v for i, v in right.items()
                                                  if i.path.parent.name == s]))
                                for s in sorted(set(source))}
                         for name, right in cv.variant_correct.items()}}

    # 2. calibration on the held-out logits
    temperature = fit_temperature(cv.logits, y)
    raw = clip_probabilities(cv.logits, 1.0)
    cal = clip_probabilities(cv.logits, temperature)
    conf, right = cal.max(1), cal.argmax(1) == y
    rel_raw, rel_cal = reliability(raw.max(1), raw.argmax(1) == y), reliability(conf, right)
    unsure_below = unsure_threshold(conf, right, 0.6)
    shown = conf < unsure_below
    summary["calibration"] = {
        "temperature": temperature, "ece_before": rel_raw.ece, "ece_after": rel_cal.ece,
        "unsure_below": unsure_below, "unsure_share": float(shown.mean()),
        "unsure_share_by_source": {s: float(shown[source == s].mean()) for s in set(source)},
        "accuracy_when_unsure": float(right[shown].mean()) if shown.any() else None,
        "accuracy_when_sure": float(right[~shown].mean()) if (~shown).any() else None}

    # 3. the genre head on everything (early stopping on a grouped 20 %)
    fit_items, stop_items = grouped_split(kept, 0.2, seed)
    x_tr, y_tr, _ = stack([genre_in[i] for i in fit_items], fit_items, labels)
    x_st, _, g_st = stack([genre_in[i] for i in stop_items], stop_items, labels)
    y_st = np.array([labels.index(i.label) for i in stop_items])
    head, best_epoch = fit_default(x_tr, y_tr, x_st, y_st, g_st, len(labels), hidden, seed, epochs)

    # 4. not-music head (tools/not_music_head.py)
    nm_head, summary["not_music"] = train_not_music(
        kept, by_file, quiet, nm_folder, k=k, seed=seed, epochs=nm_epochs,
        duration_s=duration_s, cache=cache, per_kind=nonmusic_per_kind, kinds=nonmusic_kinds,
        clip_duration_s=nonmusic_duration_s, reuse=reuse_nonmusic,
        probe_per_kind=music_probe_per_kind, level=level, progress=progress)

    config = {
        "name": NAME,
        "architecture": "embedding_head",
        "display_name": f"Default: {len(labels)} genres (calibrated head on musicnn embeddings)",
        "base": list(BASE_MODEL),
        "representation": base_representation(),
        **({"input_level": level} if level else {}),
        "labels": labels,
        "label_names": {lab: {"en": genre(lab).en, "zh": genre(lab).zh} for lab in labels},
        "output": "softmax",
        "head": {"input_dim": int(x_tr.shape[1]), "hidden": [hidden] if hidden else [],
                 "dropout": HEAD_DEFAULTS["dropout"],
                 "inputs": f"per-patch embeddings of {BASE_NAME} side by side "
                           "(musicnn penultimate 200 + VGG pool5 256)" + (
                               ", then the companion's clip-level block (its 384-d "
                               "embedding and genre classes' probabilities, middle 10 s)"
                               if context else ""),
                 **({"context": AUDIOSET_CONTEXT} if context else {})},
        "calibration": {"method": "temperature", "temperature": round(temperature, 6),
                        "unsure_below": round(unsure_below, 6),
                        "fitted_on": f"held-out clip probabilities of {k}-fold grouped CV"},
        "not_music": {"hidden": [], "threshold": NOT_MUSIC_THRESHOLD,
                      "inputs": "per-patch embeddings of the base model; clip mean compared"},
        "styles": {**STYLES, "names": {g.id: {"en": g.en, "zh": g.zh} for g in MSD_STYLES}},
        "hearing": HEARING,
        "metrics": {"cv_accuracy": cv.report.accuracy, "cv_macro_f1": cv.report.macro_f1,
                    **{f"cv_accuracy_{s}": v
                       for s, v in summary["cv"]["accuracy_by_source"].items()},
                    **{f"cv_accuracy_{s}_{name.replace(' ', '')}": v
                       for name, by_source in summary["cv"]["accuracy_quieter_by_source"].items()
                       for s, v in by_source.items() if s == "gtzan-mini"},
                    "ece_after": rel_cal.ece, "unsure_share": float(shown.mean()),
                    "not_music_hit_rate": summary["not_music"]["hit_rate_test"],
                    "not_music_false_alarm_rate":
                        summary["not_music"]["false_alarm_rate_music_cv"],
                    **({"cv_fold_seeds": compare_means(compare)} if compare else {})},
        "training": {"tool": "tools/build_default_model.py", "files": len(kept),
                     # evaluate warns when its files are these (genrescope.overlap)
                     "fingerprints": fingerprints(i.path for i in kept),
                     "train_patches": int(len(x_tr)), "best_epoch": best_epoch, "seed": seed,
                     "duration_s": duration_s, "skipped": [s["file"] for s in skipped],
                     "nonmusic_per_kind": nonmusic_per_kind,
                     "not_music_music_side": {"quieter_copies_db": [-d for d in quiet],
                                              "music_probe_per_kind": music_probe_per_kind,
                                              "music_probe_seed": seed + 1}},
    }
    state = dict(head.state_dict())
    state.update({f"not_music.{n}": v for n, v in nm_head.state_dict().items()})
    write_bundle(out, config, state)
    (out / "LICENSE").write_text(LICENSE_TEXT + (CONTEXT_LICENSE_TEXT if context else ""),
                                 encoding="utf-8")

    # the finished bundle, loaded as a user would, on music never trained on
    if also_music:
        from genrescope.predict import Classifier

        clf = Classifier.load(out)
        summary["also_music"] = []
        for src in also_music:
            src = Path(src)
            paths = sorted(p for p in src.iterdir() if p.suffix.lower() in (
                ".ogg", ".wav", ".flac", ".mp3")) if src.is_dir() else [src]
            for path in paths:
                pred = clf.classify(path)
                summary["also_music"].append({
                    "file": path.name, "top": [[g.label, round(g.probability, 3)]
                                               for g in pred.top[:3]],
                    "styles": [[g.label, round(g.probability, 3)] for g in pred.styles],
                    "warnings": [w.code for w in pred.warnings]})
    if report_dir:
        report_dir = Path(report_dir)
        cv.report.save(report_dir / "cv")
        reliability_figure(rel_raw, "held-out, before calibration").savefig(
            report_dir / "reliability_before.png", dpi=120)
        reliability_figure(rel_cal, f"held-out, T = {temperature:.2f}").savefig(
            report_dir / "reliability_after.png", dpi=120)
        (report_dir / "summary.json").write_text(json.dumps(summary, indent=2,
                                                            ensure_ascii=False) + "\n")
    if tmp is not None:
        tmp.cleanup()
    return summary


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", nargs="+", help="labelled music folders or CSV files")
    ap.add_argument("--out", default=str(HERE.parent / "genrescope" / "assets" / NAME))
    ap.add_argument("--report", help="folder for the figures (summary.json, PNGs)")
    ap.add_argument("--also-music", nargs="*", default=[],
                    help="music never trained on: not-music false alarms, genre answers")
    ap.add_argument("--nonmusic-dir", help="keep the synthesised non-music clips here")
    ap.add_argument("--reuse-nonmusic", action="store_true",
                    help="use the clips already in --nonmusic-dir (embeddings cached)")
    ap.add_argument("--per-kind", type=int, default=12)
    ap.add_argument("--nonmusic-duration", type=float, default=6.0,
                    help="seconds per synthesised clip (6 s = 2 patches)")
    ap.add_argument("--quiet-db", type=float, nargs="*", default=list(QUIET_DB),
                    help="the music, this many dB quieter, is music too (not-music head)")
    ap.add_argument("--no-input-level", action="store_true",
                    help="embed the audio as decoded (no raise_level; the old recipe)")
    ap.add_argument("--music-probe-per-kind", type=int, default=8,
                    help="synthesised solo/sung clips per kind on the music side")
    ap.add_argument("--k", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--cache")
    ap.add_argument("--context", choices=("audioset", "none"), default="none",
                    help="the genre head also reads the AudioSet companion's clip block "
                         "(audioset; measured, not shipped) or not (none: the shipped recipe)")
    ap.add_argument("--compare", help="tools/genre_audioset_block.py --json output to record")
    args = ap.parse_args(argv)
    summary = build(args.data, args.out, report_dir=args.report, also_music=args.also_music,
                    nonmusic_dir=args.nonmusic_dir, nonmusic_per_kind=args.per_kind, k=args.k,
                    nonmusic_duration_s=args.nonmusic_duration,
                    reuse_nonmusic=args.reuse_nonmusic, quiet_db=tuple(args.quiet_db),
                    music_probe_per_kind=args.music_probe_per_kind,
                    level=None if args.no_input_level else INPUT_LEVEL,
                    seed=args.seed, hidden=args.hidden, cache=args.cache,
                    context=None if args.context == "none" else args.context,
                    compare=json.loads(Path(args.compare).read_text()) if args.compare else None,
                    progress=True)
    print(json.dumps({key: summary[key] for key in ("cv", "calibration", "not_music")
                      if key in summary}, indent=2))
    for row in summary.get("also_music", []):
        print(row)


if __name__ == "__main__":
    main()
