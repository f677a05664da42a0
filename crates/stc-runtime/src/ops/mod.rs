//! Built-in operators: stateless row operators, windows, and in-memory endpoints.
//! Connector sources and sinks live in `stc-connectors`.

pub mod calc;
pub mod collect;
pub mod window;
