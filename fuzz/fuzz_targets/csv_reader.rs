//! Feeds arbitrary bytes to the CSV reader: it must return bars or an error, never panic,
//! and any bars it returns must satisfy the bar invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(bars) = backtide_data::parse_csv(data, "fuzz.csv") {
        for i in 0..bars.len() {
            assert!(bars.high()[i] >= bars.open()[i].max(bars.close()[i]));
            assert!(bars.low()[i] <= bars.open()[i].min(bars.close()[i]));
            assert!(i == 0 || bars.time()[i] > bars.time()[i - 1]);
        }
    }
});
