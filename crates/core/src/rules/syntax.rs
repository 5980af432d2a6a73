//! The rule language's syntax: text parsed (with `winnow`'s Pratt parser) into a tree
//! whose every node remembers the bytes it came from, so that later errors (types,
//! unknown names, look-ahead) point at a column too.

use std::ops::Range;

use winnow::ascii::{float, multispace0};
use winnow::combinator::{
    Infix, Prefix, alt, cut_err, delimited, expression, fail, not, opt, peek, preceded, terminated,
};
use winnow::error::{ContextError, ErrMode, StrContext, StrContextValue};
use winnow::prelude::*;
use winnow::stream::{LocatingSlice, Location};
use winnow::token::{one_of, take_while};

/// A parsed expression and where it was in the text (byte offsets).
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What it is.
    pub kind: ExprKind,
    /// Its bytes in the source text.
    pub span: Range<usize>,
}

/// The kinds of expression.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    /// A number literal.
    Number(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `$name`: a strategy parameter.
    Param(String),
    /// A bare name: a price series (`close`, …) once checked.
    Name(String),
    /// A string literal, `"1d"` or `'1d'` (only a timeframe argument takes one).
    Str(String),
    /// `name(args…)`.
    Call {
        /// Function name.
        name: String,
        /// Where the name is.
        name_span: Range<usize>,
        /// Arguments.
        args: Vec<Expr>,
    },
    /// `-x`.
    Neg(Box<Expr>),
    /// `not x`.
    Not(Box<Expr>),
    /// `a op b`.
    Binary(BinOp, Box<Expr>, Box<Expr>),
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `and`
    And,
    /// `or`
    Or,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::And => "and",
            BinOp::Or => "or",
        }
    }

    /// True for `< <= > >= == !=`.
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::Eq | BinOp::Ne
        )
    }
}

/// An error located in the source text.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    /// What went wrong and what was expected.
    pub message: String,
    /// Byte offsets of the offending text.
    pub span: Range<usize>,
}

impl SyntaxError {
    /// The message, the column, and the expression with a caret under the place:
    /// what a user needs to fix a one-line expression.
    pub fn render(&self, source: &str) -> String {
        let col = source[..self.span.start.min(source.len())].chars().count() + 1;
        let width = source
            .get(self.span.clone())
            .map_or(1, |s| s.chars().count().max(1));
        format!(
            "{} at column {col}\n  {source}\n  {}{}",
            self.message,
            " ".repeat(col - 1),
            "^".repeat(width)
        )
    }
}

type Input<'a> = LocatingSlice<&'a str>;
type PResult<O> = Result<O, ErrMode<ContextError>>;

/// Parses one expression; the whole text must be used.
pub fn parse(source: &str) -> Result<Expr, SyntaxError> {
    if source.trim().is_empty() {
        return Err(SyntaxError {
            message: "empty expression".into(),
            span: 0..source.len(),
        });
    }
    let mut input = LocatingSlice::new(source);
    let parsed = terminated(expr(0), multispace0).parse_next(&mut input);
    let at = input.current_token_start();
    match parsed {
        Ok(e) if at == source.len() => Ok(e),
        Ok(_) => Err(SyntaxError {
            message: format!(
                "unexpected `{}`: expected an operator, `)` or the end of the expression",
                next_token(&source[at..])
            ),
            span: at..at + next_token(&source[at..]).len().max(1),
        }),
        Err(e) => {
            let inner = match e {
                ErrMode::Backtrack(c) | ErrMode::Cut(c) => c,
                ErrMode::Incomplete(_) => ContextError::new(),
            };
            let at = input.current_token_start().min(source.len());
            // Each enclosing parser adds what it expected: the innermost is the precise one
            // (`an operand` around a string's missing quote would only mislead).
            let expected: Vec<String> = inner
                .context()
                .filter_map(|c| match c {
                    StrContext::Expected(StrContextValue::Description(d)) => Some(d.to_string()),
                    StrContext::Expected(v) => Some(v.to_string()),
                    _ => None,
                })
                .take(1)
                .collect();
            let found = next_token(&source[at..]);
            let found = if found.is_empty() {
                "the end of the expression".to_string()
            } else {
                format!("`{found}`")
            };
            let wanted = if expected.is_empty() {
                "an operand".to_string()
            } else {
                expected.join(" or ")
            };
            Err(SyntaxError {
                message: format!("expected {wanted}, found {found}"),
                span: at..at + next_token(&source[at..]).len().max(1),
            })
        }
    }
}

