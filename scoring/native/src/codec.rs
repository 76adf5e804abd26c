//! The state codec (docs/state.md): one blob per model state, one meta blob per account.
//!
//! One format, `CODEC_FORMAT`: integers as LEB128 varints, times as a count of milliseconds (or
//! microseconds) from an anchor when that gives back the same double, the double itself
//! otherwise, so a round trip is exact; digests of ids in 6 bytes. A blob of any other format
//! is refused, naming the format found and the one expected.

use indexmap::IndexMap;

use crate::state::{BehaviorState, CapCount, Key, ModelState, MAX_STREAK};

pub(crate) const CODEC_FORMAT: u8 = 4;

/// Time tags, the low two bits of a time's varint (the rest is the zigzagged count).
const TIME_MILLIS: u64 = 0;
const TIME_MICROS: u64 = 1;
const TIME_DOUBLE: u64 = 2;
/// Counts beyond 2^53 are not exact as doubles; such times are stored as doubles.
const EXACT_COUNT: u64 = 1 << 53;

struct Reader<'a> {
    blob: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader past the blob's format byte; `what` names the blob in errors.
    fn open(blob: &'a [u8], what: &str) -> Result<Self, String> {
        let mut r = Reader { blob, pos: 0 };
        match r.u8().map_err(|e| format!("corrupt {what}: {e}"))? {
            CODEC_FORMAT => Ok(r),
            format => Err(format!(
                "unknown {what} format {format}: this version reads format {CODEC_FORMAT} only"
            )),
        }
    }
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.blob.len());
        match end {
            Some(end) => {
                let out = &self.blob[self.pos..end];
                self.pos = end;
                Ok(out)
            }
            None => Err(format!("{} bytes needed at offset {}", n, self.pos)),
        }
    }
    fn done(&self) -> bool {
        self.pos == self.blob.len()
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().unwrap()))
    }
    fn f64(&mut self) -> Result<f64, String> {
        Ok(f64::from_le_bytes(self.take(8)?.try_into().unwrap()))
    }
    fn key(&mut self) -> Result<Key, String> {
        Ok(self.take(6)?.try_into().unwrap())
    }
    fn varint(&mut self) -> Result<u64, String> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = (byte & 0x7f) as u64;
            if shift == 63 && bits > 1 {
                break;
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(format!("varint over 64 bits at offset {start}"))
    }
    fn varint_u32(&mut self) -> Result<u32, String> {
        let start = self.pos;
        u32::try_from(self.varint()?).map_err(|_| format!("varint over 32 bits at offset {start}"))
    }
    fn varint_i64(&mut self) -> Result<i64, String> {
        Ok(unzigzag(self.varint()?))
    }
    fn streak(&mut self) -> Result<u32, String> {
        let streak = self.varint_u32()?;
        if streak > MAX_STREAK {
            return Err(format!("streak {streak} over {MAX_STREAK}"));
        }
        Ok(streak)
    }

    fn time(&mut self, anchor: i64) -> Result<f64, String> {
        let start = self.pos;
        let word = self.varint()?;
        let count = |scale: i64| {
            unzigzag(word >> 2)
                .checked_add(anchor.checked_mul(scale)?)
                .filter(|count| count.unsigned_abs() <= EXACT_COUNT)
        };
        let bad = || format!("time out of range at offset {start}");
        match word & 3 {
            TIME_MILLIS => Ok(count(1).ok_or_else(bad)? as f64 / 1e3),
            TIME_MICROS => Ok(count(1000).ok_or_else(bad)? as f64 / 1e6),
            TIME_DOUBLE if word == TIME_DOUBLE => self.f64(),
            TIME_DOUBLE => Err(format!("time tag 2 with a count at offset {start}")),
            _ => Err(format!("unknown time tag at offset {start}")),
        }
    }
}

fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn zigzag(value: i64) -> u64 {
    ((value << 1) ^ (value >> 63)) as u64
}

fn unzigzag(value: u64) -> i64 {
    ((value >> 1) as i64) ^ -((value & 1) as i64)
}

/// `t` as a whole count of `1/per_second` seconds when that count gives `t` back exactly.
fn exact_count(t: f64, per_second: f64) -> Option<i64> {
    let count = (t * per_second).round();
    // NaN and infinities fail this too.
    if count.is_nan() || count.abs() > EXACT_COUNT as f64 {
        return None;
    }
    // Through the integer, as the reader computes it: -0.0 comes back as 0.0 and is refused.
    let count = count as i64;
    ((count as f64 / per_second).to_bits() == t.to_bits()).then_some(count)
}

