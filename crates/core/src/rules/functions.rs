//! The functions a rule can call: their arguments, result, whether they count toward the
//! warm-up, and how each is computed (always through [`crate::indicators`], so a rule
//! and a built-in strategy see the same values bit for bit).

use crate::indicators;

/// What an argument must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Arg {
    /// A number series (`close`, an indicator, arithmetic on them).
    Series,
    /// A number or a number series.
    Value,
    /// A boolean series or constant.
    Cond,
    /// A window: a whole number ≥ 1 fixed for the run (a literal or a `$parameter`).
    Window,
    /// A shift: a whole number ≥ 0 fixed for the run (a negative one would look ahead).
    Lag,
    /// A number fixed for the run.
    Number,
    /// A timeframe in quotes, `"1d"` (see [`crate::timeframe::Timeframe`]).
    Timeframe,
}

impl Arg {
    /// For messages.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Arg::Series => "a number series (e.g. `close` or `sma(close, 20)`)",
            Arg::Value => "a number or a number series",
            Arg::Cond => "a condition (true/false per bar)",
            Arg::Window => "a window: a whole number >= 1 (a literal or a $parameter)",
            Arg::Lag => "a number of bars: a whole number >= 0 (a literal or a $parameter)",
            Arg::Number => "a number (a literal or a $parameter)",
            Arg::Timeframe => TIMEFRAMES,
        }
    }
}

/// The timeframes `tf` takes, for messages.
pub(crate) const TIMEFRAMES: &str = "a timeframe in quotes: \"5min\", \"15min\", \"1h\", \"4h\", \"1d\", \"1w\" or \"1mo\" (N min or N h must divide a day)";

/// The largest window or shift (as the built-ins allow).
pub(crate) const MAX_WINDOW: f64 = 100_000.0;

impl Arg {
    /// Checks a window or shift value of function `f` (a whole number, ≥ 1 for a
    /// window, ≥ 0 for a shift — a negative shift would look ahead); the message says
    /// what was expected.
    pub(crate) fn whole(self, f: &Function, v: f64) -> Result<usize, String> {
        let min = if self == Arg::Window { 1.0 } else { 0.0 };
        if self == Arg::Lag && v < 0.0 {
            return Err(format!(
                "{} by {v} would read {} bar(s) ahead: look-ahead is not allowed, n must be >= 0",
                f.name, -v
            ));
        }
        if !(v.fract() == 0.0 && v >= min && v <= MAX_WINDOW) {
            return Err(format!(
                "{}: expected a whole number in [{min}, {MAX_WINDOW}], got {v}",
                f.signature()
            ));
        }
        Ok(v as usize)
    }
}

/// What a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Out {
    /// A number series.
    Num,
    /// A boolean series.
    Bool,
}

/// How a function is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Op {
    Sma,
    Ema,
    Wma,
    Rsi,
    Roc,
    Stddev,
    Highest,
    Lowest,
    Atr,
    TrueRange,
    BbUpper,
    BbMiddle,
    BbLower,
    Macd,
    MacdSignal,
    MacdHist,
    StochK,
    StochD,
    Adx,
    PlusDi,
    MinusDi,
    Dx,
    Cci,
    WilliamsR,
    Obv,
    Mfi,
    Momentum,
    Cmo,
    Ppo,
    Trix,
    Dema,
    Tema,
    Kama,
    Natr,
    AroonUp,
    AroonDown,
    AroonOsc,
    Bop,
    Ad,
    Adosc,
    UltOsc,
    LinregSlope,
    Sar,
    T3,
    StochRsiK,
    StochRsiD,
    Midpoint,
    Midprice,
    Hma,
    KcUpper,
    KcMiddle,
    KcLower,
    Shift,
    Ret,
    Crossover,
    Crossunder,
    BarsSince,
    Abs,
    Log,
    Min,
    Max,
    Tf,
}

/// One callable function.
#[derive(Debug)]
pub struct Function {
    /// Its name in rules.
    pub name: &'static str,
    pub(crate) args: &'static [(&'static str, Arg)],
    pub(crate) out: Out,
    /// Counts toward the warm-up as an indicator registered in `init` does (backtesting.py's
    /// `self.I`): the first decision bar is 1 + the last first-valid bar of these.
    pub registered: bool,
    pub(crate) op: Op,
    /// One line for `backtide strategies` and docs/rules.md.
    pub doc: &'static str,
}

