//! The scoring engine's per-account state and per-event arithmetic (SCORING.md section 3).
//!
//! `scoring/engine.py` compiles the models (ids, tiers, criteria, `where` tests) and hands the
//! compiled numbers to `Core`; everything that runs per event or per stored account lives here:
//! the account state, its binary codec (docs/state.md), applying an event's hits, evaluating
//! every model, tiers with hysteresis, rescoring and the time of the next decay-driven tier
//! change. Explanations, profile criteria and the loader stay in Python, which reads the
//! numbers through `moment` tuples. Nothing here does I/O or reads a clock.
//!
//! Every float operation follows the order of the Python it replaced, so results are the same
//! bits: sums run left to right from zero, `2^x` is libm's `pow(2, x)` like CPython's `**`,
//! and the UTC day is CPython's float floor division.

mod codec;
mod decode;
mod explain;
mod profile;
mod text;

use std::collections::HashMap;
use std::hint::black_box;

use indexmap::IndexMap;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyBytes, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use pyo3::{intern, IntoPyObjectExt};

use crate::codec::{
    decode_meta, decode_model_state, encode_meta, encode_model_state, put_record_entry,
    CODEC_FORMAT,
};
use crate::explain::Explained;
use crate::profile::ProfileDef;
use crate::text::py_floordiv;

const MAX_STREAK: u32 = 0xFFFF;
const REBASE_HALF_LIVES: f64 = 60.0;
const DAY: f64 = 86400.0;
const DUE_PRECISION: f64 = 0.01;

/// A digest of an event or contact id: the first 6 bytes of its 8-byte blake2b digest (so the
/// 8-byte digests that formats 1 and 2 stored read as the same keys). Two ids of one account
/// colliding in 48 bits is not a practical concern (docs/state.md).
type Key = [u8; 6];

/// 2^x exactly as CPython computes `2.0 ** x` (libm `pow`); `black_box` keeps the compiler
/// from rewriting it to `exp2`, which may differ in the last bit.
#[inline]
pub(crate) fn pow2(x: f64) -> f64 {
    black_box(2.0f64).powf(x)
}

/// The `Key` of an id: the first 6 bytes of its blake2b digest of 8 bytes (digest_size=8, as
/// Python's `hashlib.blake2b`).
fn hash_id(text: &str) -> Key {
    let digest = blake2b_simd::Params::new()
        .hash_length(8)
        .hash(text.as_bytes());
    digest.as_bytes()[..6].try_into().expect("a 6-byte key")
}

/// The polynomial hash of `streams.store.state_store.name_hash` (the Redis layout's buckets and the
/// account records' model names): each step modulo the largest prime under 2^32.
fn name_hash(name: &str) -> u32 {
    name.bytes().fold(0u64, |h, byte| {
        (h * 1_000_003 + byte as u64) % 4_294_967_291
    }) as u32
}

/// The name of a model's entry in an account record (docs/redis-layout.md): `s` and the 4 bytes
/// (big-endian) of the model id's `name_hash`.
fn model_record_name(model: &str) -> [u8; 5] {
    let mut name = [b's', 0, 0, 0, 0];
    name[1..].copy_from_slice(&name_hash(model).to_be_bytes());
    name
}

// --- state -----------------------------------------------------------------------------------

/// One behavioral criterion of one model for one account (see scoring/state.py's docs).
#[derive(Clone)]
struct BehaviorState {
    fingerprint: u32,
    reference: f64,
    sums: Vec<f64>,
    last_hit: Vec<f64>,
    streak: Vec<u32>,
    cap_day: i32,
    cap_today: Vec<u32>,
    cap_yesterday: Vec<u32>,
    contacts: IndexMap<Key, f64>,
    weighted: f64,
}

impl BehaviorState {
    fn new(fingerprint: u32, signals: usize) -> Self {
        BehaviorState {
            fingerprint,
            reference: 0.0,
            sums: vec![0.0; signals],
            last_hit: vec![0.0; signals],
            streak: vec![0; signals],
            cap_day: 0,
            cap_today: vec![0; signals],
            cap_yesterday: vec![0; signals],
            contacts: IndexMap::new(),
            weighted: 0.0,
        }
    }

    /// Move the daily-cap counters to UTC day `day`: only the next day keeps a counter.
    fn roll_caps(&mut self, day: i32) {
        if day == self.cap_day {
            return;
        }
        let signals = self.sums.len();
        if day as i64 == self.cap_day as i64 + 1 {
            self.cap_yesterday = std::mem::replace(&mut self.cap_today, vec![0; signals]);
        } else {
            self.cap_yesterday = vec![0; signals];
            self.cap_today = vec![0; signals];
        }
        self.cap_day = day;
    }
}

#[derive(Clone)]
struct ModelState {
    model: String,
    version: u32,
    tier: String,
    seq: u32,
    last_total: f64,
    behaviors: Vec<BehaviorState>,
    fit_scores: Vec<f64>,
    fit_points: f64,
}

/// Everything the engine keeps about one account; opaque to Python except for the getters.
#[pyclass(module = "scoring._core")]
pub struct AccountState {
    #[pyo3(get)]
    account_id: String,
    #[pyo3(get, set)]
    clock: f64,
    #[pyo3(get, set)]
    profile: Option<Py<PyAny>>,
    dedupe: IndexMap<Key, f64>,
    dedupe_limit: usize,
    models: Vec<ModelState>,
    /// The `Core` whose models `models` is aligned with (0: none known), so that a check per
    /// call is one comparison.
    core: u64,
}

#[pymethods]
impl AccountState {
    /// An account with no model state yet (the engine's `new_account` gives a usable one).
    #[new]
    #[pyo3(signature = (account_id, *, clock = 0.0))]
    fn py_new(account_id: String, clock: f64) -> Self {
        AccountState {
            account_id,
            clock,
            profile: None,
            dedupe: IndexMap::new(),
            dedupe_limit: 0,
            models: Vec::new(),
            core: 0,
        }
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
        let dedupe = PyDict::new(py);
        for (key, at) in &self.dedupe {
            dedupe.set_item(PyBytes::new(py, key), at)?;
        }
        out.set_item("dedupe", dedupe)?;
        let models = PyDict::new(py);
        for ms in &self.models {
            models.set_item(&ms.model, model_view(py, ms)?)?;
        }
        out.set_item("models", models)?;
        Ok(out)
    }
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
        b.set_item("cap_day", bs.cap_day)?;
        b.set_item("cap_today", bs.cap_today.clone())?;
        b.set_item("cap_yesterday", bs.cap_yesterday.clone())?;
        let contacts = PyDict::new(py);
        for (key, at) in &bs.contacts {
            contacts.set_item(PyBytes::new(py, key), at)?;
        }
        b.set_item("contacts", contacts)?;
        behaviors.append(b)?;
    }
    m.set_item("behaviors", behaviors)?;
    Ok(m)
}

