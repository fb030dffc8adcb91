"""Occlusion explanations: a hand-made model whose answer depends on one
time-frequency region must be explained by that region."""

from __future__ import annotations

import json

import librosa
import numpy as np
import pytest
import torch

from genrescope import Classifier
from genrescope.errors import GenrescopeError
from genrescope.explain import explain, explain_features, find_genre, grid_shape
from genrescope.features import Features
from genrescope.models.base import Model
from genrescope.synth import chord

SR, HOP, N_MELS = 16000, 256, 48
REGION_S = (2.0, 3.0)          # the model listens only here ...
REGION_HZ = (1000.0, 2000.0)   # ... and only in this band


class RegionEnergyModel(Model):
    """Two labels; the first one's logit is the mean log-mel energy inside
    REGION_S x REGION_HZ, minus a reference. ``picture``: inputs laid out as
    the VGG models' (N, 3, rows, columns) with the highest band in row 0."""

    def __init__(self, picture: bool = False):
        super().__init__({"name": "region", "architecture": "stand-in", "labels": ["target", "other"], "output": "softmax"})
        self.picture = picture
        self.row_hz = librosa.mel_frequencies(N_MELS, fmax=SR / 2)
        self.bins = np.flatnonzero((self.row_hz >= REGION_HZ[0]) & (self.row_hz <= REGION_HZ[1]))
        self.frames = (int(REGION_S[0] * SR / HOP), int(REGION_S[1] * SR / HOP))
        self.reference = 0.0

    @property
    def sr(self) -> int:
        return SR

    def features(self, y: np.ndarray) -> Features:
        mel = librosa.feature.melspectrogram(y=y, sr=SR, n_fft=512, hop_length=HOP, n_mels=N_MELS)
        log_mel = np.log10(1.0 + 1000.0 * mel).astype(np.float32)        # bands x frames
        if self.picture:
            image = np.ascontiguousarray(log_mel[::-1])                    # high bands on top
            inputs = torch.from_numpy(np.stack([image] * 3))[None]
        else:
            inputs = torch.from_numpy(np.ascontiguousarray(log_mel.T))[None]
        return Features(inputs, [], log_mel, [(0, log_mel.shape[1])], SR / HOP, "mel", self.row_hz)

    def region(self, inputs: torch.Tensor) -> torch.Tensor:
        t0, t1 = self.frames
        lo, hi = int(self.bins[0]), int(self.bins[-1]) + 1
        if self.picture:
            rows = slice(N_MELS - hi, N_MELS - lo)
            return inputs[:, 0, rows, t0:t1].mean(dim=(1, 2))
        return inputs[:, t0:t1, lo:hi].mean(dim=(1, 2))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        energy = 4.0 * (self.region(inputs) - self.reference)
        return torch.stack([energy, -energy], dim=1)


def _noise(duration_s: float = 6.0) -> np.ndarray:
    return (0.1 * np.random.default_rng(0).standard_normal(int(duration_s * SR))).astype(np.float32)


def _overlaps(span, region) -> bool:
    return span[0] < region[1] and region[0] < span[1]


@pytest.mark.parametrize("picture", [False, True], ids=["patches", "picture"])
def test_heat_map_peaks_where_the_model_listens(picture):
    model = RegionEnergyModel(picture).eval()
    y = _noise()
    features = model.features(y)
    model.reference = float(model.region(features.inputs))          # p(target) = 0.5
    why = explain_features(model, features, 0, offset_s=0.0, duration_s=len(y) / SR,
                           probability=0.5, budget=49)
    assert why.n_passes <= 49
    band, cell = why.peak()
    assert why.heat[band, cell] > 0.1
    assert _overlaps(why.time_s[cell], REGION_S), why.time_s[cell]
    assert _overlaps(why.freq_hz[band], REGION_HZ), why.freq_hz[band]
    # cells the model never looks at change nothing at all
    region_rows = (model.bins[0], model.bins[-1] + 1)
    for b in range(why.heat.shape[0]):
        for c in range(why.heat.shape[1]):
            seen = _overlaps(why.rows[b], region_rows) and _overlaps(why.time_s[c], REGION_S)
            if not seen:
                assert abs(why.heat[b, c]) < 1e-6, (b, c, why.heat[b, c])


