//! Everything shared by all profiles: the calendar (seasonality), the
//! product catalog, the campaign schedule and the lookup tables for names
//! and places. Built once per run from the seed and `as_of`.

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc, Weekday};

use super::rng::{Rng, cdf};

pub(super) const DAY_US: i64 = 86_400_000_000;
pub(super) const HOUR_US: i64 = 3_600_000_000;

/// A place: country, region, city, IANA time zone, language, UTC offset
/// (hours, standard time), weight.
pub(super) struct Place {
    pub(super) country: &'static str,
    pub(super) region: &'static str,
    pub(super) city: &'static str,
    pub(super) timezone: &'static str,
    pub(super) language: &'static str,
    pub(super) offset_hours: i64,
    weight: f64,
}

const fn place(
    country: &'static str,
    region: &'static str,
    city: &'static str,
    timezone: &'static str,
    language: &'static str,
    offset_hours: i64,
    weight: f64,
) -> Place {
    Place {
        country,
        region,
        city,
        timezone,
        language,
        offset_hours,
        weight,
    }
}

pub(super) static PLACES: [Place; 30] = [
    place(
        "US",
        "CA",
        "Los Angeles",
        "America/Los_Angeles",
        "en-US",
        -8,
        7.0,
    ),
    place(
        "US",
        "CA",
        "San Francisco",
        "America/Los_Angeles",
        "en-US",
        -8,
        4.0,
    ),
    place(
        "US",
        "CA",
        "San Diego",
        "America/Los_Angeles",
        "en-US",
        -8,
        2.5,
    ),
    place("US", "NY", "New York", "America/New_York", "en-US", -5, 8.0),
    place("US", "NY", "Buffalo", "America/New_York", "en-US", -5, 1.0),
    place("US", "TX", "Houston", "America/Chicago", "en-US", -6, 3.5),
    place("US", "TX", "Austin", "America/Chicago", "en-US", -6, 2.5),
    place("US", "TX", "Dallas", "America/Chicago", "en-US", -6, 3.0),
    place("US", "IL", "Chicago", "America/Chicago", "en-US", -6, 4.0),
    place("US", "FL", "Miami", "America/New_York", "en-US", -5, 3.0),
    place("US", "FL", "Orlando", "America/New_York", "en-US", -5, 1.5),
    place(
        "US",
        "WA",
        "Seattle",
        "America/Los_Angeles",
        "en-US",
        -8,
        2.5,
    ),
    place("US", "MA", "Boston", "America/New_York", "en-US", -5, 2.0),
    place("US", "GA", "Atlanta", "America/New_York", "en-US", -5, 2.0),
    place("US", "CO", "Denver", "America/Denver", "en-US", -7, 1.8),
    place("US", "AZ", "Phoenix", "America/Phoenix", "en-US", -7, 1.7),
    place("CA", "ON", "Toronto", "America/Toronto", "en-CA", -5, 3.5),
    place("CA", "QC", "Montreal", "America/Toronto", "fr-CA", -5, 2.0),
    place(
        "CA",
        "BC",
        "Vancouver",
        "America/Vancouver",
        "en-CA",
        -8,
        2.0,
    ),
    place("GB", "England", "London", "Europe/London", "en-GB", 0, 6.0),
    place(
        "GB",
        "England",
        "Manchester",
        "Europe/London",
        "en-GB",
        0,
        2.0,
    ),
    place(
        "GB",
        "Scotland",
        "Edinburgh",
        "Europe/London",
        "en-GB",
        0,
        1.2,
    ),
    place("DE", "BE", "Berlin", "Europe/Berlin", "de-DE", 1, 2.5),
    place("DE", "BY", "Munich", "Europe/Berlin", "de-DE", 1, 2.0),
    place("DE", "HH", "Hamburg", "Europe/Berlin", "de-DE", 1, 1.5),
    place("FR", "IDF", "Paris", "Europe/Paris", "fr-FR", 1, 3.5),
    place("FR", "ARA", "Lyon", "Europe/Paris", "fr-FR", 1, 1.5),
    place("JP", "Tokyo", "Tokyo", "Asia/Tokyo", "ja-JP", 9, 4.0),
    place("JP", "Osaka", "Osaka", "Asia/Tokyo", "ja-JP", 9, 2.0),
    place("AU", "NSW", "Sydney", "Australia/Sydney", "en-AU", 10, 3.0),
];

