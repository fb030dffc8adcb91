# The library's public API, in one place (read by lazy_loader in __init__.py:
# imported on first use, so the CLI's argument parsing does not pay for torch).
from .analyse import DEFAULT_WINDOWS, WindowPlan, analyse_track
from .catalog import Library
from .index import IndexSummary, index
from .record import FileJob, TrackRecord
from .results import Hit, Track
