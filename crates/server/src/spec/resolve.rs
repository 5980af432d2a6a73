//! Resolution of a request's references against the store: its dataset or universe
//! (into content ids) and an uploaded model (into its stored files).

use serde_json::Value;

use super::body::{DatasetsRef, JobSpec, Member, StrategyRef};
use crate::error::{ApiError, Detail};
use crate::store::Store;

/// Where uploaded models live: `models/<id>/model.onnx` and `features.json`.
pub(crate) fn model_dir(data_dir: &std::path::Path, id: &str) -> std::path::PathBuf {
    data_dir.join("models").join(id)
}

/// For `onnx_model`: replaces the `model` parameter (an uploaded model's id or name) by
/// the stored file and sets `features` to the model's own spec, so a request can only use
/// models uploaded to this server, never a path of its choosing. Returns the model's id.
pub(crate) fn resolve_model(
    strategy: &mut StrategyRef,
    store: &dyn crate::store::Store,
    data_dir: &std::path::Path,
) -> Result<Option<String>, ApiError> {
    if strategy.name != backtide_models::ONNX_MODEL.name {
        return Ok(None);
    }
    if strategy.params.contains_key("features") {
        return Err(ApiError::invalid(
            &["body", "strategy", "params", "features"],
            "comes with the uploaded model; do not give it",
            "extra_forbidden",
        ));
    }
    let Some(key) = strategy.params.get("model").and_then(Value::as_str) else {
        return Err(ApiError::invalid(
            &["body", "strategy", "params", "model"],
            "required: the id or name of a model uploaded with POST /v1/models",
            "missing",
        ));
    };
    let model = store
        .model(key)
        .map_err(ApiError::internal)?
        .ok_or_else(|| {
            ApiError::invalid(
                &["body", "strategy", "params", "model"],
                format!("no uploaded model `{key}` (see GET /v1/models)"),
                "value_error",
            )
        })?;
    let dir = model_dir(data_dir, &model.id);
    let text = |p: std::path::PathBuf| Value::String(p.to_string_lossy().into_owned());
    strategy
        .params
        .insert("model".into(), text(dir.join("model.onnx")));
    strategy
        .params
        .insert("features".into(), text(dir.join("features.json")));
    Ok(Some(model.id))
}

/// A job's data, resolved against the store when it is submitted.
pub(crate) enum Resolved {
    /// One asset.
    Single(Box<crate::store::Dataset>),
    /// A portfolio's assets, in column order.
    Universe(Vec<Member>),
}

/// Refuses a request that gives both `dataset` and `datasets`, or neither.
pub(crate) fn check_data_fields(spec: &JobSpec) -> Result<(), ApiError> {
    match (spec.dataset(), spec.datasets()) {
        (Some(_), Some(_)) => Err(ApiError::invalid(
            &["body", "datasets"],
            "give either `dataset` (one dataset) or `datasets` (a universe), not both",
            "value_error",
        )),
        (None, None) => Err(ApiError::invalid(
            &["body", "dataset"],
            "give `dataset` (a dataset id or name) or `datasets` (a universe: a list of \
             datasets, or symbol → dataset)",
            "missing",
        )),
        _ => Ok(()),
    }
}

/// Whether `symbol` can name an asset (`backtide_core::Universe`'s rule).
fn valid_symbol(symbol: &str) -> bool {
    !symbol.is_empty() && !symbol.contains([',', '=', '\n', '\r'])
}

