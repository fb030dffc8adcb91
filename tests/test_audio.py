import numpy as np
import pytest
import soundfile as sf
from conftest import FORMATS, dominant_hz, tone, write_audio

from genrescope import GenrescopeError, load_audio
from genrescope.audio import audio_from_array, quality_warnings


@pytest.mark.parametrize("ext", FORMATS + ("mp4",))
def test_every_format_decodes_to_mono_float32_at_target_rate(tmp_path, ext):
    path = write_audio(tmp_path / f"tone.{ext}", tone(440, 3.0, 44100, channels=2), 44100)
    audio = load_audio(path, sr=22050)
    assert audio.y.dtype == np.float32 and audio.y.ndim == 1
    assert audio.sr == 22050
    assert audio.source_channels == 2
    assert abs(audio.duration_s - 3.0) < 0.06          # AAC adds encoder priming
    assert abs(dominant_hz(audio.y, 22050) - 440) < 3
    assert 0.2 < np.abs(audio.y).max() < 0.8


def _steps(sr: int, seconds: int = 8) -> np.ndarray:
    """One second per tone: 200 Hz, 300 Hz, ... so a window's pitch tells where it is."""
    return np.concatenate([tone(200 + 100 * k, 1.0, sr) for k in range(seconds)])


@pytest.mark.parametrize("ext", ["wav", "flac", "mp3", "m4a", "webm"])
def test_offset_and_duration_select_the_window(tmp_path, ext):
    path = write_audio(tmp_path / f"steps.{ext}", _steps(44100), 44100)
    audio = load_audio(path, sr=22050, offset_s=3.0, duration_s=2.0)
    assert abs(audio.duration_s - 2.0) < 0.01
    assert audio.offset_s == 3.0
    first, second = audio.y[1000:10000], audio.y[-10000:-1000]
    assert abs(dominant_hz(first, 22050) - 500) < 20    # the 4th second: 500 Hz
    assert abs(dominant_hz(second, 22050) - 600) < 20


def test_duration_zero_or_none_reads_whole_file(tmp_path):
    path = write_audio(tmp_path / "long.flac", _steps(16000, 40), 16000)
    assert abs(load_audio(path, 16000, duration_s=0).duration_s - 40) < 0.01
    assert abs(load_audio(path, 16000, duration_s=None).duration_s - 40) < 0.01
    assert abs(load_audio(path, 16000).duration_s - 30) < 0.01   # default 30 s


def test_long_file_is_not_decoded_past_the_window(tmp_path, monkeypatch):
    path = write_audio(tmp_path / "long.wav", _steps(8000, 600), 8000)   # 10 minutes
    read = {}
    original = sf.SoundFile.read

    def spy(self, frames=-1, *a, **kw):
        read["frames"] = frames
        return original(self, frames, *a, **kw)

    monkeypatch.setattr(sf.SoundFile, "read", spy)
    audio = load_audio(path, 8000, offset_s=300, duration_s=10)
    assert read["frames"] == 80000
    assert len(audio.y) == 80000


def test_offset_past_end_and_missing_and_empty_files_are_user_errors(tmp_path):
    path = write_audio(tmp_path / "short.wav", tone(440, 2.0), 44100)
    with pytest.raises(GenrescopeError, match="past the end"):
        load_audio(path, 22050, offset_s=5)
    with pytest.raises(GenrescopeError, match="No such audio file"):
        load_audio(tmp_path / "nope.wav", 22050)
    (tmp_path / "empty.mp3").write_bytes(b"")
    with pytest.raises(GenrescopeError, match="empty"):
        load_audio(tmp_path / "empty.mp3", 22050)
    (tmp_path / "text.wav").write_text("not audio at all " * 50)
    with pytest.raises(GenrescopeError, match="Could not read"):
        load_audio(tmp_path / "text.wav", 22050)


def test_arrays_of_any_layout_and_dtype():
    y = tone(440, 1.0, 8000)
    stereo_last = np.stack([y, y], axis=1)                    # (samples, channels)
    ints = (stereo_last * 32767).astype(np.int16)
    for x in (y, stereo_last, stereo_last.T, ints):
        audio = audio_from_array(x, 8000, 16000)
        assert audio.y.shape == (16000,) and audio.y.dtype == np.float32
        assert abs(np.abs(audio.y).max() - 0.5) < 0.02
    window = audio_from_array(np.arange(8000, dtype=np.float32) / 8000, 8000, 8000,
                              offset_s=0.5, duration_s=0.25)
    assert len(window.y) == 2000 and abs(window.y[0] - 0.5) < 1e-6


def test_quality_warnings():
    codes = lambda a: {w.code for w in quality_warnings(a)}
    assert codes(audio_from_array(tone(440, 5.0, 44100), 44100, 22050)) == set()
    assert "silence" in codes(audio_from_array(np.zeros(44100 * 5, np.float32), 44100, 22050))
    clipped = np.clip(tone(440, 5.0, 44100, amp=3.0), -1, 1)
    assert "clipping" in codes(audio_from_array(clipped, 44100, 22050))
    assert "low_sample_rate" in codes(audio_from_array(tone(440, 5.0, 8000), 8000, 22050))
    assert "short" in codes(audio_from_array(tone(440, 1.0, 44100), 44100, 22050))
    nan = tone(440, 5.0, 44100)
    nan[100:200] = np.nan
    audio = audio_from_array(nan, 44100, 22050)
    assert "non_finite" in codes(audio) and np.isfinite(audio.y).all()


@pytest.mark.parametrize("ext", ["wav", "mp3", "m4a"])
def test_one_decoder_for_several_windows_gives_each_window(tmp_path, ext):
    """The indexer opens a file once for its windows (decode.Decoder): the same
    samples as opening it for each window, in any order (m4a: through PyAV;
    MP3: mpg123 re-primes its decoder after a seek, 1e-7 apart)."""
    from genrescope.decode import Decoder

    path = write_audio(tmp_path / f"steps.{ext}", _steps(44100), 44100)
    windows = [(5.0, 1.5), (1.0, 2.0), (6.0, None)]
    with Decoder(str(path)) as decoder:
        shared = [load_audio(path, 22050, offset_s=o, duration_s=d, decoder=decoder)
                  for o, d in windows]
    for (o, d), audio in zip(windows, shared):
        alone = load_audio(path, 22050, offset_s=o, duration_s=d)
        assert audio.offset_s == o and audio.y.shape == alone.y.shape
        assert np.allclose(audio.y, alone.y, rtol=0, atol=1e-5 if ext == "mp3" else 0)
    assert abs(dominant_hz(shared[0].y[2000:20000], 22050) - 700) < 20
