//! What the engine keeps per account (docs/state.md): the dedupe memory, the clock, and per
//! model the tier, the last total and per behavioral criterion the decayed sums, streaks, daily
//! caps and recent contacts. Pure data and the arithmetic of one hit; no Python.

use std::hint::black_box;

use indexmap::IndexMap;
use pyo3::prelude::*;

use crate::text::py_floordiv;

/// Streaks stop counting here (the codec stores at most this).
pub(crate) const MAX_STREAK: u32 = 0xFFFF;
/// A criterion's sums are rebased to the hit's time past this many half-lives of growth, before
/// 2^x could overflow.
const REBASE_HALF_LIVES: f64 = 60.0;
pub(crate) const DAY: f64 = 86400.0;

/// A digest of an event or contact id: the first 6 bytes of its 8-byte blake2b digest. Two ids
/// of one account colliding in 48 bits is not a practical concern (docs/state.md).
pub(crate) type Key = [u8; 6];

/// 2^x exactly as CPython computes `2.0 ** x` (libm `pow`); `black_box` keeps the compiler
/// from rewriting it to `exp2`, which may differ in the last bit.
#[inline]
pub(crate) fn pow2(x: f64) -> f64 {
    black_box(2.0f64).powf(x)
}

/// The `Key` of an id: the first 6 bytes of its blake2b digest of 8 bytes (digest_size=8, as
/// Python's `hashlib.blake2b`).
pub(crate) fn hash_id(text: &str) -> Key {
    let digest = blake2b_simd::Params::new()
        .hash_length(8)
        .hash(text.as_bytes());
    digest.as_bytes()[..6].try_into().expect("a 6-byte key")
}

/// One behavioral criterion of one model for one account (see scoring/state.py's docs).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct BehaviorState {
    pub fingerprint: u32,
    pub reference: f64,
    pub sums: Vec<f64>,
    pub last_hit: Vec<f64>,
    pub streak: Vec<u32>,
    pub cap_day: i32,
    pub cap_today: Vec<u32>,
    pub cap_yesterday: Vec<u32>,
    pub contacts: IndexMap<Key, f64>,
    /// points . sums, kept with the sums (not stored: derived on restore).
    pub weighted: f64,
}

/// A daily cap as a hit meets it: the cap, the UTC day of the hit and of the account clock.
#[derive(Clone, Copy)]
pub(crate) struct CapDays {
    pub cap: u32,
    pub day: i64,
    pub clock_day: i64,
}

impl CapDays {
    /// The days of a hit at `t` on an account whose clock is `clock`, as Python's `t // DAY`.
    pub fn of(cap: u32, t: f64, clock: f64) -> Self {
        CapDays {
            cap,
            day: py_floordiv(t, DAY) as i64,
            clock_day: py_floordiv(clock, DAY) as i64,
        }
    }
}

impl BehaviorState {
    pub fn new(fingerprint: u32, signals: usize) -> Self {
        BehaviorState {
            fingerprint,
            reference: 0.0,
            sums: vec![0.0; signals],
            last_hit: vec![0.0; signals],
            streak: vec![0; signals],
            cap_day: 0,
            cap_today: vec![0; signals],
            cap_yesterday: vec![0; signals],
            contacts: IndexMap::new(),
            weighted: 0.0,
        }
    }

    /// Move the daily-cap counters to UTC day `day`: only the next day keeps a counter.
    pub fn roll_caps(&mut self, day: i32) {
        if day == self.cap_day {
            return;
        }
        let signals = self.sums.len();
        if day as i64 == self.cap_day as i64 + 1 {
            self.cap_yesterday = std::mem::replace(&mut self.cap_today, vec![0; signals]);
        } else {
            self.cap_yesterday = vec![0; signals];
            self.cap_today = vec![0; signals];
        }
        self.cap_day = day;
    }

    /// Count a matched hit of signal `k` at `t` (docs/scoring.md section 3): false when its daily
    /// cap is reached, or its day is older than the counters keep; else adds 2^((t - ref) / h)
    /// to the signal's sum (rebasing first when that would grow too large) and moves its
    /// streak and last hit. `weighted` is the caller's to refresh.
    pub fn hit(&mut self, k: usize, t: f64, half_life: f64, cap: Option<CapDays>) -> bool {
        if let Some(CapDays {
            cap,
            day,
            clock_day,
        }) = cap
        {
            if self.cap_day as i64 != clock_day {
                self.roll_caps(clock_day as i32);
            }
            let counts = if day == clock_day {
                &mut self.cap_today
            } else if day == clock_day - 1 {
                &mut self.cap_yesterday
            } else {
                return false;
            };
            if counts[k] >= cap {
                return false;
            }
            counts[k] += 1;
        }
        let mut exponent = (t - self.reference) / half_life;
        if exponent > REBASE_HALF_LIVES {
            let factor = pow2(-exponent);
            for d in self.sums.iter_mut() {
                *d *= factor;
            }
            self.reference = t;
            exponent = 0.0;
        }
        self.sums[k] += pow2(exponent);
        let streak = self.streak[k];
        let last = self.last_hit[k];
        if streak == 0 || t - last > half_life {
            self.streak[k] = 1;
        } else if streak < MAX_STREAK {
            self.streak[k] = streak + 1;
        }
        if streak == 0 || t > last {
            self.last_hit[k] = t;
        }
        true
    }