/// The token at the start of `rest` (for messages): a word or number, else one character.
fn next_token(rest: &str) -> &str {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '$';
    match rest.chars().next() {
        None => "",
        Some(c) if word(c) => &rest[..rest.find(|c: char| !word(c)).unwrap_or(rest.len())],
        Some(c) => &rest[..c.len_utf8()],
    }
}

fn expected(what: &'static str) -> StrContext {
    StrContext::Expected(StrContextValue::Description(what))
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

fn ident<'a>(i: &mut Input<'a>) -> PResult<&'a str> {
    (
        one_of(|c: char| c.is_ascii_alphabetic() || c == '_'),
        take_while(0.., is_ident_char),
    )
        .take()
        .parse_next(i)
}

/// A keyword, not the start of a longer name.
fn keyword<'a>(word: &'static str) -> impl Parser<Input<'a>, &'a str, ErrMode<ContextError>> {
    terminated(word, not(one_of(is_ident_char)))
}

fn expr<'a>(power: i64) -> impl Parser<Input<'a>, Expr, ErrMode<ContextError>> {
    move |i: &mut Input<'a>| {
        use Infix::{Left, Neither};
        expression(delimited(multispace0, operand, multispace0))
            .current_precedence_level(power)
            .prefix(delimited(
                multispace0,
                alt((
                    "-".value(Prefix(7, |_: &mut _, a: Expr| Ok(unary(a, true)))),
                    keyword("not").value(Prefix(3, |_: &mut _, a: Expr| Ok(unary(a, false)))),
                )),
                multispace0,
            ))
            .infix(delimited(
                multispace0,
                alt((
                    alt((
                        "<=".value(Neither(4, |_: &mut _, a, b| Ok(bin(BinOp::Le, a, b)))),
                        ">=".value(Neither(4, |_: &mut _, a, b| Ok(bin(BinOp::Ge, a, b)))),
                        "==".value(Neither(4, |_: &mut _, a, b| Ok(bin(BinOp::Eq, a, b)))),
                        "!=".value(Neither(4, |_: &mut _, a, b| Ok(bin(BinOp::Ne, a, b)))),
                        "<".value(Neither(4, |_: &mut _, a, b| Ok(bin(BinOp::Lt, a, b)))),
                        ">".value(Neither(4, |_: &mut _, a, b| Ok(bin(BinOp::Gt, a, b)))),
                    )),
                    alt((
                        "+".value(Left(5, |_: &mut _, a, b| Ok(bin(BinOp::Add, a, b)))),
                        "-".value(Left(5, |_: &mut _, a, b| Ok(bin(BinOp::Sub, a, b)))),
                        "*".value(Left(6, |_: &mut _, a, b| Ok(bin(BinOp::Mul, a, b)))),
                        "/".value(Left(6, |_: &mut _, a, b| Ok(bin(BinOp::Div, a, b)))),
                        keyword("and").value(Left(2, |_: &mut _, a, b| Ok(bin(BinOp::And, a, b)))),
                        keyword("or").value(Left(1, |_: &mut _, a, b| Ok(bin(BinOp::Or, a, b)))),
                    )),
                )),
                multispace0,
            ))
            .parse_next(i)
    }
}

fn unary(a: Expr, neg: bool) -> Expr {
    // The operator's own column is not kept by the Pratt fold; the operand's is precise
    // enough for every message about it.
    let span = a.span.clone();
    let kind = if neg {
        ExprKind::Neg(Box::new(a))
    } else {
        ExprKind::Not(Box::new(a))
    };
    Expr { kind, span }
}

fn bin(op: BinOp, a: Expr, b: Expr) -> Expr {
    let span = a.span.start..b.span.end;
    Expr {
        kind: ExprKind::Binary(op, Box::new(a), Box::new(b)),
        span,
    }
}

