//! Explanations (docs/scoring.md section 4): per criterion the score, weight and contribution, the
//! top signals by decayed points, and the one-line summary a rep reads, e.g.
//! `hot 78.4: demo_request 2d ago, 3× pricing_view (last 4h ago), 1,200 employees`.
//!
//! Built from a `Snapshot` (what the state held at the explained moment), so a tier change can
//! be explained later exactly as it was. `scoring/explain.py` holds the Python types an
//! explanation is read as; `score_line` writes the replay's output line without them.

use pyo3::prelude::*;

use crate::engine::Snapshot;
use crate::model::{Kind, ModelDef};
use crate::text::{format_age, json_float, json_str, write_rfc3339};

/// At most this many pieces of evidence in a summary line, strongest first.
const MAX_SUMMARY_PARTS: usize = 5;
/// Signals listed per behavioral criterion.
const TOP_SIGNALS: usize = 3;

pub struct SignalOut {
    pub k: usize,
    /// Decayed points: points * sum of 2^(-(t - t_j) / half_life) over earning hits.
    pub decayed: f64,
    /// Earning hits since the signal was last quiet for more than one half-life.
    pub count: u32,
    pub last_hit: f64,
}

pub struct CriterionOut {
    pub score: f64,
    pub contribution: f64,
    pub signals: Vec<SignalOut>,
    /// The summary parts this criterion offers, strongest first (may be empty).
    pub evidence: Vec<String>,
}

pub struct Explained {
    pub t: f64,
    pub tier: String,
    pub total: f64,
    pub fit: Option<f64>,
    pub engagement: Option<f64>,
    pub criteria: Vec<CriterionOut>,
    pub summary: String,
}

/// `demo_request 2d ago` for one hit, `3× pricing_view (last 4h ago)` for more.
pub fn signal_evidence(id: &str, count: u32, last_hit: f64, at: f64) -> String {
    let age = format_age(at - last_hit);
    if count <= 1 {
        format!("{id} {age} ago")
    } else {
        format!("{count}× {id} (last {age} ago)")
    }
}

/// `4 engaged contacts` (`1 engaged contact`).
fn breadth_evidence(contacts: usize) -> String {
    let plural = if contacts == 1 { "" } else { "s" };
    format!("{contacts} engaged contact{plural}")
}

/// `<tier> <total, one decimal>: <parts>`, parts from the criteria by falling contribution.
///
/// Criteria that contribute nothing are left out; at most `MAX_SUMMARY_PARTS` parts. Ties keep
/// model order (the sort is stable), so the line is deterministic.
pub fn summarize(tier: &str, total: f64, criteria: &[(f64, &[String])]) -> String {
    let mut ranked: Vec<&(f64, &[String])> = criteria
        .iter()
        .filter(|(contribution, _)| *contribution > 0.0)
        .collect();
    ranked.sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
    let parts: Vec<&str> = ranked
        .iter()
        .flat_map(|(_, evidence)| evidence.iter().map(String::as_str))
        .take(MAX_SUMMARY_PARTS)
        .collect();
    let head = format!("{tier} {total:.1}");
    if parts.is_empty() {
        head
    } else {
        format!("{head}: {}", parts.join(", "))
    }
}

