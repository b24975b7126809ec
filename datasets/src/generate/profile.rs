//! One customer: latent traits drawn from a per-profile RNG, the profile
//! row, and the events those traits produce.

use super::rng::Rng;
use super::world::{
    CATEGORIES, COLORS, DAY_US, EMAIL_DOMAINS, FEMALE_NAMES, INTERESTS, LAST_NAMES, MALE_NAMES,
    PLACES, PRODUCTS_PER_CATEGORY, Place, World,
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

/// Where a customer shops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    OnlineOnly,
    StoreOnly,
    Omnichannel,
}

impl Class {
    /// Half shop only online, a fifth only in store, the rest both.
    fn draw(rng: &mut Rng) -> Class {
        match rng.f64() {
            x if x < 0.5 => Class::OnlineOnly,
            x if x < 0.7 => Class::StoreOnly,
            _ => Class::Omnichannel,
        }
    }

    /// Whether the customer visits the web shop or the app.
    fn online(self) -> bool {
        self != Class::StoreOnly
    }

    /// Whether the customer visits stores.
    fn in_store(self) -> bool {
        self != Class::OnlineOnly
    }
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
///
/// Everything is drawn from the profile's own RNG stream, in a fixed order:
/// changing the order of the steps below changes the generated data.
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
    let mut traits = Traits::draw(world, (id as f64 - 0.5) / n as f64, rng);
    let contact = Contact::draw(&traits, rng);
    traits.engage(contact.email_eng);
    write_contact(row, world, id, &traits, &contact, rng);
    let survey = Survey::take(world, &traits, row, rng);
    let periods = active_periods(world, &traits, contact.email_eng, rng);
    let last_active = periods[0].1.max(periods[1].1);
    let rates = Rates::new(&traits);
    row.loyalty_tier = loyalty_tier(&rates, &traits, rng);
    row.app_version = traits
        .prefers_app
        .then(|| app_version(world, last_active, rng));

    if !traits.has_events {
        return;
    }
    let mut shopper = Shopper::new(world, rng, events, &traits, survey.favorite_category);
    shopper.milestones(&traits, survey.answered);
    for &(a, b) in periods.iter().filter(|p| p.1 > p.0) {
        shopper.active_period(a, b, traits.class, &rates);
    }
    shopper.subscriptions(traits.first_seen(world), last_active, &contact);
}

/// The latent traits a customer's row and behavior follow from.
struct Traits {
    signup: i64,
    class: Class,
    /// About 10 % of profiles never produce an event.
    has_events: bool,
    prefers_app: bool,
    place: &'static Place,
    /// Online visit frequency multiplier (heavy tailed).
    activity: f64,
    /// Store visit frequency multiplier (heavy tailed).
    store_activity: f64,
    /// Propensity to add to cart and check out.
    buy: f64,
    /// Multiplier on catalog prices.
    price_level: f64,
}

impl Traits {
    /// Draws the traits of the profile at quantile `q` of the id range.
    fn draw(world: &World, q: f64, rng: &mut Rng) -> Traits {
        let signup = signup_time(world, q, rng);
        let class = Class::draw(rng);
        let has_events = rng.chance(0.9);
        let prefers_app = class.online() && rng.chance(0.4);
        let place = &PLACES[rng.pick_cdf(&world.place_cdf)];
        let activity = rng.lognormal(1.0, 0.95).min(12.0);
        let store_activity = rng.lognormal(1.0, 0.8).min(8.0);
        let buy = rng.lognormal(1.0, 0.45);
        let price_level = rng.lognormal(1.0, 0.4);
        Traits {
            signup,
            class,
            has_events,
            prefers_app,
            place,
            activity,
            store_activity,
            buy,
            price_level,
        }
    }

    /// Engaged email subscribers visit and buy more.
    fn engage(&mut self, email_eng: f64) {
        self.activity *= 0.75 + 1.2 * email_eng;
        self.buy *= 0.8 + 1.0 * email_eng;
    }

