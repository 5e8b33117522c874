#!/usr/bin/env python3
"""Check that the software a Software Carpentry workshop needs is installed.

Run it with the Python you will use during the workshop:

    python check.py              check everything, then offer to send the results
    python check.py git make     re-test only these checks
    python check.py --forget     delete what you sent from the server
    python check.py --help       all the options

For every tool it prints a pass/fail line, and for every failure what was
found and how to fix it.  It exits with 1 when a required check failed and 0
otherwise.  Only with your consent (it shows exactly what it would send and
asks first) it sends the results to the workshop's result-aggregation-server,
so the instructors can help you before the workshop starts.

It needs Python 3.6 or newer and nothing but the standard library.
"""

import argparse
import collections
import glob
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

# The server that serves this script rewrites the lines between the two
# marker lines below (one variable per line, JSON-encoded values).
# BEGIN SERVER SETTINGS
SERVER_URL = "http://127.0.0.1:8080"
WORKSHOP_ID = None
CHECKS = None
# END SERVER SETTINGS

# The checks, their default minimum versions and the fixes printed for a failure, as JSON
# between the two marker lines below. The server that serves this script reads the same
# block (src/catalog.rs), so its list of check names and the fix texts on a host's page are
# this script's own. "{python}" stands for the interpreter running the script.
# BEGIN CHECK CATALOG
CATALOG = json.loads(r"""
{
  "default_checks": ["shell", "editor", "git", "python", "package-manager", "jupyter",
                     "numpy", "pandas", "matplotlib", "sqlite3", "python-sqlite3", "make?"],
  "fixes": {
    "install": {
      "command": "Install {human}: {url}",
      "module": "Install it: {python} -m pip install {distribution} (or, with conda: conda install {distribution}); see {url}",
      "any": "Install one of them: {url}"
    },
    "upgrade": {
      "command": "Install {human} {minimum} or newer: {url}",
      "module": "Upgrade it: {python} -m pip install --upgrade {distribution} (or, with conda: conda update {distribution}); see {url}",
      "any": "Install {human} {minimum} or newer: {url}"
    },
    "timed_out": {
      "command": "Check that {human} starts, or reinstall it: {url}",
      "module": "Try 'import {module}' in Python yourself, or reinstall it; see {url}",
      "any": "Install one of them: {url}"
    },
    "reinstall": {
      "command": "Reinstall {human}: {url}",
      "module": "Reinstall it; see {url}",
      "any": "Install one of them: {url}"
    }
  },
  "checks": [
    {"name": "shell", "human": "Shell", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell",
     "alternatives": ["bash", "zsh", "powershell"]},
    {"name": "bash", "human": "Bash", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell",
     "commands": ["bash"], "paths": ["%ProgramFiles%\\Git\\bin\\bash.exe"]},
    {"name": "zsh", "human": "Zsh", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell", "commands": ["zsh"]},
    {"name": "powershell", "human": "PowerShell", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#shell",
     "commands": ["pwsh", "powershell"],
     "args": ["-NoProfile", "-NonInteractive", "-Command", "$PSVersionTable.PSVersion.ToString()"]},
    {"name": "editor", "human": "Editor", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor",
     "alternatives": ["nano", "vim", "emacs", "vscode", "notepad-plus-plus"]},
    {"name": "nano", "human": "GNU nano", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor",
     "commands": ["nano"], "paths": ["%ProgramFiles%\\Git\\usr\\bin\\nano.exe"]},
    {"name": "vim", "human": "Vim", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor",
     "commands": ["vim"], "paths": ["%ProgramFiles%\\Git\\usr\\bin\\vim.exe"]},
    {"name": "emacs", "human": "GNU Emacs", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#editor", "commands": ["emacs"]},
    {"name": "vscode", "human": "Visual Studio Code", "kind": "command",
     "url": "https://code.visualstudio.com/download", "commands": ["code"],
     "paths": ["%LOCALAPPDATA%\\Programs\\Microsoft VS Code\\bin\\code.cmd",
               "%ProgramFiles%\\Microsoft VS Code\\bin\\code.cmd",
               "/Applications/Visual Studio Code.app/Contents/Resources/app/bin/code"]},
    {"name": "notepad-plus-plus", "human": "Notepad++", "kind": "command",
     "url": "https://notepad-plus-plus.org/downloads/", "commands": ["notepad++"],
     "paths": ["%ProgramFiles%\\Notepad++\\notepad++.exe", "%ProgramFiles(x86)%\\Notepad++\\notepad++.exe"],
     "args": null},
    {"name": "git", "human": "Git", "kind": "command", "url": "https://git-scm.com/downloads",
     "minimum": "2.0", "commands": ["git"], "paths": ["%ProgramFiles%\\Git\\cmd\\git.exe"],
     "pattern": "git version (\\d\\S*)",
     "install_on": {"Darwin": "Install Git with Apple's command line tools (run: xcode-select --install), or see {url}"}},
    {"name": "make", "human": "GNU Make", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/", "commands": ["make"],
     "install_on": {"Darwin": "Install GNU Make with Apple's command line tools (run: xcode-select --install); see {url}",
                    "Linux": "Install GNU Make with your distribution's package manager (e.g. sudo apt install make); see {url}"}},
    {"name": "python", "human": "Python", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "minimum": "3.8",
     "paths": ["{python}"], "pattern": "Python (\\d\\S*)"},
    {"name": "package-manager", "human": "pip or conda", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "alternatives": ["pip", "conda"]},
    {"name": "pip", "human": "pip", "kind": "module", "url": "https://pip.pypa.io/en/stable/installation/",
     "module": "pip"},
    {"name": "conda", "human": "conda", "kind": "command",
     "url": "https://docs.conda.io/projects/conda/en/latest/user-guide/install/", "commands": ["conda"],
     "paths": ["%USERPROFILE%\\anaconda3\\condabin\\conda.bat", "%USERPROFILE%\\miniconda3\\condabin\\conda.bat"]},
    {"name": "jupyter", "human": "Jupyter", "kind": "any", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "alternatives": ["notebook", "jupyterlab"]},
    {"name": "notebook", "human": "Jupyter Notebook", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "notebook"},
    {"name": "jupyterlab", "human": "JupyterLab", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "jupyterlab"},
    {"name": "numpy", "human": "NumPy", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "numpy"},
    {"name": "pandas", "human": "pandas", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "pandas"},
    {"name": "matplotlib", "human": "Matplotlib", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "matplotlib"},
    {"name": "scipy", "human": "SciPy", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "scipy"},
    {"name": "seaborn", "human": "seaborn", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python", "module": "seaborn"},
    {"name": "scikit-learn", "human": "scikit-learn", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#python",
     "module": "sklearn", "distribution": "scikit-learn"},
    {"name": "sqlite3", "human": "SQLite", "kind": "command", "url": "https://carpentries.github.io/workshop-template/install_instructions/#sql", "commands": ["sqlite3"]},
    {"name": "python-sqlite3", "human": "Python sqlite3 module", "kind": "module", "url": "https://carpentries.github.io/workshop-template/install_instructions/#sql",
     "module": "sqlite3", "attribute": "sqlite_version"},
    {"name": "r", "human": "R", "kind": "command", "url": "https://cran.r-project.org/", "minimum": "4.0",
     "commands": ["R", "Rscript"],
     "paths": ["%ProgramFiles%\\R\\R-*\\bin\\R.exe", "/Library/Frameworks/R.framework/Resources/bin/R"],
     "pattern": "version (\\d\\S*)"},
    {"name": "rstudio", "human": "RStudio", "kind": "command", "url": "https://posit.co/download/rstudio-desktop/",
     "commands": ["rstudio"],
     "paths": ["%ProgramFiles%\\RStudio\\rstudio.exe", "%ProgramFiles%\\RStudio\\bin\\rstudio.exe",
               "/Applications/RStudio.app/Contents/MacOS/RStudio",
               "/usr/lib/rstudio/bin/rstudio", "/usr/lib/rstudio/rstudio"],
     "args": null}
  ]
}
""")
# END CHECK CATALOG