pub(super) const FEMALE_NAMES: [&str; 24] = [
    "Emma",
    "Olivia",
    "Ava",
    "Sophia",
    "Isabella",
    "Mia",
    "Charlotte",
    "Amelia",
    "Harper",
    "Evelyn",
    "Abigail",
    "Emily",
    "Ella",
    "Grace",
    "Chloe",
    "Lily",
    "Hannah",
    "Sarah",
    "Laura",
    "Julia",
    "Anna",
    "Yui",
    "Sakura",
    "Claire",
];
pub(super) const MALE_NAMES: [&str; 24] = [
    "Liam",
    "Noah",
    "Oliver",
    "Elijah",
    "James",
    "William",
    "Benjamin",
    "Lucas",
    "Henry",
    "Alexander",
    "Mason",
    "Michael",
    "Ethan",
    "Daniel",
    "Jacob",
    "Logan",
    "Jackson",
    "David",
    "Thomas",
    "Lukas",
    "Hugo",
    "Haruto",
    "Kenji",
    "Leon",
];
pub(super) const LAST_NAMES: [&str; 32] = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Thompson",
    "White",
    "Harris",
    "Clark",
    "Lewis",
    "Walker",
    "Young",
    "Allen",
    "Mueller",
    "Dubois",
    "Tanaka",
    "Sato",
];
pub(super) const EMAIL_DOMAINS: [(&str, f64); 7] = [
    ("gmail.com", 45.0),
    ("yahoo.com", 12.0),
    ("outlook.com", 10.0),
    ("icloud.com", 10.0),
    ("hotmail.com", 9.0),
    ("aol.com", 3.0),
    ("proton.me", 2.0),
];
pub(super) const COLORS: [&str; 10] = [
    "black", "white", "navy", "red", "green", "beige", "pink", "blue", "grey", "yellow",
];
/// Zero-party interests and the product category each one leans to.
pub(super) const INTERESTS: [(&str, usize); 12] = [
    ("running", 5),
    ("yoga", 5),
    ("fashion", 0),
    ("outdoors", 1),
    ("tech", 4),
    ("home decor", 3),
    ("beauty", 2),
    ("gaming", 4),
    ("cooking", 8),
    ("travel", 7),
    ("kids", 6),
    ("books", 9),
];
pub(super) const ONLINE_PAYMENTS: [(&str, f64); 5] = [
    ("card", 58.0),
    ("paypal", 20.0),
    ("apple_pay", 13.0),
    ("klarna", 6.0),
    ("gift_card", 3.0),
];
pub(super) const POS_PAYMENTS: [(&str, f64); 4] = [
    ("card", 62.0),
    ("cash", 20.0),
    ("apple_pay", 15.0),
    ("gift_card", 3.0),
];

/// Product categories: name, median price, share of traffic, refund rate.
pub(super) const CATEGORIES: [(&str, f64, f64, f64); 10] = [
    ("apparel", 34.0, 22.0, 0.10),
    ("shoes", 72.0, 12.0, 0.12),
    ("beauty", 21.0, 12.0, 0.03),
    ("home", 39.0, 12.0, 0.04),
    ("electronics", 115.0, 8.0, 0.06),
    ("sports", 44.0, 9.0, 0.05),
    ("kids", 24.0, 8.0, 0.05),
    ("accessories", 29.0, 9.0, 0.06),
    ("grocery", 11.0, 5.0, 0.01),
    ("books", 15.0, 3.0, 0.02),
];
pub(super) const PRODUCTS_PER_CATEGORY: usize = 1000;

