//! The sweep report's data.

use serde_json::{Value, json};

use crate::{page, round};

/// One combination in a sweep report: its swept parameter values and statistics.
pub type SweepRow = Value;

/// What a sweep report shows.
pub struct SweepReport<'a> {
    /// Heading.
    pub title: &'a str,
    /// The swept parameters, in grid order.
    pub axes: &'a [String],
    /// The optimised statistic's key.
    pub objective: &'a str,
    /// Maximised (true) or minimised.
    pub maximize: bool,
    /// Combinations as `{"params": {...}, "stats": {...}}` (the `--out x.json` shape).
    pub combos: &'a [SweepRow],
    /// The best combination, same shape.
    pub best: Option<&'a Value>,
    /// Overfitting checks (`overfitting` of the sweep JSON).
    pub overfitting: Option<&'a Value>,
    /// A walk-forward's result (`walk_forward` of its JSON).
    pub walk_forward: Option<&'a Value>,
}

/// Statistics shown beside the objective, by dialect (the first key found is used).
const EXTRA: [(&str, [&str; 2]); 3] = [
    ("return %", ["return_pct", "total_return_pct"]),
    ("max drawdown %", ["max_drawdown_pct", "max_drawdown_pct"]),
    ("trades", ["num_trades", "total_trades"]),
];

/// The report as one HTML document.
pub fn sweep_html(r: &SweepReport<'_>) -> String {
    let stats0 = r.combos.first().map(|c| &c["stats"]);
    let extra: Vec<(&str, &str)> = EXTRA
        .iter()
        .filter_map(|(label, keys)| {
            keys.iter()
                .find(|k| stats0.is_some_and(|s| s.get(**k).is_some()))
                .map(|k| (*label, *k))
        })
        .collect();
    let value = |v: &Value| match v {
        Value::Number(n) => round(n.as_f64().unwrap_or(f64::NAN), 6),
        other => other.clone(),
    };
    let row = |c: &Value| -> Value {
        let mut cells: Vec<Value> = r.axes.iter().map(|a| c["params"][a].clone()).collect();
        cells.push(value(&c["stats"][r.objective]));
        cells.extend(extra.iter().map(|(_, k)| value(&c["stats"][*k])));
        Value::Array(cells)
    };
    let mut columns: Vec<String> = r.axes.to_vec();
    columns.push(r.objective.to_string());
    columns.extend(extra.iter().map(|(l, _)| l.to_string()));
    let data = json!({
        "axes": r.axes,
        "objective": r.objective,
        "maximize": r.maximize,
        "columns": columns,
        "rows": r.combos.iter().map(row).collect::<Vec<_>>(),
        "best": r.best.map(row),
        "best_params": r.best.map(|b| b["params"].clone()),
        "overfitting": r.overfitting,
        "walk_forward": r.walk_forward,
    });
    page(r.title, "sweep", &data)
}
