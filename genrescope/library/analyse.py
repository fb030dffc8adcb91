"""Analyse one track: the one pure function every indexing backend calls.

:func:`analyse_track` takes a loaded :class:`~genrescope.Classifier` and a
:class:`~genrescope.library.record.FileJob` and returns a
:class:`~genrescope.library.record.TrackRecord`. It decodes only the
windows the :class:`WindowPlan` asks for (default: four 3 s windows centred
at 20, 40, 60 and 80 % of the track) and classifies them with
:meth:`Classifier.classify_windows` (one batched network pass, the clip
embeddings from the same pass).
It touches no database and no global state, so a process pool or a Ray actor
can call it as it is.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import time
import traceback
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ..errors import GenrescopeError
from ..features import colorize
from ..track import combine_windows
from .record import FileJob, TrackRecord

THUMBNAIL_HEIGHT = 48
THUMBNAIL_WIDTH = 192
THUMBNAIL_QUALITY = 75


@dataclass(frozen=True)
class WindowPlan:
    """Which parts of a track are analysed.

    ``spread:NxL`` (default ``spread:4x3``): N windows of L seconds centred
    at evenly spread positions (20/50/80 % for 3, 20/40/60/80 % for 4);
    ``start:L``: the first L seconds; ``full``: the whole track. A track no
    longer than the windows together is analysed whole, once.

    The default, four 3 s windows, is one patch of the musicnn networks each
    (issue 25: about half the CPU per track of the earlier ``spread:3x10``,
    nine patches, with the same top-1 agreement with a whole-track analysis
    on the tracks measured; docs/performance.md).

    Examples
    --------
    >>> WindowPlan.parse("spread:3x10").windows(240.0)
    [(43.0, 10.0), (115.0, 10.0), (187.0, 10.0)]
    >>> WindowPlan().windows(240.0)
    [(46.5, 3.0), (94.5, 3.0), (142.5, 3.0), (190.5, 3.0)]
    >>> WindowPlan.parse("start:30").windows(240.0)
    [(0.0, 30.0)]
    """

    kind: str = "spread"
    count: int = 4
    length_s: float = 3.0

    @classmethod
    def parse(cls, text: str) -> "WindowPlan":
        text = (text or "").strip().lower()
        if text == "full":
            return cls("full", 1, 0.0)
        m = re.fullmatch(r"start:(\d+(?:\.\d+)?)", text)
        if m and float(m[1]) > 0:
            return cls("start", 1, float(m[1]))
        m = re.fullmatch(r"spread:(\d+)x(\d+(?:\.\d+)?)", text)
        if m and 1 <= int(m[1]) <= 20 and float(m[2]) > 0:
            return cls("spread", int(m[1]), float(m[2]))
        raise GenrescopeError(f"Unknown window plan {text!r}: use spread:NxSECONDS "
                              "(e.g. spread:4x3, the default), start:SECONDS or full.")

    def __str__(self) -> str:
        if self.kind == "full":
            return "full"
        if self.kind == "start":
            return f"start:{self.length_s:g}"
        return f"spread:{self.count}x{self.length_s:g}"

    def windows(self, duration_s: float | None) -> list[tuple[float, float | None]]:
        """``(offset_s, duration_s)`` of each window; ``None`` = to the end."""
        if self.kind == "full":
            return [(0.0, None)]
        if self.kind == "start":
            return [(0.0, self.length_s)]
        if duration_s is None:                 # length unknown: the first N x L seconds
            return [(0.0, self.count * self.length_s)]
        if duration_s <= self.count * self.length_s:
            return [(0.0, None)]
        out = []
        for i in range(self.count):
            centre = duration_s * (i + 1) / (self.count + 1) if self.count != 3 else \
                duration_s * (0.2, 0.5, 0.8)[i]
            start = min(max(centre - self.length_s / 2, 0.0), duration_s - self.length_s)
            out.append((round(start, 3), self.length_s))
        return out


DEFAULT_WINDOWS = WindowPlan()


def probe_duration_s(path: str) -> float | None:
    """Length of the audio in seconds from the file's header (no decoding)."""
    import soundfile as sf

    try:
        info = sf.info(path)
        if info.frames > 0 and info.samplerate > 0:
            return info.frames / info.samplerate
    except Exception:                      # noqa: BLE001 - not for libsndfile: ask FFmpeg
        pass
    from ..decode import open_av          # our demuxers only: no playlist, no protocol

    try:
        with open_av(path) as container:
            if container.streams.audio:
                s = container.streams.audio[0]
                if s.duration and s.time_base:
                    return float(s.duration * s.time_base)
            if container.duration:
                return container.duration / 1_000_000
    except Exception:                      # noqa: BLE001 - classify() reports the real error
        pass
    return None


