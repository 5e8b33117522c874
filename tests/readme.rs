//! The README is the front door (issue 21), and it cannot drift from the binary: every
//! `result-aggregation-server` command line in its code blocks names a subcommand that exists
//! and only flags that subcommand's `--help` lists; the host's path is run for real (its
//! `workshop create` prints what the README says it prints, its serve line serves the link);
//! every relative link and `#anchor` in the README and docs/ leads somewhere; every flag and
//! environment variable of the binary is in docs/configuration.md; the README fits in 250
//! lines.

use crate::binary::{agent, Server, BIN};
use clap::CommandFactory;
use result_aggregation_server::cli::Cli;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The binary's name, as the README writes it at the start of a command line.
const NAME: &str = "result-aggregation-server";
/// How long the front door may be.
const MAX_LINES: usize = 250;
/// What the README writes in place of the private link's secret, which is new each time.
const SECRET: &str = "<40 hexadecimal digits>";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).unwrap()
}

/// The README, and every guide in docs/, and the other top-level documents they link to.
fn documents() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = ["README.md", "ARCHITECTURE.md", "PERFORMANCE.md"]
        .iter()
        .map(|name| root().join(name))
        .collect();
    let mut guides: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "md"))
        .collect();
    guides.sort();
    assert!(guides.len() > 1, "no guides in docs/");
    files.extend(guides);
    files
}

/// A fenced code block: its language and its lines.
struct Block {
    language: String,
    lines: Vec<String>,
}

/// The fenced code blocks of a Markdown text, in order.
fn blocks(text: &str) -> Vec<Block> {
    let mut found = Vec::new();
    let mut open: Option<Block> = None;
    for line in text.lines() {
        let fence = line.trim_start().strip_prefix("```");
        match (fence, open.take()) {
            (Some(language), None) => {
                open = Some(Block {
                    language: language.trim().to_owned(),
                    lines: Vec::new(),
                })
            }
            (Some(_), Some(block)) => found.push(block),
            (None, Some(mut block)) => {
                block.lines.push(line.to_owned());
                open = Some(block);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "a code block is never closed");
    found
}

/// The shell command lines of a block (a line ending in `\` continues on the next), each
/// without its comment.
fn command_lines(block: &Block) -> Vec<String> {
    let mut commands = Vec::new();
    let mut pending = String::new();
    for line in &block.lines {
        match line.trim_end().strip_suffix('\\') {
            Some(start) => pending.push_str(start),
            None => {
                pending.push_str(line);
                commands.push(without_comment(pending.trim()).to_owned());
                pending.clear();
            }
        }
    }
    commands
}

/// A shell line without its `# comment` (a `#` after a space, outside quotes).
fn without_comment(line: &str) -> &str {
    let mut quote = None;
    let mut previous = ' ';
    for (at, c) in line.char_indices() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '#') if previous.is_whitespace() => return line[..at].trim_end(),
            _ => {}
        }
        previous = c;
    }
    line
}

/// A shell line's words, quotes removed (enough for the README's commands: no escapes).
fn words(line: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut word = None::<String>;
    let mut quote = None;
    for c in line.chars() {
        match (quote, c) {
            (None, '\'' | '"') => {
                quote = Some(c);
                word.get_or_insert_with(String::new);
            }
            (Some(q), _) if c == q => quote = None,
            (None, _) if c.is_whitespace() => found.extend(word.take()),
            _ => word.get_or_insert_with(String::new).push(c),
        }
    }
    assert!(quote.is_none(), "unclosed quote in {line:?}");
    found.extend(word);
    found
}

/// The README's command lines that run the binary, as words without the binary's name.
fn readme_commands() -> Vec<Vec<String>> {
    let mut commands = Vec::new();
    for block in blocks(&readme()) {
        if !matches!(block.language.as_str(), "sh" | "bash" | "console" | "shell") {
            continue;
        }
        for line in command_lines(&block) {
            let line = line.strip_prefix("sudo ").unwrap_or(&line);
            if line.split_whitespace().next() == Some(NAME) {
                commands.push(words(line)[1..].to_vec());
            }
        }
    }
    commands
}

