//! kaigo-seikyu (crate docs are written with the walkthrough)
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod account;
pub mod calendar;
pub mod certificate;
pub mod challenge;
pub mod effect;
pub mod error;
pub mod first_login;
pub mod grace;
pub mod login;
pub mod lost;
pub mod mail;
pub mod memory;
pub mod policy;
pub mod portal;
pub mod ports;
mod random;
pub mod reissue;
pub mod reset;
pub mod screen;
pub mod secret;
pub mod security_emails;
pub mod store;
pub mod values;
