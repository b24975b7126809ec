//! One customer: latent traits drawn from a per-profile RNG, the profile
//! row, and the events those traits produce.

use super::rng::Rng;
use super::world::{
    CATEGORIES, COLORS, DAY_US, EMAIL_DOMAINS, FEMALE_NAMES, INTERESTS, LAST_NAMES, MALE_NAMES,
    PLACES, PRODUCTS_PER_CATEGORY, World,
};

// Event type codes: indices into `crate::schema::EVENT_TYPES`.
pub(super) const SESSION_START: u8 = 0;
pub(super) const APP_OPEN: u8 = 1;
pub(super) const PAGE_VIEW: u8 = 2;
pub(super) const PRODUCT_VIEW: u8 = 3;
pub(super) const ADD_TO_CART: u8 = 4;
pub(super) const CART_ABANDONED: u8 = 5;
pub(super) const CHECKOUT_STARTED: u8 = 6;
pub(super) const PURCHASE: u8 = 7;
pub(super) const REFUND: u8 = 8;
pub(super) const EMAIL_OPEN: u8 = 9;
pub(super) const EMAIL_CLICK: u8 = 10;
pub(super) const PUSH_OPEN: u8 = 11;
pub(super) const IN_APP_CLICK: u8 = 12;
pub(super) const ACCOUNT_CREATED: u8 = 13;
pub(super) const SURVEY_ANSWERED: u8 = 14;

// Channel codes: indices into `crate::schema::CHANNELS`.
pub(super) const WEB: u8 = 0;
pub(super) const APP: u8 = 1;
pub(super) const POS: u8 = 2;
pub(super) const EMAIL: u8 = 3;
pub(super) const PUSH: u8 = 4;
pub(super) const SOCIAL: u8 = 6;

pub(super) const NO_AMOUNT: i64 = i64::MIN;
pub(super) const NO_PRODUCT: u32 = u32::MAX;
pub(super) const NO_CATEGORY: u8 = u8::MAX;

/// One event, compactly; strings are resolved when it is written.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ev {
    pub(super) t: i64,
    /// Cents, or [`NO_AMOUNT`].
    pub(super) amount: i64,
    /// (category << 16) | rank, or [`NO_PRODUCT`].
    pub(super) product: u32,
    /// Order sequence number within the profile (0 = none).
    pub(super) order: u32,
    /// Campaign index + 1 (0 = none).
    pub(super) campaign: u16,
    /// Units (0 = NULL).
    pub(super) qty: u16,
    pub(super) kind: u8,
    pub(super) channel: u8,
    /// Category when there is no product ([`NO_CATEGORY`] = none).
    pub(super) category: u8,
    /// 0 = none, 1.. = online payment index + 1, 101.. = pos payment + 101.
    pub(super) pay: u8,
}

impl Ev {
    fn new(t: i64, kind: u8, channel: u8) -> Ev {
        Ev {
            t,
            amount: NO_AMOUNT,
            product: NO_PRODUCT,
            order: 0,
            campaign: 0,
            qty: 0,
            kind,
            channel,
            category: NO_CATEGORY,
            pay: 0,
        }
    }
}

/// The profile row (strings borrowed from the lookup tables where possible).
#[derive(Debug, Default)]
pub(super) struct ProfileRow {
    pub(super) external_id: String,
    pub(super) email: Option<String>,
    pub(super) first_name: Option<&'static str>,
    pub(super) last_name: Option<&'static str>,
    pub(super) gender: Option<&'static str>,
    /// Days since the Unix epoch.
    pub(super) birth_date: Option<i32>,
    pub(super) language: Option<&'static str>,
    pub(super) timezone: Option<&'static str>,
    pub(super) country: Option<&'static str>,
    pub(super) region: Option<&'static str>,
    pub(super) city: Option<&'static str>,
    pub(super) signup_at: i64,
    pub(super) app_version: Option<String>,
    pub(super) loyalty_tier: Option<&'static str>,
    pub(super) consent_email: Option<bool>,
    pub(super) consent_push: Option<bool>,
    pub(super) consent_sms: Option<bool>,
    pub(super) favorite_color: Option<&'static str>,
    pub(super) interests: Option<Vec<&'static str>>,
    pub(super) purchase_intent: Option<&'static str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    OnlineOnly,
    StoreOnly,
    Omnichannel,
}

/// Calibrates the mean number of events per profile to about 50.
const SESSION_RATE: f64 = 0.0235;
const STORE_RATE: f64 = 0.0215;

