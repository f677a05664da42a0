//! Rewrites of the sqlparser AST from Flink's spelling to what DataFusion plans.
//!
//! * Function names are matched case-insensitively (Flink's rule) while identifiers stay
//!   case-sensitive, so unquoted function names are lower-cased here.
//! * `TUMBLE_START(ts, i)` & co. become `get_field(tumble(ts, i), 'window_start')`: an
//!   expression over the group key `tumble(ts, i)`, which DataFusion accepts in the SELECT
//!   list of the aggregate.
//! * `TIMESTAMPADD(MINUTE, n, ts)` / `TIMESTAMPDIFF(SECOND, a, b)`: the unit keyword becomes a
//!   string literal argument.
//! * `FLOOR(ts TO HOUR)` / `CEIL(ts TO HOUR)` become `flink_floor_time(ts, 'HOUR')` /
//!   `flink_ceil_time(ts, 'HOUR')`.
//! * `LISTAGG(x[, sep])` becomes DataFusion's `string_agg(x, sep)` (separator `,` by default).
//! * A `CAST` argument of an aggregate call is wrapped in `flink_named_cast(…)`, whose column
//!   name keeps the target type: DataFusion names `AVG(CAST(a AS DOUBLE))` like `AVG(a)` and
//!   rejects the two side by side.
//! * `LIKE` patterns: Flink has no default escape character (a backslash is literal) while
//!   DataFusion escapes with a backslash, and DataFusion accepts no other `ESCAPE` character;
//!   a literal pattern is rewritten into DataFusion's backslash form.

use std::ops::ControlFlow;

use sqlparser::ast::{
    CeilFloorKind, DateTimeField, Expr, Function, FunctionArg, FunctionArgExpr,
    FunctionArgumentList, FunctionArguments, Ident, ObjectName, ObjectNamePart, Query, SelectItem,
    SetExpr, Value, VisitMut, VisitorMut,
};

use crate::dialect::TABLE_ARG_FN;

fn func(name: &str, args: Vec<Expr>) -> Expr {
    Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(name))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|a| FunctionArg::Unnamed(FunctionArgExpr::Expr(a)))
                .collect(),
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    })
}

fn string_lit(s: &str) -> Expr {
    Expr::Value(Value::SingleQuotedString(s.to_string()).into())
}

fn plain_args(f: &Function) -> Option<Vec<Expr>> {
    match &f.args {
        FunctionArguments::List(l) => l
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.clone()),
                _ => None,
            })
            .collect(),
        FunctionArguments::None => Some(vec![]),
        _ => None,
    }
}

struct FlinkRewriter;

/// Aggregate functions whose `CAST` arguments get a distinct column name.
const AGGREGATES: [&str; 10] = [
    "avg",
    "sum",
    "min",
    "max",
    "count",
    "first_value",
    "last_value",
    "listagg",
    "string_agg",
    "stddev",
];

/// A Flink LIKE pattern with escape character `escape` (none: every character literal but `%`
/// and `_`) in DataFusion's form, where a backslash escapes the next character. `None` when
/// the pattern ends in the escape character (Flink rejects that too).
fn like_pattern(pattern: &str, escape: Option<char>) -> Option<String> {
    let mut out = String::with_capacity(pattern.len() + 4);
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if Some(c) == escape {
            let next = chars.next()?;
            out.push('\\');
            out.push(next);
        } else if c == '\\' {
            out.push_str("\\\\");
        } else {
            out.push(c);
        }
    }
    Some(out)
}

fn literal_string(e: &Expr) -> Option<&str> {
    match e {
        Expr::Value(v) => match &v.value {
            Value::SingleQuotedString(s) => Some(s),
            _ => None,
        },
        _ => None,
    }
}

/// Names unaliased expression columns of a SELECT list `EXPR$<position>`, as Flink does.
/// Besides matching Flink's column names, this keeps DataFusion from rejecting two
/// expressions whose display names coincide (e.g. `TRY_CAST(s AS INT)` and
/// `TRY_CAST(s AS DOUBLE)`).
///
/// An unaliased field access `row_col.field` (a compound identifier) is named after its last
/// part, as Flink names it (`SELECT person.id` gives a column `id`; DataFusion would call it
/// `person[id]`), unless another item of the list gets that name too (`A.dateTime,
/// B.dateTime`), where DataFusion's qualified names keep the two apart.
fn name_expression_columns(body: &mut SetExpr) {
    match body {
        SetExpr::Select(sel) => {
            let mut names: Vec<String> = Vec::new();
            for item in &sel.projection {
                match item {
                    SelectItem::UnnamedExpr(Expr::Identifier(id)) => names.push(id.value.clone()),
                    SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) => {
                        names.extend(parts.last().map(|p| p.value.clone()))
                    }
                    SelectItem::ExprWithAlias { alias, .. } => names.push(alias.value.clone()),
                    _ => {}
                }
            }
            for item in sel.projection.iter_mut() {
                if let SelectItem::UnnamedExpr(Expr::CompoundIdentifier(parts)) = item
                    && let Some(last) = parts.last()
                    && parts.len() >= 2
                    && names.iter().filter(|n| **n == last.value).count() == 1
                {
                    *item = SelectItem::ExprWithAlias {
                        expr: Expr::CompoundIdentifier(parts.clone()),
                        alias: last.clone(),
                    };
                }
            }
            for (i, item) in sel.projection.iter_mut().enumerate() {
                if let SelectItem::UnnamedExpr(e) = item
                    && !matches!(e, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
                {
                    *item = SelectItem::ExprWithAlias {
                        expr: e.clone(),
                        alias: Ident::new(format!("EXPR${i}")),
                    };
                }
            }
        }
        SetExpr::SetOperation { left, right, .. } => {
            name_expression_columns(left);
            name_expression_columns(right);
        }
        SetExpr::Query(q) => name_expression_columns(&mut q.body),
        _ => {}
    }
}

