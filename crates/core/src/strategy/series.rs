//! Series shared through the [`super::IndicatorCache`]: a vector, or a stretch of one of
//! the cache's slabs.
//!
//! A sweep's cache fills dozens of whole-length lines (a 20 × 50 SMA grid on 100k bars:
//! 70 lines, 56 MB). Each its own vector, every 4 kB page of them was a fault into the
//! kernel on first write: about 14,000 of them, a tenth of a single-threaded sweep's time.
//! A slab is one mapping, aligned to and advised for 2 MB pages where the OS has them
//! (Linux's transparent huge pages): the lines are written into it back to back, with a
//! fault every 2 MB, and read with a fraction of the TLB misses.

use std::fmt;
use std::ops::Deref;
use std::ptr::NonNull;
use std::sync::Arc;

/// An indicator series shared between runs: cheap to clone, read as a slice.
#[derive(Clone)]
pub struct Series(Repr);

#[derive(Clone)]
enum Repr {
    Vec(Arc<Vec<f64>>),
    /// Values `start..start + len` of a slab, written once before the series was made.
    Slab {
        slab: Arc<Slab>,
        start: usize,
        len: usize,
    },
}

impl Series {
    /// The same stored series (not merely equal values).
    pub fn same(&self, other: &Series) -> bool {
        match (&self.0, &other.0) {
            (Repr::Vec(a), Repr::Vec(b)) => Arc::ptr_eq(a, b),
            (
                Repr::Slab { slab, start, len },
                Repr::Slab {
                    slab: s2,
                    start: t2,
                    len: l2,
                },
            ) => Arc::ptr_eq(slab, s2) && start == t2 && len == l2,
            _ => false,
        }
    }

    /// Values `start..start + len` of `slab`, which the caller has written.
    pub(crate) fn in_slab(slab: Arc<Slab>, start: usize, len: usize) -> Series {
        assert!(start + len <= slab.cap, "a series within its slab");
        Series(Repr::Slab { slab, start, len })
    }
}

impl From<Vec<f64>> for Series {
    fn from(v: Vec<f64>) -> Series {
        Series(Repr::Vec(Arc::new(v)))
    }
}

impl Deref for Series {
    type Target = [f64];

    fn deref(&self) -> &[f64] {
        match &self.0 {
            Repr::Vec(v) => v,
            Repr::Slab { slab, start, len } => slab.part(*start, *len),
        }
    }
}

impl fmt::Debug for Series {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Series").field("len", &self.len()).finish()
    }
}

/// Bytes of a huge page, to which slabs are aligned and rounded.
const HUGE_PAGE: usize = 2 << 20;

/// Zeroed memory for series, handed out in disjoint stretches (the cache keeps the count of
/// what it has handed out, under its lock) and written once each before being shared.
pub(crate) struct Slab {
    ptr: NonNull<f64>,
    /// Values it holds.
    cap: usize,
    /// Bytes mapped (Linux) at `ptr`.
    #[cfg(target_os = "linux")]
    mapped: usize,
}

// SAFETY: a slab is plain memory. Its stretches are written only through `part_mut`, whose
// callers hold the only handle to their stretch, and read only once written (see there).
#[allow(unsafe_code, reason = "shared slab memory; access rules on `part_mut`")]
unsafe impl Send for Slab {}
// SAFETY: as for `Send`.
#[allow(unsafe_code, reason = "shared slab memory; access rules on `part_mut`")]
unsafe impl Sync for Slab {}

impl Slab {
    /// A zeroed slab of at least `cap` values (rounded up to whole huge pages), or `None`
    /// where the OS refuses the memory (the caller keeps the series in a vector).
    #[cfg(target_os = "linux")]
    pub(crate) fn new(cap: usize) -> Option<Slab> {
        let bytes = cap.checked_mul(8)?.checked_next_multiple_of(HUGE_PAGE)?;
        let over = bytes.checked_add(HUGE_PAGE)?;
        // SAFETY: a fresh private anonymous mapping (no file, no fixed address): it aliases
        // nothing, and the kernel fills it with zeros, which are valid doubles.
        #[allow(unsafe_code, reason = "an anonymous mapping for the cache's series")]
        unsafe {
            let base = libc::mmap(
                std::ptr::null_mut(),
                over,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            );
            if base == libc::MAP_FAILED {
                return None;
            }
            // Keep the huge-page-aligned `bytes` inside it; give back the ends.
            let start = (base as usize).next_multiple_of(HUGE_PAGE);
            let head = start - base as usize;
            if head > 0 {
                libc::munmap(base, head);
            }
            let tail = over - head - bytes;
            if tail > 0 {
                libc::munmap((start + bytes) as *mut libc::c_void, tail);
            }
            // Only a hint: without huge pages the slab works as ordinary pages.
            libc::madvise(start as *mut libc::c_void, bytes, libc::MADV_HUGEPAGE);
            Some(Slab {
                ptr: NonNull::new(start as *mut f64)?,
                cap: bytes / 8,
                mapped: bytes,
            })
        }
    }