/// Signup time of the profile at quantile `q` of the id range: 20 % signed
/// up in the 2 years before the window, the rest inside the window with
/// signups growing about 2.7x from its start to its end.
fn signup_time(world: &World, q: f64, rng: &mut Rng) -> i64 {
    let window = (world.as_of_us - world.start_us) as f64;
    let t = if q < 0.2 {
        world.start_us as f64 - (0.2 - q) / 0.2 * 730.0 * DAY_US as f64
    } else {
        let g = 1.0_f64;
        let q = (q - 0.2) / 0.8;
        world.start_us as f64 + (1.0 + q * (g.exp() - 1.0)).ln() / g * window
    };
    (t as i64 + rng.below(DAY_US as u64 / 4) as i64).min(world.as_of_us - 1)
}

/// Generates profile `id` (of `n`): its row, and its events (unsorted)
/// appended to `events`.
pub(super) fn generate_profile(
    world: &World,
    seed: u64,
    id: u64,
    n: u64,
    row: &mut ProfileRow,
    events: &mut Vec<Ev>,
) {
    let mut rng = Rng::new(seed, id);
    let rng = &mut rng;
    let q = (id as f64 - 0.5) / n as f64;
    let signup = signup_time(world, q, rng);
    let class = match rng.f64() {
        x if x < 0.5 => Class::OnlineOnly,
        x if x < 0.7 => Class::StoreOnly,
        _ => Class::Omnichannel,
    };
    let has_events = rng.chance(0.9);
    let prefers_app = class != Class::StoreOnly && rng.chance(0.4);
    let place = &PLACES[rng.pick_cdf(&world.place_cdf)];

    // Spend and activity traits (heavy tailed).
    let mut activity = rng.lognormal(1.0, 0.95).min(12.0);
    let store_activity = rng.lognormal(1.0, 0.8).min(8.0);
    let mut buy = rng.lognormal(1.0, 0.45);
    let price_level = rng.lognormal(1.0, 0.4);

    // Identity and contact.
    let gender = match rng.f64() {
        x if x < 0.47 => Some("female"),
        x if x < 0.88 => Some("male"),
        x if x < 0.90 => Some("non_binary"),
        _ => None,
    };
    let first = if gender == Some("male") || (gender.is_none() && rng.chance(0.5)) {
        *rng.pick(&MALE_NAMES)
    } else {
        *rng.pick(&FEMALE_NAMES)
    };
    let last = *rng.pick(&LAST_NAMES);
    let has_email = rng.chance(if class == Class::StoreOnly {
        0.55
    } else {
        0.97
    });
    let consent_email = has_email.then(|| rng.chance(0.62));
    let email_eng = if consent_email == Some(true) {
        rng.f64().powi(2) * 0.55
    } else {
        0.0
    };
    let consent_push = prefers_app.then(|| rng.chance(0.55));
    let push_eng = if consent_push == Some(true) {
        rng.f64().powi(2) * 0.3
    } else {
        0.0
    };
    // Engaged subscribers visit and buy more.
    activity *= 0.75 + 1.2 * email_eng;
    buy *= 0.8 + 1.0 * email_eng;

    row.external_id = format!(
        "C{:010}",
        (id.wrapping_mul(7_919_854_421) + 1_234_567) % 10_000_000_000
    );
    row.email = has_email.then(|| {
        let domain = EMAIL_DOMAINS[rng.pick_cdf(&world.domain_cdf)].0;
        let sep = if rng.chance(0.5) { "." } else { "_" };
        format!(
            "{}{sep}{}{}@{domain}",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            id
        )
    });
    row.first_name = (!rng.chance(0.04)).then_some(first);
    row.last_name = (!rng.chance(0.06)).then_some(last);
    row.gender = gender;
    row.birth_date = (!rng.chance(0.28)).then(|| {
        let age = (38.0 + 12.5 * rng.normal()).clamp(16.0, 88.0);
        let as_of_days = world.as_of_us.div_euclid(DAY_US);
        (as_of_days - (age * 365.25) as i64 - rng.below(365) as i64) as i32
    });
    let country_known = !rng.chance(0.015);
    row.language = (!rng.chance(0.03)).then_some(place.language);
    row.timezone = (prefers_app || rng.chance(0.8)).then_some(place.timezone);
    row.country = country_known.then_some(place.country);
    row.region = (country_known && !rng.chance(0.06)).then_some(place.region);
    row.city = (country_known && !rng.chance(0.04)).then_some(place.city);
    row.signup_at = signup;
    row.consent_email = consent_email;
    row.consent_push = consent_push;
    row.consent_sms = if rng.chance(0.35) {
        None
    } else {
        Some(rng.chance(0.2))
    };

    // Zero-party data: about 30 % answered the preference survey.
    let answered = rng.chance(0.3);
    let mut favorite_category = rng.pick_cdf(&world.category_cdf);
    row.favorite_color = None;
    row.interests = None;
    row.purchase_intent = None;
    if answered {
        row.favorite_color = (!rng.chance(0.1)).then(|| *rng.pick(&COLORS));
        if !rng.chance(0.15) {
            let k = 1 + rng.below(4) as usize;
            let mut picked: Vec<&'static str> = Vec::with_capacity(k);
            for i in 0..k {
                let (name, cat) = INTERESTS[rng.below(INTERESTS.len() as u64) as usize];
                if !picked.contains(&name) {
                    picked.push(name);
                    if i == 0 {
                        favorite_category = cat;
                    }
                }
            }
            row.interests = Some(picked);
        }
        row.purchase_intent = (!rng.chance(0.1)).then_some(match buy * activity {
            x if x > 1.6 => "high",
            x if x > 0.8 => "medium",
            _ => "low",
        });
    }

    // Active periods: from the first visit until churn, and for some
    // churned customers a comeback period later.
    let online = class != Class::StoreOnly;
    let store = class != Class::OnlineOnly;
    let first_active = signup.max(world.start_us) + (rng.exp(4.0) * DAY_US as f64) as i64;
    let lifetime = rng.exp(430.0 * (1.0 + email_eng) * buy.sqrt()) * DAY_US as f64;
    let end1 = first_active
        .saturating_add(lifetime as i64)
        .min(world.as_of_us);
    let mut periods = [(first_active, end1), (0, 0)];
    if end1 < world.as_of_us && rng.chance(0.3) {
        let back = end1 + ((90.0 + rng.exp(150.0)) * DAY_US as f64) as i64;
        let until = back + (rng.exp(220.0) * DAY_US as f64) as i64;
        if back < world.as_of_us {
            periods[1] = (back, until.min(world.as_of_us));
        }
    }
    let last_active = periods[0].1.max(periods[1].1);

    let session_rate = SESSION_RATE
        * activity
        * match class {
            Class::OnlineOnly => 1.0,
            Class::Omnichannel => 0.75,
            Class::StoreOnly => 0.0,
        };
    let store_rate = STORE_RATE
        * store_activity
        * match class {
            Class::StoreOnly => 1.0,
            Class::Omnichannel => 0.55,
            Class::OnlineOnly => 0.0,
        };
    let purchase_chance = (0.16 * buy).min(0.9) * (0.5 * buy.sqrt()).min(0.95) * 0.85;
    let expected_orders_per_year = 365.0 * (session_rate * purchase_chance + store_rate);
    let expected_spend = expected_orders_per_year * 45.0 * price_level;
    row.loyalty_tier = (rng.chance(0.55) && has_events).then_some(match expected_spend {
        x if x > 1500.0 => "platinum",
        x if x > 600.0 => "gold",
        x if x > 200.0 => "silver",
        _ => "bronze",
    });
    row.app_version = prefers_app.then(|| {
        // Versions move on over time; the last active month decides.
        let months =
            ((last_active.min(world.as_of_us) - world.start_us).max(0) / (30 * DAY_US)) as u64;
        format!("{}.{}.{}", 4 + months / 12, months % 12, rng.below(4))
    });

    if !has_events {
        return;
    }

    let mut s = Shopper {
        world,
        rng,
        events,
        offset: place.offset_hours,
        prefers_app,
        buy,
        price_level,
        favorite_category,
        orders: 0,
        preferred_pay: 0,
    };
    s.preferred_pay = s.rng.pick_cdf(&world.online_pay_cdf) as u8;

    if signup >= world.start_us {
        let ch = match class {
            Class::StoreOnly => POS,
            _ if prefers_app => APP,
            _ => WEB,
        };
        s.events.push(Ev::new(signup, ACCOUNT_CREATED, ch));
    }
    if answered {
        let t = signup.max(world.start_us) + (s.rng.exp(45.0) * DAY_US as f64) as i64;
        if t < world.as_of_us {
            let ch = if prefers_app { APP } else { EMAIL };
            s.events.push(Ev::new(t, SURVEY_ANSWERED, ch));
        }
    }

    for &(a, b) in periods.iter().filter(|p| p.1 > p.0) {
        if online {
            let k = s.rng.poisson(session_rate * world.weight(false, a, b));
            for _ in 0..k {
                if let Some(t) = world.sample_time(s.rng, false, a, b, s.offset) {
                    s.session(t, 0, 1.0);
                }
            }
        }
        if store {
            let k = s.rng.poisson(store_rate * world.weight(true, a, b));
            for _ in 0..k {
                if let Some(t) = world.sample_time(s.rng, true, a, b, s.offset) {
                    s.store_visit(t);
                }
            }
        }
    }

    // Email: opens while subscribed (until ~4 months after the last active
    // period), clicks lead to sessions that buy more often.
    let subscribed_until = (last_active + 120 * DAY_US).min(world.as_of_us);
    if email_eng > 0.0 {
        s.messages(
            false,
            signup.max(world.start_us),
            subscribed_until,
            email_eng,
        );
    }
    if push_eng > 0.0 {
        s.messages(true, signup.max(world.start_us), subscribed_until, push_eng);
    }
}