/// What the real binary's `--help` says for a subcommand (`[]`: the binary itself).
fn help(path: &[String]) -> String {
    let out = Command::new(BIN).args(path).arg("--help").output().unwrap();
    assert!(out.status.success(), "{NAME} {path:?} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

/// The subcommands a `--help` lists under "Commands:".
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|line| line.trim() != "Commands:")
        .skip(1)
        .take_while(|line| !line.trim().is_empty())
        .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
        .filter_map(|line| line.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// Whether a `--help` lists `flag` (`--db`, `-y`) as a flag, not as a part of a longer one.
fn lists_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + flag.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-')
    })
}

/// Checks one command line (its words after the binary's name) against the real binary:
/// the subcommands exist, and each flag is in the `--help` of the subcommand it is given to.
fn check_command(command: &[String]) -> Result<(), String> {
    let mut path = Vec::new();
    let mut rest = command;
    while let Some(word) = rest.first().filter(|w| !w.starts_with('-')) {
        let known = subcommands(&help(&path));
        if known.is_empty() {
            break; // a positional argument of the subcommand
        }
        if !known.contains(word) {
            return Err(format!(
                "{NAME} {}: no subcommand {word:?} (there are {known:?})",
                command.join(" ")
            ));
        }
        path.push(word.clone());
        rest = &rest[1..];
    }
    let text = help(&path);
    for word in rest.iter().filter(|w| w.starts_with('-')) {
        let flag = word.split('=').next().unwrap();
        if !lists_flag(&text, flag) {
            return Err(format!(
                "{NAME} {}: `{NAME} {} --help` lists no {flag}",
                command.join(" "),
                path.join(" ")
            ));
        }
    }
    Ok(())
}

#[test]
fn the_readme_fits_on_a_few_screens() {
    let lines = readme().lines().count();
    assert!(
        lines <= MAX_LINES,
        "README.md has {lines} lines, more than {MAX_LINES}: move the long texts into docs/"
    );
}