// --- compiled models -------------------------------------------------------------------------

struct BehaviorDef {
    fingerprint: u32,
    half_life: f64,
    points: Vec<f64>,
    signal_ids: Vec<String>,
    contact_keep: usize,
    contact_window: f64,
    weight_scale: f64,
    saturation: f64,
}

struct BreadthDef {
    behavior: usize,
    window: f64,
    weight_scale: f64,
    saturation: f64,
}

#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Profile,
    Behavioral,
    Breadth,
}

/// One criterion in model order: where its numbers live and what an explanation calls it.
struct PlanItem {
    kind: Kind,
    index: usize, // in the list of its kind
    share: f64,   // norm * weight: contribution = share * score
    id: String,
    kind_name: String,
    weight: f64,
}

pub(crate) struct ModelDef {
    id: String,
    version: u32,
    scale: f64,
    hysteresis: f64,
    norm: f64,
    fit_norm: f64,
    engagement_norm: f64,
    tier_names: Vec<String>,
    tier_mins: Vec<f64>,
    behaviors: Vec<BehaviorDef>,
    breadths: Vec<BreadthDef>,
    profile: Vec<ProfileDef>,
    profile_weights: Vec<f64>,
    no_profile_fit: Fit,
    plan: Vec<PlanItem>,
}

impl ModelDef {
    fn tier_index(&self, name: &str) -> Option<usize> {
        self.tier_names.iter().position(|n| n == name)
    }

    /// The totals that keep tier `i`: [min - hysteresis, min of the tier above).
    fn bounds(&self, i: usize) -> (f64, f64) {
        let lo = if i < self.tier_mins.len() - 1 {
            self.tier_mins[i] - self.hysteresis
        } else {
            f64::NEG_INFINITY
        };
        let hi = if i > 0 {
            self.tier_mins[i - 1]
        } else {
            f64::INFINITY
        };
        (lo, hi)
    }

    /// Index of the tier after evaluating `total` from tier `current` (SCORING.md section 3).
    fn tier_after(&self, current: &str, total: f64) -> usize {
        let mins = &self.tier_mins;
        let mut earned = mins.len() - 1;
        for (i, floor) in mins.iter().enumerate() {
            if *floor <= total {
                earned = i;
                break;
            }
        }
        let Some(held) = self.tier_index(current) else {
            return earned;
        };
        if earned < held {
            return earned;
        }
        if earned > held && total < mins[held] - self.hysteresis {
            return earned;
        }
        held
    }

    /// Sum of weight * score over the behavioral and breadth criteria at time t >= clock.
    fn engagement_points(&self, ms: &ModelState, t: f64) -> f64 {
        let mut points = 0.0;
        for (def, bs) in self.behaviors.iter().zip(&ms.behaviors) {
            let weighted = bs.weighted;
            if weighted > 0.0 {
                let x = weighted * pow2((bs.reference - t) / def.half_life);
                points += def.weight_scale
                    * if x < def.saturation {
                        x / def.saturation
                    } else {
                        1.0
                    };
            }
        }
        for def in &self.breadths {
            let n = recent(&ms.behaviors[def.behavior].contacts, t - def.window) as f64;
            if n != 0.0 {
                points += def.weight_scale
                    * if n < def.saturation {
                        n / def.saturation
                    } else {
                        1.0
                    };
            }
        }
        points
    }

    /// (score on 0..scale, decay factor) at `t` of behavioral criterion `index` whose sums are
    /// `weighted` at `reference`.
    pub(crate) fn behavioral_score(
        &self,
        index: usize,
        weighted: f64,
        reference: f64,
        t: f64,
    ) -> (f64, f64) {
        let def = &self.behaviors[index];
        let factor = pow2((reference - t) / def.half_life);
        let x = weighted * factor;
        let score = if x > 0.0 {
            self.scale * (x / def.saturation).min(1.0)
        } else {
            0.0
        };
        (score, factor)
    }

    /// Score (0..scale) of breadth criterion `index` with `contacts` in its window.
    pub(crate) fn breadth_score(&self, index: usize, contacts: usize) -> f64 {
        self.scale * (contacts as f64 / self.breadths[index].saturation).min(1.0)
    }

    /// The fit and engagement sub-scores (0..100) of a total's two parts; None for a model
    /// without criteria of that side.
    pub(crate) fn sub_scores(
        &self,
        fit_points: f64,
        engagement: f64,
    ) -> (Option<f64>, Option<f64>) {
        (
            (!self.profile.is_empty()).then_some(fit_points * self.fit_norm),
            (self.engagement_norm != 0.0).then_some(engagement * self.engagement_norm),
        )
    }

