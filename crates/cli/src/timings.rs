//! `--timings`: how long each phase of a run took, on stderr (where the time of a whole
//! `backtide run` goes: reading, the engine, statistics and output).

use std::time::{Duration, Instant};

/// Phase durations, printed on drop-free `finish` when enabled.
pub(crate) struct Timings {
    on: bool,
    last: Option<Instant>,
    start: Option<Instant>,
    phases: Vec<(&'static str, Duration)>,
}

impl Timings {
    /// Starts the clock if `on` (otherwise every call is free and prints nothing).
    pub(crate) fn start(on: bool) -> Timings {
        // The CLI edge reads the wall clock only when asked to report it.
        #[allow(clippy::disallowed_methods)]
        let now = on.then(Instant::now);
        Timings {
            on,
            last: now,
            start: now,
            phases: Vec::new(),
        }
    }

    /// Ends the phase called `name`.
    pub(crate) fn lap(&mut self, name: &'static str) {
        if let Some(last) = self.last {
            #[allow(clippy::disallowed_methods)]
            let now = Instant::now();
            self.phases.push((name, now - last));
            self.last = Some(now);
        }
    }

    /// Prints `timings: phase 0.123 s, …, total 0.456 s` on stderr.
    pub(crate) fn finish(self) {
        let (true, Some(start), Some(last)) = (self.on, self.start, self.last) else {
            return;
        };
        let parts: Vec<String> = self
            .phases
            .iter()
            .map(|(n, d)| format!("{n} {:.3} s", d.as_secs_f64()))
            .collect();
        eprintln!(
            "timings: {}, total {:.3} s",
            parts.join(", "),
            (last - start).as_secs_f64()
        );
    }
}
