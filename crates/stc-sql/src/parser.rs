//! Flink SQL scripts → statements.
//!
//! The script is tokenized once (so every location is absolute in the script), split into
//! statements at top-level `;` (an `EXECUTE STATEMENT SET BEGIN … END` block is one
//! statement), and each statement is parsed from its own tokens. Statements sqlparser knows
//! (queries, `INSERT`) are delegated to it; Flink-only ones (`CREATE TABLE` with computed
//! and metadata columns, `WATERMARK`, Flink types, `SET 'k' = 'v'`, statement sets) are parsed
//! here with sqlparser's token API, in the style of DataFusion's `DFParser`.

use std::collections::BTreeMap;

use datafusion::arrow::datatypes::{DataType, Field, Fields, TimeUnit};
use sqlparser::ast::{Expr, Ident, ObjectName, Query, Statement as SqlStatement};
use sqlparser::keywords::Keyword;
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{Location, Token, TokenWithSpan, Tokenizer};

use crate::dialect::FlinkDialect;
use crate::error::{Result, SqlError};

/// One statement of a script, with where it starts.
#[derive(Debug, Clone)]
pub struct Located<T> {
    /// 1-based statement number in the script.
    pub index: usize,
    pub location: Location,
    pub node: T,
}

#[derive(Debug, Clone)]
pub enum FlinkStatement {
    CreateTable(Box<CreateTable>),
    CreateView {
        name: ObjectName,
        columns: Vec<Ident>,
        query: Box<Query>,
        temporary: bool,
        if_not_exists: bool,
    },
    Insert(Box<SqlStatement>),
    StatementSet(Vec<Located<SqlStatement>>),
    Set {
        key: String,
        value: String,
    },
    Reset {
        key: Option<String>,
    },
    Query(Box<Query>),
}

#[derive(Debug, Clone)]
pub struct CreateTable {
    pub name: ObjectName,
    pub temporary: bool,
    pub if_not_exists: bool,
    pub columns: Vec<ColumnDef>,
    pub watermark: Option<(Ident, Expr)>,
    pub primary_key: Vec<Ident>,
    pub partitioned_by: Vec<Ident>,
    pub options: BTreeMap<String, String>,
    pub like: Option<LikeClause>,
    pub comment: Option<String>,
}

#[derive(Debug, Clone)]
pub struct LikeClause {
    pub source: ObjectName,
    /// `(INCLUDING ALL, EXCLUDING OPTIONS, OVERWRITING WATERMARKS, …)` as written.
    pub options: Vec<(String, String)>,
}

#[derive(Debug, Clone)]
pub enum ColumnKind {
    Physical,
    /// `name AS expr`.
    Computed(Box<Expr>),
    /// `name TYPE METADATA [FROM 'key'] [VIRTUAL]`.
    Metadata {
        key: Option<String>,
        is_virtual: bool,
    },
}

#[derive(Debug, Clone)]
pub struct ColumnDef {
    pub name: Ident,
    /// `None` for computed columns (their type is the expression's).
    pub data_type: Option<DataType>,
    pub nullable: bool,
    pub kind: ColumnKind,
    pub location: Location,
}

/// Parses a whole script.
pub fn parse_script(sql: &str) -> Result<Vec<Located<FlinkStatement>>> {
    let dialect = FlinkDialect;
    let tokens = Tokenizer::new(&dialect, sql)
        .tokenize_with_location()
        .map_err(|e| {
            SqlError::parse(
                0,
                Location {
                    line: e.location.line,
                    column: e.location.column,
                },
                e.message,
            )
        })?;
    let mut out = Vec::new();
    for (i, stmt_tokens) in split_statements(tokens).into_iter().enumerate() {
        let location = stmt_tokens
            .first()
            .map(|t| t.span.start)
            .unwrap_or(Location { line: 0, column: 0 });
        let node = parse_statement(stmt_tokens, i + 1)?;
        out.push(Located {
            index: i + 1,
            location,
            node,
        });
    }
    Ok(out)
}

fn is_word(t: &Token, kw: Keyword) -> bool {
    matches!(t, Token::Word(w) if w.keyword == kw)
}

fn is_trivia(t: &Token) -> bool {
    matches!(t, Token::Whitespace(_))
}

