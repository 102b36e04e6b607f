//! Dependencies point one way (`web` → `services` → `models` → `db`): the layers below the
//! web edge never name `crate::web` or `crate::startup`. Read from the source files, so a
//! new import fails here before it becomes a cycle.

use std::path::{Path, PathBuf};

/// The layers that must not reach up, relative to `src/`.
const LOWER_LAYERS: [&str; 6] = ["services", "models", "db", "auth", "mail", "error.rs"];

/// The modules they must not name.
const FORBIDDEN: [&str; 2] = ["web", "startup"];

pub fn lower_layers_never_name_web_or_startup() {
    scanner_catches_every_spelling();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    for layer in LOWER_LAYERS {
        collect_rs(&src.join(layer), &mut files);
    }
    assert!(
        files.len() > 20,
        "found only {} files under {}",
        files.len(),
        src.display()
    );
    let mut offences = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).expect("read a source file");
        let depth = module_depth(&src, file);
        for found in forbidden_paths(&text, depth) {
            offences.push(format!(
                "{}: names crate::{found}",
                file.strip_prefix(&src).unwrap_or(file).display()
            ));
        }
    }
    assert!(
        offences.is_empty(),
        "services, models, db, auth, mail and error.rs must not depend on web or startup:\n{}",
        offences.join("\n")
    );
}

/// Every `.rs` file at `path` (a file, or a folder walked recursively).
fn collect_rs(path: &Path, out: &mut Vec<PathBuf>) {
    if path.is_file() {
        if path.extension().is_some_and(|e| e == "rs") {
            out.push(path.to_path_buf());
        }
        return;
    }
    let entries = std::fs::read_dir(path)
        .unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
        .map(|entry| entry.expect("a directory entry").path());
    for entry in entries {
        collect_rs(&entry, out);
    }
}

/// How many `super::` lead from this file's module to the crate root: `src/error.rs` is 1,
/// `src/services/members/directory.rs` 3, `src/services/members/mod.rs` 2.
fn module_depth(src: &Path, file: &Path) -> usize {
    let relative = file.strip_prefix(src).expect("a file under src");
    let parts = relative.components().count();
    if relative.file_name().is_some_and(|n| n == "mod.rs") {
        parts - 1
    } else {
        parts
    }
}

#[derive(Debug, PartialEq)]
enum Token {
    Ident(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

/// The code's tokens, without comments, string and character literals.
fn tokens(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                let mut depth = 0;
                while i < chars.len() {
                    if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                        depth -= 1;
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            'r' if matches!(next, Some('"') | Some('#'))
                && !chars[..i]
                    .last()
                    .is_some_and(|p| p.is_alphanumeric() || *p == '_') =>
            {
                // A raw string r"…", r#"…"#: skip to the matching close.
                let mut j = i + 1;
                let mut hashes = 0;
                while chars.get(j) == Some(&'#') {
                    hashes += 1;
                    j += 1;
                }
                if chars.get(j) != Some(&'"') {
                    // `r#ident`: a raw identifier.
                    out.push(Token::Other);
                    i = j;
                    continue;
                }
                j += 1;
                loop {
                    if j >= chars.len() {
                        break;
                    }
                    if chars[j] == '"' && (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) {
                        j += 1 + hashes;
                        break;
                    }
                    j += 1;
                }
                out.push(Token::Other);
                i = j;
            }
            '"' => {
                i += 1;
                while i < chars.len() && chars[i] != '"' {
                    if chars[i] == '\\' {
                        i += 1;
                    }
                    i += 1;
                }
                i += 1;
                out.push(Token::Other);
            }
            '\'' => {
                // A character literal ('x', '\n', '\u{..}') or a lifetime ('a).
                if next == Some('\\') {
                    i += 2;
                    while i < chars.len() && chars[i] != '\'' {
                        i += 1;
                    }
                    i += 1;
                } else if chars.get(i + 2) == Some(&'\'') {
                    i += 3;
                } else {
                    i += 1;
                }
                out.push(Token::Other);
            }
            ':' if next == Some(':') => {
                out.push(Token::PathSep);
                i += 2;
            }
            '{' => {
                out.push(Token::Open);
                i += 1;
            }
            '}' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            }
            c if c.is_whitespace() => i += 1,
            _ => {
                out.push(Token::Other);
                i += 1;
            }
        }
    }
    out
}

