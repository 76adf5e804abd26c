//! `AccountState`'s Python methods: its getters and plain views of the state and of blobs.

use indexmap::IndexMap;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList, PyTuple};

use crate::codec::{decode_meta, decode_model_state, encode_meta, encode_model_state};
use crate::state::{AccountState, Key, ModelState};

use super::value_error;

#[pymethods]
impl AccountState {
    /// An account with no model state yet (the engine's `new_account` gives a usable one).
    #[new]
    #[pyo3(signature = (account_id, *, clock = 0.0))]
    fn py_new(account_id: String, clock: f64) -> Self {
        AccountState::empty(account_id, clock)
    }

    #[getter]
    fn account_id(&self) -> &str {
        &self.account_id
    }

    #[getter]
    fn get_clock(&self) -> f64 {
        self.clock
    }

    #[setter]
    fn set_clock(&mut self, clock: f64) {
        self.clock = clock;
    }

    #[getter]
    fn get_profile(&self, py: Python<'_>) -> Option<Py<PyAny>> {
        self.profile.as_ref().map(|p| p.clone_ref(py))
    }

    #[setter]
    fn set_profile(&mut self, profile: Option<Py<PyAny>>) {
        self.profile = profile;
    }

    /// Model id -> current tier name.
    fn tiers<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        for ms in &self.models {
            out.set_item(&ms.model, &ms.tier)?;
        }
        Ok(out)
    }

    /// Everything stored, as plain Python values (tests, docs, debugging); a copy.
    fn view<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let out = PyDict::new(py);
        out.set_item("account_id", &self.account_id)?;
        out.set_item("clock", self.clock)?;
        out.set_item("dedupe", keyed_dict(py, &self.dedupe)?)?;
        let models = PyDict::new(py);
        for ms in &self.models {
            models.set_item(&ms.model, model_view(py, ms)?)?;
        }
        out.set_item("models", models)?;
        Ok(out)
    }
}

fn keyed_dict<'py>(py: Python<'py>, map: &IndexMap<Key, f64>) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    for (key, at) in map {
        out.set_item(PyBytes::new(py, key), at)?;
    }
    Ok(out)
}

fn model_view<'py>(py: Python<'py>, ms: &ModelState) -> PyResult<Bound<'py, PyDict>> {
    let m = PyDict::new(py);
    m.set_item("version", ms.version)?;
    m.set_item("tier", &ms.tier)?;
    m.set_item("seq", ms.seq)?;
    m.set_item("last_total", ms.last_total)?;
    m.set_item("fit_points", ms.fit_points)?;
    m.set_item("fit_scores", PyTuple::new(py, &ms.fit_scores)?)?;
    let behaviors = PyList::empty(py);
    for bs in &ms.behaviors {
        let b = PyDict::new(py);
        b.set_item("fingerprint", bs.fingerprint)?;
        b.set_item("ref", bs.reference)?;
        b.set_item("weighted", bs.weighted)?;
        b.set_item("sums", bs.sums.clone())?;
        b.set_item("last_hit", bs.last_hit.clone())?;
        b.set_item("streak", bs.streak.clone())?;
        let caps: Vec<(i64, u8, u32)> = bs.caps.iter().map(|c| (c.day, c.k, c.count)).collect();
        b.set_item("caps", caps)?;
        b.set_item("contacts", keyed_dict(py, &bs.contacts)?)?;
        behaviors.append(b)?;
    }
    m.set_item("behaviors", behaviors)?;
    Ok(m)
}

/// The view of a model-state blob (codec tests; ValueError when the codec did not write it).
#[pyfunction]
pub fn model_state_view<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let ms = decode_model_state("", blob).map_err(value_error)?;
    model_view(py, &ms)
}

/// (clock, dedupe) of an account-meta blob (codec tests; ValueError when foreign).
#[pyfunction]
pub fn meta_view<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<(f64, Bound<'py, PyDict>)> {
    let (clock, dedupe) = decode_meta(blob).map_err(value_error)?;
    Ok((clock, keyed_dict(py, &dedupe)?))
}

/// A model-state blob decoded and encoded again: the codec's property tests compare it with
/// the blob docs/state.md lays out (ValueError when the codec did not write it).
#[pyfunction]
pub fn reencode_model_state<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let ms = decode_model_state("", blob).map_err(value_error)?;
    Ok(PyBytes::new(
        py,
        &encode_model_state(&ms).map_err(value_error)?,
    ))
}

/// An account-meta blob decoded and encoded again (the codec's property tests).
#[pyfunction]
pub fn reencode_meta<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let (clock, dedupe) = decode_meta(blob).map_err(value_error)?;
    Ok(PyBytes::new(py, &encode_meta(clock, &dedupe)))
}
