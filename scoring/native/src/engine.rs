//! `Core`: the compiled models of one `Engine` and what is done to an account's state per event
//! or per stored account: applying hits, evaluating every model, snapshots for explanations,
//! pruning and encoding. Its Python methods are in `bindings.rs`.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::codec::{encode_meta, encode_model_state};
use crate::model::{weighted_sum, Fit, ModelDef};
use crate::signals::Group;
use crate::state::{hash_id, utc_day, AccountState, CapDays, ModelState};

/// What an explanation of one model at time `t` reads, copied out of the state: most tier
/// changes are never explained (the replay's --changes file), so the copy stays native until
/// `Core.explain_snapshot` is asked for it. The profile is a reference: profiles are replaced,
/// never mutated.
#[pyclass(module = "scoring._core", frozen)]
pub struct Snapshot {
    pub(crate) model: usize,
    pub(crate) profile: Option<Py<PyAny>>,
    pub(crate) fit_scores: Vec<f64>,
    pub(crate) fit_points: f64,
    pub(crate) engagement: f64,
    pub(crate) t: f64,
    pub(crate) tier: String,
    /// Per behavioral criterion.
    pub(crate) behaviors: Vec<BehaviorMoment>,
    /// Per breadth criterion: contacts in its window at `t`.
    pub(crate) contacts: Vec<usize>,
}

/// One behavioral criterion's numbers in a `Snapshot`.
pub(crate) struct BehaviorMoment {
    pub reference: f64,
    pub weighted: f64,
    pub sums: Vec<f64>,
    pub streak: Vec<u32>,
    pub last_hit: Vec<f64>,
}

/// A tier change found by an evaluation (`outputs::TierChangeParts` carries it to Python).
pub(crate) struct Change {
    pub model: usize,
    pub seq: u32,
    pub previous_tier: String,
    pub tier: String,
    pub previous_total: f64,
    pub total: f64,
    pub fit: Option<f64>,
    pub engagement: Option<f64>,
    pub at: f64,
    pub snapshot: Snapshot,
}

/// The compiled models of one `Engine` and every per-account operation on them.
#[pyclass(module = "scoring._core", frozen)]
pub struct Core {
    pub(crate) models: Vec<ModelDef>,
    pub(crate) groups: Vec<Vec<Group>>,
    pub(crate) group_index: Py<PyDict>, // event type -> index in `groups`
    pub(crate) dedupe_window: f64,
    /// How far before the clock an event may lie and still count (at most `dedupe_window`).
    pub(crate) allowed_lateness: f64,
    pub(crate) token: u64, // unique per Core: marks the states it made or rescored
}

/// What `Core::admit` made of an event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Admission {
    Admitted,
    /// A repeat within the dedupe window: nothing changed.
    Duplicate,
    /// More than the allowed lateness before the clock, by this many seconds: nothing changed.
    TooLate(f64),
}

pub(crate) static CORES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Python's `max(a, b)` for floats: the first unless the second is greater.
pub(crate) fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

impl Core {
    pub(crate) fn aligned(&self, state: &AccountState) -> PyResult<()> {
        if state.core == self.token {
            return Ok(());
        }
        let ok = state.models.len() == self.models.len()
            && state
                .models
                .iter()
                .zip(&self.models)
                .all(|(ms, def)| ms.model == def.id);
        if ok {
            Ok(())
        } else {
            Err(PyValueError::new_err(format!(
                "state of {} was not made by this engine: rescore it first",
                state.account_id
            )))
        }
    }

    pub(crate) fn model_index(&self, model_id: &str) -> PyResult<usize> {
        self.models
            .iter()
            .position(|m| m.id == model_id)
            .ok_or_else(|| PyValueError::new_err(format!("model {model_id:?} is not loaded")))
    }

