//! A learner's machine: the seven fields a report gives about it, and the one table that
//! names them. The SQL column lists of `system_profiles` and `user_system_info`, the
//! breakdowns' SQL over a profile or an attempt, a report's profile and the fingerprint all
//! read [`Field::ALL`]. A new field is a row here and in [`Profile`], a column in the schema
//! (a migration), a field of the wire's `SystemInfo`, and a `Breakdown` with its list in
//! `PackageDetail` and on the package page.

use crate::report::SystemInfo;
use rusqlite::Row;

/// One machine field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field {
    DistributionName,
    DistributionVersion,
    System,
    SystemVersion,
    Machine,
    SystemPlatform,
    PythonVersion,
}

impl Field {
    /// Every field, in `system_profiles`' column order, which the fingerprint hashes (so it
    /// must never change; a new field goes last).
    pub(crate) const ALL: [Field; 7] = [
        Field::DistributionName,
        Field::DistributionVersion,
        Field::System,
        Field::SystemVersion,
        Field::Machine,
        Field::SystemPlatform,
        Field::PythonVersion,
    ];

    /// Its column in `system_profiles`, `user_system_info` and `attempts`, and its key in a
    /// report's `user_system_info`.
    pub(crate) const fn column(self) -> &'static str {
        match self {
            Field::DistributionName => "distribution_name",
            Field::DistributionVersion => "distribution_version",
            Field::System => "system",
            Field::SystemVersion => "system_version",
            Field::Machine => "machine",
            Field::SystemPlatform => "system_platform",
            Field::PythonVersion => "python_version",
        }
    }

    /// Its value in a report.
    fn reported(self, s: &SystemInfo) -> &Option<String> {
        match self {
            Field::DistributionName => &s.distribution_name,
            Field::DistributionVersion => &s.distribution_version,
            Field::System => &s.system,
            Field::SystemVersion => &s.system_version,
            Field::Machine => &s.machine,
            Field::SystemPlatform => &s.system_platform,
            Field::PythonVersion => &s.python_version,
        }
    }
}

/// Every field's column in order, each after `prefix` (`"pr."`, or `""`), comma-separated:
/// the SQL lists that read or write a whole profile.
pub(crate) fn columns(prefix: &str) -> String {
    Field::ALL
        .map(|field| format!("{prefix}{}", field.column()))
        .join(", ")
}

/// `column = ?n` for every field in order, numbered from `?first` on: an `UPDATE` that
/// writes a whole profile, with [`Profile::values`] as those parameters.
pub(crate) fn assignments(first: usize) -> String {
    Field::ALL
        .into_iter()
        .enumerate()
        .map(|(i, field)| format!("{} = ?{}", field.column(), first + i))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The machine fields of a report, as `system_profiles` keeps them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct Profile {
    pub distribution_name: Option<String>,
    pub distribution_version: Option<String>,
    pub system: Option<String>,
    pub system_version: Option<String>,
    pub machine: Option<String>,
    pub system_platform: Option<String>,
    pub python_version: Option<String>,
}

impl Profile {
    /// One field's value.
    pub(crate) fn get(&self, field: Field) -> &Option<String> {
        match field {
            Field::DistributionName => &self.distribution_name,
            Field::DistributionVersion => &self.distribution_version,
            Field::System => &self.system,
            Field::SystemVersion => &self.system_version,
            Field::Machine => &self.machine,
            Field::SystemPlatform => &self.system_platform,
            Field::PythonVersion => &self.python_version,
        }
    }

    fn get_mut(&mut self, field: Field) -> &mut Option<String> {
        match field {
            Field::DistributionName => &mut self.distribution_name,
            Field::DistributionVersion => &mut self.distribution_version,
            Field::System => &mut self.system,
            Field::SystemVersion => &mut self.system_version,
            Field::Machine => &mut self.machine,
            Field::SystemPlatform => &mut self.system_platform,
            Field::PythonVersion => &mut self.python_version,
        }
    }

    /// A profile from each field's value.
    pub(crate) fn from_fn(mut value: impl FnMut(Field) -> Option<String>) -> Profile {
        let mut profile = Profile::default();
        for field in Field::ALL {
            *profile.get_mut(field) = value(field);
        }
        profile
    }

    /// The profile in a row's columns from `first` on, in the order of [`columns`].
    pub(crate) fn read(row: &Row<'_>, first: usize) -> rusqlite::Result<Profile> {
        let mut profile = Profile::default();
        for (i, field) in Field::ALL.into_iter().enumerate() {
            *profile.get_mut(field) = row.get(first + i)?;
        }
        Ok(profile)
    }

    /// The machine a report describes.
    pub(crate) fn reported(system: &SystemInfo) -> Profile {
        Profile::from_fn(|field| field.reported(system).clone())
    }

    /// Each field this profile gives, the others as `stored` has them.
    pub(crate) fn or(self, stored: &Profile) -> Profile {
        let mut given = self;
        for field in Field::ALL {
            let value = given.get_mut(field);
            if value.is_none() {
                value.clone_from(stored.get(field));
            }
        }
        given
    }

    /// Every field's value, in the order of [`Field::ALL`].
    pub(crate) fn values(&self) -> [&Option<String>; 7] {
        Field::ALL.map(|field| self.get(field))
    }

    /// A 64-bit FNV-1a hash of the fields, each marked as absent or as its length and bytes,
    /// so that no two different profiles are one string. Stored, so it must never change.
    pub(crate) fn fingerprint(&self) -> i64 {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let mut feed = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
        };
        for field in self.values() {
            match field {
                None => feed(&[0]),
                Some(text) => {
                    feed(&[1]);
                    feed(&(text.len() as u32).to_le_bytes());
                    feed(text.as_bytes());
                }
            }
        }
        hash as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_field_reads_and_writes_its_own_slot() {
        let profile = Profile::from_fn(|field| Some(field.column().to_owned()));
        for field in Field::ALL {
            assert_eq!(profile.get(field).as_deref(), Some(field.column()));
        }
        assert_eq!(profile.python_version.as_deref(), Some("python_version"));
        assert_eq!(
            columns("pr."),
            "pr.distribution_name, pr.distribution_version, pr.system, pr.system_version, \
             pr.machine, pr.system_platform, pr.python_version"
        );
        assert!(assignments(2).starts_with("distribution_name = ?2, distribution_version = ?3"));
        assert!(assignments(2).ends_with("python_version = ?8"));
    }

    #[test]
    fn given_fields_replace_stored_ones() {
        let stored = Profile::from_fn(|_| Some("old".into()));
        let given = Profile {
            system: Some("Linux".into()),
            ..Profile::default()
        };
        let merged = given.or(&stored);
        assert_eq!(merged.system.as_deref(), Some("Linux"));
        assert_eq!(merged.machine.as_deref(), Some("old"));
    }
}