COMMAND_TIMEOUT = 10  # seconds for one "tool --version" command
IMPORT_TIMEOUT = 30  # seconds for importing a package (matplotlib's first import builds a font cache)
NETWORK_TIMEOUT = 10  # seconds for connecting to and hearing from the server
VERBOSE_LINES = 20  # lines of a command's output shown by --verbose

CONFIG_DIR_ENV = "SWC_CHECK_CONFIG_DIR"
CONFIG_SUBDIR = "swc-installation-test"
KEY_FILE = "key"

# What runs when the server sets no CHECKS: a Python + shell + git workshop.
DEFAULT_CHECKS = CATALOG["default_checks"]
FIXES = CATALOG["fixes"]
# The catalog's stand-in for the interpreter running this script.
PYTHON_PLACEHOLDER = "{python}"

SPEC_PATTERN = re.compile(r"([a-z0-9][a-z0-9_.-]*)(?:>=([0-9][0-9A-Za-z.+-]*))?(\?)?")
EMAIL_PATTERN = re.compile(r"[^@\s]+@[^@\s]+")
UUID_PATTERN = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
DOTTED_VERSION = r"(\d+(?:\.\d+)+)"
VERSION_MARKER = "SWC-CHECK-VERSION:"

# Run as "python -c" in a child interpreter: import the module named by
# argv[1], print its version attribute argv[2] (or the installed
# distribution argv[3]'s version) after VERSION_MARKER.
MODULE_VERSION_CODE = """\
import importlib, sys
module = importlib.import_module(sys.argv[1])
version = getattr(module, sys.argv[2], None)
if version is None:
    try:
        try:
            from importlib.metadata import version as dist_version
        except ImportError:
            from pkg_resources import get_distribution
            def dist_version(name):
                return get_distribution(name).version
        version = dist_version(sys.argv[3])
    except Exception:
        version = ""
print("%s%s" % (sys.argv[4], version))
"""