impl ModelDef {
    /// The explanation of the moment `snap`, with the profile fields it was taken with.
    pub fn explained(
        &self,
        snap: &Snapshot,
        fields: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Explained> {
        let t = snap.t;
        let mut criteria = Vec::with_capacity(self.plan.len());
        for item in &self.plan {
            let (score, signals, evidence) = match item.kind {
                Kind::Behavioral => {
                    let def = &self.behaviors[item.index];
                    let moment = &snap.behaviors[item.index];
                    let (sums, streak, last_hit) = (&moment.sums, &moment.streak, &moment.last_hit);
                    let (score, factor) =
                        self.behavioral_score(item.index, moment.weighted, moment.reference, t);
                    let mut ranked: Vec<(f64, usize)> = (0..sums.len())
                        .filter(|&k| streak[k] != 0)
                        .map(|k| (def.points[k] * sums[k] * factor, k))
                        .collect();
                    // Stable: signals of equal decayed points keep model order.
                    ranked
                        .sort_by(|a, b| b.0.partial_cmp(&a.0).unwrap_or(std::cmp::Ordering::Equal));
                    let signals: Vec<SignalOut> = ranked
                        .into_iter()
                        .take(TOP_SIGNALS)
                        .map(|(decayed, k)| SignalOut {
                            k,
                            decayed,
                            count: streak[k],
                            last_hit: last_hit[k],
                        })
                        .collect();
                    let evidence = signals
                        .iter()
                        .filter(|s| s.decayed > 0.0 && s.count > 0)
                        .map(|s| signal_evidence(&def.signal_ids[s.k], s.count, s.last_hit, t))
                        .collect();
                    (score, signals, evidence)
                }
                Kind::Breadth => {
                    let n = snap.contacts[item.index];
                    (
                        self.breadth_score(item.index, n),
                        Vec::new(),
                        vec![breadth_evidence(n)],
                    )
                }
                Kind::Profile => {
                    let evidence = self.profile[item.index].evidence(fields)?;
                    (snap.fit_scores[item.index], Vec::new(), vec![evidence])
                }
            };
            criteria.push(CriterionOut {
                score,
                contribution: item.share * score,
                signals,
                evidence,
            });
        }
        let total = (snap.fit_points + snap.engagement) * self.norm;
        let parts: Vec<(f64, &[String])> = criteria
            .iter()
            .map(|c| (c.contribution, c.evidence.as_slice()))
            .collect();
        let (fit, engagement) = self.sub_scores(snap.fit_points, snap.engagement);
        Ok(Explained {
            t,
            tier: snap.tier.clone(),
            total,
            fit,
            engagement,
            summary: summarize(&snap.tier, total, &parts),
            criteria,
        })
    }

    /// The replay's output line for one account: what Python's
    /// `orjson.dumps(score_line(score, explanation.to_dict()), option=OPT_APPEND_NEWLINE)`
    /// writes (tests/unit/scoring/test_native_output.py holds them equal).
    pub fn score_line(&self, out: &mut String, account_id: &str, e: &Explained) {
        out.push_str("{\"account_id\":");
        json_str(out, account_id);
        out.push_str(",\"model\":");
        json_str(out, &self.id);
        out.push_str(&format!(",\"model_version\":{},\"total\":", self.version));
        json_float(out, e.total);
        json_optional(out, ",\"fit\":", e.fit);
        json_optional(out, ",\"engagement\":", e.engagement);
        out.push_str(",\"tier\":");
        json_str(out, &e.tier);
        out.push_str(",\"clock\":");
        json_time(out, e.t);
        out.push_str(",\"criteria\":{");
        for (i, (item, c)) in self.plan.iter().zip(&e.criteria).enumerate() {
            if i > 0 {
                out.push(',');
            }
            json_str(out, &item.id);
            out.push(':');
            json_float(out, c.score);
        }
        out.push_str("},\"explanation\":{\"model\":");
        json_str(out, &self.id);
        out.push_str(&format!(",\"model_version\":{},\"at\":", self.version));
        json_time(out, e.t);
        out.push_str(",\"tier\":");
        json_str(out, &e.tier);
        out.push_str(",\"total\":");
        json_float(out, e.total);
        json_optional(out, ",\"fit\":", e.fit);
        json_optional(out, ",\"engagement\":", e.engagement);
        out.push_str(",\"summary\":");
        json_str(out, &e.summary);
        out.push_str(",\"criteria\":[");
        for (i, (item, c)) in self.plan.iter().zip(&e.criteria).enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str("{\"id\":");
            json_str(out, &item.id);
            out.push_str(",\"kind\":");
            json_str(out, &item.kind_name);
            out.push_str(",\"score\":");
            json_float(out, c.score);
            out.push_str(",\"weight\":");
            json_float(out, item.weight);
            out.push_str(",\"contribution\":");
            json_float(out, c.contribution);
            out.push_str(",\"top_signals\":[");
            for (j, s) in c.signals.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                out.push_str("{\"id\":");
                json_str(out, &self.behaviors[item.index].signal_ids[s.k]);
                out.push_str(",\"points\":");
                json_float(out, s.decayed);
                out.push_str(&format!(",\"count\":{},\"last_hit_at\":", s.count));
                json_time(out, s.last_hit);
                out.push('}');
            }
            out.push_str("]}");
        }
        out.push_str("]}}\n");
    }
}

