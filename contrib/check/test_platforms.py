"""check.py on the systems learners have, simulated on this one (standard library only).

Run from the repository root:  python3 -m unittest discover -s contrib/check -v

Each test names the system it plays: sys.platform, platform.system(), os.name, Windows'
environment folders (%ProgramFiles%, %LOCALAPPDATA%, ...) and PATHEXT, the shell's traces in
the environment, and fake executables in temporary folders that print what the real tools
print (README.md, "What is tested where", lists each output and where it comes from). On
simulated Windows, process creation flags are recorded and left out (this system's Popen
refuses them) and the process gets a session of its own instead, which the fake taskkill
stops as a tree. Tests named test_itemN_... are the numbered items of issue 23.
"""

import contextlib
import datetime
import http.server
import io
import json
import ntpath
import os
import plistlib
import shutil
import ssl
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import urllib.error
import urllib.request
from unittest import mock

import check
from test_check import KEY_1, FakeServer

POSIX_ONLY = unittest.skipIf(os.name == "nt", "fake executables are shell scripts")
SCRIPT = os.path.abspath(check.__file__)
INSTALL = "https://carpentries.github.io/workshop-template/install_instructions/"
# The sections of the template's install instructions page (its <div id="...">).
SECTIONS = ("shell", "git", "editor", "python", "r", "sql", "openrefine")
# Tools the install instructions have no section for, and the page each links instead.
OTHER_PAGES = {
    "make": "https://swcarpentry.github.io/make-novice/#setup",
    "spreadsheet": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
    "libreoffice": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
    "excel": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
    "numbers": "https://datacarpentry.org/spreadsheet-ecology-lesson/#setup",
}
# The workshop template's curriculum and flavor values (its _config.yml and
# _includes/{swc,dc,lc}/setup.html); flavor is ignored for Library Carpentry.
TEMPLATE_CURRICULA = {("swc-inflammation", "python"), ("swc-inflammation", "r"),
                      ("swc-gapminder", "python"), ("swc-gapminder", "r"),
                      ("dc-ecology", "python"), ("dc-ecology", "r"), ("lc", None)}

# What real tools print (sources in README.md).
WSL_NO_DISTRIBUTION = ("Windows Subsystem for Linux has no installed distributions.\r\n"
                       "Distributions can be installed by visiting the Microsoft Store:\r\n"
                       "https://aka.ms/wslstore\r\n")
WSL_BASH_VERSION = "GNU bash, version 5.1.16(1)-release (x86_64-pc-linux-gnu)"
GIT_FOR_WINDOWS = "git version 2.43.0.windows.1"
GIT_BASH = "GNU bash, version 5.2.26(1)-release (x86_64-pc-msys)"
NANO = " GNU nano, version 7.2"
VIM = "VIM - Vi IMproved 9.1 (2024 Jan 02, compiled Feb 20 2024 11:55:44)"
SQLITE_FROM_GETSQL = "3.27.2 2019-02-25 16:06:06 bd49a8271d650fa89e446b42e513b595a717b9212c91dd384aab871fc1d0f6d7"
APPLE_STUB_NEVER_INSTALLED = ("xcode-select: note: no developer tools were found at '/Applications/Xcode.app', "
                              "requesting install. Choose an option in the dialog to download the command "
                              "line developer tools.")
APPLE_STUB_AFTER_UPGRADE = ("xcrun: error: invalid active developer path (/Library/Developer/CommandLineTools), "
                            "missing xcrun at: /Library/Developer/CommandLineTools/usr/bin/xcrun")
JAVA_17 = ('openjdk version "17.0.15" 2025-04-15\n'
           "OpenJDK Runtime Environment (build 17.0.15+6-Debian-1deb12u1)\n"
           "OpenJDK 64-Bit Server VM (build 17.0.15+6-Debian-1deb12u1, mixed mode, sharing)")
CONDA_VERSION = "conda 24.11.3"
R_VERSION = 'R version 4.4.2 (2024-10-31) -- "Pile of Leaves"'
POWERSHELL_7 = "7.4.6"
# PSModulePath as PowerShell 5.1 sets it for its session, and as Windows sets it for everyone.
PSMODULEPATH_IN_POWERSHELL = ("C:\\Users\\learner\\Documents\\WindowsPowerShell\\Modules;"
                              "C:\\Program Files\\WindowsPowerShell\\Modules;"
                              "C:\\WINDOWS\\system32\\WindowsPowerShell\\v1.0\\Modules")
PSMODULEPATH_SYSTEM = ("%ProgramFiles%\\WindowsPowerShell\\Modules;"
                       "C:\\WINDOWS\\system32\\WindowsPowerShell\\v1.0\\Modules")
PATHEXT = ".COM;.EXE;.BAT;.CMD;.VBS;.VBE;.JS;.JSE;.WSF;.WSH;.MSC"
# Python 3.11's platform.win32_ver() on Windows 11 23H2 and on Windows 10 22H2.
WINDOWS_11_ON_PYTHON_311 = ("10", "10.0.22631", "SP0", "Multiprocessor Free")
WINDOWS_10 = ("10", "10.0.19045", "SP0", "Multiprocessor Free")

REAL_POPEN = subprocess.Popen
# Programs the fake executables use, found before any test empties PATH or plays Windows.
CAT = shutil.which("cat", path="/bin:/usr/bin")
SLEEP = shutil.which("sleep", path="/bin:/usr/bin")
# sys.platform, os.name and os.pathsep (PATH's and PATHEXT's separator) of each system.
SYSTEMS = {"Windows": ("win32", "nt", ";"), "Darwin": ("darwin", "posix", ":"), "Linux": ("linux", "posix", ":")}


def python2():
    """A Python 2 interpreter on this machine, or None."""
    for candidate in ("/root/.pyenv/versions/2.7.18/bin/python2.7", shutil.which("python2.7"),
                      shutil.which("python2")):
        if candidate and os.path.isfile(candidate) and "shims" not in candidate:
            return candidate
    return None


def process_state(pid):
    """'gone', 'zombie' or 'running' for a process id (a zombie has exited)."""
    try:
        with open(f"/proc/{pid}/stat") as stream:
            return "zombie" if stream.read().rsplit(")", 1)[1].split()[0] == "Z" else "running"
    except OSError:
        try:
            os.kill(pid, 0)
        except OSError:
            return "gone"
        return "running"