    /// What an explanation of model `index` at `t` reads (see `Snapshot`).
    fn snapshot(
        &self,
        index: usize,
        ms: &ModelState,
        t: f64,
        engagement: f64,
        tier: &str,
        profile: Option<Py<PyAny>>,
    ) -> Snapshot {
        let def = &self.models[index];
        Snapshot {
            model: index,
            profile,
            fit_scores: ms.fit_scores.clone(),
            fit_points: ms.fit_points,
            engagement,
            t,
            tier: tier.to_owned(),
            behaviors: ms
                .behaviors
                .iter()
                .map(|bs| BehaviorMoment {
                    reference: bs.reference,
                    weighted: bs.weighted,
                    sums: bs.sums.clone(),
                    streak: bs.streak.clone(),
                    last_hit: bs.last_hit.clone(),
                })
                .collect(),
            contacts: def
                .breadths
                .iter()
                .map(|b| ms.behaviors[b.behavior].recent_contacts(t - b.window))
                .collect(),
        }
    }

    /// A snapshot of `index` evaluated at `t` (the tier an evaluation at `t` would give).
    pub(crate) fn read(
        &self,
        py: Python<'_>,
        state: &AccountState,
        index: usize,
        t: f64,
    ) -> Snapshot {
        let def = &self.models[index];
        let ms = &state.models[index];
        let engagement = def.engagement_points(ms, t);
        let total = (ms.fit_points + engagement) * def.norm;
        let tier = &def.tier_names[def.tier_after(&ms.tier, total)];
        let profile = state.profile.as_ref().map(|p| p.clone_ref(py));
        self.snapshot(index, ms, t, engagement, tier, profile)
    }

    /// Evaluate every model at the clock; record totals, tiers and seq; the changes (None for
    /// none, the common case: nothing allocated).
    pub(crate) fn evaluate_all(
        &self,
        py: Python<'_>,
        state: &mut AccountState,
    ) -> Option<Vec<Change>> {
        let t = state.clock;
        let mut changes: Option<Vec<Change>> = None;
        for (index, (def, ms)) in self.models.iter().zip(state.models.iter_mut()).enumerate() {
            let engagement = def.engagement_points(ms, t);
            let total = (ms.fit_points + engagement) * def.norm;
            let previous_total = ms.last_total;
            ms.last_total = total;
            if let Some(held) = def.tier_index(&ms.tier) {
                let (lo, hi) = def.bounds(held);
                if lo <= total && total < hi {
                    continue;
                }
            }
            let tier = &def.tier_names[def.tier_after(&ms.tier, total)];
            if *tier == ms.tier {
                continue;
            }
            let previous_tier = std::mem::replace(&mut ms.tier, tier.clone());
            ms.seq += 1;
            let profile = state.profile.as_ref().map(|p| p.clone_ref(py));
            let (fit, engagement_score) = def.sub_scores(ms.fit_points, engagement);
            let snapshot = self.snapshot(index, ms, t, engagement, tier, profile);
            changes.get_or_insert_with(Vec::new).push(Change {
                model: index,
                seq: ms.seq,
                previous_tier,
                tier: tier.clone(),
                previous_total,
                total,
                fit,
                engagement: engagement_score,
                at: t,
                snapshot,
            });
        }
        changes
    }

