//! Secrets at rest (VAL-10, SEC-01): argon2id PHC strings for passwords and security codes, and
//! keyed digests for the codes a flow has mailed.
//!
//! A persisted flow holds only an [`IssuedCode`]: a keyed BLAKE2b digest of its code (key: a host
//! secret, [`CodeKey`]), so a leaked flow store reveals no live code.

use argon2::{Algorithm, Argon2, Params, Version};
use blake2::Blake2bMac;
use blake2::digest::{KeyInit, Mac, consts::U32};
use rand_core::CryptoRng;
use serde::{Deserialize, Serialize};
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::calendar::Instant;
use crate::policy::HashingParams;
use crate::values::Code;

/// An argon2id PHC string (`$argon2id$v=19$m=…`) of a password or security code (VAL-10).
/// Its `Debug` does not print it (SEC-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
/// use kaigo_seikyu::policy::HashingParams;
/// let hasher = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([7; 32]));
/// let hash = hasher.hash(b"Sakura2026!", &[1; 16]);
/// assert!(hash.as_phc().starts_with("$argon2id$v=19$m=8,t=1,p=1$"));
/// assert!(hasher.verify(b"Sakura2026!", &hash));
/// assert!(!hasher.verify(b"sakura2026!", &hash));
/// assert_eq!(format!("{hash:?}"), "PasswordHash(***)");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// The PHC string, to store.
    pub fn as_phc(&self) -> &str {
        &self.0
    }

    /// Wraps a PHC string loaded from storage. It is checked when verified: a malformed one never
    /// verifies.
    pub fn from_phc(phc: impl Into<String>) -> Self {
        PasswordHash(phc.into())
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash(***)")
    }
}

/// The host's secret key for code digests (SEC-01). Keep it out of the flow store.
///
/// # Example
/// ```
/// let key = kaigo_seikyu::secret::CodeKey::from_bytes([42; 32]);
/// assert_eq!(format!("{key:?}"), "CodeKey(***)");
/// ```
#[derive(Clone)]
pub struct CodeKey(Zeroizing<[u8; 32]>);

impl CodeKey {
    /// A key from 32 secret bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        CodeKey(Zeroizing::new(bytes))
    }

    /// A fresh random key from the host's CSPRNG.
    pub fn generate<R: CryptoRng + ?Sized>(rng: &mut R) -> Self {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rng.fill_bytes(bytes.as_mut());
        CodeKey(bytes)
    }
}

impl fmt::Debug for CodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeKey(***)")
    }
}

/// A keyed digest of a mailed code, as a flow persists it.
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeDigest(#[serde(with = "hex32")] pub [u8; 32]);

impl fmt::Debug for CodeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeDigest(***)")
    }
}

/// The hashing a flow does: argon2id for passwords (VAL-10), a keyed digest for codes (SEC-01).
///
/// A trait so tests can count the work done (RS-03: the matching and non-matching paths do the
/// same work); [`Argon2Hasher`] is the implementation.
pub trait SecretHasher: Send + Sync {
    /// Hashes a password or security code with the given 16-byte salt.
    fn hash(&self, secret: &[u8], salt: &[u8; 16]) -> PasswordHash;
    /// Whether `secret` matches `hash`. A malformed hash never matches.
    fn verify(&self, secret: &[u8], hash: &PasswordHash) -> bool;
    /// The keyed digest of a code with a per-issue nonce.
    fn digest(&self, code: &[u8], nonce: &[u8; 16]) -> CodeDigest;
}

/// A [`SecretHasher`] that counts the work it passes on to another: hashes, verifications and
/// keyed digests, and the time spent in the argon2 ones (hashes and verifications). For a host's
/// tests and measurements: RS-03 asks the matching and non-matching reset paths to do the same
/// work; WEB-04 asks that a refused form costs no hashing; a benchmark subtracts argon2's time
/// from a request's to see the rest.
///
/// # Example
/// ```
/// use kaigo_seikyu::policy::HashingParams;
/// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, CountingHasher, SecretHasher};
/// let hasher = CountingHasher::new(Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([1; 32])));
/// let hash = hasher.hash(b"Sakura2026!", &[7; 16]);
/// assert!(hasher.verify(b"Sakura2026!", &hash));
/// assert_eq!(hasher.counts(), [1, 1, 0]); // hashes, verifications, digests
/// assert!(hasher.argon2_time() > std::time::Duration::ZERO);
/// assert_eq!(hasher.take(), [1, 1, 0]); // the counts, which start again from zero
/// assert_eq!((hasher.counts(), hasher.argon2_time()), ([0, 0, 0], std::time::Duration::ZERO));
/// ```
#[derive(Debug, Default)]
pub struct CountingHasher<H> {
    inner: H,
    counts: [std::sync::atomic::AtomicUsize; 3],
    argon2_nanos: std::sync::atomic::AtomicU64,
}