class PlatformCase(unittest.TestCase):
    """An empty environment, a home folder and fake executables; simulate() plays a system."""

    def setUp(self):
        """Start from an environment holding only what each test gives it."""
        self.tmp = tempfile.mkdtemp(prefix="swc-platform-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.home = self.folder("home")
        self.bin = self.folder("bin")
        self.started = []  # Popen's keyword arguments, one dict per process started
        environ = mock.patch.dict(os.environ, clear=True)
        environ.start()
        self.addCleanup(environ.stop)
        os.environ.update({"PATH": self.bin, "HOME": self.home,
                           check.CONFIG_DIR_ENV: self.folder("config")})
        for name, value in [("CHECKS", None), ("WORKSHOP_ID", None)]:
            patcher = mock.patch.object(check, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)

    def folder(self, *parts):
        """Create (if needed) and return a folder under the test's temporary folder."""
        path = os.path.join(self.tmp, *parts)
        os.makedirs(path, exist_ok=True)
        return path

    def tool(self, path, output="", code=0, script=None):
        """Write a fake executable at path that prints output (on stderr when code is not 0)."""
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if script is None:
            quoted = output.replace("'", "'\"'\"'")
            script = f"printf '%s\\n' '{quoted}'{' >&2' if code else ''}\nexit {code}\n"
        with open(path, "w", encoding="utf-8") as stream:
            stream.write("#!/bin/sh\n" + textwrap.dedent(script))
        os.chmod(path, 0o755)
        stem, extension = os.path.splitext(path)
        if extension in (".exe", ".cmd", ".bat") and not os.path.lexists(stem + extension.upper()):
            # Windows finds git.exe as git.EXE too (PATHEXT is upper case): one file, two names.
            os.symlink(os.path.basename(path), stem + extension.upper())
        return path

    def popen(self, *args, **kwargs):
        """Popen as on the simulated system: record its options; Windows' creation flags are
        left out (this system refuses them) for a session of its own, which taskkill stops."""
        self.started.append(dict(kwargs))
        if kwargs.pop("creationflags", 0):
            kwargs["start_new_session"] = True
        return REAL_POPEN(*args, **kwargs)

    def simulate(self, system, **environment):
        """Play system ("Windows", "Darwin" or "Linux") until the test ends, with environment."""
        sys_platform, os_name, pathsep = SYSTEMS[system]
        patchers = [mock.patch.object(sys, "platform", sys_platform),
                    mock.patch("platform.system", return_value=system),
                    mock.patch.object(os, "name", os_name),
                    mock.patch.object(os, "pathsep", pathsep),
                    mock.patch("subprocess.Popen", self.popen)]
        if system == "Windows":
            # Windows' os.path.expandvars knows %NAME% and its separator is the backslash.
            patchers.append(mock.patch("os.path.expandvars",
                                       lambda path: ntpath.expandvars(path).replace("\\", "/")))
            # Python 3.13's urllib reads Windows' certificate store for any request there; this
            # system has none (its own certificates are read after it, as on Linux).
            patchers.append(mock.patch.object(ssl.SSLContext, "_load_windows_store_certs",
                                              lambda context, store, purpose: None))
        for patcher in patchers:
            patcher.start()
            self.addCleanup(patcher.stop)
        os.environ.update(environment)

    def windows(self, program_files="Program Files", **environment):
        """Play Windows with its folders under the temporary folder: C:\\Users\\Łukasz and so on.
        program_files is the folder %ProgramFiles% names (a 32-bit Python sees the x86 one)."""
        drive = self.folder("C")
        self.profile = self.folder("C", "Users", "Łukasz")
        self.system32 = self.folder("C", "Windows", "System32")
        folders = {
            "SystemRoot": os.path.join(drive, "Windows"),
            "USERPROFILE": self.profile,
            "LOCALAPPDATA": os.path.join(self.profile, "AppData", "Local"),
            "APPDATA": os.path.join(self.profile, "AppData", "Roaming"),
            "ProgramData": os.path.join(drive, "ProgramData"),
            "ProgramFiles": os.path.join(drive, program_files),
            "ProgramW6432": os.path.join(drive, "Program Files"),
            "ProgramFiles(x86)": os.path.join(drive, "Program Files (x86)"),
            "ComSpec": os.path.join(drive, "Windows", "System32", "cmd.exe"),
            "PATHEXT": PATHEXT,
            "PSModulePath": PSMODULEPATH_SYSTEM,
        }
        folders.update(environment)
        self.simulate("Windows", **folders)
        # taskkill /T /F /PID n: stops the process tree, here the session the process leads.
        self.taskkill_log = os.path.join(self.tmp, "taskkill.log")
        self.tool(os.path.join(self.system32, "taskkill.exe"), script=f"""\
            echo "$@" >> '{self.taskkill_log}'
            kill -9 "-$4" 2>/dev/null
            exit 0
            """)

    def program_files(self, *parts):
        """A path under the 64-bit C:\\Program Files."""
        return os.path.join(self.tmp, "C", "Program Files", *parts)


@POSIX_ONLY
class WindowsShellTests(PlatformCase):
    """Item 1: a fix that types the interpreter works in the shell the learner uses."""

    # Python from python.org, installed for all users and for one user called Jane Doe.
    ALL_USERS = "C:\\Program Files\\Python312\\python.exe"
    JANE = "C:\\Users\\Jane Doe\\AppData\\Local\\Programs\\Python\\Python312\\python.exe"

    def setUp(self):
        """Play Windows."""
        super().setUp()
        self.windows()

    def fix(self, python, ancestors=(), **environment):
        """numpy's install fix for the interpreter python, started from the processes
        ancestors (none: no snapshot) with environment added to the console's."""
        with mock.patch.object(sys, "executable", python), \
                mock.patch.object(check, "windows_ancestors", return_value=tuple(ancestors)), \
                mock.patch.dict(os.environ, environment):
            return check.fix_text(check.CHECK_TABLE["numpy"], "install")

    def test_item1_powershell_gets_the_call_operator(self):
        """PowerShell refuses "C:\\...\\python.exe" -m pip ("Unexpected token '-m'"): & first,
        the path in single quotes (nothing in them expands)."""
        for ancestors, environment in ((["powershell.exe", "explorer.exe"], {}),
                                       ([], {"USERPROFILE": "C:\\Users\\learner",
                                             "PSModulePath": PSMODULEPATH_IN_POWERSHELL})):
            with self.subTest(ancestors=ancestors):
                hint = self.fix(self.JANE, ancestors, **environment)
                self.assertTrue(hint.startswith(f"Install it: & '{self.JANE}' -m pip install numpy (or, with "
                                                "conda: conda install numpy)"), hint)

    def test_item1_git_bash_and_the_command_prompt_get_their_forms(self):
        """Git Bash (bash.exe, or MSYSTEM) quotes for a POSIX shell; the Command Prompt (cmd.exe,
        or PROMPT and the system's PSModulePath) with "..."."""
        posix = f"Install it: '{self.JANE}' -m pip install numpy"
        cmd = f'Install it: "{self.JANE}" -m pip install numpy'
        for ancestors, environment, expected in (
                (["bash.exe", "mintty.exe"], {}, posix),
                ([], {"MSYSTEM": "MINGW64", "PSModulePath": PSMODULEPATH_IN_POWERSHELL,
                      "USERPROFILE": "C:\\Users\\learner"}, posix),
                (["cmd.exe", "explorer.exe"], {}, cmd),
                ([], {"PROMPT": "$P$G"}, cmd)):
            with self.subTest(ancestors=ancestors, environment=environment):
                hint = self.fix(self.JANE, ancestors, **environment)
                self.assertTrue(hint.startswith(expected), hint)
                self.assertNotIn("&", hint)

    def test_item1_a_form_per_shell_when_the_shell_is_unknown(self):
        """Started by double-click (no shell process, no trace of one): a line per shell that
        reads it differently, each said for which shell."""
        lines = self.fix(self.ALL_USERS).splitlines()
        self.assertEqual(lines[:3], [
            f"In PowerShell: Install it: & '{self.ALL_USERS}' -m pip install numpy (or, with conda: "
            f"conda install numpy); see {INSTALL}#python",
            f"In Git Bash: Install it: '{self.ALL_USERS}' -m pip install numpy (or, with conda: "
            f"conda install numpy); see {INSTALL}#python",
            f'In the Command Prompt: Install it: "{self.ALL_USERS}" -m pip install numpy (or, with '
            f"conda: conda install numpy); see {INSTALL}#python"])
        self.assertIn("Miniforge Prompt", lines[3])
        # A path no shell needs quoted but Git Bash (a backslash escapes there): two lines.
        python = "C:\\Users\\Łukasz\\AppData\\Local\\Programs\\Python\\Python312\\python.exe"
        lines = self.fix(python).splitlines()
        self.assertTrue(lines[0].startswith(f"In PowerShell or the Command Prompt: Install it: {python} -m pip"),
                        lines)
        self.assertTrue(lines[1].startswith(f"In Git Bash: Install it: '{python}' -m pip"), lines)

    def test_item1_the_nearest_shell_wins_over_the_environment(self):
        """PowerShell typed in Git Bash inherits MSYSTEM; its process says PowerShell."""
        hint = self.fix(self.JANE, ["powershell.exe", "bash.exe", "mintty.exe"], MSYSTEM="MINGW64")
        self.assertTrue(hint.startswith(f"Install it: & '{self.JANE}' -m pip"), hint)

    def test_item1_the_interpreter_as_the_learner_starts_it(self):
        """The fix types the interpreter as the re-test line does: py -3.12 after the launcher,
        python when that name leads to this Python, else the full path."""
        version = "-%d.%d" % sys.version_info[:2] + ("-32" if sys.maxsize < 2 ** 32 else "")
        hint = self.fix(sys.executable, ["py.exe", "powershell.exe"])
        self.assertTrue(hint.startswith(f"Install it: py {version} -m pip install numpy"), hint)
        os.symlink(sys.executable, os.path.join(self.bin, "python.exe"))
        hint = self.fix(sys.executable, ["cmd.exe"])
        self.assertTrue(hint.startswith("Install it: python -m pip install numpy"), hint)

    def test_environment_shell_traces(self):
        """Which shell each environment points to, when no process tells."""
        cases = [({"MSYSTEM": "MINGW64"}, "posix"),
                 ({"USERPROFILE": "C:\\Users\\learner", "PSModulePath": PSMODULEPATH_IN_POWERSHELL}, "powershell"),
                 ({"PROMPT": "$P$G"}, "cmd"),
                 ({"PROMPT": "$P$G", "USERPROFILE": "C:\\Users\\learner",
                   "PSModulePath": PSMODULEPATH_IN_POWERSHELL}, None),
                 ({}, None)]
        base = dict(os.environ)
        for environment, expected in cases:
            with self.subTest(environment=environment), mock.patch.dict(os.environ, base, clear=True):
                os.environ.update(environment)
                self.assertEqual(check.environment_shell(), expected)
                with mock.patch.object(check, "windows_ancestors", return_value=()):
                    self.assertEqual(check.learner_shell(), expected)


@POSIX_ONLY
class MacTests(PlatformCase):
    """Item 2 and macOS's own places."""

    def test_item2_apple_stubs_say_xcode_select(self):
        """/usr/bin/git and make without the developer tools: xcode-select --install, not "Reinstall"."""
        self.simulate("Darwin")
        for name, message in (("git", APPLE_STUB_NEVER_INSTALLED), ("make", APPLE_STUB_AFTER_UPGRADE)):
            with self.subTest(name=name):
                self.tool(os.path.join(self.bin, name), message, code=1)
                result = check.run_check(check.CHECK_TABLE[name], None)
                self.assertFalse(result.passed)
                self.assertIn("xcode-select --install", result.hint)
                self.assertNotIn("Reinstall", result.hint)
                self.assertIn("developer tools", result.problem)
                self.assertTrue(result.error.startswith("not found"), result.error)

    def test_a_stub_elsewhere_than_macos_is_just_a_broken_tool(self):
        """The same text on Linux is reported as it is."""
        self.simulate("Linux")
        self.tool(os.path.join(self.bin, "git"), APPLE_STUB_NEVER_INSTALLED, code=1)
        result = check.run_check(check.CHECK_TABLE["git"], None)
        self.assertIn("Reinstall Git", result.hint)

    def bundle(self, name, version):
        """A macOS application in ~/Applications with the version in its Info.plist."""
        contents = self.folder("home", "Applications", name, "Contents")
        with open(os.path.join(contents, "Info.plist"), "wb") as stream:
            plistlib.dump({"CFBundleShortVersionString": version}, stream)

    def test_applications_are_found_with_their_version(self):
        """OpenRefine.app, DB Browser for SQLite.app and RStudio.app, versions from Info.plist;
        OpenRefine brings its own Java on macOS."""
        self.simulate("Darwin")
        self.bundle("OpenRefine.app", "3.8.2")
        self.bundle("DB Browser for SQLite.app", "3.13.1")
        self.bundle("RStudio.app", "2024.12.0+467")
        for name, version in (("openrefine", "3.8.2"), ("dbbrowser", "3.13.1"), ("rstudio", "2024.12.0+467")):
            with self.subTest(name=name):
                definition = check.CHECK_TABLE[name]
                result = check.run_check(definition, definition.minimum)
                self.assertTrue(result.passed, result.problem)
                self.assertEqual(result.version, version)
        self.bundle("OpenRefine.app", "3.6.2")
        result = check.run_check(check.CHECK_TABLE["openrefine"], "3.7")
        self.assertEqual(result.error, "version 3.6.2 < required 3.7")

    def test_item7_python_org_python_is_told_to_install_certificates(self):
        """A real HTTPS server whose certificate this Python cannot verify, as on a python.org
        Python before "Install Certificates.command"; the explanation names that command."""
        error = certificate_failure(self)
        self.simulate("Darwin")
        with mock.patch.object(sys, "prefix", "/Library/Frameworks/Python.framework/Versions/3.12"):
            text = check.explain_certificate_error(error)
        self.assertIn('"Install Certificates.command"', text)
        self.assertIn("Python %d.%d" % sys.version_info[:2], text)
        self.simulate("Linux")
        self.assertIn("could not be verified", check.explain_certificate_error(error))
        self.assertIsNone(check.explain_certificate_error(urllib.error.URLError(ConnectionRefusedError(111, "x"))))


def certificate_failure(test):
    """The URLError urllib raises for a server with a self-signed certificate (needs openssl)."""
    openssl = shutil.which("openssl", path=os.defpath + ":/usr/local/bin")
    if openssl is None:
        if os.environ.get("CI") == "true":
            test.fail("CI must have openssl")
        test.skipTest("openssl is not installed")
    key, cert = os.path.join(test.tmp, "key.pem"), os.path.join(test.tmp, "cert.pem")
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.handle_request, daemon=True)
    thread.start()
    try:
        urllib.request.urlopen("https://127.0.0.1:%d/" % server.server_address[1], timeout=10)
    except urllib.error.URLError as error:
        return error
    finally:
        thread.join(10)
        server.server_close()
    test.fail("a self-signed certificate was accepted")


