//! The built-ins per profile, defined once: the DSL evaluator reads them
//! (`rfm.*`, `channel_mix`, `lifecycle`) and the naive reports aggregate
//! them (`reports.rs`). docs/design.md#rfm, #channel-mix, #lifecycle.

use std::collections::HashMap;
use std::rc::Rc;

use strata_dsl::ast::{Duration, TimeUnit};

use super::{Event, MICROS_PER_DAY, Reference, Val, event_prop, sub};

/// The ten RFM segments, in rule order.
pub(crate) const RFM_SEGMENTS: &[&str] = &[
    "hibernating",
    "at_risk",
    "cannot_lose",
    "about_to_sleep",
    "need_attention",
    "loyal",
    "promising",
    "new_customers",
    "potential_loyalists",
    "champions",
];
/// The channel-mix classes, in report order.
pub(crate) const CLASSES: &[&str] = &["online_only", "offline_only", "omnichannel", "none"];
/// The lifecycle states, in report order (reports add `churned`).
pub(crate) const STATES: &[&str] = &[
    "new",
    "returning",
    "resurrecting",
    "dormant",
    "lost",
    "never",
];

/// One profile's RFM values and scores.
#[derive(Debug, Clone)]
pub(crate) struct Rfm {
    pub(crate) recency_days: i64,
    pub(crate) frequency: i64,
    /// Cents.
    pub(crate) monetary: i128,
    pub(crate) r: i64,
    pub(crate) f: i64,
    pub(crate) m: i64,
    pub(crate) segment: &'static str,
}

/// One profile's channel-mix class, and the purchases it was read from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mix {
    pub(crate) class: &'static str,
    pub(crate) orders: i64,
    /// Cents.
    pub(crate) revenue: i128,
}

impl<'a> Reference<'a> {
    /// Purchases of profile `id` (the purchase types, before as_of), in
    /// `[as_of − d, as_of)` when `within` is `Some(d)`.
    pub(crate) fn purchases(
        &self,
        id: i64,
        within: Option<Duration>,
    ) -> impl Iterator<Item = &'a Event> + '_ {
        let since = within.map_or(i64::MIN, |d| sub(self.as_of, d));
        self.existing_events(id).filter(move |e| {
            self.data.purchase_types.contains(&e.event_type) && e.time_micros >= since
        })
    }

    /// RFM of every profile (with a profile row) with at least one purchase
    /// in the lookback, ranked over all of them (docs/design.md#rfm).
    pub(crate) fn rfm(
        &self,
        bins: Option<u32>,
        lookback: Option<Duration>,
    ) -> Rc<HashMap<i64, Rfm>> {
        let mut cache = self.rfm_cache.borrow_mut();
        let table = cache
            .entry((bins, lookback))
            .or_insert_with(|| Rc::new(self.rfm_table(bins, lookback)));
        Rc::clone(table)
    }

    fn rfm_table(&self, bins: Option<u32>, lookback: Option<Duration>) -> HashMap<i64, Rfm> {
        let bins = i64::from(bins.unwrap_or(5));
        // (id, recency_days, frequency, monetary cents)
        let mut rows: Vec<(i64, i64, i64, i128)> = Vec::new();
        for p in &self.data.profiles {
            let purchases: Vec<&Event> = self.purchases(p.id, lookback).collect();
            let Some(last) = purchases.iter().map(|e| e.time_micros).max() else {
                continue;
            };
            let recency = (self.as_of - last).div_euclid(MICROS_PER_DAY);
            let monetary = purchases.iter().map(|e| cents(e)).sum();
            rows.push((p.id, recency, purchases.len() as i64, monetary));
        }
        let n = rows.len() as i64;
        let score = |rank: i64| 1 + bins * (rank - 1) / n;
        rows.iter()
            .map(|&(id, rec, freq, mon)| {
                // RANK(): 1 + the number of rows strictly before this one.
                let r_rank = 1 + rows.iter().filter(|o| o.1 > rec).count() as i64;
                let f_rank = 1 + rows.iter().filter(|o| o.2 < freq).count() as i64;
                let m_rank = 1 + rows.iter().filter(|o| o.3 < mon).count() as i64;
                let (r, f, m) = (score(r_rank), score(f_rank), score(m_rank));
                let rfm = Rfm {
                    recency_days: rec,
                    frequency: freq,
                    monetary: mon,
                    r,
                    f,
                    m,
                    segment: rfm_segment(r, f, bins),
                };
                (id, rfm)
            })
            .collect()
    }

