"""The page's own texts in English and Chinese."""

from __future__ import annotations

TEXT = {
    "en": dict(
        intro="## genrescope\nRecord or upload music: the most likely genres appear at once. "
              "Everything runs on this computer.",
        lang="Language / 语言", analyse_tab="Analyse",
        library_loaded="A music library is loaded ({n:,} tracks): open the **Library** tab "
                       "to search it, see similar tracks and its map.",
        audio="Record with the microphone",
        audio_file="The uploaded file (× to record instead)",
        upload="…or upload a music file", run="Analyse again", model="Model",
        seconds="Seconds to analyse", whole="whole file", offset="Start at (seconds)",
        top="Top 5 genres",
        top_tags="Top 5 tags (each tag scored on its own: they do not add up to 100 %)",
        sure="## {name}\n**{p:.0%}** sure",
        unsure="**Not sure.** The most likely: {candidates}.",
        tags="**Tags heard most:** {candidates}.",
        styles="Styles: {styles}",
        heard="Heard: {heard}",
        credit_audioset="<small>Sound names: AudioSet (Gemmeke et al. 2017, CC BY 4.0).</small>",
        spectrogram="Show spectrogram", examples="Example clips (one click)",
        credits="Example clips: {0}.",
        more_models="{n} more models need a download first: see [More models](#models-help).",
        preparing="**Preparing {model}**: its first use loads it (a few seconds; an official "
                  "checkpoint runs in float32 until `genrescope models --check-int8` has "
                  "checked int8). The answer follows.",
        help_title="More models",
        help="The ccmusic-database 16-genre models ({names}) are not shipped with "
             "genrescope. Download a model's `save.pt` from the ccmusic-database "
             "`music_genre` model repository and put it in the models folder the server "
             "was started with, as `<name>/save.pt` (`genrescope serve --models-dir DIR`, "
             "default `./models`); then reload this page. `genrescope models` on the "
             "server's computer lists what is found and where it is looked for.",
        timings="Analysis took {total:.2f} s: decode {decode:.2f} s, features {features:.2f} "
                "s, network {network:.2f} s (model {model}).",
        error="**Error:** {0}"),
    "zh": dict(
        intro="## genrescope 音乐流派识别\n录音或上传音乐，立即显示最可能的流派。全部在本机运行。",
        lang="Language / 语言", analyse_tab="分析",
        library_loaded="已载入音乐库（{n:,} 首曲目）：打开 **音乐库** 标签页可搜索、查看相似曲目和地图。",
        audio="用麦克风录音", audio_file="上传的文件（点 × 改为录音）", upload="……或上传音乐文件",
        run="重新分析", model="模型", seconds="分析时长（秒）", whole="整个文件",
        offset="起始位置（秒）", top="最可能的五种流派",
        top_tags="最可能的五个标签（每个标签单独打分，总和不是 100%）",
        sure="## {name}\n**{p:.0%}** 把握",
        unsure="**不确定。** 最可能的是：{candidates}。",
        tags="**最明显的标签：** {candidates}。",
        styles="风格：{styles}",
        heard="听到：{heard}",
        credit_audioset="<small>声音名称：AudioSet（Gemmeke 等，2017，CC BY 4.0）。</small>",
        spectrogram="显示频谱图", examples="示例音频（单击即可）",
        credits="示例音频：{0}。",
        more_models="另有 {n} 个模型需要先下载：见[更多模型](#models-help)。",
        preparing="**正在准备 {model}**：首次使用需要加载（几秒钟；官方检查点在运行 "
                  "`genrescope models --check-int8` 检查 int8 之前以 float32 运行）。结果随后显示。",
        help_title="更多模型",
        help="ccmusic-database 的 16 流派模型（{names}）不随 genrescope 附带。请从 "
             "ccmusic-database 的 `music_genre` 模型仓库下载模型的 `save.pt`，放到服务器启动时"
             "使用的模型文件夹中，路径为 `<名称>/save.pt`（`genrescope serve --models-dir DIR`，"
             "默认 `./models`），然后重新载入本页。在服务器所在的电脑上运行 `genrescope models` "
             "可查看找到了哪些模型以及查找位置。",
        timings="分析用时 {total:.2f} 秒：解码 {decode:.2f} 秒，特征 {features:.2f} 秒，"
                "网络 {network:.2f} 秒（模型 {model}）。",
        error="**错误：** {0}"),
}
