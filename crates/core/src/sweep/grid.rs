//! Parameter axes, constraints and the combinations they span.

use crate::error::Error;
use crate::strategy::{ParamKind, ParamSpec, ParamValue};

/// One swept parameter and the values it takes.
#[derive(Debug, Clone, PartialEq)]
pub struct Axis {
    /// Parameter name.
    pub name: String,
    /// Values, in the order given.
    pub values: Vec<ParamValue>,
}

impl Axis {
    /// Parses `start:stop:step` (inclusive of `stop`) or a comma list (`5,8,13`) for the
    /// parameter `spec`; every value is type- and range-checked.
    pub fn parse(spec: &ParamSpec, text: &str) -> Result<Axis, Error> {
        let err = |message: String| Error::Param {
            param: spec.name.to_string(),
            message,
        };
        let text = text.trim();
        let raw: Vec<String> = if text.contains(':') {
            let parts: Vec<&str> = text.split(':').map(str::trim).collect();
            let [a, b, c] = parts[..] else {
                return Err(err(format!("range `{text}`: expected start:stop:step")));
            };
            let num = |s: &str| {
                s.parse::<f64>()
                    .map_err(|_| err(format!("range `{text}`: `{s}` is not a number")))
            };
            let (start, stop, step) = (num(a)?, num(b)?, num(c)?);
            if !(step > 0.0 && step.is_finite() && start.is_finite() && stop.is_finite()) {
                return Err(err(format!(
                    "range `{text}`: step must be > 0 and bounds finite"
                )));
            }
            if stop < start {
                return Err(err(format!("range `{text}`: stop is below start")));
            }
            // Counting steps (not adding them up) keeps float ranges free of drift; the small
            // tolerance keeps `stop` when it is a whole number of steps away.
            let count = ((stop - start) / step + 1e-9).floor() as u64 + 1;
            if count > 1_000_000 {
                return Err(err(format!(
                    "range `{text}` has {count} values (at most 1,000,000)"
                )));
            }
            (0..count)
                .map(|k| {
                    let v = start + k as f64 * step;
                    if matches!(spec.kind, ParamKind::Int { .. }) {
                        format!("{}", v.round())
                    } else {
                        format!("{v}")
                    }
                })
                .collect()
        } else {
            text.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        if raw.is_empty() {
            return Err(err("no values to sweep".into()));
        }
        let values = raw
            .iter()
            .map(|r| spec.parse(r))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Axis {
            name: spec.name.to_string(),
            values,
        })
    }
}

/// A comparison operator in a constraint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
    Ne,
}

/// A parameter name or a number.
#[derive(Debug, Clone, PartialEq)]
enum Operand {
    Param(String),
    Number(f64),
}

/// Conditions every combination must meet, e.g. `fast < slow` or
/// `fast < slow and slow <= 4 * 50`… (only comparisons of parameters and numbers, joined by
/// `and`/`&&`/`,`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Constraint {
    terms: Vec<(Operand, Op, Operand)>,
}

impl Constraint {
    /// Parses a constraint; parameter names must be among `specs`.
    pub fn parse(text: &str, specs: &[ParamSpec]) -> Result<Constraint, Error> {
        let err = |message: String| Error::Param {
            param: "constraint".into(),
            message,
        };
        let mut terms = Vec::new();
        let normalized = text.replace("&&", ",").replace(" and ", ",");
        for term in normalized
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
        {
            let ops = [
                ("<=", Op::Le),
                (">=", Op::Ge),
                ("==", Op::Eq),
                ("!=", Op::Ne),
                ("<", Op::Lt),
                (">", Op::Gt),
            ];
            let Some((pos, sym, op)) = ops
                .iter()
                .find_map(|(sym, op)| term.find(sym).map(|p| (p, *sym, *op)))
            else {
                return Err(err(format!(
                    "`{term}`: expected a comparison such as `fast < slow`"
                )));
            };
            let side = |s: &str| -> Result<Operand, Error> {
                let s = s.trim();
                if let Ok(v) = s.parse::<f64>() {
                    return Ok(Operand::Number(v));
                }
                if specs.iter().any(|p| p.name == s) {
                    return Ok(Operand::Param(s.to_string()));
                }
                Err(err(format!(
                    "`{term}`: `{s}` is neither a number nor a parameter"
                )))
            };
            terms.push((side(&term[..pos])?, op, side(&term[pos + sym.len()..])?));
        }
        if terms.is_empty() {
            return Err(err(format!("`{text}` has no comparison")));
        }
        Ok(Constraint { terms })
    }