    /// When the customer is first seen: at signup, or at the window's start
    /// for customers who signed up before it.
    fn first_seen(&self, world: &World) -> i64 {
        self.signup.max(world.start_us)
    }
}

/// Who the customer is, and how readily they open what is sent to them.
struct Contact {
    gender: Option<&'static str>,
    first: &'static str,
    last: &'static str,
    has_email: bool,
    consent_email: Option<bool>,
    consent_push: Option<bool>,
    /// Base chance of opening a newsletter (0 unless subscribed).
    email_eng: f64,
    /// Base chance of opening a push message (0 unless opted in).
    push_eng: f64,
}

impl Contact {
    fn draw(traits: &Traits, rng: &mut Rng) -> Contact {
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
        let store_only = traits.class == Class::StoreOnly;
        let has_email = rng.chance(if store_only { 0.55 } else { 0.97 });
        let consent_email = has_email.then(|| rng.chance(0.62));
        let email_eng = engagement(consent_email, 0.55, rng);
        let consent_push = traits.prefers_app.then(|| rng.chance(0.55));
        let push_eng = engagement(consent_push, 0.3, rng);
        Contact {
            gender,
            first,
            last,
            has_email,
            consent_email,
            consent_push,
            email_eng,
            push_eng,
        }
    }
}

/// How readily a customer who opted in opens messages: up to `max`, mostly
/// low. Drawn only for those who opted in.
fn engagement(consent: Option<bool>, max: f64, rng: &mut Rng) -> f64 {
    if consent == Some(true) {
        rng.f64().powi(2) * max
    } else {
        0.0
    }
}

/// Fills the row's identity, location and consent columns, leaving some
/// unknown as real customer data does.
fn write_contact(
    row: &mut ProfileRow,
    world: &World,
    id: u64,
    traits: &Traits,
    contact: &Contact,
    rng: &mut Rng,
) {
    row.external_id = format!(
        "C{:010}",
        (id.wrapping_mul(7_919_854_421) + 1_234_567) % 10_000_000_000
    );
    row.email = contact
        .has_email
        .then(|| email_address(world, id, contact, rng));
    row.first_name = (!rng.chance(0.04)).then_some(contact.first);
    row.last_name = (!rng.chance(0.06)).then_some(contact.last);
    row.gender = contact.gender;
    row.birth_date = (!rng.chance(0.28)).then(|| birth_date(world, rng));
    write_location(row, traits, rng);
    row.signup_at = traits.signup;
    row.consent_email = contact.consent_email;
    row.consent_push = contact.consent_push;
    row.consent_sms = if rng.chance(0.35) {
        None
    } else {
        Some(rng.chance(0.2))
    };
}

/// `first.last<id>@domain` or `first_last<id>@domain`, in lower case.
fn email_address(world: &World, id: u64, contact: &Contact, rng: &mut Rng) -> String {
    let domain = EMAIL_DOMAINS[rng.pick_cdf(&world.domain_cdf)].0;
    let sep = if rng.chance(0.5) { "." } else { "_" };
    format!(
        "{}{sep}{}{}@{domain}",
        contact.first.to_ascii_lowercase(),
        contact.last.to_ascii_lowercase(),
        id
    )
}

/// A birth date (days since the epoch) for an age of about 38 ± 12.5 years
/// at `as_of`, between 16 and 88.
fn birth_date(world: &World, rng: &mut Rng) -> i32 {
    let age = (38.0 + 12.5 * rng.normal()).clamp(16.0, 88.0);
    let as_of_days = world.as_of_us.div_euclid(DAY_US);
    (as_of_days - (age * 365.25) as i64 - rng.below(365) as i64) as i32
}

