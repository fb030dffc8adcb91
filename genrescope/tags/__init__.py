"""Genres where people see them: in the files' own tags, in beets, in players.

:mod:`.formats` (mutagen: ID3, Vorbis comments, MP4 atoms), :mod:`.safe`
(copy, edit, fsync, rename: a kill leaves a file old or new), :mod:`.undo`
(what each write replaced: library table or journal), :mod:`.answers`
(library or Classifier), :mod:`.run` (``genrescope tag``), :mod:`.playlists`
(M3U8 per genre), :mod:`.cli`. See docs/tags.md.
"""
