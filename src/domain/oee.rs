//! OEE as ISO 22400 defines it (API.md §Shop floor), as pure arithmetic over time spans in
//! unix seconds: the buckets of a window in the plant's time zone, the time shifts cover, and
//! each bucket's figures from the stops and counts of the leaf assets below the one asked for.
//!
//! - planned production time = the time in the bucket covered by a shift (all of it when no
//!   shift is defined) minus planned downtime in that time;
//! - run time = planned time − unplanned downtime (in covered time too);
//! - availability = run ÷ planned; performance = Σ ideal cycle × units ÷ run;
//!   quality = good ÷ total; oee = the product; a zero denominator gives `None`;
//! - a stop or count straddling a bucket edge goes to each bucket in proportion to time.

use jiff::tz::TimeZone;

use super::shopfloor::{Shift, Weekday, parse_clock};

/// How a window is cut into buckets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Group {
    /// One bucket per shift occurrence (per plant day when no shift is defined).
    Shift,
    /// One bucket per day in the plant's time zone (23 or 25 hours across a DST change).
    Day,
    /// One bucket per hour.
    Hour,
    /// The whole window.
    None,
}

impl Group {
    /// Parses `shift`, `day`, `hour` or `none`.
    pub fn parse(raw: &str) -> Option<Group> {
        Some(match raw {
            "shift" => Group::Shift,
            "day" => Group::Day,
            "hour" => Group::Hour,
            "none" => Group::None,
            _ => return None,
        })
    }
}

/// A half-open span `[start, end)` in unix seconds.
pub type Span = (i64, i64);

/// A downtime event of one leaf, its end resolved (an open event runs until now).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stop {
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds.
    pub end: i64,
    /// Whether its reason is planned (no reason: unplanned).
    pub planned: bool,
}

/// A production count of one leaf.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Count {
    /// Start, unix seconds.
    pub start: i64,
    /// End, unix seconds (after `start`).
    pub end: i64,
    /// Units made.
    pub total: u64,
    /// Good units.
    pub good: u64,
}

/// What one leaf asset contributes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Leaf {
    /// Seconds per unit at rated speed.
    pub ideal_cycle_secs: Option<f64>,
    /// Its stops overlapping the window.
    pub stops: Vec<Stop>,
    /// Its counts overlapping the window.
    pub counts: Vec<Count>,
}

/// The figures of one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Figures {
    /// Bucket start.
    pub from: i64,
    /// Bucket end.
    pub to: i64,
    /// Planned production time, seconds (summed over leaves).
    pub planned_secs: i64,
    /// Unplanned downtime within planned time, seconds.
    pub downtime_secs: i64,
    /// Run time, seconds.
    pub run_secs: i64,
    /// Units, split in proportion to time.
    pub total_count: f64,
    /// Good units, likewise.
    pub good_count: f64,
    /// Run ÷ planned.
    pub availability: Option<f64>,
    /// Ideal time of the units ÷ run.
    pub performance: Option<f64>,
    /// Good ÷ total.
    pub quality: Option<f64>,
    /// The product of the three.
    pub oee: Option<f64>,
}

fn ts(secs: i64) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_second(secs).ok()
}

fn secs_of(z: &jiff::Zoned) -> i64 {
    z.timestamp().as_second()
}

