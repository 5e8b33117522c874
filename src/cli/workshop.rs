//! `workshop create | list | show | revoke | delete`: a host registers a workshop, gets the
//! learners' commands and the private link, replaces a link that leaked, and removes a
//! workshop with its learners' data.

// The doc comments below are `--help` text for people, not rustdoc.
#![allow(rustdoc::bare_urls)]

use super::flags::{parse_public_url, DEFAULT_DB};
use super::{with_existing_store, with_store};
use crate::catalog::catalog;
use crate::config::{Checks, Location};
use crate::dashboard::{host_url, LearnerCommands};
use crate::report::WorkshopId;
use crate::storage::{HostedWorkshop, NewWorkshop, Secret, StorageError};
use clap::builder::PossibleValuesParser;
use clap::{Args, Subcommand};
use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// Where learners reach the server when `--public-url` is not given: `serve`'s default.
pub(super) const LOCAL_URL: &str = "http://127.0.0.1:8080";
/// Longest title we register.
const MAX_TITLE_CHARS: usize = 200;

/// `workshop`: its subcommands.
#[derive(Args, Debug)]
pub struct WorkshopArgs {
    /// What to do with workshops.
    #[command(subcommand)]
    pub action: WorkshopAction,
}

/// The `workshop` subcommands.
#[derive(Subcommand, Debug)]
pub enum WorkshopAction {
    /// Register a workshop; print the learners' commands and your private readiness link
    Create(CreateArgs),
    /// List the registered workshops
    List(Place),
    /// Show one workshop: its checks, learners and the learners' commands
    Show(Named),
    /// Replace the private link: the old one stops working at once, the new one is printed
    Revoke(Named),
    /// Unregister a workshop and delete all its learners' data (asks first, unless --yes)
    Delete(DeleteArgs),
}

/// The database and the URL learners reach the server at.
#[derive(Args, Debug)]
pub struct Place {
    /// SQLite database file
    #[arg(long, env = "RAS_DB", value_name = "PATH", default_value = DEFAULT_DB)]
    pub db: String,

    /// The URL learners reach the server at, written into their commands and your link
    /// (default: http://127.0.0.1:8080, which only this computer reaches; behind nginx
    /// with TLS give https://YOUR.HOST.NAME)
    #[arg(long, env = "RAS_PUBLIC_URL", value_name = "URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
}

impl Place {
    fn base_url(&self) -> &str {
        self.public_url.as_deref().unwrap_or(LOCAL_URL)
    }
}

/// A workshop by its id.
#[derive(Args, Debug)]
pub struct Named {
    /// The workshop's id, as learners send it (e.g. 2026-11-27-place)
    pub id: String,
    #[command(flatten)]
    pub place: Place,
}

/// The flags of `workshop create`.
#[derive(Args, Debug)]
pub struct CreateArgs {
    /// The workshop's id, as learners send it (e.g. 2026-11-27-place)
    pub id: String,

    /// The checks this workshop's script runs: NAME, NAME>=VERSION, a trailing ? for
    /// optional, e.g. "shell,git>=2.30,python>=3.10,numpy,make?" (default: the server's
    /// --checks, else the script's own list)
    #[arg(long, value_name = "LIST", value_parser = parse_known_checks)]
    pub checks: Option<Checks>,

    #[arg(long, value_name = "NAME", conflicts_with = "checks", help = curriculum_help(),
          value_parser = PossibleValuesParser::new(catalog().curricula()))]
    pub curriculum: Option<String>,

    #[arg(long, value_name = "FLAVOR", requires = "curriculum", help = flavor_help(),
          value_parser = PossibleValuesParser::new(all_flavors()))]
    pub flavor: Option<String>,

    /// A title for your readiness page, e.g. "Data Carpentry, Oslo"
    #[arg(long, value_name = "TEXT", value_parser = parse_title)]
    pub title: Option<String>,

    /// The time zone of the readiness page's days and times, an IANA name such as
    /// Australia/Melbourne (default: UTC)
    #[arg(long, value_name = "ZONE", value_parser = parse_time_zone)]
    pub time_zone: Option<String>,

    #[command(flatten)]
    pub place: Place,
}

/// The flags of `workshop delete`.
#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// The workshop's id
    pub id: String,

    /// Delete without asking
    #[arg(long, short = 'y')]
    pub yes: bool,

    /// SQLite database file
    #[arg(long, env = "RAS_DB", value_name = "PATH", default_value = DEFAULT_DB)]
    pub db: String,
}

