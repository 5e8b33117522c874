"""Unit tests for check.py (standard library only).

Run from the repository root:  python3 -m unittest discover -s contrib/check -v

Nothing here uses the network beyond 127.0.0.1, and the key is only ever
stored in temporary folders (SWC_CHECK_CONFIG_DIR).
"""

import contextlib
import http.server
import io
import json
import os
import shutil
import socket
import ssl
import sys
import tempfile
import textwrap
import threading
import time
import unittest
import uuid
from unittest import mock

import check

POSIX_ONLY = unittest.skipIf(os.name == "nt", "fake executables are shell scripts")
KEY_1 = "0b2f9a9e-6a39-4c43-9a3e-1d3c2f0e6a11"
KEY_2 = "7c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
# A throwaway self-signed certificate for 127.0.0.1 (valid until 2126) and its key, for a fake
# server behind https: openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1
#   -nodes -days 36500 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1
#   -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,digitalSignature
#   -addext extendedKeyUsage=serverAuth   (Python 3.13's strict verification wants the usages)
LOOPBACK_CERTIFICATE = """\
-----BEGIN CERTIFICATE-----
MIIBtzCCAV2gAwIBAgIUQbaAUqx5hcgE8qeRLDIWgmuaUYMwCgYIKoZIzj0EAwIw
FDESMBAGA1UEAwwJMTI3LjAuMC4xMCAXDTI2MTIwMzE5MTQzOFoYDzIxMjYxMTA5
MTkxNDM4WjAUMRIwEAYDVQQDDAkxMjcuMC4wLjEwWTATBgcqhkjOPQIBBggqhkjO
PQMBBwNCAATu9OmmtlkRtxtDEcFDTUuMkSs6VnOxpU4EoXPLkEU5pfUyQ4u84HVS
eWo0W/Mt96eb0xLB9Z55WHN3qfj0JouJo4GKMIGHMB0GA1UdDgQWBBTXk7fp3Fkz
DfgaHmnlmDpOfn8XHjAfBgNVHSMEGDAWgBTXk7fp3FkzDfgaHmnlmDpOfn8XHjAP
BgNVHREECDAGhwR/AAABMA8GA1UdEwEB/wQFMAMBAf8wDgYDVR0PAQH/BAQDAgKE
MBMGA1UdJQQMMAoGCCsGAQUFBwMBMAoGCCqGSM49BAMCA0gAMEUCIQCUe3VjdgBG
gpsfH+b4I7YwSxC1OiWTz+es2Xjlk+qSQgIgeYUYVMOtCax9ZIajJPNfVB668URF
8+XykFh8C2Fx6ZI=
-----END CERTIFICATE-----
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7nV1V6yPeEMjoC9B
o0q3oTRdVtl8Og6IBXNuLkRlgaKhRANCAATu9OmmtlkRtxtDEcFDTUuMkSs6VnOx
pU4EoXPLkEU5pfUyQ4u84HVSeWo0W/Mt96eb0xLB9Z55WHN3qfj0JouJ
-----END PRIVATE KEY-----
"""


class FakeTerminal(io.StringIO):
    """Standard input that claims to be a terminal and answers with canned lines."""

    def isatty(self):
        """Pretend to be interactive."""
        return True


