//! The compiled models as `scoring/compile.py` hands them over (frozen dataclasses, read by
//! attribute), turned into the core's `ModelDef`s and signal groups.

use std::collections::HashMap;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyString;

use crate::model::{BehaviorDef, BreadthDef, Fit, Kind, ModelDef, PlanItem};
use crate::profile::ProfileDef;
use crate::signals::{compile_test, Group, SignalDef};

#[derive(FromPyObject)]
pub(crate) struct BehaviorSpec {
    fingerprint: u32,
    half_life: f64,
    points: Vec<f64>,
    contact_keep: usize,
    contact_window: f64,
    weight_scale: f64,
    saturation: f64,
    signal_ids: Vec<String>,
}

#[derive(FromPyObject)]
pub(crate) struct BreadthSpec {
    behavior: usize,
    window: f64,
    weight_scale: f64,
    saturation: f64,
}

#[derive(FromPyObject)]
pub(crate) struct ProfileSpec<'py> {
    path: Vec<Bound<'py, PyString>>,
    rule: String,
    bands: Vec<(f64, f64)>,
    table: HashMap<String, f64>,
    default: f64,
    missing: f64,
    weight: f64,
}

#[derive(FromPyObject)]
pub(crate) struct CriterionSpec {
    id: String,
    kind: String,
    index: usize,
    share: f64,
    weight: f64,
}

#[derive(FromPyObject)]
pub(crate) struct ModelSpec<'py> {
    id: String,
    version: u32,
    scale: f64,
    hysteresis: f64,
    norm: f64,
    fit_norm: f64,
    engagement_norm: f64,
    tier_names: Vec<String>,
    tier_mins: Vec<f64>,
    behaviors: Vec<BehaviorSpec>,
    breadths: Vec<BreadthSpec>,
    profile: Vec<ProfileSpec<'py>>,
    plan: Vec<CriterionSpec>,
}

#[derive(FromPyObject)]
pub(crate) struct ConditionSpec<'py> {
    property: Bound<'py, PyString>,
    op: String,
    expected: Bound<'py, PyAny>,
}

#[derive(FromPyObject)]
pub(crate) struct SignalSpec<'py> {
    index: usize,
    daily_cap: Option<u32>,
    positive: bool,
    conditions: Vec<ConditionSpec<'py>>,
}

#[derive(FromPyObject)]
pub(crate) struct GroupSpec<'py> {
    model: usize,
    behavior: usize,
    signals: Vec<SignalSpec<'py>>,
}

impl ModelSpec<'_> {
    pub fn compile(self) -> PyResult<ModelDef> {
        let id = self.id;
        if self.tier_names.is_empty() || self.tier_names.len() != self.tier_mins.len() {
            return Err(PyValueError::new_err(format!("{id}: tiers are malformed")));
        }
        let mut profile = Vec::with_capacity(self.profile.len());
        let mut profile_weights = Vec::with_capacity(self.profile.len());
        for p in self.profile {
            profile.push(ProfileDef::new(
                p.path, &p.rule, p.bands, p.table, p.default, p.missing,
            )?);
            profile_weights.push(p.weight);
        }
        // Without a profile every profile criterion takes `missing`: one fit for all.
        let missing = profile
            .iter()
            .map(|c| c.score(None, self.scale))
            .collect::<PyResult<Vec<f64>>>()?;
        let no_profile_fit = Fit::of(&profile_weights, missing);
        let behaviors = self
            .behaviors
            .into_iter()
            .map(|b| BehaviorDef {
                fingerprint: b.fingerprint,
                half_life: b.half_life,
                points: b.points,
                signal_ids: b.signal_ids,
                contact_keep: b.contact_keep,
                contact_window: b.contact_window,
                weight_scale: b.weight_scale,
                saturation: b.saturation,
            })
            .collect();
        let breadths = self
            .breadths
            .into_iter()
            .map(|b| BreadthDef {
                behavior: b.behavior,
                window: b.window,
                weight_scale: b.weight_scale,
                saturation: b.saturation,
            })
            .collect();
        let plan = self
            .plan
            .into_iter()
            .map(|c| PlanItem {
                kind: match c.kind.as_str() {
                    "behavioral" => Kind::Behavioral,
                    "breadth" => Kind::Breadth,
                    _ => Kind::Profile,
                },
                index: c.index,
                share: c.share,
                id: c.id,
                kind_name: c.kind,
                weight: c.weight,
            })
            .collect();
        Ok(ModelDef {
            id,
            version: self.version,
            scale: self.scale,
            hysteresis: self.hysteresis,
            norm: self.norm,
            fit_norm: self.fit_norm,
            engagement_norm: self.engagement_norm,
            tier_names: self.tier_names,
            tier_mins: self.tier_mins,
            behaviors,
            breadths,
            profile,
            profile_weights,
            no_profile_fit,
            plan,
        })
    }
}

impl GroupSpec<'_> {
    pub fn compile(self) -> PyResult<Group> {
        let mut signals = Vec::with_capacity(self.signals.len());
        for s in self.signals {
            let mut tests = Vec::with_capacity(s.conditions.len());
            for c in s.conditions {
                tests.push((c.property.unbind(), compile_test(&c.op, &c.expected)?));
            }
            signals.push(SignalDef {
                k: s.index,
                cap: s.daily_cap,
                positive: s.positive,
                tests,
            });
        }
        Ok(Group {
            model: self.model,
            behavior: self.behavior,
            signals,
        })
    }
}
