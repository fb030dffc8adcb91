"""The ccmusic-database app's own procedure, written from its description.

Slow on purpose: it draws every chunk with ``librosa.display.specshow``, saves
it as a JPEG and reads it back, and builds the network from scratch for every
request, exactly like the published app. genrescope never uses it to
classify, so it lives outside the package: the tests compare
:mod:`genrescope.features` against it (tests/conftest.py puts this folder on
``sys.path``) and the benchmarks use it as the baseline.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import nn


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


def official_network(save_pt: str | Path, arch: str = "vgg19_bn",
                     num_classes: int = 16) -> nn.Module:
    """Build the network the way the ccmusic ``Net`` class does on every request.

    ``torchvision.models.vgg19_bn()`` builds the backbone *and* its ImageNet
    classifier (25088-4096-4096-1000) and initialises both (kaiming-normal
    convolutions, normal(0, 0.01) linear layers); ``Net`` then puts the
    ccmusic head in place of that classifier and loads ``save.pt`` with
    ``load_state_dict(..., strict=False)``. The same work is done here with
    genrescope's torchvision-compatible VGG (no torchvision needed).
    """
    from genrescope.models.vgg import FEATURES_OUT, VGG

    net = VGG(arch, num_classes)                 # backbone + ccmusic head, default init
    imagenet_head = nn.Sequential(               # built by vgg19_bn(), then replaced
        nn.Linear(FEATURES_OUT, 4096), nn.ReLU(True), nn.Dropout(),
        nn.Linear(4096, 4096), nn.ReLU(True), nn.Dropout(), nn.Linear(4096, 1000))
    for m in [*net.features.modules(), *imagenet_head.modules()]:   # torchvision's init
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)
    net.load_state_dict(torch.load(save_pt, map_location="cpu", weights_only=True), strict=False)
    return net.eval()
