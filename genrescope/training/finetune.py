"""Fine-tuning a VGG: read the checkpoint to start from (``--init``) and build
the network for the data's labels from it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch

from ..errors import GenrescopeError


def head_widths(state: dict[str, torch.Tensor]) -> list[int]:
    """Output widths of ``classifier.1``, ``.4`` and ``.7`` of a VGG state_dict."""
    return [int(state[f"classifier.{i}.weight"].shape[0]) for i in (1, 4, 7)]


@dataclass
class InitCheckpoint:
    """A checkpoint to fine-tune from."""

    source: str
    state: dict
    arch: str
    labels: list | None
    representation: dict | None


def read_init(init: str | os.PathLike, arch: str | None = None,
              models_dir: str | os.PathLike | None = None) -> InitCheckpoint:
    """Read ``init``: an official ``save.pt`` (or its folder or name), a
    genrescope VGG bundle, or any VGG state_dict file (then ``arch`` is
    needed and 16 outputs are taken as the ccmusic genres)."""
    from ..labels import CCMUSIC_GENRES
    from ..models.checkpoint import read_state_dict
    from ..models.registry import resolve
    from ..models.vgg import PLANS

    path = Path(init).expanduser()
    try:
        entry = resolve(init, models_dir)
    except GenrescopeError:
        if not path.is_file():
            raise
        entry = None
    if entry is None:
        if not arch:
            raise GenrescopeError(f"{path} is a bare weights file: say which VGG it is "
                                  f"with --arch ({', '.join(PLANS)}).")
        state = read_state_dict(path)
        n = state.get("classifier.9.weight", torch.zeros(0, 0)).shape[0]
        labels = [g.id for g in CCMUSIC_GENRES] if n == len(CCMUSIC_GENRES) else None
        return InitCheckpoint(str(path), state, arch, labels, None)
    if not entry.available:
        raise GenrescopeError(entry.reason, status=404)
    found = entry.config.architecture
    if found not in PLANS:
        raise GenrescopeError(f"--init {init}: {entry.name} is a {found} model; only VGG "
                              f"checkpoints ({', '.join(PLANS)}) can be fine-tuned here.")
    return InitCheckpoint(str(entry.weights), read_state_dict(entry.weights), found,
                          list(entry.config.labels), entry.config.representation)


def init_network(arch: str, labels: list[str], init: InitCheckpoint, seed: int = 0):
    """A VGG for ``labels`` with the weights of ``init``.

    Same labels: every tensor is loaded. The same labels in another order:
    the rows of the last layer are reordered. Other labels: everything but
    the last linear layer (``classifier.9``) is loaded and that layer is
    newly initialised for ``len(labels)`` outputs (the hidden widths of the
    checkpoint's head are kept).

    Returns
    -------
    net : VGG
    widths : list of int or None
        The head's hidden widths when they differ from the default for
        ``len(labels)`` (to be stored in the bundle's config).
    how : str
        What was done, for the log.
    """
    from ..models.checkpoint import load_strict
    from ..models.vgg import VGG

    if arch != init.arch:
        raise GenrescopeError(f"--arch {arch} does not match --init {init.source}, "
                              f"a {init.arch}.")
    try:
        widths = head_widths(init.state)
    except KeyError as exc:
        raise GenrescopeError(f"{init.source} is not a VGG checkpoint with the ccmusic head "
                              f"(no {exc.args[0]}).") from None
    torch.manual_seed(seed)
    net = VGG(arch, len(labels), head_widths=widths)
    state = dict(init.state)
    what = f"{arch} with a {'-'.join(map(str, widths))} head"
    if init.labels == labels:
        how = f"all weights from {init.source}"
    elif init.labels and sorted(init.labels) == sorted(labels):
        rows = torch.tensor([init.labels.index(lab) for lab in labels])
        for key in ("classifier.9.weight", "classifier.9.bias"):
            state[key] = state[key][rows]
        how = f"all weights from {init.source}, outputs reordered to the data's labels"
    else:
        own = net.state_dict()
        for key in ("classifier.9.weight", "classifier.9.bias"):
            if key not in state:
                raise GenrescopeError(f"{init.source} is not a VGG checkpoint with the "
                                      f"ccmusic head (no {key}).")
            state[key] = own[key]
        old = init.labels and len(init.labels) or int(init.state["classifier.9.weight"].shape[0])
        how = (f"weights from {init.source} except its last layer (classifier.9: {old} -> "
               f"{len(labels)} outputs, newly initialised)")
    load_strict(net, state, init.source, what=what)
    return net, (widths if widths != default_widths(len(labels)) else None), how


def default_widths(n_labels: int) -> list[int]:
    """Hidden widths of :func:`~genrescope.models.vgg.ccmusic_head` for ``n_labels``."""
    from ..models.vgg import FEATURES_OUT, ccmusic_head

    with torch.device("meta"):                   # sizes only, no memory
        head = ccmusic_head(FEATURES_OUT, n_labels)
    return [head[i].out_features for i in (1, 4, 7)]