/// The milliseconds the times after `t` count from: `t`'s whole milliseconds, or 0 for a `t`
/// without any (not finite, or beyond an exact count). Reader and writer both derive it from
/// the same bits of `t`, so it need not be exact: a microsecond `t` anchors as well.
fn anchor_of(t: f64) -> i64 {
    let ms = (t * 1e3).floor();
    if ms.is_nan() || ms.abs() > EXACT_COUNT as f64 {
        return 0;
    }
    ms as i64
}

/// `t` from `anchor` (ms): a millisecond count, a microsecond count (the parser's resolution),
/// or the double itself; the varint's low two bits say which.
fn put_time(out: &mut Vec<u8>, t: f64, anchor: i64) {
    let tagged = |count: i64, from: i64, tag: u64| {
        let delta = count.checked_sub(from)?;
        (delta.unsigned_abs() < 1 << 61).then(|| (zigzag(delta) << 2) | tag)
    };
    let word = exact_count(t, 1e3)
        .and_then(|ms| tagged(ms, anchor, TIME_MILLIS))
        .or_else(|| {
            let us = exact_count(t, 1e6)?;
            tagged(us, anchor.checked_mul(1000)?, TIME_MICROS)
        });
    match word {
        Some(word) => put_varint(out, word),
        None => {
            put_varint(out, TIME_DOUBLE);
            out.extend_from_slice(&t.to_le_bytes());
        }
    }
}

pub(crate) fn encode_model_state(ms: &ModelState) -> Result<Vec<u8>, String> {
    let tier = ms.tier.as_bytes();
    if tier.len() > 255 || ms.behaviors.len() > 255 {
        return Err("tier name over 255 bytes or more than 255 behavioral criteria".into());
    }
    let mut out = Vec::with_capacity(32 + 48 * ms.behaviors.len());
    out.push(CODEC_FORMAT);
    put_varint(&mut out, ms.version as u64);
    put_varint(&mut out, ms.seq as u64);
    out.extend_from_slice(&ms.last_total.to_le_bytes());
    out.push(tier.len() as u8);
    out.extend_from_slice(tier);
    out.push(ms.behaviors.len() as u8);
    for bs in &ms.behaviors {
        let signals = bs.sums.len();
        if signals > 255 {
            return Err("more than 255 signals in one criterion".into());
        }
        if bs.contacts.len() > 255 {
            return Err("more than 255 contacts kept for one criterion".into());
        }
        // Counted, then walked again: no list of indices allocated per criterion and dump.
        let is_hit = |k: &usize| bs.sums[*k] != 0.0 || bs.streak[*k] != 0;
        out.extend_from_slice(&bs.fingerprint.to_le_bytes());
        out.push(signals as u8);
        put_time(&mut out, bs.reference, 0);
        out.push((0..signals).filter(is_hit).count() as u8);
        put_varint(&mut out, bs.caps.len() as u64);
        out.push(bs.contacts.len() as u8);
        // Counters are in (day, signal) order: the last one has the latest day.
        let latest_day = bs.caps.last().map(|c| c.day);
        if let Some(day) = latest_day {
            put_varint(&mut out, zigzag(day));
        }
        let anchor = anchor_of(bs.reference);
        for k in (0..signals).filter(is_hit) {
            out.push(k as u8);
            out.extend_from_slice(&bs.sums[k].to_le_bytes());
            put_time(&mut out, bs.last_hit[k], anchor);
            put_varint(&mut out, bs.streak[k].min(MAX_STREAK) as u64);
        }
        for c in &bs.caps {
            out.push(c.k);
            put_varint(&mut out, latest_day.unwrap_or(c.day).abs_diff(c.day));
            put_varint(&mut out, c.count as u64);
        }
        for (key, at) in &bs.contacts {
            out.extend_from_slice(key);
            put_time(&mut out, *at, anchor);
        }
    }
    Ok(out)
}

