//! Fixed-seed synthetic bars shared by the benchmarks.

use backtide_core::Bars;

const MINUTE: i64 = 60_000_000_000;

/// xorshift64* random walk; the same `seed` always gives the same bars.
pub(crate) fn synthetic(n: usize, seed: u64) -> Bars {
    let mut x = seed | 1;
    let mut rnd = move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        (x.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut t, mut o, mut h, mut l, mut c, mut v) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    let mut price = 100.0;
    for i in 0..n {
        let open = price;
        price = (price * (1.0 + (rnd() - 0.5) * 0.004)).max(1.0);
        t.push(1_600_000_000_000_000_000 + i as i64 * MINUTE);
        o.push(open);
        h.push(open.max(price) * (1.0 + rnd() * 0.001));
        l.push(open.min(price) * (1.0 - rnd() * 0.001));
        c.push(price);
        v.push((rnd() * 1000.0).floor());
    }
    Bars::try_new(t, o, h, l, c, v).expect("synthetic bars are valid")
}
