"""The page's upload guard: only files uploaded to this page (or its example
clips) are ever read; no server path, no URL (issue 17)."""

from __future__ import annotations

import os

REFUSED = "Only audio uploaded to this page (or its example clips) can be analysed."


def is_page_file(path, examples: list[str]) -> bool:
    """Whether ``path`` is a file the page may analyse: inside Gradio's upload
    folder, or one of the example clips. Never true for a URL; nothing is
    opened to decide (``/dev/zero`` is refused without being read)."""
    from gradio.utils import get_upload_folder

    if not isinstance(path, (str, os.PathLike)) or "://" in os.fspath(path) \
            or "\0" in os.fspath(path):
        return False
    real = os.path.realpath(path)
    folder = os.path.realpath(get_upload_folder())
    return real.startswith(folder + os.sep) or real in {os.path.realpath(p) for p in examples}


def _client_paths(value) -> list:
    """Every ``path`` a client's input value names (Gradio ``FileData`` dicts)."""
    if isinstance(value, dict):
        found = [value["path"]] if "path" in value else []
        return found + [p for v in value.values() for p in _client_paths(v)]
    if isinstance(value, (list, tuple)):
        return [p for v in value for p in _client_paths(v)]
    return []


def guarded_blocks(examples: list[str]):
    """``gr.Blocks`` that refuses, before Gradio touches it, any input file that
    is not an upload of this page: no server path, no URL is ever read."""
    import gradio as gr

    class GuardedBlocks(gr.Blocks):
        async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
            for block, value in zip(block_fn.inputs, inputs):
                paths = _client_paths(value)
                if isinstance(block, gr.Audio) and isinstance(value, str):
                    paths.append(value)
                if any(not is_page_file(p, examples) for p in paths):
                    raise gr.Error(REFUSED, print_exception=False)   # no traceback per probe
            try:
                return await super().preprocess_data(block_fn, inputs, state, explicit_call)
            except gr.Error as exc:            # Gradio's own refusals (a value not among
                exc.print_exception = False    # the choices...): the client's error, no
                raise                          # traceback in the server's log

    return GuardedBlocks
