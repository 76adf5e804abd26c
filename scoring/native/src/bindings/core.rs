//! `Core`'s Python methods: each converts its arguments, calls the pure Rust of the other
//! modules, and returns the frozen classes of `outputs.rs`.

use indexmap::IndexMap;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyString, PyTuple};

use crate::codec::{decode_meta, decode_model_state};
use crate::engine::{py_max, Admission, Core, Snapshot, CORES};
use crate::model::Kind;
use crate::outputs::{
    changes_tuple, DumpedState, DumpedStates, EventResult, ExplanationParts, ScoreParts,
};
use crate::profile::profile_fields;
use crate::spec::{GroupSpec, ModelSpec};
use crate::state::AccountState;

use super::value_error;

#[pymethods]
impl Core {
    /// `models`: per model in engine order, a `scoring.compile.ModelSpec`; `groups`: event type
    /// -> its `GroupSpec`s (read by attribute: see scoring/compile.py for each field).
    #[new]
    fn py_new(
        py: Python<'_>,
        models: Vec<ModelSpec<'_>>,
        groups: &Bound<'_, PyDict>,
        dedupe_window: f64,
        allowed_lateness: f64,
    ) -> PyResult<Self> {
        let models = models
            .into_iter()
            .map(ModelSpec::compile)
            .collect::<PyResult<Vec<_>>>()?;
        let group_index = PyDict::new(py);
        let mut all_groups = Vec::with_capacity(groups.len());
        for (event_type, specs) in groups.iter() {
            let specs: Vec<GroupSpec<'_>> = specs.extract()?;
            group_index.set_item(event_type, all_groups.len())?;
            all_groups.push(
                specs
                    .into_iter()
                    .map(GroupSpec::compile)
                    .collect::<PyResult<Vec<_>>>()?,
            );
        }
        Ok(Core {
            models,
            groups: all_groups,
            group_index: group_index.unbind(),
            dedupe_window,
            allowed_lateness,
            token: CORES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// An account never seen: clock at -inf, lowest tier under every model.
    fn new_account(&self, account_id: String) -> AccountState {
        let mut state = AccountState::empty(account_id, f64::NEG_INFINITY);
        state.models = self
            .models
            .iter()
            .map(|def| def.fresh_state(&def.no_profile_fit))
            .collect();
        state.core = self.token;
        state
    }

    /// Rebuild an account from `dump`'s blobs (`blobs` per model, None for none) and its
    /// stored profile (a Python `Profile` or None). ValueError on a corrupt blob.
    fn restore(
        &self,
        account_id: String,
        meta: Option<&[u8]>,
        blobs: Vec<Option<Vec<u8>>>,
        profile: Option<Bound<'_, PyAny>>,
    ) -> PyResult<AccountState> {
        let fits = self.fits(profile_fields(profile.as_ref())?.as_ref())?;
        let (clock, dedupe) = match meta {
            None => (f64::NEG_INFINITY, IndexMap::new()),
            Some(blob) => decode_meta(blob).map_err(value_error)?,
        };
        let mut models = Vec::with_capacity(self.models.len());
        for ((def, blob), fit) in self.models.iter().zip(&blobs).zip(&fits) {
            let ms = match blob {
                None => {
                    let mut ms = def.fresh_state(fit);
                    if meta.is_some() {
                        // A model new to a known account: version 0 makes it need a rescore.
                        ms.version = 0;
                    }
                    ms
                }
                Some(blob) => {
                    let mut ms = decode_model_state(&def.id, blob).map_err(value_error)?;
                    def.fit_behaviors(&mut ms);
                    fit.set(&mut ms);
                    ms
                }
            };
            models.push(ms);
        }
        let mut state = AccountState::empty(account_id, clock);
        state.profile = profile.filter(|p| !p.is_none()).map(Bound::unbind);
        state.dedupe_limit = 2 * dedupe.len();
        state.dedupe = dedupe;
        state.models = models;
        state.core = self.token;
        Ok(state)
    }

    /// The meta blob and each model's blob, after pruning what can never count again.
    fn dump(&self, py: Python<'_>, state: &mut AccountState) -> PyResult<DumpedState> {
        self.aligned(state)?;
        let (meta, blobs) = self.dump_state(state).map_err(value_error)?;
        let blobs = blobs.iter().map(|blob| PyBytes::new(py, blob));
        Ok(DumpedState {
            meta: PyBytes::new(py, &meta).unbind(),
            blobs: PyTuple::new(py, blobs)?.unbind(),
        })
    }

    /// Each state's dump, standings and due time in one call (see `DumpedStates`). With
    /// `models` (indexes in load order), only those models' blobs, tiers and totals, in that
    /// order, and no meta blobs. Equal to `dump`, `next_tier_change_time` and `standing` state
    /// by state.
    #[pyo3(signature = (states, models = None))]
    fn dump_many<'py>(
        &self,
        py: Python<'py>,
        mut states: Vec<PyRefMut<'py, AccountState>>,
        models: Option<Vec<usize>>,
    ) -> PyResult<DumpedStates> {
        let whole = models.is_none();
        let chosen = models.unwrap_or_else(|| (0..self.models.len()).collect());
        if let Some(bad) = chosen.iter().find(|index| **index >= self.models.len()) {
            return Err(value_error(format!("no loaded model at index {bad}")));
        }
        let mut metas = Vec::with_capacity(if whole { states.len() } else { 0 });
        let mut blobs = Vec::with_capacity(states.len());
        let mut due_times = Vec::with_capacity(8 * states.len());
        let mut tiers = vec![Vec::with_capacity(states.len()); chosen.len()];
        let mut totals = vec![Vec::with_capacity(8 * states.len()); chosen.len()];
        for state in states.iter_mut() {
            let state: &mut AccountState = state;
            self.aligned(state)?;
            let (meta, model_blobs) = self.dump_state(state).map_err(value_error)?;
            if whole {
                metas.push(PyBytes::new(py, &meta));
            }
            let picked = chosen.iter().map(|i| PyBytes::new(py, &model_blobs[*i]));
            blobs.push(PyTuple::new(py, picked)?);
            // NaN means "none" to the reader: `due_time` never gives NaN (a NaN clock keeps
            // the tier and is not finite, so it has no due time).
            let due = self.earliest_due_time(state).unwrap_or(f64::NAN);
            due_times.extend_from_slice(&due.to_le_bytes());
            for (column, index) in chosen.iter().enumerate() {
                let (def, ms) = (&self.models[*index], &state.models[*index]);
                let tier = def.tier_index(&ms.tier).ok_or_else(|| {
                    value_error(format!(
                        "state of {} holds tier {:?}, which model {:?} does not have",
                        state.account_id, ms.tier, def.id
                    ))
                })?;
                // At most 254 tiers (the loader's rule), so an index fits a byte.
                tiers[column].push(tier as u8);
                totals[column].extend_from_slice(&ms.last_total.to_le_bytes());
            }
        }
        let packed = |columns: Vec<Vec<u8>>| {
            PyTuple::new(py, columns.iter().map(|c| PyBytes::new(py, c))).map(Bound::unbind)
        };
        Ok(DumpedStates {
            metas: if whole {
                Some(PyTuple::new(py, metas)?.unbind())
            } else {
                None
            },
            blobs: PyTuple::new(py, blobs)?.unbind(),
            due_times: PyBytes::new(py, &due_times).unbind(),
            tiers: packed(tiers)?,
            totals: packed(totals)?,
        })
    }

    /// Per state, the index of each loaded model's tier in that model's tiers, a byte per model
    /// in load order: 255 where the state holds no such model or a tier the model does not
    /// have (a state of an older version).
    fn tier_indexes<'py>(
        &self,
        py: Python<'py>,
        states: Vec<PyRef<'py, AccountState>>,
    ) -> Vec<Bound<'py, PyBytes>> {
        let mut indexes = Vec::with_capacity(self.models.len());
        states
            .iter()
            .map(|state| {
                indexes.clear();
                for (index, def) in self.models.iter().enumerate() {
                    let held = match state.models.get(index) {
                        Some(ms) if ms.model == def.id => Some(ms),
                        _ => state.models.iter().find(|ms| ms.model == def.id),
                    };
                    let tier = held.and_then(|ms| def.tier_index(&ms.tier));
                    indexes.push(tier.filter(|t| *t < 255).map_or(255, |t| t as u8));
                }
                PyBytes::new(py, &indexes)
            })
            .collect()
    }