/// Fills language, time zone, country, region and city from the customer's
/// place; app users always have a time zone, and region and city are only
/// known when the country is.
fn write_location(row: &mut ProfileRow, traits: &Traits, rng: &mut Rng) {
    let place = traits.place;
    let country_known = !rng.chance(0.015);
    row.language = (!rng.chance(0.03)).then_some(place.language);
    row.timezone = (traits.prefers_app || rng.chance(0.8)).then_some(place.timezone);
    row.country = country_known.then_some(place.country);
    row.region = (country_known && !rng.chance(0.06)).then_some(place.region);
    row.city = (country_known && !rng.chance(0.04)).then_some(place.city);
}

/// The zero-party preference survey, answered by about 30 %.
struct Survey {
    answered: bool,
    /// The category the customer mostly browses: the one their first stated
    /// interest leans to, or else a popular one.
    favorite_category: usize,
}

impl Survey {
    /// Draws the survey and fills the row's zero-party columns.
    fn take(world: &World, traits: &Traits, row: &mut ProfileRow, rng: &mut Rng) -> Survey {
        let answered = rng.chance(0.3);
        let mut favorite_category = rng.pick_cdf(&world.category_cdf);
        row.favorite_color = None;
        row.interests = None;
        row.purchase_intent = None;
        if answered {
            row.favorite_color = (!rng.chance(0.1)).then(|| *rng.pick(&COLORS));
            if !rng.chance(0.15) {
                let (interests, leaning) = interests(rng);
                row.interests = Some(interests);
                favorite_category = leaning;
            }
            let intent = match traits.buy * traits.activity {
                x if x > 1.6 => "high",
                x if x > 0.8 => "medium",
                _ => "low",
            };
            row.purchase_intent = (!rng.chance(0.1)).then_some(intent);
        }
        Survey {
            answered,
            favorite_category,
        }
    }
}

/// 1 to 4 stated interests (repeats dropped) and the category the first
/// one leans to.
fn interests(rng: &mut Rng) -> (Vec<&'static str>, usize) {
    let k = 1 + rng.below(4) as usize;
    let mut draw = || INTERESTS[rng.below(INTERESTS.len() as u64) as usize];
    let (first, leaning) = draw();
    let mut picked = Vec::with_capacity(k);
    picked.push(first);
    for _ in 1..k {
        let (name, _) = draw();
        if !picked.contains(&name) {
            picked.push(name);
        }
    }
    (picked, leaning)
}

/// Active periods: from the first visit until churn, and for some churned
/// customers a comeback period later (else `(0, 0)`).
fn active_periods(
    world: &World,
    traits: &Traits,
    email_eng: f64,
    rng: &mut Rng,
) -> [(i64, i64); 2] {
    let first_active = traits.first_seen(world) + (rng.exp(4.0) * DAY_US as f64) as i64;
    let lifetime = rng.exp(430.0 * (1.0 + email_eng) * traits.buy.sqrt()) * DAY_US as f64;
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
    periods
}

/// Expected online sessions and store visits per day of mean seasonal
/// weight.
struct Rates {
    session: f64,
    store: f64,
}

impl Rates {
    fn new(traits: &Traits) -> Rates {
        let session = SESSION_RATE
            * traits.activity
            * match traits.class {
                Class::OnlineOnly => 1.0,
                Class::Omnichannel => 0.75,
                Class::StoreOnly => 0.0,
            };
        let store = STORE_RATE
            * traits.store_activity
            * match traits.class {
                Class::StoreOnly => 1.0,
                Class::Omnichannel => 0.55,
                Class::OnlineOnly => 0.0,
            };
        Rates { session, store }
    }

    /// Expected spend per year (whole currency units).
    fn expected_spend(&self, traits: &Traits) -> f64 {
        let buy = traits.buy;
        let purchase_chance = (0.16 * buy).min(0.9) * (0.5 * buy.sqrt()).min(0.95) * 0.85;
        let expected_orders_per_year = 365.0 * (self.session * purchase_chance + self.store);
        expected_orders_per_year * 45.0 * traits.price_level
    }
}