    fn fresh_state(&self, fit: &Fit) -> ModelState {
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
    fn fit_behaviors(&self, ms: &mut ModelState) {
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
}

fn weighted_sum(points: &[f64], sums: &[f64]) -> f64 {
    let mut total = 0.0;
    for (p, d) in points.iter().zip(sums) {
        total += p * d;
    }
    total
}

/// n(t): contacts whose latest hit lies in (since, t].
fn recent(contacts: &IndexMap<Key, f64>, since: f64) -> usize {
    contacts.values().filter(|&&at| at > since).count()
}

/// Keep the `keep` most recent contacts after `oldest` (ties by hash), most recent first.
fn trim_contacts(bs: &mut BehaviorState, keep: usize, oldest: f64) {
    let mut recent: Vec<(f64, Key)> = bs
        .contacts
        .iter()
        .filter(|(_, &at)| at > oldest)
        .map(|(k, &at)| (at, *k))
        .collect();
    recent.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then_with(|| b.1.cmp(&a.1)));
    recent.truncate(keep);
    bs.contacts = recent.into_iter().map(|(at, key)| (key, at)).collect();
}

/// The scores of one model's profile criteria for a profile, and their weighted sum: they
/// depend on the profile only, so they are computed when it changes (apply, restore, rescore)
/// and never per event or per read.
#[derive(Clone)]
struct Fit {
    scores: Vec<f64>,
    points: f64,
}

impl ModelDef {
    /// The fit of a profile's fields (None: no profile, the same for every account).
    fn fit(&self, fields: Option<&Bound<'_, PyAny>>) -> PyResult<Fit> {
        if fields.is_none() {
            return Ok(self.no_profile_fit.clone());
        }
        let scores = self
            .profile
            .iter()
            .map(|c| c.score(fields, self.scale))
            .collect::<PyResult<Vec<f64>>>()?;
        let mut points = 0.0;
        for (weight, score) in self.profile_weights.iter().zip(&scores) {
            points += weight * score;
        }
        Ok(Fit { scores, points })
    }
}

/// The `fields` of a Python `Profile` (None for no profile).
fn profile_fields<'py>(profile: Option<&Bound<'py, PyAny>>) -> PyResult<Option<Bound<'py, PyAny>>> {
    match profile {
        None => Ok(None),
        Some(p) if p.is_none() => Ok(None),
        Some(p) => Ok(Some(p.getattr(intern!(p.py(), "fields"))?)),
    }
}

impl Fit {
    fn set(&self, ms: &mut ModelState) {
        ms.fit_scores = self.scores.clone();
        ms.fit_points = self.points;
    }
}

// --- where tests -----------------------------------------------------------------------------

enum Expected {
    Str(String),
    Bool(bool),
    Number(f64),
}

enum Test {
    Equals(Expected),
    AnyOf(Vec<Expected>),
    Contains(String),
    AtLeast(f64),
    AtMost(f64),
}

/// A property value as the tests see it. An ASCII string is lower-cased where compared; any
/// other string is lower-cased once by Python's `str.lower`, so the two languages' Unicode case
/// tables never meet.
enum Value<'a> {
    Ascii(&'a str),
    Lowered(String),
    Bool(bool),
    Number(f64),
    Other,
}

fn property_value<'a>(value: &'a Bound<'_, PyAny>) -> Value<'a> {
    if let Ok(b) = value.cast_exact::<PyBool>() {
        return Value::Bool(b.is_true());
    }
    if let Ok(s) = value.cast::<PyString>() {
        return match s.to_str() {
            Ok(text) if text.is_ascii() => Value::Ascii(text),
            _ => match value
                .call_method0("lower")
                .and_then(|l| l.extract::<String>())
            {
                Ok(lowered) => Value::Lowered(lowered),
                Err(_) => Value::Other,
            },
        };
    }
    if value.is_instance_of::<PyFloat>() || value.is_instance_of::<PyInt>() {
        if let Ok(x) = value.extract::<f64>() {
            return Value::Number(x);
        }
    }
    Value::Other
}

fn equal(actual: &Value, expected: &Expected) -> bool {
    match (actual, expected) {
        // `expected` is lower-cased already (by Python, when the engine compiled the model).
        (Value::Ascii(a), Expected::Str(e)) => a.len() == e.len() && a.eq_ignore_ascii_case(e),
        (Value::Lowered(a), Expected::Str(e)) => a == e,
        (Value::Bool(a), Expected::Bool(e)) => a == e,
        (Value::Number(a), Expected::Number(e)) => a == e,
        _ => false,
    }
}

impl Test {
    fn holds(&self, actual: &Value) -> bool {
        match self {
            Test::Equals(expected) => equal(actual, expected),
            Test::AnyOf(options) => options.iter().any(|o| equal(actual, o)),
            Test::Contains(needle) => match actual {
                Value::Ascii(a) => a.to_ascii_lowercase().contains(needle.as_str()),
                Value::Lowered(a) => a.contains(needle.as_str()),
                _ => false,
            },
            Test::AtLeast(bound) => matches!(actual, Value::Number(a) if *a >= *bound),
            Test::AtMost(bound) => matches!(actual, Value::Number(a) if *a <= *bound),
        }
    }
}

fn expected_of(value: &Bound<'_, PyAny>) -> PyResult<Expected> {
    if let Ok(b) = value.cast_exact::<PyBool>() {
        Ok(Expected::Bool(b.is_true()))
    } else if let Ok(s) = value.cast::<PyString>() {
        Ok(Expected::Str(s.to_str()?.to_owned()))
    } else {
        Ok(Expected::Number(value.extract::<f64>()?))
    }
}

fn compile_test(op: &str, value: &Bound<'_, PyAny>) -> PyResult<Test> {
    if let Ok(options) = value.cast::<PyTuple>() {
        let options = options
            .iter()
            .map(|o| expected_of(&o))
            .collect::<PyResult<Vec<_>>>()?;
        return Ok(Test::AnyOf(options));
    }
    match op {
        "equals" => Ok(Test::Equals(expected_of(value)?)),
        "contains" => Ok(Test::Contains(value.str()?.to_str()?.to_owned())),
        "gte" => Ok(Test::AtLeast(value.extract::<f64>()?)),
        "lte" => Ok(Test::AtMost(value.extract::<f64>()?)),
        other => Err(PyValueError::new_err(format!(
            "unknown where operator {other:?}"
        ))),
    }
}

struct SignalDef {
    k: usize,
    cap: Option<u32>,
    positive: bool,
    tests: Vec<(Py<PyString>, Test)>,
}

/// The signals of one behavioral criterion of one model that one event type can hit.
struct Group {
    model: usize,
    behavior: usize,
    signals: Vec<SignalDef>,
}

// --- snapshots -------------------------------------------------------------------------------

/// (ref, weighted, sums, streak, last_hit) of one behavioral criterion.
type BehaviorMoment = (f64, f64, Vec<f64>, Vec<u32>, Vec<f64>);

/// What an explanation of one model at time `t` reads, copied out of the state: most tier
/// changes are never explained (the replay's --changes file), so the copy stays native until
/// `Core.explain_snapshot` is asked for it. The profile is a reference: profiles are replaced,
/// never mutated.
#[pyclass(module = "scoring._core", frozen)]
pub struct Snapshot {
    model: usize,
    profile: Option<Py<PyAny>>,
    fit_scores: Vec<f64>,
    fit_points: f64,
    engagement: f64,
    t: f64,
    tier: String,
    /// Per behavioral criterion: (ref, weighted, sums, streak, last_hit).
    behaviors: Vec<BehaviorMoment>,
    /// Per breadth criterion: contacts in its window at `t`.
    contacts: Vec<usize>,
}

