//! The scoring engine's per-account state and per-event arithmetic (docs/scoring.md section 3),
//! built as the Python module `scoring._core`.
//!
//! `scoring/compile.py` compiles the models (ids, tiers, criteria, `where` tests) into specs
//! that `Core` takes; everything that runs per event or per stored account lives here. The
//! modules, by concern:
//! - `state`: the account state and the arithmetic of one hit (decay, streaks, daily caps);
//! - `model`: a compiled model, a fresh state under it, fitting a stored state to it;
//! - `eval`: scores, totals, tiers with hysteresis, the next decay-driven tier change;
//! - `signals`: the signals an event type can hit and their `where` tests;
//! - `profile`: firmographic and technographic criteria;
//! - `engine`: `Core`, what is done to an account per event or per stored account;
//! - `codec`: the state's binary format (docs/state.md);
//! - `explain`, `text`: explanations, their words and the replay's JSON;
//! - `decode`: the common case of decoding an event;
//! - `spec`, `outputs`, `bindings`: what Python hands in, what it gets back, and the methods.
//!
//! Nothing here does I/O, reads a clock or knows how the state is stored. Every float
//! operation follows the order of the Python it replaced, so results are the same bits: sums
//! run left to right from zero, `2^x` is libm's `pow(2, x)` like CPython's `**`, and the UTC
//! day is CPython's float floor division.

mod bindings;
mod codec;
mod decode;
mod engine;
mod eval;
mod explain;
mod model;
mod outputs;
mod profile;
mod signals;
mod spec;
mod state;
mod text;

use pyo3::prelude::*;

use crate::bindings::*;

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    add_classes(m)?;
    m.add_function(wrap_pyfunction!(py_hash_id, m)?)?;
    m.add_function(wrap_pyfunction!(model_state_view, m)?)?;
    m.add_function(wrap_pyfunction!(meta_view, m)?)?;
    m.add_function(wrap_pyfunction!(reencode_model_state, m)?)?;
    m.add_function(wrap_pyfunction!(reencode_meta, m)?)?;
    m.add_function(wrap_pyfunction!(py_format_age, m)?)?;
    m.add_function(wrap_pyfunction!(format_number, m)?)?;
    m.add_function(wrap_pyfunction!(py_signal_evidence, m)?)?;
    m.add_function(wrap_pyfunction!(py_summarize, m)?)?;
    m.add_function(wrap_pyfunction!(py_format_rfc3339, m)?)?;
    m.add_function(wrap_pyfunction!(py_json_float, m)?)?;
    m.add("MAX_STREAK", state::MAX_STREAK)?;
    m.add("CODEC_FORMAT", codec::CODEC_FORMAT)?;
    m.add("UNCHANGED", outputs::EventResult::unchanged(m.py())?)?;
    m.add("DUPLICATE", outputs::EventResult::duplicate(m.py())?)?;
    Ok(())
}
