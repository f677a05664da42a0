//! Flink SQL front-end of StreamCompute.
//!
//! ```text
//!  script text ─► parser (FlinkDialect + Flink-only statements) ─► FlinkStatement
//!      │                                                        │
//!      │   CREATE TABLE / VIEW ─► catalog (ResolvedTable, view plans)
//!      │   INSERT / SELECT ─► rewrite (Flink spellings) ─► DataFusion SqlToRel
//!      │                      (names, types; window TVFs via our RelationPlanner)
//!      │                  ─► DataFusion optimizer ─► planner::Translator ─► JobGraph
//! ```
//!
//! Entry point: [`compile_script`]. Every error is a [`SqlError`] naming the statement, the
//! line and column, and what would be valid.

pub mod catalog;
pub mod context;
pub mod dialect;
pub mod error;
pub mod functions;
pub mod parser;
pub mod planner;
pub mod rewrite;
pub mod script;
pub mod types;

pub use error::{Result, SqlError, SqlErrorKind};
pub use script::{
    CatalogObject, CompileOptions, CompiledJob, SelectOutput, check_catalog, compile_preview,
    compile_script,
};
