//! Flink's string functions where DataFusion lacks them or disagrees with Flink.
//!
//! Sources: `org.apache.flink.table.runtime.functions.SqlFunctionUtils` (cited per function),
//! `StringCallGen` for null handling, Calcite's `SqlFunctions.initcap`. Positions and lengths
//! count Unicode characters; Java counts UTF-16 units, which differs only for characters
//! outside the Basic Multilingual Plane (emoji).

use std::sync::Arc;

use arrow::array::{BooleanBuilder, Int32Builder, StringBuilder};
use arrow::datatypes::DataType;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result};
use datafusion::config::ConfigOptions;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{ColumnarValue, Expr, ScalarFunctionArgs};
use regex::{NoExpand, Regex};

use crate::error::{FunctionError, sig_err};
use crate::udf::{
    FlinkFunction, Ints, Strs, Udf, arity, as_int_type, as_string_type, finish, rows, udf,
};

/// Compiles a regex argument once per batch when it is a literal, otherwise once per distinct
/// consecutive value. An invalid regex gives `None`: Flink catches the exception and returns
/// NULL. Java and Rust regex syntax agree on the common subset; look-around and
/// back-references (Java only) are treated as invalid.
struct RegexCache {
    last: Option<(String, Option<Regex>)>,
}

impl RegexCache {
    fn new() -> Self {
        RegexCache { last: None }
    }

    fn get(&mut self, p: &str) -> Option<&Regex> {
        if !matches!(&self.last, Some((s, _)) if s == p) {
            self.last = Some((p.to_string(), Regex::new(p).ok()));
        }
        self.last.as_ref().and_then(|(_, r)| r.as_ref())
    }
}

fn strings(args: &[DataType]) -> Vec<DataType> {
    args.iter().map(as_string_type).collect()
}

fn utf8(_: &[DataType]) -> Result<DataType> {
    Ok(DataType::Utf8)
}

// ---------------------------------------------------------------------------------------------

/// `REGEXP_EXTRACT(str, regex[, index])`: group `index` (default 0, the whole match — Flink's
/// `regexpExtract(str, regex)` passes 0) of the first match; NULL when nothing matches, the
/// group did not participate, the index is out of range or the regex is invalid.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct RegexpExtract;