impl<H> CountingHasher<H> {
    /// Counts what `inner` is asked to do.
    pub fn new(inner: H) -> Self {
        CountingHasher {
            inner,
            counts: Default::default(),
            argon2_nanos: Default::default(),
        }
    }

    /// Hashes, verifications and digests since [`CountingHasher::new`] or the last
    /// [`CountingHasher::take`].
    pub fn counts(&self) -> [usize; 3] {
        self.counts
            .each_ref()
            .map(|c| c.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The time spent in hashes and verifications since [`CountingHasher::new`] or the last
    /// [`CountingHasher::take`], summed over the threads that did them (with the inner hasher's
    /// wait for a place, if it has one: [`Argon2Hasher::passes_at_once`]).
    pub fn argon2_time(&self) -> std::time::Duration {
        std::time::Duration::from_nanos(self.argon2_nanos.load(std::sync::atomic::Ordering::SeqCst))
    }

    /// The counts so far; the counts and the time start again from zero.
    pub fn take(&self) -> [usize; 3] {
        use std::sync::atomic::Ordering::SeqCst;
        self.argon2_nanos.store(0, SeqCst);
        self.counts.each_ref().map(|c| c.swap(0, SeqCst))
    }

    fn count(&self, which: usize) {
        self.counts[which].fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }

    /// Counts an argon2 call (`which`: 0 hash, 1 verification) and the time `work` takes.
    fn argon2<T>(&self, which: usize, work: impl FnOnce() -> T) -> T {
        let start = std::time::Instant::now();
        let out = work();
        let nanos = u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX);
        self.argon2_nanos
            .fetch_add(nanos, std::sync::atomic::Ordering::SeqCst);
        self.count(which);
        out
    }
}

impl<H: SecretHasher> SecretHasher for CountingHasher<H> {
    fn hash(&self, secret: &[u8], salt: &[u8; 16]) -> PasswordHash {
        self.argon2(0, || self.inner.hash(secret, salt))
    }
    fn verify(&self, secret: &[u8], hash: &PasswordHash) -> bool {
        self.argon2(1, || self.inner.verify(secret, hash))
    }
    fn digest(&self, code: &[u8], nonce: &[u8; 16]) -> CodeDigest {
        self.count(2);
        self.inner.digest(code, nonce)
    }
}

/// argon2id (with the policy's parameters) and BLAKE2b-MAC keyed with the host's [`CodeKey`].
///
/// **At most [`passes_at_once`](Argon2Hasher::passes_at_once) argon2 passes run at once** (by
/// default one per core: [`std::thread::available_parallelism`]); a hash or verification beyond
/// that waits, blocking its thread, until one ends. More passes at once than cores would not end
/// sooner: they would share the cores, each holding its memory longer. So the memory argon2 holds
/// is bounded, whatever the number of requests: `passes_at_once` buffers of `memory_kib` (19 MiB
/// by default) kept for the policy's parameters, plus, while passes on hashes stored under other
/// parameters run, at most `passes_at_once` buffers of their size (each at most
/// [`MAX_STORED_MEMORY_KIB`]). Each pass with the policy's parameters works in a buffer kept from
/// an earlier one, so it does not allocate, zero and fault in 19 MiB again. Clones share the
/// limit and the buffers.
///
/// A kept buffer holds the last pass's blocks, which derive from a password, until the next pass
/// overwrites them: they stay in the process's memory while it idles. Without kept buffers
/// argon2 freed them without zeroing (its `zeroize` feature is off), so freed memory held them
/// too until it was reused; zeroing 19 MiB after every pass would cost what keeping them saves.
///
/// # Example
/// ```
/// use kaigo_seikyu::policy::HashingParams;
/// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
/// use std::num::NonZeroUsize;
/// let hasher = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([7; 32]))
///     .passes_at_once(NonZeroUsize::new(4).unwrap());
/// let hash = hasher.hash(b"Sakura2026!", &[1; 16]);
/// assert!(hasher.verify(b"Sakura2026!", &hash)); // in the buffer the hash used
/// assert_eq!(hasher.kept_buffers(), 1);
/// ```
#[derive(Debug, Clone)]
pub struct Argon2Hasher {
    params: HashingParams,
    key: CodeKey,
    memory: std::sync::Arc<Memory>,
}

/// The argon2 passes of an [`Argon2Hasher`] under way, and the buffers kept between them.
struct Memory {
    state: std::sync::Mutex<Passes>,
    ended: std::sync::Condvar,
    limit: usize,
}

/// What [`Memory`] guards.
#[derive(Default)]
struct Passes {
    running: usize,
    free: Vec<Vec<argon2::Block>>,
    /// Buffers of the hasher's own size made so far (at most the limit, when none is dropped).
    made: usize,
}

impl fmt::Debug for Memory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.state();
        f.debug_struct("Memory")
            .field("limit", &self.limit)
            .field("running", &state.running)
            .field("kept", &state.free.len())
            .field("made", &state.made)
            .finish()
    }
}

