//! The common case of `scoring.decode.decode_event`, natively: a message that is plainly a valid
//! `behavioral-event.v1` keyed by account becomes the same `Event` in a fraction of the time.
//!
//! It only ever vouches: anything it is not sure of (a rule broken, a `domain`, a null, a
//! timestamp beyond what it converts exactly, JSON it cannot parse) makes it answer None, and the
//! Python decoder, the one that words rejections, decides. So it may accept less than Python
//! does, never more, and what it accepts is what Python would build (tests/unit/scoring/test_decode.py
//! runs every case through both).

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};
use serde_json::{Map, Number, Value};

const MAX_EVENT_BYTES: usize = 65_536;
const MAX_ID_LENGTH: usize = 128;
const MAX_PROPERTIES: usize = 64;
const MAX_TYPE_LENGTH: usize = 64;

/// Builds `scoring.messages.Event`s (the class and the shared empty properties come from
/// Python, so both decoders make the very same objects).
#[pyclass(module = "scoring._core", frozen)]
pub struct EventDecoder {
    event: Py<PyAny>,
    no_properties: Py<PyAny>,
}

/// A string of 1 to 128 characters (Python counts code points).
fn id_of(value: Option<&Value>) -> Option<&str> {
    match value {
        Some(Value::String(s)) if !s.is_empty() && s.chars().count() <= MAX_ID_LENGTH => Some(s),
        _ => None,
    }
}

/// `^[a-z][a-z0-9_]{0,63}$`
fn is_type(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TYPE_LENGTH
        && bytes[0].is_ascii_lowercase()
        && bytes[1..]
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'_')
}

fn digits(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0i64, |n, b| n * 10 + i64::from(b - b'0')))
}

/// Days from 1970-01-01 to a valid proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `2026-11-23T10:00:00.5+02:00` (the schema's pattern: `T`, seconds, optional fraction of 1 to
/// 9 digits, `Z` or an offset) -> epoch seconds as Python's
/// `datetime.fromisoformat(text).timestamp()` gives them: microseconds truncated from the
/// fraction, then total microseconds / 10^6 correctly rounded. None for anything else, an
/// impossible date, or a time too far out for that division to be exact in a double.
fn timestamp(text: &str) -> Option<f64> {
    let b = text.as_bytes();
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (hour, minute, second) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if year < 1000 || !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut rest = &b[19..];
    let mut micros = 0i64;
    if let Some(fraction) = rest.strip_prefix(b".") {
        let n = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if !(1..=9).contains(&n) {
            return None;
        }
        let kept = &fraction[..n.min(6)];
        micros = digits(kept)? * 10i64.pow(6 - kept.len() as u32);
        rest = &fraction[n..];
    }
    let offset = match rest {
        b"Z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let hours = digits(&[*h1, *h2])?;
            let minutes = digits(&[*m1, *m2])?;
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'+' {
                seconds
            } else {
                -seconds
            }
        }
        _ => return None,
    };
    let seconds =
        days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset;
    let total = seconds.checked_mul(1_000_000)?.checked_add(micros)?;
    if total.unsigned_abs() >= 1 << 53 {
        return None; // not exact as a double: leave it to Python
    }
    Some(total as f64 / 1e6)
}

/// A property value as orjson decodes it; None for what the schema refuses (null, arrays,
/// objects).
fn scalar(py: Python<'_>, value: &Value) -> PyResult<Option<Py<PyAny>>> {
    Ok(Some(match value {
        Value::String(s) => PyString::new(py, s).into_any().unbind(),
        Value::Bool(b) => pyo3::types::PyBool::new(py, *b)
            .to_owned()
            .into_any()
            .unbind(),
        Value::Number(n) => match number(py, n)? {
            Some(n) => n,
            None => return Ok(None),
        },
        _ => return Ok(None),
    }))
}

fn number(py: Python<'_>, n: &Number) -> PyResult<Option<Py<PyAny>>> {
    use pyo3::IntoPyObjectExt;
    if let Some(i) = n.as_i64() {
        return Ok(Some(i.into_py_any(py)?));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Some(u.into_py_any(py)?));
    }
    match n.as_f64() {
        // -0 written as an integer is the int 0 to orjson: leave signed zeros to Python.
        Some(x) if x.is_finite() && x != 0.0 => Ok(Some(x.into_py_any(py)?)),
        _ => Ok(None),
    }
}

impl EventDecoder {
    fn properties(&self, py: Python<'_>, value: Option<&Value>) -> PyResult<Option<Py<PyAny>>> {
        let map: &Map<String, Value> = match value {
            None => return Ok(Some(self.no_properties.clone_ref(py))),
            Some(Value::Object(map)) if map.len() <= MAX_PROPERTIES => map,
            Some(_) => return Ok(None),
        };
        let dict = PyDict::new(py);
        for (key, item) in map {
            match scalar(py, item)? {
                Some(value) => dict.set_item(key, value)?,
                None => return Ok(None),
            }
        }
        Ok(Some(dict.into_any().unbind()))
    }
}

#[pymethods]
impl EventDecoder {
    #[new]
    fn py_new(event: Py<PyAny>, no_properties: Py<PyAny>) -> Self {
        EventDecoder {
            event,
            no_properties,
        }
    }

    /// The `Event` of a message that is plainly valid and keyed by account, else None (then
    /// the Python decoder decides).
    fn decode(&self, py: Python<'_>, raw: &[u8]) -> PyResult<Option<Py<PyAny>>> {
        if raw.len() > MAX_EVENT_BYTES {
            return Ok(None);
        }
        let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(raw) else {
            return Ok(None);
        };
        if obj.contains_key("domain") {
            return Ok(None);
        }
        let (Some(event_id), Some(account_id)) =
            (id_of(obj.get("event_id")), id_of(obj.get("account_id")))
        else {
            return Ok(None);
        };
        let event_type = match obj.get("type") {
            Some(Value::String(t)) if is_type(t) => t,
            _ => return Ok(None),
        };
        let occurred_at = match obj.get("occurred_at") {
            Some(Value::String(text)) => match timestamp(text) {
                Some(t) => t,
                None => return Ok(None),
            },
            _ => return Ok(None),
        };
        let contact_id = match obj.get("contact_id") {
            None => None,
            value => match id_of(value) {
                Some(id) => Some(id),
                None => return Ok(None),
            },
        };
        let Some(properties) = self.properties(py, obj.get("properties"))? else {
            return Ok(None);
        };
        let event = self.event.bind(py).call1((
            event_id,
            event_type,
            occurred_at,
            account_id,
            py.None(),
            contact_id,
            properties,
        ))?;
        Ok(Some(event.unbind()))
    }
}