impl Function {
    /// `name(arg, …)`.
    pub fn signature(&self) -> String {
        format!(
            "{}({})",
            self.name,
            self.args
                .iter()
                .map(|(a, _)| *a)
                .collect::<Vec<_>>()
                .join(", ")
        )
    }
}

const X_N: &[(&str, Arg)] = &[("x", Arg::Series), ("n", Arg::Window)];
const HLC: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
];
const HLC_N: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
    ("n", Arg::Window),
];
const BB: &[(&str, Arg)] = &[("x", Arg::Series), ("n", Arg::Window), ("k", Arg::Number)];
const MACD: &[(&str, Arg)] = &[
    ("x", Arg::Series),
    ("fast", Arg::Window),
    ("slow", Arg::Window),
    ("signal", Arg::Window),
];
const STOCH: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
    ("n", Arg::Window),
    ("smooth_k", Arg::Window),
    ("d", Arg::Window),
];
const PAIR: &[(&str, Arg)] = &[("a", Arg::Series), ("b", Arg::Series)];
const HL_N: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("n", Arg::Window),
];
const HLCV: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
    ("volume", Arg::Series),
];
const HLCV_N: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
    ("volume", Arg::Series),
    ("n", Arg::Window),
];
const ADOSC: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
    ("volume", Arg::Series),
    ("fast", Arg::Window),
    ("slow", Arg::Window),
];
const OHLC: &[(&str, Arg)] = &[
    ("open", Arg::Series),
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
];
const ULTOSC: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
    ("p1", Arg::Window),
    ("p2", Arg::Window),
    ("p3", Arg::Window),
];
const PPO: &[(&str, Arg)] = &[
    ("x", Arg::Series),
    ("fast", Arg::Window),
    ("slow", Arg::Window),
];
const SAR: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("acceleration", Arg::Number),
    ("maximum", Arg::Number),
];
const T3: &[(&str, Arg)] = &[
    ("x", Arg::Series),
    ("n", Arg::Window),
    ("vfactor", Arg::Number),
];
const STOCHRSI: &[(&str, Arg)] = &[
    ("x", Arg::Series),
    ("n", Arg::Window),
    ("k", Arg::Window),
    ("d", Arg::Window),
];
const KC: &[(&str, Arg)] = &[
    ("high", Arg::Series),
    ("low", Arg::Series),
    ("close", Arg::Series),
    ("n", Arg::Window),
    ("k", Arg::Number),
];
const CV: &[(&str, Arg)] = &[("close", Arg::Series), ("volume", Arg::Series)];
const VALUES: &[(&str, Arg)] = &[("a", Arg::Value), ("b", Arg::Value)];

const fn ind(
    name: &'static str,
    args: &'static [(&'static str, Arg)],
    op: Op,
    doc: &'static str,
) -> Function {
    Function {
        name,
        args,
        out: Out::Num,
        registered: true,
        op,
        doc,
    }
}

const fn plain(
    name: &'static str,
    args: &'static [(&'static str, Arg)],
    out: Out,
    op: Op,
    doc: &'static str,
) -> Function {
    Function {
        name,
        args,
        out,
        registered: false,
        op,
        doc,
    }
}