    /// The channel-mix class of profile `id`, with its orders and revenue
    /// (all its purchases in the window, whatever their channel).
    pub(crate) fn channel_mix(&self, id: i64, window: Option<Duration>) -> Mix {
        let (mut online, mut offline, mut orders, mut revenue) = (false, false, 0, 0);
        for e in self.purchases(id, window) {
            orders += 1;
            revenue += cents(e);
            if let Some(ch) = channel(e) {
                online |= self.data.online_channels.contains(&ch);
                offline |= self.data.offline_channels.contains(&ch);
            }
        }
        let class = match (online, offline) {
            (true, true) => "omnichannel",
            (true, false) => "online_only",
            (false, true) => "offline_only",
            (false, false) => "none",
        };
        Mix {
            class,
            orders,
            revenue,
        }
    }

    /// The lifecycle state of profile `id` (window W, default 90 days; 2W
    /// is subtracted from as_of in one step).
    pub(crate) fn lifecycle(&self, id: i64, window: Option<Duration>) -> &'static str {
        let w = window.unwrap_or(Duration::new(90, TimeUnit::Days));
        let c_lo = sub(self.as_of, w);
        let p_lo = sub(self.as_of, Duration::new(w.amount * 2, w.unit));
        let times: Vec<i64> = self
            .existing_events(id)
            .filter(|e| self.data.activity_types.contains(&e.event_type))
            .map(|e| e.time_micros)
            .collect();
        let Some(first) = times.iter().copied().min() else {
            return "never";
        };
        let in_c = times.iter().any(|&t| c_lo <= t);
        let in_p = times.iter().any(|&t| p_lo <= t && t < c_lo);
        if first >= c_lo {
            "new"
        } else if in_c && in_p {
            "returning"
        } else if in_c {
            "resurrecting"
        } else if in_p {
            "dormant"
        } else {
            "lost"
        }
    }
}

/// The 5-point score of score `s` out of `bins`: 1 + the number of the
/// rounding thresholds k - 1/2 (k = 1..4) that the position
/// 4 (s - 1) / (bins - 1) reaches, compared as (2k - 1)(bins - 1) <= 8 (s - 1);
/// one bin is the middle score, 3.
pub(crate) fn five_point(s: i64, bins: i64) -> i64 {
    if bins == 1 {
        return 3;
    }
    1 + (1..=4)
        .filter(|k| (2 * k - 1) * (bins - 1) <= 8 * (s - 1))
        .count() as i64
}

/// The named RFM segment of scores (r, f) out of `bins`, first match wins
/// on the 5-point scores.
pub(crate) fn rfm_segment(r: i64, f: i64, bins: i64) -> &'static str {
    let (r, f) = (five_point(r, bins), five_point(f, bins));
    if r <= 2 && f <= 2 {
        "hibernating"
    } else if r <= 2 && f <= 4 {
        "at_risk"
    } else if r <= 2 {
        "cannot_lose"
    } else if r == 3 && f <= 2 {
        "about_to_sleep"
    } else if r == 3 && f == 3 {
        "need_attention"
    } else if (r == 3 || r == 4) && f >= 4 {
        "loyal"
    } else if r == 4 && f == 1 {
        "promising"
    } else if r == 5 && f == 1 {
        "new_customers"
    } else if r >= 4 && f <= 3 {
        "potential_loyalists"
    } else {
        "champions"
    }
}

/// An event's amount in cents; a NULL amount is 0.
pub(crate) fn cents(e: &Event) -> i128 {
    match event_prop(e, "amount") {
        Val::Dec(c) => c,
        Val::Null => 0,
        other => panic!("amount {other:?}"),
    }
}

/// An event's channel, `None` when NULL.
pub(crate) fn channel(e: &Event) -> Option<String> {
    match event_prop(e, "channel") {
        Val::Str(s) => Some(s),
        _ => None,
    }
}
