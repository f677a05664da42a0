//! Stateless row operators: filter and projection (Flink's `Calc`).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, AsArray, RecordBatch, RecordBatchOptions};
use datafusion::arrow::compute::{filter, filter_record_batch, prep_null_mask_filter};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::physical_expr::PhysicalExpr;

use crate::error::Result;
use crate::message::StreamBatch;
use crate::operator::{Operator, OperatorContext, OperatorFactory};

/// Keeps the rows for which `predicate` is true (NULL counts as false, as in SQL), then
/// evaluates `projection` (if any) into `schema`.
#[derive(Clone)]
pub struct Calc {
    pub name: String,
    pub predicate: Option<Arc<dyn PhysicalExpr>>,
    pub projection: Option<(Vec<Arc<dyn PhysicalExpr>>, SchemaRef)>,
}

impl Calc {
    pub fn apply(&self, input: StreamBatch) -> Result<StreamBatch> {
        let mut b = input;
        if let Some(pred) = &self.predicate {
            let mask = pred.evaluate(&b.batch)?.into_array(b.num_rows())?;
            let mask = mask.as_boolean();
            let mask = if mask.null_count() > 0 {
                prep_null_mask_filter(mask)
            } else {
                mask.clone()
            };
            if mask.true_count() != b.num_rows() {
                let batch = filter_record_batch(&b.batch, &mask)?;
                let kinds = match &b.kinds {
                    None => None,
                    Some(k) => Some(Arc::new(
                        filter(k.as_ref(), &mask)?
                            .as_primitive::<datafusion::arrow::datatypes::Int8Type>()
                            .clone(),
                    )),
                };
                b = StreamBatch { batch, kinds };
            }
        }
        if let Some((exprs, schema)) = &self.projection {
            let rows = b.num_rows();
            let columns = exprs
                .iter()
                .map(|e| e.evaluate(&b.batch).and_then(|v| v.into_array(rows)))
                .collect::<datafusion::error::Result<Vec<_>>>()?;
            let batch = RecordBatch::try_new_with_options(
                Arc::clone(schema),
                columns,
                &RecordBatchOptions::new().with_row_count(Some(rows)),
            )?;
            b = StreamBatch {
                batch,
                kinds: b.kinds,
            };
        }
        Ok(b)
    }
}

#[async_trait]
impl Operator for Calc {
    fn name(&self) -> &str {
        &self.name
    }

    async fn process_batch(&mut self, batch: StreamBatch, ctx: &mut OperatorContext) -> Result<()> {
        let out = self.apply(batch)?;
        ctx.emit(out);
        Ok(())
    }
}

impl OperatorFactory for Calc {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn create(&self, _subtask: usize, _parallelism: usize) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}