/// Every function, in the order docs list them.
pub static FUNCTIONS: &[Function] = &[
    ind(
        "sma",
        X_N,
        Op::Sma,
        "simple moving average (pandas rolling mean); first value at n-1",
    ),
    ind(
        "ema",
        X_N,
        Op::Ema,
        "exponential moving average seeded with the SMA (TA-Lib); first value at n-1",
    ),
    ind(
        "wma",
        X_N,
        Op::Wma,
        "linearly weighted moving average (TA-Lib); first value at n-1",
    ),
    ind(
        "rsi",
        X_N,
        Op::Rsi,
        "Wilder's RSI (TA-Lib); first value at n",
    ),
    ind(
        "roc",
        X_N,
        Op::Roc,
        "rate of change in percent, 100*(x/x[n bars ago]-1) (TA-Lib); first value at n",
    ),
    ind(
        "stddev",
        X_N,
        Op::Stddev,
        "rolling population standard deviation (TA-Lib STDDEV); first value at n-1",
    ),
    ind(
        "highest",
        X_N,
        Op::Highest,
        "highest value of the last n bars (TA-Lib MAX); first value at n-1",
    ),
    ind(
        "lowest",
        X_N,
        Op::Lowest,
        "lowest value of the last n bars (TA-Lib MIN); first value at n-1",
    ),
    ind(
        "atr",
        HLC_N,
        Op::Atr,
        "Wilder's average true range (TA-Lib); first value at n",
    ),
    ind(
        "true_range",
        HLC,
        Op::TrueRange,
        "true range (TA-Lib TRANGE); first value at 1",
    ),
    ind(
        "bb_upper",
        BB,
        Op::BbUpper,
        "Bollinger upper band, SMA + k population deviations; first value at n-1",
    ),
    ind(
        "bb_middle",
        BB,
        Op::BbMiddle,
        "Bollinger middle band (the SMA); first value at n-1",
    ),
    ind(
        "bb_lower",
        BB,
        Op::BbLower,
        "Bollinger lower band, SMA - k population deviations; first value at n-1",
    ),
    ind(
        "macd",
        MACD,
        Op::Macd,
        "MACD line, EMA(fast) - EMA(slow); first value at slow-1",
    ),
    ind(
        "macd_signal",
        MACD,
        Op::MacdSignal,
        "EMA(signal) of the MACD line; first value at slow+signal-2",
    ),
    ind(
        "macd_hist",
        MACD,
        Op::MacdHist,
        "MACD line - signal line; first value at slow+signal-2",
    ),
    ind(
        "stoch_k",
        STOCH,
        Op::StochK,
        "slow stochastic %K (SMA smoothing, TA-Lib STOCH); first value at n+smooth_k-2",
    ),
    ind(
        "stoch_d",
        STOCH,
        Op::StochD,
        "slow stochastic %D; first value at n+smooth_k+d-3",
    ),
    ind(
        "adx",
        HLC_N,
        Op::Adx,
        "Wilder's average directional index (TA-Lib ADX); first value at 2n-1",
    ),
    ind(
        "plus_di",
        HLC_N,
        Op::PlusDi,
        "+DI, the upward directional indicator (TA-Lib PLUS_DI); first value at n",
    ),
    ind(
        "minus_di",
        HLC_N,
        Op::MinusDi,
        "-DI, the downward directional indicator (TA-Lib MINUS_DI); first value at n",
    ),
    ind(
        "dx",
        HLC_N,
        Op::Dx,
        "directional movement index, 100*|+DI - -DI|/(+DI + -DI) (TA-Lib DX); first value at n",
    ),
    ind(
        "cci",
        HLC_N,
        Op::Cci,
        "commodity channel index (TA-Lib CCI); first value at n-1",
    ),
    ind(
        "williams_r",
        HLC_N,
        Op::WilliamsR,
        "Williams %R, from -100 to 0 (TA-Lib WILLR); first value at n-1",
    ),
    ind(
        "natr",
        HLC_N,
        Op::Natr,
        "ATR as a percentage of the close (TA-Lib NATR); first value at n",
    ),
    ind(
        "obv",
        CV,
        Op::Obv,
        "on-balance volume, from the first bar's volume (TA-Lib OBV); first value at 0",
    ),
    ind(
        "mfi",
        HLCV_N,
        Op::Mfi,
        "money flow index (TA-Lib MFI); first value at n",
    ),
    ind(
        "ad",
        HLCV,
        Op::Ad,
        "Chaikin accumulation/distribution line (TA-Lib AD); first value at 0",
    ),
    ind(
        "adosc",
        ADOSC,
        Op::Adosc,
        "Chaikin oscillator, EMA(fast) - EMA(slow) of the A/D line (TA-Lib ADOSC); first value at max(fast, slow)-1",
    ),
    ind(
        "momentum",
        X_N,
        Op::Momentum,
        "x - x[n bars ago] (TA-Lib MOM); first value at n",
    ),
    ind(
        "cmo",
        X_N,
        Op::Cmo,
        "Chande momentum oscillator, Wilder-smoothed (TA-Lib CMO); first value at n",
    ),
    ind(
        "ppo",
        PPO,
        Op::Ppo,
        "percentage price oscillator with EMAs (TA-Lib PPO, matype EMA); first value at slow-1",
    ),
    ind(
        "trix",
        X_N,
        Op::Trix,
        "1-bar rate of change of a triple EMA, percent (TA-Lib TRIX); first value at 3(n-1)+1",
    ),
    ind(
        "dema",
        X_N,
        Op::Dema,
        "double exponential moving average (TA-Lib DEMA); first value at 2(n-1)",
    ),
    ind(
        "tema",
        X_N,
        Op::Tema,
        "triple exponential moving average (TA-Lib TEMA); first value at 3(n-1)",
    ),
    ind(
        "kama",
        X_N,
        Op::Kama,
        "Kaufman adaptive moving average (TA-Lib KAMA); first value at n",
    ),
    ind(
        "linreg_slope",
        X_N,
        Op::LinregSlope,
        "slope of the least-squares line through the last n values (TA-Lib LINEARREG_SLOPE); first value at n-1",
    ),
    ind(
        "aroon_up",
        HL_N,
        Op::AroonUp,
        "Aroon up, 100*(n - bars since the highest high)/n (TA-Lib AROON); first value at n",
    ),
    ind(
        "aroon_down",
        HL_N,
        Op::AroonDown,
        "Aroon down, 100*(n - bars since the lowest low)/n (TA-Lib AROON); first value at n",
    ),
    ind(
        "aroon_osc",
        HL_N,
        Op::AroonOsc,
        "Aroon up - Aroon down (TA-Lib AROONOSC); first value at n",
    ),
    ind(
        "bop",
        OHLC,
        Op::Bop,
        "balance of power, (close - open)/(high - low) (TA-Lib BOP); first value at 0",
    ),
    ind(
        "ultosc",
        ULTOSC,
        Op::UltOsc,
        "Ultimate oscillator over three periods (TA-Lib ULTOSC); first value at the longest",
    ),
    ind(
        "sar",
        SAR,
        Op::Sar,
        "Wilder's parabolic SAR, e.g. sar(high, low, 0.02, 0.2) (TA-Lib SAR); first value at 1",
    ),
    ind(
        "t3",
        T3,
        Op::T3,
        "Tillson's T3 moving average with volume factor vfactor in [0, 1] (TA-Lib T3); first value at 6(n-1)",
    ),
    ind(
        "stochrsi_k",
        STOCHRSI,
        Op::StochRsiK,
        "stochastic RSI fast %K, the k-bar stochastic of RSI(x, n) (TA-Lib STOCHRSI); first value at n+k+d-2",
    ),
    ind(
        "stochrsi_d",
        STOCHRSI,
        Op::StochRsiD,
        "stochastic RSI %D, the d-bar SMA of its %K (TA-Lib STOCHRSI); first value at n+k+d-2",
    ),
    ind(
        "midpoint",
        X_N,
        Op::Midpoint,
        "(highest + lowest)/2 of the last n values (TA-Lib MIDPOINT); first value at n-1",
    ),
    ind(
        "midprice",
        HL_N,
        Op::Midprice,
        "(highest high + lowest low)/2 of the last n bars (TA-Lib MIDPRICE); first value at n-1",
    ),
    ind(
        "hma",
        X_N,
        Op::Hma,
        "Hull moving average, WMA(2 WMA(x, floor(n/2)) - WMA(x, n), floor(sqrt(n))); first value at n+floor(sqrt(n))-2",
    ),
    ind(
        "keltner_upper",
        KC,
        Op::KcUpper,
        "Keltner upper channel, EMA(close, n) + k ATR(n); first value at n",
    ),
    ind(
        "keltner_middle",
        KC,
        Op::KcMiddle,
        "Keltner middle line, EMA(close, n); first value at n-1",
    ),
    ind(
        "keltner_lower",
        KC,
        Op::KcLower,
        "Keltner lower channel, EMA(close, n) - k ATR(n); first value at n",
    ),
    ind(
        "shift",
        &[("x", Arg::Series), ("n", Arg::Lag)],
        Op::Shift,
        "x as it was n bars ago (n >= 0: a negative shift would look ahead)",
    ),
    ind(
        "ret",
        &[("x", Arg::Series), ("n", Arg::Lag)],
        Op::Ret,
        "return over n bars, x/x[n bars ago] - 1",
    ),
    plain(
        "crossover",
        PAIR,
        Out::Bool,
        Op::Crossover,
        "a crossed above b on this bar (the `cross` parameter picks backtesting.py's strict rule or vectorbt's stateful one)",
    ),
    plain(
        "crossunder",
        PAIR,
        Out::Bool,
        Op::Crossunder,
        "a crossed below b on this bar",
    ),
    plain(
        "bars_since",
        &[("condition", Arg::Cond)],
        Out::Num,
        Op::BarsSince,
        "bars since the condition was last true (0 on a bar where it is); NaN before it first is",
    ),
    plain(
        "abs",
        &[("x", Arg::Value)],
        Out::Num,
        Op::Abs,
        "absolute value",
    ),
    plain(
        "log",
        &[("x", Arg::Value)],
        Out::Num,
        Op::Log,
        "natural logarithm (NaN below 0)",
    ),
    plain(
        "min",
        VALUES,
        Out::Num,
        Op::Min,
        "the smaller of a and b per bar (NaN if either is)",
    ),
    plain(
        "max",
        VALUES,
        Out::Num,
        Op::Max,
        "the larger of a and b per bar (NaN if either is)",
    ),
    plain(
        "tf",
        &[("timeframe", Arg::Timeframe), ("x", Arg::Series)],
        Out::Num,
        Op::Tf,
        "x on the bars resampled to the timeframe (\"1h\", \"4h\", \"1d\", \"1w\", \"1mo\", …); a bucket's value is seen from the first bar after the bucket ends (backtesting.py's resample_apply)",
    ),
];