    /// Ids of the loaded models whose state `rescore` would bring to the loaded version (computed
    /// under another version, or new to the account); every model for a state of other models.
    fn stale_models(&self, state: &AccountState) -> Vec<String> {
        let aligned = state.models.len() == self.models.len();
        self.models
            .iter()
            .enumerate()
            .filter(|(i, def)| {
                !aligned || {
                    let ms = &state.models[*i];
                    ms.model != def.id || ms.version != def.version
                }
            })
            .map(|(_, def)| def.id.clone())
            .collect()
    }

    /// True when some model state was computed under another version of its model.
    fn needs_rescore(&self, state: &AccountState) -> bool {
        state.models.len() != self.models.len()
            || state
                .models
                .iter()
                .zip(&self.models)
                .any(|(ms, def)| ms.model != def.id || ms.version != def.version)
    }

    /// Apply one event (a `scoring.messages.Event`). The caller has checked the account id.
    fn apply_event(
        &self,
        py: Python<'_>,
        state: &mut AccountState,
        event: &Bound<'_, PyAny>,
    ) -> PyResult<Py<EventResult>> {
        self.aligned(state)?;
        let event_id = event.getattr(intern!(py, "event_id"))?;
        let t: f64 = event.getattr(intern!(py, "occurred_at"))?.extract()?;
        match self.admit(state, event_id.cast::<PyString>()?.to_str()?, t) {
            Admission::Admitted => {}
            Admission::Duplicate => return EventResult::duplicate(py),
            Admission::TooLate(lateness) => return EventResult::too_late(py, lateness),
        }
        let event_type = event.getattr(intern!(py, "type"))?;
        if let Some(index) = self.group_index.bind(py).get_item(&event_type)? {
            let groups = &self.groups[index.extract::<usize>()?];
            let props = event.getattr(intern!(py, "properties"))?;
            let contact = event.getattr(intern!(py, "contact_id"))?;
            let contact_id = if contact.is_none() {
                None
            } else {
                Some(contact.cast::<PyString>()?.to_str()?)
            };
            self.apply_hits(state, t, &props, contact_id, groups)?;
        }
        match self.evaluate_all(py, state) {
            None => EventResult::unchanged(py),
            Some(changes) => Py::new(py, EventResult::new(py, false, changes)?),
        }
    }