/// One scheduled message.
#[derive(Debug, Clone, Copy)]
pub(super) struct Campaign {
    /// Send time (µs).
    pub(super) t: i64,
    /// Index into [`World::campaign_ids`].
    pub(super) id: u16,
    /// Engagement multiplier (promotions draw more opens and clicks).
    pub(super) boost: f64,
}

pub(super) struct World {
    pub(super) start_us: i64,
    pub(super) as_of_us: i64,
    days: usize,
    /// Cumulative online/store day weights (len days + 1, mean weight 1).
    online_cum: Vec<f64>,
    store_cum: Vec<f64>,
    online_hours: Vec<f64>,
    store_hours: Vec<f64>,
    pub(super) place_cdf: Vec<f64>,
    pub(super) domain_cdf: Vec<f64>,
    pub(super) category_cdf: Vec<f64>,
    pub(super) online_pay_cdf: Vec<f64>,
    pub(super) pos_pay_cdf: Vec<f64>,
    /// Zipf popularity of products within a category.
    pub(super) product_rank_cdf: Vec<f64>,
    /// product_ids[category][rank]
    pub(super) product_ids: Vec<Vec<String>>,
    /// prices in cents [category][rank]
    pub(super) product_prices: Vec<Vec<i64>>,
    pub(super) campaign_ids: Vec<String>,
    pub(super) email_campaigns: Vec<Campaign>,
    pub(super) push_campaigns: Vec<Campaign>,
    /// Start (µs) of every month from the window start's month to as_of's.
    pub(super) month_starts: Vec<i64>,
    /// (year, month) of each entry of `month_starts`.
    pub(super) months: Vec<(i32, u32)>,
}

fn thanksgiving(year: i32) -> NaiveDate {
    NaiveDate::from_weekday_of_month_opt(year, 11, Weekday::Thu, 4).expect("4th Thursday")
}

/// Holiday multipliers (online, store) for a date.
fn holiday(date: NaiveDate) -> (f64, f64) {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let tg = thanksgiving(y);
    let bf = tg + Duration::days(1);
    let cm = tg + Duration::days(4);
    if date == tg {
        return (1.8, 0.3);
    }
    if date == bf {
        return (3.6, 4.2);
    }
    if date == bf + Duration::days(1) || date == bf + Duration::days(2) {
        return (2.0, 2.4);
    }
    if date == cm {
        return (3.3, 1.1);
    }
    match (m, d) {
        (12, 24) => return (1.1, 1.9),
        (12, 25) => return (0.5, 0.02),
        (12, 26) => return (2.1, 2.2),
        (12, 27..=31) => return (1.4, 1.3),
        (1, 1) => return (0.6, 0.1),
        _ => {}
    }
    if m == 11 && date > cm {
        return (1.5, 1.4);
    }
    if m == 12 && d <= 23 {
        // the run-up to Christmas, strongest in the last week
        let ramp = 1.5 + 0.8 * (d as f64 / 23.0);
        return (ramp, ramp + if d >= 16 { 0.5 } else { 0.0 });
    }
    if m == 11 {
        return (1.15, 1.05);
    }
    if m == 1 {
        return (0.85, 0.8);
    }
    if m == 2 && (7..=14).contains(&d) {
        return (1.2, 1.15);
    }
    if m == 5 {
        let mothers_day =
            NaiveDate::from_weekday_of_month_opt(y, 5, Weekday::Sun, 2).expect("date");
        if date <= mothers_day && date > mothers_day - Duration::days(7) {
            return (1.3, 1.35);
        }
    }
    if m == 7 && (d == 9 || d == 10) {
        return (2.3, 1.0); // mid-summer online sale
    }
    if m == 8 {
        return (1.1, 1.1); // back to school
    }
    (1.0, 1.0)
}