/// About 55 % of the customers with events are loyalty members, tiered by
/// expected yearly spend.
fn loyalty_tier(rates: &Rates, traits: &Traits, rng: &mut Rng) -> Option<&'static str> {
    let member = rng.chance(0.55) && traits.has_events;
    member.then(|| match rates.expected_spend(traits) {
        x if x > 1500.0 => "platinum",
        x if x > 600.0 => "gold",
        x if x > 200.0 => "silver",
        _ => "bronze",
    })
}

/// The app version last used: versions move on over time, so the last
/// active month decides.
fn app_version(world: &World, last_active: i64, rng: &mut Rng) -> String {
    let months = ((last_active.min(world.as_of_us) - world.start_us).max(0) / (30 * DAY_US)) as u64;
    format!("{}.{}.{}", 4 + months / 12, months % 12, rng.below(4))
}

/// Generates one customer's events from their traits.
struct Shopper<'a> {
    world: &'a World,
    rng: &'a mut Rng,
    events: &'a mut Vec<Ev>,
    /// UTC offset (hours) of the customer's place.
    offset: i64,
    prefers_app: bool,
    buy: f64,
    price_level: f64,
    favorite_category: usize,
    /// Orders placed so far.
    orders: u32,
    /// Index into `ONLINE_PAYMENTS` of the usual online payment method.
    preferred_pay: u8,
}

const SEC: i64 = 1_000_000;

impl<'a> Shopper<'a> {
    /// A shopper appending to `events`; draws the preferred payment method.
    fn new(
        world: &'a World,
        rng: &'a mut Rng,
        events: &'a mut Vec<Ev>,
        traits: &Traits,
        favorite_category: usize,
    ) -> Shopper<'a> {
        let preferred_pay = rng.pick_cdf(&world.online_pay_cdf) as u8;
        Shopper {
            world,
            rng,
            events,
            offset: traits.place.offset_hours,
            prefers_app: traits.prefers_app,
            buy: traits.buy,
            price_level: traits.price_level,
            favorite_category,
            orders: 0,
            preferred_pay,
        }
    }
}

impl Shopper<'_> {
    /// The account's creation (when inside the window) and, for those who
    /// answered it, the survey some weeks after the customer is first seen.
    fn milestones(&mut self, traits: &Traits, answered: bool) {
        let world = self.world;
        if traits.signup >= world.start_us {
            let ch = match traits.class {
                Class::StoreOnly => POS,
                _ if traits.prefers_app => APP,
                _ => WEB,
            };
            self.push(Ev::new(traits.signup, ACCOUNT_CREATED, ch));
        }
        if answered {
            let t = traits.first_seen(world) + (self.rng.exp(45.0) * DAY_US as f64) as i64;
            if t < world.as_of_us {
                let ch = if self.prefers_app { APP } else { EMAIL };
                self.push(Ev::new(t, SURVEY_ANSWERED, ch));
            }
        }
    }

    /// The online sessions and store visits of the active period [a, b).
    fn active_period(&mut self, a: i64, b: i64, class: Class, rates: &Rates) {
        let world = self.world;
        if class.online() {
            let k = self.rng.poisson(rates.session * world.weight(false, a, b));
            for _ in 0..k {
                if let Some(t) = world.sample_time(self.rng, false, a, b, self.offset) {
                    self.session(t, 0, 1.0);
                }
            }
        }
        if class.in_store() {
            let k = self.rng.poisson(rates.store * world.weight(true, a, b));
            for _ in 0..k {
                if let Some(t) = world.sample_time(self.rng, true, a, b, self.offset) {
                    self.store_visit(t);
                }
            }
        }
    }

    /// Email and push messages received from `from` while subscribed (until
    /// about 4 months after the last active period); clicks lead to
    /// sessions that buy more often.
    fn subscriptions(&mut self, from: i64, last_active: i64, contact: &Contact) {
        let until = (last_active + 120 * DAY_US).min(self.world.as_of_us);
        if contact.email_eng > 0.0 {
            self.messages(false, from, until, contact.email_eng);
        }
        if contact.push_eng > 0.0 {
            self.messages(true, from, until, contact.push_eng);
        }
    }
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
