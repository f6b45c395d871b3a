"""Statistics of the ml evaluation: the event-level paired bootstrap against a brute-force
reference, refusals of unfit samples, the layout-agreement permutation test, Pareto fronts."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score, roc_curve

from deeppp.metrics import (
    MIN_EVENTS_PER_CLASS,
    EventBootstrap,
    MetricsError,
    bootstrap_metrics,
    check_sample,
    event_clusters,
    paired_difference,
    rejection_at,
    tagger_metrics,
    weighted_roc,
)
from ml.agreement import jaccard, layout_agreement, spearman
from ml.evaluation import pareto_front


def small_sample(seed: int = 0) -> dict[str, np.ndarray]:
    """40 signal events (one jet) and 40 background events (two correlated jets each)."""
    rng = np.random.default_rng(seed)
    n_sig, n_bkg_events = 40, 40
    labels = np.r_[np.ones(n_sig), np.zeros(2 * n_bkg_events)]
    chunks = np.zeros(labels.size, dtype=int)
    events = np.r_[np.arange(n_sig), np.repeat(np.arange(n_bkg_events), 2)]
    shared = np.repeat(rng.normal(size=n_bkg_events), 2)
    a = np.r_[rng.normal(1.0, 1.0, n_sig), shared + 0.3 * rng.normal(size=2 * n_bkg_events)]
    b = a + rng.normal(0.0, 0.5, labels.size)
    weights = np.r_[np.ones(n_sig), rng.uniform(0.5, 1.5, 2 * n_bkg_events)]
    return {"labels": labels, "chunks": chunks, "events": events, "a": a, "b": b, "w": weights}


def duplicated(values: np.ndarray, multiplicity: np.ndarray) -> np.ndarray:
    return np.repeat(values, multiplicity.astype(int))


def test_paired_bootstrap_matches_brute_force_resampling() -> None:
    """Every resample's AUC, 1/eps_B and the paired difference equal what sklearn computes on
    the explicitly resampled (duplicated) events; the interval is the quantiles of those."""
    s = small_sample()
    clusters = event_clusters(s["labels"], s["chunks"], s["events"])
    bootstrap = EventBootstrap(clusters, 40, seed=3)
    a = bootstrap_metrics(s["labels"], s["a"], s["w"], (0.5,), bootstrap)
    b = bootstrap_metrics(s["labels"], s["b"], s["w"], (0.5,), bootstrap)
    brute_a, brute_b, brute_rej = [], [], []
    for m in np.vstack(list(bootstrap.blocks())):
        y, w = duplicated(s["labels"], m), duplicated(s["w"], m)
        sa, sb = duplicated(s["a"], m), duplicated(s["b"], m)
        brute_a.append(roc_auc_score(y, sa, sample_weight=w))
        brute_b.append(roc_auc_score(y, sb, sample_weight=w))
        fpr, tpr, _ = roc_curve(y, sa, sample_weight=w, drop_intermediate=False)
        brute_rej.append(rejection_at(np.r_[0.0, tpr], np.r_[0.0, fpr], 0.5))
    np.testing.assert_allclose(a.replicas["auc"], brute_a, rtol=1e-12)
    np.testing.assert_allclose(b.replicas["auc"], brute_b, rtol=1e-12)
    np.testing.assert_allclose(a.replicas["rejection_50"], brute_rej, rtol=1e-9)
    difference = paired_difference(a, b, "auc", 0.9)
    brute = np.array(brute_a) - np.array(brute_b)
    assert difference["value"] == pytest.approx(
        roc_auc_score(s["labels"], s["a"], sample_weight=s["w"])
        - roc_auc_score(s["labels"], s["b"], sample_weight=s["w"])
    )
    assert difference["ci_low"] == pytest.approx(np.quantile(brute, 0.05))
    assert difference["ci_high"] == pytest.approx(np.quantile(brute, 0.95))
    assert difference["uncertainty"] == pytest.approx(brute.std(ddof=1))
    # Paired: far tighter than the unpaired quadrature sum of the two uncertainties.
    unpaired = math.hypot(np.std(brute_a, ddof=1), np.std(brute_b, ddof=1))
    assert difference["uncertainty"] < 0.7 * unpaired


def test_event_resampling_keeps_the_jets_of_an_event_together() -> None:
    s = small_sample()
    clusters = event_clusters(s["labels"], s["chunks"], s["events"])
    assert clusters.max() + 1 == 80  # 40 signal + 40 background events, 120 jets
    bootstrap = EventBootstrap(clusters, 200, seed=5)
    multiplicities = np.vstack(list(bootstrap.blocks()))
    background = np.flatnonzero(s["labels"] == 0)
    first, second = background[0::2], background[1::2]
    np.testing.assert_array_equal(multiplicities[:, first], multiplicities[:, second])
    # Each resample draws as many events as there are (not jets).
    per_event = multiplicities[:, np.unique(clusters, return_index=True)[1]]
    np.testing.assert_array_equal(per_event.sum(axis=1), 80)
    # Resampling events, not jets, widens the AUC spread when the two jets of an event agree:
    # with identical background pairs the background part of the variance doubles (about
    # sqrt(1.5) = 1.22 in the standard deviation when both classes contribute alike).
    rng = np.random.default_rng(1)
    labels = np.r_[np.ones(300), np.zeros(600)]
    scores = np.r_[rng.normal(1.0, 1.0, 300), np.repeat(rng.normal(0.0, 1.0, 300), 2)]
    events = np.r_[np.arange(300), np.repeat(np.arange(300), 2)]
    clusters = event_clusters(labels, np.zeros(900), events)
    by_event = bootstrap_metrics(
        labels, scores, np.ones(900), (), EventBootstrap(clusters, 1000, 5)
    )
    by_jet = bootstrap_metrics(
        labels, scores, np.ones(900), (), EventBootstrap(np.arange(900), 1000, 5)
    )
    ratio = by_event.replicas["auc"].std() / by_jet.replicas["auc"].std()
    assert 1.1 < ratio < 1.4


def test_bootstrap_is_reproducible_and_blockwise_identical() -> None:
    clusters = np.repeat(np.arange(50), 2)
    one = np.vstack(list(EventBootstrap(clusters, 30, seed=9).blocks()))
    again = np.vstack(list(EventBootstrap(clusters, 30, seed=9).blocks()))
    np.testing.assert_array_equal(one, again)
    EventBootstrap.BLOCK_ELEMENTS, saved = 250, EventBootstrap.BLOCK_ELEMENTS
    try:
        blocks = list(EventBootstrap(clusters, 30, seed=9).blocks())
    finally:
        EventBootstrap.BLOCK_ELEMENTS = saved
    assert len(blocks) > 1 and sum(b.shape[0] for b in blocks) == 30


def test_small_and_non_finite_samples_are_refused() -> None:
    labels = np.r_[np.ones(MIN_EVENTS_PER_CLASS - 1), np.zeros(200)]
    with pytest.raises(MetricsError, match=f"at least {MIN_EVENTS_PER_CLASS} of each class"):
        check_sample(labels, np.arange(labels.size))
    # Enough jets but too few events: two background jets per event do not count twice.
    labels = np.r_[np.ones(100), np.zeros(2 * (MIN_EVENTS_PER_CLASS - 1))]
    events = np.r_[np.arange(100), 100 + np.repeat(np.arange(MIN_EVENTS_PER_CLASS - 1), 2)]
    with pytest.raises(MetricsError, match=r"only 29 background events \(58 jets\)"):
        tagger_metrics(
            labels, np.arange(labels.size, dtype=float), np.ones(labels.size), (0.5,), 10, 0, events
        )
    scores = np.r_[np.ones(3), np.inf]
    with pytest.raises(MetricsError, match="1 of 4 tagger scores are NaN or infinite"):
        weighted_roc(np.array([1, 0, 1, 0]), scores, np.ones(4))
    with pytest.raises(MetricsError, match="no background jets"):
        weighted_roc(np.ones(4), np.arange(4.0), np.ones(4))


def test_rejection_interpolates_within_the_step_that_crosses_the_efficiency() -> None:
    # A vertical step at eps_S = 0.5 (two background jets pass while the signal stays put).
    eps_s = np.array([0.0, 0.25, 0.5, 0.5, 0.75, 1.0])
    eps_b = np.array([0.0, 0.0, 0.1, 0.3, 0.6, 1.0])
    assert rejection_at(eps_s, eps_b, 0.5) == pytest.approx(1 / 0.1)
    assert rejection_at(eps_s, eps_b, 0.625) == pytest.approx(1 / 0.45)
    assert rejection_at(eps_s, eps_b, 0.2) == math.inf


def test_layouts_from_one_distribution_agree_and_shifted_ones_do_not() -> None:
    rng = np.random.default_rng(0)
    truth = {f"f{i}": float(i) for i in range(12)}

    def rankings(shift: dict[str, float], n: int) -> list[dict[str, float]]:
        return [
            {f: v + shift.get(f, 0.0) + rng.normal(0, 1.5) for f, v in truth.items()}
            for _ in range(n)
        ]

    same = layout_agreement(rankings({}, 5), rankings({}, 5), spearman)
    assert same["testable"] and same["agree_within_seed_noise"], same
    reversed_layout = {f: -2 * v for f, v in truth.items()}
    other = layout_agreement(rankings({}, 5), rankings(reversed_layout, 5), spearman)
    assert other["p_value"] <= 0.05 and not other["agree_within_seed_noise"]
    assert other["verdict"] == "layouts disagree beyond seed noise"
    few = layout_agreement(rankings({}, 3), rankings(reversed_layout, 3), spearman)
    assert not few["testable"] and few["smallest_attainable_p"] == pytest.approx(0.1)
    assert "more seeds needed" in few["verdict"]
    assert jaccard(["a", "b"], ["b", "c"]) == pytest.approx(1 / 3)


def test_pareto_front_keeps_only_undominated_points() -> None:
    points = [
        {"q": 0.90, "c": 10.0},
        {"q": 0.95, "c": 30.0},
        {"q": 0.93, "c": 40.0},  # dominated by the second
        {"q": 0.85, "c": 5.0},
        {"q": None, "c": 1.0},  # no value: never on the front
    ]
    assert pareto_front(points, "q", "c") == [3, 0, 1]
