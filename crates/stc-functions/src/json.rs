//! `JSON_VALUE(json, path)` with Flink's defaults: `RETURNING STRING`, `NULL ON EMPTY`,
//! `NULL ON ERROR`.
//!
//! Supported paths: an optional `lax`/`strict` mode, then `$` followed by `.key`, `['key']`,
//! `["key"]` and `[index]` steps. With the default error handling both modes give the same
//! results (a missing key is NULL either way). Scalars are returned as Flink prints them:
//! strings unquoted, numbers as Jackson/Java print them (`1.0E10`), booleans as `true`/`false`;
//! JSON null, objects and arrays give NULL.

use std::sync::Arc;

use arrow::array::StringBuilder;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
use serde_json::Value;

use crate::udf::{FlinkFunction, Strs, arity, as_string_type, finish, rows};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// Parses a JSON path; `None` for syntax outside the supported subset (→ NULL, as Flink's
/// invalid path under NULL ON ERROR).
fn parse_path(p: &str) -> Option<Vec<Step>> {
    let p = p.trim();
    let p = p
        .strip_prefix("lax")
        .or_else(|| p.strip_prefix("strict"))
        .map(str::trim_start)
        .unwrap_or(p);
    let mut rest = p.strip_prefix('$')?;
    let mut steps = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            let key = &r[..end];
            if key.is_empty() || key == "*" {
                return None;
            }
            steps.push(Step::Key(key.to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            let inner = r[..end].trim();
            let quoted = inner
                .strip_prefix('\'')
                .and_then(|x| x.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|x| x.strip_suffix('"')));
            match quoted {
                Some(k) => steps.push(Step::Key(k.to_string())),
                None => steps.push(Step::Index(inner.parse().ok()?)),
            }
            rest = &r[end + 1..];
        } else {
            return None;
        }
    }
    Some(steps)
}

/// `java.lang.Double.toString` for finite values.
pub(crate) fn java_double_to_string(d: f64) -> String {
    let a = d.abs();
    if a == 0.0 || (1e-3..1e7).contains(&a) {
        let s = format!("{d}");
        if s.contains('.') { s } else { format!("{s}.0") }
    } else {
        let s = format!("{d:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        if mantissa.contains('.') {
            format!("{mantissa}E{exp}")
        } else {
            format!("{mantissa}.0E{exp}")
        }
    }
}

fn json_value(doc: &str, steps: &[Step]) -> Option<String> {
    let v: Value = serde_json::from_str(doc).ok()?;
    let mut cur = &v;
    for s in steps {
        cur = match s {
            Step::Key(k) => cur.as_object()?.get(k)?,
            Step::Index(i) => cur.as_array()?.get(*i)?,
        };
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) => java_double_to_string(f),
            _ => n.to_string(),
        }),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// `JSON_VALUE(json, path)` → STRING.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct JsonValue;

impl FlinkFunction for JsonValue {
    fn name(&self) -> &'static str {
        "json_value"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=2)?;
        Ok(args.iter().map(as_string_type).collect())
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let doc = Strs::new(&args.args[0])?;
        let path = Strs::new(&args.args[1])?;
        let mut cache: Option<(String, Option<Vec<Step>>)> = None;
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            let (Some(d), Some(p)) = (doc.get(i), path.get(i)) else {
                out.append_null();
                continue;
            };
            if !matches!(&cache, Some((s, _)) if s == p) {
                cache = Some((p.to_string(), parse_path(p)));
            }
            let steps = cache.as_ref().and_then(|(_, s)| s.as_deref());
            out.append_option(steps.and_then(|s| json_value(d, s)));
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_print_like_java() {
        let cases = [
            (1.0, "1.0"),
            (1.5, "1.5"),
            (100.0, "100.0"),
            (1e7, "1.0E7"),
            (1.2345e10, "1.2345E10"),
            (0.001, "0.001"),
            (0.0001, "1.0E-4"),
            (-2.5, "-2.5"),
            (0.0, "0.0"),
        ];
        for (d, want) in cases {
            assert_eq!(java_double_to_string(d), want);
        }
    }

    #[test]
    fn paths() {
        assert_eq!(
            parse_path("lax $.a['b c'][2]"),
            Some(vec![
                Step::Key("a".into()),
                Step::Key("b c".into()),
                Step::Index(2)
            ])
        );
        assert_eq!(parse_path("$.a.*"), None);
        assert_eq!(parse_path("a.b"), None);
    }
}