// --- the core --------------------------------------------------------------------------------

/// The compiled models of one `Engine` and every per-account operation on them.
#[pyclass(module = "scoring._core", frozen)]
pub struct Core {
    models: Vec<ModelDef>,
    groups: Vec<Vec<Group>>,
    group_index: Py<PyDict>, // event type -> index in `groups`
    dedupe_window: f64,
    token: u64, // unique per Core: marks the states it made or rescored
}

static CORES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

type ModelSpec<'py> = (
    Bound<'py, PyTuple>,
    Vec<BehaviorSpec>,
    Vec<(usize, f64, f64, f64)>,
    Vec<ProfileSpec<'py>>,
    Vec<(u8, usize, f64, String, String, f64)>,
);
/// (total, fit, engagement, tier, score per criterion in model order) of `Core.score`.
type ScoreParts = (f64, Option<f64>, Option<f64>, String, Vec<f64>);
type BehaviorSpec = (u32, f64, Vec<f64>, usize, f64, f64, f64, Vec<String>);
type ProfileSpec<'py> = (
    Vec<Bound<'py, PyString>>,
    String,
    Vec<(f64, f64)>,
    HashMap<String, f64>,
    f64,
    f64,
    f64,
);

/// `Core.dump_many`'s answer: (records, due times, tier indexes and totals per chosen model).
type DumpedStates<'py> = (
    Vec<Bound<'py, PyBytes>>,
    Bound<'py, PyBytes>,
    Vec<Bound<'py, PyBytes>>,
    Vec<Bound<'py, PyBytes>>,
);

/// A tier change as Python builds its `TierChange` from it: ((model index, seq, previous tier,
/// tier), (previous total, total, fit, engagement, at), snapshot for its explanation).
type Change = Py<PyAny>;

impl Core {
    fn aligned(&self, state: &AccountState) -> PyResult<()> {
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

    fn model_index(&self, model_id: &str) -> PyResult<usize> {
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
                .map(|bs| {
                    (
                        bs.reference,
                        bs.weighted,
                        bs.sums.clone(),
                        bs.streak.clone(),
                        bs.last_hit.clone(),
                    )
                })
                .collect(),
            contacts: def
                .breadths
                .iter()
                .map(|b| recent(&ms.behaviors[b.behavior].contacts, t - b.window))
                .collect(),
        }
    }