@POSIX_ONLY
class WindowsPlacesTests(PlatformCase):
    """Items 4, 5 and 8: where tools live on Windows, and which of them count."""

    def git_for_windows(self, root):
        """Git for Windows' bash, nano, vim and git under root."""
        self.tool(os.path.join(root, "Git", "bin", "bash.exe"), GIT_BASH)
        self.tool(os.path.join(root, "Git", "usr", "bin", "nano.exe"), NANO)
        self.tool(os.path.join(root, "Git", "usr", "bin", "vim.exe"), VIM)
        self.tool(os.path.join(root, "Git", "cmd", "git.exe"), GIT_FOR_WINDOWS)

    def assert_git_bash_nano_vim(self):
        """The shell, the editors and Git are found in the folders git_for_windows made."""
        for name, version in (("shell", "5.2.26"), ("nano", "7.2"), ("vim", "9.1"), ("git", "2.43.0.windows.1")):
            with self.subTest(name=name):
                result = check.run_check(check.CHECK_TABLE[name], check.CHECK_TABLE[name].minimum)
                self.assertTrue(result.passed, result.problem)
                self.assertEqual(result.version, version)

    def test_item4_git_installed_without_admin_rights(self):
        """Git for Windows per user: %LOCALAPPDATA%\\Programs\\Git, not on PowerShell's PATH."""
        self.windows()
        self.git_for_windows(os.path.join(os.environ["LOCALAPPDATA"], "Programs"))
        self.assert_git_bash_nano_vim()

    def test_item4_a_32_bit_python_sees_the_x86_program_files(self):
        """%ProgramFiles% is C:\\Program Files (x86) for a 32-bit Python; 64-bit Git is in %ProgramW6432%."""
        self.windows(program_files="Program Files (x86)")
        self.git_for_windows(self.program_files())
        self.assert_git_bash_nano_vim()

    def test_item5_utf16_output_is_text(self):
        """WSL's bash.exe without a distribution answers in UTF-16: decoded, no NUL in the report."""
        self.simulate("Linux")
        raw = os.path.join(self.tmp, "wsl.out")
        with open(raw, "wb") as stream:
            stream.write(WSL_NO_DISTRIBUTION.encode("utf-16-le"))
        self.tool(os.path.join(self.bin, "bash"), script=f"{CAT} '{raw}'\nexit 1\n")
        result = check.run_check(check.CHECK_TABLE["bash"], None)
        self.assertFalse(result.passed)
        for text in (result.error, result.problem):
            self.assertNotIn("\x00", text)
            self.assertNotIn("\r", text)
            self.assertTrue(text.endswith("(exit code 1): https://aka.ms/wslstore"), text)
        payload = json.dumps(check.build_payload([result], None, None, None))
        self.assertNotIn("\\u0000", payload)

    def test_decoding_keeps_utf8_and_other_encodings(self):
        """UTF-8 stays UTF-8, a byte order mark says UTF-16, terminal escapes and controls go."""
        self.assertEqual(check.decode_output("Ærøskøbing\r\n".encode("utf-8")), "Ærøskøbing\n")
        self.assertEqual(check.decode_output("Łukasz".encode("utf-16")), "Łukasz")
        self.assertEqual(check.decode_output(b"a\x00b\x1b[0mc\x07\n"), "abc\n", "the escape whole")
        self.assertEqual(check.decode_output("\x1b[1;31merror:\x1b[m bad\r\n".encode("utf-16-le")),
                         "error: bad\n")

    def test_wsl_bash_is_not_git_bash(self):
        """C:\\Windows\\System32\\bash.exe (WSL) with a distribution answers like bash: it does not count."""
        self.windows()
        os.environ["PATH"] = self.system32
        self.tool(os.path.join(self.system32, "bash.exe"), WSL_BASH_VERSION)
        result = check.run_check(check.CHECK_TABLE["shell"], None)
        self.assertFalse(result.passed)
        bash = check.run_check(check.CHECK_TABLE["bash"], None)
        self.assertIn("bash.exe is WSL's bash, not Git Bash", bash.problem)
        self.assertIn("Git for Windows", bash.hint)

    def test_powershell_alone_is_no_shell_on_windows(self):
        """PowerShell is on every Windows: the workshop's shell there is Git Bash."""
        self.windows(PATH=self.bin)
        self.tool(os.path.join(self.bin, "pwsh.exe"), POWERSHELL_7)
        result = check.run_check(check.CHECK_TABLE["shell"], None)
        self.assertFalse(result.passed)
        self.assertEqual(result.error, "none found: bash: not found")
        self.assertIn("Git Bash", result.hint)
        self.assertTrue(check.run_check(check.CHECK_TABLE["powershell"], None).passed)

    def test_git_bash_is_the_shell(self):
        """Git Bash where Git for Windows puts it passes the shell check."""
        self.windows()
        self.tool(self.program_files("Git", "bin", "bash.exe"), GIT_BASH)
        result = check.run_check(check.CHECK_TABLE["shell"], None)
        self.assertTrue(result.passed, result.problem)
        self.assertEqual(result.found, "Bash")

    def test_pathext_finds_cmd_and_bat_files(self):
        """"code" is code.cmd and "conda" conda.bat on PATH, as Windows looks them up."""
        self.windows(PATH=self.bin)
        self.tool(os.path.join(self.bin, "code.cmd"), "1.96.2\nfabdb6a30b49f79a7aba0f2ad9df9b399473380f\nx64")
        self.assertEqual(check.locate(check.CHECK_TABLE["vscode"]), [os.path.join(self.bin, "code.cmd")])
        self.assertEqual(check.run_check(check.CHECK_TABLE["vscode"], None).version, "1.96.2")

    def test_item8_sqlite3_where_getsql_and_conda_put_it(self):
        """getsql.sh puts sqlite3.exe in ~/bin (on Git Bash's PATH only); conda in Library\\bin."""
        self.windows()
        home_bin = self.tool(os.path.join(self.profile, "bin", "sqlite3.exe"), SQLITE_FROM_GETSQL)
        result = check.run_check(check.CHECK_TABLE["sqlite3"], None)
        self.assertTrue(result.passed, result.problem)
        self.assertEqual((result.version, result.found), ("3.27.2", home_bin))
        os.remove(home_bin)
        prefix = os.path.join(self.profile, "miniforge3", "envs", "carpentries")
        conda_copy = self.tool(os.path.join(prefix, "Library", "bin", "sqlite3.exe"), "3.47.2 2024-12-07 20:39:59 "
                               "2aabe05e2e8cae4847a802ee2daddc1d7413d8fc560254d93ee3e72c14685b6c (64-bit)")
        with mock.patch.object(sys, "prefix", prefix):
            result = check.run_check(check.CHECK_TABLE["sqlite3"], None)
        self.assertEqual((result.version, result.found), ("3.47.2", conda_copy))
        os.remove(conda_copy)
        base = self.tool(os.path.join(self.profile, "miniforge3", "Library", "bin", "sqlite3.exe"), SQLITE_FROM_GETSQL)
        self.assertEqual(check.run_check(check.CHECK_TABLE["sqlite3"], None).found, base)

    def test_openrefine_where_the_instructions_unzip_it(self):
        """The zip unpacked by "Extract All" in Downloads, or into Desktop\\OpenRefine as the
        install instructions say: found without running it, version from its folder; no Java
        needed (the Windows download brings its own)."""
        self.windows()
        downloads = self.tool(os.path.join(self.profile, "Downloads", "openrefine-win-with-java-3.7.9",
                                           "openrefine-3.7.9", "openrefine.exe"))
        result = check.run_check(check.CHECK_TABLE["openrefine"], "3.7")
        self.assertEqual((result.passed, result.version, result.found), (True, "3.7.9", downloads))
        desktop = self.tool(os.path.join(self.profile, "Desktop", "OpenRefine", "openrefine-3.6.2", "openrefine.exe"))
        result = check.run_check(check.CHECK_TABLE["openrefine"], "3.7")
        self.assertEqual((result.version, result.found), ("3.7.9", downloads), "the newest copy counts")
        os.remove(downloads)
        result = check.run_check(check.CHECK_TABLE["openrefine"], "3.7")
        self.assertEqual((result.error, result.found), ("version 3.6.2 < required 3.7", desktop))
        self.assertEqual(self.started, [], "OpenRefine is not started")

    def test_item10_one_tool_is_run_once_however_its_path_is_spelled(self):
        """PATH's C:\\PROGRAM FILES\\Git\\cmd\\git.EXE and the usual C:\\Program Files\\Git\\cmd\\git.exe
        are one file on Windows (case-insensitive): a failing git runs once, not twice."""
        runs = os.path.join(self.tmp, "runs")
        git = self.tool(self.program_files("Git", "cmd", "git.exe"),
                        script=f"echo run >> '{runs}'\necho 'fatal: bad config line 1' >&2\nexit 128\n")
        os.symlink(self.program_files(), os.path.join(self.tmp, "C", "PROGRAM FILES"))
        self.windows(PATH=os.path.join(self.tmp, "C", "PROGRAM FILES", "Git", "cmd"))
        result = check.run_check(check.CHECK_TABLE["git"], None)
        self.assertFalse(result.passed)
        with open(runs) as stream:
            self.assertEqual(stream.read().split(), ["run"])