    /// `dump`'s blobs: prunes the dedupe entries and contacts that can never count again, then
    /// encodes. The state is aligned.
    pub(crate) fn dump_state(
        &self,
        state: &mut AccountState,
    ) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
        self.prune_dedupe(state);
        let clock = state.clock;
        let oldest_day = utc_day(clock - self.allowed_lateness);
        let mut blobs = Vec::with_capacity(self.models.len());
        for (def, ms) in self.models.iter().zip(state.models.iter_mut()) {
            def.trim_contacts(ms, clock);
            for bs in ms.behaviors.iter_mut() {
                bs.forget_caps_before(oldest_day);
            }
            blobs.push(encode_model_state(ms)?);
        }
        Ok((encode_meta(state.clock, &state.dedupe), blobs))
    }

    /// The earliest `due_time` of all models (Python's min(): the first of equals).
    pub(crate) fn earliest_due_time(&self, state: &AccountState) -> Option<f64> {
        let mut due: Option<f64> = None;
        for (def, ms) in self.models.iter().zip(&state.models) {
            if let Some(t) = def.due_time(ms, state.clock) {
                if due.is_none_or(|earliest| t < earliest) {
                    due = Some(t);
                }
            }
        }
        due
    }

    pub(crate) fn prune_dedupe(&self, state: &mut AccountState) {
        let oldest = state.clock - self.dedupe_window;
        state.dedupe.retain(|_, at| *at >= oldest);
        state.dedupe_limit = 64.max(2 * state.dedupe.len());
    }

    /// Record event `event_id` at `t` and move the clock, unless it is a repeat within the
    /// dedupe window or lies more than the allowed lateness before the clock (docs/scoring.md
    /// section 3): then nothing changes. A repeat is a duplicate first, however late: it
    /// counted once already.
    pub(crate) fn admit(&self, state: &mut AccountState, event_id: &str, t: f64) -> Admission {
        let key = hash_id(event_id);
        if let Some(&seen) = state.dedupe.get(&key) {
            if seen >= state.clock - self.dedupe_window {
                return Admission::Duplicate;
            }
        }
        if t < state.clock - self.allowed_lateness {
            return Admission::TooLate(state.clock - t);
        }
        state.dedupe.insert(key, t);
        if t > state.clock {
            state.clock = t;
        }
        if state.dedupe.len() > state.dedupe_limit {
            self.prune_dedupe(state);
        }
        Admission::Admitted
    }

    /// The hits of an event at `t` on the signals of `groups` (those of its type).
    pub(crate) fn apply_hits(
        &self,
        state: &mut AccountState,
        t: f64,
        props: &Bound<'_, PyAny>,
        contact_id: Option<&str>,
        groups: &[Group],
    ) -> PyResult<()> {
        let dict = props.cast::<PyDict>().ok();
        let clock = state.clock;
        // The UTC day of the hit and the oldest one kept, for capped signals: once per event.
        let mut days: Option<CapDays> = None;
        for group in groups {
            let behavior = &self.models[group.model].behaviors[group.behavior];
            let (mut touched, mut earned, mut counted) = (false, false, false);
            for signal in &group.signals {
                if !signal.matches(dict, props)? {
                    continue;
                }
                touched = true;
                counted |= signal.positive;
                let cap = signal.cap.map(|cap| CapDays {
                    cap,
                    ..*days.get_or_insert_with(|| CapDays::of(cap, t, clock, self.allowed_lateness))
                });
                let bs = &mut state.models[group.model].behaviors[group.behavior];
                earned |= bs.hit(signal.k, t, behavior.half_life, cap);
            }
            if !touched {
                continue;
            }
            let bs = &mut state.models[group.model].behaviors[group.behavior];
            if earned {
                bs.weighted = weighted_sum(&behavior.points, &bs.sums);
            }
            if counted && behavior.contact_keep > 0 {
                if let Some(contact_id) = contact_id {
                    let contact = hash_id(contact_id);
                    if bs.contacts.get(&contact).is_none_or(|&at| at < t) {
                        bs.contacts.insert(contact, t);
                        if bs.contacts.len() > 2 * behavior.contact_keep {
                            bs.trim_contacts(
                                behavior.contact_keep,
                                clock - behavior.contact_window,
                            );
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Per model, the fit of `fields` (a profile's, or None).
    pub(crate) fn fits(&self, fields: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Fit>> {
        self.models.iter().map(|def| def.fit(fields)).collect()
    }

    /// Bring every model state to the loaded versions (see Engine.rescore); `fits` per model.
    pub(crate) fn realign(&self, state: &mut AccountState, fits: &[Fit]) {
        let mut old: Vec<ModelState> = std::mem::take(&mut state.models);
        let mut models = Vec::with_capacity(self.models.len());
        for (def, fit) in self.models.iter().zip(fits) {
            match old.iter().position(|ms| ms.model == def.id) {
                None => models.push(def.fresh_state(fit)),
                Some(position) => {
                    let mut ms = old.swap_remove(position);
                    def.fit_behaviors(&mut ms);
                    ms.version = def.version;
                    fit.set(&mut ms);
                    models.push(ms);
                }
            }
        }
        state.models = models;
        state.core = self.token;
    }
}
