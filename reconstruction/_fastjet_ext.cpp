// Jet finding for the reconstruction stage, on whole chunks of events at once.
//
// fastjet's Python package does not expose fastjet-contrib's VariableRPlugin, but its wheel ships
// the contrib library and headers; this small extension links against exactly those (same
// version as the runtime `fastjet` package, pinned in pyproject.toml). Large-R clustering,
// trimming, ghost association and substructure run here as well, so that one call per batch of
// events replaces many per-jet Python round trips.
//
// Inputs are flat (columnar) arrays plus per-event offsets, outputs are flat numpy arrays plus
// offsets, which Python turns into awkward arrays without copying per jet.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <fastjet/ClusterSequence.hh>
#include <fastjet/ClusterSequenceArea.hh>
#include <fastjet/Selector.hh>
#include <fastjet/contrib/EnergyCorrelator.hh>
#include <fastjet/contrib/Nsubjettiness.hh>
#include <fastjet/contrib/VariableRPlugin.hh>
#include <fastjet/tools/Filter.hh>
#include <fastjet/tools/GridMedianBackgroundEstimator.hh>
#include <fastjet/tools/Subtractor.hh>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace py = pybind11;
namespace fj = fastjet;

namespace {

using DoubleArray = py::array_t<double, py::array::c_style | py::array::forcecast>;
using IndexArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;

// Momentum scale of ghost track jets: small enough not to move any real jet, large enough to stay
// far above floating-point underflow in the anti-kt distance.
constexpr double kGhostScale = 1e-10;

/// A batch of events given as flat four-vector components (GeV) and event offsets.
struct FourVectorBatch {
  const double* px;
  const double* py;
  const double* pz;
  const double* e;
  const int64_t* offsets;
  int64_t n_events;
  int64_t n_particles;

  FourVectorBatch(const DoubleArray& px_, const DoubleArray& py_, const DoubleArray& pz_,
                  const DoubleArray& e_, const IndexArray& offsets_, const std::string& what)
      : px(px_.data()), py(py_.data()), pz(pz_.data()), e(e_.data()), offsets(offsets_.data()) {
    if (offsets_.ndim() != 1 || offsets_.shape(0) < 1) {
      throw std::invalid_argument(what + ": offsets must be a 1-d array of length n_events + 1");
    }
    n_events = offsets_.shape(0) - 1;
    n_particles = px_.shape(0);
    if (py_.shape(0) != n_particles || pz_.shape(0) != n_particles || e_.shape(0) != n_particles) {
      throw std::invalid_argument(what + ": px, py, pz, e must have equal lengths");
    }
    if (offsets[0] != 0 || offsets[n_events] != n_particles) {
      throw std::invalid_argument(what + ": offsets must start at 0 and end at the number of particles");
    }
    for (int64_t i = 0; i < n_events; ++i) {
      if (offsets[i + 1] < offsets[i]) throw std::invalid_argument(what + ": offsets must not decrease");
    }
  }

