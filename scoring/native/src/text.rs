//! Text the scores are read in: ages, numbers and RFC 3339 times the way explanations write
//! them, and the JSON the replay writes. Each function states the Python behaviour it keeps,
//! because the same values also reach people through Python (`orjson`, `datetime`).

use std::fmt::Write;

/// CPython's `float // float` (floatobject.c), which can differ from `floor(a / b)` when the
/// quotient rounds up to an integer.
pub fn py_floordiv(vx: f64, wx: f64) -> f64 {
    let m = vx % wx;
    let mut div = (vx - m) / wx;
    if m != 0.0 && (wx < 0.0) != (m < 0.0) {
        div -= 1.0;
    }
    if div != 0.0 {
        let mut floordiv = div.floor();
        if div - floordiv > 0.5 {
            floordiv += 1.0;
        }
        floordiv
    } else {
        (0.0f64).copysign(vx / wx)
    }
}

/// `45s`, `12m`, `4h`, `2d`: the largest whole unit (rounded down; negative counts as 0).
pub fn format_age(seconds: f64) -> String {
    let seconds = if seconds > 0.0 { seconds } else { 0.0 };
    for (unit, size) in [("d", 86_400.0), ("h", 3_600.0), ("m", 60.0)] {
        if seconds >= size {
            return format!("{}{unit}", py_floordiv(seconds, size) as i64);
        }
    }
    format!("{}s", seconds as i64)
}

/// Thousands separators in a string of digits with an optional leading minus.
fn grouped(digits: &str) -> String {
    let (sign, digits) = match digits.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", digits),
    };
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Python's `f"{n:,}"` of an integer.
pub fn format_int(n: i128) -> String {
    grouped(&n.to_string())
}

/// (shortest round-trip digits with a `.` after the first when there are more, exponent),
/// e.g. 1234.5 -> ("1.2345", 3).
fn shortest(v: f64) -> (String, i32) {
    let text = format!("{:e}", v.abs());
    let (mantissa, exponent) = text.split_once('e').expect("{:e} has an exponent");
    (
        mantissa.to_owned(),
        exponent.parse().expect("{:e} exponent is an integer"),
    )
}

/// `mantissa` x 10^`exponent` in fixed notation (at least one digit each side of the point).
fn fixed(mantissa: &str, exponent: i32) -> (String, String) {
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let point = exponent + 1; // digits before the decimal point
    if point <= 0 {
        let zeros = "0".repeat((-point) as usize);
        ("0".to_owned(), format!("{zeros}{digits}"))
    } else if point as usize >= digits.len() {
        let zeros = "0".repeat(point as usize - digits.len());
        (format!("{digits}{zeros}"), "0".to_owned())
    } else {
        let (int, frac) = digits.split_at(point as usize);
        (int.to_owned(), frac.to_owned())
    }
}

/// Python's `format_number`: `1,200` for a whole number (an int, or a float with no fraction),
/// else `f"{value:,}"` (repr's digits, scientific below 1e-4).
pub fn format_float_number(value: f64) -> String {
    if !value.is_finite() {
        return if value.is_nan() {
            "nan".to_owned()
        } else if value > 0.0 {
            "inf".to_owned()
        } else {
            "-inf".to_owned()
        };
    }
    if value.fract() == 0.0 {
        if value == 0.0 {
            return "0".to_owned();
        }
        return grouped(&format!("{value:.0}"));
    }
    let sign = if value < 0.0 { "-" } else { "" };
    let (mantissa, exponent) = shortest(value);
    if exponent < -4 {
        let magnitude = exponent.unsigned_abs();
        return format!("{sign}{mantissa}e-{magnitude:02}");
    }
    let (int, frac) = fixed(&mantissa, exponent);
    format!("{sign}{}.{frac}", grouped(&int))
}

/// A float as orjson writes it: shortest round-trip digits, fixed notation from 1e-5 up to
/// 1e16 (`100.0`, `0.00003`), else scientific (`1e-6`, `1.5e+16`); NaN and infinities as null.
/// ryu writes the same digits and notation, except that orjson signs positive exponents.
pub fn json_float(out: &mut String, v: f64) {
    if !v.is_finite() {
        out.push_str("null");
        return;
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(v);
    match text.find('e') {
        Some(e) if !text[e + 1..].starts_with('-') => {
            out.push_str(&text[..=e]);
            out.push('+');
            out.push_str(&text[e + 1..]);
        }
        _ => out.push_str(text),
    }
}

/// A string as orjson writes it: UTF-8 as is; `"`, `\` and control characters escaped.
pub fn json_str(out: &mut String, text: &str) {
    out.push('"');
    if !text.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(text);
        out.push('"');
        return;
    }
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// CPython's `_PyTime_RoundHalfEven`.
fn round_half_even(x: f64) -> f64 {
    let rounded = x.round();
    if (x - rounded).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        rounded
    }
}