impl VisitorMut for FlinkRewriter {
    type Break = ();

    fn post_visit_query(&mut self, query: &mut Query) -> ControlFlow<()> {
        name_expression_columns(&mut query.body);
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        match expr {
            Expr::Function(f) => {
                if let [ObjectNamePart::Identifier(id)] = f.name.0.as_mut_slice()
                    && id.quote_style.is_none()
                    && id.value != TABLE_ARG_FN
                {
                    id.value = id.value.to_ascii_lowercase();
                }
                let name = f.name.to_string();
                let aux = [
                    ("tumble_start", "tumble", "window_start"),
                    ("tumble_end", "tumble", "window_end"),
                    ("tumble_rowtime", "tumble", "window_time"),
                    ("hop_start", "hop", "window_start"),
                    ("hop_end", "hop", "window_end"),
                    ("hop_rowtime", "hop", "window_time"),
                    ("session_start", "session", "window_start"),
                    ("session_end", "session", "window_end"),
                    ("session_rowtime", "session", "window_time"),
                ];
                if let Some((_, group_fn, field)) = aux.iter().find(|(n, _, _)| *n == name)
                    && let Some(args) = plain_args(f)
                {
                    *expr = func("get_field", vec![func(group_fn, args), string_lit(field)]);
                    return ControlFlow::Continue(());
                }
                if AGGREGATES.contains(&name.as_str())
                    && let FunctionArguments::List(l) = &mut f.args
                {
                    for a in l.args.iter_mut() {
                        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) = a
                            && matches!(e, Expr::Cast { .. })
                        {
                            *e = func("flink_named_cast", vec![e.clone()]);
                        }
                    }
                }
                if name == "listagg"
                    && let FunctionArguments::List(l) = &mut f.args
                {
                    f.name = ObjectName(vec![ObjectNamePart::Identifier(Ident::new("string_agg"))]);
                    if l.args.len() == 1 {
                        l.args
                            .push(FunctionArg::Unnamed(FunctionArgExpr::Expr(string_lit(","))));
                    }
                    return ControlFlow::Continue(());
                }
                if (name == "timestampadd" || name == "timestampdiff")
                    && let FunctionArguments::List(l) = &mut f.args
                    && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(unit)))) =
                        l.args.first_mut()
                {
                    let u = unit.value.to_ascii_uppercase();
                    l.args[0] = FunctionArg::Unnamed(FunctionArgExpr::Expr(string_lit(&u)));
                }
            }
            Expr::Like {
                pattern,
                escape_char,
                ..
            } => {
                let escape = match escape_char.as_ref().map(|v| &v.value) {
                    None => Some(None),
                    Some(Value::SingleQuotedString(e)) if e.chars().count() == 1 => {
                        Some(e.chars().next())
                    }
                    _ => None,
                };
                if let (Some(escape), Some(p)) = (escape, literal_string(pattern))
                    && let Some(rewritten) = like_pattern(p, escape)
                {
                    **pattern = string_lit(&rewritten);
                    *escape_char = Some(Value::SingleQuotedString("\\".into()).into());
                }
            }
            // DataFusion's date_part counts days of the week from Sunday = 0, Flink from
            // Sunday = 1.
            Expr::Extract {
                field: DateTimeField::Dow | DateTimeField::DayOfWeek,
                expr: inner,
                ..
            } => {
                *expr = func("dayofweek", vec![(**inner).clone()]);
            }
            Expr::Floor {
                expr: inner,
                field: CeilFloorKind::DateTimeField(unit),
            } if *unit != DateTimeField::NoDateTime => {
                let u = unit.to_string().to_ascii_uppercase();
                *expr = func("flink_floor_time", vec![(**inner).clone(), string_lit(&u)]);
            }
            Expr::Ceil {
                expr: inner,
                field: CeilFloorKind::DateTimeField(unit),
            } if *unit != DateTimeField::NoDateTime => {
                let u = unit.to_string().to_ascii_uppercase();
                *expr = func("flink_ceil_time", vec![(**inner).clone(), string_lit(&u)]);
            }
            _ => {}
        }
        ControlFlow::Continue(())
    }
}

/// Applies every rewrite to a statement or query in place.
pub fn rewrite<T: VisitMut>(node: &mut T) {
    let _ = node.visit(&mut FlinkRewriter);
}

#[cfg(test)]
mod tests {
    use super::like_pattern;

    #[test]
    fn like_patterns_move_to_backslash_escapes() {
        assert_eq!(like_pattern("%!%%", Some('!')).as_deref(), Some("%\\%%"));
        assert_eq!(like_pattern("a!_%", Some('!')).as_deref(), Some("a\\_%"));
        assert_eq!(like_pattern("a!!b", Some('!')).as_deref(), Some("a\\!b"));
        // Without ESCAPE a backslash is an ordinary character in Flink.
        assert_eq!(like_pattern("a\\b%", None).as_deref(), Some("a\\\\b%"));
        assert_eq!(like_pattern("ab!", Some('!')), None);
    }
}
