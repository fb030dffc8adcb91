"""Issue 28: the REST API answers as its OpenAPI schema says (Schemathesis,
in-process, with the library routes): no 5xx, no status code, content type,
header or body the schema does not declare, and what the schema forbids
refused. A new route that breaks the schema fails here (bounded: a few
examples per operation; ``benchmarks/fuzz_api.py --db`` is the long run).
"""

from __future__ import annotations

import os

import pytest

from library_util import music_folder

schemathesis = pytest.importorskip("schemathesis")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import positive_data_acceptance  # noqa: E402
from schemathesis.core.failures import Failure, FailureGroup  # noqa: E402

from genrescope.server.app import create_app  # noqa: E402

#: Examples per operation (13 operations; the upload routes answer 422 fast on non-audio).
MAX_EXAMPLES = int(os.environ.get("GENRESCOPE_SCHEMA_EXAMPLES", "25"))


def _app(tmp_root):
    from genrescope.library import index

    os.environ["GRADIO_TEMP_DIR"] = str(tmp_root / "gradio")
    music_folder(tmp_root / "music", 4)
    db = tmp_root / "lib.db"
    index([str(tmp_root / "music")], str(db), windows="full", progress=False)
    return create_app(device="cpu", db=str(db), tmp_dir=tmp_root, max_upload_mb=4,
                      max_duration_s=30.0, hosts=("localhost", "testserver"))


@pytest.fixture(scope="module")
def schema(tmp_path_factory):
    app = _app(tmp_path_factory.mktemp("schema"))
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def _failures(operation, mode) -> dict[str, str]:
    """What Schemathesis found wrong on ``operation`` with ``mode`` data:
    ``{"OPERATION (mode): failure title": the first case's report}``."""
    found: dict[str, str] = {}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=MAX_EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        try:
            # positive_data_acceptance: the schema says "any bytes" for ``file``;
            # only decodable audio is accepted, which a schema cannot state
            case.call_and_validate(excluded_checks=[positive_data_acceptance])
        except (Failure, FailureGroup) as exc:
            for failure in getattr(exc, "exceptions", [exc]):
                key = f"{operation.label} ({mode.value}): {failure.title}"
                found.setdefault(key, str(exc)[:800])
    try:
        run()
    except Unsatisfiable:                      # no negative data for an operation without inputs
        pass
    return found


@pytest.mark.slow
def test_api_answers_as_its_schema_says(schema):
    failures: dict[str, str] = {}
    operations = [r.ok() for r in schema.get_all_operations()]
    assert len(operations) >= 13, [op.label for op in operations]
    for operation in operations:
        for mode in GenerationMode:
            failures |= _failures(operation, mode)
    assert not failures, f"{sorted(failures)}\n\n" + "\n\n".join(list(failures.values())[:5])