    /// Keep the `keep` most recent contacts after `oldest` (ties by hash), most recent first.
    pub fn trim_contacts(&mut self, keep: usize, oldest: f64) {
        let mut recent: Vec<(f64, Key)> = self
            .contacts
            .iter()
            .filter(|(_, &at)| at > oldest)
            .map(|(k, &at)| (at, *k))
            .collect();
        recent.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap().then_with(|| b.1.cmp(&a.1)));
        recent.truncate(keep);
        self.contacts = recent.into_iter().map(|(at, key)| (key, at)).collect();
    }

    /// n(t): contacts whose latest hit lies in (since, t].
    pub fn recent_contacts(&self, since: f64) -> usize {
        self.contacts.values().filter(|&&at| at > since).count()
    }
}

/// One model's state for one account.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ModelState {
    pub model: String,
    pub version: u32,
    pub tier: String,
    pub seq: u32,
    pub last_total: f64,
    pub behaviors: Vec<BehaviorState>,
    /// The profile criteria's scores and their weighted sum (derived from the profile).
    pub fit_scores: Vec<f64>,
    pub fit_points: f64,
}

/// Everything the engine keeps about one account; opaque to Python except for its getters
/// (`bindings.rs`). The profile is the Python `Profile` it was last given, held by reference:
/// profiles are replaced, never mutated.
#[pyclass(module = "scoring._core")]
pub struct AccountState {
    pub(crate) account_id: String,
    pub(crate) clock: f64,
    pub(crate) profile: Option<Py<PyAny>>,
    pub(crate) dedupe: IndexMap<Key, f64>,
    /// Prune the dedupe memory when it grows past this (amortised: twice what pruning kept).
    pub(crate) dedupe_limit: usize,
    pub(crate) models: Vec<ModelState>,
    /// The `Core` whose models `models` is aligned with (0: none known), so that a check per
    /// call is one comparison.
    pub(crate) core: u64,
}

impl AccountState {
    pub(crate) fn empty(account_id: String, clock: f64) -> Self {
        AccountState {
            account_id,
            clock,
            profile: None,
            dedupe: IndexMap::new(),
            dedupe_limit: 0,
            models: Vec::new(),
            core: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: f64 = 3600.0;

    #[test]
    fn hits_decay_by_half_lives_from_the_reference() {
        let mut bs = BehaviorState::new(1, 2);
        assert!(bs.hit(0, 0.0, H, None));
        assert!(bs.hit(0, H, H, None));
        // 2^0 + 2^1: sums grow from the reference (0) instead of decaying the older hits.
        assert_eq!(bs.sums, vec![3.0, 0.0]);
        assert_eq!(bs.streak[0], 2);
        assert_eq!(bs.last_hit[0], H);
        // Decayed to `t`, the sum is 3 * 2^(-t / h): at t = 2h, 0.75.
        assert_eq!(bs.sums[0] * pow2(-2.0), 0.75);
    }

    #[test]
    fn a_hit_far_past_the_reference_rebases_the_sums_exactly() {
        let mut bs = BehaviorState::new(1, 1);
        bs.hit(0, 0.0, 1.0, None);
        bs.hit(0, 61.0, 1.0, None);
        assert_eq!(bs.reference, 61.0);
        assert_eq!(bs.sums[0], 1.0 + pow2(-61.0));
    }

    #[test]
    fn a_quiet_half_life_restarts_the_streak() {
        let mut bs = BehaviorState::new(1, 1);
        bs.hit(0, 0.0, H, None);
        bs.hit(0, H, H, None);
        bs.hit(0, 2.0 * H + 1.0, H, None);
        assert_eq!(bs.streak[0], 1);
    }

    #[test]
    fn daily_caps_count_today_and_yesterday_and_refuse_older_days() {
        let mut bs = BehaviorState::new(1, 1);
        let (today, clock) = (10.0 * DAY + 5.0, 10.0 * DAY + 6.0);
        let cap = |t: f64| Some(CapDays::of(2, t, clock));
        assert!(bs.hit(0, today, H, cap(today)));
        assert!(bs.hit(0, today, H, cap(today)));
        assert!(!bs.hit(0, today, H, cap(today)), "over the cap of 2");
        assert!(
            bs.hit(0, today - DAY, H, cap(today - DAY)),
            "yesterday has its own count"
        );
        assert!(!bs.hit(0, today - 2.0 * DAY, H, cap(today - 2.0 * DAY)));
        assert_eq!(
            (bs.cap_day, bs.cap_today[0], bs.cap_yesterday[0]),
            (10, 2, 1)
        );
        // The next day: today's counts become yesterday's.
        bs.roll_caps(11);
        assert_eq!((bs.cap_today[0], bs.cap_yesterday[0]), (0, 2));
        bs.roll_caps(13);
        assert_eq!((bs.cap_today[0], bs.cap_yesterday[0]), (0, 0));
    }

    #[test]
    fn trimming_keeps_the_most_recent_contacts_in_the_window() {
        let mut bs = BehaviorState::new(1, 1);
        for (i, at) in [5.0, 1.0, 9.0, 7.0].iter().enumerate() {
            bs.contacts.insert([i as u8; 6], *at);
        }
        bs.trim_contacts(2, 4.0);
        let kept: Vec<f64> = bs.contacts.values().copied().collect();
        assert_eq!(kept, vec![9.0, 7.0]);
        assert_eq!(bs.recent_contacts(8.0), 1);
    }

    #[test]
    fn ids_hash_as_pythons_blake2b_of_8_bytes_cut_to_6() {
        // hashlib.blake2b(b"e1", digest_size=8).digest()[:6]
        assert_eq!(hash_id("e1"), [0x1b, 0x5d, 0x5e, 0x51, 0xf5, 0x4f]);
    }
}
