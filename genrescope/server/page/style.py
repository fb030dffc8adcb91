"""What the page adds to Gradio's own ``<head>``: its style and one script.

:data:`PAGE_CSS` and :data:`PAGE_HEAD` are passed to ``gr.mount_gradio_app``
by the server (:func:`genrescope.server.app.create_app`).
"""

from __future__ import annotations

#: The page's own style: the title never breaks inside a word on a phone;
#: the pictures keep their width and Gradio's icons never cover their
#: legends; table cells break between words only.
PAGE_CSS = """
#intro h2 { overflow-wrap: normal; word-break: keep-all; hyphens: none; }
#headline h2 { margin: 0.2em 0; font-size: 2.2em; }
#db-line p { margin: 0; }
#spectrogram button, #lib-timeline button, #timeline button { opacity: 0.0; }
#spectrogram:hover button, #lib-timeline:hover button, #timeline:hover button { opacity: 1; }
#lib-similar table { table-layout: auto; width: 100%; }
#lib-similar td, #lib-similar th { word-break: normal; overflow-wrap: anywhere;
                                   hyphens: none; }
#lib-similar td:first-child { min-width: 7em; }
@media (max-width: 640px) {
  #spectrogram, #lib-timeline, #timeline { margin-left: -8px; margin-right: -8px; }
  #lib-similar td:first-child { min-width: 6em; }
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

PAGE_HEAD = MIC_SCRIPT