    /// True if the parameter values (by name) satisfy every comparison.
    pub(crate) fn holds(&self, value: &dyn Fn(&str) -> Option<f64>) -> bool {
        self.terms.iter().all(|(a, op, b)| {
            let get = |o: &Operand| match o {
                Operand::Number(v) => Some(*v),
                Operand::Param(p) => value(p),
            };
            let (Some(x), Some(y)) = (get(a), get(b)) else {
                return false;
            };
            match op {
                Op::Lt => x < y,
                Op::Le => x <= y,
                Op::Gt => x > y,
                Op::Ge => x >= y,
                Op::Eq => x == y,
                Op::Ne => x != y,
            }
        })
    }
}

/// Numeric view of a parameter value for constraints (words have none).
pub(crate) fn numeric(v: &ParamValue) -> Option<f64> {
    match v {
        ParamValue::Int(i) => Some(*i as f64),
        ParamValue::Float(f) => Some(*f),
        ParamValue::Str(_) => None,
    }
}

/// SplitMix64: a tiny, well-mixed seeded generator; the same seed gives the same sample on
/// every machine.
pub(crate) struct SplitMix(pub(crate) u64);

impl SplitMix {
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (rejection sampling, no modulo bias).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        let zone = u64::MAX - u64::MAX % n;
        loop {
            let x = self.next_u64();
            if x < zone {
                return x % n;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::builtin;

    fn spec(name: &str) -> &'static ParamSpec {
        builtin::find("sma_cross")
            .unwrap()
            .params
            .iter()
            .find(|p| p.name == name)
            .unwrap()
    }

    #[test]
    fn ranges_include_stop() {
        let a = Axis::parse(spec("fast"), "5:50:5").unwrap();
        assert_eq!(a.values.len(), 10);
        assert_eq!(a.values[9], ParamValue::Int(50));
        let b = Axis::parse(spec("sl_pct"), "0.01:0.05:0.01").unwrap();
        assert_eq!(b.values.len(), 5);
        let c = Axis::parse(spec("fast"), "5,8,13").unwrap();
        assert_eq!(
            c.values,
            vec![ParamValue::Int(5), ParamValue::Int(8), ParamValue::Int(13)]
        );
        assert!(Axis::parse(spec("fast"), "5:1:1").is_err());
        assert!(
            Axis::parse(spec("fast"), "0:10:5").is_err(),
            "0 is below fast's minimum"
        );
        assert!(Axis::parse(spec("direction"), "long_only,sideways").is_err());
    }

    #[test]
    fn constraints() {
        let specs = builtin::find("sma_cross").unwrap().params;
        let c = Constraint::parse("fast < slow and slow <= 40", specs).unwrap();
        let vals = |f: f64, s: f64| move |n: &str| if n == "fast" { Some(f) } else { Some(s) };
        assert!(c.holds(&vals(5.0, 40.0)));
        assert!(!c.holds(&vals(5.0, 45.0)));
        assert!(!c.holds(&vals(40.0, 40.0)));
        assert!(Constraint::parse("fast < nope", specs).is_err());
        assert!(Constraint::parse("fast", specs).is_err());
    }

    #[test]
    fn seeded_sampling_is_reproducible() {
        let a: Vec<u64> = {
            let mut r = SplitMix(7);
            (0..5).map(|_| r.below(100)).collect()
        };
        let b: Vec<u64> = {
            let mut r = SplitMix(7);
            (0..5).map(|_| r.below(100)).collect()
        };
        assert_eq!(a, b);
        assert!(a.iter().all(|x| *x < 100));
    }
}