#[test]
fn every_command_in_the_readme_is_one_the_binary_takes() {
    let commands = readme_commands();
    // The host's path (workshop create, serve) and the admin's check (--version) at least.
    assert!(commands.len() >= 3, "{commands:?}");
    let wrong: Vec<String> = commands
        .iter()
        .filter_map(|command| check_command(command).err())
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// The check itself finds a flag or a subcommand the binary does not have.
#[test]
fn a_wrong_flag_or_subcommand_is_found() {
    let command = |line: &str| words(line);
    assert!(check_command(&command("workshop create X --title T --db x.db")).is_ok());
    assert!(check_command(&command("--listen 0.0.0.0:8080 --public-url http://h")).is_ok());
    assert!(check_command(&command("workshop create X --titel T")).is_err());
    assert!(check_command(&command("workshop create X --rate-limit 1/hour")).is_err());
    assert!(check_command(&command("workshop make X")).is_err());
    assert!(check_command(&command("serve --max-connection 3")).is_err());
}

/// The README's `workshop create` line, and the output block after it.
fn host_path() -> (Vec<String>, Vec<String>) {
    let blocks = blocks(&readme());
    let at = blocks
        .iter()
        .position(|block| {
            command_lines(block)
                .iter()
                .any(|line| line.starts_with(&format!("{NAME} workshop create ")))
        })
        .expect("the README shows a host's `workshop create`");
    let command = command_lines(&blocks[at])
        .into_iter()
        .find(|line| line.starts_with(&format!("{NAME} workshop create ")))
        .unwrap();
    let output = blocks
        .get(at + 1)
        .filter(|block| block.language == "text")
        .expect("a text block after `workshop create` shows what it prints");
    (words(&command)[1..].to_vec(), output.lines.clone())
}

/// `printed` is what the README shows, where `SECRET` stands for 40 hexadecimal digits.
fn line_matches(printed: &str, shown: &str) -> bool {
    match shown.split_once(SECRET) {
        None => printed == shown,
        Some((before, after)) => printed
            .strip_prefix(before)
            .and_then(|rest| rest.strip_suffix(after))
            .is_some_and(|secret| {
                secret.len() == 40 && secret.bytes().all(|b| b.is_ascii_hexdigit())
            }),
    }
}

/// The host's path as the README writes it, run in an empty folder: `workshop create` prints
/// what the README shows, line for line, and the README's serve line, started there (on a
/// free loopback port instead of its address), serves the private link it printed and the
/// learners' script with the public URL in it.
#[test]
fn the_hosts_path_prints_what_the_readme_shows_and_its_link_serves_the_page() {
    let (create, shown) = host_path();
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .args(&create)
        .current_dir(dir.path())
        .env_remove("RAS_DB")
        .env_remove("RAS_PUBLIC_URL")
        .env_remove("RAS_CHECKS")
        .output()
        .unwrap();
    let printed = String::from_utf8(out.stdout).unwrap();
    assert!(out.status.success(), "{printed}{:?}", out.stderr);
    let printed: Vec<&str> = printed.lines().collect();
    let differ: Vec<String> = (0..printed.len().max(shown.len()))
        .filter(|&i| {
            !matches!((printed.get(i), shown.get(i)), (Some(p), Some(s)) if line_matches(p, s))
        })
        .map(|i| {
            format!(
                "line {}:\n  printed: {:?}\n  README:  {:?}",
                i + 1,
                printed.get(i),
                shown.get(i)
            )
        })
        .collect();
    assert!(
        differ.is_empty(),
        "`{NAME} {}` prints otherwise than the README shows:\n{}",
        create.join(" "),
        differ.join("\n")
    );

    // The serve line that follows in the README, on a free loopback port.
    let serve = readme_commands()
        .into_iter()
        .find(|command| command.first().is_some_and(|w| w == "--listen"))
        .expect("the README's host path serves with --listen");
    let mut args = serve.clone();
    let listen = args.iter().position(|w| w == "--listen").unwrap() + 1;
    args[listen] = "127.0.0.1:0".to_owned();
    let mut command = Command::new(BIN);
    command
        .args(&args)
        .current_dir(dir.path())
        .env("RUST_LOG", "info")
        .env_remove("RAS_DB")
        .env_remove("RAS_PUBLIC_URL")
        .env_remove("RAS_CHECKS")
        .env_remove("RAS_REDIS_URL");
    let server = Server::spawn(command);
    let public = serve[serve.iter().position(|w| w == "--public-url").unwrap() + 1].clone();
    let link = printed
        .iter()
        .map(|line| line.trim())
        .find(|line| line.starts_with(&format!("{public}/host/")))
        .expect("the private link is printed");
    let agent = agent();
    let page = agent
        .get(link.replace(&public, &server.base))
        .call()
        .unwrap();
    assert_eq!(page.status().as_u16(), 200, "{link}");
    let workshop = &create[2];
    let mut script = agent
        .get(format!("{}/check.py?workshop={workshop}", server.base))
        .call()
        .unwrap();
    let script = script.body_mut().read_to_string().unwrap();
    assert!(script.contains(&format!("\"{public}\"")), "{public}");
}

/// A heading's anchor as GitHub makes it: lower case; letters, digits, `-` and `_` kept,
/// spaces made `-`, everything else dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

/// The anchors of a Markdown text's headings (a repeated one gets `-1`, `-2`, ...).
fn anchors(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
            continue;
        }
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if in_code || !(1..=6).contains(&hashes) || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = anchor(line[hashes..].trim_end_matches('#'));
        let mut name = base.clone();
        let mut n = 0;
        while !found.insert(name.clone()) {
            n += 1;
            name = format!("{base}-{n}");
        }
    }
    found
}

