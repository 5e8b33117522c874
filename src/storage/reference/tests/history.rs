//! Random histories: reports from few workshops, systems and packages, and steps through the
//! same paths the server and the subcommands use (hand edits and rebuilds included).

use crate::report::{Failure, Package, Report, SystemInfo};
use crate::storage::record::{self, Keys};
use crate::storage::{StorageError, Store};

fn pick(rng: &mut fastrand::Rng, choices: &[Option<&str>]) -> Option<String> {
    choices[rng.usize(..choices.len())].map(str::to_owned)
}

/// A report from few workshops, systems and packages (NULLs included), on one of a few
/// days, for a new learner or a returning one who may have moved workshop or machine.
fn random_report(rng: &mut fastrand::Rng, key: Option<uuid::Uuid>) -> (Report, String) {
    // Each check failed, passed or left out (a partial re-run), so learners fix things,
    // break them again and fix them again.
    let mut failures = Vec::new();
    let mut successes = Vec::new();
    for name in ["git", "make", "numpy", "bash"] {
        match rng.u8(..3) {
            0 => failures.push(Failure {
                name: name.into(),
                version: pick(rng, &[None, Some("1.0"), Some("2.0")]),
                error_description: pick(rng, &[None, Some("not found"), Some("too old")]),
            }),
            1 => successes.push(Package {
                name: name.into(),
                version: pick(rng, &[None, Some("2.0"), Some("3.0")]),
            }),
            _ => {}
        }
    }
    let report = Report {
        key,
        system: SystemInfo {
            system: pick(rng, &[None, Some("Linux"), Some("Windows")]),
            distribution_name: pick(rng, &[None, Some("Ubuntu"), Some("Windows")]),
            distribution_version: pick(rng, &[None, Some("22.04"), Some("11")]),
            python_version: pick(rng, &[None, Some("3.11.7"), Some("3.8.10")]),
            machine: pick(rng, &[None, Some("x86_64"), Some("arm64")]),
            workshop_id: pick(rng, &[None, Some("w1"), Some("w2"), Some("w3")]),
            email_id: pick(rng, &[None, Some("a@example.org")]),
            ..SystemInfo::default()
        },
        successes,
        failures,
        checked_at: None,
    };
    let day = 1 + rng.u8(..4);
    (
        report,
        format!("2026-01-0{day} 1{}:00:00.000", rng.u8(..10)),
    )
}

/// One random step of a history, through the same paths the server and the
/// subcommands use; returns what it did.
pub(super) async fn step(
    store: &Store,
    rng: &mut fastrand::Rng,
    keys: &mut Vec<uuid::Uuid>,
) -> String {
    let known = |rng: &mut fastrand::Rng, keys: &[uuid::Uuid]| {
        (!keys.is_empty() && rng.bool()).then(|| keys[rng.usize(..keys.len())])
    };
    match rng.u8(..20) {
        0 if !keys.is_empty() => {
            let gone = keys.swap_remove(rng.usize(..keys.len()));
            store.delete_user(gone.to_string()).await.unwrap();
            "delete-user".into()
        }
        1 => {
            // Rows deleted by hand (an attempt, a failure, a learner), then a rebuild.
            let sql = [
                "DELETE FROM submissions WHERE id = (SELECT max(id) FROM submissions)",
                "DELETE FROM submission_failures WHERE submission_id =
                     (SELECT max(submission_id) FROM submission_failures)",
                "DELETE FROM user_system_info WHERE id = (SELECT min(id) FROM user_system_info)",
            ][rng.usize(..3)];
            store
                .writer
                .write(move |work| Ok(work.conn.execute(sql, [])?))
                .await
                .unwrap();
            store.rebuild_tallies().await.unwrap();
            keys.clear();
            store
                .read(|conn| {
                    Ok(conn
                        .prepare("SELECT unique_user_id FROM user_system_info")?
                        .query_map([], |r| r.get::<_, String>(0))?
                        .collect::<Result<Vec<_>, _>>()?)
                })
                .await
                .unwrap()
                .iter()
                .for_each(|k| keys.push(k.parse().unwrap()));
            format!("hand edit ({sql}) and rebuild")
        }
        2 => {
            // A batch in which one job fails after writing: it is rolled back alone.
            let (good_key, bad_key) = (known(rng, keys), known(rng, keys));
            let (good, good_at) = random_report(rng, good_key);
            let (bad, bad_at) = random_report(rng, bad_key);
            let failing = store.writer.write(move |work| {
                record::record_attempt(work, &bad, Some(&bad_at), Keys::Issue)?;
                Err::<(), _>(StorageError::Other("fails on purpose".into()))
            });
            let (failed, kept) = tokio::join!(failing, store.import(vec![(good, good_at)]));
            assert!(failed.is_err());
            let receipt = &kept.unwrap()[0];
            if !receipt.known {
                keys.push(receipt.key);
            }
            "a batch with a failing job".into()
        }
        3..=5 => {
            // As the server stores a report: at its `checked_at` when that is believable
            // (within 30 days, a minute ahead at most), else when it arrives.
            let key = known(rng, keys);
            let (mut report, _) = random_report(rng, key);
            let day = std::time::Duration::from_secs(86_400);
            let now = std::time::SystemTime::now();
            report.checked_at = [
                None,
                Some(now - day * rng.u32(..30)),
                Some(now - day * rng.u32(31..60)),
                Some(now + std::time::Duration::from_secs(rng.u64(..600))),
            ][rng.usize(..4)];
            let receipt = store.record(report).await.unwrap();
            if !receipt.known {
                keys.push(receipt.key);
            }
            "a report sent with its checked time".into()
        }
        _ => {
            let key = known(rng, keys);
            let (report, at) = random_report(rng, key);
            let receipt = store.import(vec![(report, at)]).await.unwrap().remove(0);
            if !receipt.known {
                keys.push(receipt.key);
            }
            "a report".into()
        }
    }
}
