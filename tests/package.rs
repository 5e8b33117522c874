//! The Debian package, installed on this machine as an admin installs it: lintian, `dpkg -i`,
//! the files where docs/deployment.md says, the units verified where they are installed, every man
//! page rendered, the completions completing, the service run as its unit runs it behind the
//! packaged nginx site; then removed, installed again and purged, and the learners' reports
//! are still there after each.
//!
//! It changes the machine (as root: dpkg, /etc, /var/lib), so it runs only where
//! RAS_PACKAGE_DEB names the package to install (.ci/run builds it with `cargo xtask deb` and
//! sets it); elsewhere it skips, saying why. It refuses a machine where the package or its
//! data already is, or where systemd runs (the package would start the real service there),
//! and leaves the machine as it found it.

use crate::binary::{Server, BIN};
use crate::nginx::{nginx, start_site};
use crate::support::{installed, request_from, sample};
use clap::CommandFactory;
use result_aggregation_server::cli::Cli;
use result_aggregation_server::storage::SCHEMA_VERSION;
use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};

const PACKAGE: &str = "result-aggregation-server";
const SETTINGS: &str = "/etc/default/result-aggregation-server";
const UNITS: &str = "/usr/lib/systemd/system";
const SITE: &str =
    "/usr/share/doc/result-aggregation-server/examples/nginx/result-aggregation-server.conf";
/// The same site over TLS, with plain http sent to https (issue 20).
const TLS_SITE: &str =
    "/usr/share/doc/result-aggregation-server/examples/nginx/result-aggregation-server-tls.conf";
/// Where a dynamic user's state directory really is; /var/lib/NAME links to it.
const PRIVATE: &str = "/var/lib/private";
const DATA: &str = "/var/lib/private/result-aggregation-server";
/// The workshop of the report this test sends and reads back.
const WORKSHOP: &str = "2026-12-03-package";

/// lintian's warnings that stay, each with its reason; any other warning, or any error, fails.
const KNOWN_WARNINGS: [(&str, &str); 1] = [(
    "non-standard-file-perm 0640 != 0644 [etc/default/result-aggregation-server]",
    "the settings may hold a Redis password (RAS_REDIS_URL), so only root reads them; \
     systemd reads them as root before the service drops to its user",
)];