/// The link targets of a Markdown text (`[text](target)`), outside code blocks and spans.
fn link_targets(text: &str) -> Vec<String> {
    let mut prose = String::new();
    let mut in_code = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            in_code = !in_code;
        } else if !in_code {
            prose.push_str(line);
        }
        prose.push('\n');
    }
    let mut targets = Vec::new();
    for paragraph in prose.split("\n\n") {
        // A code span (which may run over a line break) holds no link: every other piece
        // between backticks is code.
        let outside: String = paragraph.split('`').step_by(2).collect();
        for (at, _) in outside.match_indices("](") {
            let rest = &outside[at + 2..];
            if let Some(end) = rest.find(')') {
                targets.push(rest[..end].trim().to_owned());
            }
        }
    }
    targets
}

/// Whether `target`, linked from `file`, names an existing file (and heading, after `#`).
fn resolve(file: &Path, target: &str) -> Result<(), String> {
    let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
    let linked = if path.is_empty() {
        file.to_path_buf()
    } else {
        file.parent().unwrap().join(path)
    };
    if !linked.exists() {
        return Err(format!("{} does not exist", linked.display()));
    }
    if fragment.is_empty() {
        return Ok(());
    }
    let text = std::fs::read_to_string(&linked).map_err(|e| format!("{target}: {e}"))?;
    let known = anchors(&text);
    if known.contains(fragment) {
        Ok(())
    } else {
        Err(format!("no heading #{fragment} in {}", linked.display()))
    }
}

#[test]
fn every_link_in_the_readme_and_the_guides_leads_somewhere() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for file in documents() {
        let text = std::fs::read_to_string(&file).unwrap();
        for target in link_targets(&text) {
            if target.contains("://") || target.starts_with("mailto:") {
                continue;
            }
            checked += 1;
            if let Err(e) = resolve(&file, &target) {
                broken.push(format!("{}: ({target}): {e}", file.display()));
            }
        }
    }
    assert!(checked > 20, "only {checked} links found");
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// The anchor rules and the link reader themselves, on what broke before.
#[test]
fn anchors_follow_githubs_rules_and_broken_links_are_found() {
    let text = "# Title\n## `POST /installation_data/`\n## Several instances\n\
                ## Checking the statistics: `verify`\n## Title\n```sh\n# not a heading\n```\n";
    let found = anchors(text);
    for name in [
        "title",
        "title-1",
        "post-installation_data",
        "several-instances",
        "checking-the-statistics-verify",
    ] {
        assert!(found.contains(name), "{name} not in {found:?}");
    }
    assert!(!found.contains("not-a-heading"));
    let links = link_targets("[a](x.md#y) `[b](code.md)`\n```\n[c](block.md)\n```\n[d\ne](#f)");
    assert_eq!(links, ["x.md#y", "#f"]);
    let readme = root().join("README.md");
    assert!(resolve(&readme, "docs/operations.md#backups").is_ok());
    assert!(resolve(&readme, "docs/operations.md#no-such-heading").is_err());
    assert!(resolve(&readme, "docs/no-such-file.md").is_err());
}

/// docs/configuration.md names every flag of the binary and of each subcommand, and every
/// environment variable that sets one.
#[test]
fn the_configuration_guide_names_every_flag_and_its_environment_twin() {
    let guide = std::fs::read_to_string(root().join("docs/configuration.md")).unwrap();
    let mut missing = BTreeSet::new();
    let mut stack = vec![(NAME.to_owned(), <Cli as CommandFactory>::command())];
    while let Some((name, command)) = stack.pop() {
        for arg in command.get_arguments() {
            if let Some(long) = arg.get_long() {
                if !["help", "version"].contains(&long) && !lists_flag(&guide, &format!("--{long}"))
                {
                    missing.insert(format!("{name}: --{long}"));
                }
            }
            if let Some(env) = arg.get_env() {
                let env = env.to_string_lossy();
                if !lists_flag(&guide, &env) {
                    missing.insert(format!("{name}: {env}"));
                }
            }
        }
        for sub in command.get_subcommands() {
            stack.push((format!("{name} {}", sub.get_name()), sub.clone()));
        }
    }
    assert!(
        missing.is_empty(),
        "docs/configuration.md does not name:\n{}",
        missing.into_iter().collect::<Vec<_>>().join("\n")
    );
}
