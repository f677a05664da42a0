//! The job graph: what the planner builds and the executor runs.

use std::sync::Arc;

use datafusion::physical_expr::PhysicalExpr;

use crate::operator::OperatorFactory;
use crate::source::SourceSpec;

pub type NodeId = usize;

/// How the records of one node are distributed to the subtasks of the next.
#[derive(Clone)]
pub enum Partitioning {
    /// Subtask *i* sends to subtask *i* (parallelisms must be equal).
    Forward,
    /// Round-robin by batch (used when parallelisms differ and no key is needed).
    Rebalance,
    /// By key group of the hash of these expressions (evaluated on the producer's output).
    Hash(Vec<Arc<dyn PhysicalExpr>>),
    /// Everything to subtask 0 (the consumer runs with parallelism 1).
    Single,
}

impl std::fmt::Debug for Partitioning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Partitioning::Forward => f.write_str("FORWARD"),
            Partitioning::Rebalance => f.write_str("REBALANCE"),
            Partitioning::Hash(k) => {
                let keys: Vec<String> = k.iter().map(|e| e.to_string()).collect();
                write!(f, "HASH[{}]", keys.join(", "))
            }
            Partitioning::Single => f.write_str("SINGLE"),
        }
    }
}

/// A node: an optional source followed by a chain of operators, run in one task per
/// subtask (Flink's operator chaining: no channel between chained operators).
pub struct NodeSpec {
    pub name: String,
    pub parallelism: usize,
    /// Set for source nodes, which have no input edges.
    pub source: Option<SourceSpec>,
    pub operators: Vec<Arc<dyn OperatorFactory>>,
}

#[derive(Debug, Clone)]
pub struct EdgeSpec {
    pub from: NodeId,
    pub to: NodeId,
    pub partitioning: Partitioning,
    /// Which input of the consuming node this edge feeds: 0, or 1 for the right side of a
    /// two-input operator (a join). Several edges may feed the same input (a union).
    pub input: usize,
}

/// A whole job. Nodes are in topological order (an edge always goes from a lower to a
/// higher id), which the planner guarantees by construction.
#[derive(Default)]
pub struct JobGraph {
    pub nodes: Vec<NodeSpec>,
    pub edges: Vec<EdgeSpec>,
    /// Number of key groups (Flink's max parallelism).
    pub max_parallelism: usize,
}

impl JobGraph {
    pub fn new(max_parallelism: usize) -> Self {
        JobGraph {
            nodes: Vec::new(),
            edges: Vec::new(),
            max_parallelism,
        }
    }

    pub fn add_node(&mut self, node: NodeSpec) -> NodeId {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    pub fn connect(&mut self, from: NodeId, to: NodeId, partitioning: Partitioning) {
        self.connect_input(from, to, partitioning, 0);
    }

    /// Connects `from` to input `input` of `to` (see [`EdgeSpec::input`]).
    pub fn connect_input(
        &mut self,
        from: NodeId,
        to: NodeId,
        partitioning: Partitioning,
        input: usize,
    ) {
        self.edges.push(EdgeSpec {
            from,
            to,
            partitioning,
            input,
        });
    }

    /// Appends an operator to a chain node.
    pub fn push_operator(&mut self, node: NodeId, op: Arc<dyn OperatorFactory>) {
        self.nodes[node].operators.push(op);
    }

    /// A one-line-per-node description, like Flink's `EXPLAIN` job graph.
    pub fn explain(&self) -> String {
        let mut s = String::new();
        for (id, n) in self.nodes.iter().enumerate() {
            let mut parts: Vec<String> = Vec::new();
            if let Some(src) = &n.source {
                parts.push(format!("Source[{}: {}]", src.table, src.factory.describe()));
            }
            parts.extend(n.operators.iter().map(|o| o.name()));
            let what = parts.join(" -> ");
            let inputs: Vec<String> = self
                .edges
                .iter()
                .filter(|e| e.to == id)
                .map(|e| {
                    let side = if e.input > 0 {
                        format!(" (input {})", e.input)
                    } else {
                        String::new()
                    };
                    format!("{} {:?}{side}", e.from, e.partitioning)
                })
                .collect();
            s.push_str(&format!("{id}: {what} (parallelism {})", n.parallelism));
            if !inputs.is_empty() {
                s.push_str(&format!(" <- {}", inputs.join(", ")));
            }
            s.push('\n');
        }
        s
    }
}
