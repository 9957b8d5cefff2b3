//! The pure core of rapport.
#![forbid(unsafe_code)]
