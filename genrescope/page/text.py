"""The page's own texts in English and Chinese."""

from __future__ import annotations

TEXT = {
    "en": dict(
        intro="## genrescope\nRecord or upload music: the five most likely genres appear at "
              "once. Everything runs on this computer.",
        lang="Language / 语言", audio="Music: record with the microphone, or upload a file",
        run="Analyse", model="Model", missing="weights missing", seconds="Seconds to analyse",
        whole="whole file", offset="Start at (seconds)", top="Top 5 genres",
        spectrogram="Show spectrogram", examples="Example clips (one click)",
        timings="Analysis took {total:.2f} s: decode {decode:.2f} s, features {features:.2f} "
                "s, network {network:.2f} s (model {model}).",
        error="**Error:** {0}"),
    "zh": dict(
        intro="## genrescope 音乐流派识别\n录音或上传音乐，立即显示最可能的五种流派。全部在本机运行。",
        lang="Language / 语言", audio="音乐：用麦克风录音，或上传文件", run="分析", model="模型",
        missing="缺少权重文件", seconds="分析时长（秒）", whole="整个文件", offset="起始位置（秒）",
        top="最可能的五种流派", spectrogram="显示频谱图", examples="示例音频（单击即可）",
        timings="分析用时 {total:.2f} 秒：解码 {decode:.2f} 秒，特征 {features:.2f} 秒，"
                "网络 {network:.2f} 秒（模型 {model}）。",
        error="**错误：** {0}"),
}
DEMO_NAMES = {"string_chords": ("string chords", "弦乐和弦"),
              "drum_groove": ("drum groove", "鼓点律动"), "sine_sweep": ("sine sweep", "正弦扫频")}