class Check(object):
    """One row of the check table: what to look for and how to tell its version."""

    def __init__(self, name, human, kind, url, minimum=None, commands=(), paths=(),
                 args=("--version",), pattern=DOTTED_VERSION, module=None,
                 attribute="__version__", distribution=None, alternatives=(), install_on=None):
        self.name = name
        self.human = human
        self.kind = kind
        self.url = url
        self.minimum = minimum
        self.commands = tuple(commands)
        self.paths = tuple(paths)
        self.args = None if args is None else tuple(args)
        self.pattern = pattern
        self.module = module
        self.attribute = attribute
        self.distribution = distribution or module
        self.alternatives = tuple(alternatives)
        self.install_on = dict(install_on or {})

    @property
    def label(self):
        """The name sent to the server, e.g. "Git (git)"."""
        return f"{self.human} ({self.name})"

    def describe(self):
        """Say in a few words how this check looks for its tool (for --list)."""
        if self.kind == "any":
            return "any of: " + ", ".join(self.alternatives)
        if self.kind == "module":
            return f"Python module {self.module}"
        runs = " or ".join(self.commands) or os.path.basename(self.paths[0])
        return f"runs {runs} {' '.join(self.args)}" if self.args is not None else f"finds {runs}"


def command_check(name, human, commands, url, paths=(), **options):
    """Define a check that runs a program (found on PATH or at a usual place) for its version."""
    return Check(name, human, "command", url, commands=commands, paths=paths, **options)


def module_check(name, human, module, url=None, **options):
    """Define a check that imports a Python module in a child interpreter for its version."""
    return Check(name, human, "module", url or CATALOG_BY_NAME["python"]["url"], module=module, **options)


def any_of(name, human, alternatives, url):
    """Define a virtual check that passes when any of the named checks passes."""
    return Check(name, human, "any", url, alternatives=alternatives)


def catalog_check(entry):
    """Build a Check from one entry of the catalog ("{python}" in paths is this interpreter)."""
    options = dict(entry)
    if "paths" in options:
        options["paths"] = [sys.executable if path == PYTHON_PLACEHOLDER else path
                            for path in options["paths"]]
    return Check(**options)


CATALOG_BY_NAME = {entry["name"]: entry for entry in CATALOG["checks"]}
CHECK_TABLE = collections.OrderedDict((entry["name"], catalog_check(entry))
                                      for entry in CATALOG["checks"])

Planned = collections.namedtuple("Planned", "check minimum optional")


class Result(object):
    """What one check found: the version (None when unknown) and, for a failure, why."""

    def __init__(self, check, version=None, found=None):
        self.check = check
        self.version = version
        self.found = found
        self.optional = False
        self.error = None
        self.problem = None
        self.hint = None

    @property
    def passed(self):
        """True when nothing went wrong."""
        return self.error is None

    def fail(self, error, problem, hint):
        """Mark as failed: error goes to the server, problem and hint to the learner."""
        self.error, self.problem, self.hint = error, problem, hint
        return self


def say(text="", stream=None):
    """Print a line, replacing characters the console cannot show instead of crashing."""
    stream = stream or sys.stdout
    try:
        print(text, file=stream, flush=True)
    except UnicodeEncodeError:
        encoding = getattr(stream, "encoding", None) or "ascii"
        print(text.encode(encoding, "replace").decode(encoding), file=stream, flush=True)


def warn(text):
    """Tell the learner about a problem that does not stop the script."""
    say("warning: " + text, sys.stderr)


# ---------------------------------------------------------------- versions

def version_tuple(text):
    """Return the first dotted numeric version in text (else the first number) as ints, or None."""
    if not text:
        return None
    match = re.search(DOTTED_VERSION, text) or re.search(r"\d+", text)
    return tuple(int(part) for part in match.group(0).split(".")) if match else None


def version_at_least(found, minimum):
    """Tell whether version text found is minimum or newer; missing components count as 0."""
    have, need = version_tuple(found), version_tuple(minimum)
    if have is None or need is None:
        raise ValueError(f"cannot compare versions {found!r} and {minimum!r}")
    width = max(len(have), len(need))
    return have + (0,) * (width - len(have)) >= need + (0,) * (width - len(need))


def parse_check_spec(spec):
    """Split "NAME", "NAME>=VERSION", each optionally ending in "?", into (name, minimum, optional)."""
    match = SPEC_PATTERN.fullmatch(spec) if isinstance(spec, str) else None
    if match is None:
        raise ValueError(f"bad check {spec!r}: expected NAME or NAME>=VERSION, optionally followed by ?")
    name, minimum, optional = match.groups()
    return name, minimum, optional is not None


# ---------------------------------------------------------------- running checks

def run_command(argv, timeout, verbose, shown=None):
    """Run argv without a shell and return (exit code, stdout+stderr); never waits past timeout."""
    if verbose:
        say("    $ " + (shown or " ".join(argv)))
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, universal_newlines=True,
                               errors="replace", start_new_session=True)
    try:
        output, _ = process.communicate(timeout=timeout)
    except BaseException:
        stop_process(process)
        raise
    if verbose:
        lines = output.splitlines()
        for line in lines[:VERBOSE_LINES]:
            say("    | " + line)
        if len(lines) > VERBOSE_LINES:
            say(f"    | ... ({len(lines) - VERBOSE_LINES} more lines)")
    return process.returncode, output


def stop_process(process):
    """Kill a command (with its children on POSIX) without waiting for pipes its children hold."""
    try:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
    except OSError:
        pass
    if os.name == "posix":
        process.stdout.close()  # on POSIX communicate() read it in this thread; nothing else uses it
    process.wait()


