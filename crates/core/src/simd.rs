//! Runtime CPU dispatch for the few measured hot loops.
//!
//! The portable build targets baseline x86-64 (two doubles a vector register). A kernel
//! declared with [`wide_kernel!`] is compiled a second time with AVX2 (four doubles) and
//! that copy runs when the CPU has it. AVX2 does not include FMA, and Rust never fuses a
//! multiply and an add on its own, so both copies round every operation the same way:
//! results are the same bits on every machine. The `unsafe` call this expands to is the
//! crate's only one.

/// `wide_kernel!(vis fn name(args) -> R = body_fn);` defines `name`, which runs `body_fn`
/// (a function marked `#[inline(always)]`, so its loops are compiled into each copy) in
/// its AVX2 build when the CPU has AVX2 and in the portable build otherwise.
macro_rules! wide_kernel {
    ($vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $(-> $ret:ty)? = $body:path;) => {
        $vis fn $name($($arg: $ty),*) $(-> $ret)? {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2")]
                fn avx2($($arg: $ty),*) $(-> $ret)? {
                    $body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2") {
                    // SAFETY: the CPU has AVX2 (checked just above), all `avx2` requires.
                    #[allow(unsafe_code, reason = "measured hot loops: runtime CPU dispatch")]
                    return unsafe { avx2($($arg),*) };
                }
            }
            $body($($arg),*)
        }
    };
}
pub(crate) use wide_kernel;
