import numpy as np
import pytest

from reference import official_images, official_tensor

from genrescope.features import ImageSpec, chunk_frames, image_features
from genrescope.synth import chord, groove, sweep


def _music(duration_s: float, sr: int = 22050) -> np.ndarray:
    n = int(duration_s * sr)
    return (0.6 * chord(duration_s, sr) + 0.4 * groove(duration_s, sr))[:n]


@pytest.mark.slow
@pytest.mark.parametrize("representation", ["cqt", "mel"])
def test_tensor_matches_the_official_rendering(representation):
    y = _music(30.0)
    official = official_images(y, 22050, representation)
    features = image_features(y, ImageSpec(type=representation))
    assert [im.size for im in official] == [(496, 369)] * 2
    assert [im.shape for im in features.images] == [(369, 496, 3)] * 2
    reference = np.concatenate([official_tensor(im).numpy() for im in official])
    ours = features.inputs.numpy()
    assert ours.shape == reference.shape == (2, 3, 224, 224)
    mad = float(np.abs(ours - reference).mean())
    assert mad < 0.02, mad
    # the comparison can fail: without the JPEG round trip the difference is larger
    plain = image_features(y, ImageSpec(type=representation, jpeg_quality=None)).inputs.numpy()
    assert np.abs(plain - reference).mean() > mad


def test_sweep_rises_in_the_picture():
    features = image_features(sweep(12.0, 22050, f0_hz=60, f1_hz=4000), ImageSpec())
    image = features.images[0].astype(float).sum(axis=2)          # brightness, rows top-down
    brightest_row = image.argmax(axis=0)
    start, end = brightest_row[20], brightest_row[-20]
    assert start > end + 100        # low notes at the bottom: the sweep climbs the image


@pytest.mark.parametrize("duration_s, frames, expected", [
    (30.0, 1292, [(156, 646), (646, 1136)]),
    (11.4, 491, [(0, 491)]),
    (60.0, 2584, [(67, 557), (557, 1047), (1047, 1537), (1537, 2027), (2027, 2517)]),
])
def test_chunks_follow_the_official_formula(duration_s, frames, expected):
    assert chunk_frames(frames, duration_s, 11.4) == expected


@pytest.mark.parametrize("duration_s", [1.0, 5.0, 11.0])
def test_short_audio_gives_one_chunk(duration_s):
    features = image_features(_music(duration_s), ImageSpec())
    assert features.inputs.shape == (1, 3, 224, 224)
    assert len(features.images) == 1
    assert np.isfinite(features.inputs.numpy()).all()


def test_normalisation_range_and_axes():
    features = image_features(_music(30.0), ImageSpec())
    x = features.inputs
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0
    assert features.spec_db.shape[0] == 84
    assert features.kind == "cqt" and len(features.row_hz) == 84
    assert abs(features.row_hz[0] - 32.70) < 0.01           # C1
    assert abs(features.frame_rate_hz - 22050 / 512) < 1e-9


# --------------------------------------------------------------------------- #
# musicnn's log-mel front end: the same numbers as librosa, bit for bit
# --------------------------------------------------------------------------- #
def _librosa_log_mel(y, sr=16000, n_fft=512, hop_length=256, n_mels=96):
    """The musicnn front end as it was written with librosa (before numpy)."""
    import librosa

    y = np.asarray(y, dtype=np.float32)
    if y.size < n_fft:
        y = np.resize(y, n_fft)
    mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length,
                                         n_mels=n_mels, pad_mode="reflect")
    return np.log10(10000.0 * mel + 1.0).T.astype(np.float32)


@pytest.mark.parametrize("n_samples", [100, 511, 512, 767, 768, 1000, 5000, 16000 * 30,
                                       16000 * 30 + 123])
def test_musicnn_log_mel_is_librosa_bit_for_bit(n_samples):
    from genrescope.mel_patches import musicnn_log_mel

    rng = np.random.default_rng(n_samples)
    y = (0.3 * rng.standard_normal(n_samples)).astype(np.float32)
    if n_samples >= 16000:
        y = 0.5 * y + _music(n_samples / 16000 + 1, 16000)[:n_samples]
    ours, theirs = musicnn_log_mel(y), _librosa_log_mel(y)
    assert ours.shape == theirs.shape and ours.dtype == theirs.dtype == np.float32
    np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("sr, n_fft, n_mels", [(16000, 512, 96), (22050, 2048, 128),
                                               (16000, 1024, 48)])
def test_mel_filterbank_and_window_are_librosa_bit_for_bit(sr, n_fft, n_mels):
    import librosa
    import scipy.signal

    from genrescope.mel_patches import hann_window, mel_filterbank, mel_frequencies

    np.testing.assert_array_equal(mel_filterbank(sr, n_fft, n_mels),
                                  librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels))
    np.testing.assert_array_equal(hann_window(n_fft),
                                  scipy.signal.get_window("hann", n_fft, fftbins=True))
    np.testing.assert_array_equal(mel_frequencies(n_mels + 2, 0.0, sr / 2),
                                  librosa.mel_frequencies(n_mels + 2, fmax=sr / 2))


def test_musicnn_front_end_refuses_non_finite_audio():
    from genrescope.mel_patches import musicnn_log_mel

    y = np.zeros(4000, dtype=np.float32)
    y[10] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        musicnn_log_mel(y)