def locate(check):
    """List the existing executables for a command check: PATH matches first, then usual places."""
    found = [shutil.which(command) for command in check.commands]
    for pattern in check.paths:
        path = os.path.expandvars(pattern)
        if os.path.isabs(path):
            found.extend(sorted(glob.glob(path), reverse=True) if "*" in path else [path])
    unique = []
    for path in found:
        if path and path not in unique and os.path.isfile(path) and os.access(path, os.X_OK):
            unique.append(path)
    return unique


def fix_text(check, situation, minimum=None):
    """The catalog's fix for a failed check: situation is install, upgrade, timed_out or reinstall."""
    template = FIXES[situation][check.kind]
    if situation == "install":
        template = check.install_on.get(platform.system(), template)
    return template.format(human=check.human, url=check.url, minimum=minimum,
                           module=check.module, distribution=check.distribution,
                           python=f'"{sys.executable}"')


def install_hint(check):
    """Tell how to install the tool of a check that was not found."""
    return fix_text(check, "install")


def upgrade_hint(check, minimum):
    """Tell how to get a new enough version of a check's tool."""
    return fix_text(check, "upgrade", minimum)


def find_command(check, verbose):
    """Run the first located executable of a command check that reports a version."""
    executables = locate(check)
    if not executables:
        where = "on PATH" if not check.paths else "on PATH or in the usual install locations"
        return Result(check).fail("not found", f"not found {where}", install_hint(check))
    if check.args is None:
        return Result(check, found=executables[0])
    first_failure = None
    for executable in executables:
        result = Result(check, found=executable)
        shown = " ".join([os.path.basename(executable)] + list(check.args))
        try:
            code, output = run_command([executable] + list(check.args), COMMAND_TIMEOUT, verbose)
        except subprocess.TimeoutExpired:
            result.fail("timed out", f"'{shown}' did not finish within {COMMAND_TIMEOUT} s",
                        fix_text(check, "timed_out"))
        except OSError as error:
            result.fail(f"could not run: {error}", f"found {executable} but could not run it ({error})",
                        fix_text(check, "reinstall"))
        else:
            match = re.search(check.pattern, output)
            if match:
                result.version = match.group(1).strip()
                return result
            last_line = (output.strip().splitlines() or ["no output"])[-1].strip()
            result.fail(f"no version in output of '{shown}' (exit code {code}): {last_line}",
                        f"'{shown}' did not report a version (exit code {code}): {last_line}",
                        fix_text(check, "reinstall"))
        first_failure = first_failure or result
    return first_failure


def find_module(check, verbose):
    """Import a check's module in a child of this Python and read its version."""
    argv = [sys.executable, "-c", MODULE_VERSION_CODE, check.module, check.attribute,
            check.distribution, VERSION_MARKER]
    shown = f'{sys.executable} -c "import {check.module}; print({check.module}.{check.attribute})"'
    result = Result(check, found=sys.executable)
    try:
        code, output = run_command(argv, IMPORT_TIMEOUT, verbose, shown)
    except subprocess.TimeoutExpired:
        return result.fail("timed out", f"importing {check.module} took more than {IMPORT_TIMEOUT} s",
                           fix_text(check, "timed_out"))
    except OSError as error:
        return result.fail(f"could not run Python: {error}", f"could not run {sys.executable} ({error})",
                           fix_text(check, "reinstall"))
    for line in output.splitlines():
        if line.startswith(VERSION_MARKER):
            result.version = line[len(VERSION_MARKER):].strip() or None
            return result
    last_line = (output.strip().splitlines() or [f"exit code {code}"])[-1].strip()
    if f"No module named '{check.module.split('.')[0]}'" in output:
        return result.fail("not found", f"not installed for {sys.executable} ({last_line})",
                           install_hint(check))
    return result.fail(f"import failed: {last_line}", f"'import {check.module}' failed: {last_line}",
                       fix_text(check, "reinstall"))


def find_any(check, verbose):
    """Pass with the first alternative that passes; fail listing why each one failed."""
    reasons = []
    for name in check.alternatives:
        alternative = CHECK_TABLE[name]
        found = run_check(alternative, alternative.minimum, verbose)
        if found.passed:
            return Result(check, found.version, found=alternative.human)
        reasons.append(f"{name}: {found.error}")
    reason = "none found: " + "; ".join(reasons)
    return Result(check).fail(reason, reason, install_hint(check))


def judge(result, minimum):
    """Fail a found tool whose version is unknown or older than minimum."""
    if not result.passed or minimum is None:
        return result
    check = result.check
    if version_tuple(result.version) is None:
        return result.fail("version unknown",
                           f"could not tell which version of {check.human} this is; {minimum} or newer needed",
                           upgrade_hint(check, minimum))
    if not version_at_least(result.version, minimum):
        return result.fail(f"version {result.version} < required {minimum}",
                           f"{check.human} {result.version} found, {minimum} or newer needed",
                           upgrade_hint(check, minimum))
    return result


def run_check(check, minimum, verbose=False):
    """Run one check of any kind and judge what it found against minimum."""
    finders = {"command": find_command, "module": find_module, "any": find_any}
    return judge(finders[check.kind](check, verbose), minimum)


def describe_pass(result):
    """Say what a passing check found, e.g. "2.39.2" or "GNU nano 7.2"."""
    text = result.version or "found (version not checked)"
    if result.check.kind == "any":
        text = f"{result.found} {result.version or ''}".strip()
    return text