fn operand(i: &mut Input<'_>) -> PResult<Expr> {
    alt((number, param, string, parenthesized, name_or_call))
        .context(expected(
            "an operand (a number, a series such as `close`, a `$parameter`, a function call or `(`)",
        ))
        .parse_next(i)
}

fn number(i: &mut Input<'_>) -> PResult<Expr> {
    // A leading `-` belongs to the literal (in an operand's place), so a message about a
    // negative number underlines its sign too.
    preceded(
        peek((opt('-'), one_of(|c: char| c.is_ascii_digit() || c == '.'))),
        float,
    )
    .with_span()
    .map(|(v, span): (f64, _)| Expr {
        kind: ExprKind::Number(v),
        span,
    })
    .parse_next(i)
}

fn param(i: &mut Input<'_>) -> PResult<Expr> {
    preceded(
        '$',
        cut_err(ident.context(expected("a parameter name after `$`"))),
    )
    .with_span()
    .map(|(name, span)| Expr {
        kind: ExprKind::Param(name.to_string()),
        span,
    })
    .parse_next(i)
}

/// `"text"` or `'text'`: no escapes, any character but the quote that opened it. An
/// unterminated one is reported at its opening quote.
fn string(i: &mut Input<'_>) -> PResult<Expr> {
    let start = i.checkpoint();
    let from = i.current_token_start();
    let quote = one_of(['"', '\'']).parse_next(i)?;
    let text = take_while(0.., move |c: char| c != quote).parse_next(i)?;
    if opt(quote).parse_next(i)?.is_none() {
        i.reset(&start);
        let what = if quote == '"' {
            "a closing `\"` for the string that starts here"
        } else {
            "a closing `'` for the string that starts here"
        };
        return cut_err(fail.context(expected(what))).parse_next(i);
    }
    Ok(Expr {
        kind: ExprKind::Str(text.to_string()),
        span: from..i.current_token_start(),
    })
}

fn parenthesized(i: &mut Input<'_>) -> PResult<Expr> {
    let start = i.current_token_start();
    '('.parse_next(i)?;
    let mut e = cut_err(expr(0)).parse_next(i)?;
    cut_err(')'.context(expected("`)`"))).parse_next(i)?;
    // The parentheses belong to the operand (a message about it underlines them too).
    e.span = start..i.current_token_start();
    Ok(e)
}

