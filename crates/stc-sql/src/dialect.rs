//! sqlparser dialect for Flink SQL.
//!
//! Flink's SQL is Calcite's with back-quoted identifiers. What sqlparser cannot parse with any
//! built-in dialect is handled here (expression-level) or in [`crate::parser`]
//! (statement-level):
//!
//! * `TABLE t` as a function argument (window TVFs: `TUMBLE(TABLE t, DESCRIPTOR(ts), …)`),
//!   optionally followed by `PARTITION BY k, …` (the SESSION TVF). It becomes a call of the
//!   marker function [`TABLE_ARG_FN`] whose first argument names the table.
//! * `FOR SYSTEM_TIME AS OF` after a table (temporal joins): enabled through
//!   `supports_table_versioning`, so it is parsed and can be rejected explicitly instead of
//!   being silently dropped.

use sqlparser::ast::{
    Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
    ObjectName, ObjectNamePart,
};
use sqlparser::dialect::Dialect;
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::Token;

/// Name of the marker function standing for a `TABLE t` argument.
pub const TABLE_ARG_FN: &str = "__stc_table_arg";

#[derive(Debug, Default, Clone, Copy)]
pub struct FlinkDialect;

impl Dialect for FlinkDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_alphabetic() || ch == '_' || ch == '$'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`'
    }

    fn supports_table_versioning(&self) -> bool {
        true
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        true
    }

    fn supports_window_function_null_treatment_arg(&self) -> bool {
        true
    }

    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        // `TABLE name [PARTITION BY a, b]` inside a function's argument list.
        let is_table_arg = matches!(parser.peek_token().token, Token::Word(ref w) if w.keyword == Keyword::TABLE)
            && matches!(parser.peek_nth_token(1).token, Token::Word(_));
        if !is_table_arg {
            return None;
        }
        Some(parse_table_arg(parser))
    }
}

fn parse_table_arg(parser: &mut Parser) -> Result<Expr, ParserError> {
    parser.expect_keyword_is(Keyword::TABLE)?;
    let name = parser.parse_object_name(false)?;
    let mut args = vec![FunctionArg::Unnamed(FunctionArgExpr::Expr(
        Expr::CompoundIdentifier(
            name.0
                .iter()
                .filter_map(|p| p.as_ident().cloned())
                .collect(),
        ),
    ))];
    if parser.parse_keywords(&[Keyword::PARTITION, Keyword::BY]) {
        let keys = parser.parse_comma_separated(Parser::parse_expr)?;
        args.extend(
            keys.into_iter()
                .map(|k| FunctionArg::Unnamed(FunctionArgExpr::Expr(k))),
        );
    }
    Ok(Expr::Function(Function {
        name: ObjectName(vec![ObjectNamePart::Identifier(Ident::new(TABLE_ARG_FN))]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args,
            clauses: vec![],
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: vec![],
    }))
}
