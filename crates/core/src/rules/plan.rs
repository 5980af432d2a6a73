//! From a parsed expression to whole columns: type checking (with the `$parameters` and
//! how each is first used), lowering with the parameters' values into a plan where every
//! distinct subexpression is one node (so `sma(close, 20)` written twice is computed
//! once), and evaluation of the plan over the bars, one whole column per node.

use std::collections::HashMap;

use super::functions::{self, Arg, Function, Op, Out};
use super::syntax::{BinOp, Expr, ExprKind, SyntaxError};
use crate::bars::Bars;
use crate::strategy::Init;
use crate::strategy::builtin::Crosses;
use crate::timeframe::{Session, Timeframe};

/// The price series a rule can name.
pub const SERIES: [&str; 5] = ["open", "high", "low", "close", "volume"];

/// The type of an expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ty {
    Num,
    Bool,
}

impl Ty {
    fn describe(self, constant: bool) -> &'static str {
        match (self, constant) {
            (Ty::Num, true) => "a number",
            (Ty::Num, false) => "a number series",
            (Ty::Bool, true) => "a constant condition",
            (Ty::Bool, false) => "a condition",
        }
    }
}

/// How a `$parameter` is first used, which gives it its type and bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamUse {
    /// As a window: a whole number >= 1.
    Window,
    /// As a shift: a whole number >= 0.
    Lag,
    /// As a number.
    Number,
}

fn err(span: &std::ops::Range<usize>, message: String) -> SyntaxError {
    SyntaxError {
        message,
        span: span.clone(),
    }
}

/// The closest of `known` to `name`, for "did you mean".
pub(crate) fn nearest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut scored: Vec<(f64, &str)> = known
        .into_iter()
        .map(|k| (strsim::jaro_winkler(name, k), k))
        .filter(|(s, _)| *s >= 0.75)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    scored.into_iter().take(3).map(|(_, k)| k).collect()
}

fn suggestion(name: &str) -> String {
    let all = SERIES
        .iter()
        .copied()
        .chain(functions::FUNCTIONS.iter().map(|f| f.name));
    match nearest(name, all)[..] {
        [] => String::new(),
        ref near => format!(
            " (did you mean {}?)",
            near.iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        ),
    }
}