/// `--version` names the schema the binary writes, read from the storage module (issue 18).
#[test]
fn the_version_names_the_database_schema() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    let expected = format!(
        "{PACKAGE} {} (database schema {SCHEMA_VERSION})\n",
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_package_installs_serves_and_keeps_the_reports_through_removal_and_purge() {
    let Some(deb) = package_to_install() else {
        return;
    };
    let nginx = nginx().expect("the package's nginx site is tested with nginx");
    let machine = Machine::claim();
    check_lintian(&deb);

    // Installed where systemd is not PID 1: the maintainer scripts must not fail, and the
    // service is enabled (the link systemd reads at boot) while the backup timer is not.
    dpkg(&["-i", &deb]);
    check_files();
    check_maintainer_scripts();
    let wants = "/etc/systemd/system/multi-user.target.wants/result-aggregation-server.service";
    assert!(Path::new(wants).is_symlink(), "the service is enabled");
    assert!(
        !Path::new(
            "/etc/systemd/system/timers.target.wants/result-aggregation-server-backup.timer"
        )
        .exists(),
        "the backup timer is left to the admin"
    );
    check_units();
    check_man_pages();
    check_completions();
    let version = run(Command::new(format!("/usr/bin/{PACKAGE}")).arg("--version"));
    let built = run(Command::new(BIN).arg("--version"));
    assert_eq!(version, built, "the package is of this version and schema");

    // The admin's one edit: a free port instead of 8080. It must survive all that follows.
    let port = crate::support::free_port();
    let settings = std::fs::read_to_string(SETTINGS).unwrap();
    assert!(
        settings.contains("\nRAS_LISTEN=127.0.0.1:8080\n"),
        "{settings}"
    );
    let edited = settings.replace(
        "RAS_LISTEN=127.0.0.1:8080",
        &format!("RAS_LISTEN=127.0.0.1:{port}"),
    );
    std::fs::write(SETTINGS, &edited).unwrap();

    // The service as its unit runs it, behind the packaged site; a report through nginx, read
    // back from the dashboard through nginx.
    let dir = tempfile::tempdir().unwrap();
    let mut service = start_unit(&machine, "result-aggregation-server.service");
    assert_eq!(service.addr().port(), port);
    let (site, proxy) = start_site(&nginx, Path::new(SITE), dir.path(), [service.addr(); 2]);
    let report = sample(None, None, Some(WORKSHOP)).to_string();
    let (status, answer) =
        request_from("127.0.0.2", proxy, "/installation_data/", "", &report).await;
    assert_eq!(status, 200, "{answer}");
    // The packaged settings trust nginx on this host: the learner's own address is logged.
    service.wait_for_log("127.0.0.2 POST /installation_data/ 200", 1);
    assert_eq!(failures_shown(proxy).await, 1);
    drop(site);
    let database = Path::new(DATA).join("result-aggregation.db");
    let stat = std::fs::metadata(&database).unwrap();
    assert_eq!(stat.uid(), machine.uid, "written by the service's own user");
    assert_eq!(stat.permissions().mode() & 0o777, 0o600, "UMask=0077");
    // A backup, as the nightly timer takes it.
    let backup = run_unit_once(&machine, "result-aggregation-server-backup.service");
    assert!(backup.contains("integrity ok"), "{backup}");
    let backup = Path::new(DATA).join("backups/result-aggregation.db");
    assert!(backup.is_file());
    service.terminate();

    // Removed: the program goes; the settings, the database and its backups stay.
    dpkg(&["-r", PACKAGE]);
    assert!(!Path::new("/usr/bin/result-aggregation-server").exists());
    assert_eq!(std::fs::read_to_string(SETTINGS).unwrap(), edited);
    assert!(database.is_file() && backup.is_file());

    // Installed again: the admin's edit is kept, and the reports are there.
    dpkg(&["-i", &deb]);
    assert_eq!(std::fs::read_to_string(SETTINGS).unwrap(), edited);
    let mut service = start_unit(&machine, "result-aggregation-server.service");
    assert_eq!(failures_shown(service.addr()).await, 1);
    service.terminate();

    // Purged: the settings and the enabling link go, the data stays, and dpkg says where.
    let said = dpkg(&["-P", PACKAGE]);
    assert!(said.contains(&format!("kept in {DATA}")), "{said}");
    assert!(!Path::new(SETTINGS).exists());
    assert!(!Path::new(wants).is_symlink());
    assert!(database.is_file() && backup.is_file());
    assert_eq!(status_of_package(), "", "nothing of the package is left");
}

/// The package RAS_PACKAGE_DEB names, or `None` (saying why) where the test must not run.
fn package_to_install() -> Option<String> {
    let Ok(deb) = std::env::var("RAS_PACKAGE_DEB") else {
        eprintln!(
            "skipping: RAS_PACKAGE_DEB is not set; this test installs the package on this \
             machine (as root), so only .ci/run, or RAS_PACKAGE_DEB=target/debian/\
             {PACKAGE}_VERSION_ARCH.deb after `cargo xtask deb`, runs it"
        );
        return None;
    };
    assert!(
        Path::new(&deb).is_file(),
        "RAS_PACKAGE_DEB={deb}: no such file"
    );
    assert!(
        deb.contains(&format!("_{}_", env!("CARGO_PKG_VERSION"))),
        "{deb} is not the package of this version; rebuild it with cargo xtask deb"
    );
    assert_eq!(
        run(Command::new("id").arg("-u")).trim(),
        "0",
        "dpkg needs root"
    );
    if Path::new("/run/systemd/system").exists() {
        eprintln!(
            "skipping: systemd runs here, and the package would start the real service; this \
             test runs it as its unit does where systemd is not PID 1 (a container, CI)"
        );
        return None;
    }
    Some(deb)
}

/// What this test takes over on the machine, and gives back when it ends, passed or not.
struct Machine {
    /// The uid standing for the service's dynamic user (systemd picks one in 61184-65519).
    uid: u32,
    /// Where the service's state directories are held while its namespace is made.
    aside: tempfile::TempDir,
    /// Whether /var/lib/private was made by this test (then it goes too).
    made_private: bool,
}

impl Machine {
    fn claim() -> Machine {
        assert_eq!(
            status_of_package(),
            "",
            "{PACKAGE} is installed here already: this test would remove it"
        );
        for path in [DATA, "/var/lib/result-aggregation-server"] {
            assert!(
                std::fs::symlink_metadata(path).is_err(),
                "{path} exists: this test would mix its reports with real ones"
            );
        }
        let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
        let taken: Vec<u32> = passwd
            .lines()
            .filter_map(|line| line.split(':').nth(2)?.parse().ok())
            .collect();
        let uid = (61_184..=65_519).find(|uid| !taken.contains(uid)).unwrap();
        Machine {
            uid,
            aside: tempfile::tempdir().unwrap(),
            made_private: !Path::new(PRIVATE).exists(),
        }
    }
}

impl Drop for Machine {
    fn drop(&mut self) {
        if !status_of_package().is_empty() {
            let _ = Command::new("dpkg").args(["-P", PACKAGE]).output();
        }
        let _ = std::fs::remove_dir_all(DATA);
        let _ = std::fs::remove_file("/var/lib/result-aggregation-server");
        if self.made_private {
            let _ = std::fs::remove_dir(PRIVATE);
        }
    }
}

/// dpkg's status of the package: "" when it is not there at all (not even its settings).
fn status_of_package() -> String {
    let out = Command::new("dpkg-query")
        .args(["-W", "-f=${db:Status-Abbrev}", PACKAGE])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // "un" (unknown, not installed) is what dpkg keeps of a purged package for a while.
    if status.is_empty() || status.starts_with("un") {
        String::new()
    } else {
        status
    }
}

/// Runs dpkg as apt would (no questions), which must succeed; what it printed.
fn dpkg(args: &[&str]) -> String {
    let out = Command::new("dpkg")
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "dpkg {args:?}:\n{said}");
    said
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Runs a command that must succeed; its standard output.
fn run(command: &mut Command) -> String {
    let out = command.output().unwrap();
    assert!(out.status.success(), "{command:?}:\n{}", text(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// No lintian error, and no warning but the known ones.
fn check_lintian(deb: &str) {
    let lintian = installed("lintian", &["/usr/bin/lintian"], "lintian").unwrap();
    let out = Command::new(lintian)
        .args(["--fail-on", "error", deb])
        .output()
        .unwrap();
    let said = text(&out);
    assert!(out.status.success(), "lintian found errors:\n{said}");
    for line in said.lines().filter(|line| line.starts_with("W: ")) {
        assert!(
            KNOWN_WARNINGS.iter().any(|(tag, _)| line.ends_with(tag)),
            "a new lintian warning: fix it, or name it in KNOWN_WARNINGS with its reason:\n{line}"
        );
    }
}

/// The binary and each (sub)command, by man page name: its own name and the long flags it
/// must show, from the clap definitions this test was built with, so that what is packaged
/// must match the current flags.
fn commands() -> BTreeMap<String, (String, Vec<String>)> {
    type Found = BTreeMap<String, (String, Vec<String>)>;
    fn walk(command: &clap::Command, page: String, found: &mut Found) {
        let flags = command
            .get_arguments()
            .filter(|arg| !arg.is_hide_set())
            .filter_map(|arg| arg.get_long().map(|long| format!("--{long}")))
            .collect();
        for sub in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
            walk(sub, format!("{page}-{}", sub.get_name()), found);
        }
        found.insert(page, (command.get_name().to_owned(), flags));
    }
    let mut found = BTreeMap::new();
    walk(
        &<Cli as CommandFactory>::command(),
        PACKAGE.to_owned(),
        &mut found,
    );
    found
}

/// The names of the guides in the repository's docs/, which the package installs.
fn guides() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter(|name| name.ends_with(".md"))
        .collect();
    names.sort();
    assert!(names.len() > 1, "no guides in {}", dir.display());
    names
}

/// `dpkg -L` lists every file the package promises (and no stray unit, page or guide), each on
/// disk.
fn check_files() {
    let listed = run(Command::new("dpkg").args(["-L", PACKAGE]));
    let listed: Vec<&str> = listed.lines().collect();
    let doc = "/usr/share/doc/result-aggregation-server";
    let mut expected: Vec<String> = [
        "/usr/bin/result-aggregation-server",
        "/usr/lib/systemd/system/result-aggregation-server.service",
        "/usr/lib/systemd/system/result-aggregation-server@.service",
        "/usr/lib/systemd/system/result-aggregation-server-backup.service",
        "/usr/lib/systemd/system/result-aggregation-server-backup.timer",
        SETTINGS,
        SITE,
        TLS_SITE,
        "/usr/share/bash-completion/completions/result-aggregation-server",
        "/usr/share/zsh/vendor-completions/_result-aggregation-server",
        "/usr/share/fish/vendor_completions.d/result-aggregation-server.fish",
    ]
    .map(str::to_owned)
    .into();
    for name in ["README.md", "CHANGELOG.md", "changelog.gz", "copyright"] {
        expected.push(format!("{doc}/{name}"));
    }
    // The guides the README links to, each of docs/ (issue 21).
    for name in guides() {
        expected.push(format!("{doc}/docs/{name}"));
    }
    for page in commands().keys() {
        expected.push(format!("/usr/share/man/man1/{page}.1.gz"));
    }
    for file in &expected {
        assert!(listed.contains(&file.as_str()), "dpkg -L lacks {file}");
        assert!(Path::new(file).is_file(), "{file} is not installed");
    }
    let guides_dir = format!("{doc}/docs");
    for dir in [UNITS, "/usr/share/man/man1", guides_dir.as_str()] {
        for file in listed
            .iter()
            .filter(|f| Path::new(f).parent() == Some(Path::new(dir)))
        {
            assert!(
                expected.iter().any(|e| e == file),
                "{file} was not expected"
            );
        }
    }
    let conffiles = run(Command::new("dpkg-query").args(["-W", "-f=${Conffiles}", PACKAGE]));
    assert!(conffiles.contains(SETTINGS), "{conffiles}");
    let mode = std::fs::metadata(SETTINGS).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o640);
}

/// The single service is enabled and started where systemd runs; the template and the backup
/// are started by nobody; removal stops what runs. Every systemctl call is guarded, so the
/// scripts succeed where systemd does not run (as `dpkg -i` just did here).
fn check_maintainer_scripts() {
    let script = |name: &str| {
        std::fs::read_to_string(format!("/var/lib/dpkg/info/{PACKAGE}.{name}")).unwrap()
    };
    let postinst = script("postinst");
    assert!(postinst.contains("deb-systemd-helper enable result-aggregation-server.service"));
    assert!(!postinst.contains("deb-systemd-helper enable result-aggregation-server@"));
    for line in postinst
        .lines()
        .filter(|l| l.contains("deb-systemd-invoke"))
    {
        if !line.contains("try-restart") {
            assert!(line.trim_end().ends_with(
                "deb-systemd-invoke $_dh_action result-aggregation-server.service >/dev/null || true"
            ), "only the single service starts on install: {line}");
        }
    }
    let prerm = script("prerm");
    assert!(prerm.contains("deb-systemd-invoke stop result-aggregation-server.service"));
    assert!(prerm.contains("deb-systemd-invoke stop result-aggregation-server-backup.service"));
    for text in [&postinst, &prerm, &script("postrm")] {
        for line in text
            .lines()
            .filter(|l| l.contains("systemctl") || l.contains("-invoke"))
        {
            let guarded = text
                .split("if [ -d /run/systemd/system ]")
                .skip(1)
                .any(|block| block.split("\nfi\n").next().unwrap_or("").contains(line));
            assert!(guarded, "not guarded by /run/systemd/system: {line}");
        }
    }
}

/// systemd's checker passes the installed units at their installed paths (the template as an
/// instance), their man pages included, and the hardening still rates "OK" (2.0 at most).
fn check_units() {
    let analyze = installed("systemd-analyze", &["/usr/bin/systemd-analyze"], "systemd").unwrap();
    for unit in [
        "result-aggregation-server.service",
        "result-aggregation-server@8080.service",
        "result-aggregation-server-backup.service",
        "result-aggregation-server-backup.timer",
    ] {
        let path = format!("{UNITS}/{unit}");
        let out = Command::new(&analyze)
            .args(["verify", &path])
            .output()
            .unwrap();
        let said = text(&out);
        assert!(out.status.success(), "{unit}: {said}");
        assert!(!said.contains(PACKAGE), "{unit}:\n{said}");
        if unit.ends_with(".service") {
            let out = Command::new(&analyze)
                .args([
                    "security",
                    "--offline=true",
                    "--threshold=20",
                    "--no-pager",
                    &path,
                ])
                .output()
                .unwrap();
            assert!(out.status.success(), "{unit} is exposed:\n{}", text(&out));
        }
    }
}

/// `man` renders every page without a complaint, each with the flags of its command.
fn check_man_pages() {
    installed("man", &["/usr/bin/man"], "man-db").unwrap();
    for (page, (_, flags)) in commands() {
        let out = Command::new("man")
            .args(["--warnings", &page])
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "250")
            .output()
            .unwrap();
        let shown = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "man {page}: {}", text(&out));
        assert!(out.stderr.is_empty(), "man {page}: {}", text(&out));
        for flag in flags {
            assert!(shown.contains(&flag), "man {page} lacks {flag}:\n{shown}");
        }
    }
}

