//! A page of a stored result, read without loading the result.
//!
//! `result.json` of a backtest over millions of bars holds one equity entry per bar; parsing
//! it into a `serde_json::Value` to return a hundred trades and two thousand equity points
//! took gigabytes. Here the file is streamed through serde twice at most: the first pass
//! keeps the small parts, the requested page of each paged list (counting the rest) and the
//! equity values alone (8 bytes a bar); the second keeps only the equity entries (and
//! portfolio positions) at the bars the downsampling chose. Memory is the page, the kept
//! points and the equity values, whatever the result's size.

use std::fmt;
use std::io::BufReader;
use std::path::Path;

use serde::Deserializer as _;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value, json};

use crate::error::ApiError;

/// Most equity points one answer may carry (`points=0`, every bar, included).
pub(crate) const MAX_POINTS: usize = 100_000;

/// What to return of a result.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Page<'s> {
    /// First item of each paged list.
    pub offset: usize,
    /// Items per paged list.
    pub limit: usize,
    /// Equity points after downsampling; 0 for every bar (up to [`MAX_POINTS`]).
    pub points: usize,
    /// A sweep's combinations in the order of this statistic (checked by the caller)
    /// rather than the sweep's; `true` for largest first.
    pub sort: Option<(&'s str, bool)>,
}

/// The order of `values` (combination statistics): by value, largest first when
/// `descending`, NaN (undefined) last either way, equal values in combination order.
fn sorted_order(values: &[f64], descending: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let (x, y) = (values[a], values[b]);
        match (x.is_nan(), y.is_nan()) {
            (true, true) => std::cmp::Ordering::Equal,
            (true, false) => std::cmp::Ordering::Greater,
            (false, true) => std::cmp::Ordering::Less,
            _ if descending => y.total_cmp(&x),
            _ => x.total_cmp(&y),
        }
    });
    order
}

/// Reads `path` (a job's `result.json`) as the result endpoint returns it: for a backtest
/// (`kind == "backtest"`) the page of `trades` (and a portfolio's `orders`) with their
/// totals and downsampled `equity` (and `positions` at the same bars); for a sweep the
/// page of `combos`; everything else as stored.
pub(crate) fn read_page(path: &Path, kind: &str, page: Page<'_>) -> Result<Value, ApiError> {
    let backtest = kind == "backtest";
    let mut first = Pass {
        page,
        backtest,
        keep: None,
        combos: None,
        doc: Map::new(),
        equity: Vec::new(),
        keys: Vec::new(),
    };
    stream(path, &mut first)?;
    let mut doc = first.doc;
    if let (Some((key, descending)), Some(_)) = (page.sort, doc.get("combos")) {
        let order = sorted_order(&first.keys, descending);
        let shown: Vec<usize> = order
            .into_iter()
            .skip(page.offset)
            .take(page.limit)
            .collect();
        let mut wanted = shown.clone();
        wanted.sort_unstable();
        let mut second = Pass {
            page,
            backtest,
            keep: None,
            combos: Some(&wanted),
            doc: Map::new(),
            equity: Vec::new(),
            keys: Vec::new(),
        };
        stream(path, &mut second)?;
        let mut items: Vec<Option<Value>> = match second.doc.remove("combos") {
            Some(Value::Array(v)) => v.into_iter().map(Some).collect(),
            _ => Vec::new(),
        };
        let combos: Vec<Value> = shown
            .iter()
            .filter_map(|i| wanted.binary_search(i).ok())
            .filter_map(|k| items.get_mut(k).and_then(Option::take))
            .collect();
        doc.insert("combos".into(), Value::Array(combos));
        doc.insert("combos_total".into(), json!(first.keys.len()));
        doc.insert("sort".into(), json!(key));
        doc.insert(
            "order".into(),
            json!(if descending { "desc" } else { "asc" }),
        );
    }
    if backtest && doc.contains_key("equity") {
        let n = first.equity.len();
        let keep: Vec<usize> = if page.points == 0 {
            if n > MAX_POINTS {
                return Err(ApiError::invalid(
                    &["query", "points"],
                    format!(
                        "the result has {n} bars; points=0 (every bar) is answered up to \
                         {MAX_POINTS}: ask for fewer points, or fetch equity.csv or \
                         result.parquet for every bar"
                    ),
                    "value_error",
                ));
            }
            (0..n).collect()
        } else {
            backtide_data::downsample_minmax(&first.equity, page.points)
        };
        drop(first.equity);
        let mut second = Pass {
            page,
            backtest,
            keep: Some(&keep),
            combos: None,
            doc: Map::new(),
            equity: Vec::new(),
            keys: Vec::new(),
        };
        stream(path, &mut second)?;
        doc.extend(second.doc);
        doc.insert("equity_total".into(), json!(n));
    }
    doc.insert("kind".into(), json!(kind));
    doc.insert("offset".into(), json!(page.offset));
    doc.insert("limit".into(), json!(page.limit));
    Ok(Value::Object(doc))
}