/// Type-checks `e`: its type and whether it is fixed for the run (no series in it).
/// `$parameters` are appended to `params` in order of first use.
pub(crate) fn check(
    e: &Expr,
    params: &mut Vec<(String, ParamUse)>,
) -> Result<(Ty, bool), SyntaxError> {
    let note = |params: &mut Vec<(String, ParamUse)>, name: &str, u: ParamUse| {
        if !params.iter().any(|(n, _)| n == name) {
            params.push((name.to_string(), u));
        }
    };
    Ok(match &e.kind {
        ExprKind::Number(_) => (Ty::Num, true),
        ExprKind::Bool(_) => (Ty::Bool, true),
        ExprKind::Param(p) => {
            note(params, p, ParamUse::Number);
            (Ty::Num, true)
        }
        ExprKind::Str(text) => {
            return Err(err(
                &e.span,
                format!(
                    "a string (\"{text}\") can only be the timeframe of tf(timeframe, x), e.g. tf(\"1d\", close)"
                ),
            ));
        }
        ExprKind::Name(n) => {
            if SERIES.contains(&n.as_str()) {
                (Ty::Num, false)
            } else if let Some(f) = functions::find(n) {
                return Err(err(
                    &e.span,
                    format!("`{n}` is a function: call it as {}", f.signature()),
                ));
            } else {
                return Err(err(
                    &e.span,
                    format!(
                        "unknown series `{n}`{}; the series are {}",
                        suggestion(n),
                        SERIES.join(", ")
                    ),
                ));
            }
        }
        ExprKind::Call {
            name,
            name_span,
            args,
        } => {
            let Some(f) = functions::find(name) else {
                let hint = if SERIES.contains(&name.as_str()) {
                    format!(" (`{name}` is a series: write it without parentheses)")
                } else {
                    suggestion(name)
                };
                return Err(err(
                    name_span,
                    format!("unknown function `{name}`{hint}; `backtide strategies` lists them"),
                ));
            };
            if args.len() != f.args.len() {
                return Err(err(
                    &e.span,
                    format!(
                        "{} takes {} argument{}, got {}",
                        f.signature(),
                        f.args.len(),
                        if f.args.len() == 1 { "" } else { "s" },
                        args.len()
                    ),
                ));
            }
            let mut constant = true;
            for ((arg_name, kind), a) in f.args.iter().zip(args) {
                if *kind == Arg::Timeframe {
                    timeframe(f, arg_name, a)?;
                    continue;
                }
                if let (ExprKind::Param(p), Arg::Window | Arg::Lag) = (&a.kind, kind) {
                    let u = if *kind == Arg::Window {
                        ParamUse::Window
                    } else {
                        ParamUse::Lag
                    };
                    note(params, p, u);
                }
                let (ty, c) = check(a, params)?;
                let ok = match kind {
                    Arg::Series => ty == Ty::Num && !c,
                    Arg::Value => ty == Ty::Num,
                    Arg::Cond => ty == Ty::Bool,
                    Arg::Window | Arg::Lag | Arg::Number => ty == Ty::Num && c,
                    Arg::Timeframe => unreachable!("checked above"),
                };
                if !ok {
                    return Err(err(
                        &a.span,
                        format!(
                            "argument `{arg_name}` of {}: expected {}, got {}",
                            f.signature(),
                            kind.describe(),
                            ty.describe(c)
                        ),
                    ));
                }
                if matches!(kind, Arg::Series | Arg::Value | Arg::Cond) {
                    constant &= c;
                }
            }
            let ty = match f.out {
                Out::Num => Ty::Num,
                Out::Bool => Ty::Bool,
            };
            (ty, constant && !matches!(f.out, Out::Bool) && !f.registered)
        }
        ExprKind::Neg(a) => {
            let (ty, c) = check(a, params)?;
            if ty != Ty::Num {
                return Err(err(
                    &a.span,
                    format!("`-` needs a number, got {}", ty.describe(c)),
                ));
            }
            (Ty::Num, c)
        }
        ExprKind::Not(a) => {
            let (ty, c) = check(a, params)?;
            if ty != Ty::Bool {
                return Err(err(
                    &a.span,
                    format!(
                        "`not` needs a condition, got {} (compare it, e.g. `x > 0`)",
                        ty.describe(c)
                    ),
                ));
            }
            (Ty::Bool, c)
        }
        ExprKind::Binary(op, a, b) => {
            let (ta, ca) = check(a, params)?;
            let (tb, cb) = check(b, params)?;
            let want = if matches!(op, BinOp::And | BinOp::Or) {
                Ty::Bool
            } else {
                Ty::Num
            };
            for (side, t, c, x) in [("left", ta, ca, a), ("right", tb, cb, b)] {
                if t != want {
                    let what = if want == Ty::Bool {
                        "conditions"
                    } else {
                        "numbers"
                    };
                    return Err(err(
                        &x.span,
                        format!(
                            "`{}` needs {what} on both sides, got {} on the {side}",
                            op.symbol(),
                            t.describe(c)
                        ),
                    ));
                }
            }
            let ty = if op.is_comparison() || want == Ty::Bool {
                Ty::Bool
            } else {
                Ty::Num
            };
            (ty, ca && cb)
        }
    })
}

/// The timeframe argument `a` (`arg` of `f`): a string that parses as one.
fn timeframe(f: &Function, arg: &str, a: &Expr) -> Result<Timeframe, SyntaxError> {
    match &a.kind {
        ExprKind::Str(text) => text.parse().map_err(|e: crate::timeframe::TimeframeError| {
            err(
                &a.span,
                format!("argument `{arg}` of {}: {e}", f.signature()),
            )
        }),
        _ => {
            let got = match &a.kind {
                ExprKind::Number(_) | ExprKind::Param(_) => "a number",
                ExprKind::Name(_) => "a name (put the timeframe in quotes)",
                _ => "an expression",
            };
            Err(err(
                &a.span,
                format!(
                    "argument `{arg}` of {}: expected {}, got {got}",
                    f.signature(),
                    Arg::Timeframe.describe()
                ),
            ))
        }
    }
}

/// A node's index in a [`Plan`].
pub(crate) type NodeId = usize;

