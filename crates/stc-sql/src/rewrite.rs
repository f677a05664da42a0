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
                if (name == "timestampadd" || name == "timestampdiff")
                    && let FunctionArguments::List(l) = &mut f.args
                    && let Some(FunctionArg::Unnamed(FunctionArgExpr::Expr(Expr::Identifier(unit)))) =
                        l.args.first_mut()
                {
                    let u = unit.value.to_ascii_uppercase();
                    l.args[0] = FunctionArg::Unnamed(FunctionArgExpr::Expr(string_lit(&u)));
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
            } => {
                let u = unit.to_string().to_ascii_uppercase();
                *expr = func("flink_floor_time", vec![(**inner).clone(), string_lit(&u)]);
            }
            Expr::Ceil {
                expr: inner,
                field: CeilFloorKind::DateTimeField(unit),
            } => {
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