/// Resolves the request's data to content ids. A single `dataset` that is not found is
/// `Ok(None)`: the caller reports it after the rest of the request, as it always has. A
/// single dataset becomes a universe when it is long-format, or when `allocation` (the
/// strategy is an allocation strategy).
pub(crate) fn resolve_data(
    spec: &JobSpec,
    store: &dyn crate::store::Store,
    allocation: bool,
) -> Result<Option<Resolved>, ApiError> {
    let not_found = |key: &str| format!("dataset `{key}` not found (see GET /v1/datasets)");
    if let Some(key) = spec.dataset() {
        let Some(d) = store.dataset(key).map_err(ApiError::internal)? else {
            return Ok(None);
        };
        let members: Vec<Member> = match &d.symbols {
            Some(symbols) => symbols
                .iter()
                .map(|s| Member {
                    symbol: s.clone(),
                    dataset: d.id.clone(),
                })
                .collect(),
            None if allocation => {
                if !valid_symbol(&d.name) {
                    return Err(ApiError::invalid(
                        &["body", "dataset"],
                        format!(
                            "`{}` cannot name an asset (a symbol is non-empty text without \
                             commas, `=` or line breaks); use `datasets` with a symbol",
                            d.name
                        ),
                        "value_error",
                    ));
                }
                vec![Member {
                    symbol: d.name.clone(),
                    dataset: d.id.clone(),
                }]
            }
            None => return Ok(Some(Resolved::Single(Box::new(d)))),
        };
        return Ok(Some(Resolved::Universe(members)));
    }
    let Some(datasets) = spec.datasets() else {
        return Ok(None);
    };
    // (where in the body, the entry's member(s)) for every entry, then one pass for
    // duplicate symbols.
    let mut problems: Vec<Detail> = Vec::new();
    let mut found: Vec<(Value, Vec<Member>)> = Vec::new();
    // A list entry is at its index, a map entry at its symbol (kept as text even when it
    // looks like a number).
    let at = |entry: &Value, msg: String, kind: &str| Detail {
        loc: vec!["body".into(), "datasets".into(), entry.clone()],
        msg,
        kind: kind.into(),
    };
    let lookup = |key: &Value, entry: &Value, problems: &mut Vec<Detail>| {
        let Some(key) = key.as_str() else {
            problems.push(at(
                entry,
                "expected a dataset id or name".into(),
                "type_error",
            ));
            return Ok(None);
        };
        let d = store.dataset(key).map_err(ApiError::internal)?;
        if d.is_none() {
            problems.push(at(entry, not_found(key), "value_error"));
        }
        Ok::<_, ApiError>(d)
    };
    match datasets {
        DatasetsRef::List(list) => {
            for (i, key) in list.iter().enumerate() {
                let entry = Value::from(i);
                let Some(d) = lookup(key, &entry, &mut problems)? else {
                    continue;
                };
                let members = match &d.symbols {
                    Some(symbols) => symbols
                        .iter()
                        .map(|s| Member {
                            symbol: s.clone(),
                            dataset: d.id.clone(),
                        })
                        .collect(),
                    None if !valid_symbol(&d.name) => {
                        problems.push(at(
                            &entry,
                            format!(
                                "`{}` cannot name an asset (a symbol is non-empty text without \
                                 commas, `=` or line breaks); give `datasets` as \
                                 {{\"SYMBOL\": \"{}\"}}",
                                d.name, d.id
                            ),
                            "value_error",
                        ));
                        continue;
                    }
                    None => vec![Member {
                        symbol: d.name.clone(),
                        dataset: d.id.clone(),
                    }],
                };
                found.push((entry, members));
            }
        }
        DatasetsRef::Map(map) => {
            for (symbol, key) in map {
                let entry = Value::from(symbol.as_str());
                if !valid_symbol(symbol) {
                    problems.push(at(
                        &entry,
                        "a symbol must be non-empty text without commas, `=` or line breaks".into(),
                        "value_error",
                    ));
                    continue;
                }
                let Some(d) = lookup(key, &entry, &mut problems)? else {
                    continue;
                };
                if let Some(symbols) = &d.symbols
                    && !symbols.contains(symbol)
                {
                    problems.push(at(
                        &entry,
                        format!(
                            "dataset `{}` is long-format and has no symbol `{symbol}` (it holds {})",
                            key.as_str().unwrap_or_default(),
                            symbols.join(", ")
                        ),
                        "value_error",
                    ));
                    continue;
                }
                found.push((
                    entry,
                    vec![Member {
                        symbol: symbol.clone(),
                        dataset: d.id.clone(),
                    }],
                ));
            }
        }
    }
    if found.is_empty() && problems.is_empty() {
        problems.push(Detail::new(
            &["body", "datasets"],
            "give at least one dataset",
            "value_error",
        ));
    }
    let mut members: Vec<Member> = Vec::new();
    for (entry, ms) in found {
        for m in ms {
            if members.iter().any(|x| x.symbol == m.symbol) {
                problems.push(at(
                    &entry,
                    format!(
                        "symbol `{}` appears twice in the universe (give `datasets` as \
                         {{SYMBOL: dataset}} to name the assets)",
                        m.symbol
                    ),
                    "value_error",
                ));
            } else {
                members.push(m);
            }
        }
    }
    if !problems.is_empty() {
        return Err(ApiError::Invalid(problems));
    }
    Ok(Some(Resolved::Universe(members)))
}

/// Resolves a backtest's `benchmark` to its content id, checking at submission what the
/// run would otherwise fail on: the dataset exists, holds one asset, and covers the data
/// (`load` reads a dataset's bars by id and format).
pub(crate) fn resolve_benchmark(
    key: &str,
    data: &Resolved,
    store: &dyn Store,
    load: impl Fn(&str, &str) -> anyhow::Result<std::sync::Arc<backtide_core::Bars>>,
) -> Result<String, ApiError> {
    let at = ["body", "benchmark"];
    let refuse = |msg: String| ApiError::invalid(&at, msg, "value_error");
    let Resolved::Single(dataset) = data else {
        return Err(refuse(
            "a benchmark applies to one-asset backtests; this request is a portfolio".into(),
        ));
    };
    let Some(b) = store.dataset(key).map_err(ApiError::internal)? else {
        return Err(refuse(format!(
            "dataset `{key}` not found (see GET /v1/datasets)"
        )));
    };
    if let Some(symbols) = &b.symbols {
        return Err(refuse(format!(
            "dataset `{key}` is long-format ({}); a benchmark is one series: upload it as a \
             dataset of its own",
            symbols.join(", ")
        )));
    }
    let bars = load(&dataset.id, &dataset.format).map_err(ApiError::internal)?;
    let bench = load(&b.id, &b.format).map_err(ApiError::internal)?;
    backtide_core::stats::AlignedBenchmark::align(bench.time(), bench.close(), bars.time())
        .map_err(|e| refuse(format!("dataset `{key}`: {e}")))?;
    Ok(b.id)
}
