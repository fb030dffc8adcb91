"""Read a library: tracks, search, similar tracks, playlists, statistics.

:class:`Library` opens the database built by ``genrescope index`` (it never
writes to it) and is what the CLI, the REST routes and Python users share.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import GenrescopeError
from . import ann, search
from .db import connect, unblob
from .results import Hit, Track, heard_has, shared_heard

_COLUMNS = ("id, path, size, duration_s, model, windows, top_json, warnings_json, error, "
            "top_probability, heard_json")


@dataclass
class _Index:
    """The embeddings of one model's analysed tracks, unit rows."""

    state: int
    model: str
    ids: np.ndarray
    unit: np.ndarray
    row_of: dict


class Library:
    """A library database, opened for reading.

    Parameters
    ----------
    db : str or PathLike
        The file ``genrescope index`` wrote.
    models_dir : str or PathLike, optional
        Where the library's model is looked up when a file outside the
        library is analysed on the fly.
    classifier : Classifier, optional
        An already loaded model of the library (saves loading it).
    ann_min_tracks : int
        ``similar`` uses the approximate index ``<db>.ann`` (:mod:`.ann`)
        when it is up to date and holds at least this many tracks, else
        exact search.

    Examples
    --------
    >>> with Library("library.db") as lib:                      # doctest: +SKIP
    ...     for hit in lib.similar("song.mp3", k=5):
    ...         print(hit.track.path, hit.reason())
    """

    def __init__(self, db, *, models_dir=None, classifier=None,
                 ann_min_tracks: int = ann.ANN_MIN_TRACKS):
        self.db = Path(db)
        self.ann_min_tracks = ann_min_tracks
        self._ann_status: tuple[tuple, ann.AnnStatus] | None = None
        self.con = connect(self.db)
        self.con.create_function("heard_has", 2, heard_has, deterministic=True)
        self.models_dir = models_dir
        self._classifier = classifier
        self._lock = threading.RLock()
        self._index: _Index | None = None
        self._kept: dict[str, tuple] = {}     # what :meth:`_kept_until_changed` keeps
        self._names: dict[str, dict] = {}

    def close(self) -> None:
        self.con.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- rows ------------------------------------------------------------- #
    def _query(self, sql: str, params=()) -> list:
        with self._lock:
            return self.con.execute(sql, params).fetchall()

    def _track(self, row) -> Track:
        (id_, path, size, duration_s, model, windows, top_json, warnings_json, error,
         _, heard_json) = row
        return Track(id_, path, size, duration_s, model, windows,
                     [tuple(x) for x in json.loads(top_json or "[]")],
                     json.loads(warnings_json or "[]"), error, self._model_names(model),
                     json.loads(heard_json or "[]"))

    def _model_names(self, model: str | None) -> dict:
        if model and model not in self._names:
            row = self._query("SELECT names_json FROM models WHERE name=?", (model,))
            self._names[model] = {k: tuple(v) for k, v in json.loads(row[0][0]).items()} \
                if row else {}
        return self._names.get(model, {})

    def __len__(self) -> int:
        return self._query("SELECT count(*) FROM tracks")[0][0]

    def tracks(self, query: str | None = None, *, genre: str | None = None,
               heard: str | None = None, note: str | None = None,
               limit: int = 50, offset: int = 0) -> list[Track]:
        """Tracks whose path contains ``query`` (case-insensitive), whose top
        genre is ``genre`` (a label id, or its English or Chinese name), in
        which ``heard`` was heard (an instrument or voice: see :func:`heard_has`)
        and which carry the note ``note`` (a code: ``not_music``, ``outside``, ...)."""
        where, params = [], []
        if heard:
            where.append("heard_has(heard_json, ?)")
            params.append(heard)
        if note:
            where.append("EXISTS (SELECT 1 FROM json_each(tracks.warnings_json) "
                         "WHERE json_extract(value, '$.code') = ?)")
            params.append(note.strip().lower())
        if query:
            where.append("path LIKE ? ESCAPE '\\'")
            params.append("%" + query.replace("\\", "\\\\").replace("%", "\\%")
                          .replace("_", "\\_") + "%")
        if genre:
            where.append("top_label IN (%s)" % ",".join("?" * len(labels := self._labels(genre))))
            params += labels
        sql = f"SELECT {_COLUMNS} FROM tracks"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY path LIMIT ? OFFSET ?"
        return [self._track(r) for r in self._query(sql, params + [int(limit), int(offset)])]

    def _labels(self, name: str) -> list[str]:
        wanted = name.strip().lower()
        labels = {wanted}
        for (names_json,) in self._query("SELECT names_json FROM models"):
            for label, (en, zh) in json.loads(names_json).items():
                if wanted in (label.lower(), en.lower(), zh):
                    labels.add(label)
        return sorted(labels)

    def track(self, ref) -> Track:
        """A track by id or path.

        Raises
        ------
        GenrescopeError
            (404) No such track in the library.
        """
        found = self.find(ref)
        if found is None:
            raise GenrescopeError(f"No track {ref!r} in the library {self.db}.", status=404)
        return found

    def find(self, ref) -> Track | None:
        """The track ``ref`` names (id, or path as given or absolute), or ``None``."""
        if isinstance(ref, (int, np.integer)) or (isinstance(ref, str) and ref.isdigit()):
            rows = self._query(f"SELECT {_COLUMNS} FROM tracks WHERE id=?", (int(ref),))
            if rows or not isinstance(ref, str) or not os.path.exists(ref):
                return self._track(rows[0]) if rows else None
        path = os.fspath(ref)
        rows = self._query(f"SELECT {_COLUMNS} FROM tracks WHERE path IN (?, ?)",
                           (path, os.path.abspath(path)))
        return self._track(rows[0]) if rows else None

    def arrays(self, track_id: int) -> dict:
        """``probabilities``, ``embedding``, ``timeline`` and ``labels`` of a track."""
        rows = self._query("SELECT t.probabilities, t.embedding, t.timeline_json, m.labels_json "
                           "FROM tracks t LEFT JOIN models m ON m.name = t.model "
                           "WHERE t.id=?", (int(track_id),))
        if not rows:
            raise GenrescopeError(f"No track {track_id} in the library.", status=404)
        p, e, tl, labels = rows[0]
        return {"probabilities": unblob(p), "embedding": unblob(e),
                "timeline": json.loads(tl or "[]"), "labels": json.loads(labels or "[]")}

    def thumbnail(self, track_id: int) -> bytes | None:
        """The track's spectrogram thumbnail (JPEG bytes), if it was analysed."""
        rows = self._query("SELECT thumbnail_jpeg FROM tracks WHERE id=?", (int(track_id),))
        return rows[0][0] if rows else None

    def state(self) -> int:
        """Changes whenever another connection (the indexer) commits a change."""
        return self._query("PRAGMA data_version")[0][0]

    # -- embeddings ------------------------------------------------------- #
    def _embeddings(self) -> _Index:
        """The unit embeddings of the main model's tracks, reloaded after writes."""
        with self._lock:
            key = self.state()
            if self._index is not None and self._index.state == key:
                return self._index
            row = self.con.execute(
                "SELECT model, count(*) c FROM tracks WHERE error IS NULL AND embedding IS NOT "
                "NULL GROUP BY model ORDER BY c DESC LIMIT 1").fetchone()
            if row is None:
                raise GenrescopeError(f"The library {self.db} has no analysed tracks yet: "
                                      "run `genrescope index` first.", status=409)
            rows = self.con.execute(
                "SELECT id, embedding FROM tracks WHERE model=? AND error IS NULL AND "
                "embedding IS NOT NULL ORDER BY id", (row[0],)).fetchall()
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        unit = search.normalise_rows(np.stack([unblob(r[1]) for r in rows]))
        self._index = _Index(key, row[0], ids, unit, {int(i): n for n, i in enumerate(ids)})
        return self._index

    def _ann(self) -> ann.AnnStatus:
        """The approximate index if it is up to date (checked again after every
        write to the database and every new index file)."""
        with self._lock:
            key = (self.state(), ann.file_key(self.db))
            if self._ann_status is None or self._ann_status[0] != key:
                loaded = self._ann_status[1].index if self._ann_status else None
                self._ann_status = (key, ann.open_index(
                    self.con, self.db, min_tracks=self.ann_min_tracks, loaded=loaded))
            return self._ann_status[1]

    @property
    def search_note(self) -> str | None:
        """Why ``similar`` searches exactly although an index file exists
        (stale, torn or damaged), else ``None``."""
        return self._ann().note

    @property
    def search_method(self) -> str:
        """``"approximate"`` (the up-to-date ``<db>.ann``) or ``"exact"``."""
        return "approximate" if self._ann().index is not None else "exact"

    def _vector(self, ref, model: str | None = None) -> tuple[Track | None, np.ndarray, dict]:
        """(track or None, embedding, arrays) of a library track or an outside file
        (analysed with ``model``, default the library's)."""
        track = self.find(ref)
        if track is not None:
            if track.error:
                raise GenrescopeError(f"{track.path} could not be analysed: {track.error}")
            arrays = self.arrays(track.id)
            return track, arrays["embedding"], arrays
        if not os.path.isfile(os.fspath(ref)):
            raise GenrescopeError(f"{ref!r} is neither a track of the library nor a file.",
                                  status=404)
        rec = self.analyse_file(os.fspath(ref), model or self._embeddings().model)
        return None, rec.embedding, {"probabilities": rec.probabilities,
                                     "timeline": rec.timeline}

    def analyse_file(self, path: str, model: str | None = None):
        """Analyse a file outside the library as the indexer would (not stored)."""
        from .analyse import analyse_track
        from .record import file_job

        model = model or self._embeddings().model
        if self._classifier is None or self._classifier.name != model:
            from ..predict import Classifier

            self._classifier = Classifier.load(model, models_dir=self.models_dir)
        rec = analyse_track(self._classifier, file_job(path), self.plan(model))
        if rec.error:
            raise GenrescopeError(rec.error)
        return rec

    def plan(self, model: str | None = None):
        """The :class:`~genrescope.library.analyse.WindowPlan` most tracks of
        ``model`` (default: the library's) were analysed with."""
        from .analyse import WindowPlan

        rows = self._query("SELECT windows, count(*) c FROM tracks WHERE model=? "
                           "GROUP BY windows ORDER BY c DESC LIMIT 1",
                           (model or self._embeddings().model,))
        return WindowPlan.parse(rows[0][0]) if rows else WindowPlan()

    def similar_to_analysis(self, rec, k: int = 10) -> list[Hit]:
        """The ``k`` tracks nearest an analysis of a file outside the library
        (a record from :meth:`analyse_file`), each with why it is near."""
        query = {"probabilities": rec.probabilities, "timeline": rec.timeline}
        return [self._hit(i, sim, None, query) for i, sim in self._nearest(rec.embedding, k)]

    def similar(self, ref, k: int = 10) -> list[Hit]:
        """The ``k`` tracks nearest ``ref`` (id, path in the library, or any
        audio file, analysed on the fly), each with why it is near."""
        if not 1 <= int(k) <= 1000:
            raise GenrescopeError("k must be between 1 and 1000.")
        approx = self._ann().index
        track, vector, arrays = self._vector(ref, approx.stamp.model if approx else None)
        hits = self._nearest(vector, k, [track.id] if track else [])
        return [self._hit(i, sim, track, arrays) for i, sim in hits]

    def _nearest(self, vector: np.ndarray, k: int, exclude_ids=()) -> list[tuple[int, float]]:
        """Track ids and cosines of the ``k`` tracks nearest ``vector``: from the
        approximate index when it is up to date, else exact."""
        approx = self._ann().index
        if approx is not None:
            return approx.nearest(vector, int(k), exclude_ids)
        index = self._embeddings()
        exclude = [index.row_of[i] for i in exclude_ids if i in index.row_of]
        return [(int(index.ids[i]), sim)
                for i, sim in search.nearest(index.unit, vector, int(k), exclude)]

    def _hit(self, track_id: int, similarity: float, query: Track | None, q: dict) -> Hit:
        other = self.track(track_id)
        o = self.arrays(track_id)
        labels, p = list(o["labels"]), np.asarray(q["probabilities"], dtype=np.float64)
        best = int(np.argmax(p)) if p.size and p.sum() > 0 else None
        return Hit(other, similarity,
                   search.shared_genres(p, o["probabilities"], labels),
                   search.genre_overlap(p, o["probabilities"]),
                   search.timeline_similarity(q["timeline"], o["timeline"]),
                   query_top=None if best is None else (labels[best], float(p[best] / p.sum())),
                   shared_heard=shared_heard(query, other))

    # -- playlists -------------------------------------------------------- #
    def _row(self, ref) -> int:
        index = self._embeddings()
        track = self.track(ref)
        if track.id not in index.row_of:
            raise GenrescopeError(f"{track.path} has no analysis with {index.model} "
                                  f"({track.error or 'another model'}).")
        return index.row_of[track.id]

    def path(self, start, end, *, length: int = 12) -> list[Track]:
        """A sonic path of ``length`` tracks from ``start`` to ``end`` (no repeats)."""
        a, b = self._row(start), self._row(end)
        if a == b:
            raise GenrescopeError("--from and --to are the same track.")
        ids = self._embeddings().ids
        return [self.track(int(ids[i])) for i in search.sonic_path(
            self._embeddings().unit, a, b, max(2, int(length)))]

    def playlist_around(self, seeds: list, *, length: int = 12) -> list[Track]:
        """``length`` tracks around the seeds, starting with the first seed."""
        rows = [self._row(s) for s in seeds]
        index = self._embeddings()
        return [self.track(int(index.ids[i]))
                for i in search.around_seeds(index.unit, rows, int(length))]

    # -- overview --------------------------------------------------------- #
    def stats(self):
        """Counts per top genre, unsure and not-music tracks, failures (kept
        until the database changes: the page asks at every language switch)."""
        from .overview import LibraryStats

        def read():
            return LibraryStats.of([self._track(r) for r in self._query(
                f"SELECT {_COLUMNS} FROM tracks ORDER BY path")])

        return self._kept_until_changed("stats", (), read)

    def map_layout(self, *, seed: int = 0):
        """Where the map puts each track (:func:`.map.layout_of`: at most
        ``MAP_MAX_TRACKS``, a seeded sample), kept until the database changes:
        a language switch draws it again without projecting again."""
        from .map import layout_of

        def project():
            index = self._embeddings()
            return layout_of(index.unit, index.ids, self._tracks_by_id, seed=seed)

        return self._kept_until_changed("map", (seed,), project)

    def _kept_until_changed(self, name: str, args: tuple, make):
        """``make()``, made again only after another connection changed the
        database (:meth:`state`) or ``args`` changed; made outside the lock
        (a library's first map projects for seconds)."""
        key = (self.state(), args)
        kept = self._kept.get(name)
        if kept is None or kept[0] != key:
            kept = self._kept[name] = (key, make())
        return kept[1]

    def write_map(self, out, *, lang: str = "en", seed: int = 0) -> Path:
        """A 2-D map of the library as a self-contained HTML file (see :mod:`.map`)."""
        from .map import write_map

        return write_map(out, self.map_layout(seed=seed), lang=lang)

    def map_figure(self, *, lang: str = "en", seed: int = 0):
        """The same map as a plotly figure (the page draws it in its own document)."""
        from .map import map_figure

        return map_figure(self.map_layout(seed=seed), lang=lang)

    def _tracks_by_id(self, ids: np.ndarray) -> dict[int, Track]:
        """The tracks of ``ids`` that exist, by id (read 500 ids a query)."""
        ids = [int(i) for i in ids]
        rows = [r for a in range(0, len(ids), 500) for r in self._query(
            f"SELECT {_COLUMNS} FROM tracks WHERE id IN ({','.join('?' * len(ids[a:a + 500]))})",
            ids[a:a + 500])]
        return {r[0]: self._track(r) for r in rows}
