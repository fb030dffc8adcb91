"""The ``evaluate`` and ``train`` sub-commands: parse, call the package, print.

:func:`add_training_commands` adds them to the ``genrescope`` parser.
"""

from __future__ import annotations

import os
import sys

from ..arguments import EXIT_USER_ERROR, load_classifier, model_args
from ..errors import GenrescopeError


def add_training_commands(sub) -> None:
    """Add ``evaluate`` and ``train`` to ``sub`` (the parser's sub-parsers)."""
    p = sub.add_parser("evaluate", help="accuracy, macro-F1 and confusion on labelled files")
    p.add_argument("data", metavar="DATA", help="folder with one sub-folder per genre, folder "
                   "of <genre>.<id>.<ext> files, or CSV with a path,label header")
    model_args(p)
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


def cmd_evaluate(args) -> int:
    """Exit status 2 when some files could not be classified (as ``classify``)."""
    from ..dataset import list_labelled
    from ..evaluate import evaluate, load_label_map

    items = list_labelled(args.data)
    label_map = load_label_map(args.map) if args.map else None
    report = evaluate(load_classifier(args), items, label_map, duration_s=args.duration or None,
                      progress=sys.stderr.isatty())
    if args.per_file:
        print(report.files_table())
    print(report.table(), end="")
    if args.report:
        for path in report.save(args.report):
            print(f"wrote {path}")
        if report.reliability is not None:
            print(f"wrote {os.path.join(args.report, 'reliability.png')} (reliability diagram)")
    return EXIT_USER_ERROR if report.failed else 0


def cmd_train(args) -> int:
    """Exit status 130 when interrupted (the bundle then holds the best epoch so far)."""
    from ..train import cross_validate, train

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