pub(crate) fn decode_model_state(model: &str, blob: &[u8]) -> Result<ModelState, String> {
    let mut r = Reader::open(blob, "model state")?;
    let corrupt = |e: String| format!("corrupt model state: {e}");
    let version = r.varint_u32().map_err(corrupt)?;
    let seq = r.varint_u32().map_err(corrupt)?;
    let last_total = r.f64().map_err(corrupt)?;
    let tier_len = r.u8().map_err(corrupt)? as usize;
    let tier = std::str::from_utf8(r.take(tier_len).map_err(corrupt)?)
        .map_err(|e| corrupt(e.to_string()))?
        .to_owned();
    let count = r.u8().map_err(corrupt)?;
    let mut behaviors = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let fingerprint = r.u32().map_err(corrupt)?;
        let signals = r.u8().map_err(corrupt)? as usize;
        let reference = r.time(0).map_err(corrupt)?;
        let anchor = anchor_of(reference);
        let hits = r.u8().map_err(corrupt)?;
        let caps = r.varint().map_err(corrupt)?;
        let contacts = r.u8().map_err(corrupt)?;
        let latest_day = if caps > 0 {
            r.varint_i64().map_err(corrupt)?
        } else {
            0
        };
        let mut bs = BehaviorState::new(fingerprint, signals);
        bs.reference = reference;
        let index = |k: u8| -> Result<usize, String> {
            let k = k as usize;
            if k < signals {
                Ok(k)
            } else {
                Err(corrupt(format!("signal index {k} out of range")))
            }
        };
        for _ in 0..hits {
            let k = index(r.u8().map_err(corrupt)?)?;
            bs.sums[k] = r.f64().map_err(corrupt)?;
            bs.last_hit[k] = r.time(anchor).map_err(corrupt)?;
            bs.streak[k] = r.streak().map_err(corrupt)?;
        }
        for _ in 0..caps {
            let k = index(r.u8().map_err(corrupt)?)? as u8;
            let age = r.varint().map_err(corrupt)?;
            let day = i64::try_from(age)
                .ok()
                .and_then(|age| latest_day.checked_sub(age))
                .ok_or_else(|| corrupt(format!("cap day {age} days before {latest_day}")))?;
            let count = r.varint_u32().map_err(corrupt)?;
            if count == 0 {
                return Err(corrupt("a cap counter of 0".into()));
            }
            // One order, so that a blob is read back to the bytes it was written from.
            if bs.caps.last().is_some_and(|c| (c.day, c.k) >= (day, k)) {
                return Err(corrupt("cap counters out of (day, signal) order".into()));
            }
            bs.caps.push(CapCount { day, k, count });
        }
        if bs.caps.last().is_some_and(|c| c.day != latest_day) {
            return Err(corrupt("no cap counter on the latest cap day".into()));
        }
        for _ in 0..contacts {
            let key = r.key().map_err(corrupt)?;
            let at = r.time(anchor).map_err(corrupt)?;
            bs.contacts.insert(key, at);
        }
        behaviors.push(bs);
    }
    if !r.done() {
        return Err("corrupt model state: trailing bytes".into());
    }
    Ok(ModelState {
        model: model.to_owned(),
        version,
        tier,
        seq,
        last_total,
        behaviors,
        fit_scores: Vec::new(),
        fit_points: 0.0,
    })
}

pub(crate) fn encode_meta(clock: f64, dedupe: &IndexMap<Key, f64>) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + 13 * dedupe.len());
    out.push(CODEC_FORMAT);
    put_time(&mut out, clock, 0);
    let anchor = anchor_of(clock);
    for (key, at) in dedupe {
        out.extend_from_slice(key);
        put_time(&mut out, *at, anchor);
    }
    out
}

