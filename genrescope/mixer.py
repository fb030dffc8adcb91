"""Down-mix, sanitise and resample audio block by block, as it decodes.

A :class:`Mixer` takes float32 blocks ``(channels, n)`` at the source rate
and keeps only mono samples at the target rate (soxr's streaming resampler,
bit-identical to ``soxr.resample`` on the whole signal), plus the running
statistics the quality warnings need. Memory is bounded by the output, not
by the source's channels or sample rate: 8 channels at 655 kHz cost what
mono at the model's rate costs. The limits on the source (channels, rate,
channel-samples) are checked before the first sample is decoded and again
as samples arrive, whatever the header said.
"""

from __future__ import annotations

import math

import numpy as np
import soxr

from .errors import GenrescopeError

#: Samples at or above this magnitude count as clipped.
CLIP_LEVEL = 0.999
#: Samples beyond this magnitude (60 dB over full scale) are clipped to it
#: before resampling, so that the resampler and the power spectrum stay finite.
MAX_AMPLITUDE = 1e3
#: Highest source sample rate accepted, Hz (a damaged header can claim 2 GHz).
MAX_SR = 1_000_000
#: Most channels accepted in one file (more: 422 before decoding).
MAX_CHANNELS = 32


class Mixer:
    """Mono float32 at ``sr`` from blocks of any channel count at ``source_sr``.

    Parameters
    ----------
    channels : int
        Channels the header declares.
    source_sr, sr : int
        Source and target sample rates, Hz.
    name : str
        How to call the source in error messages.
    max_values : int, optional
        Most channel-samples (channels x samples) this source may decode;
        checked for ``planned_s`` seconds before decoding, then as blocks come.
    planned_s : float, optional
        Seconds the caller means to decode (``None``: unknown).
    limit_text : str
        The limit as the error message names it.
    """

    def __init__(self, channels: int, source_sr: int, sr: int, *, name: str,
                 max_values: int | None = None, planned_s: float | None = None,
                 limit_text: str = ""):
        if not 0 < source_sr <= MAX_SR:
            raise GenrescopeError(f"{name}: invalid sample rate {source_sr} Hz (accepted: 1 to "
                                  f"{MAX_SR} Hz): the file's header is damaged or not audio.")
        if not 0 < channels <= MAX_CHANNELS:
            raise GenrescopeError(f"{name} has {channels} channels: at most {MAX_CHANNELS} are "
                                  "accepted. Mix it down to stereo or mono first.")
        self.channels, self.source_sr, self.sr, self.name = int(channels), int(source_sr), sr, name
        self.max_values, self.limit_text = max_values, limit_text
        if max_values is not None and planned_s is not None:
            self._check_values(math.ceil(channels * source_sr * planned_s), planned_s)
        self._stream = None if source_sr == sr else soxr.ResampleStream(
            source_sr, sr, 1, dtype="float32", quality="HQ")
        self._out: list[np.ndarray] = []
        self.size = 0                    # source samples (per channel) added so far
        self._values = self._clipped = self._non_finite = 0
        self._mean, self._m2 = 0.0, 0.0  # of the down-mix, merged block by block (Chan et al.)

    def _check_values(self, values: int, seconds: float | None = None) -> None:
        if self.max_values is not None and values > self.max_values:
            what = (f"{self.channels} channels x {self.source_sr} Hz x {seconds:g} s = "
                    if seconds is not None else "")
            raise GenrescopeError(
                f"{self.name}: {what}{values / 1e6:.0f} M samples to decode is over the limit "
                f"of {self.max_values / 1e6:.0f} M samples per analysis {self.limit_text}: "
                "analyse a shorter window (offset_s and duration_s), or mix the file down to "
                "stereo at 48 kHz.", status=422)

    def add(self, x: np.ndarray) -> None:
        """One float block ``(channels, n)``: sanitised, down-mixed, resampled, kept."""
        n = x.shape[1]
        if n == 0:
            return
        self._values += x.size
        self._check_values(self._values)
        bad = ~np.isfinite(x)
        non_finite = int(bad.sum())
        if non_finite:
            self._non_finite += non_finite
            x = np.where(bad, np.float32(0), x)
        clipped = int(np.count_nonzero(np.abs(x) >= CLIP_LEVEL))
        if clipped:                               # finite but huge: bounded before resampling
            self._clipped += clipped
            x = np.clip(x, -MAX_AMPLITUDE, MAX_AMPLITUDE)
        y = x.mean(axis=0, dtype=np.float32) if x.shape[0] > 1 else x[0]
        mean = float(np.mean(y, dtype=np.float64))
        m2 = float(np.sum(np.square(y - mean, dtype=np.float64)))
        total = self.size + n
        delta = mean - self._mean
        self._m2 += m2 + delta * delta * self.size * n / total
        self._mean += delta * n / total
        self.size = total
        y = np.ascontiguousarray(y, dtype=np.float32)
        self._out.append(y if self._stream is None else self._stream.resample_chunk(y))

    def result(self, offset_s: float = 0.0) -> dict:
        """The fields of :class:`~genrescope.audio.Audio` for everything added."""
        if self.size == 0:
            raise GenrescopeError(
                f"{self.name} has no audio samples"
                + (f" after {offset_s:g} s" if offset_s else "")
                + ": use a recording with sound in it, or a smaller offset.")
        if self._stream is not None:
            self._out.append(self._stream.resample_chunk(np.zeros(0, np.float32), last=True))
            self._stream = None
        y = np.concatenate(self._out) if len(self._out) != 1 else self._out[0]
        self._out = [y]
        if len(y) == 0:
            raise GenrescopeError(f"{self.name}: too few samples to analyse ({self.size} at "
                                  f"{self.source_sr} Hz).")
        return dict(y=np.ascontiguousarray(y, dtype=np.float32), sr=self.sr,
                    source_sr=self.source_sr, source_channels=self.channels,
                    offset_s=float(offset_s),
                    clipped_fraction=self._clipped / self._values if self._values else 0.0,
                    ac_rms=math.sqrt(max(self._m2, 0.0) / self.size),
                    non_finite=self._non_finite)
