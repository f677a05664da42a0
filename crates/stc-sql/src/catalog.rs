//! Tables and views declared by a script (Flink's in-memory catalog).

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::logical_expr::{Expr, LogicalPlan, TableSource};
use sqlparser::tokenizer::Location;

/// What a column is, after resolution.
#[derive(Debug, Clone)]
pub enum ResolvedColumn {
    /// Index into the connector's reader schema.
    Physical(usize),
    Metadata {
        reader_index: usize,
        key: String,
        is_virtual: bool,
    },
    /// A logical expression over the reader schema.
    Computed(Expr),
}

/// A table declared with `CREATE TABLE`, resolved against its connector.
#[derive(Debug)]
pub struct ResolvedTable {
    pub name: String,
    /// Every column: physical, computed and metadata, in declaration order.
    pub schema: SchemaRef,
    pub columns: Vec<ResolvedColumn>,
    /// Physical columns then metadata columns: what connector readers produce.
    pub reader_schema: SchemaRef,
    /// Columns a sink writes: physical columns and non-virtual metadata columns.
    pub persisted: Vec<usize>,
    pub metadata_keys: Vec<(String, Field)>,
    /// `WATERMARK FOR col AS expr`: the rowtime column's index and the expression (over the
    /// full schema).
    pub watermark: Option<(usize, Expr)>,
    pub primary_key: Vec<String>,
    pub options: BTreeMap<String, String>,
    pub location: Location,
    pub statement: usize,
    /// The declaration as written (after its own LIKE merge), for `CREATE TABLE … LIKE` of
    /// this table.
    pub definition: crate::parser::CreateTable,
}

impl ResolvedTable {
    pub fn connector(&self) -> &str {
        self.options
            .get("connector")
            .map(String::as_str)
            .unwrap_or("")
    }

    pub fn persisted_schema(&self) -> Schema {
        Schema::new(
            self.persisted
                .iter()
                .map(|i| self.schema.field(*i).clone())
                .collect::<Vec<_>>(),
        )
    }
}

#[derive(Debug, Clone)]
pub enum CatalogEntry {
    Table(Arc<ResolvedTable>),
    View { plan: Arc<LogicalPlan> },
}

/// The script's catalog. Names are case-sensitive, as in Flink.
#[derive(Debug, Default)]
pub struct Catalog {
    pub entries: HashMap<String, CatalogEntry>,
}

impl Catalog {
    pub fn get(&self, name: &str) -> Option<&CatalogEntry> {
        self.entries.get(name)
    }

    /// Sorted names, for "did you mean" messages.
    pub fn names(&self) -> Vec<String> {
        let mut n: Vec<String> = self.entries.keys().cloned().collect();
        n.sort();
        n
    }
}

/// DataFusion's view of a catalog entry. Views return their plan so DataFusion inlines them.
#[derive(Debug)]
pub struct StcTableSource {
    pub entry: CatalogEntry,
    pub schema: SchemaRef,
}

impl TableSource for StcTableSource {
    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }
    fn get_logical_plan(&self) -> Option<Cow<'_, LogicalPlan>> {
        match &self.entry {
            CatalogEntry::View { plan } => Some(Cow::Borrowed(plan.as_ref())),
            CatalogEntry::Table(_) => None,
        }
    }
}
