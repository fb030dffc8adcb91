"""The library's sub-commands: ``index``, ``similar``, ``playlist``, ``library``.

:func:`add_library_commands` adds them to the ``genrescope`` parser; the
bodies here only parse, call the package and print.
"""

from __future__ import annotations

import argparse
import json
import sys

from ..arguments import EXIT_USER_ERROR, model_args
from ..errors import GenrescopeError


def add_library_commands(sub) -> None:
    """Add the sub-commands to ``sub`` (the parser's sub-parsers)."""
    p = sub.add_parser("index", help="analyse music folders once into a library database")
    p.add_argument("paths", nargs="+", metavar="DIR", help="music folders (or files)")
    p.add_argument("--db", required=True, metavar="LIBRARY.db", help="SQLite file (created)")
    model_args(p)
    p.add_argument("--workers", type=int, default=1, metavar="N",
                   help="processes analysing in parallel (default 1; 2 on a 2-core machine)")
    p.add_argument("--windows", default="spread:4x3", metavar="PLAN",
                   help="what is analysed per track: spread:NxS (default spread:4x3: four "
                   "3 s windows at 20/40/60/80 %%), start:S, or full")
    p.add_argument("--retry-failed", action="store_true",
                   help="analyse again files that failed before")
    p.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="where analysis runs (ray: the genrescope[ray] extra; --workers = "
                   "Ray actors, one CPU each)")
    p.add_argument("--address", metavar="ADDR",
                   help="ray: the cluster to join (auto, ray://HOST:10001; default: "
                   "RAY_ADDRESS or a new Ray on this machine)")
    p.add_argument("--gpus", type=float, default=0.0, metavar="G",
                   help="ray: GPUs per worker (e.g. 1 or 0.5; default 0: CPU workers)")
    p.add_argument("--ship-bytes", action="store_true",
                   help="ray: send each file from this machine instead of reading it on the "
                   "worker (for clusters without shared storage)")
    p.set_defaults(run=cmd_index)

    p = sub.add_parser("similar", help="tracks of the library that sound like a track or file")
    p.add_argument("track", metavar="TRACK_OR_FILE",
                   help="a track id or path in the library, or any audio file")
    p.add_argument("--db", required=True, metavar="LIBRARY.db")
    p.add_argument("-k", type=int, default=10, help="how many (default 10)")
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=cmd_similar)

    p = sub.add_parser("playlist", help="a sonic path between tracks, or around seeds, as M3U8")
    p.add_argument("--db", required=True, metavar="LIBRARY.db")
    p.add_argument("--from", dest="start", metavar="A", help="first track (id, path or file)")
    p.add_argument("--to", dest="end", metavar="B", help="last track")
    p.add_argument("--seed", action="append", default=[], metavar="S",
                   help="a seed track (repeat for several); instead of --from/--to")
    p.add_argument("--length", type=int, default=12, metavar="N", help="tracks (default 12)")
    p.add_argument("-o", "--output", metavar="OUT.m3u8")
    from .tag import add_playlist_genre_args

    add_playlist_genre_args(p)                # --genre, --per-genre (commands/tag.py)
    p.set_defaults(run=cmd_playlist)

    p = sub.add_parser("library", help="what a library holds: genres, unsure tracks, a map")
    p.add_argument("--db", required=True, metavar="LIBRARY.db")
    p.add_argument("--map", metavar="MAP.html", help="write a 2-D map that opens offline")
    p.add_argument("--heard", metavar="NAME", help="list the tracks in which this instrument "
                   "or voice was heard (piano, violin, choir, ...)")
    p.add_argument("--note", metavar="CODE", help="list the tracks with this note "
                   "(not_music, outside, speech_over_music, ambiguous, ...)")
    p.add_argument("--limit", type=int, default=200, help="most tracks listed (default 200)")
    p.add_argument("--lang", choices=("en", "zh"), default="en")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.set_defaults(run=cmd_library)


def cmd_index(args: argparse.Namespace) -> int:
    """Exit 2 when some files failed (they are recorded), 130 when interrupted."""
    from ..library.index import index

    options = {k: v for k, v in (("address", args.address), ("gpus", args.gpus),
                                 ("ship_bytes", args.ship_bytes)) if v}
    summary = index(args.paths, args.db, model=args.model, models_dir=args.models_dir,
                    device=args.device, precision=args.precision, workers=args.workers,
                    windows=args.windows, retry_failed=args.retry_failed,
                    backend=args.backend, backend_options=options, progress=True)
    print(summary.text())
    if summary.interrupted:
        return 130
    return EXIT_USER_ERROR if summary.failed else 0


def cmd_similar(args: argparse.Namespace) -> int:
    from ..library import Library

    with Library(args.db) as lib:
        hits = lib.similar(args.track, k=args.k)
        if lib.search_note:
            print(f"note: {lib.search_note}", file=sys.stderr)
        if args.format == "json":
            json.dump([h.to_dict(args.lang) for h in hits], sys.stdout, ensure_ascii=False,
                      indent=2)
            print()
            return 0
        for rank, h in enumerate(hits, 1):
            print(f"{rank:>3}. {h.similarity:5.3f}  {h.track.path}")
            print(f"       {h.reason(args.lang)}")
    return 0


def cmd_playlist(args: argparse.Namespace) -> int:
    from ..library import Library

    if args.genre or args.per_genre:
        from .tag import genre_playlist

        return genre_playlist(args)
    if not args.output:
        raise GenrescopeError("Say where the playlist goes: -o OUT.m3u8.")

    from ..library.playlists import write_playlist

    with Library(args.db) as lib:
        if args.seed:
            if args.start or args.end:
                raise GenrescopeError("Use either --from/--to or --seed, not both.")
            tracks = lib.playlist_around(args.seed, length=args.length)
        elif args.start and args.end:
            tracks = lib.path(args.start, args.end, length=args.length)
        else:
            raise GenrescopeError("Say where the playlist goes: --from A --to B, or --seed A "
                                  "[--seed C ...].")
        write_playlist(tracks, args.output)
    for t in tracks:
        print(t.path)
    print(f"wrote {args.output} ({len(tracks)} tracks)", file=sys.stderr)
    return 0


def cmd_library(args: argparse.Namespace) -> int:
    from ..library import Library

    with Library(args.db) as lib:
        if args.heard or args.note:
            return _list_tracks(lib, args)
        stats = lib.stats()
        if args.map:
            lib.write_map(args.map, lang=args.lang)
    if args.format == "json":
        json.dump(stats.to_dict(args.lang), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print(stats.text(args.lang))
    if args.map:
        print(f"wrote {args.map}", file=sys.stderr)
    return 0


def _list_tracks(lib, args: argparse.Namespace) -> int:
    """``genrescope library --heard NAME / --note CODE``: the matching tracks."""
    found = lib.tracks(heard=args.heard, note=args.note, limit=args.limit)
    if args.format == "json":
        json.dump([t.to_dict(args.lang) for t in found], sys.stdout, ensure_ascii=False,
                  indent=2)
        print()
        return 0
    name = "name_zh" if args.lang == "zh" else "name_en"
    for t in found:
        top = f"{t.genre_name(t.top[0][0], args.lang)} {t.top[0][1]:.0%}" if t.top else "-"
        heard = ", ".join(h[name] for h in t.heard)
        notes = ", ".join(w["code"] for w in t.warnings)
        print(f"{t.path}\n    {top}" + (f"; heard: {heard}" if heard else "")
              + (f"; notes: {notes}" if notes else ""))
    print(f"{len(found)} tracks", file=sys.stderr)
    return 0

