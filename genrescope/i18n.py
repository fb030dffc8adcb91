"""Chinese texts of the notes a prediction carries (:class:`~genrescope.audio.AudioWarning`).

The English message is written where the note is made (:mod:`genrescope.audio`,
:mod:`genrescope.predict`); :meth:`AudioWarning.text` gives it in the asked
language from the table below and the note's ``details``, so the CLI, the
API and the page all answer in the same words.
"""

from __future__ import annotations

#: Chinese message of each warning code, formatted with the warning's ``details``.
WARNINGS_ZH = {
    "silence": "录音（几乎）无声：结果没有意义。",
    "clipping": "{clipped_fraction:.1%} 的采样被削波（满幅）：录音失真，请降低输入音量。",
    "low_sample_rate": "采样率只有 {source_sr} Hz：缺少高频，结果不太可靠。",
    "short": "只有 {duration_s:.1f} 秒音频：更长的录音（最好 10–30 秒）结果更可靠。",
    "non_finite": "{count} 个采样为 NaN 或无穷大，已置为 0。",
    "ambiguous": "最可能的流派只有 {top_probability:.0%}：模型不确定，答案可能是其中几种之一。",
    "not_music": "这听起来不像音乐（{sound_zh}）：给出的任何流派都只是猜测。",
    "outside": "听起来像{family_zh}（{genre_zh}），不在本模型认识的十种流派之内：下面的流派只是其中"
               "最接近的。",
    "speech_over_music": "有人在音乐上说话（电台、播客或讲话？）：流派只是对人声下面音乐的猜测。",
}
#: Values of ``details`` keys that notes stored before the key existed lack.
DETAILS_DEFAULT_ZH = {"sound_zh": "语音、噪声、音调或静音？"}


def warning_text(code: str, message: str, details: dict, lang: str = "en") -> str:
    """``message`` (English) in ``lang``: the table's text for ``code``
    formatted with ``details``; the English message when there is none."""
    if lang == "zh" and code in WARNINGS_ZH:
        try:
            return WARNINGS_ZH[code].format(**(DETAILS_DEFAULT_ZH | dict(details)))
        except (KeyError, ValueError, IndexError):
            return message
    return message

#: A note's short name (English, Chinese): what a list of notes or a filter shows.
NOTE_NAMES = {
    "not_music": ("not music", "不是音乐"),
    "outside": ("outside the ten genres", "十种流派之外"),
    "speech_over_music": ("speech over music", "音乐上有人说话"),
    "ambiguous": ("not sure", "不确定"),
    "unsure": ("not sure", "不确定"),
    "silence": ("silent", "无声"),
    "clipping": ("clipped", "削波"),
    "low_sample_rate": ("low sample rate", "采样率低"),
    "short": ("short recording", "录音太短"),
    "non_finite": ("invalid samples", "无效采样"),
}


def note_name(code: str, lang: str = "en") -> str:
    """The short name of the note ``code`` in ``lang`` (the code itself when unknown)."""
    en, zh = NOTE_NAMES.get(code, (code, code))
    return zh if lang == "zh" else en
