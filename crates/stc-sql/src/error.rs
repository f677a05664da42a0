//! Errors of the SQL front-end. Every error a user can cause names the statement, the line
//! and column, and what would have been valid.

use sqlparser::tokenizer::Location;
use stc_common::{Classified, ErrorClass};

pub type Result<T, E = SqlError> = std::result::Result<T, E>;

/// Prefix of every "feature not built yet" message, so tools and tests can recognise them.
pub const NOT_SUPPORTED_PREFIX: &str = "not supported yet: ";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SqlErrorKind {
    /// The text is not valid Flink SQL.
    Syntax,
    /// Valid syntax, but it does not make sense: unknown table/column/function, wrong types,
    /// bad connector options.
    Validation,
    /// Valid Flink SQL that StreamCompute cannot run yet.
    Unsupported,
    /// A bug in the planner.
    Internal,
}

#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct SqlError {
    pub kind: SqlErrorKind,
    /// 1-based statement number; 0 when the error is not tied to one statement.
    pub statement: usize,
    pub location: Option<Location>,
    pub message: String,
    /// The project catalog object (table or view) the error is in; `None`: the script.
    pub catalog_object: Option<String>,
}

impl SqlError {
    pub fn parse(statement: usize, location: Location, message: impl Into<String>) -> Self {
        let message = message.into();
        let (kind, message) = match message.strip_prefix(NOT_SUPPORTED_PREFIX) {
            Some(rest) => (SqlErrorKind::Unsupported, rest.to_string()),
            None => (SqlErrorKind::Syntax, message),
        };
        SqlError {
            kind,
            statement,
            location: Some(location),
            message,
            catalog_object: None,
        }
    }

    pub fn validation(
        statement: usize,
        location: Option<Location>,
        message: impl Into<String>,
    ) -> Self {
        SqlError {
            kind: SqlErrorKind::Validation,
            statement,
            location,
            message: message.into(),
            catalog_object: None,
        }
    }

    pub fn unsupported(
        statement: usize,
        location: Option<Location>,
        construct: impl Into<String>,
    ) -> Self {
        SqlError {
            kind: SqlErrorKind::Unsupported,
            statement,
            location,
            message: construct.into(),
            catalog_object: None,
        }
    }

    pub fn internal(message: impl Into<String>) -> Self {
        SqlError {
            kind: SqlErrorKind::Internal,
            statement: 0,
            location: None,
            message: message.into(),
            catalog_object: None,
        }
    }

    /// Fills in the statement and location if the error does not carry them yet.
    pub fn at(mut self, statement: usize, location: Location) -> Self {
        if self.statement == 0 {
            self.statement = statement;
        }
        if self.location.is_none_or(|l| l.line == 0) {
            self.location = Some(location);
        }
        self
    }

    /// Marks the error as one in the project catalog's object `name` (its statement and
    /// location are then within that object's DDL).
    pub fn in_catalog_object(mut self, name: &str) -> Self {
        self.catalog_object = Some(name.to_string());
        self.statement = 0;
        self
    }

    fn render(&self) -> String {
        let what = match self.kind {
            SqlErrorKind::Syntax => "SQL parse error",
            SqlErrorKind::Validation => "SQL validation error",
            SqlErrorKind::Unsupported => "SQL feature not supported yet",
            SqlErrorKind::Internal => "internal planner error",
        };
        let mut s = what.to_string();
        if let Some(o) = &self.catalog_object {
            s.push_str(&format!(" in the catalog's '{o}'"));
        }
        if self.statement > 0 {
            s.push_str(&format!(" in statement {}", self.statement));
        }
        if let Some(l) = self.location.filter(|l| l.line > 0) {
            s.push_str(&format!(" at line {}, column {}", l.line, l.column));
        }
        s.push_str(": ");
        if self.kind == SqlErrorKind::Unsupported {
            s.push_str(NOT_SUPPORTED_PREFIX);
        }
        s.push_str(&self.message);
        s
    }
}

impl Classified for SqlError {
    fn class(&self) -> ErrorClass {
        match self.kind {
            SqlErrorKind::Internal => ErrorClass::INTERNAL,
            _ => ErrorClass::USER,
        }
    }
}
