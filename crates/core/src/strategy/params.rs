//! Typed, validated strategy parameters.

use std::collections::BTreeMap;

use crate::error::Error;

/// The type and bounds of a parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ParamKind {
    /// An integer in `[min, max]`.
    Int {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A float in `[min, max]`.
    Float {
        /// Smallest allowed value.
        min: f64,
        /// Largest allowed value.
        max: f64,
    },
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
    /// Free text (not sweepable as a range).
    Text,
    /// A path to a file the strategy reads when it is built (an ONNX model, a feature
    /// spec). Kept apart from [`ParamKind::Text`] because whoever accepts parameters from
    /// someone else (the service) must never let them name its own files: it maps such a
    /// parameter to a stored object and refuses it wherever it cannot (a sweep's grid).
    File,
    /// An expression of the rule language (`rules`), checked when the strategy is built.
    Expr,
}

/// A parameter value.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    /// Integer.
    Int(i64),
    /// Float.
    Float(f64),
    /// Word from a choice list.
    Str(String),
}

impl std::fmt::Display for ParamValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParamValue::Int(v) => write!(f, "{v}"),
            ParamValue::Float(v) => write!(f, "{v}"),
            ParamValue::Str(v) => f.write_str(v),
        }
    }
}

/// One parameter of a strategy: name, type, bounds, default.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamSpec {
    /// Name used on the command line (`--param name=value`) and in JSON.
    pub name: &'static str,
    /// Type and bounds.
    pub kind: ParamKind,
    /// Default; `None` means optional-and-off (e.g. no stop-loss) or, with `required`, must be given.
    pub default: Option<DefaultValue>,
    /// One line for `backtide strategies`.
    pub doc: &'static str,
}

/// A default that can live in a `static`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum DefaultValue {
    /// Integer default.
    Int(i64),
    /// Float default.
    Float(f64),
    /// Word default.
    Str(&'static str),
}

impl DefaultValue {
    fn to_value(self) -> ParamValue {
        match self {
            DefaultValue::Int(v) => ParamValue::Int(v),
            DefaultValue::Float(v) => ParamValue::Float(v),
            DefaultValue::Str(v) => ParamValue::Str(v.to_string()),
        }
    }
}

impl ParamSpec {
    /// Human-readable type and bounds, e.g. `int in [2, 1000]`.
    pub fn describe_kind(&self) -> String {
        match self.kind {
            ParamKind::Int { min, max } => format!("int in [{min}, {max}]"),
            ParamKind::Float { min, max } => format!("float in [{min}, {max}]"),
            ParamKind::Choice(c) => format!("one of {}", c.join("|")),
            ParamKind::Text => "text".to_string(),
            ParamKind::File => "a file path".to_string(),
            ParamKind::Expr => "a rule expression".to_string(),
        }
    }

    /// The default as a value, if any.
    pub fn default_value(&self) -> Option<ParamValue> {
        self.default.map(DefaultValue::to_value)
    }

    /// Parses and range-checks a textual value.
    pub fn parse(&self, raw: &str) -> Result<ParamValue, Error> {
        let err = |message: String| Error::Param {
            param: self.name.to_string(),
            message,
        };
        let raw = raw.trim();
        match self.kind {
            ParamKind::Int { .. } => {
                let v: i64 = raw
                    .parse()
                    .or_else(|_| {
                        raw.parse::<f64>()
                            .ok()
                            .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                            .map(|f| f as i64)
                            .ok_or(())
                    })
                    .map_err(|_| err(format!("expected an integer, got `{raw}`")))?;
                self.check(ParamValue::Int(v))
            }
            ParamKind::Float { .. } => {
                let v: f64 = raw
                    .parse()
                    .map_err(|_| err(format!("expected a number, got `{raw}`")))?;
                self.check(ParamValue::Float(v))
            }
            ParamKind::Choice(_) | ParamKind::Text | ParamKind::File | ParamKind::Expr => {
                self.check(ParamValue::Str(raw.to_string()))
            }
        }
    }

    /// Range- and type-checks a value (ints are accepted where floats are expected).
    pub fn check(&self, value: ParamValue) -> Result<ParamValue, Error> {
        let err = |message: String| Error::Param {
            param: self.name.to_string(),
            message,
        };
        match (self.kind, value) {
            (ParamKind::Int { min, max }, ParamValue::Int(v)) => {
                if v < min || v > max {
                    return Err(err(format!("{v} is out of range [{min}, {max}]")));
                }
                Ok(ParamValue::Int(v))
            }
            (ParamKind::Float { min, max }, v @ (ParamValue::Float(_) | ParamValue::Int(_))) => {
                let v = match v {
                    ParamValue::Int(i) => i as f64,
                    ParamValue::Float(f) => f,
                    ParamValue::Str(_) => f64::NAN,
                };
                if !v.is_finite() || v < min || v > max {
                    return Err(err(format!("{v} is out of range [{min}, {max}]")));
                }
                Ok(ParamValue::Float(v))
            }
            (ParamKind::Choice(c), ParamValue::Str(s)) => {
                if !c.contains(&s.as_str()) {
                    return Err(err(format!("`{s}` is not one of {}", c.join(", "))));
                }
                Ok(ParamValue::Str(s))
            }
            (ParamKind::Text | ParamKind::File | ParamKind::Expr, ParamValue::Str(s)) => {
                if s.trim().is_empty() {
                    return Err(err("must not be empty".into()));
                }
                Ok(ParamValue::Str(s))
            }
            (_, v) => Err(err(format!("expected {}, got `{v}`", self.describe_kind()))),
        }
    }
}