class FakeServer(object):
    """A result-aggregation-server stand-in on 127.0.0.1 that records what it receives."""

    def __init__(self, status=200, answer=None, headers=None, redirect=None, certificate=None,
                 port=0):
        self.status = status
        self.answer = answer
        self.headers = headers or {}
        self.redirect = redirect
        self.requests = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            """Record each POST and reply with the configured answer."""

            def do_POST(self):
                """Store path, content type and body; answer like the real server."""
                body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8")
                server.requests.append((self.path, self.headers.get("Content-Type"), body))
                if server.redirect_to(self):
                    return
                reply = json.dumps(server.reply_for(body)).encode("utf-8")
                self.send_response(server.status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def do_DELETE(self):
                """Record each DELETE and answer with the configured status, no body."""
                server.requests.append((self.path, "DELETE", ""))
                if server.redirect_to(self):
                    return
                status = server.status if server.status != 200 else 204
                self.send_response(status)
                for name, value in server.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                """What urllib turns a redirected POST into; the real server answers 405."""
                server.requests.append((self.path, "GET", ""))
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                """Keep the test output quiet."""

        self.httpd = http.server.HTTPServer(("127.0.0.1", port), Handler)
        scheme = "http"
        if certificate is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(certificate)
            self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
            scheme = "https"
        self.url = "%s://127.0.0.1:%d" % (scheme, self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def redirect_to(self, handler):
        """Answer with the configured redirect (status, base URL) to the same path; True if so."""
        if self.redirect is None:
            return False
        status, base = self.redirect
        handler.send_response(status)
        handler.send_header("Location", base + handler.path)
        handler.send_header("Content-Length", "0")
        handler.end_headers()
        return True

    def reply_for(self, body):
        """Return the configured answer, or the real server's: same key if sent, else a new one."""
        if self.answer is not None:
            return self.answer
        sent = json.loads(body).get("unique_user_id")
        message = "pushed data with same id" if sent else "new id generated"
        return {"key": sent or str(uuid.uuid4()), "summary": {"status": "Successful", "message": message}}

    def close(self):
        """Stop serving and free the port."""
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def run_main(args, stdin=None):
    """Run check.main(args) and return (exit code, stdout text, stderr text)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            mock.patch.object(sys, "stdin", stdin if stdin is not None else io.StringIO("")):
        code = check.main(args)
    return code, out.getvalue(), err.getvalue()


def shown_json(output):
    """Return the JSON text the script printed as "exactly what would be sent"."""
    start = output.index("{", output.index("This is exactly what would be sent to"))
    _, end = json.JSONDecoder().raw_decode(output, start)
    return output[start:end]


class VersionTests(unittest.TestCase):
    """Version extraction and comparison."""

    def test_version_tuple_finds_first_dotted_version(self):
        """Real-world version strings give their numeric components."""
        cases = {
            "2.39.2.windows.1": (2, 39, 2),
            "1.26.4": (1, 26, 4),
            "3.11.7+": (3, 11, 7),
            "R version 4.3.1 (2023-06-16) -- \"Beagle Scouts\"": (4, 3, 1),
            "git version 2.7.4": (2, 7, 4),
            "v1.2.3rc1": (1, 2, 3),
            "zsh 5.9 (x86_64-pc-linux-gnu)": (5, 9),
            "GNU bash, version 5.2.15(1)-release": (5, 2, 15),
            "2023.06.1+524": (2023, 6, 1),
            "2": (2,),
        }
        for text, expected in cases.items():
            with self.subTest(text=text):
                self.assertEqual(check.version_tuple(text), expected)

    def test_version_tuple_without_digits_is_none(self):
        """No number, no version."""
        for text in ("", None, "unknown", "pico"):
            with self.subTest(text=text):
                self.assertIsNone(check.version_tuple(text))

    def test_version_at_least_compares_numerically(self):
        """Components compare as numbers and missing ones count as zero."""
        self.assertTrue(check.version_at_least("2.10", "2.9"))
        self.assertTrue(check.version_at_least("2.0", "2"))
        self.assertTrue(check.version_at_least("2", "2.0.0"))
        self.assertTrue(check.version_at_least("3.11.7+", "3.11.7"))
        self.assertTrue(check.version_at_least("git version 2.7.4", "2.7"))
        self.assertFalse(check.version_at_least("1.8.3", "2.0"))
        self.assertFalse(check.version_at_least("2.39.2.windows.1", "2.39.3"))
        self.assertFalse(check.version_at_least("R version 3.6.3 (2020-02-29)", "4.0"))

    def test_version_at_least_rejects_unparsable(self):
        """A version without digits cannot be compared."""
        with self.assertRaises(ValueError):
            check.version_at_least("unknown", "1.0")


class SpecTests(unittest.TestCase):
    """The check spec grammar shared with the server."""

    def test_good_specs(self):
        """NAME, NAME>=VERSION and the optional marker parse into their parts."""
        cases = {
            "git": ("git", None, False),
            "git>=2.0": ("git", "2.0", False),
            "rstudio?": ("rstudio", None, True),
            "python>=3.8?": ("python", "3.8", True),
            "scikit-learn>=1.0.post1": ("scikit-learn", "1.0.post1", False),
            "a_b.c-d>=2.0+local-1": ("a_b.c-d", "2.0+local-1", False),
            "7zip": ("7zip", None, False),
        }
        for spec, expected in cases.items():
            with self.subTest(spec=spec):
                self.assertEqual(check.parse_check_spec(spec), expected)

    def test_bad_specs(self):
        """Anything outside the grammar raises ValueError."""
        for spec in ["", "Git", "git>=", "git>=x1", "git >=2", "git>2", "git?>=2", "-git",
                     "git\n", "git??", "git>=2.0 ", "git==2", "_git", None, 3]:
            with self.subTest(spec=spec):
                with self.assertRaises(ValueError):
                    check.parse_check_spec(spec)

    def test_every_default_and_table_name_is_a_valid_spec(self):
        """The built-in names obey the grammar the server validates."""
        for spec in check.DEFAULT_CHECKS + list(check.CHECK_TABLE):
            name = check.parse_check_spec(spec)[0]
            self.assertIn(name, check.CHECK_TABLE)

    def test_the_catalog_gives_every_check_a_fix_for_every_failure(self):
        """Each check has a fix text for each situation, built from the catalog alone."""
        for definition in check.CHECK_TABLE.values():
            for situation in ("install", "upgrade", "timed_out", "reinstall"):
                with self.subTest(check=definition.name, situation=situation):
                    text = check.fix_text(definition, situation, "9.9")
                    self.assertNotIn("{", text)
                    self.assertIn(definition.url, text)

    def test_the_catalog_sits_between_the_markers_the_server_reads(self):
        """The server finds the JSON between these two lines (src/catalog.rs)."""
        with open(check.__file__, encoding="utf-8") as stream:
            source = stream.read()
        block = source.split("# BEGIN CHECK CATALOG\n")[1].split("# END CHECK CATALOG\n")[0]
        parsed = json.loads(block[block.index("{"):block.rindex("}") + 1])
        self.assertEqual(parsed, check.CATALOG)


class SandboxTestCase(unittest.TestCase):
    """Give each test an empty PATH folder, a temporary config folder and no proxies."""

    def setUp(self):
        """Create the temporary folders and point the environment at them."""
        self.tmp = tempfile.mkdtemp(prefix="swc-check-test-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.bin = os.path.join(self.tmp, "bin")
        self.pylib = os.path.join(self.tmp, "pylib")
        self.config = os.path.join(self.tmp, "config")
        os.makedirs(self.bin)
        os.makedirs(self.pylib)
        environ = mock.patch.dict(os.environ)
        environ.start()
        self.addCleanup(environ.stop)
        for name in list(os.environ):
            if name.lower().endswith("_proxy"):
                del os.environ[name]
        os.environ["PATH"] = self.bin
        os.environ["PYTHONPATH"] = self.pylib
        os.environ[check.CONFIG_DIR_ENV] = self.config
        for name, value in [("CHECKS", None), ("WORKSHOP_ID", None)]:
            patcher = mock.patch.object(check, name, value)
            patcher.start()
            self.addCleanup(patcher.stop)

    def make_tool(self, name, script, mode=0o755):
        """Write a fake executable shell script into the PATH folder."""
        path = os.path.join(self.bin, name)
        with open(path, "w") as stream:
            stream.write("#!/bin/sh\n" + textwrap.dedent(script))
        os.chmod(path, mode)
        return path

    def make_module(self, name, source):
        """Write a fake Python module that the checks' child interpreter can import."""
        with open(os.path.join(self.pylib, name + ".py"), "w") as stream:
            stream.write(textwrap.dedent(source))

    def add_check(self, definition):
        """Make a test-only check definition available under its name."""
        patcher = mock.patch.dict(check.CHECK_TABLE, {definition.name: definition})
        patcher.start()
        self.addCleanup(patcher.stop)
        return definition

    def stored_key(self):
        """Return the text of the key file, or None if there is none."""
        try:
            with open(os.path.join(self.config, check.KEY_FILE)) as stream:
                return stream.read()
        except FileNotFoundError:
            return None


@POSIX_ONLY
class CommandCheckTests(SandboxTestCase):
    """Command checks against fake executables on PATH."""

    def git(self, minimum="2.0"):
        """Run the real git check definition with the given minimum."""
        return check.run_check(check.CHECK_TABLE["git"], minimum)

    def test_too_old_version_fails_with_found_and_needed(self):
        """git 1.8.3 is reported with its own version and a fix."""
        self.make_tool("git", 'echo "git version 1.8.3"\n')
        result = self.git()
        self.assertFalse(result.passed)
        self.assertEqual(result.version, "1.8.3")
        self.assertEqual(result.error, "version 1.8.3 < required 2.0")
        self.assertEqual(result.problem, "Git 1.8.3 found, 2.0 or newer needed")
        self.assertIn("https://carpentries.github.io/workshop-template/install_instructions/#git", result.hint)

    def test_new_enough_version_passes_with_full_version(self):
        """A vendor suffix is kept in the reported version but ignored in comparisons."""
        self.make_tool("git", 'echo "git version 2.39.2.windows.1"\n')
        result = self.git("2.39")
        self.assertTrue(result.passed)
        self.assertEqual(result.version, "2.39.2.windows.1")
        self.assertEqual(result.found, os.path.join(self.bin, "git"))

    def test_missing_command_is_not_found(self):
        """No executable on PATH means "not found" and no version."""
        result = self.git()
        self.assertFalse(result.passed)
        self.assertIsNone(result.version)
        self.assertEqual(result.error, "not found")
        self.assertIn("not found on PATH", result.problem)

    def test_file_that_is_not_executable_is_not_found(self):
        """A file without execute permission does not count."""
        self.make_tool("git", 'echo "git version 2.40.0"\n', mode=0o644)
        self.assertEqual(self.git().error, "not found")

    def test_output_without_version_fails(self):
        """A program that prints no version is a failure that quotes its output."""
        self.make_tool("git", 'echo "something went wrong" >&2\nexit 3\n')
        result = self.git()
        self.assertFalse(result.passed)
        self.assertIsNone(result.version)
        self.assertIn("exit code 3", result.error)
        self.assertIn("something went wrong", result.error)

    def test_version_on_stderr_with_failing_exit_code_still_counts(self):
        """Some tools print their version on stderr or exit non-zero; the version is what matters."""
        self.make_tool("make", 'echo "GNU Make 4.3" >&2\nexit 2\n')
        result = check.run_check(check.CHECK_TABLE["make"], "4.0")
        self.assertTrue(result.passed)
        self.assertEqual(result.version, "4.3")

    def test_hanging_command_times_out(self):
        """A command that never ends (even via a child process) fails quickly instead of hanging."""
        sleep = shutil.which("sleep", path="/bin:/usr/bin")
        self.make_tool("git", f'{sleep} 30\necho "git version 2.40.0"\n')
        started = time.monotonic()
        with mock.patch.object(check, "COMMAND_TIMEOUT", 1):
            result = self.git()
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(result.error, "timed out")
        self.assertIsNone(result.version)

    def test_later_candidate_used_when_first_reports_no_version(self):
        """PowerShell falls back from a broken pwsh to a working powershell."""
        self.make_tool("pwsh", "exit 1\n")
        self.make_tool("powershell", 'echo "5.1.19041.3803"\n')
        result = check.run_check(check.CHECK_TABLE["powershell"], None)
        self.assertTrue(result.passed)
        self.assertEqual(result.version, "5.1.19041.3803")

    def test_presence_only_check(self):
        """RStudio is found without running it; a minimum then cannot be confirmed."""
        self.make_tool("rstudio", "exit 99\n")
        found = check.run_check(check.CHECK_TABLE["rstudio"], None)
        self.assertTrue(found.passed)
        self.assertIsNone(found.version)
        needs_version = check.run_check(check.CHECK_TABLE["rstudio"], "2023.06")
        self.assertFalse(needs_version.passed)
        self.assertEqual(needs_version.error, "version unknown")

    def test_each_result_reports_its_own_version(self):
        """A failed check after a passing one reports no version (the original client's bug)."""
        self.make_tool("git", 'echo "git version 2.39.2"\n')
        plan = check.plan_checks(["git", "make", "r"])
        with contextlib.redirect_stdout(io.StringIO()):
            results = check.run_checks(plan, verbose=False)
        self.assertEqual([r.version for r in results], ["2.39.2", None, None])
        self.assertEqual([r.passed for r in results], [True, False, False])


class ModuleCheckTests(SandboxTestCase):
    """Python module checks, importing fake modules in a child interpreter."""

    def module(self, name, minimum=None):
        """Run a module check for the fake module called name."""
        return check.run_check(check.module_check(name, "Fake", name), minimum)

    def test_module_version_found(self):
        """__version__ is reported as is."""
        self.make_module("swc_fake_good", '__version__ = "1.26.4"\n')
        result = self.module("swc_fake_good", "1.16")
        self.assertTrue(result.passed)
        self.assertEqual(result.version, "1.26.4")

    def test_module_too_old(self):
        """An old module fails with its version and an upgrade hint."""
        self.make_module("swc_fake_old", '__version__ = "1.2.3"\n')
        result = self.module("swc_fake_old", "2.0")
        self.assertFalse(result.passed)
        self.assertEqual(result.version, "1.2.3")
        self.assertEqual(result.error, "version 1.2.3 < required 2.0")
        self.assertIn("pip install --upgrade swc_fake_old", result.hint)

    def test_missing_module_is_not_found(self):
        """A module that is not installed is "not found" with an install hint."""
        result = self.module("swc_fake_missing")
        self.assertFalse(result.passed)
        self.assertIsNone(result.version)
        self.assertEqual(result.error, "not found")
        self.assertIn("pip install swc_fake_missing", result.hint)

    def test_module_that_fails_to_import(self):
        """An import error inside the module is reported with its message."""
        self.make_module("swc_fake_broken", 'raise RuntimeError("boom")\n')
        result = self.module("swc_fake_broken")
        self.assertFalse(result.passed)
        self.assertEqual(result.error, "import failed: RuntimeError: boom")

    def test_module_without_version(self):
        """No version attribute or metadata gives a null version: fine without a minimum only."""
        self.make_module("swc_fake_noversion", 'print("noise on import")\n')
        self.assertTrue(self.module("swc_fake_noversion").passed)
        self.assertIsNone(self.module("swc_fake_noversion").version)
        self.assertEqual(self.module("swc_fake_noversion", "1.0").error, "version unknown")

    def test_real_sqlite3_module(self):
        """The Python sqlite3 check reports the SQLite library version."""
        result = check.run_check(check.CHECK_TABLE["python-sqlite3"], None)
        self.assertTrue(result.passed, result.problem)
        self.assertRegex(result.version, r"^3\.\d+")


@POSIX_ONLY
class VirtualCheckTests(SandboxTestCase):
    """Checks that pass when any alternative passes."""

    def test_passes_when_any_alternative_passes(self):
        """zsh alone satisfies the shell check."""
        self.make_tool("zsh", 'echo "zsh 5.9 (x86_64-pc-linux-gnu)"\n')
        result = check.run_check(check.CHECK_TABLE["shell"], None)
        self.assertTrue(result.passed)
        self.assertEqual(result.version, "5.9")
        self.assertEqual(result.found, "Zsh")
        self.assertEqual(result.check.label, "Shell (shell)")

    def test_fails_when_no_alternative_passes(self):
        """With no shell at all the check fails and lists each alternative's problem."""
        result = check.run_check(check.CHECK_TABLE["shell"], None)
        self.assertFalse(result.passed)
        self.assertIsNone(result.version)
        self.assertTrue(result.error.startswith("none found: "))
        for name in ("bash", "zsh", "powershell"):
            self.assertIn(name + ": not found", result.error)

    def test_alternative_too_old_does_not_count(self):
        """An alternative failing its own minimum does not satisfy the group."""
        self.make_tool("git", 'echo "git version 1.8.3"\n')
        self.add_check(check.any_of("vcs", "Version control", ["git"], "https://example.org"))
        result = check.run_check(check.CHECK_TABLE["vcs"], None)
        self.assertFalse(result.passed)
        self.assertIn("git: version 1.8.3 < required 2.28", result.error)


class MainTests(SandboxTestCase):
    """The command line: exit codes, selection of checks, warnings."""

    def setUp(self):
        """Provide a fake module check that passes and one that is too old."""
        super().setUp()
        self.make_module("swc_fake_new", '__version__ = "2.5"\n')
        self.make_module("swc_fake_old", '__version__ = "0.9"\n')
        self.add_check(check.module_check("fake-new", "Fake New", "swc_fake_new", minimum="2.0"))
        self.add_check(check.module_check("fake-old", "Fake Old", "swc_fake_old", minimum="2.0"))

    def test_required_failure_exits_1(self):
        """A required check failing gives exit code 1 and a FAIL line with a fix."""
        code, out, _ = run_main(["-n", "fake-new", "fake-old"])
        self.assertEqual(code, 1)
        self.assertIn("[ OK ] Fake New (fake-new): 2.5", out)
        self.assertIn("[FAIL] Fake Old (fake-old): Fake Old 0.9 found, 2.0 or newer needed", out)
        self.assertIn("Fix: Upgrade it:", out)

    def test_optional_failure_is_a_warning_and_exits_0(self):
        """An optional check failing is only a warning."""
        code, out, _ = run_main(["-n", "fake-new", "fake-old?"])
        self.assertEqual(code, 0)
        self.assertIn("[WARN] Fake Old (fake-old)", out)
        self.assertIn("(optional)", out)

    def test_explicit_minimum_overrides_default(self):
        """NAME>=VERSION on the command line replaces the default minimum."""
        self.assertEqual(run_main(["-n", "fake-old>=0.5"])[0], 0)
        self.assertEqual(run_main(["-n", "fake-new>=3"])[0], 1)

    def test_unknown_check_name_exits_2(self):
        """An unknown name is a usage error that points to --list."""
        code, out, err = run_main(["-n", "nosuchtool"])
        self.assertEqual(code, 2)
        self.assertIn("unknown check 'nosuchtool'", err)
        self.assertIn("--list", err)

    def test_bad_spec_exits_2(self):
        """A malformed spec is a usage error."""
        self.assertEqual(run_main(["-n", "Git>2"])[0], 2)

    def test_bad_host_exits_2(self):
        """-H must be an http(s) URL."""
        with contextlib.redirect_stderr(io.StringIO()), self.assertRaises(SystemExit) as raised:
            check.main(["-n", "-H", "ftp://example.org", "fake-new"])
        self.assertEqual(raised.exception.code, 2)

    def test_list(self):
        """--list shows names with default minimums and exits 0."""
        code, out, _ = run_main(["--list"])
        self.assertEqual(code, 0)
        self.assertRegex(out, r"\n  git +Git +>=2\.28 +required")
        self.assertRegex(out, r"\n  make +GNU Make +- +optional")
        self.assertRegex(out, r"\n  rstudio +RStudio +- +- ")

    def test_served_checks_with_unknown_and_bad_entries(self):
        """The server's list is used; unknown or malformed entries warn and are skipped."""
        with mock.patch.object(check, "CHECKS", ["fake-new>=2.1", "nosuchtool", "Bad Spec", "fake-old?"]):
            code, out, err = run_main(["-n"])
        self.assertEqual(code, 0)
        self.assertIn("unknown check 'nosuchtool'", err)
        self.assertIn("bad check 'Bad Spec'", err)
        self.assertIn("[ OK ] Fake New (fake-new)", out)
        self.assertIn("[WARN] Fake Old (fake-old)", out)
        self.assertIn("Checking 2 item(s)", out)

    def test_bare_name_keeps_served_minimum(self):
        """Re-testing a listed check by name uses the workshop's minimum for it."""
        with mock.patch.object(check, "CHECKS", ["fake-new>=3.0"]):
            self.assertEqual(run_main(["-n", "fake-new"])[0], 1)

    def test_default_list_is_known(self):
        """With no server list, the documented default checks are planned."""
        names = [item.check.name for item in check.plan_checks(check.configured_specs())]
        self.assertEqual(names, [check.parse_check_spec(s)[0] for s in check.DEFAULT_CHECKS])
        self.assertIn("make", [i.check.name for i in check.plan_checks(check.DEFAULT_CHECKS) if i.optional])


class PayloadTests(SandboxTestCase):
    """The JSON document sent to the server."""

    def results(self):
        """Return one passing and two failing results (one without a version)."""
        self.make_module("swc_fake_new", '__version__ = "2.5"\n')
        self.make_module("swc_fake_old", '__version__ = "0.9"\n')
        definitions = [check.module_check("fake-new", "Fake New", "swc_fake_new"),
                       check.module_check("fake-old", "Fake Old", "swc_fake_old"),
                       check.module_check("fake-gone", "Fake Gone", "swc_fake_gone")]
        return [check.run_check(d, "2.0") for d in definitions]

    def test_payload_fields(self):
        """All wire fields are present, with nulls for what is missing."""
        payload = check.build_payload(self.results(), None, None, None)
        self.assertEqual(list(payload), ["user_system_info", "successful_installs",
                                         "failed_installs", "unique_user_id", "checked_at"])
        info = payload["user_system_info"]
        self.assertEqual(set(info), {"distribution_name", "distribution_version", "system",
                                     "system_version", "machine", "system_platform",
                                     "python_version", "workshop_id", "email_id"})
        self.assertIsNone(info["workshop_id"])
        self.assertIsNone(info["email_id"])
        self.assertIsNone(payload["unique_user_id"])
        self.assertEqual(payload["successful_installs"], [{"name": "Fake New (fake-new)", "version": "2.5"}])
        self.assertEqual(payload["failed_installs"], [
            {"name": "Fake Old (fake-old)", "version": "0.9", "error_description": "version 0.9 < required 2.0"},
            {"name": "Fake Gone (fake-gone)", "version": None, "error_description": "not found"},
        ])

    def test_payload_with_workshop_email_and_key(self):
        """Given values are sent as given."""
        payload = check.build_payload([], "2016-08-13-place", "a@example.org", KEY_1)
        self.assertEqual(payload["user_system_info"]["workshop_id"], "2016-08-13-place")
        self.assertEqual(payload["user_system_info"]["email_id"], "a@example.org")
        self.assertEqual(payload["unique_user_id"], KEY_1)

    @POSIX_ONLY
    def test_no_trailing_newlines(self):
        """No string in the payload ends with a newline or has surrounding blanks."""
        self.make_tool("git", 'printf "git version 2.7.4\\r\\n\\n"\n')
        results = self.results() + [check.run_check(check.CHECK_TABLE["git"], None)]
        payload = check.build_payload(results, None, None, None)

        def strings(value):
            """Yield every string inside a JSON value."""
            if isinstance(value, str):
                yield value
            elif isinstance(value, dict):
                for item in value.values():
                    yield from strings(item)
            elif isinstance(value, list):
                for item in value:
                    yield from strings(item)

        for text in strings(payload):
            self.assertEqual(text, text.strip())
        self.assertIn({"name": "Git (git)", "version": "2.7.4"}, payload["successful_installs"])

    def test_os_release(self):
        """NAME and VERSION_ID are read, unquoted, from the first readable os-release file."""
        first = os.path.join(self.tmp, "missing-os-release")
        second = os.path.join(self.tmp, "os-release")
        with open(second, "w") as stream:
            stream.write('# comment\nPRETTY_NAME="Ubuntu 16.04.7 LTS"\nNAME="Ubuntu"\n'
                         "VERSION_ID='16.04'\nID=ubuntu\n")
        self.assertEqual(check.read_os_release((first, second)), ("Ubuntu", "16.04"))
        with open(second, "w") as stream:
            stream.write("NAME=Arch Linux\nID=arch\n")
        self.assertEqual(check.read_os_release((second,)), ("Arch Linux", None))
        self.assertEqual(check.read_os_release((first,)), (None, None))

    def test_distribution_per_platform(self):
        """macOS and Windows are named explicitly with their own version sources."""
        with mock.patch("platform.system", return_value="Darwin"), \
                mock.patch("platform.mac_ver", return_value=("14.2.1", ("", "", ""), "arm64")):
            self.assertEqual(check.distribution(), ("macOS", "14.2.1"))
        with mock.patch("platform.system", return_value="Windows"), \
                mock.patch("platform.win32_ver", return_value=("10", "10.0.19045", "SP0", "")):
            self.assertEqual(check.distribution(), ("Windows", "10"))
        with mock.patch("platform.system", return_value="Linux"), \
                mock.patch.object(check, "read_os_release", return_value=("Debian GNU/Linux", "12")):
            self.assertEqual(check.distribution(), ("Debian GNU/Linux", "12"))


class KeyStorageTests(SandboxTestCase):
    """Where and how the server's key is kept."""

    def test_config_dir_per_platform(self):
        """The env override wins; otherwise each platform's usual config folder is used."""
        self.assertEqual(check.config_dir(), self.config)
        del os.environ[check.CONFIG_DIR_ENV]
        home = os.path.expanduser("~")
        os.environ["XDG_CONFIG_HOME"] = os.path.join(self.tmp, "xdg")
        with mock.patch.object(sys, "platform", "linux"):
            self.assertEqual(check.config_dir(), os.path.join(self.tmp, "xdg", "swc-installation-test"))
            os.environ["XDG_CONFIG_HOME"] = "relative/ignored"
            self.assertEqual(check.config_dir(), os.path.join(home, ".config", "swc-installation-test"))
        with mock.patch.object(sys, "platform", "darwin"):
            self.assertEqual(check.config_dir(), os.path.join(
                home, "Library", "Application Support", "swc-installation-test"))
        os.environ["APPDATA"] = os.path.join(self.tmp, "Roaming")
        with mock.patch.object(sys, "platform", "win32"):
            self.assertEqual(check.config_dir(), os.path.join(self.tmp, "Roaming", "swc-installation-test"))

    def test_save_load_forget(self):
        """A saved key is just the uuid in the key file, read back and deleted on request."""
        self.assertIsNone(check.load_key())
        self.assertTrue(check.save_key(KEY_1))
        self.assertEqual(self.stored_key(), KEY_1)
        self.assertEqual(check.load_key(), KEY_1)
        with contextlib.redirect_stdout(io.StringIO()):
            check.forget_key()
        self.assertIsNone(check.load_key())

    def test_garbage_key_file_is_ignored(self):
        """A key file that is not a uuid is treated as no key."""
        os.makedirs(self.config)
        with open(os.path.join(self.config, check.KEY_FILE), "w") as stream:
            stream.write("not a key\n")
        self.assertIsNone(check.load_key())

    def test_reset_key_flag(self):
        """--reset-key forgets the stored key even without reporting."""
        self.make_module("swc_fake_new", '__version__ = "2.5"\n')
        self.add_check(check.module_check("fake-new", "Fake New", "swc_fake_new"))
        check.save_key(KEY_1)
        code, out, _ = run_main(["-n", "--reset-key", "fake-new"])
        self.assertEqual(code, 0)
        self.assertIsNone(self.stored_key())
        self.assertIn("Forgot the stored key", out)


class ServerTestCase(SandboxTestCase):
    """A passing and a failing fake module check, and fake servers on 127.0.0.1."""

    def setUp(self):
        """Provide a passing and a failing fake module check."""
        super().setUp()
        self.make_module("swc_fake_new", '__version__ = "2.5"\n')
        self.make_module("swc_fake_old", '__version__ = "0.9"\n')
        self.add_check(check.module_check("fake-new", "Fake New", "swc_fake_new", minimum="2.0"))
        self.add_check(check.module_check("fake-old", "Fake Old", "swc_fake_old", minimum="2.0"))

    def server(self, **options):
        """Start a fake server for this test."""
        server = FakeServer(**options)
        self.addCleanup(server.close)
        return server


class ReportTests(ServerTestCase):
    """Consent and sending to a fake server on 127.0.0.1."""

    def test_sends_exactly_the_shown_json_and_stores_key(self):
        """--yes --workshop sends the printed JSON verbatim and keeps the returned key."""
        server = self.server()
        code, out, _ = run_main(["--yes", "--workshop", "2016-08-13-place", "-H", server.url,
                                 "fake-new", "fake-old"])
        self.assertEqual(code, 1)
        self.assertEqual(len(server.requests), 1)
        path, content_type, body = server.requests[0]
        self.assertEqual(path, "/installation_data/")
        self.assertEqual(content_type, "application/json")
        self.assertEqual(body, shown_json(out))
        sent = json.loads(body)
        self.assertEqual(sent["user_system_info"]["workshop_id"], "2016-08-13-place")
        self.assertIsNone(sent["user_system_info"]["email_id"])
        self.assertIsNone(sent["unique_user_id"])
        self.assertEqual(sent["failed_installs"][0]["name"], "Fake Old (fake-old)")
        key = self.stored_key()
        self.assertTrue(check.UUID_PATTERN.fullmatch(key))
        self.assertIn("Thank you", out)

    def test_every_report_says_when_it_was_checked(self):
        """checked_at: RFC 3339, UTC, to the second, taken when the checks ran."""
        server = self.server()
        with mock.patch("time.gmtime", return_value=time.gmtime(1796290867)):
            _, out, _ = run_main(["--yes", "-H", server.url, "fake-new"])
        self.assertEqual(json.loads(server.requests[0][2])["checked_at"], "2026-12-03T09:41:07Z")
        self.assertIn('"checked_at": "2026-12-03T09:41:07Z"', out, "shown as sent")

    def test_key_is_reused(self):
        """A stored key is sent as unique_user_id and kept when the server confirms it."""
        server = self.server()
        check.save_key(KEY_1)
        run_main(["--yes", "--email", "a@example.org", "-H", server.url, "fake-new"])
        sent = json.loads(server.requests[0][2])
        self.assertEqual(sent["unique_user_id"], KEY_1)
        self.assertEqual(sent["user_system_info"]["email_id"], "a@example.org")
        self.assertEqual(self.stored_key(), KEY_1)

    def test_key_replaced_when_server_returns_another(self):
        """An unknown key is replaced by the one the server returns."""
        server = self.server(answer={"key": KEY_2, "summary": {"status": "Successful",
                                                               "message": "new id generated"}})
        check.save_key(KEY_1)
        run_main(["--yes", "-H", server.url, "fake-new"])
        self.assertEqual(self.stored_key(), KEY_2)

    def test_reset_key_sends_null_and_stores_new_key(self):
        """--reset-key starts a new identity."""
        server = self.server()
        check.save_key(KEY_1)
        run_main(["--yes", "--reset-key", "-H", server.url, "fake-new"])
        self.assertIsNone(json.loads(server.requests[0][2])["unique_user_id"])
        self.assertNotIn(self.stored_key(), (None, KEY_1))

    def test_bad_answer_key_is_not_stored(self):
        """Only a uuid returned by the server is stored."""
        server = self.server(answer={"key": "../../etc/passwd"})
        code, out, _ = run_main(["--yes", "-H", server.url, "fake-new"])
        self.assertEqual(code, 0)
        self.assertIsNone(self.stored_key())
        self.assertIn("unexpected answer", out)

    def test_server_error_shows_error_and_detail(self):
        """A 4xx answer prints its error and detail; the exit code still reflects the checks."""
        server = self.server(status=400, answer={"error": "invalid payload", "detail": "email_id: bad address"})
        check.save_key(KEY_1)
        code, out, _ = run_main(["--yes", "--email", "a@example.org", "-H", server.url, "fake-new"])
        self.assertEqual(code, 0)
        self.assertIn("HTTP 400, invalid payload: email_id: bad address", out)
        self.assertEqual(self.stored_key(), KEY_1)

    def test_rate_limited_shows_retry_after(self):
        """429 tells the learner when to try again."""
        server = self.server(status=429, answer={"error": "rate limited", "detail": ""},
                             headers={"Retry-After": "30"})
        code, out, _ = run_main(["--yes", "-H", server.url, "fake-old"])
        self.assertEqual(code, 1)
        self.assertIn("try again in 30 seconds", out)

    def test_unreachable_server(self):
        """A closed port gives a friendly message at once and leaves the exit code alone."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = "http://127.0.0.1:%d" % probe.getsockname()[1]
        for args, expected in ([["fake-new"], 0], [["fake-old"], 1]):
            started = time.monotonic()
            code, out, _ = run_main(["--yes", "-H", url] + args)
            self.assertLess(time.monotonic() - started, 15)
            self.assertEqual(code, expected)
            self.assertIn(f"Could not reach the server at {url}/installation_data/", out)
            self.assertIn("Your results above are still valid", out)
        self.assertIsNone(self.stored_key())
        self.assertEqual(len(check.kept_reports()), 2, "both kept for the next run")

    def test_silent_server_times_out(self):
        """A server that accepts but never answers cannot make the script hang."""
        with socket.socket() as silent:
            silent.bind(("127.0.0.1", 0))
            silent.listen(1)
            url = "http://127.0.0.1:%d" % silent.getsockname()[1]
            started = time.monotonic()
            with mock.patch.object(check, "NETWORK_TIMEOUT", 1):
                code, out, _ = run_main(["--yes", "-H", url, "fake-new"])
        self.assertLess(time.monotonic() - started, 10)
        self.assertEqual(code, 0)
        self.assertIn("Could not reach the server", out)

    def test_no_terminal_without_yes_sends_nothing(self):
        """Without a terminal to ask, nothing is sent and --yes is suggested."""
        server = self.server()
        code, out, _ = run_main(["-H", server.url, "fake-new"], stdin=io.StringIO("y\n"))
        self.assertEqual(code, 0)
        self.assertEqual(server.requests, [])
        self.assertIn("--yes", out)
        self.assertNotIn("This is exactly what would be sent", out)

    def test_no_report_sends_nothing(self):
        """-n never sends, even with --yes."""
        server = self.server()
        run_main(["-n", "--yes", "-H", server.url, "fake-new"])
        self.assertEqual(server.requests, [])

    def test_interactive_prompts_and_consent(self):
        """On a terminal it asks for workshop and email, shows the JSON, then asks before sending."""
        server = self.server()
        code, out, _ = run_main(["-H", server.url, "fake-new"], stdin=FakeTerminal("my-workshop\n\ny\n"))
        self.assertEqual(code, 0)
        self.assertIn("Workshop name", out)
        self.assertIn("Send these results? [y/N]", out)
        self.assertEqual(len(server.requests), 1)
        body = server.requests[0][2]
        self.assertEqual(body, shown_json(out))
        self.assertEqual(json.loads(body)["user_system_info"]["workshop_id"], "my-workshop")
        self.assertIsNone(json.loads(body)["user_system_info"]["email_id"])

    def test_interactive_refusal_sends_nothing(self):
        """Answering anything but yes (or nothing at all) sends nothing."""
        server = self.server()
        for answers in ("\n\nn\n", "\n\n\n", ""):
            code, out, _ = run_main(["-H", server.url, "fake-new"], stdin=FakeTerminal(answers))
            self.assertEqual(code, 0)
            self.assertIn("Not sent.", out)
        self.assertEqual(server.requests, [])

    def test_consent_is_asked_where_a_learner_can_answer(self):
        """Whether to ask is interactive()'s call (Git Bash's mintty is a pipe, not a tty, and
        has a learner): a pipe it vouches for is asked the workshop, email and consent; a tty
        it does not is not asked at all."""
        server = self.server()
        with mock.patch.object(check, "interactive", return_value=True):
            _, out, _ = run_main(["-H", server.url, "fake-new"], stdin=io.StringIO("ws\na@example.org\ny\n"))
        self.assertIn("Send these results? [y/N]", out)
        self.assertEqual(len(server.requests), 1)
        sent = json.loads(server.requests[0][2])["user_system_info"]
        self.assertEqual((sent["workshop_id"], sent["email_id"]), ("ws", "a@example.org"))
        with mock.patch.object(check, "interactive", return_value=False):
            _, out, _ = run_main(["-H", server.url, "fake-new"], stdin=FakeTerminal("ws\n\ny\n"))
        self.assertIn("Results not sent: no terminal to ask for your consent.", out)
        self.assertNotIn("Workshop name", out)
        self.assertEqual(len(server.requests), 1)

    def test_served_workshop_id_and_override(self):
        """The served WORKSHOP_ID is used without asking, and --workshop overrides it."""
        server = self.server()
        with mock.patch.object(check, "WORKSHOP_ID", "served-ws"):
            run_main(["-H", server.url, "fake-new"], stdin=FakeTerminal("a@example.org\ny\n"))
            run_main(["--yes", "--workshop", "flag-ws", "-H", server.url, "fake-new"])
        first, second = (json.loads(r[2])["user_system_info"] for r in server.requests)
        self.assertEqual((first["workshop_id"], first["email_id"]), ("served-ws", "a@example.org"))
        self.assertEqual(second["workshop_id"], "flag-ws")

    def test_key_never_written_to_working_directory(self):
        """Sending from some folder leaves that folder untouched."""
        server = self.server()
        workdir = os.path.join(self.tmp, "workdir")
        os.makedirs(workdir)
        previous = os.getcwd()
        os.chdir(workdir)
        try:
            run_main(["--yes", "-H", server.url, "fake-new"])
        finally:
            os.chdir(previous)
        self.assertEqual(os.listdir(workdir), [])
        self.assertIsNotNone(self.stored_key())


class ForgetTests(ServerTestCase):
    """--forget, the consent text that mentions it, and the email prompt."""

    def test_forget_deletes_on_the_server_then_the_key(self):
        """--forget --yes sends DELETE for the stored key and removes the key file."""
        server = self.server()
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "--yes", "-H", server.url + "/"])
        self.assertEqual(code, 0)
        self.assertEqual(server.requests, [(f"/installation_data/{KEY_1}/", "DELETE", "")])
        self.assertIsNone(self.stored_key())
        self.assertIn("Deleted", out)
        self.assertNotIn("Checking", out)

    def test_forget_asks_first(self):
        """On a terminal it asks; anything but yes deletes nothing."""
        server = self.server()
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "-H", server.url], stdin=FakeTerminal("n\n"))
        self.assertEqual((code, server.requests, self.stored_key()), (0, [], KEY_1))
        self.assertIn(KEY_1, out)
        self.assertIn("Nothing deleted.", out)
        code, out, _ = run_main(["--forget", "-H", server.url], stdin=FakeTerminal("y\n"))
        self.assertEqual(code, 0)
        self.assertEqual(len(server.requests), 1)
        self.assertIsNone(self.stored_key())

    def test_forget_without_a_terminal_or_yes_deletes_nothing(self):
        """No terminal to confirm and no --yes: nothing is sent."""
        server = self.server()
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "-H", server.url], stdin=io.StringIO("y\n"))
        self.assertEqual((code, server.requests, self.stored_key()), (1, [], KEY_1))
        self.assertIn("--forget --yes", out)

    def test_forget_asks_where_a_learner_can_answer(self):
        """--forget confirms through interactive() too: yes through a pipe it vouches for."""
        server = self.server()
        check.save_key(KEY_1)
        with mock.patch.object(check, "interactive", return_value=False):
            code, out, _ = run_main(["--forget", "-H", server.url], stdin=FakeTerminal("y\n"))
        self.assertEqual((code, server.requests), (1, []))
        self.assertIn("no terminal to confirm", out)
        with mock.patch.object(check, "interactive", return_value=True):
            code, out, _ = run_main(["--forget", "-H", server.url], stdin=io.StringIO("y\n"))
        self.assertEqual((code, server.requests), (0, [(f"/installation_data/{KEY_1}/", "DELETE", "")]))
        self.assertIsNone(self.stored_key())

    def test_forget_without_a_key_sends_nothing(self):
        """Nothing stored, nothing to delete."""
        server = self.server()
        code, out, _ = run_main(["--forget", "--yes", "-H", server.url])
        self.assertEqual((code, server.requests), (0, []))
        self.assertIn("nothing to delete", out)

    def test_forget_keeps_the_key_when_the_server_refuses_or_is_away(self):
        """A refusal or an unreachable server keeps the key for another try."""
        server = self.server(status=429, answer={}, headers={"Retry-After": "60"})
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "--yes", "-H", server.url])
        self.assertEqual((code, self.stored_key()), (1, KEY_1))
        self.assertIn("try again in 60 seconds", out)
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            url = "http://127.0.0.1:%d" % probe.getsockname()[1]
        code, out, _ = run_main(["--forget", "--yes", "-H", url])
        self.assertEqual((code, self.stored_key()), (1, KEY_1))
        self.assertIn("nothing was deleted", out)

    def test_consent_mentions_forget(self):
        """Where it asks for consent it says how to take the data back."""
        server = self.server()
        _, out, _ = run_main(["-H", server.url, "fake-new"], stdin=FakeTerminal("ws\n\nn\n"))
        self.assertIn("you can delete what you sent at any time with --forget", out.lower())
        _, out, _ = run_main(["--yes", "-H", server.url, "fake-new"])
        self.assertIn("--forget", out)

    def test_an_email_without_an_at_is_asked_again(self):
        """A stray "y" at the email prompt is not an address: it asks again."""
        server = self.server()
        run_main(["-H", server.url, "fake-new"],
                 stdin=FakeTerminal("ws\ny\nyes\na@example.org\ny\n"))
        self.assertEqual(len(server.requests), 1)
        self.assertEqual(json.loads(server.requests[0][2])["user_system_info"]["email_id"],
                         "a@example.org")
        _, out, _ = run_main(["-H", server.url, "fake-new"], stdin=FakeTerminal("ws\ny\n\ny\n"))
        self.assertIn("not an email address", out)
        self.assertIsNone(json.loads(server.requests[1][2])["user_system_info"]["email_id"])

    def test_an_email_flag_without_an_at_exits_2(self):
        """--email must be an address too."""
        with self.assertRaises(SystemExit) as exited:
            with contextlib.redirect_stderr(io.StringIO()):
                check.parse_args(["--email", "y"])
        self.assertEqual(exited.exception.code, 2)


    def test_help_shows_a_percent_in_the_workshop_or_url(self):
        """Issue 11: a script served for /check.py?workshop=100%25 crashed on --help
        (argparse %-formats help strings); the values are shown as they are."""
        with mock.patch.object(check, "WORKSHOP_ID", "100%"), \
                mock.patch.object(check, "SERVER_URL", "http://h:8080/a%20b%s"):
            with self.assertRaises(SystemExit) as exited:
                with contextlib.redirect_stdout(io.StringIO()) as out:
                    check.parse_args(["--help"])
        self.assertEqual(exited.exception.code, 0)
        self.assertIn("(default: 100%)", out.getvalue())
        self.assertIn("http://h:8080/a%20b%s", out.getvalue())


class CertificateTests(ServerTestCase):
    """Issue 23 item 7: a certificate this Python cannot verify is explained, before the
    "Could not reach" line, wherever the script talks to the server."""

    def setUp(self):
        """An https server whose certificate nothing here trusts."""
        super().setUp()
        os.environ.pop("SSL_CERT_FILE", None)
        certificate = os.path.join(self.tmp, "loopback.pem")
        with open(certificate, "w") as stream:
            stream.write(LOOPBACK_CERTIFICATE)
        self.secure = self.server(certificate=certificate)

    def assert_explained(self, out, url):
        """The explanation is printed, and right before the line that says what failed."""
        lines = out.splitlines()
        unreachable = [i for i, line in enumerate(lines)
                       if line.startswith(f"Could not reach the server at {url}")]
        self.assertEqual(len(unreachable), 1, out)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", lines[unreachable[0]])
        self.assertTrue(lines[unreachable[0] - 1].startswith("The server's certificate could not "
                                                             "be verified"), out)

    def test_sending_the_pending_reports_and_forgetting(self):
        """A report sent now, the kept one by --send-pending, and --forget's DELETE."""
        reports = self.secure.url + "/installation_data/"
        code, out, _ = run_main(["--yes", "-H", self.secure.url, "fake-new"])
        self.assertEqual(code, 0)
        self.assert_explained(out, reports)
        self.assertEqual(len(check.kept_reports()), 1)
        code, out, _ = run_main(["--send-pending", "-H", self.secure.url])
        self.assertEqual(code, 1)
        self.assert_explained(out, reports)
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "--yes", "-H", self.secure.url])
        self.assertEqual((code, self.stored_key()), (1, KEY_1))
        self.assert_explained(out, f"{reports}{KEY_1}/")
        self.assertIn("nothing was deleted and your key is kept", out)
        self.assertEqual(self.secure.requests, [], "no request got through the handshake")