    /// Evaluate every model at the clock; record totals, tiers and seq; the changes.
    fn evaluate_all(
        &self,
        py: Python<'_>,
        state: &mut AccountState,
    ) -> PyResult<Option<Vec<Change>>> {
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
            let change = (
                (index, ms.seq, previous_tier, tier),
                (previous_total, total, fit, engagement_score, t),
                Py::new(py, snapshot)?,
            )
                .into_py_any(py)?;
            changes.get_or_insert_with(Vec::new).push(change);
        }
        Ok(changes)
    }

    /// `dump`'s blobs: prunes the dedupe entries and contacts that can never count again, then
    /// encodes. The state is aligned.
    fn dump_state(&self, state: &mut AccountState) -> Result<(Vec<u8>, Vec<Vec<u8>>), String> {
        self.prune_dedupe(state);
        let clock = state.clock;
        let mut blobs = Vec::with_capacity(self.models.len());
        for (def, ms) in self.models.iter().zip(state.models.iter_mut()) {
            for (behavior, bs) in def.behaviors.iter().zip(ms.behaviors.iter_mut()) {
                if behavior.contact_keep > 0 {
                    trim_contacts(bs, behavior.contact_keep, clock - behavior.contact_window);
                }
            }
            blobs.push(encode_model_state(ms)?);
        }
        Ok((encode_meta(state.clock, &state.dedupe), blobs))
    }

    /// `next_tier_change_time` of the model at `index`; the state is aligned.
    fn due_time(&self, state: &AccountState, index: usize) -> Option<f64> {
        let def = &self.models[index];
        let ms = &state.models[index];
        let start = state.clock;
        let fit = ms.fit_points;
        let total_at = |t: f64| (fit + def.engagement_points(ms, t)) * def.norm;
        let held = def.tier_after(&ms.tier, total_at(start));
        if def.tier_names[held] != ms.tier {
            return Some(start);
        }
        if held == def.tier_names.len() - 1 {
            return None;
        }
        let line = def.tier_mins[held] - def.hysteresis;
        let below = |t: f64| total_at(t) < line;
        if !below(f64::INFINITY) {
            return None;
        }
        if !start.is_finite() {
            return None;
        }
        let (mut lo, mut step) = (start, 1.0);
        while !below(start + step) {
            lo = start + step;
            step *= 2.0;
        }
        let mut hi = start + step;
        while hi - lo > DUE_PRECISION {
            let mid = (lo + hi) / 2.0;
            if below(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }

    fn prune_dedupe(&self, state: &mut AccountState) {
        let oldest = state.clock - self.dedupe_window;
        state.dedupe.retain(|_, at| *at >= oldest);
        state.dedupe_limit = 64.max(2 * state.dedupe.len());
    }

    fn apply_hits(
        &self,
        state: &mut AccountState,
        t: f64,
        props: &Bound<'_, PyAny>,
        contact_id: Option<&str>,
        groups: &[Group],
    ) -> PyResult<()> {
        let py = props.py();
        // Decoded events carry a dict; any other mapping is read through its `get`.
        let dict = props.cast::<PyDict>().ok();
        let clock = state.clock;
        let mut days: Option<(i64, i64)> = None;
        for group in groups {
            let def = &self.models[group.model];
            let behavior = &def.behaviors[group.behavior];
            let half_life = behavior.half_life;
            let mut touched = false;
            let mut earned = false;
            let mut counted = false;
            for signal in &group.signals {
                let mut matched = true;
                for (name, test) in &signal.tests {
                    match property(dict, props, name.bind(py))? {
                        None => {
                            matched = false;
                        }
                        Some(value) => {
                            if value.is_none() || !test.holds(&property_value(&value)) {
                                matched = false;
                            }
                        }
                    }
                    if !matched {
                        break;
                    }
                }
                if !matched {
                    continue;
                }
                let bs = &mut state.models[group.model].behaviors[group.behavior];
                touched = true;
                if signal.positive {
                    counted = true;
                }
                let k = signal.k;
                if let Some(cap) = signal.cap {
                    let (day, clock_day) = *days.get_or_insert_with(|| {
                        (py_floordiv(t, DAY) as i64, py_floordiv(clock, DAY) as i64)
                    });
                    if bs.cap_day as i64 != clock_day {
                        bs.roll_caps(clock_day as i32);
                    }
                    let counts = if day == clock_day {
                        &mut bs.cap_today
                    } else if day == clock_day - 1 {
                        &mut bs.cap_yesterday
                    } else {
                        continue;
                    };
                    if counts[k] >= cap {
                        continue;
                    }
                    counts[k] += 1;
                }
                earned = true;
                let mut exponent = (t - bs.reference) / half_life;
                if exponent > REBASE_HALF_LIVES {
                    let factor = pow2(-exponent);
                    for d in bs.sums.iter_mut() {
                        *d *= factor;
                    }
                    bs.reference = t;
                    exponent = 0.0;
                }
                bs.sums[k] += pow2(exponent);
                let streak = bs.streak[k];
                let last = bs.last_hit[k];
                if streak == 0 || t - last > half_life {
                    bs.streak[k] = 1;
                } else if streak < MAX_STREAK {
                    bs.streak[k] = streak + 1;
                }
                if streak == 0 || t > last {
                    bs.last_hit[k] = t;
                }
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
                    let newer = bs.contacts.get(&contact).is_none_or(|&at| at < t);
                    if newer {
                        bs.contacts.insert(contact, t);
                        if bs.contacts.len() > 2 * behavior.contact_keep {
                            trim_contacts(
                                bs,
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
}

/// The value of property `name` (None when absent).
fn property<'py>(
    dict: Option<&Bound<'py, PyDict>>,
    props: &Bound<'py, PyAny>,
    name: &Bound<'py, PyString>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match dict {
        Some(d) => d.get_item(name),
        None => {
            let value = props.call_method1(intern!(props.py(), "get"), (name,))?;
            Ok(if value.is_none() { None } else { Some(value) })
        }
    }
}

impl Core {
    /// A snapshot of `index` evaluated at `t` (the tier an evaluation at `t` would give).
    fn read(&self, py: Python<'_>, state: &AccountState, index: usize, t: f64) -> Snapshot {
        let def = &self.models[index];
        let ms = &state.models[index];
        let engagement = def.engagement_points(ms, t);
        let total = (ms.fit_points + engagement) * def.norm;
        let tier = &def.tier_names[def.tier_after(&ms.tier, total)];
        let profile = state.profile.as_ref().map(|p| p.clone_ref(py));
        self.snapshot(index, ms, t, engagement, tier, profile)
    }

    /// (at, tier, total, fit, engagement, summary, criteria) with criteria in model order as
    /// (score, contribution, [(signal id, decayed points, count, last hit)], evidence): what
    /// `scoring.engine` turns into an `Explanation`.
    fn explanation_tuple<'py>(
        &self,
        py: Python<'py>,
        snap: &Snapshot,
    ) -> PyResult<Bound<'py, PyTuple>> {
        let def = &self.models[snap.model];
        let fields = profile_fields(snap.profile.as_ref().map(|p| p.bind(py)))?;
        let e: Explained = def.explained(snap, fields.as_ref())?;
        let criteria = PyList::empty(py);
        for (item, c) in def.plan.iter().zip(&e.criteria) {
            let signals = PyList::empty(py);
            for s in &c.signals {
                let id = &def.behaviors[item.index].signal_ids[s.k];
                signals.append((id, s.decayed, s.count, s.last_hit))?;
            }
            criteria.append((
                c.score,
                c.contribution,
                signals,
                PyTuple::new(py, &c.evidence)?,
            ))?;
        }
        (
            e.t,
            e.tier,
            e.total,
            e.fit,
            e.engagement,
            e.summary,
            criteria,
        )
            .into_pyobject(py)
    }

    /// Per model, the fit of `profile` (a Python `Profile` or None).
    fn fits(&self, profile: Option<&Bound<'_, PyAny>>) -> PyResult<Vec<Fit>> {
        let fields = profile_fields(profile)?;
        self.models
            .iter()
            .map(|def| def.fit(fields.as_ref()))
            .collect()
    }
}

#[pymethods]
impl Core {
    /// `models`: per model, in engine order, (head, behaviors, breadths, profile criteria,
    /// plan):
    /// - head: (id, version, scale, hysteresis, norm, fit norm, engagement norm, tier names,
    ///   tier mins);
    /// - behaviors: (fingerprint, half-life, points, contact keep, contact window,
    ///   weight * scale, saturation, signal ids);
    /// - breadths: (behavior position, window, weight * scale, saturation);
    /// - profile criteria: (field path segments, "bands" | "values" | "any", bands as
    ///   [(min, score)], lower-cased value or item -> score, default, missing, weight);
    /// - plan, per criterion in model order: (kind code: 0 profile, 1 behavioral, 2 breadth;
    ///   index in its kind's list; norm * weight; id; kind name; weight).
    ///
    /// `groups`: event type -> [(model index, behavior position, [(signal index, daily cap or
    /// None, counts for breadth, [(property, op, expected)])])], expected strings lower-cased.
    #[new]
    fn py_new(
        py: Python<'_>,
        models: &Bound<'_, PyList>,
        groups: &Bound<'_, PyDict>,
        dedupe_window: f64,
    ) -> PyResult<Self> {
        let mut defs = Vec::new();
        for model in models.iter() {
            let (head, behaviors, breadths, profile, plan): ModelSpec<'_> = model.extract()?;
            let (
                id,
                version,
                scale,
                hysteresis,
                norm,
                fit_norm,
                engagement_norm,
                tier_names,
                tier_mins,
            ): (String, u32, f64, f64, f64, f64, f64, Vec<String>, Vec<f64>) = head.extract()?;
            if tier_names.is_empty() || tier_names.len() != tier_mins.len() {
                return Err(PyValueError::new_err(format!("{id}: tiers are malformed")));
            }
            let mut profile_defs = Vec::new();
            let mut profile_weights = Vec::new();
            for (path, kind, bands, table, default, missing, weight) in profile {
                profile_defs.push(ProfileDef::new(
                    path, &kind, bands, table, default, missing,
                )?);
                profile_weights.push(weight);
            }
            let mut def = ModelDef {
                id,
                version,
                scale,
                hysteresis,
                norm,
                fit_norm,
                engagement_norm,
                tier_names,
                tier_mins,
                behaviors: behaviors
                    .into_iter()
                    .map(
                        |(
                            fingerprint,
                            half_life,
                            points,
                            contact_keep,
                            contact_window,
                            weight_scale,
                            saturation,
                            signal_ids,
                        )| BehaviorDef {
                            fingerprint,
                            half_life,
                            points,
                            signal_ids,
                            contact_keep,
                            contact_window,
                            weight_scale,
                            saturation,
                        },
                    )
                    .collect(),
                breadths: breadths
                    .into_iter()
                    .map(|(behavior, window, weight_scale, saturation)| BreadthDef {
                        behavior,
                        window,
                        weight_scale,
                        saturation,
                    })
                    .collect(),
                profile: profile_defs,
                profile_weights,
                no_profile_fit: Fit {
                    scores: Vec::new(),
                    points: 0.0,
                },
                plan: plan
                    .into_iter()
                    .map(|(code, index, share, id, kind_name, weight)| PlanItem {
                        kind: match code {
                            1 => Kind::Behavioral,
                            2 => Kind::Breadth,
                            _ => Kind::Profile,
                        },
                        index,
                        share,
                        id,
                        kind_name,
                        weight,
                    })
                    .collect(),
            };
            // Without a profile every profile criterion takes `missing`: one fit for all.
            let missing = def
                .profile
                .iter()
                .map(|c| c.score(None, def.scale))
                .collect::<PyResult<Vec<f64>>>()?;
            let mut points = 0.0;
            for (weight, score) in def.profile_weights.iter().zip(&missing) {
                points += weight * score;
            }
            def.no_profile_fit = Fit {
                scores: missing,
                points,
            };
            defs.push(def);
        }
        let group_index = PyDict::new(py);
        let mut all_groups = Vec::new();
        for (event_type, items) in groups.iter() {
            let mut compiled = Vec::new();
            for item in items.cast::<PyList>()?.iter() {
                let (model, behavior, signals): (usize, usize, Bound<'_, PyList>) =
                    item.extract()?;
                let mut signal_defs = Vec::new();
                for signal in signals.iter() {
                    let (k, cap, positive, conditions): (
                        usize,
                        Option<u32>,
                        bool,
                        Bound<'_, PyList>,
                    ) = signal.extract()?;
                    let mut tests = Vec::new();
                    for condition in conditions.iter() {
                        let (name, op, value): (Bound<'_, PyString>, String, Bound<'_, PyAny>) =
                            condition.extract()?;
                        tests.push((name.unbind(), compile_test(&op, &value)?));
                    }
                    signal_defs.push(SignalDef {
                        k,
                        cap,
                        positive,
                        tests,
                    });
                }
                compiled.push(Group {
                    model,
                    behavior,
                    signals: signal_defs,
                });
            }
            group_index.set_item(event_type, all_groups.len())?;
            all_groups.push(compiled);
        }
        Ok(Core {
            models: defs,
            groups: all_groups,
            group_index: group_index.unbind(),
            dedupe_window,
            token: CORES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    /// An account never seen: clock at -inf, lowest tier under every model.
    fn new_account(&self, account_id: String) -> AccountState {
        AccountState {
            account_id,
            clock: f64::NEG_INFINITY,
            profile: None,
            dedupe: IndexMap::new(),
            dedupe_limit: 0,
            models: self
                .models
                .iter()
                .map(|def| def.fresh_state(&def.no_profile_fit))
                .collect(),
            core: self.token,
        }
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
        let fits = self.fits(profile.as_ref())?;
        let profile = profile.filter(|p| !p.is_none()).map(Bound::unbind);
        let (clock, dedupe) = match meta {
            None => (f64::NEG_INFINITY, IndexMap::new()),
            Some(blob) => decode_meta(blob).map_err(PyValueError::new_err)?,
        };
        let mut models = Vec::with_capacity(self.models.len());
        for ((def, blob), fit) in self.models.iter().zip(&blobs).zip(&fits) {
            match blob {
                None => {
                    let mut ms = def.fresh_state(fit);
                    if meta.is_some() {
                        // A model new to a known account: version 0 makes it need a rescore.
                        ms.version = 0;
                    }
                    models.push(ms);
                }
                Some(blob) => {
                    let mut ms =
                        decode_model_state(&def.id, blob).map_err(PyValueError::new_err)?;
                    def.fit_behaviors(&mut ms);
                    fit.set(&mut ms);
                    models.push(ms);
                }
            }
        }
        let dedupe_limit = 2 * dedupe.len();
        Ok(AccountState {
            account_id,
            clock,
            profile,
            dedupe,
            dedupe_limit,
            models,
            core: self.token,
        })
    }

    /// (meta blob, [model-state blob per model]) after pruning what can never count again.
    fn dump<'py>(
        &self,
        py: Python<'py>,
        state: &mut AccountState,
    ) -> PyResult<(Bound<'py, PyBytes>, Vec<Bound<'py, PyBytes>>)> {
        self.aligned(state)?;
        let (meta, blobs) = self.dump_state(state).map_err(PyValueError::new_err)?;
        let blobs = blobs.iter().map(|blob| PyBytes::new(py, blob)).collect();
        Ok((PyBytes::new(py, &meta), blobs))
    }

    /// Each state's dump, standings and due time in one call, columnar (what a batch commit
    /// writes): ([record per state: `<I4` length of each part, then the parts: the meta blob and
    /// each model's blob], `<d` due time per state (the earliest `next_tier_change_time` of all
    /// its models; NaN for none), [tier index bytes per model, a byte per state], [`<d` last
    /// total per model, per state]). With `models` (indexes in load order), only those models'
    /// blobs, tiers and totals, in that order, and no meta blob. Equal to `dump`,
    /// `next_tier_change_time` and `standing` state by state (tests hold them equal).
    #[pyo3(signature = (states, models = None))]
    fn dump_many<'py>(
        &self,
        py: Python<'py>,
        mut states: Vec<PyRefMut<'py, AccountState>>,
        models: Option<Vec<usize>>,
    ) -> PyResult<DumpedStates<'py>> {
        let whole = models.is_none();
        let chosen = models.unwrap_or_else(|| (0..self.models.len()).collect());
        if let Some(bad) = chosen.iter().find(|index| **index >= self.models.len()) {
            return Err(PyValueError::new_err(format!(
                "no loaded model at index {bad}"
            )));
        }
        let mut records = Vec::with_capacity(states.len());
        let mut due_times = Vec::with_capacity(8 * states.len());
        let mut tiers = vec![Vec::with_capacity(states.len()); chosen.len()];
        let mut totals = vec![Vec::with_capacity(8 * states.len()); chosen.len()];
        let names: Vec<[u8; 5]> = chosen
            .iter()
            .map(|index| model_record_name(&self.models[*index].id))
            .collect();
        let mut record = Vec::new();
        for state in states.iter_mut() {
            let state: &mut AccountState = state;
            self.aligned(state)?;
            let (meta, blobs) = self.dump_state(state).map_err(PyValueError::new_err)?;
            record.clear();
            if whole {
                put_record_entry(&mut record, b"m", &meta);
            }
            for (name, index) in names.iter().zip(&chosen) {
                put_record_entry(&mut record, name, &blobs[*index]);
            }
            records.push(PyBytes::new(py, &record));
            let mut due: Option<f64> = None;
            for index in 0..self.models.len() {
                if let Some(t) = self.due_time(state, index) {
                    // Python's min(): the first of equals, a later value only when smaller.
                    if due.is_none_or(|earliest| t < earliest) {
                        due = Some(t);
                    }
                }
            }
            // NaN means "none" to the reader: `due_time` never gives NaN (a NaN clock keeps
            // the tier and is not finite, so it has no due time).
            due_times.extend_from_slice(&due.unwrap_or(f64::NAN).to_le_bytes());
            for (column, index) in chosen.iter().enumerate() {
                let (def, ms) = (&self.models[*index], &state.models[*index]);
                let tier = def.tier_index(&ms.tier).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "state of {} holds tier {:?}, which model {:?} does not have",
                        state.account_id, ms.tier, def.id
                    ))
                })?;
                // At most 254 tiers (the loader's rule), so an index fits a byte.
                tiers[column].push(tier as u8);
                totals[column].extend_from_slice(&ms.last_total.to_le_bytes());
            }
        }
        Ok((
            records,
            PyBytes::new(py, &due_times),
            tiers.iter().map(|t| PyBytes::new(py, t)).collect(),
            totals.iter().map(|t| PyBytes::new(py, t)).collect(),
        ))
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

    /// Apply one event: None when applied without a tier change, False for a duplicate, else
    /// the list of changes. The caller has checked the account id.
    fn apply_event(
        &self,
        py: Python<'_>,
        state: &mut AccountState,
        event: &Bound<'_, PyAny>,
    ) -> PyResult<Py<PyAny>> {
        self.aligned(state)?;
        let event_id = event.getattr(intern!(py, "event_id"))?;
        let key = hash_id(event_id.cast::<PyString>()?.to_str()?);
        let t: f64 = event.getattr(intern!(py, "occurred_at"))?.extract()?;
        if let Some(&seen) = state.dedupe.get(&key) {
            if seen >= state.clock - self.dedupe_window {
                return Ok(PyBool::new(py, false).to_owned().into_any().unbind());
            }
        }
        state.dedupe.insert(key, t);
        if t > state.clock {
            state.clock = t;
        }
        if state.dedupe.len() > state.dedupe_limit {
            self.prune_dedupe(state);
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
        match self.evaluate_all(py, state)? {
            None => Ok(py.None()),
            Some(changes) => changes.into_py_any(py),
        }
    }

    /// Replace the profile, move the clock to max(clock, updated_at), refit, evaluate.
    fn apply_profile(
        &self,
        py: Python<'_>,
        state: &mut AccountState,
        profile: Bound<'_, PyAny>,
        updated_at: f64,
    ) -> PyResult<Vec<Change>> {
        self.aligned(state)?;
        let fits = self.fits(Some(&profile))?;
        state.profile = Some(profile.unbind());
        state.clock = py_max(state.clock, updated_at);
        for (ms, fit) in state.models.iter_mut().zip(&fits) {
            fit.set(ms);
        }
        Ok(self.evaluate_all(py, state)?.unwrap_or_default())
    }

    /// Move the clock to max(clock, at) and evaluate every model.
    fn evaluate(&self, py: Python<'_>, state: &mut AccountState, at: f64) -> PyResult<Vec<Change>> {
        self.aligned(state)?;
        state.clock = py_max(state.clock, at);
        Ok(self.evaluate_all(py, state)?.unwrap_or_default())
    }

    /// Bring every model state to the loaded versions (see Engine.rescore) and evaluate.
    fn rescore(&self, py: Python<'_>, state: &mut AccountState) -> PyResult<Vec<Change>> {
        let fits = self.fits(state.profile.as_ref().map(|p| p.bind(py)))?;
        let mut old: Vec<ModelState> = std::mem::take(&mut state.models);
        let mut models = Vec::with_capacity(self.models.len());
        for (def, fit) in self.models.iter().zip(&fits) {
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
        Ok(self.evaluate_all(py, state)?.unwrap_or_default())
    }

    /// (tier, total) of the latest evaluation of `model`.
    fn standing(&self, state: &AccountState, model: &str) -> PyResult<(String, f64)> {
        self.aligned(state)?;
        let ms = &state.models[self.model_index(model)?];
        Ok((ms.tier.clone(), ms.last_total))
    }

    /// (model index, total, fit points, engagement points, tier, [score per criterion in
    /// model order]) at `t`; nothing is mutated.
    fn score(&self, state: &AccountState, model: &str, t: f64) -> PyResult<ScoreParts> {
        self.aligned(state)?;
        let index = self.model_index(model)?;
        let def = &self.models[index];
        let ms = &state.models[index];
        let engagement = def.engagement_points(ms, t);
        let total = (ms.fit_points + engagement) * def.norm;
        let tier = def.tier_names[def.tier_after(&ms.tier, total)].clone();
        let scores = def
            .plan
            .iter()
            .map(|item| (item.kind, item.index))
            .map(|(kind, i)| match kind {
                Kind::Behavioral => {
                    let bs = &ms.behaviors[i];
                    def.behavioral_score(i, bs.weighted, bs.reference, t).0
                }
                Kind::Breadth => {
                    let b = &def.breadths[i];
                    def.breadth_score(i, recent(&ms.behaviors[b.behavior].contacts, t - b.window))
                }
                Kind::Profile => ms.fit_scores[i],
            })
            .collect();
        let (fit, engagement) = def.sub_scores(ms.fit_points, engagement);
        Ok((total, fit, engagement, tier, scores))
    }

    /// The explanation of `model` at `t` (see `explanation_tuple`); nothing is mutated.
    fn explain<'py>(
        &self,
        py: Python<'py>,
        state: &AccountState,
        model: &str,
        t: f64,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.aligned(state)?;
        let index = self.model_index(model)?;
        let snap = self.read(py, state, index, t);
        self.explanation_tuple(py, &snap)
    }

    /// The explanation of a tier change's snapshot (see `explanation_tuple`).
    fn explain_snapshot<'py>(
        &self,
        py: Python<'py>,
        snap: &Snapshot,
    ) -> PyResult<Bound<'py, PyTuple>> {
        self.explanation_tuple(py, snap)
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
        Ok(self.due_time(state, self.model_index(model)?))
    }
}