/// Each shell finds its completions where it looks, and they hold every current flag; bash's
/// (through bash-completion's loader) and fish's complete subcommands.
fn check_completions() {
    let files = [
        "/usr/share/bash-completion/completions/result-aggregation-server",
        "/usr/share/zsh/vendor-completions/_result-aggregation-server",
        "/usr/share/fish/vendor_completions.d/result-aggregation-server.fish",
    ];
    for file in files {
        let script = std::fs::read_to_string(file).unwrap();
        for (page, (name, flags)) in commands() {
            assert!(script.contains(&name), "{file} lacks {page}");
            for flag in flags {
                // fish spells --rate-limit `-l rate-limit`.
                let long = &flag[2..];
                assert!(script.contains(long), "{file} lacks {flag} of {page}");
            }
        }
    }
    let loader = "/usr/share/bash-completion/bash_completion";
    installed("bash-completion", &[loader], "bash-completion").unwrap();
    for (line, expected) in [
        ("result-aggregation-server wor", "workshop"),
        ("result-aggregation-server workshop cr", "create"),
        (
            "result-aggregation-server serve --redis-t",
            "--redis-timeout",
        ),
    ] {
        // What bash does on TAB: load the command's completion by its name, then call it.
        let words: Vec<&str> = line.split(' ').collect();
        let script = format!(
            "source {loader}; __load_completion {PACKAGE} || exit 3
             function=$(complete -p {PACKAGE} | sed -n 's/.* -F \\([^ ]*\\) .*/\\1/p')
             COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}
             \"$function\" {PACKAGE} '{}' '{}'; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            words.len() - 1,
            words[words.len() - 1],
            words[words.len() - 2],
        );
        let offered = run(Command::new("bash").args(["-c", &script]));
        assert!(
            offered.lines().any(|w| w == expected),
            "{line}<TAB>: {offered:?}"
        );
    }
    let fish = installed("fish", &["/usr/bin/fish"], "fish").unwrap();
    let offered =
        run(Command::new(fish).args(["-c", "complete -C'result-aggregation-server workshop cr'"]));
    assert!(offered.starts_with("create\t"), "{offered}");
    let zsh = installed("zsh", &["/usr/bin/zsh"], "zsh").unwrap();
    let fpath = run(Command::new(zsh).args(["-fc", "print -l $fpath"]));
    assert!(
        fpath
            .lines()
            .any(|dir| dir == "/usr/share/zsh/vendor-completions"),
        "{fpath}"
    );
}