class RetestLineTests(SandboxTestCase):
    """Issue 22: the re-test line names the command the learner ran, quoted for their shell."""

    def setUp(self):
        """A script path with a space and a quote, as typed."""
        super().setUp()
        folder = os.path.join(self.tmp, "jo's dir")
        os.makedirs(folder)
        self.script = os.path.join(folder, "check.py")
        open(self.script, "w").close()
        patcher = mock.patch.object(sys, "argv", [self.script, "git"])
        patcher.start()
        self.addCleanup(patcher.stop)

    def line(self, typed, on_path=(), ancestors=(), windows=False, **environment):
        """The re-test line for check names git numpy when typed started this Python, the
        names in on_path lead to it, and (on Windows) ancestors started it in a console whose
        environment holds environment and no other shell's trace."""
        def find_on_path(name):
            """Only the given names are on PATH, each leading to this interpreter."""
            return sys.executable if name in on_path else None
        for name in ("MSYSTEM", "PROMPT", "PSModulePath"):
            os.environ.pop(name, None)
        with mock.patch.object(check, "typed_interpreter", return_value=typed), \
                mock.patch.object(check, "find_on_path", side_effect=find_on_path), \
                mock.patch.object(check, "windows_ancestors", return_value=tuple(ancestors)), \
                mock.patch.object(sys, "platform", "win32" if windows else "linux"), \
                mock.patch.dict(os.environ, environment):
            return check.rerun_command(["git", "numpy"])

    def test_posix_the_name_typed_when_it_leads_here(self):
        """python3 typed and on PATH: python3; python typed: python; the path quoted for sh."""
        quoted = "'" + self.script.replace("'", "'\"'\"'") + "'"
        self.assertEqual(self.line("python3", ("python3", "python")), f"python3 {quoted} git numpy")
        self.assertEqual(self.line("python", ("python3", "python")), f"python {quoted} git numpy")
        self.assertEqual(self.line("/usr/bin/python3", ("python3",)), f"python3 {quoted} git numpy")
        self.assertEqual(self.line(None, ("python",)), f"python {quoted} git numpy")

    def test_posix_the_full_path_when_no_name_leads_here(self):
        """A pyenv or venv Python not on PATH: its full path, which surely runs it again."""
        self.assertEqual(self.line("python3"), f"{check.shlex.quote(sys.executable)} "
                                               f"{check.shlex.quote(self.script)} git numpy")

    def test_windows_py_launcher_in_powershell(self):
        """py started it (in PowerShell): py with this version; the path in PowerShell quotes."""
        version = "-%d.%d" % sys.version_info[:2] + ("-32" if sys.maxsize < 2 ** 32 else "")
        quoted = "'" + self.script.replace("'", "''") + "'"
        self.assertEqual(self.line("C:\\Python312\\python.exe", ("python",),
                                   ["py.exe", "powershell.exe", "explorer.exe"], windows=True),
                         f"py {version} {quoted} git numpy")

    def test_windows_python_in_cmd_and_in_git_bash(self):
        """python typed in the Command Prompt: "..."; in Git Bash: POSIX quotes."""
        self.assertEqual(self.line("python", ("python",), ["cmd.exe"], windows=True),
                         f'python "{self.script}" git numpy')
        self.assertEqual(self.line("python", ("python",), ["bash.exe", "mintty.exe"], windows=True),
                         f"python {check.shlex.quote(self.script)} git numpy")

    def test_windows_unknown_shell_and_a_full_path_gives_a_form_per_shell(self):
        """PowerShell needs & before a quoted command, which cmd and Git Bash refuse; Git Bash
        reads a backslash as an escape: each its own line, named."""
        python = "C:\\Program Files\\Python312\\python.exe"
        with mock.patch.object(sys, "executable", python):
            line = self.line(None, (), [], windows=True)
        script = self.script
        self.assertEqual(line, "& '%s' '%s' git numpy (in PowerShell), or %s %s git numpy (in Git "
                               "Bash), or \"%s\" \"%s\" git numpy (in the Command Prompt)"
                         % (python, script.replace("'", "''"), check.shlex.quote(python),
                            check.shlex.quote(script), python, script))
        self.assertEqual(self.line(None, ("python",), [], windows=True),
                         "python %s git numpy (in PowerShell), or python %s git numpy (in Git "
                         "Bash), or python \"%s\" git numpy (in the Command Prompt)"
                         % ("'" + script.replace("'", "''") + "'", check.shlex.quote(script), script))

    def test_windows_the_nearest_shell_process_wins_then_the_environment(self):
        """PowerShell started from Git Bash inherits MSYSTEM: its process still says PowerShell.
        Without a shell among the processes (no snapshot), the environment's traces tell."""
        quoted = "'" + self.script.replace("'", "''") + "'"
        self.assertEqual(self.line("python", ("python",), ["powershell.exe", "bash.exe", "mintty.exe"],
                                   windows=True, MSYSTEM="MINGW64"),
                         f"python {quoted} git numpy")
        self.assertEqual(self.line("python", ("python",), [], windows=True, MSYSTEM="MINGW64"),
                         f"python {check.shlex.quote(self.script)} git numpy")
        self.assertEqual(self.line("python", ("python",), [], windows=True, PROMPT="$P$G"),
                         f'python "{self.script}" git numpy')

    def test_a_script_read_from_standard_input_is_called_check_py(self):
        """python3 - (piped) has no file to name: the name the landing page downloads to."""
        with mock.patch.object(sys, "argv", ["-"]):
            self.assertEqual(self.line("python3", ("python3",)), "python3 check.py git numpy")

    def test_quoting_per_shell(self):
        """Safe words stay bare; others are quoted the way each shell reads them back."""
        words = ["py", "-3.12", "C:\\Users\\Jo\\check.py", "it's here", "100%", "a&b"]
        self.assertEqual(check.command_line(words, "powershell"),
                         "py -3.12 C:\\Users\\Jo\\check.py 'it''s here' 100% 'a&b'")
        self.assertEqual(check.command_line(words, "cmd"),
                         'py -3.12 C:\\Users\\Jo\\check.py "it\'s here" "100%" "a&b"')
        self.assertEqual(check.command_line(words, "posix"),
                         "py -3.12 'C:\\Users\\Jo\\check.py' 'it'\"'\"'s here' 100% 'a&b'")

    def test_the_summary_and_the_kept_report_use_it(self):
        """The failed checks' line, and the --send-pending hint, are this command."""
        self.make_module("swc_fake_old", '__version__ = "0.9"\n')
        self.add_check(check.module_check("fake-old", "Fake Old", "swc_fake_old", minimum="2.0"))
        with mock.patch.object(check, "rerun_command", side_effect=lambda words: "RUN " + " ".join(words)):
            _, out, _ = run_main(["--yes", "-H", "http://127.0.0.1:9", "fake-old"])
        self.assertIn("then re-test them with: RUN fake-old\n", out)
        self.assertIn("(or now: RUN --send-pending --host http://127.0.0.1:9)", out)


