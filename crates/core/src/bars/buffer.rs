//! A column's memory: a `Vec` of its own, or memory lent by another runtime.
#![allow(
    unsafe_code,
    reason = "a host's buffers (numpy) are read in place: copying them was most of the time"
)]

use std::any::Any;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

/// The values of one column of [`Bars`](crate::Bars).
///
/// Columns usually own their memory. A host that already holds the prices in a buffer that
/// will not change (a pandas frame under copy-on-write, read through numpy) can lend it
/// instead, with [`Buffer::lent`]: a million bars then cost no copy and no page faults, which
/// is most of the time of building them from Python.
pub struct Buffer<T: 'static> {
    repr: Repr<T>,
}

enum Repr<T: 'static> {
    Owned(Vec<T>),
    /// `len` values at `ptr`, valid and unchanged while `_owner` lives.
    Lent {
        ptr: *const T,
        len: usize,
        _owner: Arc<dyn Any + Send + Sync>,
    },
}

// SAFETY: lent memory is read-only for as long as its owner lives (the contract of
// `Buffer::lent`), so sharing the pointer across threads is sharing `&[T]`.
unsafe impl<T: Sync + 'static> Send for Buffer<T> {}
// SAFETY: as above; `Buffer` hands out only shared references.
unsafe impl<T: Sync + 'static> Sync for Buffer<T> {}

impl<T: 'static> Buffer<T> {
    /// A column read in place from memory another owner keeps.
    ///
    /// # Safety
    ///
    /// `ptr` must point to `len` initialised, aligned values of `T` that stay valid and are
    /// not written by anyone for as long as `owner` lives (the buffer keeps `owner` alive).
    pub unsafe fn lent(ptr: *const T, len: usize, owner: Arc<dyn Any + Send + Sync>) -> Self {
        let ptr = if len == 0 {
            std::ptr::NonNull::dangling().as_ptr()
        } else {
            ptr
        };
        Buffer {
            repr: Repr::Lent {
                ptr,
                len,
                _owner: owner,
            },
        }
    }

    /// True when the values are lent rather than owned.
    pub fn is_lent(&self) -> bool {
        matches!(self.repr, Repr::Lent { .. })
    }
}

impl<T: 'static> From<Vec<T>> for Buffer<T> {
    fn from(v: Vec<T>) -> Self {
        Buffer {
            repr: Repr::Owned(v),
        }
    }
}

impl<T: 'static> Deref for Buffer<T> {
    type Target = [T];

    #[inline]
    fn deref(&self) -> &[T] {
        match &self.repr {
            Repr::Owned(v) => v,
            // SAFETY: the contract of `Buffer::lent`: `len` valid values, alive and unchanged
            // while the owner, which `self` holds, lives.
            Repr::Lent { ptr, len, .. } => unsafe { std::slice::from_raw_parts(*ptr, *len) },
        }
    }
}

impl<T: Clone + 'static> Clone for Buffer<T> {
    /// Owned values are copied; lent ones are shared with the same owner.
    fn clone(&self) -> Self {
        match &self.repr {
            Repr::Owned(v) => v.clone().into(),
            Repr::Lent { ptr, len, _owner } => Buffer {
                repr: Repr::Lent {
                    ptr: *ptr,
                    len: *len,
                    _owner: _owner.clone(),
                },
            },
        }
    }
}

impl<T: fmt::Debug + 'static> fmt::Debug for Buffer<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lent_values_read_as_the_owners_and_keep_it_alive() {
        let owner: Arc<Vec<f64>> = Arc::new(vec![1.0, 2.5, 4.0]);
        let (ptr, len) = (owner.as_ptr(), owner.len());
        // SAFETY: the Vec is never written and lives while its Arc does.
        let lent = unsafe { Buffer::lent(ptr, len, owner.clone()) };
        let copy = lent.clone();
        assert_eq!(Arc::strong_count(&owner), 3);
        drop(owner);
        assert_eq!(&*copy, &[1.0, 2.5, 4.0]);
        assert!(copy.is_lent());
        assert_eq!(&*lent, &*copy);
        let empty = unsafe { Buffer::<f64>::lent(std::ptr::null(), 0, Arc::new(())) };
        assert!(empty.is_empty());
        assert!(!Buffer::from(vec![1]).is_lent());
    }
}
