//! A model's numbers for one account's state (docs/scoring.md section 3): engagement points decayed
//! to a time, criterion scores, tiers with hysteresis, and the time of the next decay-driven
//! tier change. Pure functions of a `ModelDef` and a `ModelState`.

use crate::model::ModelDef;
use crate::state::{pow2, ModelState};

/// `due_time` finds a crossing to within this many seconds.
const DUE_PRECISION: f64 = 0.01;

/// `x / saturation` clamped to 1, as the Python `min(1.0, x / saturation)` it replaced.
fn saturated(x: f64, saturation: f64) -> f64 {
    if x < saturation {
        x / saturation
    } else {
        1.0
    }
}

impl ModelDef {
    pub fn tier_index(&self, name: &str) -> Option<usize> {
        self.tier_names.iter().position(|n| n == name)
    }

    /// The totals that keep tier `i`: [min - hysteresis, min of the tier above).
    pub fn bounds(&self, i: usize) -> (f64, f64) {
        let lo = if i < self.tier_mins.len() - 1 {
            self.tier_mins[i] - self.hysteresis
        } else {
            f64::NEG_INFINITY
        };
        let hi = if i > 0 {
            self.tier_mins[i - 1]
        } else {
            f64::INFINITY
        };
        (lo, hi)
    }

    /// Index of the tier after evaluating `total` from tier `current` (docs/scoring.md section 3):
    /// up as soon as the total reaches a higher tier's min, down only below the held tier's
    /// min minus the hysteresis.
    pub fn tier_after(&self, current: &str, total: f64) -> usize {
        let mins = &self.tier_mins;
        let earned = mins
            .iter()
            .position(|floor| *floor <= total)
            .unwrap_or(mins.len() - 1);
        let Some(held) = self.tier_index(current) else {
            return earned;
        };
        if earned < held || (earned > held && total < mins[held] - self.hysteresis) {
            return earned;
        }
        held
    }

    /// Sum of weight * score over the behavioral and breadth criteria at time t >= clock.
    pub fn engagement_points(&self, ms: &ModelState, t: f64) -> f64 {
        let mut points = 0.0;
        for (def, bs) in self.behaviors.iter().zip(&ms.behaviors) {
            let weighted = bs.weighted;
            if weighted > 0.0 {
                let x = weighted * pow2((bs.reference - t) / def.half_life);
                points += def.weight_scale * saturated(x, def.saturation);
            }
        }
        for def in &self.breadths {
            let n = ms.behaviors[def.behavior].recent_contacts(t - def.window) as f64;
            if n != 0.0 {
                points += def.weight_scale * saturated(n, def.saturation);
            }
        }
        points
    }

    /// The 0..100 total at `t` of a state whose fit points are its own.
    pub fn total_at(&self, ms: &ModelState, t: f64) -> f64 {
        (ms.fit_points + self.engagement_points(ms, t)) * self.norm
    }

    /// (score on 0..scale, decay factor) at `t` of behavioral criterion `index` whose sums are
    /// `weighted` at `reference`.
    pub fn behavioral_score(
        &self,
        index: usize,
        weighted: f64,
        reference: f64,
        t: f64,
    ) -> (f64, f64) {
        let def = &self.behaviors[index];
        let factor = pow2((reference - t) / def.half_life);
        let x = weighted * factor;
        let score = if x > 0.0 {
            self.scale * (x / def.saturation).min(1.0)
        } else {
            0.0
        };
        (score, factor)
    }

    /// Score (0..scale) of breadth criterion `index` with `contacts` in its window.
    pub fn breadth_score(&self, index: usize, contacts: usize) -> f64 {
        self.scale * (contacts as f64 / self.breadths[index].saturation).min(1.0)
    }

    /// The fit and engagement sub-scores (0..100) of a total's two parts; None for a model
    /// without criteria of that side.
    pub fn sub_scores(&self, fit_points: f64, engagement: f64) -> (Option<f64>, Option<f64>) {
        (
            (!self.profile.is_empty()).then_some(fit_points * self.fit_norm),
            (self.engagement_norm != 0.0).then_some(engagement * self.engagement_norm),
        )
    }

