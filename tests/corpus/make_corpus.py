#!/usr/bin/env python3
"""Writes tests/corpus/generated/: hostile and broken bodies for POST /installation_data/,
one file each, and generated/EXPECTED, one line per file: name, the status the server must
answer, the field at fault or looked at ("-" where none), and for a stored payload (200) the
text that field must hold once stored, as JSON (null: stored as absent).

The one rule (docs/api.md, "Limits on what a learner may send"): a body is refused only when it
cannot be stored faithfully (not JSON or not UTF-8: 400; wrong types: 422; over a limit: 413
or 422). Anything else is stored, each text cleaned (terminal escapes, controls and
bidirectional controls removed; one-line fields on one line, trimmed), and escaped wherever
it is shown. Also tests/corpus/sql/: SQL payloads in every field, which are text like any
other and must be stored verbatim (EXPECTED there says 200).

    python3 tests/corpus/make_corpus.py

Run it again after changing it; tests/corpus.rs sends every file to the real binary. The
hand-written cases are in tests/corpus/hand/ with their own EXPECTED.
"""
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))

SAMPLE = {
    "user_system_info": {
        "distribution_name": "Ubuntu", "distribution_version": "22.04", "system": "Linux",
        "system_version": "#50-Ubuntu SMP", "machine": "x86_64",
        "system_platform": "Linux-5.15.0-x86_64-with-glibc2.35", "python_version": "3.10.12",
        "workshop_id": "2026-11-27-corpus", "email_id": None},
    "successful_installs": [{"name": "Git (git)", "version": "2.34.1"}],
    "failed_installs": [{"name": "GNU Make (make)", "version": "4.3",
                         "error_description": "version 4.3 < required 4.4"}],
    "unique_user_id": None,
}

# Every string field a report has, as (path in the JSON, how the server names it).
SYSTEM_FIELDS = ["distribution_name", "distribution_version", "system", "system_version",
                 "machine", "system_platform", "python_version", "workshop_id", "email_id"]
STRING_FIELDS = (
    [(("user_system_info", f), f"user_system_info.{f}") for f in SYSTEM_FIELDS]
    + [(("successful_installs", 0, f), f"successful_installs[0].{f}") for f in ["name", "version"]]
    + [(("failed_installs", 0, f), f"failed_installs[0].{f}")
       for f in ["name", "version", "error_description"]]
)
LIMITS = {"error_description": 2000, "name": 200, "version": 200}
MAX_BODY = 256 * 1024

cases = []  # (file name, body bytes, status, field or "-", stored text as JSON or "-")


def with_value(path, value):
    """The sample with the value at path replaced."""
    report = json.loads(json.dumps(SAMPLE))
    target = report
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return report


def add(name, body, status, field="-", stored="-"):
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    if stored != "-":
        stored = json.dumps(stored, ensure_ascii=True)
    cases.append((name, body, status, field, stored))


def slug(text):
    return text.replace("[0]", "0").replace(".", "-")


def raw_in_field(path, raw):
    """The sample's JSON with a placeholder string replaced by raw bytes (not JSON-escaped)."""
    marker = "@@RAW@@"
    body = json.dumps(with_value(path, marker)).encode("utf-8")
    return body.replace(b'"' + marker.encode() + b'"', b'"' + raw + b'"')


# Every wrong type in every field.
WRONG = {"number": 5, "float": 1.5, "bool": True, "object": {"a": "b"}, "array": ["x"]}
for path, field in STRING_FIELDS:
    for kind, value in WRONG.items():
        add(f"wrong-type-{slug(field)}-{kind}", with_value(path, value), 422, field)
for listname in ["successful_installs", "failed_installs"]:
    add(f"wrong-type-{listname}-0-name-null", with_value((listname, 0, "name"), None), 422,
        f"{listname}[0].name")
    add(f"missing-{listname}-0-name", with_value((listname, 0), {"version": "1"}), 422,
        f"{listname}[0]")
for kind, value in {"number": 7, "bool": False, "object": {}, "array": []}.items():
    add(f"wrong-type-unique_user_id-{kind}", with_value(("unique_user_id",), value), 422,
        "unique_user_id")