/// The forbidden modules that `text` (a file `depth` modules below the root) names through
/// `crate::…`, `crate::{…}` or enough `super::` to reach the root.
fn forbidden_paths(text: &str, depth: usize) -> Vec<String> {
    let tokens = tokens(text);
    let ident = |i: usize| match tokens.get(i) {
        Some(Token::Ident(name)) => Some(name.as_str()),
        _ => None,
    };
    let mut found = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        // Where the path reaches the crate root: just after `crate::` or the last `super::`.
        let mut at = None;
        let preceded_by_sep = i > 0 && tokens[i - 1] == Token::PathSep;
        if !preceded_by_sep
            && ident(i) == Some("crate")
            && tokens.get(i + 1) == Some(&Token::PathSep)
        {
            at = Some(i + 2);
        } else if !preceded_by_sep && matches!(ident(i), Some("super") | Some("self")) {
            let mut j = i;
            let mut supers = 0;
            if ident(j) == Some("self") && tokens.get(j + 1) == Some(&Token::PathSep) {
                j += 2;
            }
            while ident(j) == Some("super") && tokens.get(j + 1) == Some(&Token::PathSep) {
                supers += 1;
                j += 2;
            }
            // An inline module (`mod tests`) is one level deeper than its file: counting
            // from the file errs on the side of a report.
            if supers > 0 && supers >= depth {
                at = Some(j);
            }
        }
        let Some(at) = at else {
            i += 1;
            continue;
        };
        // The first segments after the root: one name, or each item of a `{…}` group.
        let mut heads = Vec::new();
        if let Some(name) = ident(at) {
            heads.push(name.to_string());
        } else if tokens.get(at) == Some(&Token::Open) {
            let mut level = 0;
            let mut expect_head = true;
            for (k, token) in tokens.iter().enumerate().skip(at) {
                match token {
                    Token::Open => {
                        level += 1;
                        expect_head = level == 1;
                        continue;
                    }
                    Token::Close => {
                        level -= 1;
                        if level == 0 {
                            break;
                        }
                    }
                    Token::Comma if level == 1 => {
                        expect_head = true;
                        continue;
                    }
                    _ => {}
                }
                if expect_head && level == 1 {
                    if let Some(name) = ident(k) {
                        heads.push(name.to_string());
                    }
                }
                expect_head = false;
            }
        }
        found.extend(
            heads
                .into_iter()
                .filter(|h| FORBIDDEN.contains(&h.as_str())),
        );
        i = at;
    }
    found
}

/// The scanner itself: each way of naming the web edge is caught, comments and strings are not.
fn scanner_catches_every_spelling() {
    let caught = |text: &str, depth: usize| forbidden_paths(text, depth);
    assert_eq!(caught("use crate::web::forms::FieldErrors;", 2), ["web"]);
    assert_eq!(caught("use crate :: startup :: AppState;", 1), ["startup"]);
    assert_eq!(
        caught("use crate::{db::DbConn, web::{self, db}};", 2),
        ["web"]
    );
    assert_eq!(caught("fn f() -> crate::web::Page { todo!() }", 3), ["web"]);
    assert_eq!(caught("use super::super::web::attempt;", 2), ["web"]);
    assert_eq!(
        caught("use super::super::{models, startup};", 2),
        ["startup"]
    );
    assert!(
        caught("use super::web::attempt;", 2).is_empty(),
        "a sibling named web"
    );
    assert!(caught("use crate::services::web;", 2).is_empty());
    assert!(caught("use crate::{db::{web, x}, models};", 2).is_empty());
    assert!(caught("// see crate::web::attempt\n/* crate::startup */", 2).is_empty());
    assert!(caught(r#"let s = "crate::web"; let r = r"crate::startup";"#, 2).is_empty());
    assert!(caught("let c = '\"'; use crate::db;", 2).is_empty());
}
