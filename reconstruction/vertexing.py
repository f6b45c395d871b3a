"""Beam spot, hard-scatter primary vertex and impact parameters with respect to it.

Interactions happen inside the luminous region (Gaussian, card ``beam_spot``). The hard-scatter
vertex is found from the reconstructed tracks, as ATLAS chooses it, by the highest sum pT^2:
the z window (``vertexing.seed_window_mm``) with the largest sum of pT^2 of the tracks whose z0
falls in it seeds the vertex; the tracks compatible with the seed (d0 and z0 within
``compatibility_sigma`` standard deviations) are fitted, z as the weighted mean of their z0 and
(x, y) by linear least squares of their d0 = -x sin(phi) + y cos(phi) with the beam spot as a
Gaussian constraint (Eur. Phys. J. C 77 (2017) 332 uses the luminous region the same way); the
fit is repeated once with the compatibility taken from the fitted vertex. Impact parameters are
then re-expressed with respect to the fitted vertex and their uncertainties include its
covariance. Everything is columnar over a batch of events (bincount sums, 2 x 2 solves).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from reconstruction.detector import FlatEvents

#: z0 values are clipped to this range before the per-event sort key is formed (mm).
_Z0_LIMIT_MM = 1e4


@dataclass(frozen=True)
class PrimaryVertices:
    """One reconstructed hard-scatter vertex per event (mm) with its covariance (mm^2)."""

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    cov_xx: np.ndarray
    cov_xy: np.ndarray
    cov_yy: np.ndarray
    sigma_z: np.ndarray
    n_tracks: np.ndarray


def sample_vertices(
    n: int, beam_spot: dict[str, Any], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(x, y, z) in mm of n interactions in the Gaussian luminous region."""
    sigma_xy, sigma_z = float(beam_spot["sigma_xy_mm"]), float(beam_spot["sigma_z_mm"])
    return (
        sigma_xy * rng.standard_normal(n),
        sigma_xy * rng.standard_normal(n),
        sigma_z * rng.standard_normal(n),
    )


def _event_index(tracks: FlatEvents) -> np.ndarray:
    return np.repeat(np.arange(tracks.n_events), tracks.counts)


def find_seeds(tracks: FlatEvents, window_mm: float, pt_min_gev: float) -> np.ndarray:
    """z of the window [z0 - w, z0 + w] around a track with the largest sum pT^2, per event
    (0 for events without tracks): the pT^2-weighted mean z0 of the tracks in that window."""
    event = _event_index(tracks)
    n_events = tracks.n_events
    use = tracks["pt"] > pt_min_gev
    z0 = np.clip(tracks["z0_mm"], -_Z0_LIMIT_MM, _Z0_LIMIT_MM)
    weight = np.where(use, tracks["pt"] ** 2, 0.0)
    key = event * (4 * _Z0_LIMIT_MM) + z0
    order = np.argsort(key, kind="stable")
    sorted_key = key[order]
    cumulative = np.concatenate([[0.0], np.cumsum(weight[order])])
    cumulative_z = np.concatenate([[0.0], np.cumsum((weight * z0)[order])])
    lo = np.searchsorted(sorted_key, sorted_key - window_mm, side="left")
    hi = np.searchsorted(sorted_key, sorted_key + window_mm, side="right")
    window_sum = cumulative[hi] - cumulative[lo]
    sorted_event = event[order]
    # best window per event: maximum of window_sum within each event's contiguous block
    best = np.full(n_events, -1.0)
    np.maximum.at(best, sorted_event, window_sum)
    is_best = (window_sum == best[sorted_event]) & (window_sum > 0)
    # the first best window of each event
    candidate = np.flatnonzero(is_best)
    chosen = np.full(n_events, len(sorted_key))
    np.minimum.at(chosen, sorted_event[candidate], candidate)
    has = chosen < len(sorted_key)
    seed = np.zeros(n_events)
    c = chosen[has]
    seed[has] = (cumulative_z[hi[c]] - cumulative_z[lo[c]]) / window_sum[c]
    return seed