/// `--curriculum`'s help; clap adds the catalog's curricula as its possible values.
fn curriculum_help() -> String {
    "Instead of --checks: the checks a curriculum's workshops need, by the workshop \
     template's own key (its `curriculum` in _config.yml); see --flavor"
        .to_owned()
}

/// Every flavor of every curriculum, once each.
fn all_flavors() -> Vec<&'static str> {
    let catalog = catalog();
    let mut flavors: Vec<&str> = Vec::new();
    for curriculum in catalog.curricula() {
        for flavor in catalog.flavors(curriculum) {
            if !flavors.contains(&flavor) {
                flavors.push(flavor);
            }
        }
    }
    flavors
}

/// `--flavor`'s help, from the catalog: which curricula take which flavors, and which none.
fn flavor_help() -> String {
    let catalog = catalog();
    let mut groups: Vec<(Vec<&str>, Vec<&str>)> = Vec::new();
    for curriculum in catalog.curricula() {
        let flavors = catalog.flavors(curriculum);
        match groups.iter_mut().find(|(f, _)| *f == flavors) {
            Some((_, curricula)) => curricula.push(curriculum),
            None => groups.push((flavors, vec![curriculum])),
        }
    }
    let parts: Vec<String> = groups
        .iter()
        .map(|(flavors, curricula)| match flavors.as_slice() {
            [] => format!("{} takes none", curricula.join(" and ")),
            _ => format!("{} for {}", flavors.join(" or "), curricula.join(", ")),
        })
        .collect();
    format!(
        "With --curriculum: its flavor, the template's `flavor` key ({})",
        parts.join("; ")
    )
}

/// The curriculum and flavor whose preset `list` is, to name beside the checks.
fn preset_note(list: &str) -> String {
    match catalog().preset_of(list) {
        Some(preset) => match &preset.flavor {
            Some(flavor) => format!(" (curriculum {}, flavor {flavor})", preset.curriculum),
            None => format!(" (curriculum {})", preset.curriculum),
        },
        None => String::new(),
    }
}

/// A check list in the script's grammar whose every name the script knows.
pub(super) fn parse_known_checks(list: &str) -> Result<Checks, String> {
    let checks: Checks = list.parse()?;
    catalog().validate(&checks)?;
    Ok(checks)
}

/// The id a host registers: a workshop id by the one rule every door applies
/// ([`WorkshopId::parse`]), and not a dot segment, which browsers fold out of the private
/// link's path. The error never repeats the id (it may hold terminal escapes).
fn parse_id(id: &str) -> Result<WorkshopId, String> {
    let id = WorkshopId::parse(id).map_err(|e| e.to_string())?;
    if matches!(id.as_str(), "." | "..") {
        return Err(
            "a registered workshop id may not be . or .., which a link cannot carry".into(),
        );
    }
    Ok(id)
}

/// An IANA time zone the system's tzdb knows, by its name.
fn parse_time_zone(name: &str) -> Result<String, String> {
    match crate::storage::timestamp::zone(name) {
        // As the tzdb spells it (australia/melbourne is Australia/Melbourne).
        Some(zone) => Ok(zone.iana_name().unwrap_or(name).to_owned()),
        None => Err(format!(
            "{name:?} is no time zone this system knows: give an IANA name such as \
             Australia/Melbourne or Europe/Oslo (see /usr/share/zoneinfo)"
        )),
    }
}

fn parse_title(title: &str) -> Result<String, String> {
    let title = title.trim();
    if title.chars().count() > MAX_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(format!(
            "at most {MAX_TITLE_CHARS} characters, none of them control characters"
        ));
    }
    Ok(title.to_owned())
}

/// Runs one `workshop` subcommand.
pub fn workshop(args: WorkshopArgs) -> ExitCode {
    match args.action {
        WorkshopAction::Create(args) => create(args),
        WorkshopAction::List(place) => list(place),
        WorkshopAction::Show(named) => show(named),
        WorkshopAction::Revoke(named) => revoke(named),
        WorkshopAction::Delete(args) => delete(args),
    }
}