/// Python's `max(a, b)` for floats: the first unless the second is greater.
fn py_max(a: f64, b: f64) -> f64 {
    if b > a {
        b
    } else {
        a
    }
}

/// The key of an id: the first 6 bytes of `hashlib.blake2b(..., digest_size=8)`.
#[pyfunction]
#[pyo3(name = "hash_id")]
fn py_hash_id<'py>(py: Python<'py>, text: &str) -> Bound<'py, PyBytes> {
    PyBytes::new(py, &hash_id(text))
}

/// The view of a model-state blob (codec tests; ValueError when the codec did not write it).
#[pyfunction]
fn model_state_view<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyDict>> {
    let ms = decode_model_state("", blob).map_err(PyValueError::new_err)?;
    model_view(py, &ms)
}

/// A model-state blob decoded and encoded again (codec tests).
#[pyfunction]
fn reencode_model_state<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let ms = decode_model_state("", blob).map_err(PyValueError::new_err)?;
    Ok(PyBytes::new(
        py,
        &encode_model_state(&ms).map_err(PyValueError::new_err)?,
    ))
}

/// An account-meta blob decoded and encoded again (codec tests).
#[pyfunction]
fn reencode_meta<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<Bound<'py, PyBytes>> {
    let (clock, dedupe) = decode_meta(blob).map_err(PyValueError::new_err)?;
    Ok(PyBytes::new(py, &encode_meta(clock, &dedupe)))
}

