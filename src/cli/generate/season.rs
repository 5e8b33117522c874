//! The season: workshops on their days (most in the past, some this week and next), each
//! learner's first run before their workshop, the times their fixes take, and the attempts
//! that report them.

use super::model::Fix;
use super::platforms::Os;
use crate::storage::timestamp;
use std::collections::HashSet;

const DAY: u64 = 86_400;
const HOUR: u64 = 3_600;
const MINUTE: u64 = 60;
/// Workshops start at nine in the morning (UTC: the model has no zones).
const START: u64 = 9 * HOUR;
/// A learner first runs the check this long before their workshop: log-normal around two
/// and a half days, most within the week before, a few weeks ahead, some that very morning.
const LEAD_MEDIAN: f64 = 2.5 * DAY as f64;
const LEAD_SIGMA: f64 = 0.9;
const LEAD_RANGE: (f64, f64) = (15.0 * MINUTE as f64, 21.0 * DAY as f64);
/// Helpers at the workshop fix half of what is still broken on its first morning.
const FIXED_AT_WORKSHOP: f64 = 0.5;
/// The newest attempt is this long before now.
const MARGIN: u64 = MINUTE;
const PLACES: &[&str] = &[
    "oslo",
    "ucl",
    "toronto",
    "capetown",
    "melbourne",
    "ttu",
    "berkeley",
    "edinburgh",
    "nairobi",
    "saopaulo",
    "online",
    "ethz",
    "uw",
    "mcgill",
    "auckland",
    "kyoto",
];

/// A workshop: its id (date and place, as the workshop template names them), its first day
/// (days since 1970) and how many learners report for it.
pub(super) struct Workshop {
    pub(super) name: String,
    pub(super) day: u64,
    pub(super) learners: usize,
}

/// `count` workshops sharing `learners`: the demo (if any) the day after tomorrow, a few more
/// still to come this week and next (at the past's pace, at least three), two earlier this
/// week, the rest over the `days` before today. Upcoming workshops have only the learners who have run the check by `now`.
pub(super) fn workshops(
    rng: &mut fastrand::Rng,
    count: usize,
    learners: usize,
    days: u64,
    now: u64,
    demo: bool,
) -> Vec<Workshop> {
    let today = now / DAY;
    // 1970-01-01 was a Thursday: Monday is 0.
    let monday = today - (today + 3) % 7;
    let next_sunday = monday + 13;
    let mut planned: Vec<(u64, bool)> = Vec::new();
    if demo {
        planned.push((today + 2, true));
    }
    // As many still to come as the past's pace gives the days left of next week, and at
    // least a few (so the home page has some) once there are enough workshops.
    let span = next_sunday - today;
    let upcoming = ((count as u64 * span / days.max(1)) as usize).max((count / 4).min(3));
    for _ in 0..upcoming {
        planned.push((rng.u64(today + 1..=next_sunday), false));
    }
    let recent_from = if monday < today { monday } else { today - 3 };
    for _ in 0..if count >= 6 { 2 } else { 0 } {
        planned.push((rng.u64(recent_from..today), false));
    }
    while planned.len() < count {
        planned.push((today - 1 - rng.u64(..days.max(1)), false));
    }
    planned.truncate(count.max(1));
    let mut names = HashSet::new();
    let has_past = planned.iter().any(|(day, _)| *day < today);
    let share = learners as f64 / planned.len() as f64;
    let mut left = learners;
    let mut workshops = Vec::new();
    // Upcoming ones first: they take only those who have checked already, the past the rest.
    planned.sort_by_key(|(day, _)| std::cmp::Reverse(*day));
    let total = planned.len();
    for (i, (day, is_demo)) in planned.into_iter().enumerate() {
        let (y, m, d) = timestamp::civil_date(day);
        let place = if is_demo {
            "demo"
        } else {
            PLACES[rng.usize(..PLACES.len())]
        };
        let mut name = format!("{y:04}-{m:02}-{d:02}-{place}");
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{y:04}-{m:02}-{d:02}-{place}-{n}");
            n += 1;
        }
        let here = if i + 1 == total {
            left
        } else if day >= today && has_past {
            let checked = checked_by(rng, day * DAY + START, now);
            ((share * checked).round() as usize).clamp(1, left)
        } else {
            // Workshops differ in size: half to one and a half times the mean.
            let mean = left as f64 / (total - i) as f64;
            ((mean * (0.5 + rng.f64())).round() as usize).min(left)
        };
        left -= here;
        workshops.push(Workshop {
            name,
            day,
            learners: here,
        });
    }
    workshops
}