impl Memory {
    fn new(limit: std::num::NonZeroUsize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Memory {
            state: std::sync::Mutex::new(Passes::default()),
            ended: std::sync::Condvar::new(),
            limit: limit.get(),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, Passes> {
        // A pass that panicked left the counts whole: they change only under the lock, and its
        // `Pass` gave its place back when dropped.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits for a place among the passes under way; then a kept buffer, if `own` and there is
    /// one.
    fn start(&self, own: bool) -> Pass<'_> {
        let mut state = self.state();
        while state.running >= self.limit {
            state = self
                .ended
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.running += 1;
        let blocks = if own { state.free.pop() } else { None };
        state.made += usize::from(own && blocks.is_none());
        Pass {
            memory: self,
            blocks,
            own,
        }
    }
}

/// A place among the passes under way, given back when dropped (with its buffer, when it is
/// the hasher's own size).
struct Pass<'a> {
    memory: &'a Memory,
    blocks: Option<Vec<argon2::Block>>,
    own: bool,
}

impl Drop for Pass<'_> {
    fn drop(&mut self) {
        let mut state = self.memory.state();
        state.running -= 1;
        if let Some(blocks) = self.blocks.take().filter(|_| self.own) {
            state.free.push(blocks);
        }
        drop(state);
        self.memory.ended.notify_one();
    }
}

impl Argon2Hasher {
    /// A hasher with these argon2 parameters and digest key, running at most one argon2 pass
    /// per core at once.
    pub fn new(params: HashingParams, key: CodeKey) -> Self {
        let cores = std::thread::available_parallelism().unwrap_or(std::num::NonZeroUsize::MIN);
        Argon2Hasher {
            params,
            key,
            memory: Memory::new(cores),
        }
    }

    /// Runs at most `passes` argon2 passes at once, each in a kept buffer of `memory_kib`. A new
    /// limit: clones made before keep theirs.
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::policy::HashingParams;
    /// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
    /// use std::num::NonZeroUsize;
    /// let one = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([7; 32]))
    ///     .passes_at_once(NonZeroUsize::MIN);
    /// let hash = one.hash(b"Sakura2026!", &[1; 16]);
    /// std::thread::scope(|s| {
    ///     for _ in 0..4 {
    ///         s.spawn(|| assert!(one.verify(b"Sakura2026!", &hash))); // one after another
    ///     }
    /// });
    /// assert_eq!(one.kept_buffers(), 1);
    /// ```
    pub fn passes_at_once(self, passes: std::num::NonZeroUsize) -> Self {
        Argon2Hasher {
            memory: Memory::new(passes),
            ..self
        }
    }