/// (clock, dedupe) of an account-meta blob (codec tests; ValueError when foreign).
#[pyfunction]
fn meta_view<'py>(py: Python<'py>, blob: &[u8]) -> PyResult<(f64, Bound<'py, PyDict>)> {
    let (clock, dedupe) = decode_meta(blob).map_err(PyValueError::new_err)?;
    let out = PyDict::new(py);
    for (key, at) in &dedupe {
        out.set_item(PyBytes::new(py, key), at)?;
    }
    Ok((clock, out))
}

/// `45s`, `12m`, `4h`, `2d` (explanations' ages).
#[pyfunction]
#[pyo3(name = "format_age")]
fn py_format_age(seconds: f64) -> String {
    text::format_age(seconds)
}

/// `1,200`; `1,234.5` (explanations' numbers): Python's `f"{n:,}"` of an int, or of a float's
/// int value when it has no fraction.
#[pyfunction]
fn format_number(value: &Bound<'_, PyAny>) -> PyResult<String> {
    if value.is_instance_of::<PyInt>() && !value.is_instance_of::<PyBool>() {
        Ok(text::format_int(value.extract()?))
    } else {
        Ok(text::format_float_number(value.extract()?))
    }
}

/// `demo_request 2d ago`, `3× pricing_view (last 4h ago)`.
#[pyfunction]
#[pyo3(name = "signal_evidence")]
fn py_signal_evidence(id: &str, count: u32, last_hit: f64, at: f64) -> String {
    explain::signal_evidence(id, count, last_hit, at)
}

