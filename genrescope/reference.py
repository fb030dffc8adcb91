"""The ccmusic-database app's own procedure, written from its description.

Slow on purpose: it draws every chunk with ``librosa.display.specshow``, saves
it as a JPEG and reads it back, exactly like the published app. genrescope
never uses it to classify; the tests compare :mod:`genrescope.features`
against it and the benchmarks use it as the baseline.
"""

from __future__ import annotations

import io

import numpy as np
import torch
from PIL import Image


def official_images(y: np.ndarray, sr: int = 22050, representation: str = "cqt",
                    chunk_s: float = 11.4) -> list[Image.Image]:
    """Draw, save as JPEG and reopen the chunks as the official app does.

    Parameters
    ----------
    y : np.ndarray
        Mono audio at ``sr`` (what ``librosa.load(path)`` returns).
    sr : int
        Sample rate in Hz.
    representation : {"cqt", "mel"}
    chunk_s : float
        Chunk length in seconds.

    Returns
    -------
    list of PIL.Image.Image
        The reopened RGB JPEGs, one per chunk (empty for audio under ``chunk_s``).
    """
    import librosa.display
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if representation == "cqt":
        spec = librosa.power_to_db(np.abs(librosa.cqt(y=y, sr=sr)) ** 2, ref=np.max)
    else:
        spec = librosa.power_to_db(librosa.feature.melspectrogram(y=y, sr=sr), ref=np.max)
    dur = librosa.get_duration(y=y, sr=sr)
    total_frames = spec.shape[1]
    step = int(chunk_s * total_frames / dur)
    count = int(total_frames / step)
    begin = int(0.5 * (total_frames - count * step))
    images = []
    for i in range(begin, begin + step * count, step):
        librosa.display.specshow(spec[:, i:i + step])
        plt.axis("off")
        buffer = io.BytesIO()
        plt.savefig(buffer, format="jpg", bbox_inches="tight", pad_inches=0.0)
        plt.close()
        buffer.seek(0)
        images.append(Image.open(buffer).convert("RGB"))
    return images


def official_tensor(image: Image.Image, input_size: int = 224) -> torch.Tensor:
    """``Resize([224, 224])``, ``ToTensor()``, ``Normalize((0.5,)*3, (0.5,)*3)``
    on a PIL image, as torchvision does it, returning (1, 3, 224, 224)."""
    resized = image.resize((input_size, input_size), Image.BILINEAR)
    x = torch.from_numpy(np.asarray(resized).copy()).permute(2, 0, 1).float() / 255.0
    return ((x - 0.5) / 0.5).unsqueeze(0)