/// One distinct subexpression with the parameters' values in it.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    /// A price series (index into [`SERIES`]).
    Field(usize),
    Num(f64),
    Bool(bool),
    Call {
        f: &'static Function,
        /// Series, value and condition arguments, in order.
        args: Vec<NodeId>,
        /// Windows and lags, in order.
        ints: Vec<usize>,
        /// Number arguments, in order.
        nums: Vec<f64>,
    },
    Neg(NodeId),
    Not(NodeId),
    Bin(BinOp, NodeId, NodeId),
    /// `tf(timeframe, x)`: `x`, lowered into its own plan (node `root` of it), computed on
    /// the bars resampled to `timeframe` and aligned back by [`higher_timeframe`].
    Tf {
        timeframe: Timeframe,
        plan: Box<Plan>,
        root: NodeId,
    },
}

/// Every distinct subexpression of a strategy's expressions, children before parents.
#[derive(Debug, Default, Clone)]
pub(crate) struct Plan {
    pub(crate) nodes: Vec<Node>,
    /// Each node's canonical text: equal texts are the same computation.
    pub(crate) keys: Vec<String>,
    index: HashMap<String, NodeId>,
}

impl Plan {
    fn add(&mut self, key: String, node: Node) -> NodeId {
        if let Some(&id) = self.index.get(&key) {
            return id;
        }
        self.nodes.push(node);
        self.keys.push(key.clone());
        self.index.insert(key, self.nodes.len() - 1);
        self.nodes.len() - 1
    }

    fn constant(&self, id: NodeId) -> Option<f64> {
        match self.nodes[id] {
            Node::Num(v) => Some(v),
            _ => None,
        }
    }

    /// Adds a checked expression with `$parameters` replaced by `value(name)`, folding
    /// constants, and returns its node.
    pub(crate) fn lower(
        &mut self,
        e: &Expr,
        value: &dyn Fn(&str) -> Option<f64>,
    ) -> Result<NodeId, SyntaxError> {
        Ok(match &e.kind {
            ExprKind::Number(v) => self.add(format!("{v:?}"), Node::Num(*v)),
            ExprKind::Bool(b) => self.add(b.to_string(), Node::Bool(*b)),
            ExprKind::Str(_) => {
                return Err(err(&e.span, "a string is only a timeframe argument".into()));
            }
            ExprKind::Param(p) => {
                let v = value(p).ok_or_else(|| err(&e.span, format!("${p} has no value")))?;
                self.add(format!("{v:?}"), Node::Num(v))
            }
            ExprKind::Name(n) => {
                let k = SERIES
                    .iter()
                    .position(|s| s == n)
                    .ok_or_else(|| err(&e.span, format!("unknown series `{n}`")))?;
                self.add(n.clone(), Node::Field(k))
            }
            ExprKind::Call { name, args, .. } => {
                let f = functions::find(name)
                    .ok_or_else(|| err(&e.span, format!("unknown function `{name}`")))?;
                if f.op == Op::Tf {
                    let tf = timeframe(f, f.args[0].0, &args[0])?;
                    let mut plan = Plan::default();
                    let root = plan.lower(&args[1], value)?;
                    let key = format!("tf({tf},{})", plan.keys[root]);
                    return Ok(self.add(
                        key,
                        Node::Tf {
                            timeframe: tf,
                            plan: Box::new(plan),
                            root,
                        },
                    ));
                }
                let (mut ids, mut ints, mut nums, mut texts) = (vec![], vec![], vec![], vec![]);
                for ((_, kind), a) in f.args.iter().zip(args) {
                    let id = self.lower(a, value)?;
                    texts.push(self.keys[id].clone());
                    match kind {
                        Arg::Series | Arg::Value | Arg::Cond => ids.push(id),
                        Arg::Window | Arg::Lag => {
                            let v = self.constant(id).unwrap_or(f64::NAN);
                            ints.push(kind.whole(f, v).map_err(|m| err(&a.span, m))?);
                        }
                        Arg::Timeframe => unreachable!("only tf takes one, lowered above"),
                        Arg::Number => {
                            let v = self.constant(id).unwrap_or(f64::NAN);
                            if !v.is_finite() {
                                return Err(err(
                                    &a.span,
                                    format!("{}: expected a finite number, got {v}", f.signature()),
                                ));
                            }
                            nums.push(v);
                        }
                    }
                }
                let key = format!("{}({})", f.name, texts.join(","));
                // Element-wise functions of constants fold.
                let consts: Option<Vec<f64>> = ids.iter().map(|&i| self.constant(i)).collect();
                if let (Some(c), Op::Abs | Op::Log | Op::Min | Op::Max) = (&consts, f.op) {
                    let v = elementwise(f.op, c[0], c.get(1).copied().unwrap_or(0.0));
                    return Ok(self.add(format!("{v:?}"), Node::Num(v)));
                }
                self.add(
                    key,
                    Node::Call {
                        f,
                        args: ids,
                        ints,
                        nums,
                    },
                )
            }
            ExprKind::Neg(a) => {
                let id = self.lower(a, value)?;
                match self.constant(id) {
                    Some(v) => self.add(format!("{:?}", -v), Node::Num(-v)),
                    None => {
                        let key = format!("(-{})", self.keys[id]);
                        self.add(key, Node::Neg(id))
                    }
                }
            }
            ExprKind::Not(a) => {
                let id = self.lower(a, value)?;
                if let Node::Bool(b) = self.nodes[id] {
                    return Ok(self.add((!b).to_string(), Node::Bool(!b)));
                }
                let key = format!("(not {})", self.keys[id]);
                self.add(key, Node::Not(id))
            }
            ExprKind::Binary(op, a, b) => {
                let (x, y) = (self.lower(a, value)?, self.lower(b, value)?);
                match (&self.nodes[x], &self.nodes[y]) {
                    (Node::Num(p), Node::Num(q)) => match num_op(*op, *p, *q) {
                        Scalar::Num(v) => self.add(format!("{v:?}"), Node::Num(v)),
                        Scalar::Bool(v) => self.add(v.to_string(), Node::Bool(v)),
                    },
                    (Node::Bool(p), Node::Bool(q)) => {
                        let v = if *op == BinOp::And {
                            *p && *q
                        } else {
                            *p || *q
                        };
                        self.add(v.to_string(), Node::Bool(v))
                    }
                    _ => {
                        let key = format!("({} {} {})", self.keys[x], op.symbol(), self.keys[y]);
                        self.add(key, Node::Bin(*op, x, y))
                    }
                }
            }
        })
    }
}