/// The start of the plant day holding `secs`, and the following day starts up to `to`.
fn day_starts(tz: &TimeZone, from: i64, to: i64) -> Vec<i64> {
    let mut out = Vec::new();
    let Some(t) = ts(from) else { return out };
    let mut date = t.to_zoned(tz.clone()).date();
    loop {
        let Ok(start) = date.to_zoned(tz.clone()) else {
            break;
        };
        let s = secs_of(&start);
        if s >= to {
            break;
        }
        out.push(s);
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    out
}

/// The local hour boundary at or before `secs`.
fn hour_floor(tz: &TimeZone, secs: i64) -> i64 {
    let offset = ts(secs).map_or(0, |t| i64::from(tz.to_offset(t).seconds()));
    (secs + offset).div_euclid(3600) * 3600 - offset
}

/// Every occurrence of `shifts` that may touch `[from, to)`, as sorted spans; where two
/// occurrences overlap, the later one starts where the earlier one ends, so the time belongs to
/// one shift only.
pub fn shift_spans(tz: &TimeZone, shifts: &[Shift], from: i64, to: i64) -> Vec<Span> {
    let mut spans = Vec::new();
    let Some(t) = ts(from) else { return spans };
    let first = t.to_zoned(tz.clone()).date();
    // A night shift that began the day before still covers the window's first hours.
    let Ok(mut date) = first.yesterday() else {
        return spans;
    };
    loop {
        let Ok(day_start) = date.to_zoned(tz.clone()) else {
            break;
        };
        if secs_of(&day_start) >= to {
            break;
        }
        let weekday = Weekday::from_monday(date.weekday().to_monday_zero_offset());
        for shift in shifts.iter().filter(|s| s.days.contains(&weekday)) {
            let (Some(starts), Some(ends)) = (parse_clock(&shift.starts), parse_clock(&shift.ends))
            else {
                continue;
            };
            let end_date = if ends <= starts {
                date.tomorrow().ok()
            } else {
                Some(date)
            };
            let at = |d: jiff::civil::Date, minutes: u16| {
                let (h, m) = (minutes / 60, minutes % 60);
                let (h, m) = (i8::try_from(h).ok()?, i8::try_from(m).ok()?);
                d.at(h, m, 0, 0)
                    .to_zoned(tz.clone())
                    .ok()
                    .map(|z| secs_of(&z))
            };
            if let (Some(s), Some(e)) = (at(date, starts), end_date.and_then(|d| at(d, ends)))
                && e > s
                && e > from
                && s < to
            {
                spans.push((s, e));
            }
        }
        match date.tomorrow() {
            Ok(d) => date = d,
            Err(_) => break,
        }
    }
    spans.sort_unstable();
    let mut out: Vec<Span> = Vec::with_capacity(spans.len());
    for (s, e) in spans {
        let s = out.last().map_or(s, |&(_, prev)| s.max(prev));
        if e > s {
            out.push((s, e));
        }
    }
    out
}

/// Merges sorted, disjoint-after-clipping spans that touch into one, clipped to the window.
fn coverage_of(spans: &[Span], from: i64, to: i64) -> Vec<Span> {
    let mut out: Vec<Span> = Vec::new();
    for &(s, e) in spans {
        let (s, e) = (s.max(from), e.min(to));
        if e <= s {
            continue;
        }
        match out.last_mut() {
            Some(last) if last.1 >= s => last.1 = last.1.max(e),
            _ => out.push((s, e)),
        }
    }
    out
}

/// The buckets of `[from, to)` (sorted, disjoint, clipped to the window) and the time shifts
/// cover in it (sorted, disjoint; the whole window when no shift is defined).
pub fn plan(
    tz: &TimeZone,
    shifts: &[Shift],
    group: Group,
    from: i64,
    to: i64,
) -> (Vec<Span>, Vec<Span>) {
    let spans = if shifts.is_empty() {
        Vec::new()
    } else {
        shift_spans(tz, shifts, from, to)
    };
    let coverage = if shifts.is_empty() {
        vec![(from, to)]
    } else {
        coverage_of(&spans, from, to)
    };
    let edges = |starts: Vec<i64>| {
        let mut out = Vec::with_capacity(starts.len());
        for (i, &s) in starts.iter().enumerate() {
            let e = starts.get(i + 1).copied().unwrap_or(to);
            let (s, e) = (s.max(from), e.min(to));
            if e > s {
                out.push((s, e));
            }
        }
        out
    };
    let buckets = match group {
        Group::None => vec![(from, to)],
        Group::Day => edges(day_starts(tz, from, to)),
        Group::Shift if shifts.is_empty() => edges(day_starts(tz, from, to)),
        Group::Shift => spans
            .iter()
            .map(|&(s, e)| (s.max(from), e.min(to)))
            .filter(|(s, e)| e > s)
            .collect(),
        Group::Hour => {
            let mut starts = Vec::new();
            let mut b = hour_floor(tz, from);
            while b < to {
                starts.push(b);
                let next = hour_floor(tz, b + 3600);
                b = if next > b { next } else { b + 3600 };
            }
            edges(starts)
        }
    };
    (buckets, coverage)
}

/// How much of `[a, b)` the sorted, disjoint `coverage` covers.
fn covered(coverage: &[Span], a: i64, b: i64) -> i64 {
    let first = coverage.partition_point(|&(_, e)| e <= a);
    let mut n = 0;
    for &(s, e) in &coverage[first..] {
        if s >= b {
            break;
        }
        n += e.min(b) - s.max(a);
    }
    n.max(0)
}

/// The buckets a span overlaps: indexes into sorted, disjoint `buckets`.
fn overlapping(buckets: &[Span], a: i64, b: i64) -> impl Iterator<Item = usize> + '_ {
    let first = buckets.partition_point(|&(_, e)| e <= a);
    (first..buckets.len()).take_while(move |&i| buckets[i].0 < b)
}