  /// Particles of one event; user_index = index within the event.
  std::vector<fj::PseudoJet> event(int64_t i) const {
    std::vector<fj::PseudoJet> particles;
    particles.reserve(static_cast<size_t>(offsets[i + 1] - offsets[i]));
    for (int64_t k = offsets[i]; k < offsets[i + 1]; ++k) {
      fj::PseudoJet p(px[k], py[k], pz[k], e[k]);
      p.set_user_index(static_cast<int>(k - offsets[i]));
      particles.push_back(p);
    }
    return particles;
  }
};

template <typename T>
py::array_t<T> to_numpy(const std::vector<T>& values) {
  py::array_t<T> out(static_cast<py::ssize_t>(values.size()));
  std::copy(values.begin(), values.end(), out.mutable_data());
  return out;
}

/// A variable-R track jet with the indices (within the event) of its tracks.
struct TrackJet {
  fj::PseudoJet momentum;
  std::vector<int64_t> track_index;
};

/// Anti-kt variable-R clustering (Krohn, Thaler, Wang, JHEP 06 (2009) 059) of one event.
std::vector<TrackJet> cluster_variable_r_event(const std::vector<fj::PseudoJet>& tracks,
                                               const fj::JetDefinition& vr_definition,
                                               double pt_min, int min_constituents) {
  std::vector<TrackJet> result;
  if (tracks.empty()) return result;
  fj::ClusterSequence sequence(tracks, vr_definition);
  for (const fj::PseudoJet& jet : fj::sorted_by_pt(sequence.inclusive_jets(pt_min))) {
    std::vector<fj::PseudoJet> constituents = jet.constituents();
    if (static_cast<int>(constituents.size()) < min_constituents) continue;
    TrackJet tj;
    tj.momentum = fj::PseudoJet(jet.px(), jet.py(), jet.pz(), jet.E());
    for (const fj::PseudoJet& c : constituents) tj.track_index.push_back(c.user_index());
    std::sort(tj.track_index.begin(), tj.track_index.end());
    result.push_back(std::move(tj));
  }
  return result;
}

py::dict cluster_variable_r(const DoubleArray& px, const DoubleArray& py_, const DoubleArray& pz,
                            const DoubleArray& e, const IndexArray& offsets, double rho_gev,
                            double r_min, double r_max, double pt_min_gev, int min_constituents) {
  FourVectorBatch batch(px, py_, pz, e, offsets, "tracks");
  fj::contrib::VariableRPlugin plugin(rho_gev, r_min, r_max, fj::contrib::VariableRPlugin::AKTLIKE);
  fj::JetDefinition definition(&plugin);

  std::vector<int64_t> jet_offsets{0}, constituent_offsets{0}, constituent_index;
  std::vector<double> jpx, jpy, jpz, je;
  for (int64_t i = 0; i < batch.n_events; ++i) {
    for (const TrackJet& tj : cluster_variable_r_event(batch.event(i), definition, pt_min_gev, min_constituents)) {
      jpx.push_back(tj.momentum.px());
      jpy.push_back(tj.momentum.py());
      jpz.push_back(tj.momentum.pz());
      je.push_back(tj.momentum.E());
      constituent_index.insert(constituent_index.end(), tj.track_index.begin(), tj.track_index.end());
      constituent_offsets.push_back(static_cast<int64_t>(constituent_index.size()));
    }
    jet_offsets.push_back(static_cast<int64_t>(jpx.size()));
  }
  py::dict out;
  out["jet_offsets"] = to_numpy(jet_offsets);
  out["px"] = to_numpy(jpx);
  out["py"] = to_numpy(jpy);
  out["pz"] = to_numpy(jpz);
  out["e"] = to_numpy(je);
  out["constituent_offsets"] = to_numpy(constituent_offsets);
  out["constituent_index"] = to_numpy(constituent_index);
  return out;
}

/// Columns of the large-R jet output, filled event by event.
struct LargeRColumns {
  std::vector<int64_t> event, n_constituents;
  std::vector<double> pt, eta, phi, mass;                          // trimmed
  std::vector<double> ungroomed_pt, ungroomed_eta, ungroomed_phi, ungroomed_mass;
  std::vector<double> d2, c2, tau21, tau32, sqrt_d12;
  std::vector<int64_t> track_jet_offsets{0};
  std::vector<double> tj_px, tj_py, tj_pz, tj_e;
  std::vector<int64_t> tj_track_offsets{0}, tj_track_index;
};

struct Substructure {
  double d2 = 0, c2 = 0, tau21 = 0, tau32 = 0, sqrt_d12 = 0;
};

/// Substructure of the (trimmed) jet from its constituents.
///
/// D2 and C2 (Larkoski, Moult, Neill, JHEP 12 (2014) 009; Larkoski, Salam, Thaler, JHEP 06 (2013)
/// 108) from the pt_R energy correlation functions, computed once and combined here;
/// N-subjettiness ratios with winner-take-all kt axes (Thaler, Van Tilburg, JHEP 03 (2011) 015);
/// sqrt(d12) = min(pT1, pT2) * DeltaR12 of the last kt merging (Butterworth, Cox, Forshaw, PRD 65
/// (2002) 096014), taken with a radius large enough that no constituent merges with the beam.
Substructure substructure(const fj::PseudoJet& jet, double beta) {
  Substructure s;
  const std::vector<fj::PseudoJet> constituents = jet.constituents();
  if (constituents.size() < 2) return s;
  const fj::contrib::EnergyCorrelator ecf1(1, beta, fj::contrib::EnergyCorrelator::pt_R);
  const fj::contrib::EnergyCorrelator ecf2(2, beta, fj::contrib::EnergyCorrelator::pt_R);
  const fj::contrib::EnergyCorrelator ecf3(3, beta, fj::contrib::EnergyCorrelator::pt_R);
  const double e1 = ecf1(jet), e2 = ecf2(jet), e3 = ecf3(jet);
  if (e2 > 0) {
    s.d2 = e3 * e1 * e1 * e1 / (e2 * e2 * e2);
    s.c2 = e3 * e1 / (e2 * e2);
  }
  const fj::contrib::Nsubjettiness tau1(1, fj::contrib::WTA_KT_Axes(), fj::contrib::UnnormalizedMeasure(beta));
  const fj::contrib::Nsubjettiness tau2(2, fj::contrib::WTA_KT_Axes(), fj::contrib::UnnormalizedMeasure(beta));
  const fj::contrib::Nsubjettiness tau3(3, fj::contrib::WTA_KT_Axes(), fj::contrib::UnnormalizedMeasure(beta));
  const double t1 = tau1(jet), t2 = tau2(jet);
  s.tau21 = t1 > 0 ? t2 / t1 : 0.0;
  // Three axes need three constituents; with two, tau3 is zero by construction.
  const double t3 = constituents.size() >= 3 ? tau3(jet) : 0.0;
  s.tau32 = t2 > 0 ? t3 / t2 : 0.0;
  fj::ClusterSequence kt_sequence(constituents, fj::JetDefinition(fj::kt_algorithm, fj::JetDefinition::max_allowable_R));
  const std::vector<fj::PseudoJet> two = kt_sequence.exclusive_jets(2);
  s.sqrt_d12 = std::min(two[0].pt(), two[1].pt()) * two[0].delta_R(two[1]);
  return s;
}

/// Seeds of fastjet's ghost generator, restored before the ghosts of every event are made.
const std::vector<int> kGhostSeeds{12345, 67890};

/// user_index of the ghost of track jet k; fastjet's own area ghosts keep the default -1.
int track_jet_ghost_index(size_t k) { return -static_cast<int>(k) - 2; }

py::dict reconstruct_large_r_jets(const DoubleArray& tower_px, const DoubleArray& tower_py,
                                  const DoubleArray& tower_pz, const DoubleArray& tower_e,
                                  const IndexArray& tower_offsets, const DoubleArray& track_px,
                                  const DoubleArray& track_py, const DoubleArray& track_pz,
                                  const DoubleArray& track_e, const IndexArray& track_offsets,
                                  double radius, double trim_r_sub, double trim_f_cut,
                                  double pt_min_gev, double abs_eta_max, double energy_scale,
                                  double mass_scale, double vr_rho_gev,
                                  double vr_r_min, double vr_r_max, double vr_pt_min_gev,
                                  int vr_min_tracks, double beta, bool subtract_pileup,
                                  double rho_rapidity_max, double rho_grid_spacing,
                                  double ghost_area, double candidate_tower_pt_min) {
  FourVectorBatch towers(tower_px, tower_py, tower_pz, tower_e, tower_offsets, "towers");
  FourVectorBatch tracks(track_px, track_py, track_pz, track_e, track_offsets, "tracks");
  if (towers.n_events != tracks.n_events) {
    throw std::invalid_argument("towers and tracks must describe the same number of events");
  }
  if (!(energy_scale > 0) || !(mass_scale > 0)) {
    throw std::invalid_argument("energy_scale and mass_scale must be positive");
  }
  const fj::JetDefinition large_r_definition(fj::antikt_algorithm, radius);
  fj::contrib::VariableRPlugin plugin(vr_rho_gev, vr_r_min, vr_r_max, fj::contrib::VariableRPlugin::AKTLIKE);
  const fj::JetDefinition vr_definition(&plugin);
  // Trimming (Krohn, Thaler, Wang, JHEP 02 (2010) 084): keep kt subjets above f_cut of the jet pT.
  const fj::Filter trimmer(fj::JetDefinition(fj::kt_algorithm, trim_r_sub), fj::SelectorPtFractionMin(trim_f_cut));
  // Pile-up: area-based subtraction of the subjets before the f_cut selection (Cacciari, Salam,
  // JHEP 04 (2008) 005; Filter's subtractor), rho = median pT/area of the towers in a rapidity-phi
  // grid (GridMedianBackgroundEstimator). Subjet areas come from explicit ghosts (active area).
  if (subtract_pileup && !(ghost_area > 0 && rho_grid_spacing > 0 && rho_rapidity_max > 0)) {
    throw std::invalid_argument("pile-up subtraction needs positive ghost_area, rho_grid_spacing, rho_rapidity_max");
  }
  // Candidate jets can only lose pT to trimming and subtraction, and their axis moves little.
  const double candidate_pt_min = pt_min_gev / energy_scale;
  const double candidate_abs_eta_max = abs_eta_max + 0.5;
  fj::GridMedianBackgroundEstimator rho_estimator(rho_rapidity_max > 0 ? rho_rapidity_max : 2.5,
                                                  rho_grid_spacing > 0 ? rho_grid_spacing : 0.55);
  fj::Subtractor subtractor(&rho_estimator);
  subtractor.set_use_rho_m(true);
  subtractor.set_safe_mass(true);
  std::vector<double> rho_per_event;

  LargeRColumns out;
  for (int64_t i = 0; i < towers.n_events; ++i) {
    std::vector<fj::PseudoJet> inputs = towers.event(i);
    const std::vector<TrackJet> track_jets =
        cluster_variable_r_event(tracks.event(i), vr_definition, vr_pt_min_gev, vr_min_tracks);
    // Ghost association (Cacciari, Salam, Soyez, JHEP 04 (2008) 005): track jets enter the
    // large-R clustering with negligible momentum and user_index -(k+1).
    const size_t n_towers = inputs.size();
    if (subtract_pileup) {
      rho_estimator.set_particles(inputs);
      rho_per_event.push_back(n_towers ? rho_estimator.rho() : 0.0);
    } else {
      rho_per_event.push_back(0.0);
    }
    for (size_t k = 0; k < track_jets.size(); ++k) {
      fj::PseudoJet ghost = track_jets[k].momentum * kGhostScale;
      ghost.set_user_index(track_jet_ghost_index(k));
      inputs.push_back(ghost);
    }
    if (n_towers == 0) continue;
    std::unique_ptr<fj::ClusterSequence> sequence_ptr;
    if (!subtract_pileup) {
      sequence_ptr = std::make_unique<fj::ClusterSequence>(inputs, large_r_definition);
    } else {
      // With pile-up every tower is filled and anti-kt R = 1.0 over ~5000 towers plus area ghosts
      // would dominate the time. Two passes instead:
      //  1. candidate axes: anti-kt on the towers above candidate_tower_pt_min only (the hard
      //     jets' cores; pile-up towers rarely pass), jets above half the pre-selection pT;
      //  2. anti-kt with explicit area ghosts on the towers within R + 0.5 of a candidate axis,
      //     ghosts in discs of R + 0.3 around the axes. An anti-kt jet of a hard jet only takes
      //     towers within R of its axis, so the towers further out cannot change it, and the
      //     ghost discs cover its whole area.
      std::vector<fj::PseudoJet> hard_towers;
      for (size_t k = 0; k < n_towers; ++k) {
        if (inputs[k].pt() > candidate_tower_pt_min) hard_towers.push_back(inputs[k]);
      }
      std::vector<fj::PseudoJet> axes;
      if (!hard_towers.empty()) {
        fj::ClusterSequence seeds(hard_towers, large_r_definition);
        for (const fj::PseudoJet& jet : seeds.inclusive_jets(0.5 * candidate_pt_min)) {
          if (std::abs(jet.eta()) <= candidate_abs_eta_max) axes.push_back(jet);
        }
      }
      if (axes.empty()) continue;
      const double keep_r2 = (radius + 0.5) * (radius + 0.5);
      std::vector<fj::PseudoJet> near_axes;
      for (size_t k = 0; k < n_towers; ++k) {
        for (const fj::PseudoJet& axis : axes) {
          if (inputs[k].squared_distance(axis) < keep_r2) {
            near_axes.push_back(inputs[k]);
            break;
          }
        }
      }
      for (size_t k = n_towers; k < inputs.size(); ++k) near_axes.push_back(inputs[k]);  // track jets
      fj::Selector region;
      for (size_t a = 0; a < axes.size(); ++a) {
        fj::Selector disc = fj::SelectorCircle(radius + 0.3);
        disc.set_reference(axes[a]);
        region = a == 0 ? disc : (region || disc);
      }
      fj::GhostedAreaSpec ghost_spec(region, 1, ghost_area);
      // The ghosts' random scatter comes from fastjet's process-wide generator: reset it for
      // every event, so that an event's ghosts never depend on what ran before it.
      ghost_spec.set_random_status(kGhostSeeds);
      const fj::AreaDefinition area_definition(fj::active_area_explicit_ghosts, ghost_spec);
      sequence_ptr = std::make_unique<fj::ClusterSequenceArea>(near_axes, large_r_definition, area_definition);
    }
    fj::ClusterSequence& sequence = *sequence_ptr;
    // Trimming only lowers pT, so the untrimmed cut is a safe pre-selection. Calibration (as
    // ATLAS's JES and JMS): the trimmed jet pT (and sqrt(d12)) are multiplied by energy_scale,
    // its mass by mass_scale; directions are unchanged.
    struct Selected {
      fj::PseudoJet ungroomed, trimmed;
      std::vector<int> ghosts;
    };
    std::vector<Selected> selected;
    for (const fj::PseudoJet& jet : sequence.inclusive_jets(candidate_pt_min)) {
      std::vector<fj::PseudoJet> real;
      std::vector<int> ghosts;
      for (const fj::PseudoJet& c : jet.constituents()) {
        if (c.user_index() >= 0) {
          real.push_back(c);
        } else if (c.user_index() <= -2) {
          ghosts.push_back(-c.user_index() - 2);
        }  // -1: an area ghost
      }
      if (real.empty()) continue;
      const fj::PseudoJet ungroomed = fj::join(real);
      fj::PseudoJet trimmed;
      if (subtract_pileup) {
        // Subjets subtracted before the f_cut selection, and f_cut taken relative to the
        // subtracted jet pT (fastjet's Filter would take the unsubtracted jet as reference, whose
        // pT at mu = 200 is several times the hard jet's). The jet keeps its area ghosts.
        const double reference_pt = std::max(0.0, subtractor(jet).pt());
        fj::Filter jet_trimmer(fj::JetDefinition(fj::kt_algorithm, trim_r_sub),
                               fj::SelectorPtMin(trim_f_cut * reference_pt));
        jet_trimmer.set_subtractor(&subtractor);
        trimmed = jet_trimmer(jet);
      } else {
        trimmed = trimmer(ungroomed);
      }
      if (energy_scale * trimmed.pt() < pt_min_gev || std::abs(trimmed.eta()) > abs_eta_max) continue;
      std::sort(ghosts.begin(), ghosts.end());  // track jets are already in decreasing pT
      selected.push_back({ungroomed, trimmed, ghosts});
    }
    std::sort(selected.begin(), selected.end(),
              [](const Selected& a, const Selected& b) { return a.trimmed.pt2() > b.trimmed.pt2(); });
    for (const Selected& s : selected) {
      // Substructure from the towers of the kept subjets (no area or track-jet ghosts).
      std::vector<fj::PseudoJet> trimmed_towers;
      for (const fj::PseudoJet& c : s.trimmed.constituents()) {
        if (c.user_index() >= 0) trimmed_towers.push_back(c);
      }
      const Substructure sub = trimmed_towers.empty() ? Substructure() : substructure(fj::join(trimmed_towers), beta);
      out.event.push_back(i);
      out.n_constituents.push_back(static_cast<int64_t>(trimmed_towers.size()));
      out.pt.push_back(energy_scale * s.trimmed.pt());
      out.eta.push_back(s.trimmed.eta());
      out.phi.push_back(s.trimmed.phi_std());
      out.mass.push_back(mass_scale * std::max(0.0, s.trimmed.m()));
      out.ungroomed_pt.push_back(s.ungroomed.pt());
      out.ungroomed_eta.push_back(s.ungroomed.eta());
      out.ungroomed_phi.push_back(s.ungroomed.phi_std());
      out.ungroomed_mass.push_back(std::max(0.0, s.ungroomed.m()));
      out.d2.push_back(sub.d2);
      out.c2.push_back(sub.c2);
      out.tau21.push_back(sub.tau21);
      out.tau32.push_back(sub.tau32);
      out.sqrt_d12.push_back(energy_scale * sub.sqrt_d12);
      for (int k : s.ghosts) {
        const TrackJet& tj = track_jets[static_cast<size_t>(k)];
        out.tj_px.push_back(tj.momentum.px());
        out.tj_py.push_back(tj.momentum.py());
        out.tj_pz.push_back(tj.momentum.pz());
        out.tj_e.push_back(tj.momentum.E());
        out.tj_track_index.insert(out.tj_track_index.end(), tj.track_index.begin(), tj.track_index.end());
        out.tj_track_offsets.push_back(static_cast<int64_t>(out.tj_track_index.size()));
      }
      out.track_jet_offsets.push_back(static_cast<int64_t>(out.tj_px.size()));
    }
  }

  py::dict result;
  result["rho"] = to_numpy(rho_per_event);
  result["event"] = to_numpy(out.event);
  result["n_constituents"] = to_numpy(out.n_constituents);
  result["pt"] = to_numpy(out.pt);
  result["eta"] = to_numpy(out.eta);
  result["phi"] = to_numpy(out.phi);
  result["mass"] = to_numpy(out.mass);
  result["ungroomed_pt"] = to_numpy(out.ungroomed_pt);
  result["ungroomed_eta"] = to_numpy(out.ungroomed_eta);
  result["ungroomed_phi"] = to_numpy(out.ungroomed_phi);
  result["ungroomed_mass"] = to_numpy(out.ungroomed_mass);
  result["d2"] = to_numpy(out.d2);
  result["c2"] = to_numpy(out.c2);
  result["tau21"] = to_numpy(out.tau21);
  result["tau32"] = to_numpy(out.tau32);
  result["sqrt_d12"] = to_numpy(out.sqrt_d12);
  result["track_jet_offsets"] = to_numpy(out.track_jet_offsets);
  result["track_jet_px"] = to_numpy(out.tj_px);
  result["track_jet_py"] = to_numpy(out.tj_py);
  result["track_jet_pz"] = to_numpy(out.tj_pz);
  result["track_jet_e"] = to_numpy(out.tj_e);
  result["track_jet_track_offsets"] = to_numpy(out.tj_track_offsets);
  result["track_jet_track_index"] = to_numpy(out.tj_track_index);
  return result;
}

}  // namespace

