//! What the server does when things go wrong around it: bodies over the limit from clients
//! that keep sending, a SIGTERM under load, a disk that fills up.

use crate::binary::Server;
use crate::check_script::python;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

/// Python's urllib sends the whole body before it reads the answer: without the server
/// reading the rest of a refused body, it reported "connection reset" or "broken pipe".
#[test]
fn a_python_client_sending_megabytes_reads_the_413_and_its_message() {
    let Some(python) = python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &["--rate-limit", "off"]);
    let client = r#"
import json, sys, urllib.error, urllib.request
url, size = sys.argv[1], int(sys.argv[2])
request = urllib.request.Request(url, data=b" " * size, method="POST",
                                 headers={"Content-Type": "application/json"})
try:
    urllib.request.urlopen(request, timeout=30)
    print("200")
except urllib.error.HTTPError as error:
    print(error.code, json.loads(error.read().decode())["error"])
"#;
    for mib in [1, 5] {
        let run = Command::new(&python)
            .args(["-c", client])
            .arg(format!("{}/installation_data/", server.base))
            .arg((mib << 20).to_string())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&run.stdout);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(
            stdout.trim(),
            "413 body too large",
            "{mib} MiB: {stdout}{stderr}"
        );
    }
}

/// A Content-Length far beyond what the server would drain is answered at once, unread.
#[test]
fn a_body_declared_far_too_large_is_refused_before_it_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&dir.path().join("ras.db"), &[]);
    let mut stream = TcpStream::connect(server.base.trim_start_matches("http://")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "POST /installation_data/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{{",
        1u64 << 30
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body too large"), "{answer}");
}