enum Scalar {
    Num(f64),
    Bool(bool),
}

fn num_op(op: BinOp, a: f64, b: f64) -> Scalar {
    match op {
        BinOp::Add => Scalar::Num(a + b),
        BinOp::Sub => Scalar::Num(a - b),
        BinOp::Mul => Scalar::Num(a * b),
        BinOp::Div => Scalar::Num(a / b),
        BinOp::Lt => Scalar::Bool(a < b),
        BinOp::Le => Scalar::Bool(a <= b),
        BinOp::Gt => Scalar::Bool(a > b),
        BinOp::Ge => Scalar::Bool(a >= b),
        BinOp::Eq => Scalar::Bool(a == b),
        BinOp::Ne => Scalar::Bool(a != b),
        BinOp::And | BinOp::Or => unreachable!("checked: conditions"),
    }
}

fn elementwise(op: Op, a: f64, b: f64) -> f64 {
    let nan = a.is_nan() || b.is_nan();
    match op {
        Op::Abs => a.abs(),
        Op::Log => a.ln(),
        Op::Min if nan => f64::NAN,
        Op::Max if nan => f64::NAN,
        Op::Min => a.min(b),
        Op::Max => a.max(b),
        _ => unreachable!("not element-wise"),
    }
}

/// A node's values over the bars.
#[derive(Debug, Clone)]
pub(crate) enum Val<'a> {
    Num(f64),
    Bool(bool),
    Series(Column<'a>),
    Flags(Vec<bool>),
}

/// A number column: the bars' own, shared with other runs, or computed here.
#[derive(Debug, Clone)]
pub(crate) enum Column<'a> {
    Data(&'a [f64]),
    Shared(crate::strategy::Series),
    Owned(Vec<f64>),
}

impl Column<'_> {
    pub(crate) fn values(&self) -> &[f64] {
        match self {
            Column::Data(v) => v,
            Column::Shared(v) => v,
            Column::Owned(v) => v,
        }
    }
}