fn stream(path: &Path, pass: &mut Pass<'_>) -> Result<(), ApiError> {
    let file = std::fs::File::open(path).map_err(ApiError::internal)?;
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(1 << 20, file));
    (&mut de)
        .deserialize_map(pass)
        .map_err(ApiError::internal)?;
    de.end().map_err(ApiError::internal)
}

/// One pass over the top-level object. The first (`keep` and `combos` both `None`)
/// collects everything but a backtest's `equity` entries and `positions` (whose equity
/// values it keeps) and, when sorting, a sweep's combinations (whose statistic it keeps);
/// a second keeps only those, at the kept bars (`keep`) or combinations (`combos`).
struct Pass<'k> {
    page: Page<'k>,
    backtest: bool,
    keep: Option<&'k [usize]>,
    combos: Option<&'k [usize]>,
    doc: Map<String, Value>,
    equity: Vec<f64>,
    keys: Vec<f64>,
}

impl<'de> Visitor<'de> for &mut Pass<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a result object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            let paged = match key.as_str() {
                "trades" | "orders" => self.backtest,
                "combos" => true,
                _ => false,
            };
            let per_bar = self.backtest && (key == "equity" || key == "positions");
            let sorted = key == "combos" && self.page.sort.is_some();
            if sorted || self.combos.is_some() {
                match (self.combos, sorted) {
                    (None, true) => {
                        let stat = self.page.sort.map_or("", |s| s.0);
                        map.next_value_seed(StatValues(stat, &mut self.keys))?;
                        self.doc.insert(key, Value::Null);
                    }
                    (None, false) => {
                        let v = map.next_value::<Value>()?;
                        self.doc.insert(key, v);
                    }
                    (Some(wanted), true) => {
                        let v = map.next_value_seed(Kept(wanted))?;
                        self.doc.insert(key, Value::Array(v));
                    }
                    (Some(_), false) => {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                continue;
            }
            match (self.keep, per_bar, paged) {
                // First pass.
                (None, true, _) if key == "equity" => {
                    map.next_value_seed(EquityValues(&mut self.equity))?;
                    self.doc.insert(key, Value::Null);
                }
                (None, true, _) => {
                    map.next_value::<IgnoredAny>()?;
                }
                (None, false, true) => {
                    let (items, total) = map.next_value_seed(PageOf(self.page))?;
                    self.doc.insert(format!("{key}_total"), json!(total));
                    self.doc.insert(key, Value::Array(items));
                }
                (None, false, false) => {
                    let v = map.next_value::<Value>()?;
                    self.doc.insert(key, v);
                }
                // Second pass.
                (Some(keep), true, _) if key == "equity" => {
                    let v = map.next_value_seed(Kept(keep))?;
                    self.doc.insert(key, Value::Array(v));
                }
                (Some(keep), true, _) => {
                    let v = map.next_value_seed(KeptPerSymbol(keep))?;
                    self.doc.insert(key, Value::Object(v));
                }
                (Some(_), false, _) => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// `[offset, offset + limit)` of a list, and its length.
struct PageOf<'s>(Page<'s>);

impl<'de> DeserializeSeed<'de> for PageOf<'_> {
    type Value = (Vec<Value>, usize);

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for PageOf<'_> {
    type Value = (Vec<Value>, usize);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let Page { offset, limit, .. } = self.0;
        let (mut items, mut i) = (Vec::new(), 0usize);
        loop {
            let wanted = i >= offset && i - offset < limit;
            let more = if wanted {
                seq.next_element::<Value>()?
                    .map(|v| items.push(v))
                    .is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok((items, i));
            }
            i += 1;
        }
    }
}

/// One statistic of each combination of a sweep's `combos` (NaN where it is not a number).
struct StatValues<'s, 'v>(&'s str, &'v mut Vec<f64>);

