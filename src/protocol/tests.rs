//! Unit tests of the pure wire protocol: golden server frames ([`wire`]),
//! channel names and kinds ([`names`]), client frame parsing and socket ids
//! ([`parse`]).

mod names;
mod parse;
mod wire;
