"""Audio -> log-power spectrogram -> chunks -> the images a CNN looks at.

This reproduces the ccmusic-database app's pictures without drawing figures:
``librosa.cqt`` (or ``melspectrogram``) -> ``power_to_db(ref=np.max)`` ->
centred chunks of 11.4 s -> each chunk scaled to its own min and max and
coloured with magma, low notes at the bottom, at the 496x369 pixels that
``specshow`` + ``savefig(bbox_inches="tight")`` produce -> a JPEG round trip
(quality 75, as ``savefig`` writes it) -> bilinear resize to 224x224 ->
``(x / 255 - 0.5) / 0.5``.
"""

from __future__ import annotations

import io
import re
from dataclasses import asdict, dataclass, field
from functools import lru_cache

import librosa
import numpy as np
import torch
from PIL import Image


#: Height of matplotlib's default axes box (369.6 px) over the saved height (369 px).
AXES_HEIGHT_RATIO = 369.6 / 369


@dataclass(frozen=True)
class ImageSpec:
    """Parameters of an image representation, as stored in ``config.json``.

    Attributes
    ----------
    type : {"cqt", "mel"}
        Constant-Q transform or mel spectrogram.
    sr : int
        Sample rate in Hz the audio is resampled to.
    hop_length : int
        Frame hop in samples.
    n_bins, bins_per_octave, fmin_hz
        CQT geometry (librosa defaults: 84 bins, 12 per octave, C1).
    n_fft, n_mels
        Mel geometry (librosa defaults).
    chunk_s : float
        Length of one image in seconds.
    image_width, image_height : int
        Size in pixels of the rendered chunk before resizing.
    jpeg_quality : int or None
        Quality of the JPEG round trip; ``None`` skips it.
    input_size : int
        Side of the square network input in pixels.
    mean, std : tuple of float
        Per-channel normalisation after scaling pixels to [0, 1].
    colormap : str
        Matplotlib colormap name.
    """

    type: str = "cqt"
    sr: int = 22050
    hop_length: int = 512
    n_bins: int = 84
    bins_per_octave: int = 12
    fmin_hz: float = 32.70319566257483           # C1
    n_fft: int = 2048
    n_mels: int = 128
    chunk_s: float = 11.4
    image_width: int = 496
    image_height: int = 369
    jpeg_quality: int | None = 75
    input_size: int = 224
    mean: tuple = (0.5, 0.5, 0.5)
    std: tuple = (0.5, 0.5, 0.5)
    colormap: str = "magma"

    @classmethod
    def from_dict(cls, d: dict) -> "ImageSpec":
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        for key in ("mean", "std"):
            if key in known:
                known[key] = tuple(known[key])
        spec = cls(**known)
        if spec.type not in ("cqt", "mel"):
            raise ValueError(f"unknown image representation type {spec.type!r}")
        return spec

    def to_dict(self) -> dict:
        d = asdict(self)
        d["mean"], d["std"] = list(self.mean), list(self.std)
        return d


@dataclass
class Features:
    """What a model's front end made of one recording.

    Attributes
    ----------
    inputs : torch.Tensor
        The network's input batch, one row per chunk.
    images : list of np.ndarray
        What the model looked at, as RGB uint8 pictures (one per chunk).
    spec_db : np.ndarray
        The whole log-power spectrogram (bins x frames), for display.
    chunks : list of (int, int)
        Frame range of each chunk within ``spec_db``.
    frame_rate_hz : float
        Frames per second of ``spec_db``.
    kind : {"cqt", "mel"}
        What the rows of ``spec_db`` are.
    row_hz : np.ndarray
        Centre frequency of each row of ``spec_db`` in Hz (low rows first).
    """

    inputs: torch.Tensor
    images: list
    spec_db: np.ndarray
    chunks: list = field(default_factory=list)
    frame_rate_hz: float = 0.0
    kind: str = "cqt"
    row_hz: np.ndarray | None = None


