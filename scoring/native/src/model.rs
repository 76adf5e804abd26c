//! A compiled model (built by `spec.rs` from what `scoring/engine.py` compiles): its criteria
//! by kind, normalisers and tier table, the fresh state of an account under it, and how a
//! stored state is fitted to it. Its arithmetic is in `eval.rs`.

use pyo3::prelude::*;

use crate::profile::ProfileDef;
use crate::state::{BehaviorState, ModelState};

pub(crate) struct BehaviorDef {
    pub fingerprint: u32,
    pub half_life: f64,
    pub points: Vec<f64>,
    pub signal_ids: Vec<String>,
    /// Contacts a breadth criterion needs kept (0: none counts this criterion's contacts).
    pub contact_keep: usize,
    pub contact_window: f64,
    /// weight * scale
    pub weight_scale: f64,
    pub saturation: f64,
}

pub(crate) struct BreadthDef {
    /// Position of the counted behavioral criterion.
    pub behavior: usize,
    pub window: f64,
    /// weight * scale
    pub weight_scale: f64,
    pub saturation: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Kind {
    Profile,
    Behavioral,
    Breadth,
}

/// One criterion in model order: where its numbers live and what an explanation calls it.
pub(crate) struct PlanItem {
    pub kind: Kind,
    pub index: usize, // in the list of its kind
    pub share: f64,   // norm * weight: contribution = share * score
    pub id: String,
    pub kind_name: String,
    pub weight: f64,
}

pub(crate) struct ModelDef {
    pub id: String,
    pub version: u32,
    pub scale: f64,
    pub hysteresis: f64,
    pub norm: f64,
    pub fit_norm: f64,
    pub engagement_norm: f64,
    /// Highest tier first; the last is the lowest.
    pub tier_names: Vec<String>,
    pub tier_mins: Vec<f64>,
    pub behaviors: Vec<BehaviorDef>,
    pub breadths: Vec<BreadthDef>,
    pub profile: Vec<ProfileDef>,
    pub profile_weights: Vec<f64>,
    /// The fit of an account without a profile (every profile criterion takes `missing`).
    pub no_profile_fit: Fit,
    pub plan: Vec<PlanItem>,
}

/// The scores of one model's profile criteria for a profile, and their weighted sum: they
/// depend on the profile only, so they are computed when it changes (apply, restore, rescore)
/// and never per event or per read.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fit {
    pub scores: Vec<f64>,
    pub points: f64,
}

impl Fit {
    /// Sum of weight * score, left to right from zero (as Python's loop).
    pub fn of(weights: &[f64], scores: Vec<f64>) -> Self {
        let mut points = 0.0;
        for (weight, score) in weights.iter().zip(&scores) {
            points += weight * score;
        }
        Fit { scores, points }
    }

    pub fn set(&self, ms: &mut ModelState) {
        ms.fit_scores = self.scores.clone();
        ms.fit_points = self.points;
    }
}

pub(crate) fn weighted_sum(points: &[f64], sums: &[f64]) -> f64 {
    let mut total = 0.0;
    for (p, d) in points.iter().zip(sums) {
        total += p * d;
    }
    total
}

impl ModelDef {
    /// The fit of a profile's fields (None: no profile, the same for every account).
    pub fn fit(&self, fields: Option<&Bound<'_, PyAny>>) -> PyResult<Fit> {
        if fields.is_none() {
            return Ok(self.no_profile_fit.clone());
        }
        let scores = self
            .profile
            .iter()
            .map(|c| c.score(fields, self.scale))
            .collect::<PyResult<Vec<f64>>>()?;
        Ok(Fit::of(&self.profile_weights, scores))
    }

    /// The state of an account new to this model: lowest tier, nothing counted.
    pub fn fresh_state(&self, fit: &Fit) -> ModelState {
        let behaviors = self
            .behaviors
            .iter()
            .map(|b| BehaviorState::new(b.fingerprint, b.points.len()))
            .collect();
        let mut ms = ModelState {
            model: self.id.clone(),
            version: self.version,
            tier: self.tier_names[self.tier_names.len() - 1].clone(),
            seq: 0,
            last_total: 0.0,
            behaviors,
            fit_scores: Vec::new(),
            fit_points: 0.0,
        };
        fit.set(&mut ms);
        // As if evaluated already: the previous_total of its first change is a real total.
        ms.last_total = ms.fit_points * self.norm;
        ms
    }

