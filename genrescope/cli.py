"""``genrescope`` command line: a thin shell over :class:`~genrescope.Classifier`.

User errors print one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

from .arguments import EXIT_USER_ERROR, display_width, load_classifier, model_args, window_args
from .errors import GenrescopeError


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USER_ERROR
    try:
        return args.run(args) or 0
    except GenrescopeError as exc:
        print(f"genrescope: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("genrescope: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="genrescope", description="Offline music genre classifier.")
    from . import __version__

    parser.add_argument("--version", action="version", version=f"genrescope {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("classify", help="top genres of audio files or folders")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    model_args(p)
    window_args(p)
    p.add_argument("--top", type=int, default=5, metavar="K", help="genres to show (default 5)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="genre names")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(run=cmd_classify)

    p = sub.add_parser("spectrogram", help="save the image(s) the model analyses")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument("--raw", action="store_true",
                   help="the model's own pictures pixel for pixel, no axes (one file per chunk)")
    model_args(p)
    window_args(p)
    p.set_defaults(run=cmd_spectrogram)

    p = sub.add_parser("explain", help="heat map of what in the spectrogram made the model "
                       "say a genre (occlusion)")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="WHY.png",
                   help="figure to write (PNG, JPEG, SVG or PDF by extension)")
    p.add_argument("--genre", metavar="G", help="genre to explain: id, English or Chinese name "
                   "(default: the top genre)")
    p.add_argument("--budget", type=int, metavar="N", help="most forward passes of the network "
                   "(default 60, or one per chunk for long windows: a few seconds for 30 s on "
                   "the default model; more = finer map)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="text of the figure")
    p.add_argument("--json", metavar="OUT.json", help="also write the map as numbers")
    model_args(p)
    window_args(p)
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("models", help="list known models and whether they can be used")
    p.add_argument("--models-dir", metavar="DIR", help="official checkpoints / your bundles "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--check-int8", metavar="NAME", help="check a VGG checkpoint's int8 network "
                   "against float32 once (about a minute); int8 is its default after it agreed")
    p.set_defaults(run=cmd_models)

    from .commands.library import add_library_commands
    from .commands.tag import add_tag_command
    from .commands.serve import add_serve_command
    from .commands.training import add_training_commands

    add_training_commands(sub)
    add_serve_command(sub)
    add_library_commands(sub)
    add_tag_command(sub)
    return parser


def audio_files(paths: list[str]) -> list[str]:
    """Files named, and audio files found by walking folders (sorted)."""
    from .files import audio_files_under

    files = []
    for path in paths:
        if os.path.isdir(path):
            found = audio_files_under(path)
            if not found:
                raise GenrescopeError(f"No audio files in folder {path}.")
            files += found
        elif os.path.exists(path):
            files.append(path)
        else:
            raise GenrescopeError(f"No such file or folder: {path}")
    return files


def cmd_classify(args) -> int:
    files = audio_files(args.paths)
    clf = load_classifier(args)
    results, failed = [], 0
    from tqdm import tqdm

    bar = tqdm(files, unit="file", disable=len(files) < 3, file=sys.stderr, leave=False)
    for path in bar:
        bar.set_postfix_str(short_name(os.path.basename(path)))
        try:
            pred = clf.classify(path, offset_s=args.offset, duration_s=args.duration,
                                top_k=args.top)
            results.append(pred.to_dict(args.lang))
        except GenrescopeError as exc:
            failed += 1
            results.append({"file": path, "model": clf.name, "error": str(exc)})
        if args.format == "table":
            bar.write(_table(results[-1]), file=sys.stdout)
    if args.format == "json":
        json.dump(results, sys.stdout, ensure_ascii=False, indent=2)
        print()
    elif args.format == "csv":
        write_csv(results, sys.stdout)
    if failed and len(files) > 1:
        print(f"genrescope: {failed} of {len(files)} files could not be classified",
              file=sys.stderr)
    return EXIT_USER_ERROR if failed else 0


#: Columns of ``classify --format csv``: one row per file and rank.
CSV_COLUMNS = ("file", "model", "rank", "label", "name", "probability", "styles", "heard",
               "warnings", "error")


def write_csv(results: list[dict], out) -> None:
    """``classify``'s results (``Prediction.to_dict``, or ``{"file", "model",
    "error"}``) as CSV: one row per top genre; each row repeats the file's
    styles (``name probability``), what was heard (``name score``, AudioSet's
    0-1 score, empty when nothing) and its note codes, each list joined by "; "."""
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for r in results:
        warnings = "; ".join(w["code"] for w in r.get("warnings", []))
        styles = "; ".join(f"{g['name']} {g['probability']:.6f}" for g in r.get("styles", []))
        heard = "; ".join(f"{h['name']} {h['score']:.2f}" for h in r.get("heard", []))
        for rank, g in enumerate(r.get("top", []), 1):
            writer.writerow([r["file"], r["model"], rank, g["label"], g["name"],
                             f"{g['probability']:.6f}", styles, heard, warnings, ""])
        if "error" in r:
            writer.writerow([r["file"], r["model"]] + [""] * 7 + [r["error"]])


def short_name(name: str, width: int = 30) -> str:
    """``name`` cut on the right to ``width`` characters (``…`` marks the cut):
    a progress bar shows how a file name begins, the part a person reads."""
    return name if len(name) <= width else name[:width - 1] + "…"


def _table(r: dict) -> str:
    if "error" in r:
        return f"{r['file']}\n  error: {r['error']}\n"
    a = r["audio"]
    model = r["model"] if r["precision"] == "fp32" else f"{r['model']} {r['precision']}"
    lines = [f"{r['file']}  ({model}, {a['offset_s']:g}-{a['offset_s'] + a['duration_s']:.1f}"
             f" s, {r['timings']['total']:.2f} s)"]
    if r.get("score") == "tags":
        lines.append("  tags (each scored on its own: they do not add up to 100 %)")
    width = max(display_width(g["name"]) for g in r["top"])
    for rank, g in enumerate(r["top"], 1):
        p = g["probability"]
        pad = " " * (width - display_width(g["name"]))
        lines.append(f"  {rank}. {g['name']}{pad}  {p * 100:5.1f} %  {'█' * round(p * 30)}")
    if r.get("styles"):
        lines.append("  styles: " + ", ".join(f"{g['name']} {g['probability'] * 100:.0f} %"
                                              for g in r["styles"]))
    if r.get("heard"):
        lines.append("  heard: " + ", ".join(f"{h['name']} {h['score'] * 100:.0f} %"
                                             for h in r["heard"]))
    segments = (r.get("timeline") or {}).get("segments") or []
    if segments:
        from .timeline import clock

        lines.append("  over time: " + ", ".join(
            f"{clock(s['start_s'])}-{clock(s['end_s'])} {s['name']}" for s in segments))
    lines += [f"  ! {w['message']}" for w in r["warnings"]]
    return "\n".join(lines) + "\n"


def cmd_spectrogram(args) -> int:
    from .plot import save_spectrogram

    pred = load_classifier(args).classify(args.file, offset_s=args.offset,
                                      duration_s=args.duration)
    for path in save_spectrogram(pred, args.output, raw=args.raw):
        print(path)
    return 0


def cmd_explain(args) -> int:
    from .explain import explain
    from .files import write_text_atomically
    from .plot import save_explanation

    why = explain(load_classifier(args), args.file, offset_s=args.offset,
                  duration_s=args.duration, genre=args.genre, budget=args.budget)
    save_explanation(why, args.output, lang=args.lang)
    if args.json:
        write_text_atomically(args.json, json.dumps(why.to_dict(args.lang) | {"file": args.file},
                                                    ensure_ascii=False))
    band, cell = why.peak()
    (t0, t1), (f0, f1) = why.time_s[cell], why.freq_hz[band]
    print(f"{args.output}: {why.genre.name(args.lang)} {why.probability:.1%}; strongest part "
          f"{t0:.1f}-{t1:.1f} s, {f0:.0f}-{f1:.0f} Hz (silencing it: "
          f"{-100 * why.heat[band, cell]:+.1f} points); "
          f"{why.n_passes} forward passes, {why.seconds:.1f} s")
    return 0


def cmd_models(args) -> int:
    from .models.registry import find_models, models_dir

    if args.check_int8:
        from .int8_check import check_int8
        print(check_int8(args.check_int8, args.models_dir))
        return 0
    entries = find_models(args.models_dir)
    if args.format == "json":
        json.dump([{"name": e.name, "source": e.source, "available": e.available,
                    "path": str(e.weights), "reason": e.reason or None,
                    "labels": e.config.labels if e.config else None} for e in entries],
                  sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"models directory: {models_dir(args.models_dir).resolve()}")
    for e in entries:
        state = "available" if e.available else "missing"
        n = len(e.config.labels) if e.config else 0
        print(f"  {e.name:<18} {state:<10} {e.source:<9} {n:>3} labels  {e.weights}")
    unavailable = [e for e in entries if not e.available]
    if unavailable:
        print("\nMissing official checkpoints come from the ccmusic-database 'music_genre' model "
              "repository: put <name>/save.pt into the models directory.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
