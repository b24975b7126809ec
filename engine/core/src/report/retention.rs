//! The retention report: the cohort triangle.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow::array::{Date32Array, Float64Array, Int64Array, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use datafusion::common::JoinType;
use datafusion::execution::memory_pool::MemoryReservation;
use datafusion::functions_aggregate::expr_fn::{bit_or, count, min, sum};
use datafusion::logical_expr::{bitwise_and, bitwise_shift_left, bitwise_shift_right, cast, when};
use datafusion::prelude::{DataFrame, Expr, ident, lit};

use super::CohortPeriod;
use super::frames::values_frame;
use super::scope::Scope;
use crate::scan::{RowsPerId, Scan};
use crate::time;
use crate::{Error, Result};

/// Index of the period holding `date`: weeks since the Monday 1970-01-05
/// (so a Monday's epoch day + 3 is a multiple of 7), or `year * 12 + month
/// - 1`.
fn period_index(period: CohortPeriod, date: NaiveDate) -> i64 {
    match period {
        CohortPeriod::Week => {
            let days = i64::from(time::date32(date));
            (days - i64::from(date.weekday().num_days_from_monday()) + 3).div_euclid(7)
        }
        CohortPeriod::Month => i64::from(date.year()) * 12 + i64::from(date.month0()),
    }
}

/// First day of period `idx` (inverse of [`period_index`]).
fn period_start(period: CohortPeriod, idx: i64) -> Result<NaiveDate> {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch");
    let out = match period {
        CohortPeriod::Week => idx
            .checked_mul(7)
            .and_then(|d| TimeDelta::try_days(d - 3))
            .and_then(|d| epoch.checked_add_signed(d)),
        CohortPeriod::Month => i32::try_from(idx.div_euclid(12))
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, idx.rem_euclid(12) as u32 + 1, 1)),
    };
    out.ok_or_else(|| Error::Internal(format!("cohort period {idx} out of range")))
}

/// The period index of an event time, as a plan expression: integer
/// arithmetic on the UTC day number, exact for any sign. (`date_trunc` on
/// a UTC timestamp gives the same periods but converts every value through
/// the time-zone machinery, a tenth of the retention report's time.)
fn period_index_expr(period: CohortPeriod, t: Expr) -> Expr {
    const MICROS_PER_DAY: i64 = 86_400_000_000;
    let days = floor_div(cast(t, DataType::Int64), MICROS_PER_DAY);
    match period {
        // Day 0 (1970-01-01) is a Thursday: Monday-based weeks start on
        // the days d with d + 3 divisible by 7.
        CohortPeriod::Week => floor_div(days + lit(3i64), 7),
        // Month of a day number, from H. Hinnant's `civil_from_days`: days
        // since 0000-03-01 split into 400-year eras, the year of the era
        // (March-based), the day of that year and its month (0 = March).
        // With March-based years, `year * 12 + month - 1` of the civil date
        // is `(era * 400 + year_of_era) * 12 + march_month + 2`.
        CohortPeriod::Month => {
            let z = days + lit(719_468i64);
            let era = floor_div(z.clone(), 146_097);
            let doe = z - era.clone() * lit(146_097i64);
            let yoe = (doe.clone() - doe.clone() / lit(1460i64) + doe.clone() / lit(36_524i64)
                - doe.clone() / lit(146_096i64))
                / lit(365i64);
            let doy = doe
                - (lit(365i64) * yoe.clone() + yoe.clone() / lit(4i64) - yoe.clone() / lit(100i64));
            let march_month = (lit(5i64) * doy + lit(2i64)) / lit(153i64);
            (era * lit(400i64) + yoe) * lit(12i64) + march_month + lit(2i64)
        }
    }
}

/// `floor(a / b)` for `b > 0` (SQL integer division truncates toward 0).
fn floor_div(a: Expr, b: i64) -> Expr {
    let rem = ((a.clone() % lit(b)) + lit(b)) % lit(b);
    (a - rem) / lit(b)
}