/// Splits tokens at top-level semicolons, keeping `EXECUTE STATEMENT SET BEGIN … END` whole.
fn split_statements(tokens: Vec<TokenWithSpan>) -> Vec<Vec<TokenWithSpan>> {
    let mut stmts = Vec::new();
    let mut cur: Vec<TokenWithSpan> = Vec::new();
    let mut in_set = false;
    for t in tokens {
        if matches!(t.token, Token::EOF) {
            break;
        }
        if cur.iter().all(|c| is_trivia(&c.token)) && is_trivia(&t.token) {
            continue;
        }
        let significant: Vec<&Token> = cur
            .iter()
            .map(|c| &c.token)
            .filter(|c| !is_trivia(c))
            .collect();
        if !in_set
            && significant.len() == 3
            && is_word(significant[0], Keyword::EXECUTE)
            && matches!(significant[1], Token::Word(w) if w.value.eq_ignore_ascii_case("STATEMENT"))
            && is_word(significant[2], Keyword::SET)
            && is_word(&t.token, Keyword::BEGIN)
        {
            in_set = true;
        }
        if in_set && is_word(&t.token, Keyword::END) {
            in_set = false;
        }
        if matches!(t.token, Token::SemiColon) && !in_set {
            if cur.iter().any(|c| !is_trivia(&c.token)) {
                stmts.push(std::mem::take(&mut cur));
            }
            cur.clear();
            continue;
        }
        cur.push(t);
    }
    if cur.iter().any(|c| !is_trivia(&c.token)) {
        stmts.push(cur);
    }
    stmts
}

struct StmtParser<'a> {
    p: Parser<'a>,
    index: usize,
    /// Pending `>` from a `>>` token split while parsing nested types.
    pending_gt: usize,
}

fn parser_error(index: usize, e: ParserError, at: Location) -> SqlError {
    let msg = match e {
        ParserError::ParserError(m) | ParserError::TokenizerError(m) => m,
        ParserError::RecursionLimitExceeded => "statement nested too deeply".to_string(),
    };
    // sqlparser appends " at Line: x, Column: y"; we report the location ourselves.
    let (msg, loc) = match msg.rfind(" at Line: ") {
        Some(pos) => {
            let tail = &msg[pos + " at Line: ".len()..];
            let mut parts = tail.split(", Column: ");
            let line = parts.next().and_then(|l| l.trim().parse().ok());
            let col = parts.next().and_then(|c| c.trim().parse().ok());
            match (line, col) {
                (Some(line), Some(column)) => (msg[..pos].to_string(), Location { line, column }),
                _ => (msg.clone(), at),
            }
        }
        None => (msg, at),
    };
    SqlError::parse(index, loc, msg)
}

static DIALECT: FlinkDialect = FlinkDialect;

fn parse_statement(tokens: Vec<TokenWithSpan>, index: usize) -> Result<FlinkStatement> {
    let start = tokens
        .first()
        .map(|t| t.span.start)
        .unwrap_or(Location { line: 0, column: 0 });
    let mut sp = StmtParser {
        p: Parser::new(&DIALECT).with_tokens_with_locations(tokens),
        index,
        pending_gt: 0,
    };
    let stmt = sp.statement().map_err(|e| parser_error(index, e, start))?;
    // Anything left over is an error (sqlparser would otherwise ignore it silently).
    let rest = sp.p.peek_token();
    if !matches!(rest.token, Token::EOF) {
        return Err(SqlError::parse(
            index,
            rest.span.start,
            format!("unexpected '{}' after the end of the statement", rest.token),
        ));
    }
    Ok(stmt)
}