impl<'de> DeserializeSeed<'de> for StatValues<'_, '_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for StatValues<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of combinations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(v) = seq.next_element_seed(StatOf(self.0))? {
            self.1.push(v);
        }
        Ok(())
    }
}

/// `stats.<key>` of one combination, as a number.
struct StatOf<'s>(&'s str);

impl<'de> DeserializeSeed<'de> for StatOf<'_> {
    type Value = f64;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<f64, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for StatOf<'_> {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a combination")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<f64, A::Error> {
        let mut value = f64::NAN;
        while let Some(k) = map.next_key::<String>()? {
            if k == "stats" {
                let stats = map.next_value::<Map<String, Value>>()?;
                value = stats
                    .get(self.0)
                    .and_then(Value::as_f64)
                    .unwrap_or(f64::NAN);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(value)
    }
}

/// The `equity` field of each entry of a backtest's equity list (NaN where absent).
struct EquityValues<'v>(&'v mut Vec<f64>);

#[derive(serde::Deserialize)]
struct EquityEntry {
    equity: Option<f64>,
}

impl<'de> DeserializeSeed<'de> for EquityValues<'_> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for EquityValues<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of equity entries")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(e) = seq.next_element::<EquityEntry>()? {
            self.0.push(e.equity.unwrap_or(f64::NAN));
        }
        Ok(())
    }
}

/// The entries of a list at the (sorted) indices `keep`.
struct Kept<'k>(&'k [usize]);

impl<'de> DeserializeSeed<'de> for Kept<'_> {
    type Value = Vec<Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Vec<Value>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Kept<'_> {
    type Value = Vec<Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Value>, A::Error> {
        let mut out = Vec::with_capacity(self.0.len());
        let (mut i, mut next) = (0usize, self.0.iter().peekable());
        loop {
            let more = if next.peek() == Some(&&i) {
                next.next();
                seq.next_element::<Value>()?.map(|v| out.push(v)).is_some()
            } else {
                seq.next_element::<IgnoredAny>()?.is_some()
            };
            if !more {
                return Ok(out);
            }
            i += 1;
        }
    }
}

/// A portfolio's `positions` (symbol → units per bar) at the kept bars.
struct KeptPerSymbol<'k>(&'k [usize]);

