"""skensemble.set_config / get_config / config_context (issue 27): the thread rule and the fused-training switch."""

import numpy as np
import pytest
from sklearn.datasets import make_classification

import skensemble
from skensemble.ensemble import DeepEnsembleClassifier
from skensemble.nets import MLPNetClassifier
from skensemble.utils._threads import SMALL_WORK, choose_threads


def test_defaults_and_the_environment_default(monkeypatch):
    monkeypatch.delenv("SKENSEMBLE_FIT_THREADS", raising=False)
    assert skensemble.get_config() == {"fit_threads": "auto", "fused_training": True}
    monkeypatch.setenv("SKENSEMBLE_FIT_THREADS", "3")
    assert skensemble.get_config()["fit_threads"] == 3  # the variable is the default, read at each call
    with skensemble.config_context(fit_threads="keep"):
        assert skensemble.get_config()["fit_threads"] == "keep"  # an explicit setting wins
    assert skensemble.get_config()["fit_threads"] == 3


@pytest.mark.parametrize("settings", [{"fit_threads": 0}, {"fit_threads": "many"}, {"fit_threads": True},
                                      {"fused_training": "yes"}])
def test_bad_values_are_refused_by_name(settings):
    with pytest.raises(ValueError, match=next(iter(settings))):
        skensemble.set_config(**settings)
    assert skensemble.get_config()["fused_training"] is True


def test_unknown_settings_are_refused():
    with pytest.raises(TypeError, match="unknown settings"):
        with skensemble.config_context(threads=2):
            pass


def test_the_thread_rule_follows_the_config():
    with skensemble.config_context(fit_threads=1):
        assert choose_threads(100 * SMALL_WORK, current=2) == 1
    with skensemble.config_context(fit_threads="keep"):
        assert choose_threads(1, current=2) == 2
    with skensemble.config_context(fit_threads=2):
        assert choose_threads(1, current=1) == 2
    with skensemble.config_context(fit_threads="auto"):
        assert choose_threads(1, current=2) == 1  # one thread for a small net


def test_fused_training_switch():
    X, y = make_classification(120, 6, random_state=0)
    ensemble = DeepEnsembleClassifier(MLPNetClassifier((8,), max_epochs=2), n_estimators=3, fused=True,
                                      random_state=0)
    fused = ensemble.fit(X, y).predict_proba(X)
    assert ensemble.fused_
    with skensemble.config_context(fused_training=False):
        separate = ensemble.fit(X, y)
        assert not separate.fused_  # fused=True means "when allowed"
    np.testing.assert_array_equal(separate.predict_proba(X), fused)  # fused members equal separate fits
    assert skensemble.get_config()["fused_training"] is True