@POSIX_ONLY
class WindowsProcessTests(PlatformCase):
    """Item 10: processes on Windows."""

    def test_item10_a_timed_out_cmd_file_stops_with_its_children(self):
        """code.cmd is cmd.exe running Code: on a timeout taskkill /T stops the whole tree."""
        self.windows(PATH=self.bin)
        pid_file = os.path.join(self.tmp, "child.pid")
        self.tool(os.path.join(self.bin, "code.cmd"), script=f"""\
            {SLEEP} 60 &
            echo $! > '{pid_file}'
            wait
            """)
        with mock.patch.object(check, "COMMAND_TIMEOUT", 1):
            result = check.run_check(check.CHECK_TABLE["vscode"], None)
        self.assertEqual(result.error, "timed out")
        with open(pid_file) as stream:
            child = int(stream.read())
        self.addCleanup(lambda: process_state(child) == "running" and os.kill(child, 9))
        deadline = time.monotonic() + 10  # a signal takes effect soon, not at once
        while process_state(child) == "running" and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertNotEqual(process_state(child), "running", "the child of code.cmd was left running")
        with open(self.taskkill_log) as stream:
            self.assertRegex(stream.read(), r"^/T /F /PID \d+$")

    def test_item10_no_console_window_per_check(self):
        """Under pythonw each console program would open a window: CREATE_NO_WINDOW."""
        self.windows(PATH=self.bin)
        self.tool(os.path.join(self.bin, "git.exe"), GIT_FOR_WINDOWS)
        self.assertTrue(check.run_check(check.CHECK_TABLE["git"], None).passed)
        flags = [options.get("creationflags", 0) for options in self.started]
        self.assertTrue(flags and all(flag & 0x08000000 for flag in flags), self.started)

    def test_item10_windows_11_is_11(self):
        """Python 3.11 and older say "10" for Windows 11; its build number tells."""
        self.windows()
        for version, expected in ((WINDOWS_11_ON_PYTHON_311, "11"), (WINDOWS_10, "10")):
            with self.subTest(expected=expected), \
                    mock.patch("platform.win32_ver", return_value=version), \
                    mock.patch("platform.version", return_value=version[1]):
                self.assertEqual(check.distribution(), ("Windows", expected))
        self.assertEqual(check.windows_release("10", "10.0.20348", "ServerDatacenter"), "10")
        self.assertEqual(check.windows_release("2022Server", "10.0.20348", "ServerDatacenter"), "2022Server")

    def test_pythonw_checks_with_python_exe(self):
        """pythonw.exe prints nothing: the checks run python.exe beside it."""
        self.windows()
        folder = self.folder("C", "Python312")
        self.tool(os.path.join(folder, "python.exe"), "Python 3.12.8")
        self.tool(os.path.join(folder, "pythonw.exe"), "")
        with mock.patch.object(sys, "executable", os.path.join(folder, "pythonw.exe")):
            result = check.run_check(check.CHECK_TABLE["python"], "3.11")
        self.assertEqual((result.version, result.found), ("3.12.8", os.path.join(folder, "python.exe")))


