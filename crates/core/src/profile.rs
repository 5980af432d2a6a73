//! Which tool's semantics a backtest reproduces.
//!
//! A profile is more than a stats dialect: it decides when orders fill (next open or the
//! signal bar's close), whether sizes are whole units, and how crosses are detected. The
//! CLI, the sweep runner and the service all go through [`Profile::configure`] and
//! [`Profile::strategy_defaults`], so a configuration means the same thing everywhere.

use crate::broker::BrokerConfig;
use crate::error::Error;
use crate::strategy::ParamSpec;
use crate::strategy::builtin::StrategyInfo;
use crate::sweep::Dialect;

/// backtesting.py 0.6.6 or vectorbt 1.2 `Portfolio.from_signals`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Fills at the next bar's open, whole units, backtesting.py's statistics.
    #[default]
    BacktestingPy,
    /// Fills at the signal bar's close, fractional sizes, vectorbt's `stats()`.
    Vectorbt,
}

impl Profile {
    /// Every profile, in documentation order.
    pub const ALL: [Profile; 2] = [Profile::BacktestingPy, Profile::Vectorbt];

    /// The name used on the command line and in JSON (`backtesting_py`, `vectorbt`).
    pub fn name(self) -> &'static str {
        match self {
            Profile::BacktestingPy => "backtesting_py",
            Profile::Vectorbt => "vectorbt",
        }
    }

    /// The profile called `name`, if any.
    pub fn from_name(name: &str) -> Option<Profile> {
        Profile::ALL.into_iter().find(|p| p.name() == name)
    }

    /// The statistics dialect results are reported in.
    pub fn dialect(self) -> Dialect {
        match self {
            Profile::BacktestingPy => Dialect::BacktestingPy,
            Profile::Vectorbt => Dialect::Vectorbt,
        }
    }

    /// The statistic a sweep maximises when none is named: `sqn` like backtesting.py's
    /// `optimize`, `sharpe_ratio` for vectorbt.
    pub fn default_objective(self) -> &'static str {
        match self {
            Profile::BacktestingPy => "sqn",
            Profile::Vectorbt => "sharpe_ratio",
        }
    }

    /// Sets the fill semantics the profile implies on a user's broker settings and
    /// validates the result. `trade_on_close` is backtesting.py's option; the vectorbt
    /// profile already fills at the signal bar's close, so asking for it there is an error
    /// rather than silently meaningless.
    pub fn configure(self, mut cfg: BrokerConfig) -> Result<BrokerConfig, Error> {
        if self == Profile::Vectorbt && cfg.trade_on_close {
            return Err(Error::Config {
                field: "trade_on_close",
                message: "is backtesting.py's; the vectorbt profile already fills at the \
                          signal bar's close"
                    .into(),
            });
        }
        cfg.same_bar_close_fills = self == Profile::Vectorbt;
        cfg.continuous_sizes = self == Profile::Vectorbt && cfg.fractional_unit.is_none();
        cfg.validate()?;
        Ok(cfg)
    }

    /// A strategy's parameters as given plus the profile's defaults: the vectorbt profile
    /// detects crosses with vectorbt's stateful rule unless `cross` is given.
    pub fn strategy_defaults<'a>(
        self,
        info: &StrategyInfo,
        pairs: Vec<(&'a str, &'a str)>,
    ) -> Vec<(&'a str, &'a str)> {
        self.param_defaults(info.params, pairs)
    }

    /// [`Profile::strategy_defaults`] for any parameter list (portfolio strategies too).
    pub fn param_defaults<'a>(
        self,
        params: &[ParamSpec],
        mut pairs: Vec<(&'a str, &'a str)>,
    ) -> Vec<(&'a str, &'a str)> {
        if self == Profile::Vectorbt
            && params.iter().any(|p| p.name == "cross")
            && !pairs.iter().any(|(k, _)| *k == "cross")
        {
            pairs.push(("cross", "stateful"));
        }
        pairs
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::strategy::builtin;

    #[test]
    fn names_round_trip() {
        for p in Profile::ALL {
            assert_eq!(Profile::from_name(p.name()), Some(p));
        }
        assert_eq!(Profile::from_name("zipline"), None);
    }

    #[test]
    fn vectorbt_fills_at_close_and_rejects_trade_on_close() {
        let cfg = Profile::Vectorbt
            .configure(BrokerConfig::default())
            .unwrap();
        assert!(cfg.same_bar_close_fills && cfg.continuous_sizes);
        let bad = BrokerConfig {
            trade_on_close: true,
            ..BrokerConfig::default()
        };
        let e = Profile::Vectorbt.configure(bad.clone()).unwrap_err();
        assert!(matches!(
            e,
            Error::Config {
                field: "trade_on_close",
                ..
            }
        ));
        assert!(
            Profile::BacktestingPy
                .configure(bad)
                .unwrap()
                .trade_on_close
        );
    }

    #[test]
    fn vectorbt_defaults_to_stateful_crosses_unless_given() {
        let info = builtin::find("sma_cross").unwrap();
        let p = Profile::Vectorbt.strategy_defaults(info, vec![("fast", "5")]);
        assert_eq!(p, vec![("fast", "5"), ("cross", "stateful")]);
        let given = vec![("cross", "strict")];
        assert_eq!(
            Profile::Vectorbt.strategy_defaults(info, given.clone()),
            given
        );
        assert!(
            Profile::BacktestingPy
                .strategy_defaults(info, vec![])
                .is_empty()
        );
    }
}