/// The share of a workshop's learners who have first run the check by `now`.
fn checked_by(rng: &mut fastrand::Rng, start: u64, now: u64) -> f64 {
    const SAMPLES: usize = 200;
    let early = (0..SAMPLES)
        .filter(|_| start.saturating_sub(lead(rng)) + MARGIN * 10 <= now)
        .count();
    early as f64 / SAMPLES as f64
}

/// A standard normal draw (Box-Muller).
fn normal(rng: &mut fastrand::Rng) -> f64 {
    let u = rng.f64().max(f64::MIN_POSITIVE);
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * rng.f64()).cos()
}

fn lead(rng: &mut fastrand::Rng) -> u64 {
    let lead = LEAD_MEDIAN * (LEAD_SIGMA * normal(rng)).exp();
    lead.clamp(LEAD_RANGE.0, LEAD_RANGE.1) as u64
}

/// When one learner's attempts happen and which fixes have happened by then.
pub(super) struct History {
    /// Seconds since 1970, ascending; the first is the full first run.
    pub(super) attempts: Vec<u64>,
    /// The fixes that happened, each when it did (ascending).
    pub(super) fixes: Vec<(u64, Fix)>,
}

/// A learner of the workshop starting `day`, whose machine needs `fixes`, who reports
/// `attempts` times (at least once), all before `now`.
pub(super) fn history(
    rng: &mut fastrand::Rng,
    os: Os,
    needed: &[Fix],
    day: u64,
    attempts: usize,
    now: u64,
) -> History {
    let start = day * DAY + START;
    let latest = now - MARGIN;
    let mut first = start.saturating_sub(lead(rng));
    for _ in 0..20 {
        if first + 10 * MINUTE <= latest {
            break;
        }
        first = start.saturating_sub(lead(rng));
    }
    if first + 10 * MINUTE > latest {
        first = latest - 10 * MINUTE - rng.u64(..DAY);
    }
    // Reports stop after the workshop's first morning.
    let cutoff = latest.min(start + 3 * HOUR);
    let mut fixes = Vec::new();
    for &fix in needed {
        let time = fix.time(os);
        let minutes = time.median * (time.sigma * normal(rng)).exp();
        let mut at = first + (minutes * MINUTE as f64) as u64;
        if rng.f64() < time.stuck || at > start {
            // Stuck, or not before the workshop: its helpers may fix it that morning.
            if rng.f64() >= FIXED_AT_WORKSHOP {
                continue;
            }
            at = (start + rng.u64(..3 * HOUR - 20 * MINUTE)).max(first + MINUTE);
        }
        if at + MINUTE < cutoff {
            fixes.push((at, fix));
        }
    }
    fixes.sort_by_key(|(at, _)| *at);
    // The re-tests: after a fix (several fixes to one re-test when the learner came back
    // fewer times than they fixed things), the rest at any time, still failing or checking
    // again that all is well.
    let slots = attempts.saturating_sub(1);
    let mut times = vec![first];
    let after = |at: u64, rng: &mut fastrand::Rng| (at + rng.u64(MINUTE..15 * MINUTE)).min(cutoff);
    if slots <= fixes.len() {
        for group in 0..slots {
            let last = (group + 1) * fixes.len() / slots - 1;
            times.push(after(fixes[last].0, rng));
        }
    } else {
        for &(at, _) in &fixes {
            times.push(after(at, rng));
        }
        for _ in fixes.len()..slots {
            times.push(rng.u64(first + MINUTE..cutoff.max(first + 2 * MINUTE)));
        }
    }
    times.sort_unstable();
    History {
        attempts: times,
        fixes,
    }
}
