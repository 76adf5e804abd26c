//! Firmographic and technographic criteria (docs/scoring.md section 2): a profile field read by
//! dotted path, scored by bands, values or `any`, and the words an explanation uses for it.

use std::collections::HashMap;

use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyMapping, PyString};

use crate::text::{format_float_number, format_int};

pub enum Rule {
    /// (min, score) with strictly falling `min`; below the last band scores 0.
    Bands(Vec<(f64, f64)>),
    /// Lower-cased value -> score (`true`/`false` for a boolean field); others take `default`.
    Values {
        table: HashMap<String, f64>,
        default: f64,
    },
    /// Lower-cased item -> score; listed items add up, at most the scale.
    Any(HashMap<String, f64>),
}

pub struct ProfileDef {
    path: Vec<Py<PyString>>,
    name: String,
    rule: Rule,
    missing: f64,
}

/// A field value as the rules see it.
enum Field<'py> {
    Int(i128),
    Float(f64),
    Bool(bool),
    Str(Bound<'py, PyString>),
    List(Bound<'py, PyList>),
    Other,
}

impl Field<'_> {
    fn number(&self) -> Option<f64> {
        match self {
            Field::Int(n) => Some(*n as f64),
            Field::Float(x) => Some(*x),
            _ => None,
        }
    }
}

fn field<'py>(value: Option<Bound<'py, PyAny>>) -> Field<'py> {
    let Some(value) = value else {
        return Field::Other;
    };
    if let Ok(b) = value.cast_exact::<PyBool>() {
        return Field::Bool(b.is_true());
    }
    if value.is_instance_of::<PyInt>() {
        return match value.extract::<i128>() {
            Ok(n) => Field::Int(n),
            Err(_) => Field::Other,
        };
    }
    if let Ok(x) = value.cast::<PyFloat>() {
        return Field::Float(x.value());
    }
    if let Ok(s) = value.cast::<PyString>() {
        return Field::Str(s.clone());
    }
    if let Ok(list) = value.cast::<PyList>() {
        return Field::List(list.clone());
    }
    Field::Other
}

/// The `fields` of a Python `Profile` (None for no profile).
pub fn profile_fields<'py>(
    profile: Option<&Bound<'py, PyAny>>,
) -> PyResult<Option<Bound<'py, PyAny>>> {
    match profile {
        None => Ok(None),
        Some(p) if p.is_none() => Ok(None),
        Some(p) => Ok(Some(p.getattr(pyo3::intern!(p.py(), "fields"))?)),
    }
}

/// Python's `str.lower()` (ASCII without a round trip through Python).
pub fn lowered(text: &Bound<'_, PyString>) -> PyResult<String> {
    let s = text.to_str()?;
    if s.is_ascii() {
        Ok(s.to_ascii_lowercase())
    } else {
        text.call_method0(pyo3::intern!(text.py(), "lower"))?
            .extract()
    }
}

impl ProfileDef {
    /// `path`: the dotted field as its segments; `kind`: "bands", "values" or "any".
    pub fn new(
        path: Vec<Bound<'_, PyString>>,
        kind: &str,
        bands: Vec<(f64, f64)>,
        table: HashMap<String, f64>,
        default: f64,
        missing: f64,
    ) -> PyResult<Self> {
        let name = match path.last() {
            Some(last) => last.to_str()?.to_owned(),
            None => return Err(pyo3::exceptions::PyValueError::new_err("empty field path")),
        };
        let rule = match kind {
            "bands" => Rule::Bands(bands),
            "values" => Rule::Values { table, default },
            _ => Rule::Any(table),
        };
        Ok(ProfileDef {
            path: path.into_iter().map(Bound::unbind).collect(),
            name,
            rule,
            missing,
        })
    }

    /// The field at the dotted path of a profile's fields; None when a step is absent or null.
    fn lookup<'py>(&self, fields: &Bound<'py, PyAny>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let py = fields.py();
        let mut value = fields.clone();
        for segment in &self.path {
            let next = if let Ok(dict) = value.cast::<PyDict>() {
                dict.get_item(segment.bind(py))?
            } else if let Ok(mapping) = value.cast::<PyMapping>() {
                Some(mapping.call_method1(pyo3::intern!(py, "get"), (segment.bind(py),))?)
            } else {
                None
            };
            match next {
                Some(v) if !v.is_none() => value = v,
                _ => return Ok(None),
            }
        }
        Ok(Some(value))
    }

    /// Score (0..scale) for a profile's fields (None: no profile): a value of the wrong type
    /// counts as absent and takes `missing`.
    pub fn score(&self, fields: Option<&Bound<'_, PyAny>>, scale: f64) -> PyResult<f64> {
        let value = match fields {
            Some(fields) => field(self.lookup(fields)?),
            None => Field::Other,
        };
        Ok(match &self.rule {
            Rule::Bands(bands) => match value.number() {
                None => self.missing,
                Some(x) => bands
                    .iter()
                    .find(|(min, _)| x >= *min)
                    .map_or(0.0, |(_, s)| *s),
            },
            Rule::Values { table, default } => match &value {
                Field::Bool(b) => *table
                    .get(if *b { "true" } else { "false" })
                    .unwrap_or(&self.missing),
                Field::Str(s) => *table.get(&lowered(s)?).unwrap_or(default),
                _ => self.missing,
            },
            Rule::Any(table) => match &value {
                Field::List(items) => {
                    let mut total = 0.0;
                    for (_, key) in listed(table, items)? {
                        total += table[&key];
                    }
                    if scale <= total {
                        scale
                    } else {
                        total
                    }
                }
                _ => self.missing,
            },
        })
    }

    /// The summary part for a profile's fields: `1,200 employees`, `industry software`,
    /// `customer` / `not customer` for a flag the model scores, `uses Snowflake, Salesforce`,
    /// or `<field> unknown` for a value the criterion cannot use.
    pub fn evidence(&self, fields: Option<&Bound<'_, PyAny>>) -> PyResult<String> {
        let value = match fields {
            Some(fields) => field(self.lookup(fields)?),
            None => Field::Other,
        };
        let name = &self.name;
        Ok(match (&self.rule, &value) {
            (Rule::Bands(_), Field::Int(n)) => format!("{} {name}", format_int(*n)),
            (Rule::Bands(_), Field::Float(x)) => format!("{} {name}", format_float_number(*x)),
            (Rule::Values { .. }, Field::Str(s)) => format!("{name} {}", s.to_str()?),
            (Rule::Values { table, .. }, Field::Bool(b))
                if table.contains_key(if *b { "true" } else { "false" }) =>
            {
                if *b {
                    name.clone()
                } else {
                    format!("not {name}")
                }
            }
            (Rule::Any(table), Field::List(items)) => {
                let written: Vec<String> = listed(table, items)?
                    .into_iter()
                    .map(|(item, _)| item)
                    .collect();
                format!("uses {}", written.join(", "))
            }
            _ => format!("{name} unknown"),
        })
    }
}

/// Items of a list field that `table` lists, once each (case-insensitive), as written, with
/// their lower-cased key, in list order.
fn listed(
    table: &HashMap<String, f64>,
    items: &Bound<'_, PyList>,
) -> PyResult<Vec<(String, String)>> {
    let mut found: Vec<(String, String)> = Vec::new();
    for item in items.iter() {
        if let Ok(text) = item.cast::<PyString>() {
            let key = lowered(text)?;
            if table.contains_key(&key) && !found.iter().any(|(_, k)| *k == key) {
                found.push((text.to_str()?.to_owned(), key));
            }
        }
    }
    Ok(found)
}
