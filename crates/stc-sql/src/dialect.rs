//! sqlparser dialect for Flink SQL.
//!
//! Flink's SQL is Calcite's with back-quoted identifiers. What sqlparser cannot parse with any
//! built-in dialect is handled here (expression-level) or in [`crate::parser`]
//! (statement-level):
//!
//! * `TABLE t` as a function argument (window TVFs: `TUMBLE(TABLE t, DESCRIPTOR(ts), …)`),
//!   optionally followed by `PARTITION BY k` or `PARTITION BY (k1, k2)` (the SESSION TVF). It becomes a call of the
//!   marker function [`TABLE_ARG_FN`] whose first argument names the table.
//! * `JSON_VALUE(json, path [RETURNING type] [{NULL | ERROR | DEFAULT x} ON EMPTY]
//!   [{NULL | ERROR | DEFAULT x} ON ERROR])`: becomes `json_value(json, path, on_empty,
//!   empty_default, on_error, error_default)` (behaviours as string literals, defaults cast to
//!   STRING), inside a `CAST(… AS type)` for RETURNING.
//! * `MAP[k1, v1, k2, v2, …]`, Flink's map constructor: becomes sqlparser's map literal, which
//!   DataFusion plans as `map(make_array(keys), make_array(values))`.
//! * `FOR SYSTEM_TIME AS OF` after a table (temporal joins): enabled through
//!   `supports_table_versioning`, so it is parsed and can be rejected explicitly instead of
//!   being silently dropped.

use sqlparser::ast::{
    CastKind, DataType, Expr, Function, FunctionArg, FunctionArgExpr, FunctionArgumentList,
    FunctionArguments, Ident, Map, MapEntry, ObjectName, ObjectNamePart, Value,
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
        if word_is(parser, 0, "JSON_VALUE") && parser.peek_nth_token(1).token == Token::LParen {
            return Some(parse_json_value(parser));
        }
        if word_is(parser, 0, "MAP") && parser.peek_nth_token(1).token == Token::LBracket {
            return Some(parse_map_constructor(parser));
        }
        // `TABLE name [PARTITION BY a, b]` inside a function's argument list.
        let is_table_arg = matches!(parser.peek_token().token, Token::Word(ref w) if w.keyword == Keyword::TABLE)
            && matches!(parser.peek_nth_token(1).token, Token::Word(_));
        if !is_table_arg {
            return None;
        }
        Some(parse_table_arg(parser))
    }
}

/// Whether the `n`-th next token is the (unquoted) word `w`.
fn word_is(parser: &Parser, n: usize, w: &str) -> bool {
    matches!(&parser.peek_nth_token(n).token, Token::Word(word) if word.quote_style.is_none() && word.value.eq_ignore_ascii_case(w))
}

/// Consumes the word `w` if it is next.
fn eat_word(parser: &mut Parser, w: &str) -> bool {
    if word_is(parser, 0, w) {
        parser.next_token();
        true
    } else {
        false
    }
}

fn call(name: &str, args: Vec<Expr>) -> Expr {
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

fn cast(expr: Expr, data_type: DataType) -> Expr {
    Expr::Cast {
        kind: CastKind::Cast,
        expr: Box::new(expr),
        data_type,
        array: false,
        format: None,
    }
}

fn parse_json_value(parser: &mut Parser) -> Result<Expr, ParserError> {
    parser.next_token(); // JSON_VALUE
    parser.expect_token(&Token::LParen)?;
    let doc = parser.parse_expr()?;
    parser.expect_token(&Token::Comma)?;
    let path = parser.parse_expr()?;
    let returning = if parser.parse_keyword(Keyword::RETURNING) {
        Some(parser.parse_data_type()?)
    } else {
        None
    };
    let null = || Expr::Value(Value::Null.into());
    // (behaviour, default) for ON EMPTY and ON ERROR, in this order as Flink requires.
    let mut clauses: [Option<(&str, Expr)>; 2] = [None, None];
    loop {
        let (behaviour, default) = if parser.parse_keyword(Keyword::NULL) {
            ("NULL", null())
        } else if eat_word(parser, "ERROR") {
            ("ERROR", null())
        } else if parser.parse_keyword(Keyword::DEFAULT) {
            (
                "DEFAULT",
                cast(parser.parse_expr()?, DataType::String(None)),
            )
        } else {
            break;
        };
        parser.expect_keyword_is(Keyword::ON)?;
        let slot = if eat_word(parser, "EMPTY") {
            if clauses[0].is_some() || clauses[1].is_some() {
                return parser.expected("ON EMPTY before ON ERROR, once", parser.peek_token());
            }
            0
        } else if eat_word(parser, "ERROR") {
            if clauses[1].is_some() {
                return parser.expected("a single ON ERROR clause", parser.peek_token());
            }
            1
        } else {
            return parser.expected("EMPTY or ERROR", parser.peek_token());
        };
        clauses[slot] = Some((behaviour, default));
    }
    parser.expect_token(&Token::RParen)?;
    let mut args = vec![doc, path];
    if clauses.iter().any(Option::is_some) {
        for c in clauses {
            let (b, d) = c.unwrap_or(("NULL", null()));
            args.push(Expr::Value(Value::SingleQuotedString(b.to_string()).into()));
            args.push(d);
        }
    }
    let call = call("json_value", args);
    Ok(match returning {
        Some(t) => cast(call, t),
        None => call,
    })
}

fn parse_map_constructor(parser: &mut Parser) -> Result<Expr, ParserError> {
    parser.next_token(); // MAP
    parser.expect_token(&Token::LBracket)?;
    let items = parser.parse_comma_separated(Parser::parse_expr)?;
    parser.expect_token(&Token::RBracket)?;
    if items.len() % 2 != 0 {
        return Err(ParserError::ParserError(
            "MAP[...] needs an even number of arguments: MAP[key1, value1, key2, value2, ...]"
                .into(),
        ));
    }
    let mut it = items.into_iter();
    let mut entries = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        entries.push(MapEntry {
            key: Box::new(k),
            value: Box::new(v),
        });
    }
    Ok(Expr::Map(Map { entries }))
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
        // `PARTITION BY k` or `PARTITION BY (k1, k2)`: an unparenthesised list would swallow
        // the TVF's following arguments.
        let keys = if parser.consume_token(&Token::LParen) {
            let keys = parser.parse_comma_separated(Parser::parse_expr)?;
            parser.expect_token(&Token::RParen)?;
            keys
        } else {
            vec![parser.parse_expr()?]
        };
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