/// (year, month, day) of a day number (days since 1970-01-01), proleptic Gregorian.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `2026-11-23T10:00:00Z`, with `.ffffff` when the microseconds are not zero: Python's
/// `datetime.fromtimestamp(epoch, UTC).isoformat()` (microseconds rounded half to even) with
/// `+00:00` written `Z`. None outside years 1 to 9999 or for a non-finite time.
pub fn format_rfc3339(epoch: f64) -> Option<String> {
    let mut out = String::with_capacity(27);
    write_rfc3339(&mut out, epoch).then_some(out)
}

/// `format_rfc3339` appended to `out`; false (nothing written) when it is None.
pub fn write_rfc3339(out: &mut String, epoch: f64) -> bool {
    if !epoch.is_finite() {
        return false;
    }
    let mut seconds = epoch.trunc();
    let mut micros = round_half_even((epoch - seconds) * 1e6);
    if micros >= 1e6 {
        micros -= 1e6;
        seconds += 1.0;
    } else if micros < 0.0 {
        micros += 1e6;
        seconds -= 1.0;
    }
    if seconds.abs() > 1e12 {
        return false;
    }
    let seconds = seconds as i64;
    let (year, month, day) = civil_from_days(seconds.div_euclid(86_400));
    if !(1..=9999).contains(&year) {
        return false;
    }
    let in_day = seconds.rem_euclid(86_400);
    let (hour, minute, second) = (in_day / 3600, in_day % 3600 / 60, in_day % 60);
    let micros = micros as u32;
    // Digit by digit: a replay writes a dozen times per output line, and `write!` costs more.
    push_digits(out, year as u32, 4);
    out.push('-');
    push_digits(out, month, 2);
    out.push('-');
    push_digits(out, day, 2);
    out.push('T');
    push_digits(out, hour as u32, 2);
    out.push(':');
    push_digits(out, minute as u32, 2);
    out.push(':');
    push_digits(out, second as u32, 2);
    if micros != 0 {
        out.push('.');
        push_digits(out, micros, 6);
    }
    out.push('Z');
    true
}

/// `n` in exactly `width` decimal digits (zero-padded; `n` < 10^width).
fn push_digits(out: &mut String, n: u32, width: u32) {
    for place in (0..width).rev() {
        out.push(char::from(b'0' + (n / 10u32.pow(place) % 10) as u8));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_take_the_largest_whole_unit() {
        assert_eq!(format_age(-5.0), "0s");
        assert_eq!(format_age(59.999), "59s");
        assert_eq!(format_age(3600.0), "1h");
        assert_eq!(format_age(2.5 * 86400.0), "2d");
    }

    #[test]
    fn numbers_are_grouped_by_thousands() {
        assert_eq!(format_int(-1_234_567), "-1,234,567");
        assert_eq!(format_float_number(1200.0), "1,200");
        assert_eq!(format_float_number(1234.5), "1,234.5");
    }

    #[test]
    fn times_are_rfc3339_in_utc_with_microseconds_when_not_zero() {
        assert_eq!(
            format_rfc3339(1_795_000_000.0).as_deref(),
            Some("2026-11-18T11:06:40Z")
        );
        assert_eq!(
            format_rfc3339(1_795_000_000.123456).as_deref(),
            Some("2026-11-18T11:06:40.123456Z")
        );
        assert_eq!(
            format_rfc3339(-0.5).as_deref(),
            Some("1969-12-31T23:59:59.500000Z")
        );
        assert_eq!(format_rfc3339(f64::NEG_INFINITY), None);
        assert_eq!(format_rfc3339(253_402_300_800.0), None, "year 10000");
    }

    #[test]
    fn floats_are_written_as_orjson_writes_them() {
        let written = |v: f64| {
            let mut out = String::new();
            json_float(&mut out, v);
            out
        };
        assert_eq!(written(1.0), "1.0");
        assert_eq!(written(0.1 + 0.2), "0.30000000000000004");
        assert_eq!(written(f64::NAN), "null");
    }
}