/// Tells why a command failed, naming the workshop and the database; exit code 1.
fn failed(what: &str, id: &str, location: &Location, e: &StorageError) -> ExitCode {
    match e {
        StorageError::NotFound => {
            eprintln!("no workshop {id} is registered in {location} (see `workshop list`)")
        }
        StorageError::Exists => eprintln!(
            "workshop {id} is registered already in {location}; `workshop show {id}` shows \
             it, `workshop revoke {id}` makes a new private link"
        ),
        e => eprintln!("cannot {what} workshop {id} in {location}: {e}"),
    }
    ExitCode::FAILURE
}

fn print_commands(base_url: &str, id: &str) {
    let commands = LearnerCommands::new(base_url, Some(id));
    println!("Learners run one line; it downloads the check script and runs it:");
    println!("  macOS and Linux:");
    println!("    {}", commands.unix);
    println!("  Windows (PowerShell):");
    println!("    {}", commands.windows);
}

fn print_link(base_url: &str, id: &str, secret: &Secret) {
    println!("Your private readiness page (keep the link to yourself; it is shown only now):");
    println!("    {}", host_url(base_url, id, secret.expose()));
}

fn print_checks(checks: Option<&str>) {
    match checks {
        Some(list) => println!("Checks: {list}{}", preset_note(list)),
        None => println!("Checks: the server's --checks, else the script's own list"),
    }
}

/// Without a request there is no Host header to go by: the URL printed is a guess unless
/// `--public-url` names it, and behind a proxy (TLS included) only the admin knows it.
fn warn_if_local(place: &Place) {
    if place.public_url.is_none() {
        eprintln!(
            "note: no --public-url, so the commands use {LOCAL_URL}, which only this computer \
             reaches; give the address learners reach the server at (behind nginx with TLS: \
             --public-url https://YOUR.HOST.NAME, as RAS_PUBLIC_URL in the server's settings)"
        );
    }
}

/// Exit code of a command whose input is wrong, as clap's own usage errors.
const USAGE: u8 = 2;

fn create(mut args: CreateArgs) -> ExitCode {
    args.id = match parse_id(&args.id) {
        Ok(id) => id.into_string(),
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(USAGE);
        }
    };
    let checks = match &args.curriculum {
        // Stored as the ordinary list: the script and the host's page read nothing else.
        Some(curriculum) => match catalog().preset(curriculum, args.flavor.as_deref()) {
            Ok(preset) => Some(preset.check_list()),
            Err(why) => {
                eprintln!("error: {why}");
                return ExitCode::from(USAGE);
            }
        },
        // `--checks default` is no list of its own.
        None => args
            .checks
            .as_ref()
            .filter(|c| c.0.is_some())
            .map(ToString::to_string),
    };
    let location = Location::parse(&args.place.db);
    let new = NewWorkshop {
        name: args.id.clone(),
        title: args.title.clone().filter(|t| !t.is_empty()),
        checks,
        time_zone: args.time_zone.clone(),
    };
    let checks = new.checks.clone();
    // A host's first command on a new laptop: the database may not exist yet.
    match with_store(&location, async move |store| {
        store.create_workshop(new).await
    }) {
        Ok(secret) => {
            warn_if_local(&args.place);
            let base = args.place.base_url();
            println!("Registered workshop {} in {location}.", args.id);
            print_checks(checks.as_deref());
            if let Some(preset) = checks.as_deref().and_then(|l| catalog().preset_of(l)) {
                println!("As its setup pages say: {}", preset.sources.join(" "));
            }
            println!();
            print_commands(base, &args.id);
            println!();
            print_link(base, &args.id, &secret);
            ExitCode::SUCCESS
        }
        Err(e) => failed("register", &args.id, &location, &e),
    }
}

fn describe(workshop: &HostedWorkshop) -> String {
    let title = workshop
        .title
        .as_deref()
        .map(|t| format!(" \"{t}\""))
        .unwrap_or_default();
    let checks = match workshop.checks.as_deref() {
        Some(list) => format!("{list}{}", preset_note(list)),
        None => "(the server's)".to_owned(),
    };
    let zone = workshop.time_zone.as_deref().unwrap_or("UTC");
    format!(
        "{}{title}: {} learner{}, checks {checks}, time zone {zone}, registered {} UTC",
        workshop.name,
        workshop.learners,
        if workshop.learners == 1 { "" } else { "s" },
        &workshop.created_time[..workshop.created_time.len().min(16)],
    )
}