def show_result(result, verbose):
    """Print the pass/fail/warning line of one check, with the fix for a failure."""
    if result.passed:
        shows_path = verbose and result.found and result.check.kind != "any"
        where = f"  [{result.found}]" if shows_path else ""
        say(f"[ OK ] {result.check.label}: {describe_pass(result)}{where}")
        return
    tag, note = ("WARN", " (optional)") if result.optional else ("FAIL", "")
    say(f"[{tag}] {result.check.label}: {result.problem}{note}")
    say(f"       Fix: {result.hint}")


def run_checks(planned, verbose):
    """Run the planned checks in order, printing each result as soon as it is known."""
    results = []
    for item in planned:
        if verbose:
            say(f"Checking {item.check.label}...")
        result = run_check(item.check, item.minimum, verbose)
        result.optional = item.optional
        show_result(result, verbose)
        results.append(result)
    return results


def summarize(results):
    """Print the totals and a re-test command; return the exit code (1 if a required check failed)."""
    failed = [r for r in results if not r.passed and not r.optional]
    warned = [r for r in results if not r.passed and r.optional]
    passed = len(results) - len(failed) - len(warned)
    say()
    say(f"{passed} passed, {len(failed)} failed, {len(warned)} warning(s).")
    if failed:
        names = " ".join(r.check.name for r in failed)
        say(f"Please fix the failed checks using the hints above, then re-test them with: "
            f"python {os.path.basename(sys.argv[0] or 'check.py')} {names}")
        return 1
    say("All required checks passed." if results else "No checks were run.")
    return 0


# ---------------------------------------------------------------- choosing checks

def configured_specs():
    """Return the check specs to run by default: the server's CHECKS, else DEFAULT_CHECKS."""
    if CHECKS is None:
        return DEFAULT_CHECKS
    if not isinstance(CHECKS, list):
        warn("the server's CHECKS setting is not a list; using the default checks")
        return DEFAULT_CHECKS
    return CHECKS


def plan_checks(specs):
    """Resolve check specs to Planned checks, warning about and skipping bad or unknown ones."""
    planned, seen = [], set()
    for spec in specs:
        try:
            name, minimum, optional = parse_check_spec(spec)
        except ValueError as error:
            warn(f"{error}; skipped")
            continue
        if name not in CHECK_TABLE:
            warn(f"unknown check {name!r} (maybe this script is older than the server's list); skipped")
            continue
        if name not in seen:
            seen.add(name)
            planned.append(Planned(CHECK_TABLE[name], minimum or CHECK_TABLE[name].minimum, optional))
    return planned


def select_checks(requested):
    """Plan the checks named on the command line (all configured ones when none); ValueError if unknown."""
    configured = plan_checks(configured_specs())
    if not requested:
        return configured
    by_name = {item.check.name: item for item in configured}
    planned = []
    for spec in requested:
        name, minimum, optional = parse_check_spec(spec)
        if name not in CHECK_TABLE:
            raise ValueError(f"unknown check {name!r}; run with --list to see the available checks")
        if minimum is None and not optional and name in by_name:
            planned.append(by_name[name])
        else:
            planned.append(Planned(CHECK_TABLE[name], minimum or CHECK_TABLE[name].minimum, optional))
    return planned


def print_list():
    """Show every available check with its default minimum and its role in this run."""
    configured = {item.check.name: item for item in plan_checks(configured_specs())}
    say("Available checks (name, what, default minimum version, role in a run without names):")
    for check in CHECK_TABLE.values():
        minimum = f">={check.minimum}" if check.minimum else "-"
        item = configured.get(check.name)
        role = "-"
        if item is not None:
            role = "optional" if item.optional else "required"
            if item.minimum != check.minimum:
                role += f" (>={item.minimum})"
        say(f"  {check.name:<18} {check.human:<22} {minimum:<8} {role:<10} {check.describe()}")


# ---------------------------------------------------------------- the stored key

def config_dir():
    """Return the folder keeping the key: $SWC_CHECK_CONFIG_DIR, else the platform's config folder."""
    override = os.environ.get(CONFIG_DIR_ENV)
    if override:
        return override
    if sys.platform.startswith("win"):
        base = os.environ.get("APPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Roaming")
    elif sys.platform == "darwin":
        base = os.path.join(os.path.expanduser("~"), "Library", "Application Support")
    else:
        base = os.environ.get("XDG_CONFIG_HOME", "")
        if not os.path.isabs(base):
            base = os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, CONFIG_SUBDIR)


def key_path():
    """Return the path of the file holding the key the server gave us."""
    return os.path.join(config_dir(), KEY_FILE)


def load_key():
    """Return the stored key, or None when there is none or it is not a uuid."""
    try:
        with open(key_path(), encoding="ascii", errors="replace") as stream:
            key = stream.read().strip()
    except OSError:
        return None
    return key if UUID_PATTERN.fullmatch(key) else None


def save_key(key):
    """Store the server's key (a uuid) in the config folder; never in the working directory."""
    folder = config_dir()
    if not os.path.isabs(folder) and CONFIG_DIR_ENV not in os.environ:
        warn(f"could not find your home folder; the key {key} was not stored")
        return False
    try:
        os.makedirs(folder, exist_ok=True)
        temporary = key_path() + ".tmp"
        with open(temporary, "w", encoding="ascii") as stream:
            stream.write(key)
        os.replace(temporary, key_path())
    except OSError as error:
        warn(f"could not store the key in {folder} ({error})")
        return False
    return True


