//! Kubernetes' timestamps (RFC 3339), the clock the tests can pin, and the duration flags
//! (`10m`, `90s`).

use anyhow::Result;

/// Seconds since the epoch: `XTASK_NOW` (RFC 3339; the tests pin the clock to their
/// fixtures' timestamps) or the system clock.
pub fn now(env: &crate::ctx::Env) -> i64 {
    if let Some(t) = env.get("XTASK_NOW").and_then(parse_time) {
        return t;
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// RFC 3339 as Kubernetes writes it (`2026-05-01T10:00:03Z`) → seconds since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|n| n.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let time = time.trim_end_matches('Z');
    let time = time.split(['+', '.']).next()?;
    let mut t = time.split(':').map(|n| n.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    Some(days_from_civil(y, m, day) * 86_400 + h * 3600 + mi * 60 + sec)
}

/// Howard Hinnant's days-from-civil: proleptic Gregorian date → days since 1970-01-01.
pub fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Howard Hinnant's civil-from-days, the inverse of the above: the UTC date of a Unix time.
fn civil_from_secs(secs: i64) -> (i64, i64, i64) {
    let z = secs.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Seconds since the epoch → `YYYYMMDD-HHMMSS` (UTC), for directory names.
pub fn stamp(secs: i64) -> String {
    let (y, m, d) = civil_from_secs(secs);
    let rem = secs.rem_euclid(86_400);
    format!(
        "{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// `YYYY-MM-DD` (UTC) of a Unix time.
pub fn utc_date(secs: i64) -> String {
    let (y, m, d) = civil_from_secs(secs);
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `5m`, `90s`, `2m30s`, `1h`, or plain seconds.
pub fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    let mut total = 0u64;
    let mut num = String::new();
    for ch in s.trim().chars() {
        if ch.is_ascii_digit() {
            num.push(ch);
            continue;
        }
        let n: u64 = num
            .parse()
            .map_err(|_| format!("{s:?}: expected e.g. 5m, 90s, 1h"))?;
        num.clear();
        total += n * match ch {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            _ => return Err(format!("{s:?}: unknown unit `{ch}` (use s, m or h)")),
        };
    }
    if !num.is_empty() {
        total += num.parse::<u64>().map_err(|e| e.to_string())?;
    }
    if total == 0 {
        return Err(format!("{s:?}: the duration must be positive"));
    }
    Ok(std::time::Duration::from_secs(total))
}
