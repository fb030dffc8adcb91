"""Time musicnn's own TensorFlow extractor on audio files, as a musicnn user runs it.

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python benchmarks/musicnn_tf_extract.py \
        [--warm-up] [--kept-graph] [--model MSD_musicnn] FILE [FILE ...]

Run by ``benchmarks/bench_library.py --musicnn-tf PYTHON`` as a subprocess in
a separate interpreter holding TensorFlow (tensorflow-cpu + tf_keras) and
``musicnn==0.1.0`` (installed ``--no-deps``); genrescope is not imported.

For each file: one ``musicnn.extractor.extractor(path, model="MSD_musicnn",
input_length=3, input_overlap=False, extract_features=True)`` call, timed
(wall seconds) as it is: each call builds the graph and restores the
checkpoint again, then decodes the whole file (librosa, 16 kHz), computes the
log-mel and runs every 3 s patch. The first call in a process also pays
one-time costs (librosa's numba compilation, TensorFlow's first session):
with ``--warm-up`` one call on the first file is made and timed apart
(``warm_up_s``) before the timed ones, as genrescope's start-up is kept apart
from its analysis time. With ``--kept-graph`` the same files are timed again
with the graph and session built once and kept (the same ``batch_data`` and
the same outputs, only the set-up is shared).

Under NumPy 2 the extractor's ``astype(np.float16)`` followed by
``10000 * x`` stays float16 and overflows to inf (see
``tools/convert_musicnn.py``); the extractor module's ``np`` is therefore a
proxy whose ``float16`` is float32, so its outputs are valid.

Prints one JSON object on stdout (musicnn's own prints go to stderr)::

    {"import_s": ..., "warm_up_s": ..., "model": ..., "per_call": [{"path": ..., "wall_s": ...,
     "duration_s": ..., "n_patches": ..., "finite": true}, ...],
     "kept_graph": {"setup_s": ..., "files": [...]}}   # with --kept-graph
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
import types

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")   # musicnn uses tf.compat.v1.layers


def _patch_float16(extractor, np) -> None:
    """Make the extractor's float16 cast a float32 one (NumPy 2 overflow)."""
    proxy = types.SimpleNamespace(**{k: getattr(np, k) for k in dir(np)
                                     if not k.startswith("__")})
    proxy.float16 = np.float32
    extractor.np = proxy


def _check(taggram, features, np) -> bool:
    return bool(np.isfinite(taggram).all() and np.isfinite(features["penultimate"]).all())


def per_call(paths: list[str], model: str, extractor, np) -> list[dict]:
    """One ``extractor.extractor`` call per file, as a musicnn user would."""
    out = []
    for path in paths:
        t = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            taggram, _, features = extractor.extractor(
                path, model=model, input_length=3, input_overlap=False, extract_features=True)
        wall_s = time.perf_counter() - t
        out.append({"path": path, "wall_s": wall_s, "n_patches": int(taggram.shape[0]),
                    "duration_s": _duration_s(path), "finite": _check(taggram, features, np)})
    return out


class KeptGraph:
    """``extractor.extractor``'s graph and session, built once for every file."""

    def __init__(self, model: str, extractor):
        import librosa
        import tensorflow as tf
        from musicnn import configuration as config
        from musicnn import models

        self.extractor, self.config = extractor, config
        self.n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE,
                                               hop_length=config.FFT_HOP) + 1
        labels = config.MSD_LABELS if "MSD" in model else config.MTT_LABELS
        tf.compat.v1.reset_default_graph()
        with tf.name_scope("model"):
            self.x = tf.compat.v1.placeholder(tf.float32, [None, self.n_frames, config.N_MELS])
            self.is_training = tf.compat.v1.placeholder(tf.bool)
            y, *_, penultimate = models.define_model(self.x, self.is_training, model,
                                                     len(labels))
            self.outputs = [tf.nn.sigmoid(y), penultimate]
        self.sess = tf.compat.v1.Session()
        self.sess.run(tf.compat.v1.global_variables_initializer())
        tf.compat.v1.train.Saver().restore(
            self.sess, os.path.join(os.path.dirname(extractor.__file__), model) + "/")

    def __call__(self, path: str):
        import numpy as np

        batch, _ = self.extractor.batch_data(path, self.n_frames, self.n_frames)
        tags, pen = [], []
        for i in range(0, batch.shape[0], self.config.BATCH_SIZE):
            t, p = self.sess.run(self.outputs, feed_dict={
                self.x: batch[i:i + self.config.BATCH_SIZE], self.is_training: False})
            tags.append(t)
            pen.append(p)
        return np.concatenate(tags), {"penultimate": np.concatenate(pen)}


def kept_graph(paths: list[str], model: str, extractor, np) -> dict:
    t = time.perf_counter()
    graph = KeptGraph(model, extractor)
    setup_s = time.perf_counter() - t
    files = []
    for path in paths:
        t = time.perf_counter()
        taggram, features = graph(path)
        files.append({"path": path, "wall_s": time.perf_counter() - t,
                      "n_patches": int(taggram.shape[0]), "duration_s": _duration_s(path),
                      "finite": _check(taggram, features, np)})
    graph.sess.close()
    return {"setup_s": setup_s, "files": files}


def _duration_s(path: str) -> float | None:
    try:
        import soundfile as sf

        return float(sf.info(path).duration)
    except Exception:                      # only informative
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--model", default="MSD_musicnn")
    ap.add_argument("--warm-up", action="store_true",
                    help="first one call on the first file, timed apart (one-time costs)")
    ap.add_argument("--kept-graph", action="store_true",
                    help="also time the files with one graph kept across them")
    args = ap.parse_args()
    t = time.perf_counter()
    import numpy as np
    from musicnn import extractor

    import_s = time.perf_counter() - t
    _patch_float16(extractor, np)
    report = {"import_s": import_s, "model": args.model, "warm_up_s": None}
    if args.warm_up:
        report["warm_up_s"] = per_call(args.files[:1], args.model, extractor, np)[0]["wall_s"]
    report["per_call"] = per_call(args.files, args.model, extractor, np)
    if args.kept_graph:
        report["kept_graph"] = kept_graph(args.files, args.model, extractor, np)
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
