//! Admin UI sessions: random ids kept in memory with their CSRF token and
//! expiry, and the rate limit on wrong sign-ins.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "halcytone_session";

/// Sign-ins a client may try per minute, right or wrong: a limit that a
/// right guess could pass would not slow guessing down.
const SIGN_INS_PER_MINUTE: u32 = 5;

/// The most sessions kept: past it the one nearest its expiry goes, so
/// clients that drop their cookies cannot grow the map without bound.
const MAX_SESSIONS: usize = 10_000;

/// One signed-in browser.
#[derive(Debug, Clone)]
struct Session {
    csrf: String,
    expires: Instant,
    /// What the last action did, shown once on the next page.
    flash: Option<String>,
}

/// Sessions by id. A restart signs everyone out: sessions are not stored.
#[derive(Debug)]
pub(crate) struct Sessions {
    ttl: Duration,
    sessions: Mutex<HashMap<String, Session>>,
    sign_ins: DefaultKeyedRateLimiter<IpAddr>,
}

impl Sessions {
    /// Sessions that last `ttl` from sign-in.
    pub(crate) fn new(ttl: Duration) -> Self {
        let per_minute = NonZeroU32::new(SIGN_INS_PER_MINUTE).unwrap_or(NonZeroU32::MIN);
        Self {
            ttl,
            sessions: Mutex::new(HashMap::new()),
            sign_ins: RateLimiter::keyed(Quota::per_minute(per_minute)),
        }
    }

    /// How long a session lasts.
    pub(crate) fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Starts a session at `now`: its id and its CSRF token.
    pub(crate) fn start(&self, now: Instant) -> (String, String) {
        let id = random_token();
        let csrf = random_token();
        let mut sessions = self.lock();
        // Expired sessions go when new ones come, so the map stays bounded
        // by the sessions of one `ttl`.
        sessions.retain(|_, session| session.expires > now);
        if sessions.len() >= MAX_SESSIONS
            && let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, session)| session.expires)
                .map(|(id, _)| id.clone())
        {
            sessions.remove(&oldest);
        }
        sessions.insert(
            id.clone(),
            Session {
                csrf: csrf.clone(),
                expires: now + self.ttl,
                flash: None,
            },
        );
        (id, csrf)
    }

    /// The CSRF token of session `id` while it lasts at `now`.
    pub(crate) fn csrf(&self, id: &str, now: Instant) -> Option<String> {
        let mut sessions = self.lock();
        match sessions.get(id) {
            Some(session) if session.expires > now => Some(session.csrf.clone()),
            Some(_) => {
                sessions.remove(id);
                None
            }
            None => None,
        }
    }

    /// Keeps `message` for session `id`'s next page.
    pub(crate) fn set_flash(&self, id: &str, message: String) {
        if let Some(session) = self.lock().get_mut(id) {
            session.flash = Some(message);
        }
    }

    /// The message kept for session `id`, once.
    pub(crate) fn take_flash(&self, id: &str) -> Option<String> {
        self.lock()
            .get_mut(id)
            .and_then(|session| session.flash.take())
    }

    /// Ends session `id`.
    pub(crate) fn end(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Whether `client` may try a token now; each call counts as a try.
    pub(crate) fn may_try_token(&self, client: IpAddr) -> bool {
        self.sign_ins.check_key(&client).is_ok()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        // A panic while holding the lock leaves the map whole: take it back.
        self.sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// 256 random bits from the operating system, as hex.
fn random_token() -> String {
    let mut bytes = [0_u8; 32];
    // The OS generator fails only where nothing could run safely.
    if let Err(error) = getrandom::fill(&mut bytes) {
        panic!("the operating system's random generator failed: {error}");
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_lasts_its_ttl_and_no_longer() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let start = Instant::now();
        let (id, csrf) = sessions.start(start);
        assert_eq!(id.len(), 64);
        assert_ne!(id, csrf);
        assert_eq!(
            sessions.csrf(&id, start + Duration::from_secs(59)),
            Some(csrf)
        );
        assert_eq!(sessions.csrf(&id, start + Duration::from_secs(60)), None);
        // Once expired it stays gone.
        assert_eq!(sessions.csrf(&id, start), None);
    }

    #[test]
    fn signing_out_ends_the_session_and_unknown_ids_have_none() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let now = Instant::now();
        let (id, _) = sessions.start(now);
        sessions.end(&id);
        assert_eq!(sessions.csrf(&id, now), None);
        assert_eq!(sessions.csrf("nope", now), None);
    }

    #[test]
    fn a_flash_is_shown_once() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let (id, _) = sessions.start(Instant::now());
        sessions.set_flash(&id, "Approved 3 posts.".to_owned());
        assert_eq!(
            sessions.take_flash(&id).as_deref(),
            Some("Approved 3 posts.")
        );
        assert_eq!(sessions.take_flash(&id), None);
    }

    #[test]
    fn expired_sessions_are_dropped_when_a_new_one_starts() {
        let sessions = Sessions::new(Duration::from_secs(1));
        let now = Instant::now();
        sessions.start(now);
        sessions.start(now + Duration::from_secs(2));
        assert_eq!(sessions.lock().len(), 1);
    }

    #[test]
    fn sign_ins_are_limited_per_client() {
        let sessions = Sessions::new(Duration::from_secs(60));
        let client: IpAddr = [127, 0, 0, 1].into();
        for _ in 0..SIGN_INS_PER_MINUTE {
            assert!(sessions.may_try_token(client));
        }
        assert!(!sessions.may_try_token(client));
        assert!(sessions.may_try_token([127, 0, 0, 2].into()));
    }
}