impl Val<'_> {
    /// A number view: per bar, or the same on every bar.
    fn num(&self) -> Either<'_> {
        match self {
            Val::Num(v) => Either::Const(*v),
            Val::Series(c) => Either::Slice(c.values()),
            _ => unreachable!("checked: a number"),
        }
    }

    /// Per-bar truth, materialised (`n` bars).
    pub(crate) fn flags(&self, n: usize) -> std::borrow::Cow<'_, [bool]> {
        match self {
            Val::Bool(b) => std::borrow::Cow::Owned(vec![*b; n]),
            Val::Flags(f) => std::borrow::Cow::Borrowed(f),
            _ => unreachable!("checked: a condition"),
        }
    }
}

enum Either<'a> {
    Const(f64),
    Slice(&'a [f64]),
}

fn zip_num<T: Clone>(a: Either<'_>, b: Either<'_>, n: usize, f: impl Fn(f64, f64) -> T) -> Vec<T> {
    match (a, b) {
        (Either::Slice(x), Either::Slice(y)) => x.iter().zip(y).map(|(p, q)| f(*p, *q)).collect(),
        (Either::Slice(x), Either::Const(q)) => x.iter().map(|p| f(*p, q)).collect(),
        (Either::Const(p), Either::Slice(y)) => y.iter().map(|q| f(p, *q)).collect(),
        (Either::Const(p), Either::Const(q)) => vec![f(p, q); n],
    }
}

/// How crossings are detected (the strategy's `cross` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CrossRule {
    /// backtesting.py: `a[-2] < b[-2] and a[-1] > b[-1]`.
    Strict,
    /// vectorbt: above now and strictly below at some bar since the last cross or NaN.
    Stateful,
}

/// Evaluates every node of `plan` over the bars of `ctx`, registering each registered
/// function's series for the warm-up (by its first valid bar: no copy is kept) and sharing
/// indicator series through the sweep's cache when there is one. Days start at the run's
/// session ([`Init::session`], [`evaluate_in`]).
pub(crate) fn evaluate<'a>(plan: &Plan, ctx: &mut Init<'a>, cross: CrossRule) -> Vec<Val<'a>> {
    let session = ctx.session();
    evaluate_in(plan, ctx, cross, session)
}

/// [`evaluate`] with trading days starting at `session`'s start: `tf(timeframe, x)`
/// resamples to buckets of that session ([`Timeframe::bucket_start_in`]).
pub(crate) fn evaluate_in<'a>(
    plan: &Plan,
    ctx: &mut Init<'a>,
    cross: CrossRule,
    session: Session,
) -> Vec<Val<'a>> {
    let bars: &'a Bars = ctx.bars();
    let n = bars.len();
    let mut vals: Vec<Val<'a>> = Vec::with_capacity(plan.nodes.len());
    for (id, node) in plan.nodes.iter().enumerate() {
        let v = match node {
            Node::Field(k) => Val::Series(Column::Data(match k {
                0 => bars.open(),
                1 => bars.high(),
                2 => bars.low(),
                3 => bars.close(),
                _ => bars.volume(),
            })),
            Node::Num(v) => Val::Num(*v),
            Node::Bool(b) => Val::Bool(*b),
            Node::Neg(a) => match vals[*a].num() {
                Either::Const(v) => Val::Num(-v),
                Either::Slice(x) => Val::Series(Column::Owned(x.iter().map(|v| -v).collect())),
            },
            Node::Not(a) => match &vals[*a] {
                Val::Bool(b) => Val::Bool(!b),
                Val::Flags(f) => Val::Flags(f.iter().map(|b| !b).collect()),
                _ => unreachable!("checked: a condition"),
            },
            Node::Bin(op, a, b) => binary(*op, &vals[*a], &vals[*b], n),
            Node::Call {
                f,
                args,
                ints,
                nums,
            } => call(f, args, ints, nums, &vals, &plan.keys[id], ctx, cross, n),
            Node::Tf {
                timeframe,
                plan: inner,
                root,
            } => {
                let key = &plan.keys[id];
                // The session is part of the computation: in the key unless it is midnight
                // (so the keys of runs without one stay as they were).
                let shared = if session == Session::default() {
                    format!("rule:{key}")
                } else {
                    format!("rule:{key}@{session}")
                };
                let values = ctx.shared(&shared, || {
                    higher_timeframe(bars, *timeframe, session, inner, *root, cross)
                });
                // backtesting.py registers `resample_apply`'s series with `self.I`: its
                // NaN prefix counts toward the warm-up like any indicator's.
                ctx.warmup_only(key.as_str(), crate::indicators::first_valid(&values));
                Val::Series(Column::Shared(values))
            }
        };
        vals.push(v);
    }
    vals
}

