//! The shape of the code: every path in `src/` that names a module of the crate (`use` items
//! whole, multi-line groups included, and `crate::`, `super::`, `self::` paths anywhere)
//! points down the tree drawn in ARCHITECTURE.md, that tree names exactly the modules there
//! are, the files of one module directory import each other without a circle, and every
//! test file is built (declared in `tests/tests.rs`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Files that assemble the crate rather than live on a layer.
const OUTSIDE_THE_TREE: [&str; 3] = ["main", "lib", "testing"];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Module name -> layer (0 is the top), read from the tree in ARCHITECTURE.md.
fn layers() -> BTreeMap<String, usize> {
    let text = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let block = text
        .split("<!-- layers")
        .nth(1)
        .and_then(|rest| rest.split("```text").nth(1))
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has its layers block");
    let mut layers = BTreeMap::new();
    for (layer, line) in block.lines().filter(|l| !l.trim().is_empty()).enumerate() {
        let names = line.trim_start_matches(|c: char| c.is_whitespace() || "└─│├".contains(c));
        for name in names.split('·').map(str::trim) {
            assert!(
                layers.insert(name.to_owned(), layer).is_none(),
                "{name} is drawn twice"
            );
        }
    }
    layers
}

fn rust_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// The top-level module a file belongs to: `src/storage/tally.rs` -> `storage`.
fn module_of(file: &Path) -> String {
    let relative = file.strip_prefix(root().join("src")).unwrap();
    let first = relative.components().next().unwrap().as_os_str();
    Path::new(first)
        .file_stem()
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// `source` with comments, strings and character literals blanked (newlines kept, so line
/// numbers hold), leaving only code to read.
fn code_only(source: &str) -> String {
    let chars: Vec<char> = source.chars().collect();
    let mut out = String::with_capacity(source.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
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
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && matches!(next, Some('"' | '#')) && !is_ident_char(prev(&chars, i)) {
            // A raw string: r"...", r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            while j < chars.len() {
                if chars[j] == '"' && (1..=hashes).all(|k| chars.get(j + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                out.push(blank(chars[j]));
                j += 1;
            }
            i = j;
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                if let Some(&c) = chars.get(i) {
                    out.push(blank(c));
                }
                i += 1;
            }
            i += 1;
        } else if c == '\'' && (chars.get(i + 2) == Some(&'\'') || next == Some('\\')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn prev(chars: &[char], i: usize) -> char {
    if i == 0 {
        ' '
    } else {
        chars[i - 1]
    }
}

fn is_ident_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// A word or punctuation of code, with its line.
struct Token {
    text: String,
    line: usize,
}

fn tokens(code: &str) -> Vec<Token> {
    let chars: Vec<char> = code.chars().collect();
    let mut found = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if is_ident_char(c) {
            let start = i;
            while i < chars.len() && is_ident_char(chars[i]) {
                i += 1;
            }
            let text = chars[start..i].iter().collect();
            found.push(Token { text, line });
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            found.push(Token {
                text: "::".into(),
                line,
            });
            i += 2;
        } else {
            found.push(Token {
                text: c.to_string(),
                line,
            });
            i += 1;
        }
    }
    found
}

/// Expands the use tree at `tokens[i..]` under `prefix` into whole paths; answers where it
/// ends.
fn use_tree(
    tokens: &[Token],
    mut i: usize,
    prefix: &[String],
    out: &mut Vec<Vec<String>>,
) -> usize {
    let mut path = prefix.to_vec();
    let text = |i: usize| tokens.get(i).map_or("", |t| t.text.as_str());
    loop {
        match text(i) {
            "{" => {
                i += 1;
                while !matches!(text(i), "}" | "") {
                    let next = use_tree(tokens, i, &path, out);
                    i = if next == i { i + 1 } else { next };
                    if text(i) == "," {
                        i += 1;
                    }
                }
                return i + 1;
            }
            "*" => {
                out.push(path);
                return i + 1;
            }
            "::" => i += 1,
            name if name.chars().next().is_some_and(is_ident_char) => {
                if name != "self" || path.is_empty() {
                    path.push(name.to_owned());
                }
                i += 1;
                if text(i) == "::" {
                    i += 1;
                    continue;
                }
                if text(i) == "as" {
                    i += 2;
                }
                out.push(path);
                return i;
            }
            _ => return i,
        }
    }
}

/// `path` as a path from the crate's root, read in module `module`: `crate::`, `super::`
/// (from `module`'s parent, as often as it is written) and `self::` paths; `None` for any
/// other (another crate's, or a name in scope).
fn resolve(path: &[String], module: &[String]) -> Option<Vec<String>> {
    match path.first()?.as_str() {
        "crate" => Some(path[1..].to_vec()),
        "self" => Some([module, &path[1..]].concat()),
        "super" => {
            let ups = path.iter().take_while(|p| *p == "super").count();
            let base = module.get(..module.len().checked_sub(ups)?)?;
            Some([base, &path[ups..]].concat())
        }
        _ => None,
    }
}

/// A path from the crate's root that a file names.
struct Named {
    line: usize,
    path: Vec<String>,
    /// Named in a `#[cfg(test)]` module: a test may use what the code does not.
    in_tests: bool,
}

/// Every path from the crate's root that the code of a file in module `module` names, with
/// its line: `use` items expanded whole, wherever they stand, and `crate::`, `super::` and
/// `self::` paths in code. Inline `mod x { ... }` blocks (tests) are read as module `x`.
fn crate_paths(source: &str, module: &[String]) -> Vec<Named> {
    let tokens = tokens(&code_only(source));
    let text = |i: usize| tokens.get(i).map_or("", |t| t.text.as_str());
    let mut found = Vec::new();
    let mut module = module.to_vec();
    // Inline modules open, with the brace depth they opened at and whether they are tests.
    let mut open: Vec<(usize, bool)> = Vec::new();
    let mut depth = 0;
    let mut i = 0;
    while i < tokens.len() {
        match text(i) {
            "{" => depth += 1,
            "}" => {
                depth -= 1;
                if open.last().is_some_and(|(at, _)| *at == depth) {
                    open.pop();
                    module.pop();
                }
            }
            "mod" if text(i + 2) == "{" => {
                module.push(text(i + 1).to_owned());
                let cfg_test =
                    i >= 3 && [text(i - 3), text(i - 2), text(i - 1)] == ["test", ")", "]"];
                open.push((depth, cfg_test));
                depth += 1;
                i += 3;
                continue;
            }
            "use" => {
                let line = tokens[i].line;
                let mut paths = Vec::new();
                i = use_tree(&tokens, i + 1, &[], &mut paths);
                let in_tests = open.iter().any(|(_, test)| *test);
                for path in paths {
                    if let Some(path) = resolve(&path, &module) {
                        found.push(Named {
                            line,
                            path,
                            in_tests,
                        });
                    }
                }
                continue;
            }
            "crate" | "super" | "self"
                if text(i + 1) == "::" && (i == 0 || text(i - 1) != "::") =>
            {
                let line = tokens[i].line;
                let mut path = vec![text(i).to_owned()];
                i += 1;
                while text(i) == "::" && text(i + 1).chars().next().is_some_and(is_ident_char) {
                    path.push(text(i + 1).to_owned());
                    i += 2;
                }
                if let Some(path) = resolve(&path, &module) {
                    let in_tests = open.iter().any(|(_, test)| *test);
                    found.push(Named {
                        line,
                        path,
                        in_tests,
                    });
                }
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    found
}

/// The module path of a file under `src/`: `storage/tally.rs` -> `[storage, tally]`,
/// `dashboard/mod.rs` -> `[dashboard]`, `lib.rs` -> `[]`.
fn module_path(relative: &Path) -> Vec<String> {
    let mut path: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if matches!(
        path.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        path.pop();
    }
    path
}

/// For each module directory, which of its files import which (by the paths their code
/// names; their tests may use a sibling that uses them); the directory's `mod.rs`, which
/// assembles its files, is left out.
fn sibling_imports(
    files: &[(Vec<String>, String)],
) -> BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> {
    let known: BTreeSet<&Vec<String>> = files.iter().map(|(m, _)| m).collect();
    let mut graph: BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (module, source) in files {
        let Some((name, dir)) = module.split_last() else {
            continue;
        };
        if files
            .iter()
            .any(|(m, _)| m.len() > module.len() && m.starts_with(module))
        {
            continue; // a directory's own mod.rs
        }
        let named = crate_paths(source, module)
            .into_iter()
            .filter(|n| !n.in_tests);
        for Named { path, .. } in named {
            if path.len() > dir.len() && path.starts_with(dir) {
                let sibling = &path[dir.len()];
                let sibling_module = [dir, std::slice::from_ref(sibling)].concat();
                if sibling != name && known.contains(&sibling_module) {
                    graph
                        .entry(dir.to_vec())
                        .or_default()
                        .entry(name.clone())
                        .or_default()
                        .insert(sibling.clone());
                }
            }
        }
    }
    graph
}

/// The circles in each directory's imports, as `dir: a -> b -> a`.
fn circles(graph: &BTreeMap<Vec<String>, BTreeMap<String, BTreeSet<String>>>) -> Vec<String> {
    let mut found = BTreeMap::new();
    for (dir, edges) in graph {
        for (from, tos) in edges {
            for to in tos {
                // The shortest way back from `to` to `from`, if there is one.
                let mut came_from: BTreeMap<&String, &String> = BTreeMap::new();
                let mut queue = std::collections::VecDeque::from([to]);
                while let Some(at) = queue.pop_front() {
                    if at == from {
                        break;
                    }
                    for next in edges.get(at).into_iter().flatten() {
                        if next != to && !came_from.contains_key(next) {
                            came_from.insert(next, at);
                            queue.push_back(next);
                        }
                    }
                }
                if from == to || came_from.contains_key(from) {
                    let mut cycle = vec![from.clone()];
                    let mut at = from;
                    while at != to {
                        at = came_from[at];
                        cycle.push(at.clone());
                    }
                    cycle[1..].reverse();
                    cycle.push(from.clone());
                    let mut key: Vec<String> = cycle.clone();
                    key.sort();
                    key.dedup();
                    found.entry(key).or_insert(format!(
                        "src/{}/: {}",
                        dir.join("/"),
                        cycle.join(" -> ")
                    ));
                }
            }
        }
    }
    found.into_values().collect()
}

fn source_files() -> Vec<(PathBuf, Vec<String>, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let relative = file.strip_prefix(root().join("src")).unwrap().to_owned();
            let source = std::fs::read_to_string(&file).unwrap();
            (file, module_path(&relative), source)
        })
        .collect()
}

#[test]
fn every_import_points_down_the_tree_in_architecture_md() {
    let layers = layers();
    let files = source_files();
    let mut modules: Vec<String> = files.iter().map(|(f, _, _)| module_of(f)).collect();
    modules.sort();
    modules.dedup();
    modules.retain(|m| !OUTSIDE_THE_TREE.contains(&m.as_str()));
    let drawn: Vec<String> = layers.keys().cloned().collect();
    assert_eq!(
        modules, drawn,
        "ARCHITECTURE.md's tree must name exactly the modules under src/"
    );
    let mut wrong = Vec::new();
    for (file, module, source) in &files {
        let importer = module_of(file);
        let Some(&from) = layers.get(&importer) else {
            continue;
        };
        for Named { line, path, .. } in crate_paths(source, module) {
            let Some(imported) = path.first() else {
                continue;
            };
            if *imported == importer {
                continue;
            }
            match layers.get(imported) {
                Some(&to) if to > from => {}
                Some(_) => wrong.push(format!(
                    "{}:{line}: {importer} imports {imported}, which is not below it",
                    file.strip_prefix(root()).unwrap().display()
                )),
                None => wrong.push(format!(
                    "{}:{line}: {importer} imports {imported}, which the tree does not place",
                    file.strip_prefix(root()).unwrap().display()
                )),
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "imports against ARCHITECTURE.md:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_files_of_a_module_import_each_other_one_way() {
    let files: Vec<(Vec<String>, String)> =
        source_files().into_iter().map(|(_, m, s)| (m, s)).collect();
    let found = circles(&sibling_imports(&files));
    assert!(
        found.is_empty(),
        "files of one module that import each other in a circle (move what they share so \
         imports go one way):\n{}",
        found.join("\n")
    );
}

/// The files and folders of `tests/` (but `tests.rs`) that `tests.rs` does not declare with
/// `mod NAME;`: `entries` are `(name, is a folder holding mod.rs)`, or a file's name.
fn undeclared_tests(entries: &[(String, bool)], tests_rs: &str) -> Vec<String> {
    let tokens = tokens(&code_only(tests_rs));
    let declared: BTreeSet<&str> = tokens
        .windows(3)
        .filter(|w| w[0].text == "mod" && w[2].text == ";")
        .map(|w| w[1].text.as_str())
        .collect();
    entries
        .iter()
        .filter_map(|(name, is_module_dir)| {
            let module = match name.strip_suffix(".rs") {
                Some(stem) if stem != "tests" => stem,
                _ if *is_module_dir => name.as_str(),
                _ => return None,
            };
            (!declared.contains(module)).then(|| name.clone())
        })
        .collect()
}

#[test]
fn every_test_file_is_declared_in_tests_rs() {
    let dir = root().join("tests");
    let entries: Vec<(String, bool)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, path.join("mod.rs").is_file())
        })
        .collect();
    let tests_rs = std::fs::read_to_string(dir.join("tests.rs")).unwrap();
    let missing = undeclared_tests(&entries, &tests_rs);
    assert!(
        missing.is_empty(),
        "tests/ files that never run: declare them with `mod NAME;` in tests/tests.rs: {missing:?}"
    );
}

fn names(paths: Vec<Named>) -> Vec<String> {
    paths.into_iter().map(|n| n.path.join("::")).collect()
}

fn module(path: &str) -> Vec<String> {
    path.split("::").map(str::to_owned).collect()
}

#[test]
fn the_checker_sees_every_form_of_crate_path() {
    let source = "use crate::storage::Store;\nlet x = crate::http::base_url(a, b); // crate::cli\n\
                  use crate::{report, config::Location};\nlet s = \"crate::cli\";";
    let found = names(crate_paths(source, &module("app")));
    assert_eq!(
        found,
        [
            "storage::Store",
            "http::base_url",
            "report",
            "config::Location"
        ]
    );
}

/// What the line-by-line reading before issue 21 missed.
#[test]
fn the_checker_reads_whole_use_items_and_relative_paths() {
    // A group over several lines, nested groups, `self` in a group.
    let source =
        "use crate::{\n    storage::Store,\n    http::{base_url, response::{self, Body}},\n};";
    assert_eq!(
        names(crate_paths(source, &module("app"))),
        [
            "storage::Store",
            "http::base_url",
            "http::response",
            "http::response::Body"
        ]
    );
    // `super::` from the file's module, as often as written; `self::`; a path in a body.
    let source = "use super::pages::Layout;\nuse super::super::storage::{Rows, Store};\n\
                  use self::inner::X;\nfn f() {\n    let n = super::query::segment(w);\n}";
    assert_eq!(
        names(crate_paths(source, &module("dashboard::host"))),
        [
            "dashboard::pages::Layout",
            "storage::Rows",
            "storage::Store",
            "dashboard::host::inner::X",
            "dashboard::query::segment",
        ]
    );
    // In an inline `mod tests`, `super` is the file's own module.
    let source = "#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::pages;\n}\n\
                  use super::fixes;";
    assert_eq!(
        names(crate_paths(source, &module("dashboard::host"))),
        ["dashboard::host", "dashboard::pages", "dashboard::fixes"]
    );
}

#[test]
fn a_circle_between_files_of_one_module_is_found() {
    let files = |pages: &str| {
        vec![
            (
                module("dashboard"),
                "mod fixes;\nmod pages;\nuse pages::Layout;".to_owned(),
            ),
            (
                module("dashboard::fixes"),
                "use super::pages::{\n    Layout,\n};".to_owned(),
            ),
            (module("dashboard::pages"), pages.to_owned()),
            (
                module("dashboard::query"),
                "use crate::report::WorkshopId;".to_owned(),
            ),
        ]
    };
    // A circle made with a multi-line group and a path in a function body.
    let circled = files("fn f() { super::fixes::FixSummary::new(); }");
    assert_eq!(
        circles(&sibling_imports(&circled)),
        ["src/dashboard/: fixes -> pages -> fixes"]
    );
    // Items of the directory's mod.rs, and the mod.rs itself, make no circle.
    let one_way = files("use super::{assets, EXPORT_ROWS};\nuse crate::dashboard::query;");
    assert!(circles(&sibling_imports(&one_way)).is_empty());
    // A test may use a sibling that uses its file.
    let tested = files("#[cfg(test)]\nmod tests {\n    use super::super::fixes;\n}");
    assert!(circles(&sibling_imports(&tested)).is_empty());
    // Longer circles too.
    let longer = vec![
        (module("cli::a"), "use super::b::X;".to_owned()),
        (module("cli::b"), "use crate::cli::c::Y;".to_owned()),
        (module("cli::c"), "use super::a::Z;".to_owned()),
    ];
    assert_eq!(
        circles(&sibling_imports(&longer)),
        ["src/cli/: a -> b -> c -> a"]
    );
}

#[test]
fn a_test_file_missing_from_tests_rs_is_found() {
    let entries: Vec<(String, bool)> = [
        ("tests.rs", false),
        ("handler.rs", false),
        ("support.rs", false),
        ("verify.rs", false),
        ("browser", false),
        ("helpers", true),
        ("fixtures", false),
    ]
    .into_iter()
    .map(|(n, d)| (n.to_owned(), d))
    .collect();
    let tests_rs = "//! mod verify;\nmod handler;\nmod support;\n";
    assert_eq!(
        undeclared_tests(&entries, tests_rs),
        ["verify.rs", "helpers"]
    );
    let tests_rs = "mod handler;\nmod helpers;\nmod support;\nmod verify;\n";
    assert!(undeclared_tests(&entries, tests_rs).is_empty());
}
