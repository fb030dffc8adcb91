"""Every input of the bad-input corpus gives a prediction with the right
warnings or the one user error, through the Classifier and the CLI."""

import pytest
from corpus import make_corpus

from genrescope import Classifier, GenrescopeError
from genrescope.cli import main


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture(scope="module")
def classifier():
    return Classifier.load()


@pytest.mark.slow
def test_classifier_outcome_for_every_case(corpus, classifier):
    for case in corpus:
        if case.ok:
            pred = classifier.classify(case.path)
            codes = {w.code for w in pred.warnings}
            assert case.warnings <= codes, (case.name, codes)
            assert abs(sum(pred.probabilities.values()) - 1) < 1e-4
            assert pred.audio.duration_s <= 30.0 + 1e-6, case.name
        else:
            with pytest.raises(GenrescopeError) as err:
                classifier.classify(case.path)
            assert case.path.name in str(err.value), case.name
    # still serving afterwards
    assert classifier.classify(corpus[-1].path).top


@pytest.mark.slow
def test_cli_exit_codes_for_every_case(corpus, capsys):
    for case in corpus:
        code = main(["classify", str(case.path), "--format", "json"])
        out, err = capsys.readouterr()
        assert code == (0 if case.ok else 2), (case.name, err)
        assert "Traceback" not in err


def test_two_hours_decodes_only_the_window(corpus, classifier):
    case = next(c for c in corpus if c.name == "2h.wav")
    pred = classifier.classify(case.path, offset_s=3600)
    assert pred.audio.offset_s == 3600 and abs(pred.audio.duration_s - 30) < 1e-6
    assert pred.timings["decode"] < 5   # generous: reading 2 h would take far longer