def forget_key():
    """Delete the stored key so that the next report starts a new identity."""
    try:
        os.remove(key_path())
        say(f"Forgot the stored key ({key_path()}); the next report starts a new identity.")
    except FileNotFoundError:
        say("No stored key to forget; the next report starts a new identity.")
    except OSError as error:
        warn(f"could not delete {key_path()} ({error})")


# ---------------------------------------------------------------- what is sent

def read_os_release(paths=("/etc/os-release", "/usr/lib/os-release")):
    """Return (NAME, VERSION_ID) from the first readable os-release file; missing values are None."""
    for path in paths:
        try:
            with open(path, encoding="utf-8", errors="replace") as stream:
                lines = stream.read().splitlines()
        except OSError:
            continue
        fields = {}
        for line in lines:
            key, sep, value = line.partition("=")
            if sep and not key.startswith("#"):
                try:
                    value = " ".join(shlex.split(value))
                except ValueError:
                    value = value.strip().strip("\"'")
                fields[key.strip()] = value
        return fields.get("NAME") or None, fields.get("VERSION_ID") or None
    return None, None


def distribution():
    """Return (distribution_name, distribution_version) for this operating system."""
    system = platform.system()
    if system == "Darwin":
        return "macOS", platform.mac_ver()[0] or None
    if system == "Windows":
        return "Windows", platform.win32_ver()[0] or platform.version() or None
    name, version = read_os_release()
    if name is None:
        return system or None, platform.release() or None
    return name, version


def system_info(workshop, email):
    """Describe this computer in the server's user_system_info format."""
    name, version = distribution()
    return collections.OrderedDict([
        ("distribution_name", name),
        ("distribution_version", version),
        ("system", platform.system()),
        ("system_version", platform.version()),
        ("machine", platform.machine()),
        ("system_platform", platform.platform()),
        ("python_version", platform.python_version()),
        ("workshop_id", workshop),
        ("email_id", email),
    ])


def build_payload(results, workshop, email, key):
    """Build the JSON document for POST /installation_data/ from the check results."""
    successes = [collections.OrderedDict([("name", r.check.label), ("version", r.version)])
                 for r in results if r.passed]
    failures = [collections.OrderedDict([("name", r.check.label), ("version", r.version),
                                         ("error_description", r.error)])
                for r in results if not r.passed]
    return collections.OrderedDict([
        ("user_system_info", system_info(workshop, email)),
        ("successful_installs", successes),
        ("failed_installs", failures),
        ("unique_user_id", key),
    ])


# ---------------------------------------------------------------- sending

# Where reports are posted, under the server's base URL (and deleted, followed by the key and /).
REPORT_PATH = "/installation_data/"
# Redirects a POST or DELETE is repeated for: urllib itself would repeat a redirected POST as a
# GET (301, 302), which the server answers with 405, and refuses to follow a DELETE at all.
REDIRECT_CODES = (301, 302, 307, 308)


class RedirectRefused(Exception):
    """A redirect this script does not follow: to another host, from https to http, a second
    one in a row, or one without a Location."""


class NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back as an HTTPError, so that Server decides what to repeat."""

    def redirect_request(self, *args, **kwargs):
        """Follow nothing."""
        return None


def same_host_target(url, location):
    """Return the absolute URL a redirect from url to location points to, or raise
    RedirectRefused when a report sent there could leave the host the learner chose or lose
    its encryption (http to https of the same host is fine; any port)."""
    if not location:
        raise RedirectRefused(f"the server at {url} answered with a redirect without a Location")
    target = urllib.parse.urljoin(url, location.strip())
    old, new = urllib.parse.urlsplit(url), urllib.parse.urlsplit(target)
    if new.scheme not in ("http", "https") or (new.hostname or "") != (old.hostname or ""):
        raise RedirectRefused(f"the server at {url} redirected to {target}, another host; "
                              "nothing was sent there")
    if old.scheme == "https" and new.scheme == "http":
        raise RedirectRefused(f"the server at {url} redirected to {target}, which is not "
                              "encrypted; nothing was sent there")
    return target


class Server(object):
    """The server this run talks to. A POST or DELETE answered with a redirect to the same
    host is repeated once, with the same method and body, and later requests of this run go
    straight to the new place (so an http URL costs one clear-text request, not one each)."""

    def __init__(self, host):
        self.base = host.rstrip("/")

    def post(self, path, body):
        """POST the JSON text body to path; return the answer's text. HTTPError when the server
        refuses, RedirectRefused, other urllib/OSError when it cannot be reached."""
        return self.request("POST", path, body.encode("utf-8"))

    def delete(self, path):
        """Send DELETE to path; errors as for post."""
        return self.request("DELETE", path)

    def url(self, path):
        """The full URL of path on this server."""
        return self.base + path

    def request(self, method, path, data=None):
        """Send one request, repeating it once where a redirect to the same host points."""
        url = self.url(path)
        try:
            return self.send(method, url, data)
        except urllib.error.HTTPError as error:
            if error.code not in REDIRECT_CODES:
                raise
            error.close()
            target = same_host_target(url, error.headers.get("Location"))
        self.moved(url, target, path)
        try:
            return self.send(method, target, data)
        except urllib.error.HTTPError as error:
            if error.code not in REDIRECT_CODES:
                raise
            error.close()
            raise RedirectRefused(f"the server at {target} redirected again, to "
                                  f"{error.headers.get('Location')}; nothing more was sent")

    @staticmethod
    def send(method, url, data):
        """One HTTP request without following redirects; return the answer's text."""
        headers = {"Content-Type": "application/json"} if data is not None else {}
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        # A new opener each time: it reads the proxy and certificate settings of the moment.
        with urllib.request.build_opener(NoRedirects).open(request, timeout=NETWORK_TIMEOUT) as response:
            return response.read().decode("utf-8", "replace")

    def moved(self, url, target, path):
        """Remember where the server went and tell the learner which URL to use next time."""
        if not target.endswith(path):
            say(f"The server sent {url} on to {target}.")
            return
        new_base = target[:len(target) - len(path)]
        if new_base == self.base:
            return
        self.base = new_base
        say(f"The server moved to {new_base}; next time use --host {new_base} "
            f"(or download check.py again from {new_base}/check.py).")