/// `tf(timeframe, x)` on `bars`: `x` (node `root` of `plan`) evaluated on the bars
/// resampled to `timeframe` in `session` ([`Timeframe::resample_in`]: calendar buckets, or
/// the session's, closed on the left and stamped with their start), then, on each bar, the
/// value of the last bucket that ended at or before the bar's own bucket began — the bucket
/// before the bar's own — or NaN on the bars of the first bucket.
///
/// This is backtesting.py's `resample_apply` (pandas' `resample(rule, label="right")`,
/// `reindex(method="ffill")`) on bars stamped with their start, as backtide's are: a bucket's
/// value is labelled with its end, which is the start of the first bar after it. So a
/// bucket's value is first seen on the first bar after the bucket closed, and no value at a
/// bar uses a price of that bar or a later one. (On the last bar of a bucket its own bucket's
/// close is that bar's close, but knowing that a bar is the last one of its bucket would
/// need the next bar's time.) Inner functions are computed on the resampled bars without the
/// sweep's cache, whose keys name series of the base bars; the aligned series is shared.
fn higher_timeframe(
    bars: &Bars,
    timeframe: Timeframe,
    session: Session,
    plan: &Plan,
    root: NodeId,
    cross: CrossRule,
) -> Vec<f64> {
    if bars.is_empty() {
        return Vec::new();
    }
    let coarse = timeframe
        .resample_in(session, bars)
        .expect("buckets of valid bars are valid bars");
    let mut init = Init::new(&coarse, None);
    let vals = evaluate_in(plan, &mut init, cross, session);
    let x = vals[root].num();
    let value = |k: usize| match x {
        Either::Const(v) => v,
        Either::Slice(x) => x[k],
    };
    let starts = coarse.time();
    // `k`: the bucket of bar `i` (each bucket has a bar, so the search only moves forward).
    let mut k = 0;
    bars.time()
        .iter()
        .map(|&t| {
            let start = timeframe.bucket_start_in(session, t);
            while starts[k] < start {
                k += 1;
            }
            if k == 0 { f64::NAN } else { value(k - 1) }
        })
        .collect()
}

fn binary<'a>(op: BinOp, a: &Val<'a>, b: &Val<'a>, n: usize) -> Val<'a> {
    if matches!(op, BinOp::And | BinOp::Or) {
        let (x, y) = (a.flags(n), b.flags(n));
        let and = op == BinOp::And;
        return Val::Flags(
            x.iter()
                .zip(y.iter())
                .map(|(p, q)| if and { *p & *q } else { *p | *q })
                .collect(),
        );
    }
    let (x, y) = (a.num(), b.num());
    match op {
        BinOp::Add => Val::Series(Column::Owned(zip_num(x, y, n, |p, q| p + q))),
        BinOp::Sub => Val::Series(Column::Owned(zip_num(x, y, n, |p, q| p - q))),
        BinOp::Mul => Val::Series(Column::Owned(zip_num(x, y, n, |p, q| p * q))),
        BinOp::Div => Val::Series(Column::Owned(zip_num(x, y, n, |p, q| p / q))),
        BinOp::Lt => Val::Flags(zip_num(x, y, n, |p, q| p < q)),
        BinOp::Le => Val::Flags(zip_num(x, y, n, |p, q| p <= q)),
        BinOp::Gt => Val::Flags(zip_num(x, y, n, |p, q| p > q)),
        BinOp::Ge => Val::Flags(zip_num(x, y, n, |p, q| p >= q)),
        BinOp::Eq => Val::Flags(zip_num(x, y, n, |p, q| p == q)),
        BinOp::Ne => Val::Flags(zip_num(x, y, n, |p, q| p != q)),
        BinOp::And | BinOp::Or => unreachable!("handled above"),
    }
}