class AdviceTests(ServerTestCase):
    """Issue 22: the answer's advice is printed under the failed check's fix."""

    GIT = {"name": "Fake Old (fake-old)", "system": "Windows", "failed_learners": 45,
           "fixed_learners": 38, "median_seconds_to_fix": 7200,
           "fixed_with": [["2.43.0", 20], ["2.42.0", 9], ["2.43.1.windows.1", 1]]}

    def answer(self, advice):
        """The real server's answer shape with this advice."""
        return {"key": KEY_1, "summary": {"status": "Successful", "message": "new id generated"},
                "advice": advice}

    def test_advice_is_printed_under_the_fix(self):
        """The issue's own line, after the failed check and its fix, repeated after sending."""
        server = self.server(answer=self.answer([self.GIT]))
        code, out, _ = run_main(["--yes", "-H", server.url, "fake-new", "fake-old"])
        self.assertEqual(code, 1)
        tail = out[out.index("Thank you"):].splitlines()
        fix = check.upgrade_hint(check.CHECK_TABLE["fake-old"], "2.0").splitlines()
        self.assertEqual(len(fix), 2, "a package's fix says where packages are checked")
        self.assertEqual(tail[1:], [
            "Stored your key in %s so later reports update this one." % check.key_path(),
            "",
            "What learners on your system who had the same problem did:",
            "[FAIL] Fake Old (fake-old): Fake Old 0.9 found, 2.0 or newer needed",
            "       Fix: " + fix[0],
            "            " + fix[1],
            "       38 of 45 learners on Windows fixed this, half of them within 2 hours; most "
            "ended with Fake Old 2.43.",
        ])

    def test_nothing_is_printed_without_advice(self):
        """Absent, empty, or not advice at all: no line, no crash."""
        for advice in (None, [], [{"name": "Fake New (fake-new)", "system": "Linux",
                                   "failed_learners": 5, "fixed_learners": 1}],
                       "oops", [1, None, {"name": "Fake Old (fake-old)", "failed_learners": "45"}],
                       [{"name": "Fake Old (fake-old)", "failed_learners": True, "fixed_learners": 0}]):
            with self.subTest(advice=advice):
                answer = self.answer(advice)
                if advice is None:
                    del answer["advice"]
                server = self.server(answer=answer)
                _, out, _ = run_main(["--yes", "-H", server.url, "fake-old"])
                self.assertIn("Thank you", out)
                self.assertNotIn("learners on", out)
                self.assertNotIn("What learners", out)

    def test_advice_lines(self):
        """No median, nobody fixed it, versions that are not dotted, texts from other machines."""
        line = check.advice_line
        self.assertEqual(line(dict(self.GIT, median_seconds_to_fix=None, fixed_with=[]), "Git"),
                         "38 of 45 learners on Windows fixed this.")
        self.assertEqual(line(dict(self.GIT, fixed_learners=0), "Git"),
                         "None of 45 learners on Windows has fixed this yet.")
        self.assertEqual(line(dict(self.GIT, median_seconds_to_fix=300,
                                   fixed_with=[["7.2", 3], ["nightly", 9], [None, 30]]), "nano"),
                         "38 of 45 learners on Windows fixed this, half of them within 5 minutes; "
                         "most ended with nano nightly.")
        self.assertEqual(line(dict(self.GIT, system="Linux\x1b]0;pwned\x07",
                                   fixed_with=[["2023.06.1+524", 4]]), "RStudio"),
                         "38 of 45 learners on Linux fixed this, half of them within 2 hours; "
                         "most ended with RStudio 2023.06.")
        for seconds, said in ((20, "1 minute"), (1500, "25 minutes"), (5400, "2 hours"),
                              (86400, "24 hours"), (3 * 86400, "3 days")):
            self.assertEqual(check.duration(seconds), said)