    /// How many argon2 buffers are kept now, between passes (at most
    /// [`passes_at_once`](Argon2Hasher::passes_at_once)).
    ///
    /// # Example
    /// ```
    /// use kaigo_seikyu::policy::HashingParams;
    /// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, SecretHasher};
    /// let hasher = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([7; 32]));
    /// assert_eq!(hasher.kept_buffers(), 0);
    /// hasher.hash(b"Sakura2026!", &[1; 16]);
    /// assert_eq!(hasher.kept_buffers(), 1);
    /// ```
    pub fn kept_buffers(&self) -> usize {
        self.memory.state().free.len()
    }

    /// The policy's parameters as argon2's (the library's defaults if argon2 refuses them).
    fn argon2_params(&self) -> Params {
        Params::new(
            self.params.memory_kib,
            self.params.iterations,
            self.params.parallelism,
            None,
        )
        .unwrap_or_default()
    }

    /// One argon2 pass of `argon2` into `out`, once there is a place for it. A pass with this
    /// hasher's own parameters works in a kept buffer (or a new one, kept after); a pass with
    /// other parameters (a hash stored under an older policy) in a buffer of its own size,
    /// dropped after. A stored hash asking for more memory than [`MAX_STORED_MEMORY_KIB`] (and
    /// than this hasher's own parameters) is refused before anything is allocated, and an
    /// allocation that fails is an error, not an abort: a tampered hash fails its login and
    /// nothing else (OPS-07).
    fn pass(
        &self,
        argon2: &Argon2<'_>,
        secret: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> argon2::Result<()> {
        let count = argon2.params().block_count();
        let own = self.argon2_params().block_count();
        if count > own.max(MAX_STORED_MEMORY_KIB as usize) {
            return Err(argon2::Error::MemoryTooMuch);
        }
        let mut pass = self.memory.start(count == own);
        let blocks = match pass.blocks.as_mut() {
            Some(blocks) => blocks,
            None => {
                let mut blocks = Vec::new();
                blocks
                    .try_reserve_exact(count)
                    .map_err(|_| argon2::Error::OutOfMemory)?;
                // argon2 writes every block before it reads it: a kept buffer needs no zeroing.
                blocks.resize(count, argon2::Block::default());
                pass.blocks.insert(blocks)
            }
        };
        argon2.hash_password_into_with_memory(secret, salt, out, blocks)
    }
}

/// The most argon2 memory, in KiB, a stored hash with parameters other than the policy's may ask
/// a verification for: 1 GiB, fifty times OWASP's 19 MiB. A PHC string asking for more is a
/// tampered record; it never verifies. (A policy may set more for its own hashes.)
///
/// # Example
/// ```
/// use kaigo_seikyu::policy::HashingParams;
/// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, PasswordHash, SecretHasher, MAX_STORED_MEMORY_KIB};
/// let hasher = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([7; 32]));
/// let m = MAX_STORED_MEMORY_KIB + 1;
/// let tampered = format!("$argon2id$v=19$m={m},t=2,p=1$CQkJCQkJCQkJCQkJCQkJCQ$6wCmvTLdGtqjO4LfOXbUgJbmm3dvH2yOhjXNEkbxE/A");
/// assert!(!hasher.verify(b"Sakura2026!", &PasswordHash::from_phc(tampered))); // nothing allocated
/// ```
pub const MAX_STORED_MEMORY_KIB: u32 = 1 << 20;

impl SecretHasher for Argon2Hasher {
    fn hash(&self, secret: &[u8], salt: &[u8; 16]) -> PasswordHash {
        use argon2::password_hash::phc;
        let params = self.argon2_params();
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let mut out = Zeroizing::new([0u8; Params::DEFAULT_OUTPUT_LEN]);
        let hash = self
            .pass(&argon2, secret, salt, out.as_mut())
            .map_err(argon2::password_hash::Error::from)
            .and_then(|()| {
                Ok(phc::PasswordHash {
                    algorithm: argon2::ARGON2ID_IDENT,
                    version: Some(Version::V0x13.into()),
                    params: phc::ParamsString::try_from(&params)?,
                    salt: Some(phc::Salt::new(salt)?),
                    hash: Some(phc::Output::new(out.as_ref())?),
                })
            })
            .expect("a 16-byte salt and valid parameters always hash");
        PasswordHash(hash.to_string())
    }