fn list(place: Place) -> ExitCode {
    let location = Location::parse(&place.db);
    match with_existing_store(&location, async |store| store.workshops().await) {
        Ok(workshops) if workshops.is_empty() => {
            println!(
                "No workshop is registered in {location}; `workshop create ID` registers one."
            );
            ExitCode::SUCCESS
        }
        Ok(workshops) => {
            for workshop in &workshops {
                println!("{}", describe(workshop));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot list the workshops of {location}: {e}");
            ExitCode::FAILURE
        }
    }
}

fn show(named: Named) -> ExitCode {
    let location = Location::parse(&named.place.db);
    let id = named.id.clone();
    match with_existing_store(&location, async move |store| store.workshop(id).await) {
        Ok(Some(workshop)) => {
            println!("{}", describe(&workshop));
            println!(
                "Private link made {} UTC; only its hash is stored, so it cannot be shown \
                 again: `workshop revoke {}` makes a new one.",
                &workshop.link_time[..workshop.link_time.len().min(16)],
                workshop.name
            );
            println!();
            warn_if_local(&named.place);
            print_commands(named.place.base_url(), &workshop.name);
            ExitCode::SUCCESS
        }
        Ok(None) => failed("show", &named.id, &location, &StorageError::NotFound),
        Err(e) => failed("show", &named.id, &location, &e),
    }
}

fn revoke(named: Named) -> ExitCode {
    let location = Location::parse(&named.place.db);
    let id = named.id.clone();
    match with_existing_store(&location, async move |store| {
        store.renew_workshop_link(id).await
    }) {
        Ok(secret) => {
            println!("The old private link of {} no longer works.", named.id);
            warn_if_local(&named.place);
            print_link(named.place.base_url(), &named.id, &secret);
            ExitCode::SUCCESS
        }
        Err(e) => failed("revoke the link of", &named.id, &location, &e),
    }
}

/// Asks on the terminal; anything but y or yes is no.
fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

fn delete(args: DeleteArgs) -> ExitCode {
    let location = Location::parse(&args.db);
    let id = args.id.clone();
    let found = with_existing_store(&location, async move |store| store.workshop(id).await);
    let workshop = match found {
        Ok(Some(workshop)) => workshop,
        Ok(None) => return failed("delete", &args.id, &location, &StorageError::NotFound),
        Err(e) => return failed("delete", &args.id, &location, &e),
    };
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "not deleting workshop {}: no terminal to ask for confirmation; add --yes",
                args.id
            );
            return ExitCode::FAILURE;
        }
        let question = format!(
            "Delete workshop {} and, for good, its {} learner{} with every report they sent?",
            args.id,
            workshop.learners,
            if workshop.learners == 1 { "" } else { "s" }
        );
        if !confirm(&question) {
            println!("Nothing deleted.");
            return ExitCode::FAILURE;
        }
    }
    let id = args.id.clone();
    match with_existing_store(&location, async move |store| {
        store.delete_workshop(id).await
    }) {
        Ok(d) => {
            println!(
                "deleted workshop {} with {} learners, {} attempts, {} successful and {} failed \
                 installs",
                args.id, d.learners, d.attempts, d.successful_installs, d.failed_installs
            );
            ExitCode::SUCCESS
        }
        Err(e) => failed("delete", &args.id, &location, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_titles_a_link_and_a_shell_can_carry() {
        for id in [
            "2026-11-27-place",
            "Ünïcode workshop / 2",
            "intro <python>",
            "it's",
        ] {
            assert_eq!(parse_id(id).unwrap().as_str(), id);
        }
        assert_eq!(parse_id(" x ").unwrap().as_str(), "x");
        for bad in ["", " ", ".", "..", "a\nb", "a\u{7}b", "intro\u{200f}"] {
            assert!(parse_id(bad).is_err(), "{bad:?}");
        }
        assert!(parse_title("a\u{1b}[31m").is_err());
        assert_eq!(parse_title("  Oslo  ").unwrap(), "Oslo");
    }

    #[test]
    fn unknown_checks_are_refused_with_the_known_names() {
        let error = parse_known_checks("git,gitt").unwrap_err();
        assert!(error.contains("unknown check gitt"), "{error}");
        assert!(error.contains("numpy"), "{error}");
        assert!(parse_known_checks("git>=2.30,make?").is_ok());
    }
}