    /// Replace the profile, move the clock to max(clock, updated_at), refit, evaluate.
    fn apply_profile(
        &self,
        py: Python<'_>,
        state: &mut AccountState,
        profile: Bound<'_, PyAny>,
        updated_at: f64,
    ) -> PyResult<Py<PyTuple>> {
        self.aligned(state)?;
        let fits = self.fits(profile_fields(Some(&profile))?.as_ref())?;
        state.profile = Some(profile.unbind());
        state.clock = py_max(state.clock, updated_at);
        for (ms, fit) in state.models.iter_mut().zip(&fits) {
            fit.set(ms);
        }
        self.changes(py, state)
    }

    /// Move the clock to max(clock, at) and evaluate every model.
    fn evaluate(&self, py: Python<'_>, state: &mut AccountState, at: f64) -> PyResult<Py<PyTuple>> {
        self.aligned(state)?;
        state.clock = py_max(state.clock, at);
        self.changes(py, state)
    }

    /// Bring every model state to the loaded versions (see Engine.rescore) and evaluate.
    fn rescore(&self, py: Python<'_>, state: &mut AccountState) -> PyResult<Py<PyTuple>> {
        let fields = profile_fields(state.profile.as_ref().map(|p| p.bind(py)))?;
        let fits = self.fits(fields.as_ref())?;
        self.realign(state, &fits);
        self.changes(py, state)
    }