    fn verify(&self, secret: &[u8], hash: &PasswordHash) -> bool {
        let Ok(phc) = argon2::PasswordHash::new(&hash.0) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else {
            return false;
        };
        let (Ok(algorithm), Ok(version), Ok(params)) = (
            Algorithm::try_from(phc.algorithm.as_str()),
            phc.version
                .map_or(Ok(Version::default()), Version::try_from),
            Params::try_from(&phc),
        ) else {
            return false;
        };
        let argon2 = Argon2::new(algorithm, version, params);
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        self.pass(&argon2, secret, salt, &mut out).is_ok()
            && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
    }

    fn digest(&self, code: &[u8], nonce: &[u8; 16]) -> CodeDigest {
        let mut mac = <Blake2bMac<U32> as KeyInit>::new_from_slice(self.key.0.as_ref())
            .expect("a 32-byte key fits BLAKE2b");
        mac.update(b"kaigo-seikyu code v1");
        mac.update(nonce);
        mac.update(code);
        CodeDigest(mac.finalize().into_bytes().into())
    }
}

/// What checking an entered code against an [`IssuedCode`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The right code, in time.
    Ok,
    /// A wrong code; this many more tries remain before the code is void.
    Wrong {
        /// Tries left.
        remaining: u8,
    },
    /// Past the code's lifetime (SEC-03): nothing was compared.
    Expired,
    /// Voided by too many wrong entries: nothing was compared.
    Exhausted,
}

/// A code a flow has mailed, as it persists it: the keyed digest, when it was issued, when it
/// expires and how many wrong entries it has taken (SEC-01).
///
/// # Example
/// ```
/// use kaigo_seikyu::calendar::utc;
/// use kaigo_seikyu::policy::HashingParams;
/// use kaigo_seikyu::secret::{Argon2Hasher, CodeKey, IssuedCode, Verification};
/// use kaigo_seikyu::values::ConfirmationCode;
/// let hasher = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([1; 32]));
/// let now = utc("2026-01-10T10:00:00+09:00");
/// let (code, mut issued) = IssuedCode::issue::<4, _>(&mut rand::rng(), &hasher, now, chrono::TimeDelta::minutes(30));
/// let entered: ConfirmationCode = code.reveal().parse().unwrap();
/// assert_eq!(issued.verify(&entered, &hasher, now, 5), Verification::Ok);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedCode {
    digest: CodeDigest,
    #[serde(with = "hex16")]
    nonce: [u8; 16],
    issued_at: Instant,
    expires_at: Instant,
    wrong: u8,
}

/// OPS-07: expiring within the policy's code lifetime of its issue,
/// with no more wrong entries than void it.
impl crate::validate::Validate for IssuedCode {
    fn validate(&self, check: &crate::validate::Check<'_>) -> Result<(), crate::validate::Invalid> {
        check.deadline(
            "expires_at",
            self.issued_at,
            self.expires_at,
            check.policy.code_lifetime(),
        )?;
        check.at_most(
            "wrong entries",
            self.wrong.into(),
            check.policy.max_wrong_code_entries.into(),
        )
    }
}

impl IssuedCode {
    /// Draws a fresh `N`-digit code from the host's CSPRNG, valid for `lifetime` from `now` (expired
    /// at once if that instant is past what chrono can hold, SEC-06). Returns the code (to mail)
    /// and what to persist.
    pub fn issue<const N: usize, R: CryptoRng + ?Sized>(
        rng: &mut R,
        hasher: &dyn SecretHasher,
        now: Instant,
        lifetime: chrono::TimeDelta,
    ) -> (Code<N>, IssuedCode) {
        let code = Code::<N>::generate(rng);
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        let digest = hasher.digest(code.reveal().as_bytes(), &nonce);
        let issued = IssuedCode {
            digest,
            nonce,
            issued_at: now,
            // SEC-06: a lifetime past the end of time ends now: the code is expired at once.
            expires_at: now.checked_add_signed(lifetime).unwrap_or(now),
            wrong: 0,
        };
        (code, issued)
    }

