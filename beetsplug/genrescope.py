"""beets plugin: genres from genrescope, stored in beets and, on request, in the files.

Enable with ``plugins: genrescope`` in beets' config.yaml (install
``genrescope[beets]``). ``beet genrescope [QUERY]`` analyses the items and
stores flexible attributes ``genrescope_genre``, ``genrescope_confidence``,
``genrescope_styles``, ``genrescope_model``, ``genrescope_notes`` and
``genrescope_heard`` (the voices and instruments heard, English names
joined by ", "); with
``-w`` (or ``write_genre: yes``) it also sets the genre (``genres`` in beets
2.14+, ``genre`` before) for answers sure enough and
writes the files the beets way (``item.try_write``). ``auto: yes`` analyses
on ``beet import``. See docs/tags.md.

Configuration (defaults)::

    genrescope:
      auto: no              # analyse on import
      write_genre: no       # set `genre` (and write the files) without -w
      min_confidence: null  # null: answers without an unsure/not-music note
      styles: no            # styles as further genre values
      lang: en              # en or zh
      model: null           # a model name or folder (default: the shipped model)
      models_dir: null
      force: no             # analyse items again that already have genrescope_genre
"""

from __future__ import annotations

import os

from beets import ui
from beets.plugins import BeetsPlugin


def heard_field(names: list) -> str:
    """``genrescope_heard``: English names joined by ", ", each name cut to
    its first synonym ("Violin, fiddle" -> "Violin") so that the field splits
    back into one name per sound; always English (a query finds the same
    words whatever ``lang`` is)."""
    return ", ".join(n.split(",")[0].strip() for n in names)


class GenrescopePlugin(BeetsPlugin):
    """``beet genrescope``, and analysis on import when ``auto`` is on."""

    def __init__(self):
        super().__init__()
        self.config.add({"auto": False, "write_genre": False, "min_confidence": None,
                         "styles": False, "lang": "en", "model": None, "models_dir": None,
                         "force": False})
        self._answers = None
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]

    # -- analysis ----------------------------------------------------------- #
    def _source(self):
        if self._answers is None:
            from genrescope.tags.answers import Answers

            def load():
                from genrescope.predict import Classifier

                return Classifier.load(self.config["model"].get(), device="cpu",
                                       models_dir=self.config["models_dir"].get())

            self._answers = Answers(lang=self.config["lang"].as_str(), load_classifier=load)
        return self._answers

    def analyse(self, item, *, write_genre: bool, force: bool = False) -> None:
        """Store the analysis in ``item`` (and ``genre`` when asked and sure)."""
        from genrescope.errors import GenrescopeError

        if "genrescope_genre" in item and not force:
            answer = None
        else:
            try:
                answer = self._source().analyse(os.fsdecode(item.path))
            except GenrescopeError as exc:
                self._log.warning("{}: {}", item.filepath, exc)
                return
            item["genrescope_genre"] = answer.genre
            item["genrescope_confidence"] = round(answer.confidence, 4)
            item["genrescope_styles"] = ", ".join(answer.styles)
            item["genrescope_model"] = answer.model
            item["genrescope_notes"] = ", ".join(answer.notes)
            item["genrescope_heard"] = heard_field(answer.heard)
        if write_genre and self._sure(item):
            self._set_genre(item)
            item.try_write()
        item.store()

    def _set_genre(self, item) -> None:
        """``genres`` (beets >= 2.14, a list) or ``genre`` (older beets)."""
        styles = item.get("genrescope_styles", "") if self.config["styles"].get(bool) else ""
        values = [item["genrescope_genre"]] + [s for s in styles.split(", ") if s]
        if "genres" in type(item)._fields:
            item.genres = values
        else:
            item.genre = ", ".join(values)

    def _sure(self, item) -> bool:
        from genrescope.tags.answers import NOT_SURE_CODES

        min_confidence = self.config["min_confidence"].get()
        if min_confidence is not None:
            return float(item.get("genrescope_confidence", 0.0)) >= float(min_confidence)
        notes = {n for n in item.get("genrescope_notes", "").split(", ") if n}
        return not notes & NOT_SURE_CODES

    def imported(self, session, task) -> None:
        """Import stage (``auto: yes``): analyse the imported items; beets
        writes the files itself when its ``import.write`` is on."""
        write_genre = self.config["write_genre"].get(bool)
        for item in task.imported_items():
            self.analyse(item, write_genre=False, force=True)
            if write_genre and self._sure(item):
                self._set_genre(item)
                item.store()

    # -- command ------------------------------------------------------------ #
    def commands(self):
        cmd = ui.Subcommand("genrescope", help="analyse the genre of items with genrescope")
        cmd.parser.add_option("-w", "--write", action="store_true", default=False,
                              help="set `genre` and write it into the files")
        cmd.parser.add_option("-f", "--force", action="store_true", default=False,
                              help="analyse again items that were analysed before")

        def func(lib, opts, args):
            write_genre = opts.write or self.config["write_genre"].get(bool)
            force = opts.force or self.config["force"].get(bool)
            for item in lib.items(args):
                self.analyse(item, write_genre=write_genre, force=force)
                ui.print_(f"{item.filepath}: {item.get('genrescope_genre')} "
                          f"({float(item.get('genrescope_confidence', 0)):.0%})")

        cmd.func = func
        return [cmd]
