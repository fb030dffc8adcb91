"""A head that reads its companion's clip-level context block
(``head.context``, :mod:`genrescope.context`): it loads strictly, the block
is made once per window from the companion's one pass, ``classify``,
``classify_windows`` and explanations read the same block, training makes
it the same way, and old bundles without the field behave as before. The
bundles here hold random weights in the shipped key layout; every input is
synthesised here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import write_audio
from safetensors.torch import save_file

from genrescope import Classifier
from genrescope.errors import GenrescopeError
from genrescope.models.head import EmbeddingHead
from genrescope.models.registry import ASSETS_DIR
from genrescope.synth import chord, groove
from genrescope.training.context import AUDIOSET_CONTEXT

SHIPPED = ASSETS_DIR / "genres"
SR = 16000
BASE_DIM = 456
LABELS = ["a", "b", "c"]


def _bundle(tmp_path: Path, name: str, context: dict | None, **extra) -> Path:
    """A head on msd_musicnn + msd_vgg hearing through ``audioset``; random
    weights with the shipped key layout (``context``: its ``head.context``)."""
    ctx_dim = 0 if context is None else context["embedding_dim"] + len(context["classes"])
    config = {"name": name, "architecture": "embedding_head", "base": ["msd_musicnn", "msd_vgg"],
              "labels": LABELS, "output": "softmax",
              "head": {"input_dim": BASE_DIM + ctx_dim, "hidden": [8], "dropout": 0.0,
                       **({"context": context} if context is not None else {})},
              "not_music": {"hidden": [], "threshold": 0.5},
              "hearing": {"model": "audioset", "max_seconds": 10.0}, **extra}
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    torch.manual_seed(0)
    head, nm = EmbeddingHead(BASE_DIM + ctx_dim, 3, [8]), EmbeddingHead(BASE_DIM, 2)
    for module in (head, nm):           # a spread of answers, not a flat softmax
        for p in module.parameters():
            p.data.normal_(0, 0.5)
    state = {**head.state_dict(), **{f"not_music.{k}": v for k, v in nm.state_dict().items()}}
    save_file({k: v.contiguous() for k, v in state.items()}, folder / "model.safetensors")
    return folder


@pytest.fixture(scope="module")
def with_block(tmp_path_factory):
    return Classifier.load(_bundle(tmp_path_factory.mktemp("ctx"), "with_block",
                                   AUDIOSET_CONTEXT), device="cpu")


def test_a_head_with_the_block_loads_strictly_and_reads_it(with_block):
    model = with_block.model
    assert model.context.dim == 384 + len(AUDIOSET_CONTEXT["classes"])
    assert model.head.mean.shape == (BASE_DIM + model.context.dim,)
    assert model.not_music.mean.shape == (BASE_DIM,)       # the not-music head: base only
    pred = with_block.classify(groove(6.0, SR, seed=2), sr=SR)
    assert pred.context.shape == (model.context.dim,) and np.isfinite(pred.context).all()
    inputs = pred.features.inputs
    with torch.inference_mode():
        other = model.scores(inputs, context=torch.from_numpy(pred.context) + 1.0)
        with pytest.raises(GenrescopeError, match="context block"):
            model.scores(inputs)                              # the block is required
    # the block is an input: another block, another answer
    assert not np.allclose(other[:, :3].numpy(), pred.chunk_probabilities, atol=1e-4)


def test_the_block_is_the_companions_one_pass_on_the_middle_of_the_window(with_block):
    """Block = mean embedding, then mean probability of the named classes, of
    the companion's chunks of the middle hearing.max_seconds; the same
    companion scores make the notes and 'heard'."""
    from genrescope.context import companion_inputs

    companion = with_block.model.hearing
    y = chord(14.0, SR, root_hz=220, seed=4)
    pred = with_block.classify(y, sr=SR)
    decoded = with_block.load_audio(y, sr=SR, rate=with_block.decode_sr, duration_s=30.0)
    inputs = companion_inputs(companion, decoded, 10.0)
    assert len(inputs) == 1                                # 10 s of the 14: one mn04 input
    with torch.inference_mode():
        scores, emb = companion.scores_and_embed(inputs)
    cols = [companion.labels.index(c) for c in AUDIOSET_CONTEXT["classes"]]
    np.testing.assert_allclose(pred.context[:384], emb.mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(pred.context[384:], scores.mean(0).numpy()[cols], atol=1e-5)
    assert pred.side_scores["audioset:Music"] == pytest.approx(
        float(scores[:, companion.labels.index("Music")].mean()), abs=1e-5)


def test_classify_and_classify_windows_give_the_same_answer(with_block, tmp_path):
    path = tmp_path / "clip.wav"
    write_audio(path, np.concatenate([groove(3.0, SR, seed=1), chord(3.0, SR, seed=2)]), SR)
    windows = [(0.0, 3.0), (3.0, 3.0)]
    batched = with_block.classify_windows(path, windows)
    for (offset_s, duration_s), got in zip(windows, batched):
        one = with_block.classify(path, offset_s=offset_s, duration_s=duration_s, embed=True)
        np.testing.assert_allclose(got.context, one.context, atol=1e-5)
        assert got.probabilities == pytest.approx(one.probabilities, abs=1e-5)
        np.testing.assert_allclose(got.embedding, one.embedding, atol=1e-5)
    assert not np.allclose(batched[0].context, batched[1].context)   # each window its own


def test_embed_is_the_embedding_classify_gives(with_block, tmp_path):
    path = tmp_path / "clip.wav"
    write_audio(path, groove(6.0, SR, seed=5), SR)
    np.testing.assert_allclose(with_block.embed(path),
                               with_block.classify(path, embed=True).embedding, atol=1e-6)


def test_explain_holds_the_block_fixed(with_block):
    from genrescope.explain import explain_prediction

    pred = with_block.classify(groove(6.0, SR, seed=3), sr=SR)
    why = explain_prediction(with_block, pred, budget=8)
    assert why.heat.shape[1] >= len(pred.chunk_probabilities) and np.isfinite(why.heat).all()


def test_training_makes_the_block_the_classifier_makes(with_block, tmp_path):
    from genrescope.cache import cache_dir
    from genrescope.dataset import LabelledFile
    from genrescope.models.config import ContextSpec
    from genrescope.training.context import context_blocks

    path = tmp_path / "a.00001.wav"
    write_audio(path, chord(12.0, SR, root_hz=247, seed=6), SR)
    item = LabelledFile("a", path)
    spec = ContextSpec.model_validate(AUDIOSET_CONTEXT)
    blocks = context_blocks([item], spec, with_block.model.hearing, max_seconds=10.0,
                            duration_s=30.0, cache=cache_dir(tmp_path / "cache"))
    np.testing.assert_allclose(blocks[item], with_block.classify(path).context, atol=1e-5)


def test_an_old_bundle_without_the_field_loads_and_behaves_as_before(tmp_path):
    clf = Classifier.load(_bundle(tmp_path, "old_layout", None), device="cpu")
    assert clf.model.context is None
    pred = clf.classify(groove(6.0, SR, seed=2), sr=SR)
    assert pred.context is None and pred.sound is not None
    with torch.inference_mode():
        emb = clf.model.base.embed(pred.features.inputs)
        expected = torch.softmax(clf.model.head(emb), 1).numpy()
        with pytest.raises(GenrescopeError, match="no context"):
            clf.model.scores(pred.features.inputs, context=torch.zeros(3))
    np.testing.assert_allclose(pred.chunk_probabilities, expected, atol=1e-5)


@pytest.mark.parametrize("change, message", [
    ({"hearing": None}, "has no 'hearing'"),
    ({"context": {**AUDIOSET_CONTEXT, "classes": ["Not_a_class"]}}, "Not_a_class"),
    ({"context": {**AUDIOSET_CONTEXT, "pooling": "max"}}, "unknown key"),
])
def test_a_wrong_context_is_refused_naming_it(tmp_path, change, message):
    context = change.get("context", AUDIOSET_CONTEXT)
    folder = _bundle(tmp_path, "wrong", context if "pooling" not in context else AUDIOSET_CONTEXT)
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    config["head"]["context"] = context
    if "hearing" in change:
        del config["hearing"]
    (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(GenrescopeError, match=message):
        Classifier.load(folder, device="cpu")