CONTAINERS = {
    "user_system_info": {"empty-array": [], "array": ["x"], "array-of-fields":
                         ["Ubuntu", "22.04", "Linux"], "string": "Ubuntu", "number": 1,
                         "bool": True},
    "successful_installs": {"object": {"name": "git"}, "string": "git", "number": 3,
                            "bool": True, "array-of-arrays": [["git", "1.0"]],
                            "array-of-strings": ["git"], "array-of-numbers": [5],
                            "array-of-nulls": [None]},
    "failed_installs": {"object": {"name": "git"}, "string": "git", "number": 3, "bool": True,
                        "array-of-arrays": [["git", "1.0", "broken"]],
                        "array-of-strings": ["git"], "array-of-numbers": [5],
                        "array-of-nulls": [None]},
}
for name, values in CONTAINERS.items():
    for kind, value in values.items():
        field = name if not kind.startswith("array-of") or name == "user_system_info" \
            else f"{name}[0]"
        add(f"wrong-type-{name}-{kind}", with_value((name,), value), 422, field)

# Strings over their limits, and one over the body limit in each part of the report.
for path, field in STRING_FIELDS:
    limit = LIMITS.get(path[-1], 500)
    add(f"too-long-{slug(field)}", with_value(path, "x" * (limit + 1)), 422, field)
for path, field in STRING_FIELDS[::6]:
    add(f"huge-{slug(field)}", with_value(path, "x" * (MAX_BODY + 1)), 413)

# Texts a machine may print, JSON-escaped: a NUL, terminal escapes, bidirectional controls,
# other controls, line breaks, markup. Each is stored, cleaned: (one-line field, error text).
# An email field holding any of them is no address, so it is stored as absent.
PRINTED = {
    "nul-escaped": ("a\u0000b", "ab", "ab"),
    "terminal-escape": ("\u001b[31mred\u001b[0m", "red", "red"),
    "hyperlink-escape": ("\u001b]8;;http://evil.example\u001b\\click\u001b]8;;\u001b\\",
                         "click", "click"),
    "right-to-left-override": ("evil\u202egnp.exe", "evilgnp.exe", "evilgnp.exe"),
    "c1-controls-and-bom": ("\ufeffa\u0085b\u009b1m", "ab1m", "ab1m"),
    "crlf-and-tab": ("first\r\n\tsecond\r", "first second", "first\n\tsecond"),
    "script": ("<script>alert(1)</script>",) * 3,
    "img-onerror": ("\"><img src=x onerror=alert(1)>",) * 3,
    "only-controls": ("\u001b[0m\u0007\r\n", None, None),
}
for path, field in STRING_FIELDS:
    s = slug(field)
    for kind, (sent, one_line, prose) in PRINTED.items():
        stored = prose if field.endswith("error_description") else one_line
        if field.endswith("email_id"):
            stored = None
        if stored is None and field.endswith(".name"):
            # Nothing left of a check's name: a check needs a name (422), as a blank one.
            add(f"{kind}-{s}", with_value(path, sent), 422, field)
        else:
            add(f"{kind}-{s}", with_value(path, sent), 200, field, stored)
    # Raw bytes no JSON parser takes in a string: a NUL, invalid UTF-8, lone surrogates.
    add(f"nul-raw-{s}", raw_in_field(path, b"a\x00b"), 400, field)
    add(f"invalid-utf8-{s}", raw_in_field(path, b"caf\xe9"), 400, field)
    add(f"lone-surrogate-{s}", raw_in_field(path, b"\\ud800"), 400, field)
# An email is stored normalised, or as absent when it is none: never refused.
EMAIL = ("user_system_info", "email_id")
for kind, typed, stored in [("angle-brackets", "<jane@uni.edu>", "jane@uni.edu"),
                            ("display-name", "Jane Doe <jane@uni.edu>", "jane@uni.edu"),
                            ("mailto", " MAILTO:jane@uni.edu\n", "jane@uni.edu"),
                            ("two-ats", "jane@@uni.edu", None)]:
    add(f"email-{kind}", with_value(EMAIL, typed), 200, "user_system_info.email_id", stored)
# The time the checks ran is text; any other type is refused.
for kind, value in WRONG.items():
    add(f"wrong-type-checked_at-{kind}", with_value(("checked_at",), value), 422, "checked_at")
for name, raw in {"overlong": b"\xc0\xaf", "truncated-sequence": b"\xe2\x82",
                  "surrogate-as-utf8": b"\xed\xa0\x80", "ff": b"\xff\xfe",
                  "lone-low-surrogate": b"\\udc00x", "reversed-surrogates": b"\\udc00\\ud800"}.items():
    add(f"bad-text-{name}", raw_in_field(("user_system_info", "machine"), raw), 400,
        "user_system_info.machine")

# Broken JSON: the sample cut short at twenty places, and syntax no JSON parser takes.
sample = json.dumps(SAMPLE).encode("utf-8")
for i in range(20):
    cut = 1 + i * (len(sample) - 2) // 20
    add(f"truncated-at-{cut}", sample[:cut], 400)
