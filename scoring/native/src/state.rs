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
    /// The daily-cap counters of the UTC days a hit may still fall on, in (day, signal) order;
    /// only non-zero ones: empty for an account without capped hits in the allowed lateness.
    pub caps: Vec<CapCount>,
    pub contacts: IndexMap<Key, f64>,
    /// points . sums, kept with the sums (not stored: derived on restore).
    pub weighted: f64,
}

/// The earning hits of capped signal `k` on UTC day `day` (never 0: a zero is not kept).
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct CapCount {
    pub day: i64,
    pub k: u8,
    pub count: u32,
}

/// A daily cap as a hit meets it: the cap, the UTC day of the hit, and the oldest UTC day a hit
/// may still fall on (that of the clock minus the allowed lateness: older events are refused).
#[derive(Clone, Copy)]
pub(crate) struct CapDays {
    pub cap: u32,
    pub day: i64,
    pub oldest_day: i64,
}

/// The UTC day of `t`, as Python's `t // DAY`.
pub(crate) fn utc_day(t: f64) -> i64 {
    py_floordiv(t, DAY) as i64
}

impl CapDays {
    /// The days of a hit at `t` on an account whose clock is `clock`, with `allowed_lateness`.
    pub fn of(cap: u32, t: f64, clock: f64, allowed_lateness: f64) -> Self {
        CapDays {
            cap,
            day: utc_day(t),
            oldest_day: utc_day(clock - allowed_lateness),
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
            caps: Vec::new(),
            contacts: IndexMap::new(),
            weighted: 0.0,
        }
    }

    /// Drop the counters of days before `oldest_day`: no hit can fall on them any more.
    pub fn forget_caps_before(&mut self, oldest_day: i64) {
        let stale = self.caps.partition_point(|c| c.day < oldest_day);
        if stale > 0 {
            self.caps.drain(..stale);
        }
    }

    /// Count a hit of capped signal `k` on its day: false when `cap` hits of it already earned
    /// on that day (docs/scoring.md section 3, in the order applied).
    fn count_capped(&mut self, k: usize, days: CapDays) -> bool {
        debug_assert!(
            days.day >= days.oldest_day,
            "a too-late hit reached the counters"
        );
        self.forget_caps_before(days.oldest_day);
        let key = (days.day, k as u8);
        let at = self.caps.partition_point(|c| (c.day, c.k) < key);
        match self.caps.get_mut(at) {
            Some(c) if (c.day, c.k) == key => {
                if c.count >= days.cap {
                    return false;
                }
                c.count += 1;
            }
            _ => {
                if days.cap == 0 {
                    return false;
                }
                let (day, k) = key;
                self.caps.insert(at, CapCount { day, k, count: 1 });
            }
        }
        true
    }

    /// Count a matched hit of signal `k` at `t` (docs/scoring.md section 3): false when its daily
    /// cap is reached on the hit's UTC day; else adds 2^((t - ref) / h) to the signal's sum
    /// (rebasing first when that would grow too large) and moves its streak and last hit.
    /// `weighted` is the caller's to refresh.
    pub fn hit(&mut self, k: usize, t: f64, half_life: f64, cap: Option<CapDays>) -> bool {
        if let Some(days) = cap {
            if !self.count_capped(k, days) {
                return false;
            }
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
    fn daily_caps_count_every_day_in_the_allowed_lateness() {
        let mut bs = BehaviorState::new(1, 2);
        let clock = 10.0 * DAY + 6.0;
        let cap = |t: f64| Some(CapDays::of(2, t, clock, 7.0 * DAY));
        let today = 10.0 * DAY + 5.0;
        assert!(bs.hit(0, today, H, cap(today)));
        assert!(bs.hit(0, today, H, cap(today)));
        assert!(!bs.hit(0, today, H, cap(today)), "over the cap of 2");
        let late = today - 7.0 * DAY + 1.0; // day 3: the oldest day in the lateness
        assert!(bs.hit(0, late, H, cap(late)), "each day has its own count");
        assert!(bs.hit(1, late, H, cap(late)), "and each signal");
        assert!(bs.hit(0, late, H, cap(late)));
        assert!(!bs.hit(0, late, H, cap(late)));
        let kept: Vec<(i64, u8, u32)> = bs.caps.iter().map(|c| (c.day, c.k, c.count)).collect();
        assert_eq!(kept, vec![(3, 0, 2), (3, 1, 1), (10, 0, 2)]);
        // A capped hit once the clock has moved on forgets the days no hit can fall on.
        let later = 11.0 * DAY;
        assert!(bs.hit(1, later, H, Some(CapDays::of(2, later, later, 7.0 * DAY))));
        let kept: Vec<(i64, u8)> = bs.caps.iter().map(|c| (c.day, c.k)).collect();
        assert_eq!(kept, vec![(10, 0), (11, 1)]);
    }

    #[test]
    fn a_cap_of_zero_never_earns_nor_keeps_a_counter() {
        let mut bs = BehaviorState::new(1, 1);
        assert!(!bs.hit(0, DAY, H, Some(CapDays::of(0, DAY, DAY, DAY))));
        assert!(bs.caps.is_empty());
        assert_eq!(bs.sums, vec![0.0]);
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