    /// A zeroed slab of `cap` values (no huge pages to ask for on this OS).
    #[cfg(not(target_os = "linux"))]
    pub(crate) fn new(cap: usize) -> Option<Slab> {
        let values: Box<[f64]> = vec![0.0; cap].into_boxed_slice();
        let ptr = NonNull::new(Box::into_raw(values).cast::<f64>())?;
        Some(Slab { ptr, cap })
    }

    /// Values it holds.
    pub(crate) fn cap(&self) -> usize {
        self.cap
    }

    /// Values `start..start + len`, to write.
    ///
    /// # Safety
    ///
    /// The caller has the only access to this stretch until it stops using the slice: no
    /// other caller is handed an overlapping stretch, and no [`Series`] of it exists yet.
    #[allow(
        unsafe_code,
        reason = "a stretch of the slab, exclusive by the caller's promise"
    )]
    #[allow(
        clippy::mut_from_ref,
        reason = "the memory is behind a raw pointer, not the `&self`; stretches are disjoint"
    )]
    pub(crate) unsafe fn part_mut(&self, start: usize, len: usize) -> &mut [f64] {
        assert!(start + len <= self.cap, "a stretch within the slab");
        // SAFETY: in bounds (checked), initialised (zeroed at creation), and exclusive by
        // the caller's promise.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr().add(start), len) }
    }

    /// Values `start..start + len`, to read: a [`Series`]' stretch, written before the
    /// series was made and never again.
    fn part(&self, start: usize, len: usize) -> &[f64] {
        assert!(start + len <= self.cap, "a stretch within the slab");
        // SAFETY: in bounds (checked) and initialised; no writer holds this stretch any
        // more (`part_mut`'s promise ends before its series is made).
        #[allow(unsafe_code, reason = "a written stretch of the slab")]
        unsafe {
            std::slice::from_raw_parts(self.ptr.as_ptr().add(start), len)
        }
    }
}

impl Drop for Slab {
    fn drop(&mut self) {
        // SAFETY: the mapping (or box) made in `new`, dropped once; no series of it is left
        // (each holds the slab's `Arc`).
        #[allow(unsafe_code, reason = "releasing the slab's memory")]
        unsafe {
            #[cfg(target_os = "linux")]
            libc::munmap(self.ptr.as_ptr().cast(), self.mapped);
            #[cfg(not(target_os = "linux"))]
            drop(Box::from_raw(std::ptr::slice_from_raw_parts_mut(
                self.ptr.as_ptr(),
                self.cap,
            )));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_of_a_slab_are_zeroed_disjoint_and_read_back() {
        let slab = Arc::new(Slab::new(1_000).expect("memory for a small slab"));
        assert!(slab.cap() >= 1_000);
        // SAFETY: the two stretches do not overlap, and no series of them exists yet.
        #[allow(unsafe_code, reason = "the slab's own contract, exercised")]
        let (a, b) = unsafe { (slab.part_mut(0, 10), slab.part_mut(10, 5)) };
        assert!(a.iter().chain(b.iter()).all(|&x| x == 0.0));
        a.iter_mut().enumerate().for_each(|(i, x)| *x = i as f64);
        b.fill(-1.0);
        let (sa, sb) = (
            Series::in_slab(slab.clone(), 0, 10),
            Series::in_slab(slab.clone(), 10, 5),
        );
        assert_eq!(&sa[..3], &[0.0, 1.0, 2.0]);
        assert_eq!(&sb[..], &[-1.0; 5]);
        assert!(sa.same(&sa.clone()) && !sa.same(&sb));
        let v = Series::from(vec![1.0, 2.0]);
        assert!(v.same(&v.clone()) && !v.same(&Series::from(vec![1.0, 2.0])));
        drop((sa, sb, slab));
    }
}
