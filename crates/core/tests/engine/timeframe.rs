//! Resampling in a session, over random irregular timestamps and any session start: each
//! bucket is where the session says (checked here with calendar arithmetic of the test's
//! own, not the library's), holds bars of one session (days and shorter) or whole sessions
//! (weeks, months), the buckets are in time order, and each one's OHLCV is its bars'.

use backtide_core::Bars;
use backtide_core::timeframe::{Session, Timeframe};
use proptest::prelude::*;

use crate::properties::walk;

const MIN: i64 = 60_000_000_000;
const DAY: i64 = 1_440 * MIN;

const TIMEFRAMES: [&str; 11] = [
    "1min", "5min", "15min", "30min", "1h", "2h", "4h", "12h", "1d", "1w", "1mo",
];

/// Gaps between bars, in minutes: a minute to more than a month.
const STEPS: [i64; 10] = [1, 7, 30, 60, 180, 1_439, 1_440, 2_880, 12_960, 47_520];

/// (year, month, day) of a day number (days since 1970-01-01), by counting through the
/// months of the years from 1970 (slow, plain, and not the library's algorithm).
fn civil(mut day: i64) -> (i64, i64, i64) {
    let leap = |y: i64| (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let mut y = 1970;
    loop {
        let len = if leap(y) { 366 } else { 365 };
        if day < len {
            break;
        }
        day -= len;
        y += 1;
    }
    let lens = [
        31,
        if leap(y) { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    let mut m = 0;
    while day >= lens[m] {
        day -= lens[m];
        m += 1;
    }
    (y, m as i64 + 1, day + 1)
}

/// Random bars at irregular times from 2023-11-14 on, prices from a random walk.
fn irregular(steps: &[usize], first: i64, seed: u64) -> Bars {
    let w = walk(steps.len(), seed);
    let mut t = 1_700_000_000_000_000_000 / MIN * MIN + first * MIN;
    let time = steps
        .iter()
        .map(|&s| {
            t += STEPS[s] * MIN;
            t
        })
        .collect();
    Bars::try_new(
        time,
        w.open().to_vec(),
        w.high().to_vec(),
        w.low().to_vec(),
        w.close().to_vec(),
        w.volume().to_vec(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn session_buckets_hold_one_session_in_order_with_their_bars_ohlcv(
        steps in prop::collection::vec(0usize..STEPS.len(), 1..400),
        first in 0i64..DAY / MIN, start in 0i64..DAY / MIN, tf in 0..TIMEFRAMES.len(),
        seed in 0u64..1000,
    ) {
        let bars = irregular(&steps, first, seed);
        let session = Session::starting_at(start * MIN).unwrap();
        let timeframe: Timeframe = TIMEFRAMES[tf].parse().unwrap();
        let r = timeframe.resample_in(session, &bars).unwrap();
        let stamps = r.time();
        prop_assert!(stamps.windows(2).all(|w| w[0] < w[1]), "buckets out of order");

        // Each bar in the last bucket that starts at or before it.
        let time = bars.time();
        let of = |t: i64| stamps.partition_point(|&s| s <= t) - 1;
        // The start of session `d`: its day's midnight plus the start, a day earlier from
        // noon on (the 22:00 session is the next day's).
        let opens = |d: i64| d * DAY + start * MIN - if start * MIN >= DAY / 2 { DAY } else { 0 };
        for (i, &t) in time.iter().enumerate() {
            prop_assert!(t >= stamps[0], "bar {} before the first bucket", i);
            let k = of(t);
            let s = stamps[k];
            prop_assert_eq!(timeframe.bucket_start_in(session, t), s);
            let (day, bucket_day) = (session.day(t), session.day(s));
            prop_assert!(opens(day) <= t && t < opens(day + 1), "session day of bar {}", i);
            match timeframe {
                Timeframe::Intraday(span) => {
                    prop_assert_eq!(bucket_day, day, "a span of bar {}'s own session", i);
                    prop_assert!(s <= t && t < s + span);
                    prop_assert_eq!((s - opens(day)) % span, 0, "tiled from the session start");
                }
                Timeframe::Days(_) => prop_assert_eq!(s, opens(day)),
                Timeframe::Week => {
                    prop_assert_eq!(s, opens(bucket_day));
                    prop_assert_eq!((bucket_day + 3).rem_euclid(7), 0, "a Monday's session");
                    prop_assert!((0..7).contains(&(day - bucket_day)));
                }
                Timeframe::Month => {
                    prop_assert_eq!(s, opens(bucket_day));
                    let ((y, m, d), (by, bm, _)) = (civil(bucket_day), civil(day));
                    prop_assert_eq!((y, m, d), (by, bm, 1), "the session of the 1st");
                }
            }
            // Days and longer: bars of one session are in one bucket.
            let whole = !matches!(timeframe, Timeframe::Intraday(_));
            if whole && i > 0 && session.day(time[i - 1]) == day {
                prop_assert_eq!(of(time[i - 1]), k, "a session split at bar {}", i);
            }
        }

        // OHLCV of each bucket from its bars.
        for (k, &s) in stamps.iter().enumerate() {
            let (a, b) = (
                time.partition_point(|&t| t < s),
                time.partition_point(|&t| stamps.get(k + 1).is_none_or(|&next| t < next)),
            );
            prop_assert!(a < b, "bucket {} without bars", k);
            let max = bars.high()[a..b].iter().copied().fold(f64::MIN, f64::max);
            let min = bars.low()[a..b].iter().copied().fold(f64::MAX, f64::min);
            let volume: f64 = bars.volume()[a..b].iter().sum();
            prop_assert_eq!(r.open()[k], bars.open()[a]);
            prop_assert_eq!(r.high()[k], max);
            prop_assert_eq!(r.low()[k], min);
            prop_assert_eq!(r.close()[k], bars.close()[b - 1]);
            prop_assert_eq!(r.volume()[k], volume);
        }
    }
}

/// Midnight is the calendar: resampling in the default session is plain resampling.
#[test]
fn the_default_session_is_the_calendar() {
    let steps: Vec<usize> = (0..300).map(|i| (i * 7 + i / 3) % STEPS.len()).collect();
    let bars = irregular(&steps, 17, 5);
    for text in TIMEFRAMES {
        let tf: Timeframe = text.parse().unwrap();
        assert_eq!(
            tf.resample_in(Session::default(), &bars).unwrap(),
            tf.resample(&bars).unwrap(),
            "{text}"
        );
        for &t in bars.time() {
            let day = t.div_euclid(DAY) * DAY;
            let want = match tf {
                Timeframe::Intraday(span) => t.div_euclid(span) * span,
                Timeframe::Days(_) => day,
                _ => continue,
            };
            assert_eq!(tf.bucket_start(t), want, "{text}");
        }
    }
}