PYBIND11_MODULE(_fastjet_ext, m) {
  m.doc() = "fastjet + fastjet-contrib (VariableRPlugin, EnergyCorrelator, Nsubjettiness) on batches of events";
  // The banner would otherwise go to stdout on first use, into every log.
  fj::ClusterSequence::set_fastjet_banner_stream(nullptr);
  m.def("cluster_variable_r", &cluster_variable_r, py::arg("px"), py::arg("py"), py::arg("pz"),
        py::arg("e"), py::arg("offsets"), py::arg("rho_gev"), py::arg("r_min"), py::arg("r_max"),
        py::arg("pt_min_gev"), py::arg("min_constituents"),
        "Anti-kt variable-R jets of each event (VariableRPlugin); constituent indices within the event.");
  m.def("reconstruct_large_r_jets", &reconstruct_large_r_jets, py::arg("tower_px"), py::arg("tower_py"),
        py::arg("tower_pz"), py::arg("tower_e"), py::arg("tower_offsets"), py::arg("track_px"),
        py::arg("track_py"), py::arg("track_pz"), py::arg("track_e"), py::arg("track_offsets"),
        py::arg("radius"), py::arg("trim_r_sub"), py::arg("trim_f_cut"), py::arg("pt_min_gev"),
        py::arg("abs_eta_max"), py::arg("energy_scale"), py::arg("mass_scale"), py::arg("vr_rho_gev"), py::arg("vr_r_min"), py::arg("vr_r_max"),
        py::arg("vr_pt_min_gev"), py::arg("vr_min_tracks"), py::arg("beta"),
        py::arg("subtract_pileup"), py::arg("rho_rapidity_max"), py::arg("rho_grid_spacing"),
        py::arg("ghost_area"), py::arg("candidate_tower_pt_min"),
        "Trimmed anti-kt large-R jets with substructure and ghost-associated VR track jets.");
  m.attr("FASTJET_VERSION") = fj::fastjet_version_string();
}
