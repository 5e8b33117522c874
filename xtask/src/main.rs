//! The maintainer's build steps besides `cargo build`, run as `cargo xtask STEP`:
//!
//! - `package-files [DIR]`: the man pages (clap_mangen: one for the binary and one for each
//!   subcommand, nested ones included) and the bash, zsh and fish completions (clap_complete),
//!   all from the server's own clap definitions, and the Debian changelog made from
//!   CHANGELOG.md (`changelog.rs`), into DIR (default `target/package-files`);
//! - `deb [ARGS...]`: `package-files`, then `cargo deb --locked ARGS...`, which builds the
//!   release binary and the package `target/debian/result-aggregation-server_VERSION_ARCH.deb`
//!   from `[package.metadata.deb]` in Cargo.toml.
//!
//! The files are written when the package is built, never kept in git, so they cannot fall
//! behind the flags; tests/package.rs checks the installed ones against the flags all the same.

mod changelog;

use clap::CommandFactory;
use clap_complete::{Generator, Shell};
use result_aggregation_server::cli::Cli;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The name the completions complete and the man pages are named after.
const BIN: &str = "result-aggregation-server";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let outcome = match args.next().as_deref() {
        Some("package-files") => {
            let dir = args.next().map_or_else(default_dir, PathBuf::from);
            write_package_files(&dir)
        }
        Some("deb") => write_package_files(&default_dir()).and_then(|()| cargo_deb(args)),
        _ => Err(
            "usage: cargo xtask package-files [DIR] | cargo xtask deb [CARGO-DEB ARGS...]".into(),
        ),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The server's directory, the workspace's root.
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask/ lies in the workspace")
}

/// `target/package-files` of the workspace, where `[package.metadata.deb]` takes them from.
fn default_dir() -> PathBuf {
    workspace().join("target/package-files")
}

/// Writes DIR/man/*.1, DIR/completions/* and DIR/changelog, after removing what an earlier run
/// wrote there: a page of a subcommand that no longer exists must not stay behind for the
/// package's glob to pick up. Nothing else in DIR is touched.
fn write_package_files(dir: &Path) -> Result<(), String> {
    let io = |what: &str, path: &Path| {
        let what = what.to_owned();
        let path = path.display().to_string();
        move |e: std::io::Error| format!("{what} {path}: {e}")
    };
    let man = dir.join("man");
    let completions = dir.join("completions");
    for sub in [&man, &completions] {
        if sub.exists() {
            std::fs::remove_dir_all(sub).map_err(io("cannot empty", sub))?;
        }
        std::fs::create_dir_all(sub).map_err(io("cannot create", sub))?;
    }
    // `<Cli as CommandFactory>`: `Cli::command(self)` is the server's own (the subcommand to run).
    let definitions = <Cli as CommandFactory>::command;
    clap_mangen::generate_to(definitions(), &man).map_err(io("cannot write man pages to", &man))?;
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut definitions(), BIN, &mut script);
        let mut script = String::from_utf8(script).map_err(|e| e.to_string())?;
        if shell == Shell::Bash {
            // clap_complete 4.6 spells the case labels of a hyphenated binary's subcommands
            // `result__subcmd__aggregation__...` but the state it matches them against
            // `result__aggregation__...`, so nothing after a subcommand completed
            // (clap-rs/clap#6421). tests/package.rs completes a nested subcommand.
            script = script.replace(&BIN.replace('-', "__subcmd__"), &BIN.replace('-', "__"));
        }
        let path = completions.join(shell.file_name(BIN));
        std::fs::write(&path, script).map_err(io("cannot write", &path))?;
    }
    let debian_changelog = dir.join("changelog");
    std::fs::write(&debian_changelog, debian_changelog_text()?)
        .map_err(io("cannot write", &debian_changelog))?;
    let pages = std::fs::read_dir(&man)
        .map_err(io("cannot list", &man))?
        .count();
    println!(
        "wrote {pages} man pages to {}, bash, zsh and fish completions to {} and {}",
        man.display(),
        completions.display(),
        debian_changelog.display()
    );
    Ok(())
}

/// The Debian changelog of the version in Cargo.toml, by the package's maintainer, dated
/// `SOURCE_DATE_EPOCH` (reproducible builds) or today where a version is not released yet.
fn debian_changelog_text() -> Result<String, String> {
    let read = |name: &str| {
        std::fs::read_to_string(workspace().join(name))
            .map_err(|e| format!("cannot read {name}: {e}"))
    };
    let manifest = read("Cargo.toml")?;
    let value = |key: &str| {
        manifest
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{key} = \"")))
            .and_then(|rest| rest.strip_suffix('"'))
            .ok_or_else(|| format!("no {key} = \"...\" in Cargo.toml"))
    };
    let seconds = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or_else(|| {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
            now.map_or(0, |d| d.as_secs() as i64)
        });
    Ok(changelog::debian(
        &read("CHANGELOG.md")?,
        BIN,
        value("version")?,
        value("maintainer")?,
        seconds.div_euclid(86_400),
    ))
}

/// `cargo deb --locked ARGS...` in the server's directory.
fn cargo_deb(args: impl Iterator<Item = String>) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(cargo)
        .args(["deb", "--locked"])
        .args(args)
        .current_dir(workspace())
        .status()
        .map_err(|e| format!("cannot run cargo deb: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!(
            "cargo deb failed ({status}); is cargo-deb installed? cargo install cargo-deb --locked"
        ))
    }
}
