//! `JSON_VALUE(json, path [RETURNING type] [behaviour ON EMPTY] [behaviour ON ERROR])` with
//! Flink's semantics (Calcite's `JsonFunctions.jsonValue`, checked against Flink 2.3).
//!
//! The SQL parser turns the clauses into arguments: `json_value(json, path)` or
//! `json_value(json, path, on_empty, empty_default, on_error, error_default)` where the
//! behaviours are `'NULL'`, `'ERROR'` or `'DEFAULT'` and the defaults are STRING (a RETURNING
//! type is a CAST around the call).
//!
//! Supported paths: an optional `lax`/`strict` mode, then `$` followed by `.key`, `['key']`,
//! `["key"]` and `[index]` steps. **A path without a mode is strict** (Calcite's default), and
//! the mode decides which outcome a problem is:
//!
//! | | lax | strict |
//! |---|---|---|
//! | invalid JSON | empty | error |
//! | missing key / index, step into a scalar | empty | error |
//! | JSON null, object or array | empty | error |
//! | unsupported path syntax | error | error |
//!
//! An empty result takes the ON EMPTY behaviour, an error the ON ERROR behaviour (both NULL
//! by default). `ERROR ON EMPTY` fails the query even with a `DEFAULT … ON ERROR`, as in
//! Flink. Scalars are returned as Flink prints them: strings unquoted, numbers as
//! Jackson/Java print them (`1.0E10`), booleans as `true`/`false`.

use std::sync::Arc;

use arrow::array::StringBuilder;
use arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs};
use serde_json::Value;

use crate::error::{FunctionError, sig_err};
use crate::udf::{FlinkFunction, Strs, as_string_type, finish, rows};

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

/// What evaluating a path gives before the ON EMPTY / ON ERROR clauses apply.
#[derive(Debug, PartialEq)]
enum Outcome {
    Value(String),
    Empty,
    Error(&'static str),
}

fn is_lax(path: &str) -> bool {
    path.trim_start().starts_with("lax")
}

fn json_value(doc: &str, path: &str, steps: Option<&[Step]>) -> Outcome {
    let lax = is_lax(path);
    let problem = |why: &'static str| {
        if lax {
            Outcome::Empty
        } else {
            Outcome::Error(why)
        }
    };
    let Some(steps) = steps else {
        return Outcome::Error("unsupported JSON path");
    };
    let Ok(v) = serde_json::from_str::<Value>(doc) else {
        return problem("invalid JSON");
    };
    let mut cur = &v;
    for s in steps {
        let next = match s {
            Step::Key(k) => cur.as_object().and_then(|o| o.get(k)),
            Step::Index(i) => cur.as_array().and_then(|a| a.get(*i)),
        };
        match next {
            Some(n) => cur = n,
            None => return problem("no such element"),
        }
    }
    match cur {
        Value::String(s) => Outcome::Value(s.clone()),
        Value::Bool(b) => Outcome::Value(b.to_string()),
        Value::Number(n) => Outcome::Value(match n.as_f64() {
            Some(f) if !(n.is_i64() || n.is_u64()) => java_double_to_string(f),
            _ => n.to_string(),
        }),
        Value::Null | Value::Array(_) | Value::Object(_) => problem("not a scalar value"),
    }
}

/// `JSON_VALUE(json, path)` → STRING; see the module documentation.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct JsonValue;

/// An ON EMPTY / ON ERROR behaviour.
#[derive(Clone, Copy, PartialEq)]
enum Behaviour {
    Null,
    Error,
    Default,
}

fn behaviour(v: Option<&str>) -> Result<Behaviour> {
    match v.map(str::to_ascii_uppercase).as_deref() {
        None | Some("NULL") => Ok(Behaviour::Null),
        Some("ERROR") => Ok(Behaviour::Error),
        Some("DEFAULT") => Ok(Behaviour::Default),
        Some(other) => Err(FunctionError::Execution {
            function: "json_value",
            message: format!("unknown ON EMPTY/ON ERROR behaviour '{other}'"),
        }
        .into()),
    }
}

impl FlinkFunction for JsonValue {
    fn name(&self) -> &'static str {
        "json_value"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if args.len() != 2 && args.len() != 6 {
            return sig_err(
                self.name(),
                format!("expected 2 arguments (json, path), got {}", args.len()),
            );
        }
        Ok(args.iter().map(as_string_type).collect())
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let doc = Strs::new(&args.args[0])?;
        let path = Strs::new(&args.args[1])?;
        let extra = args.args[2..]
            .iter()
            .map(Strs::new)
            .collect::<Result<Vec<_>>>()?;
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
            let (on_empty, empty_default, on_error, error_default) = match extra.as_slice() {
                [a, b, c, d] => (
                    behaviour(a.get(i))?,
                    b.get(i),
                    behaviour(c.get(i))?,
                    d.get(i),
                ),
                _ => (Behaviour::Null, None, Behaviour::Null, None),
            };
            let (b, default, what) = match json_value(d, p, steps) {
                Outcome::Value(v) => {
                    out.append_value(v);
                    continue;
                }
                Outcome::Empty => (on_empty, empty_default, "empty result".to_string()),
                Outcome::Error(why) => (on_error, error_default, why.to_string()),
            };
            match b {
                Behaviour::Null => out.append_null(),
                Behaviour::Default => out.append_option(default),
                Behaviour::Error => {
                    return Err(FunctionError::Execution {
                        function: "json_value",
                        message: format!("{what} for path '{p}' (ERROR ON EMPTY/ON ERROR)"),
                    }
                    .into());
                }
            }
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
    fn lax_and_strict_modes_classify_problems_as_flink_does() {
        let v = |doc: &str, path: &str| json_value(doc, path, parse_path(path).as_deref());
        let doc = r#"{"a":"x","nul":null,"obj":{"k":1},"n":42}"#;
        assert_eq!(v(doc, "$.a"), Outcome::Value("x".into()));
        assert_eq!(v(doc, "$.obj.k"), Outcome::Value("1".into()));
        assert_eq!(v(doc, "$.nope"), Outcome::Error("no such element"));
        assert_eq!(v(doc, "lax $.nope"), Outcome::Empty);
        assert_eq!(v(doc, "$.nul"), Outcome::Error("not a scalar value"));
        assert_eq!(v(doc, "lax $.nul"), Outcome::Empty);
        assert_eq!(v(doc, "strict $.obj"), Outcome::Error("not a scalar value"));
        assert_eq!(v(doc, "lax $.obj"), Outcome::Empty);
        assert_eq!(v("not json", "$.a"), Outcome::Error("invalid JSON"));
        assert_eq!(v("not json", "lax $.a"), Outcome::Empty);
        assert_eq!(v(doc, "lax $.*"), Outcome::Error("unsupported JSON path"));
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
