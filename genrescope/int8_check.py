"""``genrescope models --check-int8 NAME``: the int8 check, where the user sees it.

Loading a VGG checkpoint never runs the check (it takes about a minute);
until it has run once for a checkpoint file, ``precision="auto"`` is float32.
This command runs it with progress lines and caches the verdict, so later
loads of the same file pick int8 when it agreed with float32.
"""

from __future__ import annotations

import sys
import time

from .errors import GenrescopeError


def check_int8(name: str, models_dir=None, *, out=sys.stderr) -> str:
    """Run (or read) the int8 check of the model ``name``; returns the verdict in words.

    Raises
    ------
    GenrescopeError
        The model has no int8 variant (not a VGG checkpoint, or no x86 int8
        engine in this torch build).
    """
    from .predict import Classifier

    print(f"loading {name} (float32) ...", file=out, flush=True)
    clf = Classifier.load(name, models_dir=models_dir, device="cpu", precision="fp32")
    check = getattr(clf.model, "check_int8", None)
    if check is None:
        raise GenrescopeError(f"{clf.name} has no int8 variant: only VGG checkpoints have one.")
    print(f"checking int8 against float32 for {clf.name} on synthesised clips "
          "(once per checkpoint file; about a minute) ...", file=out, flush=True)
    t = time.perf_counter()
    result = check()
    verdict = "int8 by default from now on" if result.passed else "float32 stays the default"
    return (f"{clf.name}: int8 agreed with float32 on {result.agreed} of {result.n} clips "
            f"(max probability difference {result.max_probability_diff:.3f}; "
            f"{time.perf_counter() - t:.1f} s): {verdict}")