/// The function called `name`.
pub(crate) fn find(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// [`compute`], where a series argument that starts with NaN (another indicator's
/// warm-up) is taken from its first value on, as TA-Lib does: `stddev(ret(close, 1), 20)`
/// is then the deviation of the returns, not NaN for ever. `n` is the series' length.
pub(crate) fn compute_from_first_valid(
    op: Op,
    series: &[&[f64]],
    ints: &[usize],
    nums: &[f64],
    n: usize,
) -> Vec<f64> {
    let start = series
        .iter()
        .map(|s| crate::indicators::first_valid(s))
        .max()
        .unwrap_or(0)
        .min(n);
    if start == 0 {
        return compute(op, series, ints, nums);
    }
    let tail: Vec<&[f64]> = series.iter().map(|s| &s[start..]).collect();
    let mut out = vec![f64::NAN; n];
    out[start..].copy_from_slice(&compute(op, &tail, ints, nums));
    out
}

/// Computes an indicator-like function (`Out::Num`, series arguments first) from its
/// series, windows/lags (`ints`) and numbers (`nums`), in argument order.
pub(crate) fn compute(op: Op, s: &[&[f64]], ints: &[usize], nums: &[f64]) -> Vec<f64> {
    match op {
        Op::Sma => indicators::sma(s[0], ints[0]),
        Op::Ema => indicators::ema(s[0], ints[0]),
        Op::Wma => indicators::wma(s[0], ints[0]),
        Op::Rsi => indicators::rsi(s[0], ints[0]),
        Op::Roc => indicators::roc(s[0], ints[0]),
        Op::Stddev => indicators::rolling_std(s[0], ints[0], 0),
        Op::Highest => indicators::highest(s[0], ints[0]),
        Op::Lowest => indicators::lowest(s[0], ints[0]),
        Op::Atr => indicators::atr(s[0], s[1], s[2], ints[0]),
        Op::TrueRange => indicators::true_range(s[0], s[1], s[2]),
        Op::BbUpper => indicators::bollinger(s[0], ints[0], nums[0]).upper,
        Op::BbMiddle => indicators::bollinger(s[0], ints[0], nums[0]).middle,
        Op::BbLower => indicators::bollinger(s[0], ints[0], nums[0]).lower,
        Op::Macd => indicators::macd(s[0], ints[0], ints[1], ints[2]).macd,
        Op::MacdSignal => indicators::macd(s[0], ints[0], ints[1], ints[2]).signal,
        Op::MacdHist => indicators::macd(s[0], ints[0], ints[1], ints[2]).histogram,
        Op::StochK => indicators::stochastic(s[0], s[1], s[2], ints[0], ints[1], ints[2]).k,
        Op::StochD => indicators::stochastic(s[0], s[1], s[2], ints[0], ints[1], ints[2]).d,
        Op::Adx => indicators::adx(s[0], s[1], s[2], ints[0]).adx,
        Op::PlusDi => indicators::adx(s[0], s[1], s[2], ints[0]).plus_di,
        Op::MinusDi => indicators::adx(s[0], s[1], s[2], ints[0]).minus_di,
        Op::Dx => indicators::adx(s[0], s[1], s[2], ints[0]).dx,
        Op::Cci => indicators::cci(s[0], s[1], s[2], ints[0]),
        Op::WilliamsR => indicators::williams_r(s[0], s[1], s[2], ints[0]),
        Op::Natr => indicators::natr(s[0], s[1], s[2], ints[0]),
        Op::Obv => indicators::obv(s[0], s[1]),
        Op::Mfi => indicators::mfi(s[0], s[1], s[2], s[3], ints[0]),
        Op::Ad => indicators::ad_line(s[0], s[1], s[2], s[3]),
        Op::Adosc => indicators::adosc(s[0], s[1], s[2], s[3], ints[0], ints[1]),
        Op::Momentum => indicators::momentum(s[0], ints[0]),
        Op::Cmo => indicators::cmo(s[0], ints[0]),
        Op::Ppo => indicators::ppo(s[0], ints[0], ints[1]),
        Op::Trix => indicators::trix(s[0], ints[0]),
        Op::Dema => indicators::dema(s[0], ints[0]),
        Op::Tema => indicators::tema(s[0], ints[0]),
        Op::Kama => indicators::kama(s[0], ints[0]),
        Op::LinregSlope => indicators::linreg_slope(s[0], ints[0]),
        Op::AroonUp => indicators::aroon(s[0], s[1], ints[0]).up,
        Op::AroonDown => indicators::aroon(s[0], s[1], ints[0]).down,
        Op::AroonOsc => indicators::aroon_oscillator(s[0], s[1], ints[0]),
        Op::Bop => indicators::balance_of_power(s[0], s[1], s[2], s[3]),
        Op::UltOsc => indicators::ultimate_oscillator(s[0], s[1], s[2], ints[0], ints[1], ints[2]),
        Op::Sar => indicators::parabolic_sar(s[0], s[1], nums[0], nums[1]),
        Op::T3 => indicators::t3(s[0], ints[0], nums[0]),
        Op::StochRsiK => indicators::stoch_rsi(s[0], ints[0], ints[1], ints[2]).k,
        Op::StochRsiD => indicators::stoch_rsi(s[0], ints[0], ints[1], ints[2]).d,
        Op::Midpoint => indicators::midpoint(s[0], ints[0]),
        Op::Midprice => indicators::midprice(s[0], s[1], ints[0]),
        Op::Hma => indicators::hma(s[0], ints[0]),
        Op::KcUpper => indicators::keltner(s[0], s[1], s[2], ints[0], nums[0]).upper,
        Op::KcMiddle => indicators::keltner(s[0], s[1], s[2], ints[0], nums[0]).middle,
        Op::KcLower => indicators::keltner(s[0], s[1], s[2], ints[0], nums[0]).lower,
        Op::Shift => {
            let (x, k) = (s[0], ints[0]);
            let mut out = vec![f64::NAN; x.len()];
            if k < x.len() {
                out[k..].copy_from_slice(&x[..x.len() - k]);
            }
            out
        }
        Op::Ret => {
            let (x, k) = (s[0], ints[0]);
            (0..x.len())
                .map(|i| {
                    if i >= k {
                        x[i] / x[i - k] - 1.0
                    } else {
                        f64::NAN
                    }
                })
                .collect()
        }
        Op::Crossover
        | Op::Crossunder
        | Op::BarsSince
        | Op::Abs
        | Op::Log
        | Op::Min
        | Op::Max
        | Op::Tf => {
            unreachable!("evaluated by the plan")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_registered_ones_return_numbers() {
        for (i, f) in FUNCTIONS.iter().enumerate() {
            assert!(
                FUNCTIONS[i + 1..].iter().all(|g| g.name != f.name),
                "{}",
                f.name
            );
            if f.registered {
                assert_eq!(f.out, Out::Num, "{}", f.name);
                // Series first, then windows/lags, then numbers: what `compute` indexes.
                let order: Vec<u8> = f
                    .args
                    .iter()
                    .map(|(_, a)| match a {
                        Arg::Series => 0,
                        Arg::Window | Arg::Lag => 1,
                        _ => 2,
                    })
                    .collect();
                assert!(order.windows(2).all(|w| w[0] <= w[1]), "{}", f.name);
            }
        }
    }

    #[test]
    fn shift_and_ret_look_back_only() {
        let x = [1.0, 2.0, 4.0];
        let s = compute(Op::Shift, &[&x], &[1], &[]);
        assert!(s[0].is_nan());
        assert_eq!(&s[1..], &[1.0, 2.0]);
        assert!(
            compute(Op::Shift, &[&x], &[5], &[])
                .iter()
                .all(|v| v.is_nan())
        );
        let r = compute(Op::Ret, &[&x], &[1], &[]);
        assert_eq!(&r[1..], &[1.0, 1.0]);
    }
}