impl FlinkFunction for RegexpExtract {
    fn name(&self) -> &'static str {
        "regexp_extract"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=3)?;
        let mut out = strings(&args[..2]);
        if let Some(t) = args.get(2) {
            out.push(as_int_type(self.name(), t)?);
        }
        Ok(out)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let re = Strs::new(&args.args[1])?;
        let idx = args.args.get(2).map(Ints::new).transpose()?;
        let mut cache = RegexCache::new();
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            let index = match &idx {
                None => Some(0),
                Some(x) => x.get(i),
            };
            let v = match (s.get(i), re.get(i), index) {
                (Some(s), Some(p), Some(k)) => cache.get(p).and_then(|r| {
                    let k = usize::try_from(k).ok()?;
                    r.captures(s)?.get(k).map(|m| m.as_str())
                }),
                _ => None,
            };
            out.append_option(v);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `REGEXP_REPLACE(str, regex, replacement)`: replaces **all** matches (DataFusion's version,
/// PostgreSQL-style, replaces only the first without the `'g'` flag). Flink quotes the
/// replacement (`Matcher.quoteReplacement`), so `$1` is literal text. Invalid regex → NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct RegexpReplace;

impl FlinkFunction for RegexpReplace {
    fn name(&self) -> &'static str {
        "regexp_replace"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        Ok(strings(args))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let re = Strs::new(&args.args[1])?;
        let rep = Strs::new(&args.args[2])?;
        let mut cache = RegexCache::new();
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            match (s.get(i), re.get(i), rep.get(i)) {
                (Some(s), Some(p), Some(r)) => match cache.get(p) {
                    Some(re) => out.append_value(re.replace_all(s, NoExpand(r))),
                    None => out.append_null(),
                },
                _ => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `REGEXP(str, regex)`: whether `regex` matches **part** of `str` (`Matcher.find`, Flink's
/// `SqlFunctionUtils.regExp`); FALSE for an empty or invalid regex (Flink logs and returns
/// false), NULL when an argument is NULL.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Regexp;

impl FlinkFunction for Regexp {
    fn name(&self) -> &'static str {
        "regexp"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=2)?;
        Ok(strings(args))
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Boolean)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let re = Strs::new(&args.args[1])?;
        let mut cache = RegexCache::new();
        let mut out = BooleanBuilder::with_capacity(n);
        for i in 0..n {
            match (s.get(i), re.get(i)) {
                (Some(s), Some(p)) => {
                    out.append_value(!p.is_empty() && cache.get(p).is_some_and(|r| r.is_match(s)))
                }
                _ => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `REPLACE(str, search, replacement)`: Java's `String.replace`, which also replaces an empty
/// `search` (before every character and at the end: `REPLACE('ab', '', '#')` is `'#a#b#'`,
/// `REPLACE('', '', '#')` is `'#'`); DataFusion's returns `''` for an empty input.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Replace;

impl FlinkFunction for Replace {
    fn name(&self) -> &'static str {
        "replace"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        Ok(strings(args))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let from = Strs::new(&args.args[1])?;
        let to = Strs::new(&args.args[2])?;
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            match (s.get(i), from.get(i), to.get(i)) {
                // Rust's `str::replace` with an empty pattern matches at every character
                // boundary, start and end included: Java's behaviour.
                (Some(s), Some(f), Some(t)) => out.append_value(s.replace(f, t)),
                _ => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `SPLIT_INDEX(str, separator, index)`: the `index`-th (0-based) piece of `str` split on the
/// whole separator, keeping empty pieces (`StringUtils.splitByWholeSeparatorPreserveAllTokens`);
/// NULL for a negative or too large index. An empty separator splits on whitespace, as
/// commons-lang does.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct SplitIndex;

impl FlinkFunction for SplitIndex {
    fn name(&self) -> &'static str {
        "split_index"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        Ok(vec![
            as_string_type(&args[0]),
            as_string_type(&args[1]),
            as_int_type(self.name(), &args[2])?,
        ])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let sep = Strs::new(&args.args[1])?;
        let idx = Ints::new(&args.args[2])?;
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            let v = match (s.get(i), sep.get(i), idx.get(i)) {
                (Some(s), Some(sep), Some(k)) if k >= 0 => {
                    let k = k as usize;
                    if s.is_empty() {
                        // commons-lang returns an empty array for an empty input.
                        None
                    } else if sep.is_empty() {
                        s.split_whitespace().nth(k)
                    } else {
                        s.split(sep).nth(k)
                    }
                }
                _ => None,
            };
            out.append_option(v);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `CONCAT(s1, s2, ...)`: NULL if any argument is NULL (Flink `BinaryStringDataUtil.concat`);
/// DataFusion's `concat` skips NULLs instead.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Concat;

impl FlinkFunction for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        if args.is_empty() {
            return sig_err(self.name(), "expected at least one argument");
        }
        Ok(strings(args))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let parts = args
            .args
            .iter()
            .map(Strs::new)
            .collect::<Result<Vec<_>>>()?;
        let mut out = StringBuilder::with_capacity(n, n * 16);
        let mut buf = String::new();
        'rows: for i in 0..n {
            buf.clear();
            for p in &parts {
                match p.get(i) {
                    Some(s) => buf.push_str(s),
                    None => {
                        out.append_null();
                        continue 'rows;
                    }
                }
            }
            out.append_value(&buf);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `INITCAP(str)`: Calcite's `SqlFunctions.initcap`, which Flink calls. Only ASCII letters and
/// digits form words; every other character (including `é`) starts a new word and is left
/// unchanged, so `INITCAP('café crème')` is `'Café CrèMe'`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Initcap;

fn initcap(s: &str, out: &mut String) {
    let mut start = true;
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            if start {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c.to_ascii_lowercase());
            }
            start = false;
        } else {
            out.push(c);
            start = true;
        }
    }
}

impl FlinkFunction for Initcap {
    fn name(&self) -> &'static str {
        "initcap"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=1)?;
        Ok(strings(args))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_strings(args, |s, out| {
            initcap(s, out);
            true
        })
    }
}

/// Applies `f` to a one-string-argument function; `f` returns false for NULL.
fn map_strings(
    args: &ScalarFunctionArgs,
    mut f: impl FnMut(&str, &mut String) -> bool,
) -> Result<ColumnarValue> {
    let (n, scalar) = rows(args);
    let s = Strs::new(&args.args[0])?;
    let mut out = StringBuilder::with_capacity(n, n * 8);
    let mut buf = String::new();
    for i in 0..n {
        match s.get(i) {
            Some(v) => {
                buf.clear();
                if f(v, &mut buf) {
                    out.append_value(&buf);
                } else {
                    out.append_null();
                }
            }
            None => out.append_null(),
        }
    }
    finish(Arc::new(out.finish()), scalar)
}

/// `LPAD(str, len, pad)` / `RPAD(str, len, pad)` (`SqlFunctionUtils.lpad/rpad`): the result
/// has exactly `len` characters, so a longer `str` is cut to `len` (from the right for both);
/// NULL for a negative `len` or an empty `pad`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Pad {
    pub(crate) left: bool,
}

fn pad(base: &str, len: usize, pad: &str, left: bool, out: &mut String) {
    let base_len = base.chars().count();
    let fill = len.saturating_sub(base_len);
    let padding = pad.chars().cycle().take(fill);
    let kept = base.chars().take(len);
    if left {
        out.extend(padding);
        out.extend(kept);
    } else {
        out.extend(kept);
        out.extend(padding);
    }
}

impl FlinkFunction for Pad {
    fn name(&self) -> &'static str {
        if self.left { "lpad" } else { "rpad" }
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 3..=3)?;
        Ok(vec![
            as_string_type(&args[0]),
            as_int_type(self.name(), &args[1])?,
            as_string_type(&args[2]),
        ])
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let len = Ints::new(&args.args[1])?;
        let p = Strs::new(&args.args[2])?;
        let mut out = StringBuilder::with_capacity(n, n * 8);
        let mut buf = String::new();
        for i in 0..n {
            match (s.get(i), len.get(i), p.get(i)) {
                (Some(s), Some(l), Some(p)) if l >= 0 && !p.is_empty() => {
                    buf.clear();
                    pad(s, l as usize, p, self.left, &mut buf);
                    out.append_value(&buf);
                }
                _ => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `SUBSTR(str, pos[, len])` and `SUBSTRING(str FROM pos [FOR len])`
/// (`SqlFunctionUtils.subString`): 1-based; `pos` 0 is treated as 1; a negative `pos` counts
/// from the end (`SUBSTR('hello', -3)` = `'llo'`); NULL for a negative `len`. DataFusion's
/// PostgreSQL-style `substr` reads `pos <= 0` differently.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Substr;

fn substr(s: &str, pos: i64, len: i64) -> Option<&str> {
    if len < 0 {
        return None;
    }
    if s.is_empty() {
        return Some("");
    }
    let n = s.chars().count() as i64;
    let start = if pos > 0 {
        if pos > n {
            return Some("");
        }
        pos - 1
    } else if pos < 0 {
        if n + pos < 0 {
            return Some("");
        }
        n + pos
    } else {
        0
    };
    let end = if n - start < len { n } else { start + len };
    let byte = |c: i64| {
        s.char_indices()
            .nth(c as usize)
            .map(|(b, _)| b)
            .unwrap_or(s.len())
    };
    Some(&s[byte(start)..byte(end)])
}

impl FlinkFunction for Substr {
    fn name(&self) -> &'static str {
        "substr"
    }

    fn aliases(&self) -> &'static [&'static str] {
        &["substring"]
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=3)?;
        let mut out = vec![as_string_type(&args[0])];
        for t in &args[1..] {
            out.push(as_int_type(self.name(), t)?);
        }
        Ok(out)
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let pos = Ints::new(&args.args[1])?;
        let len = args.args.get(2).map(Ints::new).transpose()?;
        let mut out = StringBuilder::with_capacity(n, n * 8);
        for i in 0..n {
            let l = match &len {
                None => Some(i64::from(i32::MAX)),
                Some(l) => l.get(i),
            };
            let v = match (s.get(i), pos.get(i), l) {
                (Some(s), Some(p), Some(l)) => substr(s, p, l),
                _ => None,
            };
            out.append_option(v);
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// Replaces DataFusion's `substr` with ours where the SQL planner inserted it directly: the
/// `SUBSTRING(x FROM a FOR b)` syntax is planned by DataFusion's built-in `ExprPlanner`, which
/// calls its own UDF instead of looking the name up in the registry.
#[derive(Debug)]
pub(crate) struct SubstrRewrite;

impl FunctionRewrite for SubstrRewrite {
    fn name(&self) -> &str {
        "flink_substr"
    }

    fn rewrite(
        &self,
        expr: Expr,
        _schema: &DFSchema,
        _config: &ConfigOptions,
    ) -> Result<Transformed<Expr>> {
        match expr {
            Expr::ScalarFunction(ScalarFunction { func, args })
                if func.name() == "substr" && !func.inner().is::<Udf<Substr>>() =>
            {
                Ok(Transformed::yes(Expr::ScalarFunction(
                    ScalarFunction::new_udf(Arc::new(udf(Substr)), args),
                )))
            }
            other => Ok(Transformed::no(other)),
        }
    }
}

/// `LOCATE(needle, haystack[, from])` → INT: 1-based position of the first occurrence at or
/// after `from` (default 1), 0 if none (`SqlFunctionUtils.position`); an empty needle is found
/// at 1.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Locate;

fn locate(needle: &str, hay: &str, from: i64) -> i32 {
    if needle.is_empty() {
        return 1;
    }
    let skip = (from - 1).max(0) as usize;
    let Some((start_byte, _)) = hay.char_indices().nth(skip) else {
        return 0;
    };
    match hay[start_byte..].find(needle) {
        Some(b) => (skip + hay[start_byte..start_byte + b].chars().count() + 1) as i32,
        None => 0,
    }
}

impl FlinkFunction for Locate {
    fn name(&self) -> &'static str {
        "locate"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 2..=3)?;
        let mut out = strings(&args[..2]);
        if let Some(t) = args.get(2) {
            out.push(as_int_type(self.name(), t)?);
        }
        Ok(out)
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let needle = Strs::new(&args.args[0])?;
        let hay = Strs::new(&args.args[1])?;
        let from = args.args.get(2).map(Ints::new).transpose()?;
        let mut out = Int32Builder::with_capacity(n);
        for i in 0..n {
            let f = match &from {
                None => Some(1),
                Some(f) => f.get(i),
            };
            match (needle.get(i), hay.get(i), f) {
                (Some(a), Some(b), Some(f)) => out.append_value(locate(a, b, f)),
                _ => out.append_null(),
            }
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode(data: &[u8], out: &mut String) {
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(B64[((v >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
}

/// `java.util.Base64.getDecoder()`: the basic alphabet, padding optional, nothing else allowed.
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let body = s.trim_end_matches('=');
    if s.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    if s.len() != body.len() && !s.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0);
    for c in body.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// `TO_BASE64(str)`: the UTF-8 bytes in standard Base64 with padding.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct ToBase64;

impl FlinkFunction for ToBase64 {
    fn name(&self) -> &'static str {
        "to_base64"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=1)?;
        Ok(strings(args))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_strings(args, |s, out| {
            base64_encode(s.as_bytes(), out);
            true
        })
    }
}

/// `FROM_BASE64(str)` → STRING (the decoded bytes read as UTF-8). Invalid Base64 fails the
/// query, as Java's decoder throws and Flink fails the job.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct FromBase64;

impl FlinkFunction for FromBase64 {
    fn name(&self) -> &'static str {
        "from_base64"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=1)?;
        Ok(strings(args))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let mut bad = None;
        let res = map_strings(args, |s, out| match base64_decode(s) {
            Some(bytes) => {
                out.push_str(&String::from_utf8_lossy(&bytes));
                true
            }
            None => {
                bad.get_or_insert_with(|| s.to_string());
                false
            }
        })?;
        match bad {
            None => Ok(res),
            Some(s) => Err(FunctionError::Execution {
                function: "from_base64",
                message: format!("illegal Base64 input '{s}'"),
            }
            .into()),
        }
    }
}

/// `HASH_CODE(str)` → INT: `Math.abs(String.hashCode())` over UTF-16 units
/// (`SqlFunctionUtils.hashCode`); `abs(Integer.MIN_VALUE)` stays negative, as in Java.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct HashCode;

fn java_hash_code(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, u| h.wrapping_mul(31).wrapping_add(i32::from(u)))
        .wrapping_abs()
}

impl FlinkFunction for HashCode {
    fn name(&self) -> &'static str {
        "hash_code"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=1)?;
        Ok(strings(args))
    }

    fn return_type(&self, _args: &[DataType]) -> Result<DataType> {
        Ok(DataType::Int32)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        let (n, scalar) = rows(args);
        let s = Strs::new(&args.args[0])?;
        let mut out = Int32Builder::with_capacity(n);
        for i in 0..n {
            out.append_option(s.get(i).map(java_hash_code));
        }
        finish(Arc::new(out.finish()), scalar)
    }
}

/// `MD5(str)` → lower-case hex of the UTF-8 bytes' MD5 digest (`StringCallGen.generateMd5`).
/// Ours because the workspace builds DataFusion without its `crypto_expressions` feature; the
/// digest is a few dozen lines (RFC 1321), cheaper than a workspace-wide feature change.
#[derive(Debug, PartialEq, Eq, Hash)]
pub(crate) struct Md5;

fn md5_hex(data: &[u8], out: &mut String) {
    const S: [u32; 64] = [
        7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5,
        9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10,
        15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
    ];
    // K[i] = floor(abs(sin(i + 1)) * 2^32), RFC 1321 section 3.4.
    let k: Vec<u32> = (0..64)
        .map(|i| ((i as f64 + 1.0).sin().abs() * 4_294_967_296.0) as u32)
        .collect();
    let mut h: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64).wrapping_mul(8)).to_le_bytes());
    for chunk in msg.chunks(64) {
        let m: Vec<u32> = chunk
            .chunks(4)
            .map(|w| u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
            .collect();
        let [mut a, mut b, mut c, mut d] = h;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let f = f.wrapping_add(a).wrapping_add(k[i]).wrapping_add(m[g]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(f.rotate_left(S[i]));
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d]) {
            *x = x.wrapping_add(y);
        }
    }
    for word in h {
        for byte in word.to_le_bytes() {
            out.push_str(&format!("{byte:02x}"));
        }
    }
}