impl<'de> DeserializeSeed<'de> for KeptPerSymbol<'_> {
    type Value = Map<String, Value>;

    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for KeptPerSymbol<'_> {
    type Value = Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("units per bar by symbol")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = Map::new();
        while let Some(symbol) = map.next_key::<String>()? {
            let units = map.next_value_seed(Kept(self.0))?;
            out.insert(symbol, Value::Array(units));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole-document reading the streaming one replaces (as the service did before).
    fn whole(v: &Value, kind: &str, page: Page) -> Value {
        let mut v = v.clone();
        let cut = |arr: &mut Value| {
            let items = arr.as_array_mut().map(std::mem::take).unwrap_or_default();
            let n = items.len();
            let kept: Vec<Value> = items
                .into_iter()
                .skip(page.offset)
                .take(page.limit)
                .collect();
            (Value::Array(kept), n)
        };
        if kind == "backtest" {
            for key in ["trades", "orders"] {
                if v.get(key).is_some() {
                    let (items, n) = cut(&mut v[key]);
                    v[key] = items;
                    v[format!("{key}_total")] = json!(n);
                }
            }
            let equity = v["equity"].as_array().cloned().unwrap_or_default();
            let values: Vec<f64> = equity
                .iter()
                .map(|e| e["equity"].as_f64().unwrap_or(f64::NAN))
                .collect();
            let keep = if page.points == 0 {
                (0..equity.len()).collect()
            } else {
                backtide_data::downsample_minmax(&values, page.points)
            };
            if let Some(p) = v.get_mut("positions").and_then(Value::as_object_mut) {
                for units in p.values_mut() {
                    let all = units.as_array().cloned().unwrap_or_default();
                    *units = Value::Array(keep.iter().map(|&i| all[i].clone()).collect());
                }
            }
            v["equity_total"] = json!(equity.len());
            v["equity"] = Value::Array(keep.iter().map(|&i| equity[i].clone()).collect());
        } else if v.get("combos").is_some() {
            let (items, n) = cut(&mut v["combos"]);
            v["combos"] = items;
            v["combos_total"] = json!(n);
        }
        v["kind"] = json!(kind);
        v["offset"] = json!(page.offset);
        v["limit"] = json!(page.limit);
        v
    }

    #[test]
    fn streaming_pages_equal_whole_document_pages() {
        let n = 5_000;
        let equity: Vec<Value> = (0..n)
            .map(|i| json!({"time": i, "equity": 100.0 + ((i * 37) % 101) as f64, "drawdown": 0.0}))
            .collect();
        let positions: Vec<Value> = (0..n).map(|i| json!(i % 7)).collect();
        let doc = json!({
            "stats": {"return_pct": 1.5}, "trades": (0..250).map(|i| json!({"n": i})).collect::<Vec<_>>(),
            "orders": (0..40).map(|i| json!({"o": i})).collect::<Vec<_>>(),
            "equity": equity, "positions": {"A": positions.clone(), "B": positions},
            "open_trades": [],
        });
        let sweep = json!({"combos": (0..77).map(|i| json!({"c": i})).collect::<Vec<_>>(), "best": {"c": 3}});
        let d = tempfile::tempdir().unwrap();
        for (kind, v) in [("backtest", &doc), ("sweep", &sweep)] {
            let path = d.path().join(format!("{kind}.json"));
            std::fs::write(&path, serde_json::to_vec(v).unwrap()).unwrap();
            for page in [
                Page {
                    offset: 0,
                    limit: 100,
                    points: 2000,
                    sort: None,
                },
                Page {
                    offset: 230,
                    limit: 100,
                    points: 10,
                    sort: None,
                },
                Page {
                    offset: 10_000,
                    limit: 5,
                    points: 0,
                    sort: None,
                },
                Page {
                    offset: 3,
                    limit: 0,
                    points: 1,
                    sort: None,
                },
            ] {
                let got = read_page(&path, kind, page).unwrap();
                assert_eq!(got, whole(v, kind, page), "{kind} {page:?}");
            }
        }
    }

    #[test]
    fn combinations_sort_by_a_statistic_with_undefined_last() {
        let values = [1.0, f64::NAN, 3.0, -2.0, 3.0, f64::NAN];
        let combos: Vec<Value> = values
            .iter()
            .enumerate()
            .map(|(i, v)| json!({"params": {"i": i}, "stats": {"sharpe_ratio": if v.is_nan() { Value::Null } else { json!(v) }, "x": 0}}))
            .collect();
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("sweep.json");
        std::fs::write(
            &path,
            serde_json::to_vec(&json!({"combos": combos, "best": null})).unwrap(),
        )
        .unwrap();
        let order = |descending: bool, offset: usize, limit: usize| -> Vec<u64> {
            let page = Page {
                offset,
                limit,
                points: 0,
                sort: Some(("sharpe_ratio", descending)),
            };
            let v = read_page(&path, "sweep", page).unwrap();
            assert_eq!(v["combos_total"], 6);
            v["combos"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["params"]["i"].as_u64().unwrap())
                .collect()
        };
        // Equal values keep their combination order; NaN last both ways.
        assert_eq!(order(true, 0, 10), vec![2, 4, 0, 3, 1, 5]);
        assert_eq!(order(false, 0, 10), vec![3, 0, 2, 4, 1, 5]);
        assert_eq!(order(true, 1, 2), vec![4, 0]);
        assert_eq!(order(true, 9, 2), Vec::<u64>::new());
    }

    #[test]
    fn every_bar_is_bounded_and_damage_is_an_error() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("r.json");
        let equity: Vec<Value> = (0..MAX_POINTS + 1).map(|i| json!({"equity": i})).collect();
        std::fs::write(
            &path,
            serde_json::to_vec(&json!({"equity": equity})).unwrap(),
        )
        .unwrap();
        let page = Page {
            offset: 0,
            limit: 10,
            points: 0,
            sort: None,
        };
        assert!(matches!(
            read_page(&path, "backtest", page),
            Err(ApiError::Invalid(_))
        ));
        let page = Page {
            points: 100,
            ..page
        };
        assert_eq!(
            read_page(&path, "backtest", page).unwrap()["equity_total"],
            MAX_POINTS + 1
        );
        std::fs::write(&path, b"{\"equity\": [1, 2").unwrap();
        assert!(matches!(
            read_page(&path, "backtest", page),
            Err(ApiError::Internal(_))
        ));
    }
}