def fit_primary_vertices(
    tracks: FlatEvents, card: dict[str, Any]
) -> tuple[PrimaryVertices, np.ndarray]:
    """Fitted hard-scatter vertex of each event and a mask of the tracks used in the fit."""
    settings = card["vertexing"]
    sigma_bs = float(card["beam_spot"]["sigma_xy_mm"])
    cut = float(settings["compatibility_sigma"])
    event = _event_index(tracks)
    n_events = tracks.n_events
    z_vertex = find_seeds(
        tracks, float(settings["seed_window_mm"]), float(settings["track_pt_min_gev"])
    )
    x_vertex = np.zeros(n_events)
    y_vertex = np.zeros(n_events)
    u_x, u_y = -np.sin(tracks["phi"]), np.cos(tracks["phi"])
    w_d0 = 1.0 / tracks["d0_sigma_mm"] ** 2
    w_z0 = 1.0 / tracks["z0_sigma_mm"] ** 2
    good_pt = tracks["pt"] > float(settings["track_pt_min_gev"])
    used = np.zeros(len(event), bool)
    for _ in range(2):
        d0_residual = tracks["d0_mm"] - (u_x * x_vertex[event] + u_y * y_vertex[event])
        z0_residual = tracks["z0_mm"] - z_vertex[event]
        used = (
            good_pt
            & (np.abs(d0_residual) < cut * tracks["d0_sigma_mm"])
            & (np.abs(z0_residual) < cut * tracks["z0_sigma_mm"])
        )
        wz = np.where(used, w_z0, 0.0)
        sum_wz = np.bincount(event, weights=wz, minlength=n_events)
        sum_wz_z = np.bincount(event, weights=wz * tracks["z0_mm"], minlength=n_events)
        z_vertex = np.where(sum_wz > 0, sum_wz_z / np.where(sum_wz > 0, sum_wz, 1.0), z_vertex)
        wd = np.where(used, w_d0, 0.0)
        a_xx = np.bincount(event, weights=wd * u_x * u_x, minlength=n_events) + sigma_bs**-2
        a_xy = np.bincount(event, weights=wd * u_x * u_y, minlength=n_events)
        a_yy = np.bincount(event, weights=wd * u_y * u_y, minlength=n_events) + sigma_bs**-2
        b_x = np.bincount(event, weights=wd * u_x * tracks["d0_mm"], minlength=n_events)
        b_y = np.bincount(event, weights=wd * u_y * tracks["d0_mm"], minlength=n_events)
        det = a_xx * a_yy - a_xy * a_xy
        cov_xx, cov_xy, cov_yy = a_yy / det, -a_xy / det, a_xx / det
        x_vertex = cov_xx * b_x + cov_xy * b_y
        y_vertex = cov_xy * b_x + cov_yy * b_y
    sigma_z = np.where(sum_wz > 0, 1.0 / np.sqrt(np.where(sum_wz > 0, sum_wz, 1.0)), np.inf)
    vertices = PrimaryVertices(
        x=x_vertex,
        y=y_vertex,
        z=z_vertex,
        cov_xx=cov_xx,
        cov_xy=cov_xy,
        cov_yy=cov_yy,
        sigma_z=sigma_z,
        n_tracks=np.bincount(event, weights=used, minlength=n_events).astype(np.int64),
    )
    return vertices, used


def impact_parameters_wrt_vertex(tracks: FlatEvents, vertices: PrimaryVertices) -> FlatEvents:
    """Tracks with d0_mm, z0_mm (and their sigmas) taken with respect to the event's vertex.

    d0 w.r.t. a point displaced by (x, y) from the beam line is d0 + x sin(phi) - y cos(phi)
    (exact for a straight track; the curvature over tens of micrometres is negligible); the
    vertex covariance projected on the track's transverse normal adds to sigma(d0)^2 and
    sigma_z(vertex)^2 to sigma(z0)^2.
    """
    event = _event_index(tracks)
    u_x, u_y = -np.sin(tracks["phi"]), np.cos(tracks["phi"])
    d0 = tracks["d0_mm"] - (u_x * vertices.x[event] + u_y * vertices.y[event])
    z0 = tracks["z0_mm"] - vertices.z[event]
    d0_vertex_var = (
        u_x * u_x * vertices.cov_xx[event]
        + 2 * u_x * u_y * vertices.cov_xy[event]
        + u_y * u_y * vertices.cov_yy[event]
    )
    z_vertex_var = np.where(np.isfinite(vertices.sigma_z[event]), vertices.sigma_z[event] ** 2, 0.0)
    columns = dict(tracks.columns)
    columns["d0_mm"] = d0
    columns["z0_mm"] = z0
    columns["d0_sigma_mm"] = np.sqrt(tracks["d0_sigma_mm"] ** 2 + d0_vertex_var)
    columns["z0_sigma_mm"] = np.sqrt(tracks["z0_sigma_mm"] ** 2 + z_vertex_var)
    return FlatEvents(tracks.offsets, columns)