impl FlinkFunction for Md5 {
    fn name(&self) -> &'static str {
        "md5"
    }

    fn coerce_types(&self, args: &[DataType]) -> Result<Vec<DataType>> {
        arity(self.name(), args, 1..=1)?;
        Ok(strings(args))
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        utf8(args)
    }

    fn invoke(&self, args: &ScalarFunctionArgs) -> Result<ColumnarValue> {
        map_strings(args, |s, out| {
            md5_hex(s.as_bytes(), out);
            true
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_match_java() {
        // SqlFunctionUtils.subString examples.
        let cases = [
            ("hello", 2, 3, Some("ell")),
            ("hello", 0, 2, Some("he")),
            ("hello", -3, 2, Some("ll")),
            ("hello", -9, 2, Some("")),
            ("hello", 9, 2, Some("")),
            ("hello", 1, -1, None),
            ("héllo", 2, 2, Some("él")),
        ];
        for (s, p, l, want) in cases {
            assert_eq!(substr(s, p, l), want, "substr({s}, {p}, {l})");
        }
        assert_eq!(locate("b", "abcb", 1), 2);
        assert_eq!(locate("b", "abcb", 3), 4);
        assert_eq!(locate("x", "abc", 1), 0);
        assert_eq!(locate("", "abc", 5), 1);
        assert_eq!(locate("c", "éc", 1), 2);
        // Java: "hello".hashCode() = 99162322; "polygenelubricants".hashCode() = Integer.MIN_VALUE.
        assert_eq!(java_hash_code("hello"), 99_162_322);
        assert_eq!(java_hash_code("polygenelubricants"), i32::MIN);
        let mut s = String::new();
        base64_encode(b"hello world", &mut s);
        assert_eq!(s, "aGVsbG8gd29ybGQ=");
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ=").unwrap(), b"hello world");
        assert_eq!(base64_decode("aGVsbG8gd29ybGQ").unwrap(), b"hello world");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("a*==").is_none());
        // RFC 1321 test suite.
        for (input, want) in [
            ("", "d41d8cd98f00b204e9800998ecf8427e"),
            ("abc", "900150983cd24fb0d6963f7d28e17f72"),
            (
                "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ] {
            let mut out = String::new();
            md5_hex(input.as_bytes(), &mut out);
            assert_eq!(out, want);
        }
    }
}