def model_version(classifier) -> str:
    """A digest of the model's configuration and weights (changes when they change)."""
    h = hashlib.blake2b(digest_size=8)
    h.update(json.dumps(classifier.model.config.raw, sort_keys=True, default=str).encode())
    for name, tensor in classifier.model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return f"{classifier.name}@{h.hexdigest()}"


def timeline(prediction) -> list[dict]:
    """Per chunk/patch: ``start_s``, ``end_s`` (track time) and label probabilities.

    The one place that reads the chunk layout: :attr:`Prediction.timeline`
    (chunks tiling the analysed window, see :mod:`genrescope.timeline`).
    """
    return [{"start_s": round(float(c.start_s), 3), "end_s": round(float(c.end_s), 3),
             "p": [round(float(x), 5) for x in c.probabilities]}
            for c in prediction.timeline.chunks]


def note_dict(note) -> dict:
    """A note (:class:`~genrescope.audio.AudioWarning`) as the library stores
    it: ``code``, ``message`` and its ``details`` as plain JSON (numpy numbers
    made floats), from which the note is told in Chinese again
    (:func:`genrescope.i18n.warning_text`)."""
    return {"code": note.code, "message": note.message,
            "details": json.loads(json.dumps(dict(note.details), default=float))}


def thumbnail_jpeg(predictions: list) -> bytes:
    """The windows' spectrograms side by side, coloured, as a small JPEG (about 3 kB)."""
    strips = [p.features.spec_db for p in predictions if p.features.spec_db.size]
    spec = np.concatenate(strips, axis=1)
    image = Image.fromarray(colorize(spec)).resize((THUMBNAIL_WIDTH, THUMBNAIL_HEIGHT),
                                                   Image.BILINEAR)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=THUMBNAIL_QUALITY, optimize=True)
    return buf.getvalue()


def analyse_track(classifier, job: FileJob, plan: WindowPlan = DEFAULT_WINDOWS, *,
                  top_k: int = 5, version: str | None = None) -> TrackRecord:
    """Analyse one file; never raises for a bad file (the error is in the record).

    Parameters
    ----------
    classifier : Classifier
        A loaded model (load it once per worker).
    job : FileJob
        The file and its identity.
    plan : WindowPlan
        Which windows to analyse.
    top_k : int
        Genres kept in :attr:`TrackRecord.top`.
    version : str, optional
        :func:`model_version` of ``classifier`` (computed when not given).

    Returns
    -------
    TrackRecord
    """
    t0 = time.perf_counter()
    version = version or model_version(classifier)
    ident = dict(model=classifier.name, model_version=version, windows=str(plan))
    try:
        duration_s = probe_duration_s(job.path)
        preds = classifier.classify_windows(job.path, plan.windows(duration_s), top_k=top_k)
    except GenrescopeError as exc:
        return TrackRecord.failed(job, str(exc), analysis_s=time.perf_counter() - t0, **ident)
    except (MemoryError, KeyboardInterrupt):
        raise
    except Exception as exc:               # noqa: BLE001 - one odd file must not stop a run
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return TrackRecord.failed(
            job, f"internal error {type(exc).__name__}: {exc} "
            f"({where.filename.rsplit('/', 1)[-1]}:{where.lineno})",
            analysis_s=time.perf_counter() - t0, **ident)
    if duration_s is None:
        duration_s = max(p.audio.offset_s + p.audio.duration_s for p in preds)
    track = combine_windows(preds, classifier.model.config)
    labels = [g.id for g in classifier.genres]
    return TrackRecord(
        job.path, job.size, job.mtime_ns, job.content_hash,
        duration_s=float(duration_s),
        top=[(labels[i], float(track.probabilities[i])) for i in track.order[:top_k]],
        probabilities=track.probabilities.astype(np.float32),
        embedding=track.embedding,
        timeline=[c for p in preds for c in timeline(p)],
        thumbnail_jpeg=thumbnail_jpeg(preds),
        warnings=[note_dict(w) for w in track.warnings],
        heard=[{"kind": h.kind, "label": h.name.id, "name_en": h.name.en, "name_zh": h.name.zh,
                "score": round(h.score, 4)} for h in track.heard],
        analysis_s=time.perf_counter() - t0,
        **ident)


def set_threads(n: int) -> None:
    """Threads torch may use in this process (one per worker when several run)."""
    torch.set_num_threads(max(1, n))
