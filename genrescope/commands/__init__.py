"""Sub-commands of ``genrescope`` that shell other parts of the package:
``evaluate`` and ``train`` (:mod:`.training`), ``serve`` (:mod:`.serve`), the
library's ``index``, ``similar``, ``playlist``, ``library`` (:mod:`.library`) and
``tag`` (:mod:`.tag`).
Each module adds its parser and runs its command; what it calls is imported
only when the command runs, so that parsing stays light (no torch, no web
framework). The analysis commands (classify, spectrogram, explain, models) are
in :mod:`genrescope.cli`.
"""