@POSIX_ONLY
class TerminalTests(PlatformCase):
    """Items 6 and 9: asking the learner, and printing what a console cannot show."""

    def test_item6_mintty_is_a_terminal(self):
        """In Git Bash's mintty standard input is a pipe to a Windows Python; ask anyway."""
        self.windows(MSYSTEM="MINGW64")
        read, write = os.pipe()
        with os.fdopen(read) as pipe, os.fdopen(write, "w"):
            self.assertTrue(check.interactive(pipe))
            with mock.patch.object(sys, "stdin", pipe):
                self.assertTrue(check.interactive())
            del os.environ["MSYSTEM"]
            self.assertFalse(check.interactive(pipe), "a pipe is no learner outside mintty")
        with open(os.path.join(self.tmp, "answers.txt"), "w+") as redirected:
            os.environ["MSYSTEM"] = "MINGW64"
            self.assertFalse(check.interactive(redirected), "python check.py < answers.txt")
        self.assertFalse(check.interactive(io.StringIO("y\n")))
        with mock.patch.object(sys, "stdin", None):
            self.assertFalse(check.interactive(), "pythonw has no stdin")

    def mintty_main(self, args, answers):
        """check.main(args) on Windows in Git Bash's mintty: standard input a pipe that holds
        answers; return (exit code, what it printed)."""
        self.windows(MSYSTEM="MINGW64")
        read, write = os.pipe()
        with os.fdopen(write, "w") as stream:
            stream.write(answers)
        out = io.StringIO()
        with os.fdopen(read) as pipe, mock.patch.object(sys, "stdin", pipe), \
                contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
            code = check.main(args)
        return code, out.getvalue()

    def test_item6_git_bash_is_asked_for_consent_and_sends(self):
        """The script asks in mintty: the workshop, the email, consent; then it sends."""
        server = FakeServer()
        self.addCleanup(server.close)
        _, out = self.mintty_main(["-H", server.url, "numbers"], "ws\njane@uni.edu\ny\n")
        self.assertIn("Send these results? [y/N]", out)
        self.assertNotIn("no terminal", out)
        self.assertEqual(len(server.requests), 1, out)
        sent = json.loads(server.requests[0][2])["user_system_info"]
        self.assertEqual((sent["workshop_id"], sent["email_id"]), ("ws", "jane@uni.edu"))

    def test_item6_git_bash_can_forget(self):
        """--forget confirms in mintty instead of refusing ("no terminal to confirm")."""
        server = FakeServer()
        self.addCleanup(server.close)
        check.save_key(KEY_1)
        code, out = self.mintty_main(["--forget", "-H", server.url], "y\n")
        self.assertEqual(code, 0, out)
        self.assertEqual(server.requests, [(f"/installation_data/{KEY_1}/", "DELETE", "")])
        self.assertIsNone(check.load_key())

    def test_item6_only_windows_pythons_need_it(self):
        """On Linux and macOS a pipe is a pipe, MSYSTEM or not."""
        self.simulate("Linux", MSYSTEM="MINGW64")
        read, write = os.pipe()
        with os.fdopen(read) as pipe, os.fdopen(write, "w"):
            self.assertFalse(check.interactive(pipe))

    def run_script(self, *args, **environment):
        """Run check.py in a child Python whose output is cp1252; return (exit code, out, err)."""
        # A UTF-8 file system, as Windows' (Python 3.6 reads paths as ASCII in the C locale).
        env = dict(os.environ, PYTHONIOENCODING="cp1252", PYTHONDONTWRITEBYTECODE="1", LC_ALL="C.UTF-8",
                   **environment)
        run = subprocess.run([sys.executable, SCRIPT] + list(args), env=env, stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
        return run.returncode, run.stdout.decode("cp1252"), run.stderr.decode("cp1252")

    def test_item9_help_list_and_checks_print_on_a_cp1252_console(self):
        """A learner called Łukasz in Ærøskøbing: every output prints ("?" for what cp1252 lacks)."""
        home = self.folder("Users", "Łukasz Ærøskøbing")
        tools = self.folder("Users", "Łukasz Ærøskøbing", "bin")
        self.tool(os.path.join(tools, "git"), "git version 2.39.5")
        environment = {"HOME": home, "PATH": tools}
        del os.environ[check.CONFIG_DIR_ENV]  # --help shows the key's folder, in the home folder
        for args in (["--help"], ["--list"], ["-n", "-v", "git", "numpy"], ["-n", "nosuchcheck"]):
            with self.subTest(args=args):
                code, out, err = self.run_script(*args, **environment)
                self.assertNotIn("Traceback", err)
                self.assertNotIn("UnicodeEncodeError", err)
                self.assertIn(code, (0, 1, 2))
                if args == ["--help"]:
                    self.assertEqual(code, 0)
                    self.assertIn("?ukasz Ærøskøbing", out)
                if "-v" in args:
                    self.assertIn("?ukasz Ærøskøbing", out)
                    self.assertIn("[ OK ] Git (git): 2.39.5", out)


@POSIX_ONLY
class LinuxTests(PlatformCase):
    """Linux's own places: OpenRefine needs Java there, Miniforge in the home folder."""

    def openrefine(self, version="3.8.2"):
        """OpenRefine's Linux tarball unpacked in ~/OpenRefine."""
        return self.tool(os.path.join(self.home, "OpenRefine", f"openrefine-{version}", "refine"), "")

    def test_openrefine_needs_java_on_linux(self):
        """Found in ~/OpenRefine/openrefine-3.8.2 (version from its folder), but Java is missing."""
        self.simulate("Linux")
        found = self.openrefine()
        result = check.run_check(check.CHECK_TABLE["openrefine"], "3.7")
        self.assertFalse(result.passed)
        self.assertEqual(result.error, "needs java: not found")
        self.assertIn("OpenRefine needs Java", result.problem)
        self.assertIn("default-jre", result.hint)
        self.tool(os.path.join(self.bin, "java"), JAVA_17, code=0, script=f"{CAT} >&2 <<'EOF'\n{JAVA_17}\nEOF\n")
        result = check.run_check(check.CHECK_TABLE["openrefine"], "3.7")
        self.assertTrue(result.passed, result.problem)
        self.assertEqual((result.version, result.found), ("3.8.2", found))

    def test_openrefine_too_old_and_java_8(self):
        """OpenRefine 3.6.2 is too old; Java 8 ("1.8.0_392") is too old for 3.7."""
        self.simulate("Linux")
        self.openrefine("3.6.2")
        self.assertEqual(check.run_check(check.CHECK_TABLE["openrefine"], "3.7").error,
                         "version 3.6.2 < required 3.7")
        self.tool(os.path.join(self.bin, "java"), 'openjdk version "1.8.0_392"', code=0)
        java = check.run_check(check.CHECK_TABLE["java"], check.CHECK_TABLE["java"].minimum)
        self.assertEqual(java.error, "version 1.8.0_392 < required 11")

    def fake_conda(self, path, environments):
        """A conda that knows its version and lists environments as conda env list --json does."""
        listing = json.dumps({"envs": environments}, indent=2)
        return self.tool(path, script=(f"if [ \"$1\" = --version ]; then echo '{CONDA_VERSION}'; exit 0; fi\n"
                                       f"{CAT} <<'EOF'\n{listing}\nEOF\n"))

    def test_miniforge_and_its_carpentries_environment(self):
        """~/miniforge3 is found without conda on PATH; its carpentries environment is listed."""
        self.simulate("Linux")
        base = os.path.join(self.home, "miniforge3")
        conda = self.fake_conda(os.path.join(base, "bin", "conda"), [base])
        self.assertEqual(check.run_check(check.CHECK_TABLE["conda"], None).version, "24.11.3")
        missing = check.run_check(check.CHECK_TABLE["carpentries-env"], None)
        self.assertEqual(missing.error, "not found")
        self.assertIn("no environment called carpentries", missing.problem)
        self.assertIn(INSTALL + "#python", missing.hint)
        env = os.path.join(base, "envs", "carpentries")
        self.fake_conda(conda, [base, env])
        found = check.run_check(check.CHECK_TABLE["carpentries-env"], None)
        self.assertTrue(found.passed, found.problem)
        self.assertEqual(found.found, env)

    def test_mambaforge_on_windows(self):
        """%USERPROFILE%\\mambaforge\\condabin\\conda.bat, with Windows paths in its list."""
        self.windows()
        base = os.path.join(self.profile, "mambaforge")
        self.fake_conda(os.path.join(base, "condabin", "conda.bat"),
                        ["C:\\Users\\Łukasz\\mambaforge", "C:\\Users\\Łukasz\\mambaforge\\envs\\carpentries"])
        result = check.run_check(check.CHECK_TABLE["carpentries-env"], None)
        self.assertTrue(result.passed, result.problem)
        self.assertEqual(result.found, "C:\\Users\\Łukasz\\mambaforge\\envs\\carpentries")

    def test_package_fixes_say_where_packages_are_checked(self):
        """Outside the carpentries environment a package's fix says to run the script from it;
        inside it, not."""
        self.simulate("Linux")
        hint = check.fix_text(check.CHECK_TABLE["plotnine"], "install")
        self.assertIn("conda activate carpentries", hint)
        self.assertIn("-m pip install plotnine", hint)
        os.environ["CONDA_DEFAULT_ENV"] = "carpentries"
        self.assertNotIn("conda activate", check.fix_text(check.CHECK_TABLE["plotnine"], "install"))

    def test_missing_pip_is_fixed_with_ensurepip(self):
        """pip's own fix: python -m ensurepip --upgrade (and apt for Debian's own Python)."""
        self.simulate("Darwin")
        self.assertIn(f"{check.shlex.quote(sys.executable)} -m ensurepip --upgrade",
                      check.fix_text(check.CHECK_TABLE["pip"], "install"))
        self.simulate("Linux")
        self.assertIn("sudo apt install python3-pip", check.fix_text(check.CHECK_TABLE["pip"], "install"))


@POSIX_ONLY
class RPackageTests(PlatformCase):
    """R packages, checked through the Rscript beside the R the r check finds."""

    def fake_r(self, folder, installed, broken=None):
        """R and an Rscript answering as R_PACKAGE_CODE does: arguments -e CODE package markers."""
        self.tool(os.path.join(folder, "R"), R_VERSION)
        cases = [f'{name}) echo "${{4}}{version}" ;;' for name, version in installed.items()]
        cases += [f'{name}) echo "${{4}}{version}"; echo "${{5}}{problem}" ;;'
                  for name, (version, problem) in (broken or {}).items()]
        self.tool(os.path.join(folder, "Rscript"),
                  script='case "$3" in\n' + "\n".join(cases) + '\n*) echo "$4" ;;\nesac\n')

    def test_installed_missing_and_broken_packages(self):
        """ggplot2 3.5.1 passes; ratdat is not installed; RSQLite fails to load."""
        self.simulate("Linux")
        self.fake_r(self.bin, {"ggplot2": "3.5.1"},
                    {"RSQLite": ("2.3.9", "package or namespace load failed for 'RSQLite'")})
        passed = check.run_check(check.CHECK_TABLE["r-ggplot2"], None)
        self.assertEqual((passed.passed, passed.version), (True, "3.5.1"))
        missing = check.run_check(check.CHECK_TABLE["r-ratdat"], None)
        self.assertEqual(missing.error, "not found")
        self.assertIn("install.packages('ratdat')", missing.hint)
        broken = check.run_check(check.CHECK_TABLE["r-rsqlite"], None)
        self.assertEqual(broken.error, "load failed: package or namespace load failed for 'RSQLite'")
        self.assertIn("install.packages('RSQLite')", broken.hint)

    def test_without_r_the_fix_is_to_install_r(self):
        """No R at all: the package check says to install R first."""
        self.simulate("Linux")
        result = check.run_check(check.CHECK_TABLE["r-tidyverse"], None)
        self.assertEqual(result.error, "R not found")
        self.assertIn(INSTALL + "#r", result.hint)

    def test_rscript_beside_r_in_program_files(self):
        """Windows' R in C:\\Program Files\\R\\R-4.4.2\\bin is found off PATH, with its Rscript.exe."""
        self.windows()
        folder = self.program_files("R", "R-4.4.2", "bin")
        self.fake_r(folder, {"dplyr": "1.1.4"})
        os.rename(os.path.join(folder, "R"), os.path.join(folder, "R.exe"))
        os.rename(os.path.join(folder, "Rscript"), os.path.join(folder, "Rscript.exe"))
        result = check.run_check(check.CHECK_TABLE["r-dplyr"], None)
        self.assertEqual((result.version, result.found), ("1.1.4", os.path.join(folder, "Rscript.exe")))

    def test_the_r_code_with_the_real_r(self):
        """The R snippet itself, run by this machine's Rscript: a base package, a missing one."""
        if shutil.which("Rscript", path=os.defpath + ":/usr/local/bin") is None:
            self.skipTest("R is not installed here")
        os.environ["PATH"] = os.defpath + ":/usr/local/bin"
        self.simulate("Linux")
        stats = check.run_check(check.Check("r-stats", "R package stats", "r-package", INSTALL + "#r",
                                            distribution="stats"), None)
        self.assertTrue(stats.passed, stats.problem)
        self.assertRegex(stats.version, r"^\d+\.\d+")
        missing = check.run_check(check.CHECK_TABLE["r-ratdat"], None)
        if missing.passed:
            self.skipTest("ratdat is installed here")
        self.assertEqual(missing.error, "not found", missing.problem)
        # A package R knows (its DESCRIPTION) but cannot load.
        library = self.folder("Rlib")
        os.makedirs(os.path.join(library, "brokenpkg"))
        with open(os.path.join(library, "brokenpkg", "DESCRIPTION"), "w") as stream:
            stream.write("Package: brokenpkg\nVersion: 1.0\n")
        os.environ["R_LIBS"] = library
        broken = check.run_check(check.Check("r-brokenpkg", "R package brokenpkg", "r-package", INSTALL + "#r",
                                             distribution="brokenpkg"), None)
        self.assertEqual(broken.version, "1.0")
        self.assertTrue(broken.error.startswith("load failed: package"), broken.error)
        self.assertIn("does not have a namespace", broken.error)


class CatalogTests(unittest.TestCase):
    """The catalog: presets, links, minimums."""

    def test_presets_name_known_checks_for_the_templates_curricula(self):
        """One preset per curriculum (and flavor) the template knows, each a valid check list."""
        presets = check.CATALOG["presets"]
        self.assertEqual({(p["curriculum"], p["flavor"]) for p in presets}, TEMPLATE_CURRICULA)
        self.assertEqual(len(presets), len(TEMPLATE_CURRICULA))
        for preset in presets:
            with self.subTest(curriculum=preset["curriculum"], flavor=preset["flavor"]):
                names = [check.parse_check_spec(spec)[0] for spec in preset["checks"]]
                self.assertEqual(len(names), len(set(names)))
                for name in names:
                    self.assertIn(name, check.CHECK_TABLE)
                self.assertTrue(preset["sources"])
                for source in preset["sources"]:
                    self.assertTrue(source.startswith("https://"), source)

    def test_a_data_carpentry_r_workshop_checks_what_it_needs(self):
        """R, RStudio, the R packages, OpenRefine and DB Browser (issue 23, done when)."""
        preset = [p for p in check.CATALOG["presets"] if (p["curriculum"], p["flavor"]) == ("dc-ecology", "r")][0]
        for name in ("r", "rstudio", "r-tidyverse", "r-lubridate", "r-ratdat", "r-rsqlite", "openrefine", "dbbrowser"):
            self.assertIn(name, preset["checks"])

    def test_every_fix_links_its_section_of_the_install_instructions(self):
        """Each check's link is a section of the install instructions, or an allowed other page."""
        self.assertEqual(check.CATALOG["install_instructions"], INSTALL)
        for definition in check.CHECK_TABLE.values():
            with self.subTest(check=definition.name):
                if definition.name in OTHER_PAGES:
                    self.assertEqual(definition.url, OTHER_PAGES[definition.name])
                else:
                    base, _, section = definition.url.partition("#")
                    self.assertEqual(base, INSTALL)
                    self.assertIn(section, SECTIONS)
                for situation in ("install", "upgrade", "timed_out", "reinstall"):
                    self.assertIn(definition.url, check.fix_text(definition, situation, "9.9"))

    def test_every_kind_has_a_fix_for_every_failure(self):
        """The server reads fixes[situation][kind] for every kind the checks use."""
        kinds = {definition.kind for definition in check.CHECK_TABLE.values()}
        for situation, by_kind in check.FIXES.items():
            self.assertEqual(set(by_kind), kinds, situation)

    def test_minimums(self):
        """Git 2.28; Python no older than the oldest still maintained upstream (3.10 reached its
        end of life in October 2026). This fails once the minimum's date has passed, on
        purpose: raise it to the oldest maintained Python and move the date."""
        self.assertEqual(check.CHECK_TABLE["git"].minimum, "2.28")
        self.assertEqual(check.CHECK_TABLE["openrefine"].minimum, "3.7")
        python = check.CHECK_TABLE["python"]
        self.assertEqual(python.minimum, "3.11")
        until = datetime.datetime.strptime(python.minimum_until, "%Y-%m-%d").date()
        self.assertGreaterEqual(until, datetime.date.today(),
                                f"Python {python.minimum} is no longer maintained: {python.minimum_source}")


class PythonTwoTests(unittest.TestCase):
    """Item 3: Python 2 (python on macOS 12.2 and older) is told what to run instead."""

    def test_item3_python2_says_run_it_with_python3(self):
        """The first line Python 2 cannot parse carries the advice."""
        interpreter = python2()
        if interpreter is None:
            self.skipTest("no Python 2 here")
        run = subprocess.run([interpreter, SCRIPT, "--help"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, timeout=60)
        said = run.stderr.decode("utf-8", "replace")
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("SyntaxError", said)
        self.assertIn("needs Python 3", said)
        self.assertIn("run it with python3 (on Windows: py)", said)


if __name__ == "__main__":
    unittest.main()