fn weekly(date: NaiveDate) -> (f64, f64) {
    match date.weekday() {
        Weekday::Mon => (1.0, 0.8),
        Weekday::Tue => (0.97, 0.78),
        Weekday::Wed => (0.97, 0.82),
        Weekday::Thu => (0.98, 0.9),
        Weekday::Fri => (0.9, 1.1),
        Weekday::Sat => (1.02, 1.5),
        Weekday::Sun => (1.15, 1.1),
    }
}

const ONLINE_HOURS: [f64; 24] = [
    0.25, 0.12, 0.06, 0.04, 0.04, 0.08, 0.25, 0.5, 0.7, 0.8, 0.85, 0.95, 1.1, 1.05, 0.9, 0.85, 0.9,
    1.0, 1.15, 1.35, 1.5, 1.45, 1.1, 0.6,
];
const STORE_HOURS: [f64; 24] = [
    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.05, 0.2, 0.5, 0.9, 1.1, 1.3, 1.25, 1.2, 1.2, 1.25, 1.35,
    1.3, 1.0, 0.6, 0.25, 0.05, 0.0,
];

fn to_us(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Cumulative (online, store) day weights for the `days` days from
/// `start_date`: holidays times the day of the week, see
/// [`World::online_cum`].
fn day_weights(start_date: NaiveDate, days: usize) -> (Vec<f64>, Vec<f64>) {
    let (mut online, mut store) = (Vec::with_capacity(days), Vec::with_capacity(days));
    for d in 0..days {
        let date = start_date + Duration::days(d as i64);
        let (ho, hs) = holiday(date);
        let (wo, ws) = weekly(date);
        online.push(ho * wo);
        store.push(hs * ws);
    }
    (cumulative(online), cumulative(store))
}

/// Scales `weights` to mean 1 and returns their running sums, starting at 0
/// (so one longer than `weights`).
fn cumulative(mut weights: Vec<f64>) -> Vec<f64> {
    let mean = weights.iter().sum::<f64>() / weights.len().max(1) as f64;
    weights.iter_mut().for_each(|x| *x /= mean);
    let mut cum = Vec::with_capacity(weights.len() + 1);
    cum.push(0.0);
    cum.extend(cdf(&weights));
    cum
}

/// Zipf popularity of the products of a category, by rank.
fn product_rank_cdf() -> Vec<f64> {
    let weights: Vec<f64> = (1..=PRODUCTS_PER_CATEGORY)
        .map(|r| 1.0 / (r as f64).powf(1.05))
        .collect();
    cdf(&weights)
}

/// Product ids, `[category][rank]`: `SKU-` then the 2-digit category and
/// the 5-digit rank, both counted from 1.
fn product_ids() -> Vec<Vec<String>> {
    (1..=CATEGORIES.len())
        .map(|c| {
            (1..=PRODUCTS_PER_CATEGORY)
                .map(|r| format!("SKU-{c:02}{r:05}"))
                .collect()
        })
        .collect()
}

/// Product prices in cents, `[category][rank]`: lognormal around the
/// category's median, ending in .99 (70 %) or .49.
fn product_prices(rng: &mut Rng) -> Vec<Vec<i64>> {
    CATEGORIES
        .iter()
        .map(|&(_, median, _, _)| {
            (0..PRODUCTS_PER_CATEGORY)
                .map(|_| {
                    let whole = rng.lognormal(median, 0.55).max(1.0).floor() as i64;
                    whole * 100 + if rng.chance(0.7) { 99 } else { 49 }
                })
                .collect()
        })
        .collect()
}

/// Which list a campaign goes to.
#[derive(Debug, Clone, Copy)]
enum Medium {
    Email,
    Push,
}

/// The campaigns sent inside the window, built day by day. Ids are numbered
/// in the order campaigns are added, which fixes the event log's campaign
/// codes.
struct CampaignSchedule {
    start_us: i64,
    as_of_us: i64,
    campaign_ids: Vec<String>,
    email_campaigns: Vec<Campaign>,
    push_campaigns: Vec<Campaign>,
}

impl CampaignSchedule {
    /// The weekly campaigns and the seasonal promotions of the `days` days
    /// from `start_date`, each list sorted by send time.
    fn build(start_date: NaiveDate, days: usize, start_us: i64, as_of_us: i64) -> Self {
        let mut schedule = CampaignSchedule {
            start_us,
            as_of_us,
            campaign_ids: Vec::new(),
            email_campaigns: Vec::new(),
            push_campaigns: Vec::new(),
        };
        for d in 0..days as i64 {
            let date = start_date + Duration::days(d);
            schedule.add_weekly(date);
            schedule.add_promotions(date);
        }
        schedule.email_campaigns.sort_by_key(|c| c.t);
        schedule.push_campaigns.sort_by_key(|c| c.t);
        schedule
    }

    /// The newsletter (Tuesday 15:00 UTC) and the push (Thursday 18:00 UTC).
    fn add_weekly(&mut self, date: NaiveDate) {
        let (y, w) = (date.iso_week().year(), date.iso_week().week());
        match date.weekday() {
            Weekday::Tue => self.add(Medium::Email, date, 15, format!("nl-{y}-w{w:02}"), 1.0),
            Weekday::Thu => self.add(Medium::Push, date, 18, format!("push-{y}-w{w:02}"), 1.0),
            _ => {}
        }
    }

    /// Seasonal promotions starting on `date`, which draw more engagement
    /// than the weekly campaigns.
    fn add_promotions(&mut self, date: NaiveDate) {
        use Medium::{Email, Push};
        let y = date.year();
        let tg = thanksgiving(y);
        match (date.month(), date.day()) {
            _ if date == tg => {
                self.add(Email, date, 13, format!("bf-{y}"), 1.8);
                let black_friday = date + Duration::days(1);
                self.add(Push, black_friday, 8, format!("push-bf-{y}"), 1.8);
            }
            _ if date == tg + Duration::days(4) => {
                self.add(Email, date, 7, format!("cm-{y}"), 1.6);
            }
            (12, 10) => {
                self.add(Email, date, 14, format!("xmas-{y}"), 1.5);
                self.add(Push, date, 19, format!("push-xmas-{y}"), 1.4);
            }
            (12, 26) => self.add(Email, date, 8, format!("winter-sale-{y}"), 1.5),
            (7, 8) => self.add(Email, date, 14, format!("summer-sale-{y}"), 1.4),
            (2, 9) => self.add(Email, date, 14, format!("valentines-{y}"), 1.2),
            _ => {}
        }
    }

    /// Schedules campaign `id` at `hour`:00 UTC on `date`, unless that falls
    /// outside the window.
    fn add(&mut self, medium: Medium, date: NaiveDate, hour: u32, id: String, boost: f64) {
        let t = to_us(date.and_hms_opt(hour, 0, 0).expect("valid hour").and_utc());
        if t < self.start_us || t >= self.as_of_us {
            return;
        }
        let list = match medium {
            Medium::Email => &mut self.email_campaigns,
            Medium::Push => &mut self.push_campaigns,
        };
        list.push(Campaign {
            t,
            id: self.campaign_ids.len() as u16,
            boost,
        });
        self.campaign_ids.push(id);
    }
}

/// The start (µs) and the (year, month) of every month from `start_date`'s
/// up to the one containing `as_of_us`.
fn month_starts(start_date: NaiveDate, as_of_us: i64) -> (Vec<i64>, Vec<(i32, u32)>) {
    let mut month_starts = Vec::new();
    let mut months = Vec::new();
    let (mut y, mut m) = (start_date.year(), start_date.month());
    loop {
        let first = NaiveDate::from_ymd_opt(y, m, 1).expect("first of month");
        let t = to_us(first.and_hms_opt(0, 0, 0).expect("midnight").and_utc());
        if t >= as_of_us {
            break;
        }
        month_starts.push(t);
        months.push((y, m));
        (y, m) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
    }
    (month_starts, months)
}

impl World {
    pub(super) fn new(seed: u64, as_of: DateTime<Utc>) -> World {
        let start = as_of
            .checked_sub_months(Months::new(36))
            .expect("as_of far from the calendar's edges");
        let start_date = start.date_naive();
        let start_us = to_us(start);
        let as_of_us = to_us(as_of);
        let days = ((as_of_us - start_us + DAY_US - 1) / DAY_US) as usize;
        let (online_cum, store_cum) = day_weights(start_date, days);
        let campaigns = CampaignSchedule::build(start_date, days, start_us, as_of_us);
        let (month_starts, months) = month_starts(start_date, as_of_us);

        World {
            start_us,
            as_of_us,
            days,
            online_cum,
            store_cum,
            online_hours: cdf(&ONLINE_HOURS),
            store_hours: cdf(&STORE_HOURS),
            place_cdf: cdf(&PLACES.iter().map(|p| p.weight).collect::<Vec<_>>()),
            domain_cdf: cdf(&EMAIL_DOMAINS.iter().map(|d| d.1).collect::<Vec<_>>()),
            category_cdf: cdf(&CATEGORIES.iter().map(|c| c.2).collect::<Vec<_>>()),
            online_pay_cdf: cdf(&ONLINE_PAYMENTS.iter().map(|d| d.1).collect::<Vec<_>>()),
            pos_pay_cdf: cdf(&POS_PAYMENTS.iter().map(|d| d.1).collect::<Vec<_>>()),
            product_rank_cdf: product_rank_cdf(),
            product_ids: product_ids(),
            product_prices: product_prices(&mut Rng::new(seed, u64::MAX)),
            campaign_ids: campaigns.campaign_ids,
            email_campaigns: campaigns.email_campaigns,
            push_campaigns: campaigns.push_campaigns,
            month_starts,
            months,
        }
    }

    fn cum_at(&self, cum: &[f64], t: i64) -> f64 {
        let pos = (t - self.start_us) as f64 / DAY_US as f64;
        let pos = pos.clamp(0.0, self.days as f64);
        let d = (pos.floor() as usize).min(self.days.saturating_sub(1));
        cum[d] + (pos - d as f64) * (cum[d + 1] - cum[d])
    }

    /// Seasonal weight (mean 1 per day) of [a, b) in days.
    pub(super) fn weight(&self, store: bool, a: i64, b: i64) -> f64 {
        let cum = if store {
            &self.store_cum
        } else {
            &self.online_cum
        };
        if b <= a {
            return 0.0;
        }
        self.cum_at(cum, b) - self.cum_at(cum, a)
    }

    /// A time in [a, b) drawn with the seasonal day weights and the
    /// hour-of-day profile (in the customer's local time).
    pub(super) fn sample_time(
        &self,
        rng: &mut Rng,
        store: bool,
        a: i64,
        b: i64,
        offset_hours: i64,
    ) -> Option<i64> {
        let (cum, hours) = if store {
            (&self.store_cum, &self.store_hours)
        } else {
            (&self.online_cum, &self.online_hours)
        };
        let (ca, cb) = (self.cum_at(cum, a), self.cum_at(cum, b));
        if cb <= ca {
            return None;
        }
        for _ in 0..8 {
            let u = ca + rng.f64() * (cb - ca);
            let d = cum
                .partition_point(|&c| c <= u)
                .saturating_sub(1)
                .min(self.days - 1);
            let hour = rng.pick_cdf(hours) as i64;
            let t = self.start_us
                + d as i64 * DAY_US
                + (hour - offset_hours) * HOUR_US
                + rng.below(HOUR_US as u64) as i64;
            if t >= a && t < b {
                return Some(t);
            }
        }
        None
    }

    /// Index into `month_starts` of the month containing `t`.
    #[inline]
    pub(super) fn month_of(&self, t: i64) -> usize {
        self.month_starts
            .partition_point(|&s| s <= t)
            .saturating_sub(1)
    }
}