def test_grid_follows_the_budget():
    assert grid_shape(10, 60, 187, 96) == (6, 1)
    bands, times = grid_shape(2, 200, 224, 224)
    assert bands * times * 2 <= 200 and times > 1
    with pytest.raises(GenrescopeError, match="at least one forward pass per analysed chunk"):
        grid_shape(10, 9, 187, 96)


def test_find_genre_by_id_english_or_chinese_name():
    model = Classifier.load().model
    assert find_genre(model.genres, "Jazz") == model.labels.index("jazz")
    assert find_genre(model.genres, model.genres[5].zh) == 5
    assert find_genre(model.genres, None, {"rock": 0.9, "jazz": 0.1}) == model.labels.index("rock")
    with pytest.raises(GenrescopeError, match="no genre 'zydeco'"):
        find_genre(model.genres, "zydeco")


def test_default_model_explanation_axes_and_json():
    clf = Classifier.load()
    why = explain(clf, chord(6.5, 16000), sr=16000, budget=8, genre="classical")
    pred = why.prediction
    assert why.genre.id == "classical"
    assert why.probability == pytest.approx(pred.probabilities["classical"])
    assert why.n_passes <= 8
    n_chunks = len(pred.features.chunks)
    assert why.heat.shape[1] % n_chunks == 0 and why.heat.shape[0] >= 2
    assert np.all(np.diff(why.freq_hz[:, 0]) > 0) and np.all(why.freq_hz[:, 1] > why.freq_hz[:, 0])
    assert 0 <= why.time_s.min() and why.time_s.max() <= pred.audio.duration_s + 1e-6
    out = json.loads(json.dumps(why.to_dict("zh")))
    assert out["name"] == why.genre.zh
    assert np.array(out["heat"]).shape == why.heat.shape
    with pytest.raises(GenrescopeError, match="budget"):
        explain(clf, chord(6.5, 16000), sr=16000, budget=1)


@pytest.mark.slow
def test_vgg_explanation_on_note_axes(vgg_classifier):
    why = explain(vgg_classifier, chord(12.0, 22050), sr=22050, budget=6)
    assert why.n_passes <= 6 and why.kind == "cqt"
    notes = why.notes
    assert notes[0][0].startswith("C1") or librosa.note_to_hz(notes[0][0]) < 40
    assert why.freq_hz[-1, 1] > 3000
    chunk = why.prediction.timeline.chunks[0]
    assert why.time_s.min() >= chunk.input_start_s - 1e-6
    assert why.time_s.max() <= chunk.input_end_s + 1e-6


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    from fastapi.testclient import TestClient

    from genrescope.server.app import create_app

    uploads = tmp_path_factory.mktemp("uploads")
    app = create_app(device="cpu", tmp_dir=uploads)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield client, uploads