class PendingTests(ServerTestCase):
    """Issue 22: a report the learner agreed to send is not lost when it cannot be delivered."""

    def down(self):
        """A server that was there and is gone (its port free again): (URL, restart)."""
        first = FakeServer()
        port = first.httpd.server_address[1]
        first.close()

        def restart(**options):
            """Serve again on the same port."""
            return self.server(port=port, **options)
        return first.url, restart

    def requests_sent(self, server):
        """The JSON bodies the server received, in order."""
        return [json.loads(body) for _, _, body in server.requests]

    def test_kept_when_the_server_is_down_and_sent_first_on_the_next_run(self):
        """Down: kept with its time; the next run (even -n) sends it first, then deletes it."""
        url, restart = self.down()
        with mock.patch("time.gmtime", return_value=time.gmtime(1796290867)):
            code, out, _ = run_main(["--yes", "-H", url, "fake-old"])
        self.assertEqual(code, 1)
        self.assertIn(f"Could not reach the server at {url}/installation_data/ (", out)
        self.assertIn(f"Your results above are still valid, and kept in "
                      f"{os.path.join(self.config, 'pending')}: they are sent first thing on "
                      "your next run (or now: ", out)
        self.assertIn(f"--send-pending --host {url})", out)
        [kept] = check.kept_reports()
        self.assertEqual(kept.checked_at, "2026-12-03T09:41:07Z")
        if os.name == "posix":
            self.assertEqual(os.stat(kept.path).st_mode & 0o777, 0o600, "it may hold the email")
        self.assertEqual(kept.report["failed_installs"][0]["name"], "Fake Old (fake-old)")
        self.assertIsNone(self.stored_key())

        server = restart()
        code, out, _ = run_main(["-n", "-H", url, "fake-new"])
        self.assertEqual(code, 0)
        self.assertIn(f"Sending 1 report you agreed to send earlier, which could not be delivered "
                      f"then, to {url}/installation_data/ ...", out)
        self.assertIn("(--no-report keeps this run's results to yourself; these you agreed to "
                      "send before.)", out)
        self.assertIn(f"Sent the report checked at {kept.checked_at} (new id generated).", out)
        self.assertLess(out.index("Sent the report"), out.index("Checking 1 item(s)"))
        [sent] = self.requests_sent(server)
        self.assertEqual(sent["failed_installs"], kept.report["failed_installs"])
        self.assertEqual(sent["checked_at"], "2026-12-03T09:41:07Z", "the time it was checked")
        self.assertEqual(check.kept_reports(), [])
        self.assertEqual(sent["unique_user_id"], None)
        self.assertIsNotNone(self.stored_key())

    def test_kept_reports_go_with_the_key_a_later_send_brought_one_learner(self):
        """Two runs without a key fail; the next sends both and its own under one key."""
        url, restart = self.down()
        run_main(["--yes", "-H", url, "fake-old"])
        run_main(["--yes", "-H", url, "fake-old"])
        self.assertEqual(len(check.kept_reports()), 2)
        server = restart()
        code, out, _ = run_main(["--yes", "-H", url, "fake-new"])
        self.assertEqual(code, 0)
        first, second, third = self.requests_sent(server)
        key = self.stored_key()
        self.assertEqual([first["unique_user_id"], second["unique_user_id"], third["unique_user_id"]],
                         [None, key, key])
        self.assertEqual(third["successful_installs"][0]["name"], "Fake New (fake-new)")
        self.assertEqual(out.count("Stored your key"), 1)
        self.assertIn("Thank you, your results were sent (pushed data with same id).", out)

    def test_reports_stay_in_order_when_the_kept_ones_still_fail(self):
        """503 to the kept report: this run's report waits behind it instead of overtaking it."""
        url, restart = self.down()
        run_main(["--yes", "-H", url, "fake-old"])
        server = restart(status=503, answer={"error": "unavailable", "detail": "database busy"})
        _, out, _ = run_main(["--yes", "-H", url, "fake-new"])
        self.assertEqual(len(server.requests), 1, "only the kept one was tried")
        self.assertIn("did not accept the results (HTTP 503, unavailable: database busy)", out)
        self.assertIn("1 report stays kept in", out)
        self.assertIn("Not sent now: the reports before it could not be delivered a moment ago, "
                      "and reports go in order.", out)
        self.assertEqual([k.report["successful_installs"] != [] for k in check.kept_reports()],
                         [False, True], "the older one first")
        server.status, server.answer = 200, None
        code, out, _ = run_main(["--send-pending", "-H", url])
        self.assertEqual(code, 0)
        self.assertNotIn("Checking", out)
        self.assertEqual(check.kept_reports(), [])
        self.assertEqual(len(server.requests), 3)
        code, out, _ = run_main(["--send-pending", "-H", url])
        self.assertEqual((code, out), (0, "No reports are waiting to be sent.\n"))

    def test_what_is_kept_and_what_is_not(self):
        """429, 5xx, a captive portal's page and a redirect elsewhere keep it; 4xx does not."""
        cases = [({"status": 429, "answer": {}, "headers": {"Retry-After": "30"}}, 1),
                 ({"status": 500, "answer": {"error": "internal"}}, 1),
                 ({"answer": {"html": "<h1>Log in to the venue's Wi-Fi</h1>"}}, 1),
                 ({"redirect": (302, "http://portal.invalid")}, 1),
                 ({"status": 422, "answer": {"error": "invalid report", "detail": "too long"}}, 0),
                 ({"status": 413, "answer": {"error": "body too large"}}, 0)]
        for options, kept in cases:
            with self.subTest(options=options):
                server = self.server(**options)
                code, out, _ = run_main(["--yes", "-H", server.url, "fake-new"])
                self.assertEqual(code, 0)
                self.assertEqual(len(check.kept_reports()), kept, out)
                if not kept:
                    self.assertIn("These results are not kept: the server refused them, and "
                                  "sending them again would not change that.", out)
                for entry in check.kept_reports():
                    os.remove(entry.path)

    def test_a_kept_report_the_server_refuses_is_dropped(self):
        """A kept report answered with 422 is dropped, saying why, and the next one goes on."""
        url, restart = self.down()
        run_main(["--yes", "-H", url, "fake-old"])
        server = restart(status=422, answer={"error": "invalid report", "detail": "x"})
        _, out, _ = run_main(["-n", "-H", url, "fake-new"])
        self.assertIn("Dropped the report checked at ", out)
        self.assertIn(": the server refused it, and sending it again would not change that.", out)
        self.assertEqual(check.kept_reports(), [])

    def test_at_most_ten_are_kept_the_latest(self):
        """The eleventh and twelfth push out the two oldest."""
        with contextlib.redirect_stdout(io.StringIO()) as out:
            for day in range(1, 13):
                self.assertTrue(check.keep_report("http://h", {"checked_at": f"2026-12-{day:02}T09:41:07Z",
                                                               "n": day}))
        self.assertEqual([k.report["n"] for k in check.kept_reports()], list(range(3, 13)))
        self.assertIn("Dropped the report checked at 2026-12-01T09:41:07Z: at most 10 are kept.",
                      out.getvalue())

    def test_forget_drops_them_too(self):
        """--forget drops the kept reports, with or without a key."""
        url, restart = self.down()
        run_main(["--yes", "-H", url, "fake-old"])
        run_main(["--yes", "-H", url, "fake-old"])
        code, out, _ = run_main(["--forget", "--yes", "-H", url])
        self.assertEqual(code, 0)
        self.assertIn("Dropped 2 reports that waited to be sent.", out)
        self.assertEqual(check.kept_reports(), [])
        server = restart()
        run_main(["--yes", "-H", "http://localhost:9", "fake-old"])
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "-H", url], stdin=FakeTerminal("y\n"))
        self.assertIn(f"Delete everything sent from this computer (key {KEY_1}) from {url}, and "
                      "the key itself and the 1 report waiting to be sent? [y/N]", out)
        self.assertEqual((code, check.kept_reports(), self.stored_key()), (0, [], None))
        self.assertEqual(server.requests, [(f"/installation_data/{KEY_1}/", "DELETE", "")])

    def test_reports_kept_for_another_server_wait_for_it(self):
        """A report kept for one server is never sent to another."""
        check.keep_report("http://other.invalid:8080", {"checked_at": "2026-12-03T09:41:07Z"})
        server = self.server()
        _, out, _ = run_main(["-n", "-H", server.url, "fake-new"])
        self.assertEqual(server.requests, [])
        self.assertIn("1 report kept for http://other.invalid:8080 waits for a run with --host "
                      "http://other.invalid:8080 (--forget drops it).", out)
        self.assertEqual(len(check.kept_reports()), 1)