def explain_refusal(error, url, refused="accept the results"):
    """Print why the server answered with an HTTP error (error and detail, or when to retry)."""
    try:
        answer = json.loads(error.read().decode("utf-8", "replace"))
    except (OSError, ValueError, http.client.HTTPException):
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    if error.code == 429:
        retry = error.headers.get("Retry-After") if error.headers else None
        wait = f" in {retry} seconds" if retry else " later"
        say(f"The server at {url} is receiving too many reports right now; please try again{wait}.")
        return
    reason = answer.get("error") or error.reason
    detail = f": {answer['detail']}" if answer.get("detail") else ""
    say(f"The server at {url} did not {refused} (HTTP {error.code}, {reason}{detail}).")


def send_results(server, body, sent_key):
    """Send the report and store the key the server returns; network trouble only prints a message."""
    say(f"Sending to {server.url(REPORT_PATH)} ...")
    try:
        text = server.post(REPORT_PATH, body)
    except urllib.error.HTTPError as error:
        explain_refusal(error, server.url(REPORT_PATH))
        return False
    except RedirectRefused as error:
        say(f"Not sent: {error}. If the workshop's server has moved, run again with --host "
            "and its new URL.")
        return False
    except (OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        say(f"Could not reach the server at {server.url(REPORT_PATH)} ({reason}); your results "
            "above are still valid.")
        return False
    url = server.url(REPORT_PATH)  # where a redirect took it
    try:
        answer = json.loads(text)
        key = answer.get("key")
        message = (answer.get("summary") or {}).get("message")
    except (ValueError, AttributeError):
        key, message = None, None
    if not isinstance(key, str) or not UUID_PATTERN.fullmatch(key):
        say(f"The server at {url} sent an unexpected answer; your results above are still valid.")
        return False
    say(f"Thank you, your results were sent ({message or 'ok'}).")
    if key != sent_key and save_key(key):
        if sent_key:
            say(f"The server did not know your previous key; stored the new one in {key_path()}.")
        else:
            say(f"Stored your key in {key_path()} so later reports update this one.")
    return True


def ask(prompt):
    """Ask a question on the terminal; return the stripped answer, '' on end of input."""
    try:
        return input(prompt).strip()
    except EOFError:
        say()
        return ""


def is_email(text):
    """Tell whether text looks like an email address: something, an @, something."""
    return bool(EMAIL_PATTERN.fullmatch(text))


def ask_email():
    """Ask for an optional email until the answer is empty or has an @ (a stray "y" is no address)."""
    while True:
        answer = ask("Your email, so the instructors can contact you (optional, Enter to skip): ")
        if not answer or is_email(answer):
            return answer
        say("That is not an email address (it needs an @); type it again, or press Enter to skip.")


def offer_report(results, args):
    """Get consent, show exactly what would be sent, and send it."""
    interactive = sys.stdin is not None and sys.stdin.isatty()
    if not args.yes and not interactive:
        say("Results not sent: no terminal to ask for your consent. To send them, run again "
            "with --yes (and optionally --workshop ID --email ADDR).")
        return
    workshop = args.workshop if args.workshop is not None else WORKSHOP_ID
    email = args.email
    if not args.yes:
        say()
        if workshop is None:
            workshop = ask("Workshop name, e.g. 2016-08-13-place (optional, Enter to skip): ")
        if email is None:
            email = ask_email()
    key = load_key()
    payload = build_payload(results, workshop or None, email or None, key)
    body = json.dumps(payload, indent=2)
    server = Server(args.host)
    say()
    say(f"This is exactly what would be sent to {server.url(REPORT_PATH)}:")
    say(body)
    say("You can delete what you sent at any time with --forget.")
    if not args.yes and ask("Send these results? [y/N] ").lower() not in ("y", "yes"):
        say("Not sent.")
        return
    send_results(server, body, key)


def forget_everything(args):
    """Delete what this computer sent (by its key) from the server, then the key; return the exit code."""
    key = load_key()
    if key is None:
        say(f"No key is stored in {key_path()}: nothing sent from here is known to the server "
            "by it, so there is nothing to delete.")
        return 0
    server = Server(args.host)
    path = f"{REPORT_PATH}{key}/"
    if not args.yes:
        if sys.stdin is None or not sys.stdin.isatty():
            say("Nothing deleted: no terminal to confirm. To delete, run again with --forget --yes.")
            return 1
        answer = ask(f"Delete everything sent from this computer (key {key}) from {server.base}, "
                     "and the key itself? [y/N] ")
        if answer.lower() not in ("y", "yes"):
            say("Nothing deleted.")
            return 0
    try:
        server.delete(path)
    except urllib.error.HTTPError as error:
        explain_refusal(error, server.url(path), refused="delete your data")
        say(f"Your key is kept in {key_path()}; try again later.")
        return 1
    except RedirectRefused as error:
        say(f"Nothing deleted: {error}. Your key is kept in {key_path()}; if the workshop's "
            "server has moved, run again with --host and its new URL.")
        return 1
    except (OSError, http.client.HTTPException, ValueError) as error:
        reason = getattr(error, "reason", None) or error
        say(f"Could not reach the server at {server.url(path)} ({reason}); nothing was deleted "
            "and your key is kept.")
        return 1
    host = server.base
    try:
        os.remove(key_path())
    except OSError as error:
        warn(f"could not delete {key_path()} ({error})")
    say(f"Deleted: the server at {host} no longer has anything you sent, and this computer no "
        "longer has your key. A later report starts afresh.")
    return 0


# ---------------------------------------------------------------- command line

def host_url(text):
    """Accept an http(s) server base URL (argparse type)."""
    if not re.match(r"https?://[^/\s]+", text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an http:// or https:// URL")
    return text


def email_address(text):
    """Accept an email address, something with an @ (argparse type)."""
    if not is_email(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an email address (it needs an @)")
    return text


def help_text(value):
    """A value shown in an option's help, as argparse prints it: argparse %-formats help
    strings, so a % in a workshop id or URL (100%25 in a link is 100%) must be doubled."""
    return str(value).replace("%", "%%")


def parse_args(argv):
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0] or "check.py"),
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Check that the software for a Software Carpentry workshop is installed, "
                    "show how to fix what is missing, and (only if you agree) send the results "
                    "to the workshop's server.",
        epilog=f"""\
check specs:
  NAME, NAME>=VERSION, either optionally followed by ? (optional: a failure is
  only a warning). Example: {sys.argv[0] or 'check.py'} git "python>=3.10" "rstudio?"
  A bare NAME keeps the minimum from the workshop's list. Groups (shell, editor,
  jupyter, package-manager) pass when any of their alternatives passes.

sending:
  Before sending, the script shows the exact JSON and asks (y/N). It asks for
  a workshop name and an email (both optional) unless given as options.
  Nothing is sent with --no-report, or when there is no terminal to ask and
  --yes was not given. The server answers with a key kept in
  {config_dir()}
  (override the folder with ${CONFIG_DIR_ENV}) so later reports update yours.
  --forget deletes everything sent with that key from the server, then the key.

exit codes:
  0 all required checks passed (optional ones may have failed),
  1 a required check failed, 2 bad command line (e.g. unknown check).
  Network problems never change the exit code.""")
    parser.add_argument("checks", nargs="*", metavar="CHECK",
                        help="re-test only these checks (default: the workshop's list)")
    parser.add_argument("--list", action="store_true",
                        help="list the available checks with their default minimum versions and exit")
    parser.add_argument("-y", "--yes", action="store_true",
                        help="agree to send the results without asking (no questions asked)")
    parser.add_argument("-n", "--no-report", action="store_true",
                        help="only check, never send anything")
    parser.add_argument("--workshop", metavar="ID",
                        help="workshop name, e.g. 2016-08-13-place" +
                             (f" (default: {help_text(WORKSHOP_ID)})" if WORKSHOP_ID else ""))
    parser.add_argument("--email", metavar="ADDR", type=email_address,
                        help="your email address (optional)")
    parser.add_argument("-H", "--host", metavar="URL", type=host_url, default=SERVER_URL,
                        help=f"server base URL (default: {help_text(SERVER_URL)})")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="show the commands run and their output")
    parser.add_argument("--reset-key", action="store_true",
                        help="forget the stored key and start a new identity")
    parser.add_argument("--forget", action="store_true",
                        help="delete everything you sent from the server, and the stored key "
                             "(asks first; --yes does not ask); runs no checks")
    return parser.parse_args(argv)


def main(argv=None):
    """Run the checks, print the results, offer to send them; return the exit code."""
    args = parse_args(argv)
    if args.list:
        print_list()
        return 0
    if args.forget:
        return forget_everything(args)
    try:
        planned = select_checks(args.checks)
    except ValueError as error:
        say(f"error: {error}", sys.stderr)
        return 2
    if args.reset_key:
        forget_key()
    say(f"Checking {len(planned)} item(s) for the workshop (Python {platform.python_version()} "
        f"at {sys.executable}):")
    results = run_checks(planned, args.verbose)
    code = summarize(results)
    if not args.no_report:
        offer_report(results, args)
    return code


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        say("\nInterrupted.", sys.stderr)
        sys.exit(130)