/// Validated parameter values, keyed by name (ordered, so output is stable).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Params(BTreeMap<String, ParamValue>);

impl Params {
    /// Builds parameters from `name=value` pairs: unknown names and bad values are
    /// errors; missing ones take their defaults.
    pub fn from_pairs<'a>(
        specs: &[ParamSpec],
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Params, Error> {
        let mut given = BTreeMap::new();
        for (name, raw) in pairs {
            let spec = find(specs, name)?;
            given.insert(name.to_string(), spec.parse(raw)?);
        }
        Ok(Self::with_defaults(specs, given))
    }

    /// Builds parameters from already-typed values (e.g. JSON).
    pub fn from_values(
        specs: &[ParamSpec],
        values: impl IntoIterator<Item = (String, ParamValue)>,
    ) -> Result<Params, Error> {
        let mut given = BTreeMap::new();
        for (name, v) in values {
            let spec = find(specs, &name)?;
            given.insert(name, spec.check(v)?);
        }
        Ok(Self::with_defaults(specs, given))
    }

    fn with_defaults(specs: &[ParamSpec], mut given: BTreeMap<String, ParamValue>) -> Params {
        for s in specs {
            if !given.contains_key(s.name)
                && let Some(d) = s.default_value()
            {
                given.insert(s.name.to_string(), d);
            }
        }
        Params(given)
    }

    /// The values, by name.
    pub fn values(&self) -> &BTreeMap<String, ParamValue> {
        &self.0
    }

    /// An integer parameter.
    pub fn int(&self, name: &str) -> Result<i64, Error> {
        match self.0.get(name) {
            Some(ParamValue::Int(v)) => Ok(*v),
            _ => Err(missing(name)),
        }
    }

    /// An optional float parameter.
    pub fn float_opt(&self, name: &str) -> Option<f64> {
        match self.0.get(name) {
            Some(ParamValue::Float(v)) => Some(*v),
            Some(ParamValue::Int(v)) => Some(*v as f64),
            _ => None,
        }
    }

    /// A float parameter.
    pub fn float(&self, name: &str) -> Result<f64, Error> {
        self.float_opt(name).ok_or_else(|| missing(name))
    }

    /// These parameters with `name`'s value (if it has one) replaced by `value`: how a
    /// result shows a parameter differently from how it ran, e.g. a stored model by its id
    /// rather than by the path the server read it from.
    pub fn relabelled(&self, name: &str, value: ParamValue) -> Params {
        let mut out = self.clone();
        if let Some(v) = out.0.get_mut(name) {
            *v = value;
        }
        out
    }

    /// A word parameter.
    pub fn str(&self, name: &str) -> Result<&str, Error> {
        match self.0.get(name) {
            Some(ParamValue::Str(v)) => Ok(v),
            _ => Err(missing(name)),
        }
    }
}

fn missing(name: &str) -> Error {
    Error::Param {
        param: name.to_string(),
        message: "is required".into(),
    }
}

fn find<'s>(specs: &'s [ParamSpec], name: &str) -> Result<&'s ParamSpec, Error> {
    specs
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| Error::Param {
            param: name.to_string(),
            message: format!(
                "unknown parameter (known: {})",
                specs.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
            ),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: &[ParamSpec] = &[
        ParamSpec {
            name: "n",
            kind: ParamKind::Int { min: 2, max: 10 },
            default: Some(DefaultValue::Int(5)),
            doc: "",
        },
        ParamSpec {
            name: "x",
            kind: ParamKind::Float { min: 0.0, max: 1.0 },
            default: None,
            doc: "",
        },
    ];

    #[test]
    fn defaults_and_parsing() {
        let p = Params::from_pairs(SPECS, [("x", "0.5")]).unwrap();
        assert_eq!(p.int("n").unwrap(), 5);
        assert_eq!(p.float_opt("x"), Some(0.5));
        assert!(Params::from_pairs(SPECS, [("n", "11")]).is_err());
        assert!(Params::from_pairs(SPECS, [("n", "abc")]).is_err());
        assert!(Params::from_pairs(SPECS, [("m", "1")]).is_err());
        assert!(Params::from_pairs(SPECS, [("x", "NaN")]).is_err());
        assert_eq!(
            Params::from_pairs(SPECS, [("n", "7.0")])
                .unwrap()
                .int("n")
                .unwrap(),
            7
        );
    }
}