def log_power(y: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """Log-power spectrogram in dB relative to its maximum (bins x frames)."""
    if spec.type == "cqt":
        c = librosa.cqt(y, sr=spec.sr, hop_length=spec.hop_length, fmin=spec.fmin_hz,
                        n_bins=spec.n_bins, bins_per_octave=spec.bins_per_octave)
        power = np.abs(c) ** 2
    else:
        power = librosa.feature.melspectrogram(y=y, sr=spec.sr, n_fft=spec.n_fft,
                                               hop_length=spec.hop_length, n_mels=spec.n_mels)
    return librosa.power_to_db(power, ref=np.max)


def chunk_frames(n_frames: int, duration_s: float, chunk_s: float = 11.4) -> list[tuple[int, int]]:
    """Centred chunks of ``chunk_s`` seconds, as the official app cuts them.

    ``step = int(chunk_s * n_frames / duration_s)``, ``count = n_frames // step``,
    and the leftover frames are split evenly before and after.
    """
    step = int(chunk_s * n_frames / duration_s)
    if step <= 0:
        return [(0, n_frames)]
    count = n_frames // step
    begin = int(0.5 * (n_frames - count * step))
    return [(begin + i * step, begin + (i + 1) * step) for i in range(count)]


def render_chunk(chunk_db: np.ndarray, spec: ImageSpec) -> np.ndarray:
    """Draw one chunk as ``specshow`` + ``savefig`` would, pixel by pixel.

    Parameters
    ----------
    chunk_db : np.ndarray
        Log-power values, bins x frames (low bins first).
    spec : ImageSpec

    Returns
    -------
    np.ndarray
        RGB uint8 image of ``image_height`` x ``image_width``.
    """
    coloured = colorize(chunk_db, spec.colormap)
    n_bins, n_frames = chunk_db.shape
    # matplotlib's default figure (6.4 x 4.8 in at 100 dpi) gives an axes box of
    # 496 x 369.6 pixels; the tight bounding box keeps 369 rows, starting one
    # pixel below the top of the axes. Measured against savefig's PNG, this
    # mapping reproduces every row and column.
    axes_height_px = spec.image_height * AXES_HEIGHT_RATIO
    rows = (np.arange(spec.image_height) + 1.0) * n_bins // axes_height_px
    rows = np.clip(rows.astype(np.int64), 0, n_bins - 1)
    cols = ((np.arange(spec.image_width) + 0.5) * n_frames // spec.image_width).astype(np.int64)
    image = coloured[rows][:, cols]
    if spec.jpeg_quality is not None:
        image = _jpeg_round_trip(image, spec.jpeg_quality)
    return image


def colorize(values_db: np.ndarray, colormap: str = "magma") -> np.ndarray:
    """Colour a (bins x frames) array as ``specshow`` does: scaled to its own
    min and max, 256-colour lookup, low bins at the bottom.

    Returns
    -------
    np.ndarray
        RGB uint8 image, one pixel per value, bins x frames (top row = last bin).
    """
    lo, hi = float(values_db.min()), float(values_db.max())
    scaled = (values_db - lo) / (hi - lo) if hi > lo else np.zeros_like(values_db)
    lut = _colormap(colormap)
    index = np.clip((scaled * len(lut)).astype(np.int64), 0, len(lut) - 1)
    return lut[index[::-1]]


def image_tensor(images: list, spec: ImageSpec) -> torch.Tensor:
    """Resize (bilinear, as torchvision's ``Resize`` on PIL images) and
    normalise RGB uint8 images into a float32 batch (N, 3, size, size)."""
    size = (spec.input_size, spec.input_size)
    arrays = [np.asarray(Image.fromarray(im).resize(size, Image.BILINEAR)) for im in images]
    return normalise_pixels(torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2), spec)


def normalise_pixels(pixels: torch.Tensor, spec: ImageSpec) -> torch.Tensor:
    """RGB uint8 pixels (N, 3, H, W) -> the network's float32 input:
    ``(pixels / 255 - spec.mean) / spec.std`` (on the pixels' device)."""
    mean = torch.tensor(spec.mean, device=pixels.device).view(1, 3, 1, 1)
    std = torch.tensor(spec.std, device=pixels.device).view(1, 3, 1, 1)
    return (pixels.float().div_(255.0) - mean) / std


def image_features(y: np.ndarray, spec: ImageSpec) -> Features:
    """The whole image front end: mono audio at ``spec.sr`` -> :class:`Features`.

    Audio shorter than one chunk is tiled (repeated) to one chunk's length so
    that any recording from 1 s on gives one image at the usual time scale.
    """
    min_len = int(np.ceil(spec.chunk_s * spec.sr))
    if len(y) < min_len:
        y = np.resize(y, min_len)                 # repeats y
    spec_db = log_power(y, spec)
    chunks = chunk_frames(spec_db.shape[1], len(y) / spec.sr, spec.chunk_s)
    images = [render_chunk(spec_db[:, a:b], spec) for a, b in chunks]
    if spec.type == "cqt":
        row_hz = librosa.cqt_frequencies(spec.n_bins, fmin=spec.fmin_hz,
                                         bins_per_octave=spec.bins_per_octave)
    else:
        row_hz = librosa.mel_frequencies(spec.n_mels, fmax=spec.sr / 2)
    return Features(image_tensor(images, spec), images, spec_db, chunks,
                    spec.sr / spec.hop_length, spec.type, row_hz)


@lru_cache(maxsize=4)
def _colormap(name: str) -> np.ndarray:
    """The RGB uint8 colours of matplotlib's colormap ``name``, kept in the cache
    folder: a new process then need not import matplotlib (most of a second)."""
    from importlib.metadata import version

    from .cache import cache_dir
    from .files import replaced_atomically

    kept = None
    if re.fullmatch(r"[A-Za-z0-9_]+", name):
        kept = cache_dir() / "colormaps" / f"{name}-matplotlib-{version('matplotlib')}.npy"
        try:
            lut = np.load(kept, allow_pickle=False)
            if lut.dtype == np.uint8 and lut.ndim == 2 and lut.shape[1] == 3 and len(lut):
                return lut
        except (OSError, ValueError):
            pass                                   # not there yet, or damaged
    from matplotlib import colormaps

    cmap = colormaps[name]
    lut = (cmap(np.arange(cmap.N))[:, :3] * 255).round().astype(np.uint8)
    if kept is not None:
        try:
            with replaced_atomically(kept) as tmp:
                np.save(tmp, lut, allow_pickle=False)
        except OSError:
            pass                                   # a read-only cache only costs time
    return lut


def _jpeg_round_trip(image: np.ndarray, quality: int) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer).convert("RGB"))
