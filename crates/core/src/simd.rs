//! Runtime CPU dispatch for the few measured hot loops.
//!
//! The portable build targets baseline x86-64 (two doubles a vector register). A kernel
//! declared with [`wide_kernel!`] is compiled twice more, for AVX2 (four doubles) and
//! AVX-512 (eight), and the widest copy this CPU runs is used. Rust never fuses a multiply
//! and an add on its own (whatever the target features), so every copy rounds every
//! operation the same way: results are the same bits on every machine, which the kernels'
//! tests check tier by tier ([`capped`]). Three kernels are written out with AVX-512
//! intrinsics where the compiler's own vectorisation fell short (the cross scan's sign
//! masks, the covariance sums and moving averages of eight windows side by side); their
//! unaligned loads are `unsafe`. Besides those, the
//! calls this expands to and the cache hint of [`prefetch`], the crate's `unsafe` code
//! reads a host's lent columns (`bars/buffer.rs`) and maps the indicator cache's slabs
//! (`strategy/series.rs`).

/// Asks the CPU to bring the cache line holding `x` into cache, without waiting for it: a
/// hint that reads no value and cannot fault (nothing where the target has no such
/// instruction). A load would do the same but hold up the instructions behind it until
/// the line arrives.
#[inline(always)]
pub(crate) fn prefetch<T>(x: &T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: PREFETCHT0 is part of SSE, which every x86-64 CPU has; it neither reads
    // memory into a register nor faults, whatever the address.
    #[allow(unsafe_code, reason = "a cache hint: reads nothing, cannot fault")]
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(x).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = x;
}

/// Instruction-set tiers, narrowest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Tier {
    Portable,
    Avx2,
    Avx512,
}

/// The widest tier this CPU runs (within a test's [`capped`] limit).
#[inline]
pub(crate) fn tier() -> Tier {
    #[cfg(target_arch = "x86_64")]
    let best = if std::arch::is_x86_feature_detected!("avx512f") {
        Tier::Avx512
    } else if std::arch::is_x86_feature_detected!("avx2") {
        Tier::Avx2
    } else {
        Tier::Portable
    };
    #[cfg(not(target_arch = "x86_64"))]
    let best = Tier::Portable;
    #[cfg(test)]
    let best = best.min(CAP.with(std::cell::Cell::get));
    best
}

#[cfg(test)]
thread_local! {
    static CAP: std::cell::Cell<Tier> = const { std::cell::Cell::new(Tier::Avx512) };
}

/// Runs `f` with kernels limited to `cap` on this thread, so a test can compare tiers.
#[cfg(test)]
pub(crate) fn capped<R>(cap: Tier, f: impl FnOnce() -> R) -> R {
    let old = CAP.with(|c| c.replace(cap));
    let r = f();
    CAP.with(|c| c.set(old));
    r
}

/// Every tier, for tests that compare them.
#[cfg(test)]
pub(crate) const TIERS: [Tier; 3] = [Tier::Portable, Tier::Avx2, Tier::Avx512];

/// `wide_kernel!(vis fn name(args) -> R = body_fn);` defines `name`, which runs `body_fn`
/// (a function marked `#[inline(always)]`, so its loops are compiled into each copy) in
/// the build for the widest [`Tier`] this CPU has.
macro_rules! wide_kernel {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                fn avx512($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                match $crate::simd::tier() {
                    // SAFETY: `tier()` reports AVX-512F only where the CPU has it.
                    #[allow(unsafe_code, reason = "measured hot loops: runtime CPU dispatch")]
                    $crate::simd::Tier::Avx512 => return unsafe { avx512($($arg),*) },
                    // SAFETY: `tier()` reports AVX2 only where the CPU has it.
                    #[allow(unsafe_code, reason = "measured hot loops: runtime CPU dispatch")]
                    $crate::simd::Tier::Avx2 => return unsafe { avx2($($arg),*) },
                    $crate::simd::Tier::Portable => {}
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use wide_kernel;