#[derive(Clone, Copy, Default)]
struct Sums {
    planned: i64,
    downtime: i64,
    total: f64,
    good: f64,
    ideal: f64,
    ideal_missing: bool,
}

/// The figures of every bucket, summing `leaves`. `buckets` and `coverage` come from `plan`.
pub fn compute(buckets: &[Span], coverage: &[Span], leaves: &[Leaf]) -> Vec<Figures> {
    let mut sums = vec![Sums::default(); buckets.len()];
    for leaf in leaves {
        for (i, &(s, e)) in buckets.iter().enumerate() {
            sums[i].planned += covered(coverage, s, e);
        }
        for stop in &leaf.stops {
            for i in overlapping(buckets, stop.start, stop.end) {
                let (s, e) = buckets[i];
                let secs = covered(coverage, stop.start.max(s), stop.end.min(e));
                if stop.planned {
                    sums[i].planned -= secs;
                } else {
                    sums[i].downtime += secs;
                }
            }
        }
        for count in &leaf.counts {
            let length = (count.end - count.start) as f64;
            if length <= 0.0 {
                continue;
            }
            for i in overlapping(buckets, count.start, count.end) {
                let (s, e) = buckets[i];
                let share = (count.end.min(e) - count.start.max(s)) as f64 / length;
                let total = count.total as f64 * share;
                sums[i].total += total;
                sums[i].good += count.good as f64 * share;
                match leaf.ideal_cycle_secs {
                    Some(c) => sums[i].ideal += c * total,
                    None => sums[i].ideal_missing |= count.total > 0,
                }
            }
        }
    }
    let ratio = |n: f64, d: f64| (d != 0.0).then(|| n / d);
    buckets
        .iter()
        .zip(sums)
        .map(|(&(from, to), s)| {
            let planned = s.planned.max(0);
            let downtime = s.downtime.min(planned);
            let run = planned - downtime;
            let availability = ratio(run as f64, planned as f64);
            let performance = if s.ideal_missing {
                None
            } else {
                ratio(s.ideal, run as f64)
            };
            let quality = ratio(s.good, s.total);
            let oee = match (availability, performance, quality) {
                (Some(a), Some(p), Some(q)) => Some(a * p * q),
                _ => None,
            };
            Figures {
                from,
                to,
                planned_secs: planned,
                downtime_secs: downtime,
                run_secs: run,
                total_count: s.total,
                good_count: s.good,
                availability,
                performance,
                quality,
                oee,
            }
        })
        .collect()
}
