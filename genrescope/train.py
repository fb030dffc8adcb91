"""Train a genre model on your own labelled music; the result is a model bundle.

>>> from genrescope.train import train
>>> result = train("my_music", "models/my_genres")              # doctest: +SKIP
>>> print(result.report.table())                                 # doctest: +SKIP
>>> Classifier.load("models/my_genres").classify("song.mp3")     # doctest: +SKIP

Two methods:

``head`` (default)
    A small classifier on the per-patch embeddings (456-d, one per 3 s patch)
    of musicnn's two MSD taggers (``msd_musicnn`` + ``msd_vgg``, the base of
    the default model ``genres``), which stay frozen. Each patch of
    a training file is one example; at inference the
    :class:`~genrescope.predict.Classifier` averages the per-patch softmax, as
    the validation here does, so training and use see the same inputs.
    Embeddings are cached on disk, so a second run only trains the head
    (seconds). Minutes on a CPU.
``cnn``
    The ccmusic-database recipe: a VGG with batch norm on CQT (or mel)
    images of 11.4 s chunks, every chunk of a training file an example, SGD
    (lr 0.001, momentum 0.9), ``ReduceLROnPlateau(factor=0.1, patience=5)``
    on the validation loss, class-weighted cross-entropy. From scratch, or
    fine-tuned from ``init`` (an official ``save.pt`` or a genrescope
    bundle; with other labels its last linear layer is replaced). Images are
    cached; ``DIR/checkpoint.pt`` lets an interrupted run resume.

Both split by song (never by chunk; files of one song on one side), per
genre, reproducibly (:func:`genrescope.dataset.grouped_split`), keep the best validation
epoch as ``DIR/model.safetensors`` + ``DIR/config.json``, and end with
:func:`genrescope.evaluate.evaluate` of the saved bundle on the validation
files (``DIR/report.json``, ``DIR/confusion.png``).

The code lives in :mod:`genrescope.training`: ``common`` (feature cache,
split, bundle and report), ``head``, ``crossval``, ``cnn`` and ``finetune``.
This module is the entry point and keeps the public names.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

from .cache import cache_dir
from .dataset import list_labelled
from .errors import GenrescopeError
from .training.cnn import CHECKPOINT, CNN_DEFAULTS, from_uint8, to_uint8, train_cnn
from .training.common import (FeatureCache, TrainResult, split_files, torch_device,
                              want_progress)
from .training.crossval import CrossValidation, cross_validate
from .training.finetune import InitCheckpoint, init_network, read_init
from .training.head import BASE_MODEL, BASE_NAME, HEAD_DEFAULTS, fit_head, train_head

__all__ = ["BASE_MODEL", "CHECKPOINT", "CNN_DEFAULTS", "HEAD_DEFAULTS", "CrossValidation",
           "FeatureCache", "InitCheckpoint", "TrainResult", "cross_validate", "fit_head",
           "from_uint8", "init_network", "read_init", "to_uint8", "train"]


def train(data: str | os.PathLike, out: str | os.PathLike, *, method: str = "head",
          arch: str | None = None, init: str | os.PathLike | None = None,
          epochs: int | None = None, batch_size: int | None = None, val_split: float = 0.2,
          seed: int = 0, device: str | None = None, duration_s: float | None = 30.0,
          representation: str | None = None, hidden: int | None = None,
          cache: str | os.PathLike | None = None, models_dir: str | os.PathLike | None = None,
          image_spec: dict | None = None, progress: bool | None = None,
          on_epoch: Callable[[dict], None] | None = None) -> TrainResult:
    """Train a model on labelled files and write it as a bundle into ``out``.

    Parameters
    ----------
    data : str or PathLike
        A folder with one sub-folder per genre, a folder of
        ``<genre>.<id>.<ext>`` files, or a CSV with ``path,label``
        (:func:`genrescope.dataset.list_labelled`). Label names become the
        model's genre ids.
    out : str or PathLike
        Folder of the bundle (created). ``Classifier.load(out)`` and
        ``--model out`` use it.
    method : {"head", "cnn"}
    arch : str, optional
        cnn: VGG variant (default: that of ``init``, else ``vgg19_bn``).
    init : str or PathLike, optional
        cnn: checkpoint to start from (official ``save.pt``, its folder or
        name, or a genrescope bundle).
    epochs, batch_size : int, optional
        Default 300 / 64 (head, with early stopping) or 40 / 8 (cnn).
    val_split : float
        Share of each genre's files held out for validation (0: none; the
        last epoch is kept).
    seed : int
        Seeds the split, the initial weights and the batch order.
    device : {"cpu", "cuda"}, optional
        Default: CUDA when torch sees a GPU.
    duration_s : float or None
        Seconds read from the start of each file (default 30, as
        ``classify``); ``None`` or 0: whole files.
    representation : {"cqt", "mel"}, optional
        cnn: image type (default: that of ``init``, else ``cqt``).
    hidden : int, optional
        head: width of the hidden layer (0: a linear classifier).
    cache : str or PathLike, optional
        Feature cache folder (default :func:`cache_dir`).
    models_dir : str or PathLike, optional
        Where ``init`` names are looked up.
    image_spec : dict, optional
        cnn: other :class:`~genrescope.features.ImageSpec` fields (e.g.
        ``{"input_size": 112}``), stored in the bundle.
    progress : bool, optional
        Progress bars on stderr (default: when stderr is a terminal).
    on_epoch : callable, optional
        Called with each epoch's history entry (after it is saved).

    Returns
    -------
    TrainResult

    Raises
    ------
    GenrescopeError
        Bad data or options, an unusable ``init``, a checkpoint in ``out``
        from another run.
    """
    if method not in ("head", "cnn"):
        raise GenrescopeError(f"--method must be head or cnn, not {method!r}.")
    if method == "head":
        given = [n for n, v in (("--arch", arch), ("--init", init),
                                ("--representation", representation), ("image_spec", image_spec))
                 if v]
        if given:
            raise GenrescopeError(f"{', '.join(given)} only apply to --method cnn; the head "
                                  f"trains on the embeddings of {BASE_NAME}.")
    elif hidden is not None:
        raise GenrescopeError("--hidden only applies to --method head.")
    for name, value in (("--epochs", epochs), ("--batch-size", batch_size)):
        if value is not None and value < 1:
            raise GenrescopeError(f"{name} must be at least 1, got {value}.")
    out = Path(out).expanduser()
    items = list_labelled(data)
    train_items, val_items = split_files(items, val_split, seed)
    progress = want_progress(progress)
    duration_s = duration_s or None
    kwargs = dict(data=data, out=out, train_items=train_items, val_items=val_items, seed=seed,
                  device=torch_device(device), duration_s=duration_s, epochs=epochs,
                  batch_size=batch_size, cache_root=cache_dir(cache), progress=progress,
                  on_epoch=on_epoch)
    if method == "head":
        return train_head(hidden=hidden, val_split=val_split, **kwargs)
    return train_cnn(arch=arch, init=init, representation=representation,
                      image_spec=image_spec or {}, models_dir=models_dir,
                      val_split=val_split, **kwargs)