    /// Align `ms.behaviors` with the model: keep states by fingerprint, start others empty.
    pub fn fit_behaviors(&self, ms: &mut ModelState) {
        // The usual case, a state written under these very criteria, is in order already: no
        // map to build on every account read.
        let aligned = ms.behaviors.len() == self.behaviors.len()
            && ms.behaviors.iter().zip(&self.behaviors).all(|(bs, def)| {
                bs.fingerprint == def.fingerprint && bs.sums.len() == def.points.len()
            });
        if aligned {
            for (bs, def) in ms.behaviors.iter_mut().zip(&self.behaviors) {
                bs.weighted = weighted_sum(&def.points, &bs.sums);
            }
            return;
        }
        let mut kept: std::collections::HashMap<u32, BehaviorState> =
            std::mem::take(&mut ms.behaviors)
                .into_iter()
                .map(|bs| (bs.fingerprint, bs))
                .collect();
        ms.behaviors = self
            .behaviors
            .iter()
            .map(|def| {
                let mut bs = match kept.remove(&def.fingerprint) {
                    Some(bs) if bs.sums.len() == def.points.len() => bs,
                    _ => BehaviorState::new(def.fingerprint, def.points.len()),
                };
                bs.weighted = weighted_sum(&def.points, &bs.sums);
                bs
            })
            .collect();
    }

    /// Drop the contacts no breadth criterion can count again at `clock`.
    pub fn trim_contacts(&self, ms: &mut ModelState, clock: f64) {
        for (behavior, bs) in self.behaviors.iter().zip(ms.behaviors.iter_mut()) {
            if behavior.contact_keep > 0 {
                bs.trim_contacts(behavior.contact_keep, clock - behavior.contact_window);
            }
        }
    }
}

/// A small model for the crate's tests: tiers hot >= 60, warm >= 30, cold; hysteresis 5; one
/// behavioral criterion (half-life 1h, two signals of 10 and 5 points, saturation 20) and a
/// breadth criterion counting its contacts (saturation 2, window 1 day); norm as the engine
/// computes it for weights 1 and 1 on a scale of 100.
#[cfg(test)]
pub(crate) fn test_model() -> ModelDef {
    ModelDef {
        id: "m".into(),
        version: 1,
        scale: 100.0,
        hysteresis: 5.0,
        norm: 100.0 / (100.0 * 2.0),
        fit_norm: 0.0,
        engagement_norm: 100.0 / (100.0 * 2.0),
        tier_names: vec!["hot".into(), "warm".into(), "cold".into()],
        tier_mins: vec![60.0, 30.0, 0.0],
        behaviors: vec![BehaviorDef {
            fingerprint: 7,
            half_life: 3600.0,
            points: vec![10.0, 5.0],
            signal_ids: vec!["demo_request".into(), "pricing_view".into()],
            contact_keep: 2,
            contact_window: 86400.0,
            weight_scale: 100.0,
            saturation: 20.0,
        }],
        breadths: vec![BreadthDef {
            behavior: 0,
            window: 86400.0,
            weight_scale: 100.0,
            saturation: 2.0,
        }],
        profile: Vec::new(),
        profile_weights: Vec::new(),
        no_profile_fit: Fit::default(),
        plan: vec![
            PlanItem {
                kind: Kind::Behavioral,
                index: 0,
                share: 0.5,
                id: "intent".into(),
                kind_name: "behavioral".into(),
                weight: 1.0,
            },
            PlanItem {
                kind: Kind::Breadth,
                index: 0,
                share: 0.5,
                id: "contacts".into(),
                kind_name: "breadth".into(),
                weight: 1.0,
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fresh_state_is_in_the_lowest_tier_with_its_fit_as_total() {
        let def = test_model();
        let ms = def.fresh_state(&def.no_profile_fit);
        assert_eq!((ms.tier.as_str(), ms.seq, ms.last_total), ("cold", 0, 0.0));
        assert_eq!(ms.behaviors.len(), 1);
    }

    #[test]
    fn fitting_keeps_criteria_by_fingerprint_and_starts_others_empty() {
        let def = test_model();
        let mut ms = def.fresh_state(&def.no_profile_fit);
        ms.behaviors[0].sums = vec![1.0, 2.0];
        let mut moved = ms.clone();
        moved.behaviors.insert(0, BehaviorState::new(99, 3));
        def.fit_behaviors(&mut moved);
        assert_eq!(moved.behaviors.len(), 1);
        assert_eq!(moved.behaviors[0].sums, vec![1.0, 2.0]);
        assert_eq!(moved.behaviors[0].weighted, 20.0);
        ms.behaviors[0].fingerprint = 8;
        def.fit_behaviors(&mut ms);
        assert_eq!(ms.behaviors[0].sums, vec![0.0, 0.0]);
    }
}
