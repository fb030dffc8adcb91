"""Command-line pieces shared by every sub-command: the model options, the
analysed window, loading the classifier they name, the exit status of user
errors. :mod:`genrescope.cli` builds the parser; the training and server
commands live with their code (``training/cli.py``, ``server/cli.py``).
"""

from __future__ import annotations

import argparse

#: Exit status of a user error (the message is printed, no traceback).
EXIT_USER_ERROR = 2


def model_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", metavar="NAME|DIR", help="model name or folder (default: "
                   "the shipped default model; see `genrescope models`)")
    p.add_argument("--models-dir", metavar="DIR", help="official checkpoints / your bundles "
                   "(default $GENRESCOPE_MODELS or ./models)")
    p.add_argument("--device", choices=("cpu", "cuda"), help="default: cuda when available")
    p.add_argument("--precision", choices=("auto", "fp32", "int8"), default="auto",
                   help="network precision (default auto: int8 for a VGG checkpoint on the CPU "
                        "once it passed the int8 check against fp32, else fp32)")


def window_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--offset", type=float, default=0.0, metavar="S",
                   help="start of the analysed window in seconds (default 0)")
    p.add_argument("--duration", type=float, default=30.0, metavar="S",
                   help="seconds to analyse (default 30; 0 = whole file)")


def load_classifier(args):
    """The :class:`~genrescope.predict.Classifier` that ``model_args`` named."""
    from .predict import Classifier

    return Classifier.load(args.model, models_dir=args.models_dir, device=args.device,
                           precision=args.precision)


def display_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (CJK characters take two)."""
    import unicodedata

    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