/// The last period shown: the one holding the last instant that exists
/// (as_of itself is excluded, so a period starting exactly at as_of is
/// empty by definition and not shown).
fn last_period(period: CohortPeriod, as_of: DateTime<Utc>) -> Result<i64> {
    let last = time::last_instant_before(as_of)?;
    Ok(period_index(period, last.date_naive()))
}

/// Most periods the one-pass plan ([`cells_by_masks`]) tracks: 8 masks of
/// 64 (42 years of months, nearly 10 of weeks). Longer histories take
/// [`cells_by_pairs`].
const MAX_MASK_PERIODS: i64 = 8 * 64;

pub(super) async fn tables(
    cx: &Scan<'_>,
    period: CohortPeriod,
    scope: &Scope,
) -> Result<Vec<(&'static str, DataFrame)>> {
    let last = last_period(period, cx.as_of)?;
    // No event is older than the first event partition's month.
    let first = cx
        .dataset
        .first_event_month()
        .map_or(last, |d| period_index(period, d).min(last));
    let cells = if last - first < MAX_MASK_PERIODS {
        cells_by_masks(cx, period, scope, first, last).await?
    } else {
        None
    };
    let cells = match cells {
        Some(cells) => cells,
        None => cells_by_pairs(cx, period, scope).await?,
    };

    // The triangle: every cohort × every period from its start to the last.
    let _memory = reserve_triangle(cx, &cells, last)?;
    let (mut starts, mut ks, mut sizes, mut actives, mut fractions) =
        (vec![], vec![], vec![], vec![], vec![]);
    for (&c, &n) in &cells.sizes {
        let start = time::date32(period_start(period, c)?);
        for k in 0..=(last - c).max(0) {
            let active = cells.active.get(&(c, k)).copied().unwrap_or(0);
            starts.push(start);
            ks.push(k);
            sizes.push(n);
            actives.push(active);
            fractions.push(active as f64 / n as f64);
        }
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("cohort_start", DataType::Date32, false),
        Field::new("period_index", DataType::Int64, false),
        Field::new("cohort_size", DataType::Int64, false),
        Field::new("active", DataType::Int64, false),
        Field::new("fraction", DataType::Float64, true),
    ]));
    let triangle = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Date32Array::from(starts)),
            Arc::new(Int64Array::from(ks)),
            Arc::new(Int64Array::from(sizes)),
            Arc::new(Int64Array::from(actives)),
            Arc::new(Float64Array::from(fractions)),
        ],
    )?;
    Ok(vec![("cohorts", values_frame(cx.ctx, &triangle)?)])
}

/// Most cells a retention triangle may have (about 36 MB of columns): ten
/// years of weekly cohorts have about 140,000, a century of monthly ones
/// about 720,000. An as_of far past the data would ask for millions.
const MAX_TRIANGLE_CELLS: u64 = 1_000_000;

/// Bytes of one triangle cell: a Date32, three Int64 and a Float64.
const TRIANGLE_CELL_BYTES: u64 = 36;

/// Checks the size of the triangle `cells` and `last` make, and reserves
/// its columns in the session's memory pool (released when dropped).
fn reserve_triangle(cx: &Scan<'_>, cells: &Cells, last: i64) -> Result<MemoryReservation> {
    let total = cells.sizes.keys().fold(0u64, |n, &c| {
        n.saturating_add(u64::try_from(last.saturating_sub(c)).unwrap_or(0) + 1)
    });
    if total > MAX_TRIANGLE_CELLS {
        return Err(Error::ResourcesExhausted(format!(
            "the retention triangle would have {total} cells; at most {MAX_TRIANGLE_CELLS}: \
             choose an as_of nearer the data or monthly periods"
        )));
    }
    cx.reserve("retention triangle", (total * TRIANGLE_CELL_BYTES) as usize)
}

/// The non-empty cells of a retention matrix.
#[derive(Debug, Default)]
struct Cells {
    /// Cohort (period index of each profile's first active period) → size.
    sizes: BTreeMap<i64, i64>,
    /// (cohort, periods since its start) → profiles active then (> 0).
    active: HashMap<(i64, i64), i64>,
}

