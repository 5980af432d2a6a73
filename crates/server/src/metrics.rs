//! Prometheus metrics in the text exposition format, kept in atomics.
//!
//! Few series with fixed labels, so a hand-written histogram is smaller than a metrics
//! framework and costs one atomic add per observation.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::JobState;

/// Upper bounds (seconds) of the latency buckets.
const HTTP_BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];
/// Upper bounds (seconds) of the job duration buckets.
const JOB_BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 1800.0];

/// A cumulative histogram.
pub(crate) struct Histogram {
    bounds: &'static [f64],
    counts: Vec<AtomicU64>,
    sum_us: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: bounds.iter().map(|_| AtomicU64::new(0)).collect(),
            sum_us: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation in seconds.
    pub(crate) fn observe(&self, seconds: f64) {
        if let Some(i) = self.bounds.iter().position(|b| seconds <= *b) {
            self.counts[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_us
            .fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0;
        for (b, c) in self.bounds.iter().zip(&self.counts) {
            cumulative += c.load(Ordering::Relaxed);
            let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{{labels}{sep}le=\"+Inf\"}} {count}");
        let sum = self.sum_us.load(Ordering::Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "{name}_sum{{{labels}}} {sum}");
        let _ = writeln!(out, "{name}_count{{{labels}}} {count}");
    }
}

/// Every metric the server exports.
pub struct Metrics {
    http: Mutex<Vec<(String, Histogram)>>,
    backtest_runs: Histogram,
    sweep_runs: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            http: Mutex::new(Vec::new()),
            backtest_runs: Histogram::new(&JOB_BUCKETS),
            sweep_runs: Histogram::new(&JOB_BUCKETS),
        }
    }
}

impl Metrics {
    /// Records an HTTP request by method, route template and status.
    pub fn http(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let labels = format!("method=\"{method}\",route=\"{route}\",status=\"{status}\"");
        let mut h = self.http.lock().unwrap_or_else(|p| p.into_inner());
        match h.iter().position(|(l, _)| *l == labels) {
            Some(i) => h[i].1.observe(seconds),
            None => {
                let hist = Histogram::new(&HTTP_BUCKETS);
                hist.observe(seconds);
                h.push((labels, hist));
            }
        }
    }

    /// Records a finished job's run time.
    pub fn job(&self, kind: &str, seconds: f64) {
        match kind {
            "sweep" => self.sweep_runs.observe(seconds),
            _ => self.backtest_runs.observe(seconds),
        }
    }

    /// The exposition text; `counts` are jobs by state from the store.
    pub fn render(&self, counts: &[(JobState, u64)]) -> String {
        let mut out = String::new();
        out.push_str(
            "# HELP backtide_jobs Jobs in the store by state.\n# TYPE backtide_jobs gauge\n",
        );
        for (s, n) in counts {
            let _ = writeln!(out, "backtide_jobs{{state=\"{}\"}} {n}", s.as_str());
        }
        let queued = counts
            .iter()
            .find(|(s, _)| *s == JobState::Queued)
            .map_or(0, |(_, n)| *n);
        out.push_str("# HELP backtide_queue_depth Jobs waiting for a worker.\n# TYPE backtide_queue_depth gauge\n");
        let _ = writeln!(out, "backtide_queue_depth {queued}");
        out.push_str("# HELP backtide_job_run_seconds Run time of finished jobs.\n# TYPE backtide_job_run_seconds histogram\n");
        self.backtest_runs
            .render(&mut out, "backtide_job_run_seconds", "kind=\"backtest\"");
        self.sweep_runs
            .render(&mut out, "backtide_job_run_seconds", "kind=\"sweep\"");
        out.push_str("# HELP backtide_http_request_seconds HTTP request latency.\n# TYPE backtide_http_request_seconds histogram\n");
        let h = self.http.lock().unwrap_or_else(|p| p.into_inner());
        for (labels, hist) in h.iter() {
            hist.render(&mut out, "backtide_http_request_seconds", labels);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        let m = Metrics::default();
        m.http("GET", "/v1/jobs/{id}", 200, 0.0007);
        m.http("GET", "/v1/jobs/{id}", 200, 0.02);
        m.job("sweep", 2.0);
        let text = m.render(&[(JobState::Queued, 3)]);
        assert!(text.contains("backtide_queue_depth 3"));
        let l = "method=\"GET\",route=\"/v1/jobs/{id}\",status=\"200\"";
        assert!(text.contains(&format!(
            "backtide_http_request_seconds_bucket{{{l},le=\"0.0005\"}} 0"
        )));
        assert!(text.contains(&format!(
            "backtide_http_request_seconds_bucket{{{l},le=\"0.001\"}} 1"
        )));
        assert!(text.contains(&format!(
            "backtide_http_request_seconds_bucket{{{l},le=\"0.025\"}} 2"
        )));
        assert!(text.contains(&format!("backtide_http_request_seconds_count{{{l}}} 2")));
        assert!(text.contains("backtide_job_run_seconds_bucket{kind=\"sweep\",le=\"5\"} 1"));
    }
}
