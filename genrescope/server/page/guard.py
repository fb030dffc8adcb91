"""The page's upload guard: only files uploaded to this page (or its example
clips) are ever read; no server path, no URL (issue 17)."""

from __future__ import annotations

import logging
import os

log = logging.getLogger("genrescope.server")
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


def _missing_choice(block, value) -> str | None:
    """Why ``value`` is refused for a radio that the page always sets (it has
    an initial value): ``None`` there is not a choice."""
    import gradio as gr

    if isinstance(block, gr.Radio) and value is None and block.value is not None:
        return f"{block.label or 'A choice'}: choose one of the page's options."
    return None


def guarded_blocks(examples: list[str]):
    """``gr.Blocks`` that refuses, before Gradio touches it, any input file that
    is not an upload of this page: no server path, no URL is ever read.

    The client's malformed inputs (too few values, a value of the wrong shape,
    ``FileData`` that does not validate, no choice on a radio that always has
    one) are refused as ``gr.Error`` without a traceback in the server's log
    (one line at INFO instead): Gradio prints one for any other exception.
    Errors of the page's own functions are not caught here: they keep theirs.
    """
    import gradio as gr

    class GuardedBlocks(gr.Blocks):
        async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
            for block, value in zip(block_fn.inputs, inputs):
                paths = _client_paths(value)
                if isinstance(block, gr.Audio) and isinstance(value, str):
                    paths.append(value)
                if any(not is_page_file(p, examples) for p in paths):
                    raise gr.Error(REFUSED, print_exception=False)   # no traceback per probe
                problem = _missing_choice(block, value)
                if problem:
                    raise gr.Error(problem, print_exception=False)
            try:
                return await super().preprocess_data(block_fn, inputs, state, explicit_call)
            except gr.Error as exc:            # Gradio's own refusals (a value not among
                exc.print_exception = False    # the choices...): the client's error, no
                raise                          # traceback in the server's log
            except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
                text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
                log.info("page input refused: %s: %s", type(exc).__name__, text)
                raise gr.Error(f"The page's inputs are malformed: {text}",
                               print_exception=False) from None

    return GuardedBlocks
