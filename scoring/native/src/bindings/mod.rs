//! The Python surface of the core: `Core`'s and `AccountState`'s methods (`core`, `account`)
//! and the module's functions (here); scoring/_core.pyi types them.

mod account;
mod core;

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyInt};

use crate::engine::{Core, Snapshot};
use crate::outputs::{
    CriterionParts, DumpedState, DumpedStates, EventResult, ExplanationParts, ScoreParts,
    SignalParts, TierChangeParts,
};
use crate::state::{hash_id, AccountState};
use crate::{explain, text};

pub use account::{meta_view, model_state_view, reencode_meta, reencode_model_state};

fn value_error(message: String) -> PyErr {
    PyValueError::new_err(message)
}
/// The key of an id: the first 6 bytes of `hashlib.blake2b(..., digest_size=8)`.
#[pyfunction]
#[pyo3(name = "hash_id")]
pub fn py_hash_id<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &hash_id(text))
}

/// `45s`, `12m`, `4h`, `2d` (explanations' ages).
#[pyfunction]
#[pyo3(name = "format_age")]
pub fn py_format_age(seconds: f64) -> String {
    text::format_age(seconds)
}

/// `1,200`; `1,234.5` (explanations' numbers): Python's `f"{n:,}"` of an int, or of a float's
/// int value when it has no fraction.
#[pyfunction]
pub fn format_number(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        Ok(text::format_int(value.extract()?))
    } else {
        Ok(text::format_float_number(value.extract()?))
    }
}

/// `demo_request 2d ago`, `3× pricing_view (last 4h ago)`.
#[pyfunction]
#[pyo3(name = "signal_evidence")]
pub fn py_signal_evidence(id: &str, count: u32, last_hit: f64, at: f64) -> String {
    explain::signal_evidence(id, count, last_hit, at)
}

/// The summary line of `tier`, `total` and per criterion (contribution, evidence).
#[pyfunction]
#[pyo3(name = "summarize")]
pub fn py_summarize(tier: &str, total: f64, criteria: Vec<(f64, Vec<String>)>) -> String {
    let parts: Vec<(f64, &[String])> = criteria.iter().map(|(c, e)| (*c, e.as_slice())).collect();
    explain::summarize(tier, total, &parts)
}

/// RFC 3339 as every time is written (None when not finite or out of years 1-9999).
#[pyfunction]
#[pyo3(name = "format_rfc3339")]
pub fn py_format_rfc3339(epoch: f64) -> Option<String> {
    text::format_rfc3339(epoch)
}

/// A float as the replay's JSON writes it.
#[pyfunction]
#[pyo3(name = "json_float")]
pub fn py_json_float(value: f64) -> String {
    let mut out = String::new();
    text::json_float(&mut out, value);
    out
}

/// Every class the module exports (`TierChangeParts` and the other results included, so that
/// their type is importable for checks).
pub fn add_classes(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    m.add_class::<AccountState>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<TierChangeParts>()?;
    m.add_class::<EventResult>()?;
    m.add_class::<ScoreParts>()?;
    m.add_class::<ExplanationParts>()?;
    m.add_class::<CriterionParts>()?;
    m.add_class::<SignalParts>()?;
    m.add_class::<DumpedState>()?;
    m.add_class::<DumpedStates>()?;
    m.add_class::<crate::decode::EventDecoder>()?;
    Ok(())
}