class NormalisationTests(ServerTestCase):
    """Issue 20 item 2 and issue 22: what the script sends is what the server stores (the same
    cleaning, the same email and workshop-id rules), and no home folder leaves the computer."""

    def test_cleaning_is_the_servers(self):
        """The cases of src/report/text.rs, cleaned the same way."""
        one_line = {
            "\x1b[31mred\x1b[0m": "red",
            "\x1b[1;31mTraceback\x1b[m:": "Traceback:",
            "\x1b[2J\x1b[H2.0": "2.0",
            "\x1b[38;5;196mx\x1b[39m": "x",
            "\x1b]0;title\x07text": "text",
            "\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\": "link",
            "\x1b(Bplain": "plain",
            "\x1bcafter reset": "after reset",
            "cut \x1b[": "cut",
            "cut \x1b": "cut",
            "\x1b[\u00e9t\u00e9": "\u00e9t\u00e9",
            "\x1b]unterminated\nnext line": "next line",
            "a\x00b\x07c\x7fd\x85e": "abcde",
            "evil\u202egnp.exe": "evilgnp.exe",
            "\ufeffGit \u2066(git)\u2069": "Git (git)",
            "\u200f\u200e\u061cx": "x",
            "3.6.15 (default, May  9 2026, 07:30:54) \n[GCC 12.2.0]":
                "3.6.15 (default, May  9 2026, 07:30:54) [GCC 12.2.0]",
            "a\n\nb \t\r\n c\t\td": "a b c  d",
            "2.7.4\r\n": "2.7.4",
            "a\tb\rc\u2028d": "a b c d",
            "  \n\t ": "",
            "<command> [<args>] & \"quotes\" \\ '": "<command> [<args>] & \"quotes\" \\ '",
        }
        for sent, kept in one_line.items():
            with self.subTest(sent=sent):
                self.assertEqual(check.clean_text(sent), kept)
        self.assertEqual(check.clean_text("line 1\r\n\tline 2\rline 3\u2028\n", one_line=False),
                         "line 1\n\tline 2\nline 3\u2028\n")
        self.assertEqual(check.clean_text("\x1b[31mError\x1b[0m: <b>&\"'", one_line=False),
                         "Error: <b>&\"'")

    def test_email_rule_is_the_servers(self):
        """The cases of src/report/email.rs: what people type, and what is no address."""
        typed = {
            "jane@uni.edu": "jane@uni.edu",
            "  jane@uni.edu\n": "jane@uni.edu",
            "<jane@uni.edu>": "jane@uni.edu",
            "Jane Doe <jane@uni.edu>": "jane@uni.edu",
            "\"Doe, Jane\" < jane@uni.edu >": "jane@uni.edu",
            "MAILTO:jane@uni.edu": "jane@uni.edu",
            "mailto:Jane <j.doe+ws@mail.uni.edu>": "j.doe+ws@mail.uni.edu",
            "o'brien@example.org": "o'brien@example.org",
        }
        for text, address in typed.items():
            with self.subTest(text=text):
                self.assertEqual(check.normalize_email(text), address)
        for text in ["", "y", "jane", "jane@", "@uni.edu", "jane@uni", "jane@.edu", "jane@uni.",
                     "jane@@uni.edu", "ja ne@uni.edu", "jane@uni.edu\x07", "jane@uni.edu;",
                     "<script>alert(1)</script>", "o'brien@example.org; --", "jane@uni.edu>",
                     "a" * 65 + "@uni.edu", "a@" + "d" * 254 + ".edu"]:
            with self.subTest(text=text):
                self.assertIsNone(check.normalize_email(text))

    def test_workshop_id_rule_is_the_servers(self):
        """Trimmed; empty, over 500 characters or holding what cleaning changes is refused."""
        for text, kept in {"2016-08-13-place": "2016-08-13-place", "  intro <python> ": "intro <python>",
                           "o'place & \"co\"": "o'place & \"co\"", "x" * 500: "x" * 500}.items():
            self.assertEqual(check.parse_workshop_id(text), kept)
        for text, said in {"": "may not be empty", " \t": "may not be empty",
                           "x" * 501: "at most 500 characters, not 501",
                           "ws\u200f": "(U+200F at position 3)", "a\tb": "(U+0009 at position 2)",
                           "\x1b[31mws": "(U+001B at position 1)", "a\u2028b": "U+2028",
                           "a\ufeffb": "U+FEFF", "a\x85b": "U+0085"}.items():
            with self.subTest(text=text):
                with self.assertRaises(ValueError) as refused:
                    check.parse_workshop_id(text)
                self.assertIn(said, str(refused.exception))

    def test_workshop_flag_is_checked_and_trimmed(self):
        """--workshop with a direction mark exits 2; one with spaces around is sent trimmed."""
        for bad in ("ws\u200f", "", "a\nb"):
            with self.assertRaises(SystemExit) as exited:
                with contextlib.redirect_stderr(io.StringIO()) as err:
                    check.parse_args(["--workshop", bad])
            self.assertEqual(exited.exception.code, 2)
            self.assertIn("a workshop id may", err.getvalue())
        server = self.server()
        run_main(["--yes", "--workshop", " intro <python> ", "-H", server.url, "fake-new"])
        self.assertEqual(json.loads(server.requests[0][2])["user_system_info"]["workshop_id"],
                         "intro <python>")

    def test_an_email_in_angle_brackets_is_sent_as_the_address(self):
        """<jane@uni.edu> passed the old check and then cost the whole report (422)."""
        server = self.server()
        run_main(["-H", server.url, "fake-new"],
                 stdin=FakeTerminal("ws\nmailto:jane\n<jane@uni.edu>\ny\n"))
        run_main(["--yes", "--email", "Jane Doe <jane@uni.edu>", "-H", server.url, "fake-new"])
        for _, _, body in server.requests:
            self.assertEqual(json.loads(body)["user_system_info"]["email_id"], "jane@uni.edu")
        _, out, _ = run_main(["-H", server.url, "fake-new"],
                             stdin=FakeTerminal("ws\njane@uni\n\ny\n"))
        self.assertIn("That is not an email address (like jane@uni.edu)", out)

    def test_an_invalid_workshop_answer_is_asked_again(self):
        """The workshop question refuses what the server would refuse."""
        server = self.server()
        _, out, _ = run_main(["-H", server.url, "fake-new"],
                             stdin=FakeTerminal("ws\u200f\n  my ws \n\ny\n"))
        self.assertIn("That cannot be a workshop name: a workshop id may not hold control", out)
        self.assertEqual(json.loads(server.requests[0][2])["user_system_info"]["workshop_id"], "my ws")
        with mock.patch.object(check, "WORKSHOP_ID", "bad\u202e"):
            _, _, err = run_main(["--yes", "-H", server.url, "fake-new"])
        self.assertIn("the workshop id this script was served with is not used", err)
        self.assertIsNone(json.loads(server.requests[1][2])["user_system_info"]["workshop_id"])

    def test_texts_are_sent_cleaned_and_without_the_home_folder(self):
        """An ANSI-coloured traceback with the learner's home in it arrives clean, with ~."""
        home = os.path.join(self.tmp, "home", "jane")
        os.environ["HOME"] = home
        self.make_module("swc_fake_coloured", (
            "import sys\n"
            f"sys.stdout.write('\\x1b[31mTraceback\\x1b[0m in {home}/lib/x.py\\r\\n')\n"
            "raise SystemExit(1)\n"))
        self.add_check(check.module_check("fake-coloured", "Fake\u202e Coloured", "swc_fake_coloured"))
        server = self.server()
        with mock.patch("platform.version", return_value=f"#1 SMP \x1b[1m{home}\x1b[0m\n"):
            _, out, _ = run_main(["--yes", "-H", server.url, "fake-coloured"])
        body = server.requests[0][2]
        self.assertEqual(body, shown_json(out), "shown as sent")
        sent = json.loads(body)
        self.assertEqual(sent["failed_installs"][0]["name"], "Fake Coloured (fake-coloured)")
        self.assertEqual(sent["failed_installs"][0]["error_description"],
                         "import failed: Traceback in ~/lib/x.py")
        self.assertEqual(sent["user_system_info"]["system_version"], "#1 SMP ~")
        self.assertNotIn("jane", body)
        self.assertNotIn("\\u001b", body)

    def test_the_home_folder_is_replaced_only_where_it_stands_whole(self):
        """/home/jo in /home/jo/x and /home/jo, never /home/joan; symlinked homes too."""
        stand_ins = check.home_stand_ins(windows=False, environ={"HOME": "/home/jo/"})
        replaced = {
            "/home/jo/bin/git: not found": "~/bin/git: not found",
            "'/home/jo' is empty": "'~' is empty",
            "/home/jo.": "~.",
            "//home//jo/x": "~/x",
            "/home/joan/x /home/jo.old /home/jo-2": "/home/joan/x /home/jo.old /home/jo-2",
        }
        for text, sent in replaced.items():
            with self.subTest(text=text):
                self.assertEqual(check.report_text(text, stand_ins), sent)
        root = check.home_stand_ins(windows=False, environ={"HOME": "/"})
        self.assertEqual(check.report_text("/usr/bin/git", root), "/usr/bin/git", "/ names nobody")

    def test_the_windows_home_folder_is_userprofile_in_any_case_and_slash(self):
        """C:\\Users\\Jane appears as c:/users/jane, doubled backslashes in a repr, and so on."""
        stand_ins = check.home_stand_ins(windows=True, environ={
            "USERPROFILE": "C:\\Users\\Jane Doe", "HOMEDRIVE": "C:", "HOMEPATH": "\\Users\\Jane Doe"})
        replaced = {
            "C:\\Users\\Jane Doe\\AppData\\git.exe": "%USERPROFILE%\\AppData\\git.exe",
            "c:/users/jane doe/anaconda3": "%USERPROFILE%/anaconda3",
            "[WinError 2] 'C:\\\\Users\\\\JANE DOE\\\\x'": "[WinError 2] '%USERPROFILE%\\\\x'",
            "C:\\Users\\Jane Doer\\x": "C:\\Users\\Jane Doer\\x",
        }
        for text, sent in replaced.items():
            with self.subTest(text=text):
                self.assertEqual(check.report_text(text, stand_ins), sent)
        self.assertEqual(check.home_stand_ins(windows=True, environ={"USERPROFILE": "C:\\"}), [])