#[allow(clippy::too_many_arguments)]
fn call<'a>(
    f: &Function,
    args: &[NodeId],
    ints: &[usize],
    nums: &[f64],
    vals: &[Val<'a>],
    key: &str,
    ctx: &mut Init<'a>,
    cross: CrossRule,
    n: usize,
) -> Val<'a> {
    match f.op {
        Op::Crossover | Op::Crossunder => {
            let up = f.op == Op::Crossover;
            Val::Flags(match (vals[args[0]].num(), vals[args[1]].num()) {
                // The spread is recomputed per bar rather than stored (a sweep runs many).
                (Either::Slice(a), Either::Slice(b)) => crosses(n, |i| a[i] - b[i], cross, up),
                (a, b) => {
                    let d = zip_num(a, b, n, |p, q| p - q);
                    crosses(n, |i| d[i], cross, up)
                }
            })
        }
        Op::BarsSince => {
            let c = vals[args[0]].flags(n);
            Val::Series(Column::Owned(crate::indicators::bars_since(&c)))
        }
        Op::Abs | Op::Log => match vals[args[0]].num() {
            Either::Const(v) => Val::Num(elementwise(f.op, v, 0.0)),
            Either::Slice(x) => Val::Series(Column::Owned(
                x.iter().map(|v| elementwise(f.op, *v, 0.0)).collect(),
            )),
        },
        Op::Min | Op::Max => {
            let (a, b) = (vals[args[0]].num(), vals[args[1]].num());
            Val::Series(Column::Owned(zip_num(a, b, n, |p, q| {
                elementwise(f.op, p, q)
            })))
        }
        _ => {
            let series: Vec<&[f64]> = args
                .iter()
                .map(|&a| match &vals[a] {
                    Val::Series(c) => c.values(),
                    _ => unreachable!("checked: series arguments"),
                })
                .collect();
            let values = ctx.shared(&format!("rule:{key}"), || {
                functions::compute_from_first_valid(f.op, &series, ints, nums, n)
            });
            ctx.warmup_only(key, crate::indicators::first_valid(&values));
            Val::Series(Column::Shared(values))
        }
    }
}

