//! The signals an event can hit: per event type, the groups of signals of one behavioral
//! criterion, and the `where` tests (docs/scoring.md section 2) run on the event's properties.

use pyo3::exceptions::PyValueError;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyString};

/// An expected value of a `where` test; strings are lower-cased already (by Python, when the
/// engine compiled the model).
pub(crate) enum Expected {
    Str(String),
    Bool(bool),
    Number(f64),
}

pub(crate) enum Test {
    Equals(Expected),
    AnyOf(Vec<Expected>),
    Contains(String),
    AtLeast(f64),
    AtMost(f64),
}

/// A property value as the tests see it. An ASCII string is lower-cased where compared; any
/// other string is lower-cased once by Python's `str.lower`, so the two languages' Unicode case
/// tables never meet.
pub(crate) enum Value<'a> {
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
        (Value::Ascii(a), Expected::Str(e)) => a.len() == e.len() && a.eq_ignore_ascii_case(e),
        (Value::Lowered(a), Expected::Str(e)) => a == e,
        (Value::Bool(a), Expected::Bool(e)) => a == e,
        (Value::Number(a), Expected::Number(e)) => a == e,
        _ => false,
    }
}

impl Test {
    pub fn holds(&self, actual: &Value) -> bool {
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

/// The test of a `where` condition: `op` and its expected value (a tuple: any of them).
pub(crate) fn compile_test(op: &str, value: &Bound<'_, PyAny>) -> PyResult<Test> {
    if let Ok(options) = value.cast::<pyo3::types::PyTuple>() {
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

pub(crate) struct SignalDef {
    /// Index of the signal in its criterion.
    pub k: usize,
    pub cap: Option<u32>,
    /// Counts for breadth (positive points).
    pub positive: bool,
    pub tests: Vec<(Py<PyString>, Test)>,
}

impl SignalDef {
    /// Whether every `where` test holds on the event's properties (`dict` when they are one).
    pub fn matches(
        &self,
        dict: Option<&Bound<'_, PyDict>>,
        props: &Bound<'_, PyAny>,
    ) -> PyResult<bool> {
        let py = props.py();
        for (name, test) in &self.tests {
            match property(dict, props, name.bind(py))? {
                Some(value) if !value.is_none() && test.holds(&property_value(&value)) => {}
                _ => return Ok(false),
            }
        }
        Ok(true)
    }
}

/// The signals of one behavioral criterion of one model that one event type can hit.
pub(crate) struct Group {
    pub model: usize,
    pub behavior: usize,
    pub signals: Vec<SignalDef>,
}

/// The value of property `name` (None when absent). Decoded events carry a dict; any other
/// mapping is read through its `get`.
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