pub(crate) fn decode_meta(blob: &[u8]) -> Result<(f64, IndexMap<Key, f64>), String> {
    let mut r = Reader::open(blob, "account meta")?;
    let corrupt = |e: String| format!("corrupt account meta: {e}");
    let clock = r.time(0).map_err(corrupt)?;
    let anchor = anchor_of(clock);
    // An estimate: a key and a time of ~4 bytes.
    let mut dedupe = IndexMap::with_capacity((blob.len() - r.pos) / 10);
    while !r.done() {
        let key = r.key().map_err(corrupt)?;
        let at = r.time(anchor).map_err(corrupt)?;
        dedupe.insert(key, at);
    }
    Ok((clock, dedupe))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_model;
    use crate::state::hash_id;

    fn sample_state() -> ModelState {
        let def = test_model();
        let mut ms = def.fresh_state(&def.no_profile_fit);
        let (t0, clock) = (1_795_000_000.123, 1_795_003_600.5);
        ms.tier = "warm".into();
        ms.seq = 3;
        ms.last_total = 41.25;
        let bs = &mut ms.behaviors[0];
        bs.reference = t0;
        bs.hit(0, t0, 3600.0, None);
        bs.hit(1, clock, 3600.0, None);
        bs.last_hit[0] = t0 + 1e-6; // a microsecond time
        bs.caps = vec![
            CapCount {
                day: 20770,
                k: 1,
                count: 1,
            },
            CapCount {
                day: 20775,
                k: 0,
                count: 3,
            },
            CapCount {
                day: 20775,
                k: 1,
                count: 2,
            },
        ];
        bs.contacts.insert(hash_id("c1"), clock);
        bs.contacts.insert(hash_id("c2"), f64::NEG_INFINITY); // no count: stored as a double
        ms
    }

    #[test]
    fn a_model_state_round_trips_exactly() {
        let ms = sample_state();
        let blob = encode_model_state(&ms).unwrap();
        assert_eq!(blob[0], CODEC_FORMAT);
        let mut back = decode_model_state("m", &blob).unwrap();
        // `weighted` and the fit are derived, not stored.
        back.behaviors[0].weighted = ms.behaviors[0].weighted;
        assert_eq!(back, ms);
        assert_eq!(encode_model_state(&back).unwrap(), blob);
    }

    #[test]
    fn account_meta_round_trips_exactly() {
        let mut dedupe = IndexMap::new();
        dedupe.insert(hash_id("e1"), 1_795_000_000.001);
        dedupe.insert(hash_id("e2"), 0.1 + 0.2);
        for clock in [f64::NEG_INFINITY, 1_795_003_600.5, -0.0] {
            let blob = encode_meta(clock, &dedupe);
            let (read_clock, read) = decode_meta(&blob).unwrap();
            assert_eq!(read_clock.to_bits(), clock.to_bits());
            assert_eq!(read, dedupe);
        }
    }

    #[test]
    fn another_format_is_refused_naming_both_formats() {
        let mut blob = encode_model_state(&sample_state()).unwrap();
        for format in [1, 2, 3, 5] {
            blob[0] = format;
            let err = decode_model_state("m", &blob).unwrap_err();
            assert_eq!(
                err,
                format!("unknown model state format {format}: this version reads format 4 only")
            );
        }
        let err = decode_meta(&[3, 0]).unwrap_err();
        assert!(err.starts_with("unknown account meta format 3"), "{err}");
    }

    #[test]
    fn cap_counters_out_of_order_zero_or_off_their_latest_day_are_corrupt() {
        let ms = sample_state();
        let blob = encode_model_state(&ms).unwrap();
        // The counters: (k 1, 5 days before the latest, 1), (k 0, 0, 3), (k 1, 0, 2).
        let counters = [1, 5, 1, 0, 0, 3, 1, 0, 2];
        let at = blob.windows(9).position(|w| w == counters).unwrap();
        let corrupt = |change: &[(usize, u8)]| {
            let mut bad = blob.clone();
            for (offset, byte) in change {
                bad[at + offset] = *byte;
            }
            decode_model_state("m", &bad).unwrap_err()
        };
        assert!(corrupt(&[(3, 1)]).ends_with("out of (day, signal) order"));
        assert!(corrupt(&[(5, 0)]).ends_with("a cap counter of 0"));
        let shifted = corrupt(&[(1, 6), (4, 1), (7, 1)]);
        assert!(shifted.ends_with("no cap counter on the latest cap day"));
    }

    #[test]
    fn truncated_or_trailing_bytes_are_corrupt() {
        let blob = encode_model_state(&sample_state()).unwrap();
        let err = decode_model_state("m", &blob[..blob.len() - 1]).unwrap_err();
        assert!(err.starts_with("corrupt model state"), "{err}");
        let mut long = blob.clone();
        long.push(0);
        assert_eq!(
            decode_model_state("m", &long).unwrap_err(),
            "corrupt model state: trailing bytes"
        );
        assert!(decode_meta(&[])
            .unwrap_err()
            .starts_with("corrupt account meta"));
    }
}