impl StmtParser<'_> {
    /// Consumes `word` (case-insensitive) if it is next; for Flink keywords sqlparser lacks.
    fn word(&mut self, word: &str) -> bool {
        self.words(&[word])
    }

    fn words(&mut self, words: &[&str]) -> bool {
        for (i, w) in words.iter().enumerate() {
            match self.p.peek_nth_token(i).token {
                Token::Word(ref x) if x.value.eq_ignore_ascii_case(w) => {}
                _ => return false,
            }
        }
        for _ in words {
            self.p.next_token();
        }
        true
    }

    fn peek_word(&self, n: usize) -> Option<String> {
        match self.p.peek_nth_token(n).token {
            Token::Word(w) => Some(w.value.to_ascii_uppercase()),
            _ => None,
        }
    }

    fn statement(&mut self) -> std::result::Result<FlinkStatement, ParserError> {
        let first = self.peek_word(0).unwrap_or_default();
        match first.as_str() {
            "CREATE" => {
                let temp = self.peek_word(1).as_deref() == Some("TEMPORARY");
                let what = self.peek_word(if temp { 2 } else { 1 }).unwrap_or_default();
                match what.as_str() {
                    "TABLE" => Ok(FlinkStatement::CreateTable(Box::new(self.create_table()?))),
                    "VIEW" => self.create_view(),
                    "FUNCTION" | "SYSTEM" => {
                        Err(unsupported("CREATE FUNCTION (user-defined functions)"))
                    }
                    "CATALOG" | "DATABASE" => Err(unsupported(&format!("CREATE {what}"))),
                    other => Err(ParserError::ParserError(format!(
                        "Expected: TABLE, VIEW or FUNCTION after CREATE, found: {other}"
                    ))),
                }
            }
            "INSERT" => {
                let stmt = self.p.parse_statement()?;
                Ok(FlinkStatement::Insert(Box::new(stmt)))
            }
            "EXECUTE" => self.statement_set(),
            "SET" => self.set(),
            "RESET" => {
                self.p.next_token();
                let key = if matches!(self.p.peek_token().token, Token::EOF) {
                    None
                } else {
                    Some(self.p.parse_literal_string()?)
                };
                Ok(FlinkStatement::Reset { key })
            }
            "SELECT" | "WITH" | "VALUES" | "(" => Ok(FlinkStatement::Query(self.p.parse_query()?)),
            "" if matches!(self.p.peek_token().token, Token::LParen) => {
                Ok(FlinkStatement::Query(self.p.parse_query()?))
            }
            "DROP" | "ALTER" | "USE" | "SHOW" | "DESCRIBE" | "DESC" | "EXPLAIN" | "LOAD"
            | "UNLOAD" | "ANALYZE" | "TRUNCATE" | "DELETE" | "UPDATE" | "CALL" | "ADD"
            | "REMOVE" => Err(unsupported(&format!("the {first} statement"))),
            _ => Err(ParserError::ParserError(format!(
                "Expected: a statement (CREATE TABLE, CREATE VIEW, INSERT INTO, EXECUTE STATEMENT SET, SET, SELECT), found: {}",
                self.p.peek_token().token
            ))),
        }
    }

    fn set(&mut self) -> std::result::Result<FlinkStatement, ParserError> {
        self.p.expect_keyword_is(Keyword::SET)?;
        let key = self.p.parse_literal_string()?;
        self.p.expect_token(&Token::Eq)?;
        let value = self.p.parse_literal_string()?;
        Ok(FlinkStatement::Set { key, value })
    }

    fn statement_set(&mut self) -> std::result::Result<FlinkStatement, ParserError> {
        self.p.expect_keyword_is(Keyword::EXECUTE)?;
        let w = self.p.next_token();
        if !matches!(&w.token, Token::Word(x) if x.value.eq_ignore_ascii_case("STATEMENT")) {
            return self.p.expected("STATEMENT SET after EXECUTE", w);
        }
        self.p.expect_keyword_is(Keyword::SET)?;
        self.p.expect_keyword_is(Keyword::BEGIN)?;
        let mut inserts = Vec::new();
        loop {
            while self.p.consume_token(&Token::SemiColon) {}
            if self.p.parse_keyword(Keyword::END) {
                break;
            }
            let loc = self.p.peek_token().span.start;
            if self.peek_word(0).as_deref() != Some("INSERT") {
                return self.p.expected(
                    "INSERT INTO or END inside EXECUTE STATEMENT SET",
                    self.p.peek_token(),
                );
            }
            let stmt = self.p.parse_statement()?;
            inserts.push(Located {
                index: self.index,
                location: loc,
                node: stmt,
            });
        }
        Ok(FlinkStatement::StatementSet(inserts))
    }

    fn create_view(&mut self) -> std::result::Result<FlinkStatement, ParserError> {
        self.p.expect_keyword_is(Keyword::CREATE)?;
        let temporary = self.p.parse_keyword(Keyword::TEMPORARY);
        self.p.expect_keyword_is(Keyword::VIEW)?;
        let if_not_exists = self
            .p
            .parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = self.p.parse_object_name(false)?;
        let columns = if self.p.consume_token(&Token::LParen) {
            let cols = self.p.parse_comma_separated(|p| p.parse_identifier())?;
            self.p.expect_token(&Token::RParen)?;
            cols
        } else {
            vec![]
        };
        if self.p.parse_keyword(Keyword::COMMENT) {
            self.p.parse_literal_string()?;
        }
        self.p.expect_keyword_is(Keyword::AS)?;
        let query = self.p.parse_query()?;
        Ok(FlinkStatement::CreateView {
            name,
            columns,
            query,
            temporary,
            if_not_exists,
        })
    }

    fn create_table(&mut self) -> std::result::Result<CreateTable, ParserError> {
        self.p.expect_keyword_is(Keyword::CREATE)?;
        let temporary = self.p.parse_keyword(Keyword::TEMPORARY);
        self.p.expect_keyword_is(Keyword::TABLE)?;
        let if_not_exists = self
            .p
            .parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
        let name = self.p.parse_object_name(false)?;
        let mut t = CreateTable {
            name,
            temporary,
            if_not_exists,
            columns: vec![],
            watermark: None,
            primary_key: vec![],
            partitioned_by: vec![],
            options: BTreeMap::new(),
            like: None,
            comment: None,
        };
        if self.p.consume_token(&Token::LParen) {
            loop {
                self.table_element(&mut t)?;
                if self.p.consume_token(&Token::Comma) {
                    continue;
                }
                self.p.expect_token(&Token::RParen)?;
                break;
            }
        }
        loop {
            if self.p.parse_keyword(Keyword::COMMENT) {
                t.comment = Some(self.p.parse_literal_string()?);
            } else if self.words(&["PARTITIONED", "BY"]) {
                self.p.expect_token(&Token::LParen)?;
                t.partitioned_by = self.p.parse_comma_separated(|p| p.parse_identifier())?;
                self.p.expect_token(&Token::RParen)?;
            } else if self.p.parse_keyword(Keyword::WITH) {
                self.p.expect_token(&Token::LParen)?;
                if !self.p.consume_token(&Token::RParen) {
                    loop {
                        let key = self.p.parse_literal_string()?;
                        self.p.expect_token(&Token::Eq)?;
                        let value = self.p.parse_literal_string()?;
                        t.options.insert(key, value);
                        if self.p.consume_token(&Token::Comma) {
                            continue;
                        }
                        self.p.expect_token(&Token::RParen)?;
                        break;
                    }
                }
            } else if self.p.parse_keyword(Keyword::LIKE) {
                let source = self.p.parse_object_name(false)?;
                let mut options = Vec::new();
                if self.p.consume_token(&Token::LParen) {
                    loop {
                        let strategy = self.p.parse_identifier()?.value.to_ascii_uppercase();
                        let what = self.p.parse_identifier()?.value.to_ascii_uppercase();
                        options.push((strategy, what));
                        if self.p.consume_token(&Token::Comma) {
                            continue;
                        }
                        self.p.expect_token(&Token::RParen)?;
                        break;
                    }
                }
                t.like = Some(LikeClause { source, options });
            } else if self.p.parse_keyword(Keyword::AS) {
                return Err(unsupported("CREATE TABLE … AS SELECT"));
            } else {
                break;
            }
        }
        Ok(t)
    }

    fn table_element(&mut self, t: &mut CreateTable) -> std::result::Result<(), ParserError> {
        if self.word("WATERMARK") {
            self.p.expect_keyword_is(Keyword::FOR)?;
            let col = self.p.parse_identifier()?;
            self.p.expect_keyword_is(Keyword::AS)?;
            let expr = self.p.parse_expr()?;
            t.watermark = Some((col, expr));
            return Ok(());
        }
        if self.p.parse_keyword(Keyword::CONSTRAINT) {
            self.p.parse_identifier()?;
        }
        if self.p.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY]) {
            self.p.expect_token(&Token::LParen)?;
            t.primary_key = self.p.parse_comma_separated(|p| p.parse_identifier())?;
            self.p.expect_token(&Token::RParen)?;
            self.not_enforced()?;
            return Ok(());
        }
        let location = self.p.peek_token().span.start;
        let name = self.p.parse_identifier()?;
        if self.p.parse_keyword(Keyword::AS) {
            let expr = self.p.parse_expr()?;
            self.column_comment()?;
            t.columns.push(ColumnDef {
                name,
                data_type: None,
                nullable: true,
                kind: ColumnKind::Computed(Box::new(expr)),
                location,
            });
            return Ok(());
        }
        let (data_type, mut nullable) = self.flink_type()?;
        let mut kind = ColumnKind::Physical;
        loop {
            if self.word("METADATA") {
                let key = if self.p.parse_keyword(Keyword::FROM) {
                    Some(self.p.parse_literal_string()?)
                } else {
                    None
                };
                let is_virtual = self.word("VIRTUAL");
                kind = ColumnKind::Metadata { key, is_virtual };
            } else if self.p.parse_keywords(&[Keyword::PRIMARY, Keyword::KEY]) {
                self.not_enforced()?;
                t.primary_key = vec![name.clone()];
                nullable = false;
            } else if self.p.parse_keyword(Keyword::COMMENT) {
                self.p.parse_literal_string()?;
            } else {
                break;
            }
        }
        t.columns.push(ColumnDef {
            name,
            data_type: Some(data_type),
            nullable,
            kind,
            location,
        });
        Ok(())
    }

    fn column_comment(&mut self) -> std::result::Result<(), ParserError> {
        if self.p.parse_keyword(Keyword::COMMENT) {
            self.p.parse_literal_string()?;
        }
        Ok(())
    }

    fn not_enforced(&mut self) -> std::result::Result<(), ParserError> {
        if !self.words(&["NOT", "ENFORCED"]) {
            return Err(ParserError::ParserError(
                "Flink does not support ENFORCED mode for PRIMARY KEY constraints: write PRIMARY KEY (...) NOT ENFORCED"
                    .into(),
            ));
        }
        Ok(())
    }

    fn expect_gt(&mut self) -> std::result::Result<(), ParserError> {
        if self.pending_gt > 0 {
            self.pending_gt -= 1;
            return Ok(());
        }
        let t = self.p.next_token();
        match t.token {
            Token::Gt => Ok(()),
            Token::ShiftRight => {
                self.pending_gt += 1;
                Ok(())
            }
            _ => self.p.expected(">", t),
        }
    }

    fn precision(&mut self) -> std::result::Result<Option<u64>, ParserError> {
        if self.p.consume_token(&Token::LParen) {
            let n = self.p.parse_literal_uint()?;
            self.p.expect_token(&Token::RParen)?;
            Ok(Some(n))
        } else {
            Ok(None)
        }
    }

    /// A Flink data type, with its nullability (`NOT NULL`).
    pub fn flink_type(&mut self) -> std::result::Result<(DataType, bool), ParserError> {
        let tok = self.p.next_token();
        let Token::Word(w) = &tok.token else {
            return self.p.expected("a data type", tok);
        };
        let name = w.value.to_ascii_uppercase();
        let mut dt = match name.as_str() {
            "BOOLEAN" | "BOOL" => DataType::Boolean,
            "TINYINT" => DataType::Int8,
            "SMALLINT" => DataType::Int16,
            "INT" | "INTEGER" => DataType::Int32,
            "BIGINT" => DataType::Int64,
            "FLOAT" | "REAL" => DataType::Float32,
            "DOUBLE" => {
                let _ = self.p.parse_keyword(Keyword::PRECISION);
                DataType::Float64
            }
            "DECIMAL" | "DEC" | "NUMERIC" => {
                let (p, s) = if self.p.consume_token(&Token::LParen) {
                    let p = self.p.parse_literal_uint()?;
                    let s = if self.p.consume_token(&Token::Comma) {
                        self.p.parse_literal_uint()?
                    } else {
                        0
                    };
                    self.p.expect_token(&Token::RParen)?;
                    (p, s)
                } else {
                    (10, 0)
                };
                if !(1..=38).contains(&p) || s > p {
                    return Err(ParserError::ParserError(format!(
                        "DECIMAL precision must be between 1 and 38 and scale between 0 and the precision, found DECIMAL({p}, {s})"
                    )));
                }
                DataType::Decimal128(p as u8, s as i8)
            }
            "CHAR" | "VARCHAR" | "STRING" | "CHARACTER" => {
                if name == "CHARACTER" {
                    let _ = self.p.parse_keyword(Keyword::VARYING);
                }
                self.precision()?;
                DataType::Utf8
            }
            "BINARY" | "VARBINARY" | "BYTES" => {
                self.precision()?;
                DataType::Binary
            }
            "DATE" => DataType::Date32,
            "TIME" => {
                self.precision()?;
                if self.p.parse_keyword(Keyword::WITHOUT) {
                    self.p.expect_keyword_is(Keyword::TIME)?;
                    self.p.expect_keyword_is(Keyword::ZONE)?;
                }
                DataType::Time32(TimeUnit::Millisecond)
            }
            "TIMESTAMP" | "TIMESTAMP_LTZ" => {
                let p = self.precision()?.unwrap_or(6); // Flink's default precision for both
                let unit = timestamp_unit(p);
                let mut ltz = name == "TIMESTAMP_LTZ";
                if self.p.parse_keyword(Keyword::WITHOUT) {
                    self.p.expect_keyword_is(Keyword::TIME)?;
                    self.p.expect_keyword_is(Keyword::ZONE)?;
                } else if self.words(&["WITH", "LOCAL", "TIME", "ZONE"]) {
                    ltz = true;
                } else if self
                    .p
                    .parse_keywords(&[Keyword::WITH, Keyword::TIME, Keyword::ZONE])
                {
                    return Err(ParserError::ParserError(
                        "TIMESTAMP WITH TIME ZONE is not supported by Flink; use TIMESTAMP_LTZ or TIMESTAMP WITH LOCAL TIME ZONE".into(),
                    ));
                }
                DataType::Timestamp(unit, ltz.then(|| "UTC".into()))
            }
            "ARRAY" => {
                self.p.expect_token(&Token::Lt)?;
                let (inner, nullable) = self.flink_type()?;
                self.expect_gt()?;
                DataType::List(Field::new("element", inner, nullable).into())
            }
            "MULTISET" => return Err(unsupported("the MULTISET type")),
            "MAP" => {
                self.p.expect_token(&Token::Lt)?;
                let (k, _) = self.flink_type()?;
                self.p.expect_token(&Token::Comma)?;
                let (v, v_null) = self.flink_type()?;
                self.expect_gt()?;
                map_type(k, v, v_null)
            }
            "ROW" => {
                let angle = if self.p.consume_token(&Token::Lt) {
                    true
                } else {
                    self.p.expect_token(&Token::LParen)?;
                    false
                };
                let mut fields = Vec::new();
                loop {
                    let fname = self.p.parse_identifier()?;
                    let (ft, fnull) = self.flink_type()?;
                    if self.p.parse_keyword(Keyword::COMMENT) {
                        self.p.parse_literal_string()?;
                    }
                    fields.push(Field::new(fname.value, ft, fnull));
                    if self.p.consume_token(&Token::Comma) {
                        continue;
                    }
                    break;
                }
                if angle {
                    self.expect_gt()?;
                } else {
                    self.p.expect_token(&Token::RParen)?;
                }
                DataType::Struct(Fields::from(fields))
            }
            "INTERVAL" => return Err(unsupported("INTERVAL columns")),
            "RAW" => return Err(unsupported("the RAW type")),
            _ => {
                return Err(ParserError::ParserError(format!(
                    "unknown type '{}'. Valid types: BOOLEAN, TINYINT, SMALLINT, INT, BIGINT, FLOAT, DOUBLE, DECIMAL(p, s), CHAR(n), VARCHAR(n), STRING, BINARY(n), VARBINARY(n), BYTES, DATE, TIME(p), TIMESTAMP(p), TIMESTAMP_LTZ(p), ARRAY<t>, MAP<k, v>, ROW<name t, ...>",
                    w.value
                )));
            }
        };
        // Flink's postfix collection syntax: `INT ARRAY`.
        while self.p.parse_keyword(Keyword::ARRAY) {
            dt = DataType::List(Field::new("element", dt, true).into());
        }
        let nullable = if self.p.parse_keywords(&[Keyword::NOT, Keyword::NULL]) {
            false
        } else {
            let _ = self.p.parse_keyword(Keyword::NULL);
            true
        };
        Ok((dt, nullable))
    }
}

/// Arrow unit for a Flink timestamp precision.
pub fn timestamp_unit(precision: u64) -> TimeUnit {
    match precision {
        0..=3 => TimeUnit::Millisecond,
        4..=6 => TimeUnit::Microsecond,
        _ => TimeUnit::Nanosecond,
    }
}

pub fn map_type(k: DataType, v: DataType, value_nullable: bool) -> DataType {
    let entries = Field::new(
        "entries",
        DataType::Struct(Fields::from(vec![
            Field::new("key", k, false),
            Field::new("value", v, value_nullable),
        ])),
        false,
    );
    DataType::Map(entries.into(), false)
}

/// Marks a parse error as a feature we do not support yet.
fn unsupported(what: &str) -> ParserError {
    ParserError::ParserError(format!("{}{what}", crate::error::NOT_SUPPORTED_PREFIX))
}