/// Crosses of the spread `d = a − b` through zero, up (`up`) or down, by `rule`: the
/// same detector the built-in cross strategies use, so a rule restating one agrees bar
/// for bar.
fn crosses(n: usize, d: impl Fn(usize) -> f64, rule: CrossRule, up: bool) -> Vec<bool> {
    if rule == CrossRule::Strict {
        // Branch-free over independent bars (it vectorises): the detector's strict step.
        let mut out = vec![false; n];
        for (i, o) in out.iter_mut().enumerate().skip(1) {
            let (prev, cur) = (d(i - 1), d(i));
            *o = if up {
                (prev < 0.0) & (cur > 0.0)
            } else {
                (prev > 0.0) & (cur < 0.0)
            };
        }
        return out;
    }
    let mut c = Crosses::new(true);
    let mut prev = f64::NAN;
    (0..n)
        .map(|i| {
            let cur = d(i);
            let (u, dn) = c.step(prev, cur);
            prev = cur;
            if up { u } else { dn }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::syntax::parse;
    use super::*;

    /// Type, constness and `$parameter` uses, or the rendered error.
    type Checked = Result<(Ty, bool, Vec<(String, ParamUse)>), String>;

    fn checked(src: &str) -> Checked {
        let e = parse(src).map_err(|e| e.render(src))?;
        let mut p = Vec::new();
        let (t, c) = check(&e, &mut p).map_err(|e| e.render(src))?;
        Ok((t, c, p))
    }

    #[test]
    fn types_and_parameter_uses() {
        let (t, c, p) =
            checked("crossover(ema(close, $fast), ema(close, $slow)) and close > $lvl * 2")
                .unwrap();
        assert_eq!((t, c), (Ty::Bool, false));
        assert_eq!(
            p,
            vec![
                ("fast".into(), ParamUse::Window),
                ("slow".into(), ParamUse::Window),
                ("lvl".into(), ParamUse::Number)
            ]
        );
        assert_eq!(
            checked("shift(close, $k) > 0").unwrap().2[0].1,
            ParamUse::Lag
        );
        assert_eq!(checked("2 * 3").unwrap().0, Ty::Num);
    }

    #[test]
    fn type_errors_name_both_sides() {
        let e = checked("close and rsi(close, 14) < 30").unwrap_err();
        assert!(
            e.contains("`and` needs conditions on both sides, got a number series on the left"),
            "{e}"
        );
        let e = checked("sma(close > 1, 3)").unwrap_err();
        assert!(
            e.contains("expected a number series") && e.contains("got a condition"),
            "{e}"
        );
        let e = checked("sma(close, close)").unwrap_err();
        assert!(e.contains("argument `n`") && e.contains("window"), "{e}");
        let e = checked("sma(close)").unwrap_err();
        assert!(e.contains("sma(x, n) takes 2 arguments, got 1"), "{e}");
        let e = checked("not close").unwrap_err();
        assert!(e.contains("`not` needs a condition"), "{e}");
    }

    #[test]
    fn unknown_names_suggest_the_nearest() {
        let e = checked("clsoe > 1").unwrap_err();
        assert!(
            e.contains("unknown series `clsoe` (did you mean `close`?)"),
            "{e}"
        );
        let e = checked("rsii(close, 14) < 30").unwrap_err();
        assert!(
            e.contains("unknown function `rsii` (did you mean `rsi`"),
            "{e}"
        );
        assert!(e.contains("column 1"), "{e}");
        let e = checked("close() > 1").unwrap_err();
        assert!(e.contains("is a series"), "{e}");
        let e = checked("sma > 1").unwrap_err();
        assert!(e.contains("call it as sma(x, n)"), "{e}");
    }

    #[test]
    fn common_subexpressions_are_one_node_and_constants_fold() {
        let src = "sma(close, 10) > sma(close, 20) and sma(close, 10) > 2 * 3 + 1";
        let e = parse(src).unwrap();
        let mut plan = Plan::default();
        plan.lower(&e, &|_| None).unwrap();
        let smas = plan.keys.iter().filter(|k| k.starts_with("sma(")).count();
        assert_eq!(smas, 2, "{:?}", plan.keys);
        assert!(plan.keys.contains(&"7.0".to_string()), "{:?}", plan.keys);
        assert!(
            !plan.keys.iter().any(|k| k.contains('*')),
            "{:?}",
            plan.keys
        );
    }

    #[test]
    fn tf_takes_a_timeframe_in_quotes_and_a_series() {
        assert_eq!(
            checked("close > tf(\"1d\", sma(close, $n))").unwrap(),
            (Ty::Bool, false, vec![("n".into(), ParamUse::Window)])
        );
        let e = checked("tf(\"3x\", close)").unwrap_err();
        assert!(
            e.contains("argument `timeframe` of tf(timeframe, x): timeframe `3x`: expected")
                && e.contains("1d, 1w or 1mo at column 4"),
            "{e}"
        );
        let e = checked("tf(1, close)").unwrap_err();
        assert!(e.contains("expected a timeframe in quotes") && e.contains("got a number"));
        let e = checked("tf(d, close)").unwrap_err();
        assert!(e.contains("put the timeframe in quotes"), "{e}");
        let e = checked("tf(\"1d\", 5)").unwrap_err();
        assert!(e.contains("argument `x`") && e.contains("expected a number series"));
        let e = checked("tf(\"1d\", close > 1)").unwrap_err();
        assert!(e.contains("got a condition"), "{e}");
        let e = checked("close > \"1d\"").unwrap_err();
        assert!(e.contains("can only be the timeframe of tf"), "{e}");
        // The same timeframe written two ways is one node.
        let src = "tf(\"24h\", sma(close, 2)) > tf('1d', sma(close, 2))";
        let mut plan = Plan::default();
        plan.lower(&parse(src).unwrap(), &|_| None).unwrap();
        let tfs: Vec<&String> = plan.keys.iter().filter(|k| k.starts_with("tf(")).collect();
        assert_eq!(tfs, ["tf(1d,sma(close,2.0))"]);
    }

    #[test]
    fn a_negative_shift_is_look_ahead() {
        for (src, v) in [
            ("shift(close, -1) > 0", None),
            ("shift(close, $k) > 0", Some(-2.0)),
        ] {
            let e = parse(src).unwrap();
            let got = Plan::default().lower(&e, &|_| v).unwrap_err();
            assert!(got.message.contains("look-ahead"), "{}", got.message);
        }
    }
}