class RedirectTests(ServerTestCase):
    """Issue 20: behind certbot's http-to-https redirect every report was lost (urllib repeated
    the POST as a GET, answered 405) and --forget failed on the 301."""

    def test_a_redirected_post_is_repeated_with_its_body_and_the_new_url_is_named(self):
        """301, 302, 307 and 308 to the same host: the same POST again, then the key is kept."""
        for status in (301, 302, 307, 308):
            with self.subTest(status=status):
                target = self.server()
                moved = self.server(redirect=(status, target.url))
                code, out, _ = run_main(["--yes", "--reset-key", "-H", moved.url, "fake-new"])
                self.assertEqual(code, 0)
                self.assertEqual(len(moved.requests), 1)
                self.assertEqual(target.requests, [moved.requests[0]], "same method, path, body")
                self.assertIn(f"The server moved to {target.url}; next time use --host "
                              f"{target.url} (or download check.py again from "
                              f"{target.url}/check.py).", out)
                self.assertIn("Thank you", out)
                self.assertIsNotNone(self.stored_key())

    def test_http_to_https_of_the_same_host(self):
        """certbot's redirect: the report goes to the https URL, trusted via SSL_CERT_FILE."""
        certificate = os.path.join(self.tmp, "loopback.pem")
        with open(certificate, "w") as stream:
            stream.write(LOOPBACK_CERTIFICATE)
        os.environ["SSL_CERT_FILE"] = certificate
        secure = self.server(certificate=certificate)
        plain = self.server(redirect=(301, secure.url))
        code, out, _ = run_main(["--yes", "-H", plain.url, "fake-new"])
        self.assertEqual(code, 0)
        self.assertEqual(len(secure.requests), 1, out)
        self.assertEqual(secure.requests[0][0], "/installation_data/")
        self.assertIn(f"The server moved to {secure.url}; next time use --host {secure.url}", out)
        self.assertIn("Thank you", out)

    def test_a_redirected_delete_is_repeated(self):
        """--forget follows the move too, and only then drops the key."""
        target = self.server()
        moved = self.server(redirect=(308, target.url))
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "--yes", "-H", moved.url])
        self.assertEqual(code, 0, out)
        self.assertEqual(target.requests, [(f"/installation_data/{KEY_1}/", "DELETE", "")])
        self.assertIn(f"next time use --host {target.url}", out)
        self.assertIsNone(self.stored_key())

    def test_a_redirect_to_another_host_sends_nothing_there(self):
        """localhost is another host name than 127.0.0.1: the body never goes there."""
        target = self.server()
        elsewhere = target.url.replace("127.0.0.1", "localhost")
        moved = self.server(redirect=(301, elsewhere))
        code, out, _ = run_main(["--yes", "-H", moved.url, "fake-new"])
        self.assertEqual(code, 0)
        self.assertEqual(target.requests, [])
        self.assertIn(f"redirected to {elsewhere}/installation_data/, another host; nothing "
                      "was sent there", out)
        self.assertIsNone(self.stored_key())
        check.save_key(KEY_1)
        code, out, _ = run_main(["--forget", "--yes", "-H", moved.url])
        self.assertEqual((code, target.requests, self.stored_key()), (1, [], KEY_1))
        self.assertIn("another host", out)

    def test_a_second_redirect_is_not_followed(self):
        """One repeat only: a loop or a chain ends with a message, not a hang."""
        last = self.server()
        second = self.server(redirect=(301, last.url))
        first = self.server(redirect=(301, second.url))
        _, out, _ = run_main(["--yes", "-H", first.url, "fake-new"])
        self.assertEqual((len(first.requests), len(second.requests), last.requests), (1, 1, []))
        self.assertIn(f"redirected again, to {last.url}/installation_data/", out)

    def test_which_redirects_are_followed(self):
        """Same host name, any port, http to https; never to another host or back to http."""
        url = "http://ras.example.org/installation_data/"
        follow = {
            "https://ras.example.org/installation_data/": "https://ras.example.org/installation_data/",
            "https://RAS.example.org:8443/installation_data/": "https://RAS.example.org:8443/installation_data/",
            "/elsewhere/": "http://ras.example.org/elsewhere/",
        }
        for location, target in follow.items():
            self.assertEqual(check.same_host_target(url, location), target)
        for location in ("https://evil.example.org/installation_data/", "ftp://ras.example.org/",
                         "https://ras.example.org.evil.example/", "//other.example/x", "", None):
            with self.subTest(location=location), self.assertRaises(check.RedirectRefused):
                check.same_host_target(url, location)
        with self.assertRaises(check.RedirectRefused):
            check.same_host_target("https://ras.example.org/x/", "http://ras.example.org/x/")