fn name_or_call(i: &mut Input<'_>) -> PResult<Expr> {
    let (name, name_span) = ident.with_span().parse_next(i)?;
    match name {
        "true" | "false" => {
            return Ok(Expr {
                kind: ExprKind::Bool(name == "true"),
                span: name_span,
            });
        }
        "and" | "or" | "not" => {
            return Err(ErrMode::Backtrack(ContextError::new()));
        }
        _ => {}
    }
    let before = i.checkpoint();
    multispace0.parse_next(i)?;
    if opt('(').parse_next(i)?.is_none() {
        i.reset(&before);
        return Ok(Expr {
            kind: ExprKind::Name(name.to_string()),
            span: name_span,
        });
    }
    let mut args = Vec::new();
    multispace0.parse_next(i)?;
    if opt(')').parse_next(i)?.is_none() {
        loop {
            args.push(cut_err(expr(0)).parse_next(i)?);
            let sep = cut_err(alt((',', ')')).context(expected("`,` or `)`"))).parse_next(i)?;
            if sep == ')' {
                break;
            }
        }
    }
    Ok(Expr {
        kind: ExprKind::Call {
            name: name.to_string(),
            name_span: name_span.clone(),
            args,
        },
        span: name_span.start..i.current_token_start(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Number(v) => format!("{v}"),
            ExprKind::Bool(b) => format!("{b}"),
            ExprKind::Param(p) => format!("${p}"),
            ExprKind::Name(n) => n.clone(),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Call { name, args, .. } => format!(
                "{name}({})",
                args.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            ExprKind::Neg(a) => format!("(-{})", show(a)),
            ExprKind::Not(a) => format!("(not {})", show(a)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", show(a), op.symbol(), show(b)),
        }
    }

    #[test]
    fn precedence_and_calls() {
        let e = parse("rsi(close, 14) < 30 and close > sma(close, 200) or not x >= -2 * $k + 1")
            .unwrap();
        assert_eq!(
            show(&e),
            "(((rsi(close, 14) < 30) and (close > sma(close, 200))) or (not (x >= ((-2 * $k) + 1))))"
        );
        assert_eq!(
            show(&parse("a - b - c / d / e").unwrap()),
            "((a - b) - ((c / d) / e))"
        );
        assert_eq!(show(&parse(" ( close ) ").unwrap()), "close");
        assert_eq!(show(&parse("f()").unwrap()), "f()");
        assert_eq!(
            show(&parse("android or notx").unwrap()),
            "(android or notx)"
        );
        assert_eq!(show(&parse("1e-3 * .5").unwrap()), "(0.001 * 0.5)");
        assert_eq!(show(&parse("2 - -3 - 1").unwrap()), "((2 - -3) - 1)");
        assert_eq!(show(&parse("-close * 2").unwrap()), "((-close) * 2)");
        let e = parse("shift(x, -3)").unwrap();
        let ExprKind::Call { args, .. } = &e.kind else {
            panic!()
        };
        assert_eq!(args[1].span, 9..11);
    }

    #[test]
    fn spans_point_at_the_source() {
        let src = "close > sma(close, 20)";
        let e = parse(src).unwrap();
        let ExprKind::Binary(_, a, b) = &e.kind else {
            panic!()
        };
        assert_eq!(&src[a.span.clone()], "close");
        assert_eq!(&src[b.span.clone()], "sma(close, 20)");
        assert_eq!(e.span, 0..src.len());
    }

    #[test]
    fn errors_name_the_column_and_what_was_expected() {
        let src = "rsi(close, ) < 30";
        let e = parse(src).unwrap_err();
        assert_eq!(e.span.start, 11, "{e:?}");
        let text = e.render(src);
        assert!(text.contains("column 12"), "{text}");
        assert!(text.contains("expected an operand"), "{text}");
        assert!(text.ends_with("\n             ^"), "{text:?}");

        let e = parse("close > 3 4").unwrap_err();
        assert_eq!(e.span.start, 10, "{e:?}");
        assert!(e.message.contains("unexpected `4`"), "{}", e.message);

        let e = parse("(close > 3").unwrap_err();
        assert!(e.message.contains("`)`"), "{}", e.message);
        assert_eq!(e.span.start, 10);

        let e = parse("sma(close 20)").unwrap_err();
        assert!(e.message.contains("`,` or `)`"), "{}", e.message);

        assert!(parse("  ").unwrap_err().message.contains("empty"));
        assert!(parse("close >").is_err());
        assert!(parse("a < b < c").is_err(), "comparisons do not chain");
        assert!(parse("$").unwrap_err().message.contains("parameter name"));
    }

    #[test]
    fn strings_in_either_quotes_and_unterminated_ones_point_at_their_quote() {
        let src = "close > tf(\"1d\", sma(close, 5))";
        let e = parse(src).unwrap();
        assert_eq!(show(&e), "(close > tf(\"1d\", sma(close, 5)))");
        let ExprKind::Binary(_, _, call) = &e.kind else {
            panic!()
        };
        let ExprKind::Call { args, .. } = &call.kind else {
            panic!()
        };
        assert_eq!(&src[args[0].span.clone()], "\"1d\"");
        assert_eq!(
            show(&parse("tf('4h', close)").unwrap()),
            "tf(\"4h\", close)"
        );
        assert_eq!(show(&parse("tf(\"\", close)").unwrap()), "tf(\"\", close)");

        let src = "close > tf(\"1d, close)";
        let e = parse(src).unwrap_err();
        assert_eq!(e.span.start, 11, "{e:?}");
        let text = e.render(src);
        assert!(
            text.contains("expected a closing `\"` for the string that starts here"),
            "{text}"
        );
        assert!(text.contains("column 12"), "{text}");
        let e = parse("tf('1d, close)").unwrap_err();
        assert!(e.message.contains("closing `'`"), "{}", e.message);
        assert_eq!(e.span.start, 3);
    }
}
