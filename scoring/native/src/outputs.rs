//! What the core hands back to Python: frozen classes with named, typed fields (their types are
//! in scoring/_core.pyi), built from the core's Rust values.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyBytes, PyTuple};

use crate::engine::{Change, Snapshot};
use crate::explain::Explained;
use crate::model::ModelDef;

/// A tier change of one model (what `scoring.engine` makes a `TierChange` of).
#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct TierChangeParts {
    /// The model's index in load order.
    pub model: usize,
    pub seq: u32,
    pub previous_tier: String,
    pub tier: String,
    pub previous_total: f64,
    pub total: f64,
    pub fit: Option<f64>,
    pub engagement: Option<f64>,
    pub at: f64,
    /// What its explanation reads (`Core.explain_snapshot`).
    pub snapshot: Py<Snapshot>,
}

/// `Core.apply_event`'s outcome: a duplicate or an event too late (nothing changed), or applied
/// with `changes` (usually none).
#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct EventResult {
    pub duplicate: bool,
    /// Seconds the event lay before the clock, when refused for lying beyond the allowed
    /// lateness; None otherwise.
    pub too_late_by: Option<f64>,
    /// `TierChangeParts`, in model order.
    pub changes: Py<PyTuple>,
}

/// `Core.score`: a read of one model at a time.
#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct ScoreParts {
    pub total: f64,
    pub fit: Option<f64>,
    pub engagement: Option<f64>,
    pub tier: String,
    /// (criterion id, score on 0..scale), in model order.
    pub criteria: Vec<(String, f64)>,
}

#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct SignalParts {
    pub id: String,
    pub points: f64,
    pub count: u32,
    pub last_hit: f64,
}

#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct CriterionParts {
    pub id: String,
    pub kind: String,
    pub score: f64,
    pub weight: f64,
    pub contribution: f64,
    /// `SignalParts`, strongest first.
    pub signals: Py<PyTuple>,
    pub evidence: Py<PyTuple>,
}

/// `Core.explain`: what `scoring.engine` makes an `Explanation` of.
#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct ExplanationParts {
    pub at: f64,
    pub tier: String,
    pub total: f64,
    pub fit: Option<f64>,
    pub engagement: Option<f64>,
    pub summary: String,
    /// `CriterionParts`, in model order.
    pub criteria: Py<PyTuple>,
}

/// `Core.dump`: the blobs of one account.
#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct DumpedState {
    pub meta: Py<PyBytes>,
    /// Per loaded model, in load order.
    pub blobs: Py<PyTuple>,
}

/// `Core.dump_many`: what a batch commit writes of its states, columnar (a few Python objects
/// per state, not several per state and model).
#[pyclass(module = "scoring._core", frozen, get_all)]
pub struct DumpedStates {
    /// Per state its meta blob; None when only some models were asked for.
    pub metas: Option<Py<PyTuple>>,
    /// Per state, a tuple of the chosen models' blobs in the order asked.
    pub blobs: Py<PyTuple>,
    /// `<d` per state: its earliest `next_tier_change_time` over every model, NaN for none.
    pub due_times: Py<PyBytes>,
    /// Per chosen model, a byte per state: the index of its tier in that model's tiers.
    pub tiers: Py<PyTuple>,
    /// Per chosen model, `<d` per state: its latest total (`standing`).
    pub totals: Py<PyTuple>,
}

static UNCHANGED: PyOnceLock<Py<EventResult>> = PyOnceLock::new();
static DUPLICATE: PyOnceLock<Py<EventResult>> = PyOnceLock::new();

impl EventResult {
    pub fn new(py: Python<'_>, duplicate: bool, changes: Vec<Change>) -> PyResult<Self> {
        Ok(EventResult {
            duplicate,
            too_late_by: None,
            changes: changes_tuple(py, changes)?,
        })
    }

    /// The outcome of an event `lateness` seconds before the clock, beyond the allowed lateness.
    pub fn too_late(py: Python<'_>, lateness: f64) -> PyResult<Py<EventResult>> {
        let result = EventResult {
            too_late_by: Some(lateness),
            ..Self::new(py, false, Vec::new())?
        };
        Py::new(py, result)
    }

    /// The outcome of every event applied without a tier change: one object (the module's
    /// `UNCHANGED`), so that a caller tells the common case by identity.
    pub fn unchanged(py: Python<'_>) -> PyResult<Py<EventResult>> {
        let once =
            UNCHANGED.get_or_try_init(py, || Py::new(py, Self::new(py, false, Vec::new())?))?;
        Ok(once.clone_ref(py))
    }

    /// The outcome of every duplicate: one object (the module's `DUPLICATE`).
    pub fn duplicate(py: Python<'_>) -> PyResult<Py<EventResult>> {
        let once =
            DUPLICATE.get_or_try_init(py, || Py::new(py, Self::new(py, true, Vec::new())?))?;
        Ok(once.clone_ref(py))
    }
}

/// The changes as a tuple of `TierChangeParts`.
pub fn changes_tuple(py: Python<'_>, changes: Vec<Change>) -> PyResult<Py<PyTuple>> {
    let parts = changes
        .into_iter()
        .map(|c| {
            Py::new(
                py,
                TierChangeParts {
                    model: c.model,
                    seq: c.seq,
                    previous_tier: c.previous_tier,
                    tier: c.tier,
                    previous_total: c.previous_total,
                    total: c.total,
                    fit: c.fit,
                    engagement: c.engagement,
                    at: c.at,
                    snapshot: Py::new(py, c.snapshot)?,
                },
            )
        })
        .collect::<PyResult<Vec<_>>>()?;
    Ok(PyTuple::new(py, parts)?.unbind())
}

impl ExplanationParts {
    pub fn new(py: Python<'_>, def: &ModelDef, e: Explained) -> PyResult<Self> {
        let mut criteria = Vec::with_capacity(e.criteria.len());
        for (item, c) in def.plan.iter().zip(e.criteria) {
            let signals = c
                .signals
                .iter()
                .map(|s| {
                    Py::new(
                        py,
                        SignalParts {
                            id: def.behaviors[item.index].signal_ids[s.k].clone(),
                            points: s.decayed,
                            count: s.count,
                            last_hit: s.last_hit,
                        },
                    )
                })
                .collect::<PyResult<Vec<_>>>()?;
            criteria.push(Py::new(
                py,
                CriterionParts {
                    id: item.id.clone(),
                    kind: item.kind_name.clone(),
                    score: c.score,
                    weight: item.weight,
                    contribution: c.contribution,
                    signals: PyTuple::new(py, signals)?.unbind(),
                    evidence: PyTuple::new(py, c.evidence)?.unbind(),
                },
            )?);
        }
        Ok(ExplanationParts {
            at: e.t,
            tier: e.tier,
            total: e.total,
            fit: e.fit,
            engagement: e.engagement,
            summary: e.summary,
            criteria: PyTuple::new(py, criteria)?.unbind(),
        })
    }
}
