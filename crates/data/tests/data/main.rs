//! Integration tests of reading, validating and writing data.

mod roundtrip;
mod universe;
mod validation;
