//! kaigo-seikyu (placeholder docs, replaced below)
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod calendar;
pub mod policy;
mod random;
pub mod secret;
pub mod values;
