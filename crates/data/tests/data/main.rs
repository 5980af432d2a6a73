//! Integration tests of reading, validating and writing data.

mod validation;
mod roundtrip;