struct Shopper<'a> {
    world: &'a World,
    rng: &'a mut Rng,
    events: &'a mut Vec<Ev>,
    offset: i64,
    prefers_app: bool,
    buy: f64,
    price_level: f64,
    favorite_category: usize,
    orders: u32,
    preferred_pay: u8,
}

const SEC: i64 = 1_000_000;

impl Shopper<'_> {
    fn product(&mut self) -> (usize, usize) {
        let cat = if self.rng.chance(0.55) {
            self.favorite_category
        } else {
            self.rng.pick_cdf(&self.world.category_cdf)
        };
        let rank = self
            .rng
            .pick_cdf(&self.world.product_rank_cdf)
            .min(PRODUCTS_PER_CATEGORY - 1);
        (cat, rank)
    }

    fn price(&mut self, cat: usize, rank: usize) -> i64 {
        let base = self.world.product_prices[cat][rank] as f64;
        (base * self.price_level).round() as i64
    }

    fn push(&mut self, ev: Ev) {
        self.events.push(ev);
    }

    /// An online session starting at `t` (from campaign `campaign` + 1 if
    /// non-zero, which makes buying `boost` times likelier).
    fn session(&mut self, mut t: i64, campaign: u16, boost: f64) {
        let channel = if self.prefers_app {
            match self.rng.f64() {
                x if x < 0.75 => APP,
                x if x < 0.95 => WEB,
                _ => SOCIAL,
            }
        } else if self.rng.chance(0.1) {
            SOCIAL
        } else {
            WEB
        };
        let mut start = Ev::new(
            t,
            if channel == APP {
                APP_OPEN
            } else {
                SESSION_START
            },
            channel,
        );
        start.campaign = campaign;
        self.push(start);
        let views = 1 + self.rng.geometric(0.38).min(14);
        let mut last_product = None;
        for _ in 0..views {
            t += (5.0 + self.rng.exp(40.0)) as i64 * SEC;
            if self.rng.chance(0.3) {
                let mut ev = Ev::new(t, PAGE_VIEW, channel);
                if self.rng.chance(0.5) {
                    ev.category = self.product().0 as u8;
                }
                self.push(ev);
            } else {
                let (c, r) = self.product();
                let mut ev = Ev::new(t, PRODUCT_VIEW, channel);
                ev.product = ((c as u32) << 16) | r as u32;
                self.push(ev);
                last_product = Some((c, r));
            }
        }
        if channel == APP && self.rng.chance(0.35) {
            t += (3.0 + self.rng.exp(20.0)) as i64 * SEC;
            self.push(Ev::new(t, IN_APP_CLICK, APP));
        }
        let cart_chance = (0.16 * self.buy * boost).min(0.9);
        if !self.rng.chance(cart_chance) {
            return;
        }
        // Cart: 1-4 lines.
        let lines = 1 + self.rng.geometric(0.6).min(3);
        let (mut total, mut units, mut first) = (0i64, 0u16, NO_PRODUCT);
        for i in 0..lines {
            let (c, r) = match last_product {
                Some(p) if i == 0 => p,
                _ => self.product(),
            };
            let qty = if self.rng.chance(0.85) {
                1
            } else {
                2 + self.rng.below(2) as u16
            };
            let amount = self.price(c, r) * qty as i64;
            t += (10.0 + self.rng.exp(60.0)) as i64 * SEC;
            let mut ev = Ev::new(t, ADD_TO_CART, channel);
            ev.product = ((c as u32) << 16) | r as u32;
            ev.qty = qty;
            ev.amount = amount;
            self.push(ev);
            total += amount;
            units += qty;
            if first == NO_PRODUCT {
                first = ev.product;
            }
        }
        let checkout_chance = (0.5 * self.buy.sqrt() * boost.sqrt()).min(0.95);
        if self.rng.chance(checkout_chance) {
            t += (20.0 + self.rng.exp(90.0)) as i64 * SEC;
            let mut ev = Ev::new(t, CHECKOUT_STARTED, channel);
            ev.amount = total;
            ev.qty = units;
            ev.product = first;
            self.push(ev);
            if self.rng.chance(0.85) {
                t += (30.0 + self.rng.exp(120.0)) as i64 * SEC;
                let pay = if self.rng.chance(0.7) {
                    self.preferred_pay
                } else {
                    self.rng.pick_cdf(&self.world.online_pay_cdf) as u8
                };
                self.order(t, channel, total, units, first, 1 + pay, campaign);
                return;
            }
        }
        // Abandoned: the cart is noticed as abandoned after 30-90 minutes.
        t += (1800.0 + self.rng.f64() * 3600.0) as i64 * SEC;
        let mut ev = Ev::new(t, CART_ABANDONED, channel);
        ev.amount = total;
        ev.qty = units;
        ev.product = first;
        self.push(ev);
    }

    #[allow(clippy::too_many_arguments)]
    fn order(
        &mut self,
        t: i64,
        channel: u8,
        total: i64,
        units: u16,
        product: u32,
        pay: u8,
        campaign: u16,
    ) {
        self.orders += 1;
        let mut ev = Ev::new(t, PURCHASE, channel);
        ev.amount = total;
        ev.qty = units;
        ev.product = product;
        ev.order = self.orders;
        ev.pay = pay;
        ev.campaign = campaign;
        self.push(ev);
        let refund_rate = CATEGORIES[(product >> 16) as usize].3;
        if self.rng.chance(refund_rate) {
            let rt = t + ((3.0 + self.rng.exp(10.0)) * DAY_US as f64) as i64;
            if rt < self.world.as_of_us {
                let mut r = ev;
                r.t = rt;
                r.kind = REFUND;
                r.campaign = 0;
                r.amount = -if self.rng.chance(0.7) {
                    total
                } else {
                    total / 2
                };
                self.push(r);
            }
        }
    }

    /// A store visit with a purchase at the till.
    fn store_visit(&mut self, t: i64) {
        let lines = 1 + self.rng.geometric(0.45).min(8);
        let (mut total, mut units, mut first) = (0i64, 0u16, NO_PRODUCT);
        for _ in 0..lines {
            let (c, r) = self.product();
            let qty = if self.rng.chance(0.8) { 1 } else { 2 };
            total += self.price(c, r) * qty as i64;
            units += qty;
            if first == NO_PRODUCT {
                first = ((c as u32) << 16) | r as u32;
            }
        }
        let pay = 101 + self.rng.pick_cdf(&self.world.pos_pay_cdf) as u8;
        self.order(t, POS, total, units, first, pay, 0);
    }

    /// Email (push = false) or push messages received in [from, until):
    /// opens with probability `eng` × the campaign's boost.
    fn messages(&mut self, push: bool, from: i64, until: i64, eng: f64) {
        let world = self.world;
        let list = if push {
            &world.push_campaigns
        } else {
            &world.email_campaigns
        };
        let lo = list.partition_point(|c| c.t < from);
        let hi = list.partition_point(|c| c.t < until);
        let mut i = lo;
        loop {
            // Skip ahead geometrically at the base rate, then thin by boost.
            let skip = self.rng.geometric((eng * 1.8).min(1.0));
            i = match i.checked_add(skip as usize) {
                Some(i) if i < hi => i,
                _ => break,
            };
            let c = list[i];
            i += 1;
            if !self.rng.chance(c.boost / 1.8) {
                continue;
            }
            let t = c.t + (self.rng.exp(5.0) * 3600.0) as i64 * SEC;
            if t >= world.as_of_us {
                continue;
            }
            let mut ev = Ev::new(
                t,
                if push { PUSH_OPEN } else { EMAIL_OPEN },
                if push { PUSH } else { EMAIL },
            );
            ev.campaign = c.id + 1;
            self.push(ev);
            let click = if push { 0.45 } else { 0.2 * c.boost };
            if self.rng.chance(click.min(0.9)) {
                let mut t = t;
                if !push {
                    t += (5.0 + self.rng.exp(60.0)) as i64 * SEC;
                    let mut ev = Ev::new(t, EMAIL_CLICK, EMAIL);
                    ev.campaign = c.id + 1;
                    self.push(ev);
                }
                t += (3.0 + self.rng.exp(20.0)) as i64 * SEC;
                if t < world.as_of_us {
                    self.session(t, c.id + 1, 1.3 * c.boost);
                }
            }
        }
    }
}
