//! The files the pages load, built into the binary so a dashboard works with no internet.
//!
//! Links carry a digest of the file (`?v=`), so browsers may keep a file for a year and still
//! fetch the new one after an upgrade.

/// One built-in file.
pub(super) struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub body: &'static [u8],
    /// A digest of `body`: changes whenever the file does.
    pub version: u64,
}

const STYLESHEET: &[u8] = include_bytes!("../../static/dashboard.css");
const LIVE_SCRIPT: &[u8] = include_bytes!("../../static/live.js");
const ICON: &[u8] = include_bytes!("../../static/icon.svg");
const LOCAL_TIME_SCRIPT: &[u8] = include_bytes!("../../static/local-time.js");

pub(super) const ASSETS: [Asset; 4] = [
    Asset {
        name: "dashboard.css",
        content_type: "text/css; charset=utf-8",
        body: STYLESHEET,
        version: digest(STYLESHEET),
    },
    Asset {
        name: "live.js",
        content_type: "text/javascript; charset=utf-8",
        body: LIVE_SCRIPT,
        version: digest(LIVE_SCRIPT),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        body: ICON,
        version: digest(ICON),
    },
    Asset {
        name: "local-time.js",
        content_type: "text/javascript; charset=utf-8",
        body: LOCAL_TIME_SCRIPT,
        version: digest(LOCAL_TIME_SCRIPT),
    },
];

/// The built-in file served at `/static/<name>`.
pub(super) fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The link to a built-in file, with its digest.
pub(super) fn href(name: &str) -> String {
    let asset = find(name).expect("a built-in file");
    format!("/static/{}?v={:016x}", asset.name, asset.version)
}

/// FNV-1a: enough to tell versions of a file apart, and computable at compile time.
const fn digest(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0100_0000_01b3);
        i += 1;
    }
    hash
}