    /// Earliest time > `start` (the clock) at which, with no new input, an evaluation would
    /// change the tier of `ms` (see Engine.next_tier_change_time): `start` itself when one at
    /// `start` would, None when the total's floor stays at or above the held tier's line.
    pub fn due_time(&self, ms: &ModelState, start: f64) -> Option<f64> {
        let held = self.tier_after(&ms.tier, self.total_at(ms, start));
        if self.tier_names[held] != ms.tier {
            return Some(start);
        }
        if held == self.tier_names.len() - 1 {
            return None;
        }
        let line = self.tier_mins[held] - self.hysteresis;
        let below = |t: f64| self.total_at(ms, t) < line;
        if !below(f64::INFINITY) || !start.is_finite() {
            return None;
        }
        let (mut lo, mut step) = (start, 1.0);
        while !below(start + step) {
            lo = start + step;
            step *= 2.0;
        }
        let mut hi = start + step;
        while hi - lo > DUE_PRECISION {
            let mid = (lo + hi) / 2.0;
            if below(mid) {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{test_model, weighted_sum};

    const H: f64 = 3600.0;

    #[test]
    fn tiers_rise_at_a_min_and_fall_only_below_the_hysteresis() {
        let def = test_model();
        assert_eq!(def.tier_after("cold", 30.0), 1);
        assert_eq!(def.tier_after("cold", 60.0), 0);
        // warm holds down to 30 - 5 ...
        assert_eq!(def.tier_after("warm", 25.0), 1);
        // ... and drops below it.
        assert_eq!(def.tier_after("warm", 24.9), 2);
        assert_eq!(def.tier_after("hot", 55.0), 0);
        assert_eq!(def.tier_after("hot", 54.0), 1);
        // A tier the model does not have: the earned one.
        assert_eq!(def.tier_after("gone", 40.0), 1);
        assert_eq!(def.bounds(1), (25.0, 60.0));
        assert_eq!(def.bounds(2), (f64::NEG_INFINITY, 30.0));
    }

    #[test]
    fn behavioral_scores_halve_every_half_life_and_saturate() {
        let def = test_model();
        assert_eq!(def.behavioral_score(0, 10.0, 0.0, 0.0), (50.0, 1.0));
        assert_eq!(def.behavioral_score(0, 10.0, 0.0, H), (25.0, 0.5));
        assert_eq!(def.behavioral_score(0, 80.0, 0.0, H).0, 100.0);
        assert_eq!(def.behavioral_score(0, 0.0, 0.0, H).0, 0.0);
        assert_eq!(def.breadth_score(0, 1), 50.0);
        assert_eq!(def.breadth_score(0, 5), 100.0);
    }

    #[test]
    fn the_due_time_is_where_the_decayed_total_crosses_the_line() {
        let def = test_model();
        let mut ms = def.fresh_state(&def.no_profile_fit);
        ms.behaviors[0].sums = vec![2.0, 0.0]; // weighted 20 at 0: saturated, 50 points
        ms.behaviors[0].weighted = weighted_sum(&def.behaviors[0].points, &ms.behaviors[0].sums);
        assert_eq!(def.total_at(&ms, 0.0), 50.0);
        ms.tier = "warm".into();
        // Below 25 when 100 * 20 * 2^(-t/h) / 20 / 2 < 25, i.e. after 1 half-life.
        let due = def.due_time(&ms, 0.0).unwrap();
        assert!((H..H + 0.011).contains(&due), "{due}");
        assert!(def.total_at(&ms, due) < 25.0);
        // Evaluated at the clock with a tier it no longer holds: due now.
        ms.tier = "hot".into();
        assert_eq!(def.due_time(&ms, 0.0), Some(0.0));
        ms.tier = "cold".into();
        assert_eq!(def.due_time(&ms, 0.0), Some(0.0));
        ms.tier = "warm".into();
        ms.behaviors[0].weighted = 0.0;
        ms.tier = "cold".into();
        assert_eq!(def.due_time(&ms, 0.0), None, "the lowest tier never drops");
    }
}