/// The retention cells in one aggregation over the events, grouped by
/// profile: the first active period (the cohort) and the set of active
/// periods as bits, bit `j` of mask `j / 64` standing for period `last -
/// j`; then one small aggregation by cohort counts each bit. Instead of
/// the distinct (profile, period) pairs, a hash table of 1 row per
/// profile. `None` if an event lies before `first` (a partition holding
/// events of another month): the masks would not cover it.
async fn cells_by_masks(
    cx: &Scan<'_>,
    period: CohortPeriod,
    scope: &Scope,
    first: i64,
    last: i64,
) -> Result<Option<Cells>> {
    let span = last - first + 1;
    let masks = (span + 63) / 64;
    let p = period_index_expr(period, ident("event_time"));
    let back = lit(last) - p.clone();
    let mut per_profile_aggs = vec![min(p).alias("__c")];
    for i in 0..masks {
        let bit = if masks == 1 {
            bitwise_shift_left(lit(1i64), back.clone())
        } else {
            let lo = 64 * i;
            when(
                back.clone()
                    .gt_eq(lit(lo))
                    .and(back.clone().lt(lit(lo + 64))),
                bitwise_shift_left(lit(1i64), back.clone() - lit(lo)),
            )
            .otherwise(lit(0i64))?
        };
        per_profile_aggs.push(bit_or(bit).alias(format!("__m{i}")));
    }
    let per_profile = cx
        .events_of(cx.activity_types(), None)
        .await?
        .aggregate(vec![ident("profile_id")], per_profile_aggs)?;
    let per_profile = scope.restrict(cx, per_profile, RowsPerId::One).await?;
    let mut cohort_aggs = vec![count(lit(1i64)).alias("__n")];
    for j in 0..span {
        let mask = ident(format!("__m{}", j / 64));
        let bit = bitwise_and(bitwise_shift_right(mask, lit(j % 64)), lit(1i64));
        cohort_aggs.push(sum(bit).alias(format!("__a{j}")));
    }
    let batches = per_profile
        .aggregate(vec![ident("__c")], cohort_aggs)?
        .collect()
        .await?;

    let mut cells = Cells::default();
    for b in &batches {
        let (c, n) = (int64_column(b, 0)?, int64_column(b, 1)?);
        let bits = (0..span as usize)
            .map(|j| int64_column(b, 2 + j))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..b.num_rows() {
            let c = c.value(row);
            if c < first {
                return Ok(None);
            }
            cells.sizes.insert(c, n.value(row));
            for k in 0..=(last - c) {
                let active = bits[(last - c - k) as usize].value(row);
                if active > 0 {
                    cells.active.insert((c, k), active);
                }
            }
        }
    }
    Ok(Some(cells))
}

/// Column `i` of a retention aggregate (every one is Int64).
fn int64_column(b: &RecordBatch, i: usize) -> Result<&Int64Array> {
    b.column(i)
        .as_any()
        .downcast_ref::<Int64Array>()
        .ok_or_else(|| Error::Internal("retention cells are not Int64".into()))
}