class ServedSettingsTests(unittest.TestCase):
    """The settings block the server rewrites."""

    def test_marker_block_is_exact(self):
        """The block between the markers is the documented one, one variable per line."""
        with open(check.__file__, encoding="utf-8") as stream:
            lines = stream.read().splitlines()
        start = lines.index("# BEGIN SERVER SETTINGS")
        end = lines.index("# END SERVER SETTINGS")
        self.assertEqual(lines[start + 1:end], ['SERVER_URL = "http://127.0.0.1:8080"',
                                                "WORKSHOP_ID = None", "CHECKS = None"])
        self.assertEqual(lines.count("# BEGIN SERVER SETTINGS"), 1)

    def test_rewritten_block_still_runs(self):
        """JSON-encoded values written by the server are valid Python and are used."""
        with open(check.__file__, encoding="utf-8") as stream:
            source = stream.read()
        served = source.replace(
            'SERVER_URL = "http://127.0.0.1:8080"\nWORKSHOP_ID = None\nCHECKS = None\n',
            "SERVER_URL = %s\nWORKSHOP_ID = %s\nCHECKS = %s\n" % (
                json.dumps("https://example.org/aggregate"), json.dumps("2016-08-13-place"),
                json.dumps(["git>=2.0", "python>=3.8", "rstudio?", "numpy"])))
        namespace = {"__name__": "served_check"}
        exec(compile(served, "served_check.py", "exec"), namespace)
        self.assertEqual(namespace["SERVER_URL"], "https://example.org/aggregate")
        self.assertEqual(namespace["WORKSHOP_ID"], "2016-08-13-place")
        plan = namespace["plan_checks"](namespace["configured_specs"]())
        self.assertEqual([(p.check.name, p.minimum, p.optional) for p in plan], [
            ("git", "2.0", False), ("python", "3.8", False), ("rstudio", None, True), ("numpy", None, False)])


if __name__ == "__main__":
    unittest.main()