    /// (tier, total) of the latest evaluation of `model`.
    fn standing(&self, state: &AccountState, model: &str) -> PyResult<(String, f64)> {
        self.aligned(state)?;
        let ms = &state.models[self.model_index(model)?];
        Ok((ms.tier.clone(), ms.last_total))
    }

    /// The score of `model` at `t`; nothing is mutated.
    fn score(&self, state: &AccountState, model: &str, t: f64) -> PyResult<ScoreParts> {
        self.aligned(state)?;
        let index = self.model_index(model)?;
        let def = &self.models[index];
        let ms = &state.models[index];
        let engagement = def.engagement_points(ms, t);
        let total = (ms.fit_points + engagement) * def.norm;
        let tier = def.tier_names[def.tier_after(&ms.tier, total)].clone();
        let criteria = def
            .plan
            .iter()
            .map(|item| {
                let i = item.index;
                let score = match item.kind {
                    Kind::Behavioral => {
                        let bs = &ms.behaviors[i];
                        def.behavioral_score(i, bs.weighted, bs.reference, t).0
                    }
                    Kind::Breadth => {
                        let b = &def.breadths[i];
                        let n = ms.behaviors[b.behavior].recent_contacts(t - b.window);
                        def.breadth_score(i, n)
                    }
                    Kind::Profile => ms.fit_scores[i],
                };
                (item.id.clone(), score)
            })
            .collect();
        let (fit, engagement) = def.sub_scores(ms.fit_points, engagement);
        Ok(ScoreParts {
            total,
            fit,
            engagement,
            tier,
            criteria,
        })
    }

    /// The explanation of `model` at `t`; nothing is mutated.
    fn explain(
        &self,
        py: Python<'_>,
        state: &AccountState,
        model: &str,
        t: f64,
    ) -> PyResult<ExplanationParts> {
        self.aligned(state)?;
        let index = self.model_index(model)?;
        let snap = self.read(py, state, index, t);
        self.explanation(py, &snap)
    }

    /// The explanation of a tier change's snapshot.
    fn explain_snapshot(&self, py: Python<'_>, snapshot: &Snapshot) -> PyResult<ExplanationParts> {
        self.explanation(py, snapshot)
    }

    /// The replay's output lines of an account, one per model in engine order, at its clock
    /// (what `streams.offline.replay.score_line` and orjson make of a score and its explanation).
    fn score_lines<'py>(
        &self,
        py: Python<'py>,
        state: &AccountState,
    ) -> PyResult<Bound<'py, PyBytes>> {
        self.aligned(state)?;
        let mut out = String::with_capacity(1500 * self.models.len());
        for (index, def) in self.models.iter().enumerate() {
            let snap = self.read(py, state, index, state.clock);
            let fields = profile_fields(snap.profile.as_ref().map(|p| p.bind(py)))?;
            let explained = def.explained(&snap, fields.as_ref())?;
            def.score_line(&mut out, &state.account_id, &explained);
        }
        Ok(PyBytes::new(py, out.as_bytes()))
    }

    /// Earliest time > clock at which, with no new input, an evaluation would change the tier
    /// of `model` (see Engine.next_tier_change_time).
    fn next_tier_change_time(&self, state: &AccountState, model: &str) -> PyResult<Option<f64>> {
        self.aligned(state)?;
        let index = self.model_index(model)?;
        Ok(self.models[index].due_time(&state.models[index], state.clock))
    }
}

impl Core {
    /// Evaluate every model; the changes as a tuple of `TierChangeParts`.
    fn changes(&self, py: Python<'_>, state: &mut AccountState) -> PyResult<Py<PyTuple>> {
        changes_tuple(py, self.evaluate_all(py, state).unwrap_or_default())
    }

    fn explanation(&self, py: Python<'_>, snap: &Snapshot) -> PyResult<ExplanationParts> {
        let def = &self.models[snap.model];
        let fields = profile_fields(snap.profile.as_ref().map(|p| p.bind(py)))?;
        let explained = def.explained(snap, fields.as_ref())?;
        ExplanationParts::new(py, def, explained)
    }
}
