//! Built-in operators: stateless row operators, windows, and in-memory endpoints.
//! Connector sources and sinks live in `stc-connectors`.

pub mod calc;
pub mod changelog;
pub mod collect;
pub(crate) mod group_acc;
pub mod group_agg;
pub mod join;
pub mod lookup_join;
pub mod normalize;
pub mod over;
pub mod rank;
pub(crate) mod state;
pub mod temporal_join;
pub mod window;
pub mod window_join;
pub mod window_rank;
