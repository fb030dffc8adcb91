"""What the page adds to Gradio's own ``<head>``: its style and one script.

:data:`PAGE_CSS` and :data:`PAGE_HEAD` are passed to ``gr.mount_gradio_app``
by the server (:func:`genrescope.server.app.create_app`).
"""

from __future__ import annotations

import json

#: The page's own style: the title never breaks inside a word on a phone;
#: the pictures keep a readable width (on a phone they scroll sideways
#: instead of shrinking); table cells break between words only (names after
#: their dots and underscores, see :func:`.library._name_cell`), a long file
#: name in the Library's results breaks anywhere rather than leave its box; the live
#: waveform while recording drawn 3x taller (Gradio draws it unnormalised:
#: music, recorded without automatic gain, looked flat; the recording itself
#: is untouched).
PAGE_CSS = """
#intro h2 { overflow-wrap: normal; word-break: keep-all; hyphens: none; }
#headline h2 { margin: 0.2em 0; font-size: 2.2em; }
#db-line p { margin: 0; }
#audio [data-testid=microphone-waveform] { overflow: hidden; }
#audio [data-testid=microphone-waveform] > div { transform: scaleY(3); }
#lib-similar table { width: 100%; display: block; overflow-x: auto; }
#lib-similar td, #lib-similar th { word-break: normal; overflow-wrap: normal; hyphens: none; }
#lib-similar th, #lib-similar td:nth-child(2) { white-space: nowrap; }
#lib-results label { max-width: 100%; }
#lib-results label span { overflow-wrap: anywhere; }
@media (max-width: 640px) {
  #spectrogram .image-container, #timeline .image-container, #lib-timeline .image-container,
  #why-image .image-container { overflow-x: auto; }
  #spectrogram .image-container > button, #timeline .image-container > button,
  #lib-timeline .image-container > button, #why-image .image-container > button {
    justify-content: flex-start; }
  #spectrogram img, #timeline img, #lib-timeline img, #why-image img {
    min-width: 640px; max-width: none; }
  #lib-similar td, #lib-similar th { padding: 6px 6px; }
}
"""

#: Browsers record a microphone for calls: echo cancellation, noise
#: suppression and automatic gain reshape music (issue 26: a country song
#: recorded with them came out "Blues 45 %, Jazz 44 %", without them Country
#: 69 %, as the CLI says). Gradio asks for ``{audio: true}``; this script,
#: run before any recording, turns those three off in every audio request.
MIC_SCRIPT = """<script>
(() => {
  const media = navigator.mediaDevices;
  if (!media || !media.getUserMedia || media.genrescopeMusic) return;
  const MUSIC = {echoCancellation: false, noiseSuppression: false, autoGainControl: false};
  const original = media.getUserMedia.bind(media);
  media.getUserMedia = (constraints) => {
    const asked = Object.assign({}, constraints || {});
    if (asked.audio) {
      asked.audio = Object.assign({}, asked.audio === true ? {} : asked.audio, MUSIC);
    }
    return original(asked);
  };
  media.genrescopeMusic = true;
})();
</script>"""

#: Gradio's own words on the page and their Chinese (from Gradio's zh-CN
#: locale). Gradio picks its words from the browser's language once, at load;
#: the page's language switch calls ``window.genrescopeLang`` (see
#: :data:`WORDS_SCRIPT`), which swaps them, now and in whatever Gradio draws later.
GRADIO_ZH = {
    "Drop File Here": "将文件拖放到此处", "- or -": "- 或 -", "Click to Upload": "点击上传",
    "Drop Audio Here": "将音频拖放到此处", "Record": "录制", "Stop": "停止",
    "Pause": "暂停", "Resume": "继续", "Play": "播放", "Waiting": "等待中",
    "No microphone found": "找不到麦克风", "Record from microphone": "从麦克风录制",
    "Stop recording": "停止录制", "Use via API": "通过 API 使用",
    "Built with Gradio": "使用 Gradio 构建", "Settings": "设置", "Clear": "清除",
    "Download": "下载", "Share": "分享", "Undo": "撤销", "Edit": "编辑", "Remove": "移除",
    "Error": "错误", "Trim": "剪辑", "Reset": "重置", "Upload": "上传", "Microphone": "麦克风",
    "Select input device": "选择输入设备", "Loading...": "加载中……",
}

WORDS_SCRIPT = """<script>
(() => {
  const ZH = %s, EN = {}, ATTRS = ["title", "aria-label", "placeholder"];
  for (const [en, zh] of Object.entries(ZH)) EN[zh] = en;
  let table = null;
  const swap = (text) => {
    const key = text.trim();
    return table && Object.hasOwn(table, key) ? text.replace(key, table[key]) : null;
  };
  const visit = (node) => {
    if (node.nodeType === 3) {
      const next = swap(node.nodeValue);
      if (next !== null) node.nodeValue = next;
      return;
    }
    if (node.nodeType !== 1) return;
    for (const a of ATTRS) {
      const v = node.getAttribute(a), next = v && swap(v);
      if (next) node.setAttribute(a, next);
    }
    if (node.tagName === "OPTION" || node.childNodes.length) node.childNodes.forEach(visit);
    if (node.shadowRoot) node.shadowRoot.childNodes.forEach(visit);
  };
  new MutationObserver((changes) => {
    if (table !== ZH) return;
    for (const c of changes) {
      if (c.type === "characterData") visit(c.target);
      else if (c.type === "attributes") visit(c.target);
      else c.addedNodes.forEach(visit);
    }
  }).observe(document.documentElement, {subtree: true, childList: true, characterData: true,
                                        attributes: true, attributeFilter: ATTRS});
  window.genrescopeLang = (lang) => {
    table = lang === "zh" ? ZH : EN;
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    visit(document.body);
    if (lang !== "zh") table = null;
  };
})();
</script>""" % json.dumps(GRADIO_ZH, ensure_ascii=False)

#: A refused upload (a file type genrescope does not read) left the upload
#: box showing a red "Error" over its drop zone until its × was clicked; the
#: message stays in Gradio's toast, and the box takes the next file after
#: :data:`REFUSED_SHOWN_MS`.
REFUSED_SHOWN_MS = 2500
UPLOAD_SCRIPT = """<script>
(() => {
  const pending = new WeakSet();
  new MutationObserver(() => {
    for (const tracker of document.querySelectorAll("#upload [data-testid=status-tracker]")) {
      const button = tracker.querySelector(".clear-status button");
      if (!tracker.querySelector(".error") || !button || pending.has(button)) continue;
      pending.add(button);
      setTimeout(() => button.isConnected && button.click(), %d);
    }
  }).observe(document.documentElement, {subtree: true, childList: true});
})();
</script>""" % REFUSED_SHOWN_MS

PAGE_HEAD = "\n".join([MIC_SCRIPT, WORDS_SCRIPT, UPLOAD_SCRIPT])