/// The retention cells from the distinct (profile, period) pairs: any
/// span of periods, at the cost of a hash table of every pair and a join.
async fn cells_by_pairs(cx: &Scan<'_>, period: CohortPeriod, scope: &Scope) -> Result<Cells> {
    let activity = cx.events_of(cx.activity_types(), None).await?;
    let active = activity.aggregate(
        vec![
            ident("profile_id"),
            period_index_expr(period, ident("event_time")).alias("__p"),
        ],
        vec![],
    )?;
    let active = scope.restrict(cx, active, RowsPerId::Several).await?;
    let active = cx.cache(active, "retention active periods").await?;
    let cohort_of = active.clone().aggregate(
        vec![ident("profile_id").alias("__cpid")],
        vec![min(ident("__p")).alias("__c")],
    )?;
    // One row per profile builds the hash table; every active period probes.
    let cells = cohort_of
        .clone()
        .join(active, JoinType::Inner, &["__cpid"], &["profile_id"], None)?
        .aggregate(
            vec![
                ident("__c").alias("__cc"),
                (ident("__p") - ident("__c")).alias("__k"),
            ],
            vec![count(lit(1i64)).alias("active")],
        )?
        .collect()
        .await?;
    let sizes = cohort_of
        .aggregate(vec![ident("__c")], vec![count(lit(1i64)).alias("n")])?
        .collect()
        .await?;
    let mut out = Cells::default();
    for b in &sizes {
        let (c, n) = (int64_column(b, 0)?, int64_column(b, 1)?);
        out.sizes
            .extend(c.values().iter().copied().zip(n.values().iter().copied()));
    }
    for b in &cells {
        let (c, k, a) = (
            int64_column(b, 0)?,
            int64_column(b, 1)?,
            int64_column(b, 2)?,
        );
        for row in 0..b.num_rows() {
            out.active
                .insert((c.value(row), k.value(row)), a.value(row));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use arrow::array::AsArray;
    use arrow::datatypes::Int64Type;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// The plan expression agrees with [`period_index`] on days around
    /// month, year, century and epoch boundaries, before 1970 included.
    #[tokio::test]
    async fn period_index_expr_matches_period_index() {
        let ctx = SessionContext::new();
        let mut days: Vec<NaiveDate> = Vec::new();
        for (y, m) in [
            (1600, 2),
            (1899, 12),
            (1900, 2),
            (1969, 12),
            (1970, 1),
            (2000, 2),
            (2024, 2),
            (2100, 3),
        ] {
            let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap();
            for k in -40..40 {
                days.push(first + TimeDelta::days(k));
            }
        }
        let micros: Vec<i64> = days
            .iter()
            .flat_map(|d| {
                let t = d.and_hms_opt(0, 0, 0).unwrap().and_utc().timestamp_micros();
                [t, t + 1, t + 86_400_000_000 - 1]
            })
            .collect();
        let ty = DataType::Timestamp(arrow::datatypes::TimeUnit::Microsecond, Some("UTC".into()));
        let schema = Arc::new(Schema::new(vec![Field::new("t", ty, false)]));
        let array =
            arrow::array::TimestampMicrosecondArray::from(micros.clone()).with_timezone("UTC");
        let batch = RecordBatch::try_new(schema, vec![Arc::new(array)]).unwrap();
        for period in [CohortPeriod::Week, CohortPeriod::Month] {
            let out = values_frame(&ctx, &batch)
                .unwrap()
                .select(vec![period_index_expr(period, ident("t")).alias("p")])
                .unwrap()
                .collect()
                .await
                .unwrap();
            let got: Vec<i64> = out
                .iter()
                .flat_map(|b| b.column(0).as_primitive::<Int64Type>().values().to_vec())
                .collect();
            let want: Vec<i64> = micros
                .iter()
                .map(|t| {
                    let d = DateTime::from_timestamp_micros(*t).unwrap().date_naive();
                    period_index(period, d)
                })
                .collect();
            assert_eq!(got, want, "{period:?}");
        }
    }

    #[test]
    fn period_indices_round_trip() {
        for period in [CohortPeriod::Week, CohortPeriod::Month] {
            let mut d = NaiveDate::from_ymd_opt(1969, 12, 1).unwrap();
            while d < NaiveDate::from_ymd_opt(1971, 3, 1).unwrap() {
                let i = period_index(period, d);
                let s = period_start(period, i).unwrap();
                assert!(s <= d && period_index(period, s) == i, "{period:?} {d} {s}");
                if period == CohortPeriod::Week {
                    assert_eq!(s.weekday(), chrono::Weekday::Mon);
                    assert!((d - s).num_days() < 7);
                } else {
                    assert_eq!((s.year(), s.month(), s.day()), (d.year(), d.month(), 1));
                }
                d = d.succ_opt().unwrap();
            }
        }
    }
}