    /// Checks an entered code at `now`, counting a wrong one. A code is valid strictly before its
    /// expiry (30 minutes: accepted at 29:59, refused at 30:00); `max_wrong` wrong entries void it.
    pub fn verify<const N: usize>(
        &mut self,
        entered: &Code<N>,
        hasher: &dyn SecretHasher,
        now: Instant,
        max_wrong: u8,
    ) -> Verification {
        if self.wrong >= max_wrong {
            return Verification::Exhausted;
        }
        if now >= self.expires_at {
            return Verification::Expired;
        }
        let digest = hasher.digest(entered.reveal().as_bytes(), &self.nonce);
        if bool::from(digest.0.ct_eq(&self.digest.0)) {
            Verification::Ok
        } else {
            self.wrong += 1;
            Verification::Wrong {
                remaining: max_wrong - self.wrong,
            }
        }
    }

    /// When the code was issued.
    pub fn issued_at(&self) -> Instant {
        self.issued_at
    }

    /// When the code stops being valid.
    pub fn expires_at(&self) -> Instant {
        self.expires_at
    }

    /// Wrong entries so far.
    pub fn wrong_entries(&self) -> u8 {
        self.wrong
    }
}

/// Lowercase hex of `bytes`, two digits a byte.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(2 * bytes.len());
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// The bytes of exactly `2 * N` lowercase hex digits, as [`hex`] writes them; anything else
/// (another length, uppercase, a sign, non-ASCII) is `None`. Strict, unlike `u8::from_str_radix`,
/// which takes a leading `+` and uppercase.
pub(crate) fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    fn digit(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    let text = text.as_bytes();
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(text.chunks_exact(2)) {
        *o = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

macro_rules! hex_serde {
    ($name:ident, $n:expr) => {
        mod $name {
            use serde::{Deserialize, Deserializer, Serializer, de::Error};
            pub fn serialize<S: Serializer>(bytes: &[u8; $n], s: S) -> Result<S::Ok, S::Error> {
                let text = crate::secret::hex(bytes);
                s.serialize_str(&text)
            }
            pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; $n], D::Error> {
                let text = String::deserialize(d)?;
                crate::secret::unhex::<$n>(&text).ok_or_else(|| {
                    D::Error::custom(format_args!("expected {} lowercase hex digits", 2 * $n))
                })
            }
        }
    };
}
hex_serde!(hex32, 32);
hex_serde!(hex16, 16);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::utc;
    use crate::values::{ConfirmationCode, OneTimePassword};
    use chrono::TimeDelta;
    use rand::SeedableRng;

    fn hasher() -> Argon2Hasher {
        Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([3; 32]))
    }

    /// A code of `N` characters issued at `now` for 30 minutes, drawn from a CSPRNG seeded with
    /// `seed`.
    fn issue<const N: usize>(seed: u64, now: Instant) -> (Code<N>, IssuedCode) {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        IssuedCode::issue::<N, _>(&mut rng, &hasher(), now, TimeDelta::minutes(30))
    }

    /// VAL-10: passwords are stored as argon2id PHC strings with the policy's parameters.
    #[test]
    fn val_10_argon2id_phc() {
        let h = Argon2Hasher::new(
            HashingParams {
                memory_kib: 64,
                iterations: 3,
                parallelism: 1,
            },
            CodeKey::from_bytes([0; 32]),
        );
        let hash = h.hash(b"Abcdef12", &[9; 16]);
        assert!(
            hash.as_phc().starts_with("$argon2id$v=19$m=64,t=3,p=1$"),
            "{}",
            hash.as_phc()
        );
        assert!(h.verify(b"Abcdef12", &hash));
        assert!(!h.verify(b"Abcdef13", &hash));
        assert!(!h.verify(b"Abcdef12", &PasswordHash::from_phc("not a phc string")));
    }

    /// VAL-10: the pooled hasher hashes as argon2 does with a fresh buffer (byte for byte), on
    /// a buffer a pass with another secret left dirty; verifies what argon2 hashed with other
    /// parameters without keeping that buffer; keeps at most `passes_at_once` buffers.
    #[test]
    fn val_10_kept_buffers_hash_as_argon2_does() {
        use argon2::PasswordHasher as _;
        let params = HashingParams {
            memory_kib: 64,
            iterations: 2,
            parallelism: 1,
        };
        let h = Argon2Hasher::new(params, CodeKey::from_bytes([0; 32]))
            .passes_at_once(std::num::NonZeroUsize::new(2).unwrap());
        let fresh = |m: u32, secret: &[u8], salt: &[u8]| {
            let params = Params::new(m, 2, 1, None).unwrap();
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password_with_salt(secret, salt)
                .unwrap()
                .to_string()
        };
        h.hash(b"another secret", &[1; 16]);
        assert_eq!(h.kept_buffers(), 1);
        let hash = h.hash(b"Abcdef12", &[9; 16]);
        assert_eq!(hash.as_phc(), fresh(64, b"Abcdef12", &[9; 16]));
        assert!(h.verify(b"Abcdef12", &hash));
        assert!(!h.verify(b"Abcdef13", &hash));
        // A hash stored with older parameters still verifies; its buffer is not kept.
        let old = PasswordHash::from_phc(fresh(32, b"Abcdef12", &[5; 16]));
        assert!(h.verify(b"Abcdef12", &old));
        assert!(!h.verify(b"Abcdef13", &old));
        assert_eq!(h.kept_buffers(), 1);
        // Eight threads at once: at most two passes run, so at most two buffers are made
        // (passes of 4 MiB, long enough to overlap when nothing holds them back).
        let heavy = HashingParams {
            memory_kib: 4096,
            iterations: 1,
            parallelism: 1,
        };
        let two = Argon2Hasher::new(heavy, CodeKey::from_bytes([0; 32]))
            .passes_at_once(std::num::NonZeroUsize::new(2).unwrap());
        let heavy_hash = two.hash(b"Abcdef12", &[9; 16]);
        let start = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    start.wait();
                    assert!(two.verify(b"Abcdef12", &heavy_hash));
                });
            }
        });
        let debug = format!("{two:?}");
        assert!(
            debug.contains("limit: 2, running: 0, kept: 2, made: 2 }")
                || debug.contains("limit: 2, running: 0, kept: 1, made: 1 }"),
            "{debug}"
        );
        for bad in [
            "$argon2id$v=19$m=64,t=2,p=1$",
            "$argon2id$v=19$m=64,t=2,p=1$CQkJCQkJCQkJCQkJCQkJCQ",
            "$bcrypt$x",
        ] {
            assert!(
                !h.verify(b"Abcdef12", &PasswordHash::from_phc(bad)),
                "{bad}"
            );
        }
    }

    /// SEC-01: a flow persists only a keyed digest; another key gives another digest.
    #[test]
    fn sec_01_codes_are_kept_as_keyed_digests() {
        let now = utc("2026-01-10T10:00:00+09:00");
        let (code, issued) = issue::<6>(1, now);
        let json = serde_json::to_string(&issued).unwrap();
        assert!(!json.contains(code.reveal()), "{json}");
        assert!(!format!("{issued:?}").contains(code.reveal()));
        let other = Argon2Hasher::new(HashingParams::insecure_fast(), CodeKey::from_bytes([4; 32]));
        assert_ne!(
            other.digest(code.reveal().as_bytes(), &issued.nonce),
            issued.digest
        );
        let back: IssuedCode = serde_json::from_str(&json).unwrap();
        assert_eq!(back, issued);
    }

    /// SEC-03: valid at 29:59, expired at 30:00; expired and exhausted compare nothing.
    #[test]
    fn sec_03_code_lifetime_and_exhaustion() {
        let now = utc("2026-01-10T10:00:00+09:00");
        let (code, issued) = issue::<4>(2, now);
        let right: ConfirmationCode = code.reveal().parse().unwrap();
        let mut a = issued.clone();
        assert_eq!(
            a.verify(&right, &hasher(), now + TimeDelta::seconds(29 * 60 + 59), 5),
            Verification::Ok
        );
        let mut b = issued.clone();
        assert_eq!(
            b.verify(&right, &hasher(), now + TimeDelta::minutes(30), 5),
            Verification::Expired
        );
        assert_eq!(b.wrong_entries(), 0);
        let wrong: ConfirmationCode = if code.reveal() == "0000" {
            "0001"
        } else {
            "0000"
        }
        .parse()
        .unwrap();
        let mut c = issued;
        for remaining in (0..5).rev() {
            assert_eq!(
                c.verify(&wrong, &hasher(), now, 5),
                Verification::Wrong { remaining }
            );
        }
        assert_eq!(c.verify(&right, &hasher(), now, 5), Verification::Exhausted);
    }

    /// SEC-06, SEC-03: a code issued so close to the end of time that its expiry cannot be
    /// represented is expired at once; nothing panics.
    #[test]
    fn sec_06_code_issued_at_the_end_of_time_is_expired() {
        let now = Instant::MAX_UTC - TimeDelta::minutes(1);
        let (code, mut issued) = issue::<4>(5, now);
        assert_eq!(issued.expires_at(), now);
        let right: ConfirmationCode = code.reveal().parse().unwrap();
        assert_eq!(
            issued.verify(&right, &hasher(), now, 5),
            Verification::Expired
        );
        assert_eq!(issued.wrong_entries(), 0);
    }

    /// SEC-01: digests and nonces are stored as lowercase hex and read back unchanged.
    #[test]
    fn sec_01_hex_round_trip() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        let digest = CodeDigest([0xab; 32]);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<CodeDigest>(&json).unwrap(), digest);
    }

    /// SEC-06, SEC-01: stored digests and nonces are read back strictly: exactly 64 (32) lowercase
    /// hex digits. A sign, uppercase, another length or non-ASCII is a serde error, never a panic
    /// and never accepted.
    #[test]
    fn sec_06_hex_decoding_is_strict() {
        let good = "0f".repeat(32);
        let as_json = |s: &str| serde_json::to_string(s).unwrap();
        assert_eq!(
            serde_json::from_str::<CodeDigest>(&as_json(&good)).unwrap(),
            CodeDigest([0x0f; 32])
        );
        let mut bad = vec![
            format!("+f{}", "0f".repeat(31)),
            format!("{}+f", "0f".repeat(31)),
            format!("-f{}", "0f".repeat(31)),
            "0F".repeat(32),
            "AB".repeat(32),
            format!("{}0A", "0f".repeat(31)),
            " f".repeat(32),
            "gg".repeat(32),
            "é".repeat(32),
            format!("é{}", "0".repeat(62)),
            "０".repeat(21),
            String::new(),
        ];
        bad.extend((0..=130).filter(|&n| n != 64).map(|n| "a".repeat(n)));
        for text in &bad {
            assert!(
                serde_json::from_str::<CodeDigest>(&as_json(text)).is_err(),
                "{text:?} read as a digest"
            );
        }
        assert_eq!(unhex::<16>(&"a5".repeat(16)), Some([0xa5; 16]));
        for text in ["+f", "F", "Ff", "fF", "0", "000", "é", "+0"] {
            assert_eq!(unhex::<1>(text), None, "{text:?}");
        }
        assert_eq!(unhex::<1>("ff"), Some([0xff]));
        assert_eq!(unhex::<0>(""), Some([]));
        // An IssuedCode's nonce is read just as strictly.
        let now = utc("2026-01-10T10:00:00+09:00");
        let (_, issued) = issue::<4>(6, now);
        let json = serde_json::to_string(&issued).unwrap();
        let nonce = hex(&issued.nonce);
        let upper = json.replace(&nonce, &nonce.to_uppercase());
        assert_ne!(upper, json, "the nonce has a letter to raise");
        assert!(serde_json::from_str::<IssuedCode>(&upper).is_err());
        let signed = json.replace(&nonce, &format!("+{}", &nonce[1..]));
        assert!(serde_json::from_str::<IssuedCode>(&signed).is_err());
    }

    /// SEC-01: digests bind the nonce, so equal codes in two flows do not look equal at rest.
    #[test]
    fn sec_01_equal_codes_differ_at_rest() {
        let h = hasher();
        let otp: OneTimePassword = "123456".parse().unwrap();
        assert_ne!(
            h.digest(otp.reveal().as_bytes(), &[1; 16]),
            h.digest(otp.reveal().as_bytes(), &[2; 16])
        );
    }
}
