//! Multi-asset golden cases (`testdata/golden/portfolio/vbtpf_*.json`: vectorbt 1.2.0 with
//! `group_by=True, cash_sharing=True` on the five bundled stocks) reproduced through the
//! library: the same filled orders (bar, symbol, side; size, price and fees within 1e-9
//! relative), the same rejections, the portfolio value and cash at every bar, every trade
//! and every statistic within 1e-9 relative.

use backtide_core::Universe;
use backtide_core::portfolio::{
    self, CallSeq, FillAt, PortfolioConfig, PortfolioResult, Side, TradeStatus, builtin,
};
use backtide_core::{Params, Profile};
use serde_json::Value;

use crate::golden::{close, testdata};
use crate::vectorbt::compare_stats;

pub(crate) fn golden_pf(name: &str) -> Value {
    let text = std::fs::read_to_string(testdata(&format!("golden/portfolio/{name}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The five stocks, as the golden cases read them.
pub(crate) fn stocks() -> Universe {
    // TEMP: until sample:STOCKS lands.
    Universe::try_new(["AAPL", "FB", "GOOG", "IBM", "MSFT"].map(|s| {
        let p = format!("/work/shared/data/stocks/{s}.csv");
        (
            s.to_string(),
            p.clone(),
            backtide_data::read_csv(std::path::Path::new(&p)).unwrap(),
        )
    }))
    .unwrap()
}

/// The configuration and strategy of a golden case, from its recorded kwargs.
pub(crate) fn setup(
    g: &Value,
) -> (
    PortfolioConfig,
    &'static builtin::PortfolioStrategyInfo,
    Params,
) {
    let c = &g["case"];
    let kw = &c["kwargs"];
    let cfg = PortfolioConfig {
        cash: kw["init_cash"].as_f64().unwrap(),
        fees: kw["fees"].as_f64().unwrap(),
        fixed_fees: kw["fixed_fees"].as_f64().unwrap_or(0.0),
        slippage: kw["slippage"].as_f64().unwrap_or(0.0),
        size_granularity: None,
        call_seq: if kw["call_seq"] == "auto" {
            CallSeq::Auto
        } else {
            CallSeq::Default
        },
        fill: if c["fill"] == "next_open" {
            FillAt::NextOpen
        } else {
            FillAt::Close
        },
    };
    let info = builtin::find(c["strategy"].as_str().unwrap()).unwrap();
    let mut pairs: Vec<(String, String)> = c["params"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map_or(v.to_string(), str::to_string)))
        .collect();
    if let Some(size) = kw["size"].as_f64() {
        pairs.push(("size".into(), size.to_string()));
        pairs.push(("size_type".into(), kw["size_type"].as_str().unwrap().into()));
    }
    let pairs: Vec<(&str, &str)> = pairs
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // vectorbt's crossing rule, as `--profile vectorbt` picks it.
    let pairs = if info.params.iter().any(|p| p.name == "cross") {
        let mut p = pairs;
        p.push(("cross", "stateful"));
        p
    } else {
        pairs
    };
    let params = Params::from_pairs(&info.params, pairs).unwrap();
    let _ = Profile::Vectorbt;
    (cfg, info, params)
}

pub(crate) fn run_golden(g: &Value) -> (Universe, PortfolioResult) {
    let u = stocks();
    let (cfg, info, params) = setup(g);
    let mut s = info.build(&params).unwrap();
    let res = portfolio::run(&u, s.as_mut(), &cfg).unwrap();
    (u, res)
}

fn compare(g: &Value, u: &Universe, res: &PortfolioResult) -> Vec<String> {
    let mut bad = Vec::new();
    let symbols: Vec<&str> = u.symbols().collect();
    let want = g["orders"].as_array().unwrap();
    if want.len() != res.fills.len() {
        bad.push(format!(
            "orders: golden {} ours {}",
            want.len(),
            res.fills.len()
        ));
    }
    for (i, (w, o)) in want.iter().zip(&res.fills).enumerate() {
        let side = match o.side {
            Side::Buy => "Buy",
            Side::Sell => "Sell",
        };
        if w["bar"].as_u64() != Some(o.bar as u64)
            || w["symbol"] != symbols[o.asset]
            || w["side"] != side
            || w["partial"].as_bool() != Some(o.partial)
        {
            bad.push(format!("order {i}: golden {w} ours {o:?}"));
            break;
        }
        for (k, ours) in [
            ("size", o.size),
            ("price", o.price),
            ("fees", o.fees),
            ("cash_before", o.cash_before),
            ("group_value", o.group_value),
        ] {
            let x = w[k].as_f64().unwrap();
            if !close(x, ours, 1e-9) {
                bad.push(format!("order {i} {k}: golden {x} ours {ours}"));
            }
        }
        if let Some(x) = w["requested_delta"].as_f64()
            && !close(x, o.requested, 1e-9)
        {
            bad.push(format!(
                "order {i} requested: golden {x} ours {}",
                o.requested
            ));
        }
        if bad.len() > 10 {
            return bad;
        }
    }
    // Rejections other than "no order" (NaN size), by status.
    let mut ours_rej = std::collections::BTreeMap::<&str, u64>::new();
    for r in &res.rejected {
        *ours_rej.entry(r.reason.label()).or_default() += 1;
    }
    for (k, v) in g["rejected"]["counts"].as_object().unwrap() {
        if k != "Ignored/SizeNaN" && ours_rej.get(k.as_str()).copied() != v.as_u64() {
            bad.push(format!(
                "rejected {k}: golden {v} ours {:?}",
                ours_rej.get(k.as_str())
            ));
        }
    }
    for (k, v) in &ours_rej {
        if g["rejected"]["counts"][*k].is_null() {
            bad.push(format!("rejected {k}: golden none, ours {v}"));
        }
    }
    for (key, ours) in [("value", &res.value), ("cash", &res.cash)] {
        let w = g[key].as_array().unwrap();
        assert_eq!(w.len(), ours.len());
        let mut shown = 0;
        for (i, (w, o)) in w.iter().zip(ours).enumerate() {
            let w = w.as_f64().unwrap();
            // Cash is exactly 0 after a partial fill; elsewhere compare relatively.
            if !close(w, *o, 1e-9) && !(w.abs() < 1e-6 && o.abs() < 1e-6) && shown < 5 {
                bad.push(format!("{key} bar {i}: golden {w} ours {o}"));
                shown += 1;
            }
        }
    }
    let pos = portfolio::positions_per_bar(u, res);
    for (a, sym) in symbols.iter().enumerate() {
        let w = g["positions"][*sym].as_array().unwrap();
        if let Some((i, (w, o))) = w
            .iter()
            .zip(&pos[a])
            .enumerate()
            .find(|(_, (w, o))| !close(w.as_f64().unwrap(), **o, 1e-9))
        {
            bad.push(format!("{sym} position bar {i}: golden {w} ours {o}"));
        }
    }
    let trades = portfolio::exit_trades(u, res);
    let wt = g["trades"].as_array().unwrap();
    if wt.len() != trades.len() {
        bad.push(format!("trades: golden {} ours {}", wt.len(), trades.len()));
    }
    for (i, (w, t)) in wt.iter().zip(&trades).enumerate() {
        let status = match t.status {
            TradeStatus::Closed => "Closed",
            TradeStatus::Open => "Open",
        };
        if w["Symbol"] != symbols[t.asset]
            || w["EntryBar"].as_u64() != Some(t.entry_bar as u64)
            || w["Status"] != status
            || w["PositionId"].as_u64() != Some(t.position_id as u64)
            || (t.status == TradeStatus::Closed && w["ExitBar"].as_u64() != Some(t.exit_bar as u64))
        {
            bad.push(format!("trade {i}: golden {w} ours {t:?}"));
            continue;
        }
        for (k, ours) in [
            ("Size", t.size),
            ("EntryPrice", t.entry_price),
            ("ExitPrice", t.exit_price),
            ("EntryFees", t.entry_fees),
            ("ExitFees", t.exit_fees),
            ("PnL", t.pnl()),
            ("ReturnPct", t.return_frac()),
        ] {
            let x = w[k].as_f64().unwrap();
            if !close(x, ours, 1e-9) {
                bad.push(format!("trade {i} {k}: golden {x} ours {ours}"));
            }
        }
        if bad.len() > 20 {
            return bad;
        }
    }
    let stats = portfolio::stats::vectorbt(u, res, &trades);
    bad.extend(compare_stats(g, &backtide_data::vbt_stats_json(&stats)));
    bad
}

macro_rules! portfolio_case {
    ($($test:ident => $file:literal),* $(,)?) => {$(
        #[test]
        fn $test() {
            let g = golden_pf($file);
            let (u, res) = run_golden(&g);
            let bad = compare(&g, &u, &res);
            assert!(bad.is_empty(), "{} mismatches:\n{}", bad.len(), bad.join("\n"));
        }
    )*};
}

portfolio_case! {
    equal_weight_monthly => "vbtpf_equal_weight_monthly",
    equal_weight_monthly_default_seq => "vbtpf_equal_weight_monthly_default_seq",
    equal_weight_quarterly_next_open => "vbtpf_equal_weight_quarterly_next_open",
    momentum_top2_monthly => "vbtpf_momentum_top2_monthly",
    sma_cross_value_sized => "vbtpf_sma_cross_value_sized",
    sma_cross_all_cash_default_seq => "vbtpf_sma_cross_all_cash_default_seq",
}
