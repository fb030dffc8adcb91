"""``genrescope`` command line: a thin shell over :class:`~genrescope.Classifier`.

User errors print one line and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys

from .errors import GenrescopeError

EXIT_USER_ERROR = 2


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
    _model_args(p)
    _window_args(p)
    p.add_argument("--top", type=int, default=5, metavar="K", help="genres to show (default 5)")
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="genre names")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.set_defaults(run=cmd_classify)

    p = sub.add_parser("spectrogram", help="save the image(s) the model analyses")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--output", required=True, metavar="OUT.png")
    p.add_argument("--raw", action="store_true",
                   help="the model's own pictures pixel for pixel, no axes (one file per chunk)")
    _model_args(p)
    _window_args(p)
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
    _model_args(p)
    _window_args(p)
    p.set_defaults(run=cmd_explain)

    p = sub.add_parser("models", help="list known models and whether they can be used")
    p.add_argument("--models-dir", metavar="DIR", help="official checkpoints / your bundles "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--check-int8", metavar="NAME", help="check a VGG checkpoint's int8 network "
                   "against float32 once (about a minute); int8 is its default after it agreed")
    p.set_defaults(run=cmd_models)

    p = sub.add_parser("evaluate", help="accuracy, macro-F1 and confusion on labelled files")
    p.add_argument("data", metavar="DATA", help="folder with one sub-folder per genre, folder "
                   "of <genre>.<id>.<ext> files, or CSV with a path,label header")
    _model_args(p)
    p.add_argument("--map", metavar="FILE", help="JSON label map: dataset label -> list of "
                   "model labels (needed when the dataset's labels are not the model's)")
    p.add_argument("--report", metavar="DIR", help="write report.json and confusion.png here")
    p.add_argument("--duration", type=float, default=30.0, metavar="S",
                   help="seconds analysed per file (default 30; 0 = whole file)")
    p.add_argument("--per-file", action="store_true",
                   help="also print each file's label, prediction and top-3")
    p.set_defaults(run=cmd_evaluate)

    p = sub.add_parser("train", help="train a model on your own labelled music")
    p.add_argument("data", metavar="DATA", help="folder with one sub-folder per genre, folder "
                   "of <genre>.<id>.<ext> files, or CSV with a path,label header")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="folder the model bundle is written to (use it with --model DIR)")
    p.add_argument("--method", choices=("head", "cnn"), default="head",
                   help="head (default): small classifier on the default model's embeddings, "
                   "minutes on a CPU; cnn: the ccmusic VGG recipe on spectrogram images")
    p.add_argument("--arch", choices=("vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"),
                   help="cnn: VGG variant (default: that of --init, else vgg19_bn)")
    p.add_argument("--init", metavar="CHECKPOINT", help="cnn: start from an official save.pt "
                   "(or its model name) or a bundle; other labels replace its last layer")
    p.add_argument("--representation", choices=("cqt", "mel"),
                   help="cnn: image type (default: that of --init, else cqt)")
    p.add_argument("--epochs", type=int, metavar="N",
                   help="most epochs (default 300 with early stopping for head, 40 for cnn)")
    p.add_argument("--batch-size", type=int, metavar="N", help="default 64 (head), 8 (cnn)")
    p.add_argument("--hidden", type=int, metavar="N",
                   help="head: hidden layer width (default 256; 0 = linear classifier)")
    p.add_argument("--val-split", type=float, default=0.2, metavar="F",
                   help="share of each genre's files held out for validation (default 0.2; "
                   "0 = none)")
    p.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seeds the split, initial weights and batch order (default 0)")
    p.add_argument("--duration", type=float, default=30.0, metavar="S",
                   help="seconds read per file (default 30, as classify; 0 = whole file)")
    p.add_argument("--cv", type=int, metavar="K", help="head: report K-fold cross-validated "
                   "accuracy (written to DIR) instead of training a model")
    p.add_argument("--cache-dir", metavar="DIR", help="feature cache (default "
                   "$GENRESCOPE_CACHE or ~/.cache/genrescope)")
    p.add_argument("--models-dir", metavar="DIR", help="where --init names are looked up "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    p.set_defaults(run=cmd_train)

    p = sub.add_parser("serve", help="web page and REST API on http://127.0.0.1:7860")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--models-dir", metavar="DIR", help="official checkpoints / your bundles "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("--model", metavar="NAME|DIR", help="model selected when the page opens")
    p.add_argument("--examples", metavar="DIR", help="folder of your own example clips")
    p.add_argument("--max-upload-mb", type=float, default=100.0, metavar="MB",
                   help="largest upload the API accepts (default 100)")
    p.add_argument("--save-dir", metavar="DIR",
                   help="keep uploads and results here (default: nothing is kept)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    p.add_argument("--db", metavar="LIBRARY.db",
                   help="a library built by `genrescope index`: adds /api/v1/library/ routes")
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="network precision (default auto, as for classify)")
    p.add_argument("--max-duration", type=float, default=600.0, metavar="S",
                   help="most seconds of audio one request may analyse (default 600)")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer to this Host name (e.g. behind a reverse proxy); "
                        "repeatable. IP addresses and localhost are always accepted")
    p.set_defaults(run=cmd_serve)

    from .library.cli import add_library_commands

    add_library_commands(sub, _model_args)
    return parser


def _model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="NAME|DIR", help="model name or folder (default: "
                   "the shipped default model; see `genrescope models`)")
    p.add_argument("--models-dir", metavar="DIR", help="official checkpoints / your bundles "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="network precision (default auto: int8 for a VGG checkpoint on the CPU "
                        "once it passed the int8 check against fp32, else fp32)")


def _window_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--offset", type=float, default=0.0, metavar="S",
                   help="start of the analysed window in seconds (default 0)")
    p.add_argument("--duration", type=float, default=30.0, metavar="S",
                   help="seconds to analyse (default 30; 0 = whole file)")


def _classifier(args):
    from .predict import Classifier

    return Classifier.load(args.model, models_dir=args.models_dir, device=args.device,
                           precision=args.precision)


def audio_files(paths: list[str]) -> list[str]:
    """Files named, and audio files found by walking folders (sorted)."""
    from .audio import AUDIO_EXTENSIONS

    files = []
    for path in paths:
        if os.path.isdir(path):
            found = [os.path.join(root, name) for root, _, names in os.walk(path)
                     for name in names if name.lower().endswith(AUDIO_EXTENSIONS)]
            if not found:
                raise GenrescopeError(f"No audio files in folder {path}.")
            files += sorted(found)
        elif os.path.exists(path):
            files.append(path)
        else:
            raise GenrescopeError(f"No such file or folder: {path}")
    return files


def cmd_classify(args) -> int:
    files = audio_files(args.paths)
    clf = _classifier(args)
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
        writer = csv.writer(sys.stdout)
        writer.writerow(["file", "model", "rank", "label", "name", "probability", "warnings",
                         "error"])
        for r in results:
            warnings = "; ".join(w["code"] for w in r.get("warnings", []))
            for rank, g in enumerate(r.get("top", []), 1):
                writer.writerow([r["file"], r["model"], rank, g["label"], g["name"],
                                 f"{g['probability']:.6f}", warnings, ""])
            if "error" in r:
                writer.writerow([r["file"], r["model"], "", "", "", "", "", r["error"]])
    if failed and len(files) > 1:
        print(f"genrescope: {failed} of {len(files)} files could not be classified",
              file=sys.stderr)
    return EXIT_USER_ERROR if failed else 0


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
    width = max(_display_width(g["name"]) for g in r["top"])
    for rank, g in enumerate(r["top"], 1):
        p = g["probability"]
        pad = " " * (width - _display_width(g["name"]))
        lines.append(f"  {rank}. {g['name']}{pad}  {p * 100:5.1f} %  {'█' * round(p * 30)}")
    if r.get("styles"):
        lines.append("  styles: " + ", ".join(f"{g['name']} {g['probability'] * 100:.0f} %"
                                              for g in r["styles"]))
    segments = (r.get("timeline") or {}).get("segments") or []
    if segments:
        from .timeline import clock

        lines.append("  over time: " + ", ".join(
            f"{clock(s['start_s'])}-{clock(s['end_s'])} {s['name']}" for s in segments))
    lines += [f"  ! {w['message']}" for w in r["warnings"]]
    return "\n".join(lines) + "\n"


def _display_width(text: str) -> int:
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def cmd_spectrogram(args) -> int:
    from .plot import save_spectrogram

    pred = _classifier(args).classify(args.file, offset_s=args.offset,
                                      duration_s=args.duration)
    for path in save_spectrogram(pred, args.output, raw=args.raw):
        print(path)
    return 0


def cmd_explain(args) -> int:
    from .explain import explain
    from .plot import save_explanation

    why = explain(_classifier(args), args.file, offset_s=args.offset,
                  duration_s=args.duration, genre=args.genre, budget=args.budget)
    save_explanation(why, args.output, lang=args.lang)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(why.to_dict(args.lang) | {"file": args.file}, out, ensure_ascii=False)
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
                    "labels": (e.config or {}).get("labels")} for e in entries],
                  sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    print(f"models directory: {models_dir(args.models_dir).resolve()}")
    for e in entries:
        state = "available" if e.available else "missing"
        n = len((e.config or {}).get("labels") or [])
        print(f"  {e.name:<18} {state:<10} {e.source:<9} {n:>3} labels  {e.weights}")
    unavailable = [e for e in entries if not e.available]
    if unavailable:
        print("\nMissing official checkpoints come from the ccmusic-database 'music_genre' model "
              "repository: put <name>/save.pt into the models directory.")
    return 0


def cmd_evaluate(args) -> int:
    """Exit status 2 when some files could not be classified (as ``classify``)."""
    from .dataset import list_labelled
    from .evaluate import evaluate, load_label_map

    items = list_labelled(args.data)
    label_map = load_label_map(args.map) if args.map else None
    report = evaluate(_classifier(args), items, label_map, duration_s=args.duration or None,
                      progress=sys.stderr.isatty())
    if args.per_file:
        print(report.files_table())
    print(report.table(), end="")
    if args.report:
        for path in report.save(args.report):
            print(f"wrote {path}")
    return EXIT_USER_ERROR if report.failed else 0


def cmd_train(args) -> int:
    """Exit status 130 when interrupted (the bundle then holds the best epoch so far)."""
    from .train import cross_validate, train

    if args.cv:
        if args.method != "head":
            raise GenrescopeError("--cv is for --method head (a CNN per fold takes too long).")
        cv = cross_validate(args.data, args.cv, out=args.out, seed=args.seed,
                            val_split=args.val_split, device=args.device,
                            duration_s=args.duration, hidden=args.hidden, epochs=args.epochs,
                            batch_size=args.batch_size, cache=args.cache_dir, progress=True)
        print(cv.table(), end="")
        print(f"wrote {os.path.join(args.out, 'report.json')} and confusion.png (no model)")
        return 0
    result = train(args.data, args.out, method=args.method, arch=args.arch, init=args.init,
                   epochs=args.epochs, batch_size=args.batch_size, val_split=args.val_split,
                   seed=args.seed, device=args.device, duration_s=args.duration,
                   representation=args.representation, hidden=args.hidden,
                   cache=args.cache_dir, models_dir=args.models_dir, progress=True)
    for skipped in result.skipped:
        print(f"skipped {skipped['file']}: {skipped['error']}", file=sys.stderr)
    if result.interrupted:
        if result.has_bundle:
            print(f"genrescope: interrupted after {result.epochs_done} epoch(s); {args.out} holds "
                  f"the best model so far (epoch {result.best_epoch}) and can be used with "
                  f"--model {args.out}."
                  + (" Run the same command again to resume." if args.method == "cnn" else ""),
                  file=sys.stderr)
        else:
            print("genrescope: interrupted before the first epoch ended; no model was saved.",
                  file=sys.stderr)
        return 130
    if result.report is not None:
        print(result.report.table(), end="")
    best = result.history[result.best_epoch - 1] if result.best_epoch else {}
    print(f"best epoch {result.best_epoch} of {result.epochs_done}"
          + (f" (validation accuracy {best['val_accuracy']:.1%})" if "val_accuracy" in best
             else ""))
    print(f"model bundle: {args.out}  (use it with --model {args.out})")
    return 0


def cmd_serve(args) -> int:
    from .server.app import serve

    serve(host=args.host, port=args.port, models_dir=args.models_dir, model=args.model,
          examples_dir=args.examples, max_upload_mb=args.max_upload_mb,
          save_dir=args.save_dir, device=args.device, precision=args.precision,
          max_duration_s=args.max_duration, allow_hosts=args.allow_host, db=args.db)
    return 0


if __name__ == "__main__":
    sys.exit(main())