def test_api_returns_the_map_as_numbers_and_png(api, tmp_path):
    import base64

    import soundfile as sf

    client, uploads = api
    path = tmp_path / "clip.wav"
    sf.write(path, chord(6.5, 16000), 16000)

    def post(**data):
        with open(path, "rb") as f:
            return client.post("/api/v1/explain", files={"file": ("clip.wav", f, "audio/wav")},
                               data={k: str(v) for k, v in data.items()})

    r = post(budget=8, lang="zh", genre="jazz")
    assert r.status_code == 200, r.text
    body = r.json()
    heat = np.array(body["explanation"]["heat"])
    assert heat.shape == (len(body["explanation"]["freq_hz"]), len(body["explanation"]["time_s"]))
    assert body["explanation"]["label"] == "jazz" and body["explanation"]["n_passes"] <= 8
    assert body["prediction"]["file"] == "clip.wav"
    assert body["prediction"]["timeline"]["segments"]
    assert base64.b64decode(body["png_base64"])[:8] == b"\x89PNG\r\n\x1a\n"
    r = post(budget=8, format="png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.content[:4] == b"\x89PNG"
    for bad, words in (({"budget": 0}, "budget"), ({"budget": 1}, "one forward pass"),
                       ({"genre": "zydeco"}, "no genre")):
        r = post(**bad)
        assert r.status_code == 422 and words in r.json()["error"], r.text
    assert list(uploads.iterdir()) == []


def test_cli_explain_writes_figure_and_numbers(tmp_path, capsys):
    import soundfile as sf

    from genrescope.cli import main

    wav = tmp_path / "clip.wav"
    sf.write(wav, chord(6.5, 16000), 16000)
    png, numbers = tmp_path / "why.png", tmp_path / "why.json"
    assert main(["explain", str(wav), "-o", str(png), "--budget", "8", "--json", str(numbers),
                 "--lang", "zh"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    out = json.loads(numbers.read_text(encoding="utf-8"))
    assert out["n_passes"] <= 8 and np.array(out["heat"]).ndim == 2
    assert "forward passes" in capsys.readouterr().out
    assert main(["explain", str(wav), "-o", str(png), "--genre", "zydeco"]) == 2
    assert "no genre 'zydeco'" in capsys.readouterr().err


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_figures_say_what_colours_mean(lang):
    from genrescope.plot import explanation_figure, figure_png, timeline_figure

    why = Classifier.load().explain(chord(6.5, 16000), sr=16000, budget=8)
    name = why.genre.name(lang)
    fig = explanation_figure(why, lang=lang)
    texts = [t.get_text() for ax in fig.axes for t in (ax.title, ax._left_title, ax.yaxis.label)]
    assert any(name in t for t in texts), texts          # colour bar label and title name it
    assert any(("Red" in t) if lang == "en" else ("红色" in t) for t in texts), texts
    assert figure_png(fig)[:4] == b"\x89PNG"
    tl = timeline_figure(why.prediction.timeline, lang=lang, top_k=3)
    legend = [t.get_text() for t in tl.axes[0].get_legend().get_texts()]
    assert legend == [g.name(lang) for g in why.prediction.top[:3]]
    assert figure_png(tl)[:4] == b"\x89PNG"


class ManyChunksModel(Model):
    """80 tiny chunks (0.1 s of 4 frames x 8 bands); score = mean of the input."""

    def __init__(self):
        super().__init__({"name": "many", "architecture": "stand-in", "labels": ["loud", "quiet"], "output": "softmax"})

    @property
    def sr(self) -> int:
        return 400

    def features(self, y: np.ndarray) -> Features:
        frames = np.abs(y[: len(y) // 10 * 10]).reshape(-1, 10).mean(axis=1)   # 40 frames/s
        n = len(frames) // 4
        grid = np.repeat(frames[: n * 4, None], 8, axis=1).astype(np.float32)
        return Features(torch.from_numpy(grid.reshape(n, 4, 8)), [], grid.T,
                        [(4 * i, 4 * i + 4) for i in range(n)], 40.0, "mel",
                        np.linspace(100, 1000, 8))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        m = inputs.mean(dim=(1, 2))
        return torch.stack([m, -m], dim=1)


def test_default_budget_grows_to_one_pass_per_chunk():
    clf = Classifier(ManyChunksModel())
    y = np.random.default_rng(1).standard_normal(8 * 400).astype(np.float32)
    why = clf.explain(y, sr=400, duration_s=None)
    assert len(why.prediction.timeline.chunks) == 80
    assert why.budget == why.n_passes == 80 and why.heat.shape == (1, 80)
    assert np.all(why.heat > 0)                     # silencing any chunk lowers "loud"
    with pytest.raises(GenrescopeError, match="80 chunks"):
        clf.explain(y, sr=400, duration_s=None, budget=60)