SYNTAX = {
    "empty": b"", "whitespace": b" \n\t ", "trailing-comma": b'{"unique_user_id": null,}',
    "single-quotes": b"{'unique_user_id': null}", "comment": b'{/* hi */"unique_user_id": null}',
    "nan": b'{"unique_user_id": NaN}', "infinity": b'{"successful_installs": Infinity}',
    "unquoted-key": b"{unique_user_id: null}", "hex-number": b'{"x": 0x10}',
    "leading-zero": b'{"x": 012}', "two-documents": b"{}{}", "trailing-garbage": b"{} x",
    "byte-order-mark": b"\xef\xbb\xbf{}", "unclosed-string": b'{"unique_user_id": "abc',
    "bare-word": b"hello", "xml": b"<report/>", "form-encoded": b"unique_user_id=x&a=b",
    "lone-brace": b"}", "bad-escape": b'{"unique_user_id": "\\q"}',
    "control-in-key": b'{"uniq\x01ue": 1}',
}
for name, body in SYNTAX.items():
    add(f"syntax-{name}", body, 400)
for name, body in {"array": b"[]", "array-of-report": b'[{"unique_user_id": null}]',
                   "string": b'"report"', "number": b"42", "null": b"null", "bool": b"true"}.items():
    add(f"not-an-object-{name}", body, 422)

# Nesting 100,000 deep, in an unknown field and in known ones; arrays of a million elements.
deep = 100000
add("deep-nesting-unknown-field",
    b'{"extra": ' + b"[" * deep + b"]" * deep + b"}", 400)
add("deep-nesting-user_system_info",
    b'{"user_system_info": {"system": ' + b"[" * deep + b"]" * deep + b"}}", 400)
add("deep-nesting-objects", b'{"a":' * 40000 + b"1" + b"}" * 40000, 400)
add("deep-nesting-unclosed", b"[" * deep, 400)
add("million-element-array-successful_installs",
    b'{"successful_installs": [' + b",".join([b"0"] * 1000000) + b"]}", 413)
add("million-element-array-unknown-field",
    b'{"extra": [' + b",".join([b"{}"] * 1000000) + b"]}", 413)
for listname in ["successful_installs", "failed_installs"]:
    add(f"too-many-{listname}", {listname: [{"name": "x"}] * 501}, 422, listname)

# Duplicate keys: serde refuses a repeated field rather than keep the first or the last.
add("duplicate-top-level-key",
    b'{"successful_installs": [], "successful_installs": [{"name": "x"}]}', 422,
    "successful_installs")
add("duplicate-user_system_info",
    b'{"user_system_info": {}, "user_system_info": {"system": "Linux"}}', 422,
    "user_system_info")
add("duplicate-email_id",
    b'{"user_system_info": {"email_id": "a@example.org", "email_id": "b@example.org"}}', 422,
    "email_id")
add("duplicate-package-name",
    b'{"failed_installs": [{"name": "a", "name": "b"}]}', 422, "name")

out = os.path.join(HERE, "generated")
shutil.rmtree(out, ignore_errors=True)
os.makedirs(out)
with open(os.path.join(out, "EXPECTED"), "w") as expected:
    for i, (name, body, status, field, stored) in enumerate(cases):
        file = f"{i:03d}-{name}.json"
        with open(os.path.join(out, file), "wb") as f:
            f.write(body)
        expected.write(f"{file}\t{status}\t{field}\t{stored}\n")

# SQL payloads are text: stored verbatim (parameters, never string-built SQL).
SQL = ["'; DROP TABLE user_system_info; --", "' OR '1'='1", "1; DELETE FROM attempts",
       "Robert'); DROP TABLE failed_installs;--", "\" OR \"\"=\"", "1 UNION SELECT email_id FROM user_system_info"]
sql = os.path.join(HERE, "sql")
shutil.rmtree(sql, ignore_errors=True)
os.makedirs(sql)
with open(os.path.join(sql, "EXPECTED"), "w") as expected:
    n = 0
    for payload in SQL:
        for path, field in STRING_FIELDS:
            if field.endswith("email_id"):
                continue
            file = f"{n:03d}-sql-{slug(field)}.json"
            with open(os.path.join(sql, file), "w") as f:
                json.dump(with_value(path, payload), f)
            expected.write(f"{file}\t200\t{field}\t{json.dumps(payload)}\n")
            n += 1
print(f"{len(cases)} hostile payloads in {out}, {n} SQL payloads in {sql}")
