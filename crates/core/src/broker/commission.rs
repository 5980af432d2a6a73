//! Commission models.

use std::sync::Arc;

/// What a fill costs in commission, given the signed order size (units) and fill price.
///
/// A trait so users can plug in any schedule (tiers, minimums) from Rust; the common
/// cases are variants of [`Commission`].
pub trait CommissionModel: Send + Sync {
    /// Commission in cash for a fill of `size` units (signed) at `price`.
    fn commission(&self, size: f64, price: f64) -> f64;
}

/// A commission schedule.
#[derive(Clone, Default)]
pub enum Commission {
    /// No commission.
    #[default]
    None,
    /// `rate · |size| · price` per fill (e.g. `0.002` for 0.2 %).
    Relative(f64),
    /// `fixed + rate · |size| · price` per fill.
    FixedPlusRelative {
        /// Cash per fill.
        fixed: f64,
        /// Fraction of the traded value.
        rate: f64,
    },
    /// Any model implemented in Rust.
    Custom(Arc<dyn CommissionModel>),
}

impl Commission {
    /// The schedule for a relative `rate` plus a `fixed` amount per fill, as the CLI's
    /// `--commission`/`--commission-fixed` and the service's `commission`/`commission_fixed`
    /// give them: `None` when both are zero.
    pub fn from_parts(rate: f64, fixed: f64) -> Commission {
        if fixed == 0.0 && rate == 0.0 {
            Commission::None
        } else if fixed == 0.0 {
            Commission::Relative(rate)
        } else {
            Commission::FixedPlusRelative { fixed, rate }
        }
    }
}

impl std::fmt::Debug for Commission {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Commission::None => f.write_str("None"),
            Commission::Relative(r) => write!(f, "Relative({r})"),
            Commission::FixedPlusRelative { fixed, rate } => {
                write!(f, "FixedPlusRelative {{ fixed: {fixed}, rate: {rate} }}")
            }
            Commission::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

impl<F: Fn(f64, f64) -> f64 + Send + Sync> CommissionModel for F {
    fn commission(&self, size: f64, price: f64) -> f64 {
        self(size, price)
    }
}

impl Commission {
    /// Commission for a fill of `size` units at `price`.
    #[inline]
    pub fn of(&self, size: f64, price: f64) -> f64 {
        match self {
            Commission::None => 0.0,
            Commission::Relative(rate) => size.abs() * price * rate,
            Commission::FixedPlusRelative { fixed, rate } => fixed + size.abs() * price * rate,
            Commission::Custom(model) => model.commission(size, price),
        }
    }

    /// True if every fill is free.
    pub fn is_zero(&self) -> bool {
        match self {
            Commission::None => true,
            Commission::Relative(r) => *r == 0.0,
            Commission::FixedPlusRelative { fixed, rate } => *fixed == 0.0 && *rate == 0.0,
            Commission::Custom(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models() {
        assert_eq!(Commission::Relative(0.01).of(-10.0, 5.0), 0.5);
        assert_eq!(
            Commission::FixedPlusRelative {
                fixed: 1.0,
                rate: 0.01
            }
            .of(10.0, 5.0),
            1.5
        );
        let tiered = Commission::Custom(Arc::new(|size: f64, price: f64| {
            (size.abs() * price * 0.001).max(2.0)
        }));
        assert_eq!(tiered.of(1.0, 100.0), 2.0);
    }
}