/// The `[Service]` settings of an installed unit: key to values, in order.
fn service_settings(unit: &str) -> BTreeMap<String, Vec<String>> {
    let text = std::fs::read_to_string(format!("{UNITS}/{unit}")).unwrap();
    let mut settings: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let service = text
        .split("[Service]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    for line in service.lines().filter(|l| !l.starts_with('#')) {
        if let Some((key, value)) = line.split_once('=') {
            settings
                .entry(key.to_owned())
                .or_default()
                .push(value.to_owned());
        }
    }
    settings
}

/// The command systemd would start for `unit`, here where it is not PID 1: as the unit's
/// dynamic user (a free uid, as systemd takes one), with its environment (Environment=, then
/// EnvironmentFile=, which wins), working directory, umask and no new privileges, and its state
/// directories as systemd lays them out for a dynamic user: kept in /var/lib/private (0700, so
/// no other user reaches them), linked from /var/lib, and inside the service's own mount
/// namespace a /var/lib/private that holds only its own directories.
fn unit_command(machine: &Machine, unit: &str) -> Command {
    let settings = service_settings(unit);
    let one = |key: &str| settings.get(key).and_then(|v| v.last()).map(String::as_str);
    assert_eq!(
        one("DynamicUser"),
        Some("yes"),
        "{unit}: the user model this test knows"
    );
    let uid = machine.uid.to_string();
    let mode = u32::from_str_radix(one("StateDirectoryMode").unwrap_or("0755"), 8).unwrap();
    if !Path::new(PRIVATE).exists() {
        std::fs::create_dir(PRIVATE).unwrap();
        std::fs::set_permissions(PRIVATE, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    // The namespace: each top directory is held aside, an empty /var/lib/private mounted, and
    // the directory bound back into it.
    let mut namespace = String::from("set -e\n");
    for dir in settings["StateDirectory"]
        .iter()
        .flat_map(|d| d.split_whitespace())
    {
        let real = Path::new(PRIVATE).join(dir);
        std::fs::create_dir_all(&real).unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(mode)).unwrap();
        std::os::unix::fs::chown(&real, Some(machine.uid), Some(machine.uid)).unwrap();
        if dir.contains('/') {
            continue;
        }
        let link = Path::new("/var/lib").join(dir);
        if std::fs::symlink_metadata(&link).is_err() {
            std::os::unix::fs::symlink(Path::new("private").join(dir), &link).unwrap();
        }
        let aside = machine.aside.path().join(dir);
        std::fs::create_dir_all(&aside).unwrap();
        namespace.push_str(&format!(
            "mount --bind {} {}\n",
            real.display(),
            aside.display()
        ));
    }
    namespace.push_str(&format!("mount -t tmpfs -o mode=0755 tmpfs {PRIVATE}\n"));
    for entry in std::fs::read_dir(machine.aside.path()).unwrap() {
        let aside = entry.unwrap().path();
        let inside = Path::new(PRIVATE).join(aside.file_name().unwrap());
        namespace.push_str(&format!(
            "mkdir {0}\nmount --bind {1} {0}\n",
            inside.display(),
            aside.display()
        ));
    }
    let umask = one("UMask").unwrap_or("0022");
    namespace.push_str(&format!(
        "umask {umask}\nexec setpriv --reuid {uid} --regid {uid} --clear-groups --no-new-privs -- \"$@\"\n"
    ));
    let mut environment: Vec<(String, String)> = vec![(
        "PATH".into(),
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin".into(),
    )];
    let pairs = |text: &str| -> Vec<(String, String)> {
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(key, value)| (key.to_owned(), value.trim_matches('"').to_owned()))
            .collect()
    };
    for value in settings.get("Environment").into_iter().flatten() {
        environment.extend(pairs(value));
    }
    for file in settings.get("EnvironmentFile").into_iter().flatten() {
        if let Ok(text) = std::fs::read_to_string(file.trim_start_matches('-')) {
            environment.extend(pairs(&text));
        }
    }
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &namespace,
            "sh",
        ])
        .args(one("ExecStart").unwrap().split_whitespace())
        .env_clear()
        .envs(environment)
        .current_dir(one("WorkingDirectory").unwrap_or("/"));
    command
}

/// A long-running unit's command, started and read until it listens.
fn start_unit(machine: &Machine, unit: &str) -> Server {
    Server::spawn(unit_command(machine, unit))
}

/// A oneshot unit's command, run to its end, which must be a success; what it printed.
fn run_unit_once(machine: &Machine, unit: &str) -> String {
    run(&mut unit_command(machine, unit))
}

/// How many learners the dashboard shows failing EasyMercurial in this test's workshop.
async fn failures_shown(at: std::net::SocketAddr) -> u64 {
    let path = format!("/view/{WORKSHOP}/?export=json");
    let (status, body) = request_from("127.0.0.1", at, &path, "", "").await;
    assert_eq!(status, 200, "{body}");
    let stats: serde_json::Value = serde_json::from_str(&body).unwrap();
    stats["most_failed_packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "EasyMercurial")
        .and_then(|p| p["count"].as_u64())
        .unwrap_or(0)
}
