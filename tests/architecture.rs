//! The shape of the code: every `crate::` path in `src/` points down the tree drawn in
//! ARCHITECTURE.md, and that tree names exactly the modules there are.

use std::collections::BTreeMap;
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

/// The modules named by `crate::NAME` in code (comments left out).
fn crate_paths(source: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in source.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            // `crate::{a, b}` names several: take each.
            if name.is_empty() && after.starts_with('{') {
                let inner = after[1..].split('}').next().unwrap_or("");
                for item in inner.split(',') {
                    let item: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !item.is_empty() {
                        found.push((number + 1, item));
                    }
                }
            } else if !name.is_empty() {
                found.push((number + 1, name));
            }
            rest = &after[1..];
        }
    }
    found
}

#[test]
fn every_import_points_down_the_tree_in_architecture_md() {
    let layers = layers();
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    files.sort();
    let mut modules: Vec<String> = files.iter().map(|f| module_of(f)).collect();
    modules.sort();
    modules.dedup();
    modules.retain(|m| !OUTSIDE_THE_TREE.contains(&m.as_str()));
    let drawn: Vec<String> = layers.keys().cloned().collect();
    assert_eq!(
        modules, drawn,
        "ARCHITECTURE.md's tree must name exactly the modules under src/"
    );
    let mut wrong = Vec::new();
    for file in &files {
        let importer = module_of(file);
        let Some(&from) = layers.get(&importer) else {
            continue;
        };
        let source = std::fs::read_to_string(file).unwrap();
        for (line, imported) in crate_paths(&source) {
            if imported == importer {
                continue;
            }
            match layers.get(&imported) {
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
fn the_checker_sees_every_form_of_crate_path() {
    let source = "use crate::storage::Store;\nlet x = crate::http::base_url(a, b); // crate::cli\n\
                  use crate::{report, config::Location};";
    let names: Vec<String> = crate_paths(source).into_iter().map(|(_, n)| n).collect();
    assert_eq!(names, ["storage", "http", "report", "config"]);
}