/// The summary line of `tier`, `total` and per criterion (contribution, evidence).
#[pyfunction]
#[pyo3(name = "summarize")]
fn py_summarize(tier: &str, total: f64, criteria: Vec<(f64, Vec<String>)>) -> String {
    let parts: Vec<(f64, &[String])> = criteria.iter().map(|(c, e)| (*c, e.as_slice())).collect();
    explain::summarize(tier, total, &parts)
}

/// RFC 3339 as the replay writes times (None when out of range).
#[pyfunction]
#[pyo3(name = "format_rfc3339")]
fn py_format_rfc3339(epoch: f64) -> Option<String> {
    text::format_rfc3339(epoch)
}

/// A float as the replay's JSON writes it.
#[pyfunction]
#[pyo3(name = "json_float")]
fn py_json_float(value: f64) -> String {
    let mut out = String::new();
    text::json_float(&mut out, value);
    out
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Core>()?;
    m.add_class::<AccountState>()?;
    m.add_class::<Snapshot>()?;
    m.add_class::<decode::EventDecoder>()?;
    m.add_function(wrap_pyfunction!(py_hash_id, m)?)?;
    m.add_function(wrap_pyfunction!(model_state_view, m)?)?;
    m.add_function(wrap_pyfunction!(reencode_model_state, m)?)?;
    m.add_function(wrap_pyfunction!(reencode_meta, m)?)?;
    m.add_function(wrap_pyfunction!(meta_view, m)?)?;
    m.add_function(wrap_pyfunction!(py_format_age, m)?)?;
    m.add_function(wrap_pyfunction!(format_number, m)?)?;
    m.add_function(wrap_pyfunction!(py_signal_evidence, m)?)?;
    m.add_function(wrap_pyfunction!(py_summarize, m)?)?;
    m.add_function(wrap_pyfunction!(py_format_rfc3339, m)?)?;
    m.add_function(wrap_pyfunction!(py_json_float, m)?)?;
    m.add("MAX_STREAK", MAX_STREAK)?;
    m.add("CODEC_FORMAT", CODEC_FORMAT)?;
    Ok(())
}