fn json_optional(out: &mut String, key: &str, value: Option<f64>) {
    out.push_str(key);
    match value {
        Some(v) => json_float(out, v),
        None => out.push_str("null"),
    }
}

fn json_time(out: &mut String, epoch: f64) {
    out.push('"');
    if !write_rfc3339(out, epoch) {
        out.pop();
        out.push_str("null");
        return;
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: f64 = 3600.0;
    const DAY: f64 = 86400.0;

    #[test]
    fn signal_evidence_names_one_hit_by_its_age_and_more_by_their_count() {
        assert_eq!(
            signal_evidence("demo_request", 1, -2.0 * DAY, 0.0),
            "demo_request 2d ago"
        );
        assert_eq!(
            signal_evidence("pricing_view", 3, -4.0 * HOUR, 0.0),
            "3× pricing_view (last 4h ago)"
        );
        assert_eq!(breadth_evidence(1), "1 engaged contact");
        assert_eq!(breadth_evidence(4), "4 engaged contacts");
    }

    #[test]
    fn a_summary_lists_evidence_by_falling_contribution_at_most_five_parts() {
        let words = |parts: &[&str]| parts.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        let (a, b, c) = (
            words(&["c1", "c2"]),
            words(&["d1", "d2", "d3", "d4"]),
            words(&["z"]),
        );
        let criteria: Vec<(f64, &[String])> = vec![(5.0, &b), (9.0, &a), (0.0, &c)];
        assert_eq!(
            summarize("warm", 44.95, &criteria),
            "warm 45.0: c1, c2, d1, d2, d3"
        );
        // No contribution: the head alone; the total rounds half to even, as Python.
        assert_eq!(summarize("warm", 0.25, &[(0.0, &c)]), "warm 0.2");
    }

    #[test]
    fn an_explanation_ranks_signals_and_adds_contributions_up_to_the_total() {
        use crate::engine::BehaviorMoment;
        let def = crate::model::test_model();
        let snap = Snapshot {
            model: 0,
            profile: None,
            fit_scores: Vec::new(),
            fit_points: 0.0,
            engagement: 75.0,
            t: HOUR,
            tier: "hot".into(),
            behaviors: vec![BehaviorMoment {
                reference: 0.0,
                weighted: 40.0,
                sums: vec![2.0, 4.0],
                streak: vec![2, 4],
                last_hit: vec![0.0, HOUR],
            }],
            contacts: vec![1],
        };
        let e = def.explained(&snap, None).unwrap();
        assert_eq!(e.total, 37.5);
        let signals: Vec<(usize, f64)> = e.criteria[0]
            .signals
            .iter()
            .map(|s| (s.k, s.decayed))
            .collect();
        assert_eq!(signals, vec![(0, 10.0), (1, 10.0)], "ties keep model order");
        assert_eq!(e.criteria[0].score, 100.0);
        assert_eq!(e.criteria[1].score, 50.0);
        assert_eq!(
            e.summary,
            "hot 37.5: 2× demo_request (last 1h ago), 4× pricing_view (last 0s ago), 1 engaged contact"
        );
    }
}
