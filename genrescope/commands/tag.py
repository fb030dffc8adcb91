"""The ``tag`` sub-command, and the genre options of ``playlist``.

:func:`add_tag_command` adds ``genrescope tag`` to the parser;
:func:`add_playlist_genre_args` adds ``--genre``/``--per-genre`` to the
library's ``playlist`` command. The bodies only parse, call the package and
print.

Exit status of ``tag``: 0 when every file was written or had nothing to do
(also a dry run with nothing in the way), 1 when some file failed or was
refused (read-only, vanished, changed during the run, unreadable tags,
analysis failed; each has a line), 2 for a user error.
"""

from __future__ import annotations

import argparse
import os
import sys

from ..arguments import display_width, model_args

EXIT_NOT_ALL_WRITTEN = 1


def add_tag_command(sub) -> None:
    """Add ``genrescope tag`` to ``sub`` (the parser's sub-parsers)."""
    p = sub.add_parser("tag", help="write the genre into the files' own tags (dry run unless "
                       "--write)", description="Show, then with --write write, each file's "
                       "genre into its own tags (MP3, FLAC, Ogg, Opus, M4A, WAV/AIFF). "
                       "Exit 0: all written or nothing to do; 1: some file failed or was "
                       "refused; 2: user error.")
    p.add_argument("paths", nargs="+", metavar="PATH", help="audio files or folders")
    p.add_argument("--db", metavar="LIBRARY.db",
                   help="take genres from this library where it knows the file as it is; "
                   "undo records go into it (else .genrescope-tags.jsonl beside the files)")
    p.add_argument("--write", action="store_true", help="write (default: a dry run)")
    p.add_argument("--undo", action="store_true",
                   help="put back what the last --write replaced")
    p.add_argument("--min-confidence", type=float, metavar="P",
                   help="write answers with at least this probability (0 writes every "
                   "answer; default: answers without an unsure/not-music/outside note)")
    p.add_argument("--only-empty", action="store_true", help="leave existing genres alone")
    how = p.add_mutually_exclusive_group()
    how.add_argument("--replace", dest="append", action="store_false",
                     help="replace the existing genres (default)")
    how.add_argument("--append", dest="append", action="store_true",
                     help="add the genre to the existing ones")
    p.set_defaults(append=False)
    p.add_argument("--lang", choices=("en", "zh"), default="en", help="genre names' language")
    p.add_argument("--styles", action="store_true", help="also write the styles heard as "
                   "further genre values")
    p.add_argument("--details", action="store_true", help="also write confidence, model and "
                   "source into genrescope's own fields (TXXX/GENRESCOPE_*/----:com.genrescope)")
    model_args(p)
    p.set_defaults(run=cmd_tag)


def add_playlist_genre_args(p: argparse.ArgumentParser) -> None:
    """``--genre``, ``--style``, ``--min-confidence``, ``--per-genre`` for ``playlist``."""
    p.add_argument("--genre", metavar="G", help="the library's tracks of this genre "
                   "(instead of --from/--to or --seed)")
    p.add_argument("--style", metavar="S", help="with --genre/--per-genre: only files whose "
                   "genre tag holds this style (written by `tag --styles`)")
    p.add_argument("--min-confidence", type=float, metavar="P",
                   help="with --genre/--per-genre: top probability at least P (default: "
                   "tracks without an unsure/not-music note)")
    p.add_argument("--per-genre", metavar="DIR", help="one playlist per genre into DIR")
    p.add_argument("--lang", choices=("en", "zh"), default="en",
                   help="--per-genre: language of the file names")


def genre_playlist(args: argparse.Namespace) -> int:
    """The body of ``playlist --genre`` / ``--per-genre``."""
    from ..errors import GenrescopeError
    from ..library.catalog import Library
    from ..library.playlists import genre_tracks, write_per_genre, write_playlist
    from ..tags.formats import genre_tag_holds

    keep = None if args.style is None else (lambda path: genre_tag_holds(path, args.style))

    with Library(args.db) as lib:
        if args.per_genre:
            written = write_per_genre(lib, args.per_genre, lang=args.lang,
                                      min_confidence=args.min_confidence, keep=keep)
            for name, (out, n) in written.items():
                print(f"{out}  ({n} tracks, {name})")
            return 0
        if not args.output:
            raise GenrescopeError("Say where the playlist goes: -o OUT.m3u8 (or --per-genre DIR).")
        tracks = genre_tracks(lib, args.genre, min_confidence=args.min_confidence, keep=keep)
        write_playlist(tracks, args.output)
    for t in tracks:
        print(t.path)
    print(f"wrote {args.output} ({len(tracks)} tracks)", file=sys.stderr)
    return 0


def _cell(text: str, width: int) -> str:
    while display_width(text) > width:
        text = text[:-2] + "…"
    return text + " " * (width - display_width(text))


def _shown(path: str) -> str:
    rel = os.path.relpath(path)
    return path if rel.startswith("..") else rel


def table(summary, *, undo: bool = False) -> str:
    """``file | current genre tag | new genre tag | confidence | what happened``."""
    head = ["file", "current genre tag", "restored genre tag" if undo else "new genre tag",
            "confidence", "what happened"]
    rows = [[_shown(r.path), "; ".join(r.current) or "-",
             "-" if r.new is None else ("; ".join(r.new) or "(no genre field)"),
             "" if r.confidence is None else f"{r.confidence:.0%}", r.note]
            for r in summary.rows]
    widths = [min(48, max([display_width(h)] + [display_width(r[i]) for r in rows])) for i, h in enumerate(head)]
    lines = [" | ".join(_cell(h, w) for h, w in zip(head, widths[:-1])) + " | " + head[-1]]
    lines.append("-+-".join("-" * w for w in widths))
    for r in rows:
        lines.append(" | ".join(_cell(c, w) for c, w in zip(r, widths[:-1])) + " | " + r[-1])
    return "\n".join(lines)


def cmd_tag(args: argparse.Namespace) -> int:
    from ..errors import GenrescopeError
    from ..tags.run import TagOptions, tag_files, undo_files

    if args.min_confidence is not None and not 0 <= args.min_confidence <= 1:
        raise GenrescopeError("--min-confidence is a probability between 0 and 1.")
    if args.undo:
        summary = undo_files(args.paths, db=args.db)
    else:
        opts = TagOptions(write=args.write, min_confidence=args.min_confidence,
                          only_empty=args.only_empty, append=args.append, lang=args.lang,
                          styles=args.styles, details=args.details)
        summary = tag_files(args.paths, opts, db=args.db,
                            load_classifier=lambda: _classifier(args))
    print(table(summary, undo=args.undo))
    counts = ", ".join(f"{n} {k}" for k, n in sorted(summary.counts().items()))
    print(f"\n{len(summary.rows)} files: {counts}")
    if not args.write and not args.undo:
        print("dry run: nothing was written (add --write to write)")
    return EXIT_NOT_ALL_WRITTEN if summary.failed else 0


def _classifier(args):
    from ..predict import Classifier

    return Classifier.load(args.model, models_dir=args.models_dir, device=args.device,
                           precision=args.precision)
