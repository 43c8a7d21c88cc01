//! The simulated model: plans requests, renders each distinct plan once and
//! keeps the latest clips in a bounded cache.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use framebreak_client::VideoRequest;
use framebreak_variants::Catalogue;

use crate::plan::{DEFAULT_FPS, Plan};
use crate::render::{Video, render};
use crate::{Profile, Result};

/// How many distinct clips are kept by default.
pub const DEFAULT_CACHE_CLIPS: usize = 256;

/// A render shared by every job with the same plan: filled once.
pub(crate) type Slot = Arc<OnceLock<Result<Arc<Video>>>>;

struct Cache {
    cap: usize,
    tick: u64,
    map: HashMap<[u8; 32], (Slot, u64)>,
}

/// A simulated text-to-video model.
///
/// It reads only what a real model reads (prompt, size, duration, seed),
/// finds the traps in the prompt's words with the trap catalogue, and
/// breaks as its [`Profile`] says. The same (prompt, seed, profile) gives
/// the same bytes.
///
/// ```
/// use framebreak_client::VideoRequest;
/// use framebreak_sim::{Profile, Simulator};
///
/// let sim = Simulator::new(Profile::weak())?;
/// let request = VideoRequest::new("a red ball is thrown, with everything drifting freely in zero gravity")
///     .size(96, 64)
///     .duration_secs(1)
///     .seed(3);
/// let video = sim.render(&request)?;
/// assert_eq!(&video.mp4[4..8], b"ftyp");
/// assert_eq!(video.truth.frames, 24);
/// assert_eq!(video.truth.traps, ["physics.zero_g"]);
/// assert_eq!(sim.render(&request)?.mp4, video.mp4);
/// # Ok::<(), framebreak_sim::Error>(())
/// ```
pub struct Simulator {
    profile: Profile,
    catalogue: Catalogue,
    fps: u32,
    cache: Mutex<Cache>,
}

impl std::fmt::Debug for Simulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cache = self.cache.lock().expect("cache lock");
        f.debug_struct("Simulator")
            .field("profile", &self.profile.name())
            .field("catalogue", &self.catalogue.source_name())
            .field("fps", &self.fps)
            .field("cached", &cache.map.len())
            .field("cache_cap", &cache.cap)
            .finish()
    }
}

impl Simulator {
    /// A simulator with `profile`, the built-in catalogue, 24 fps and a
    /// cache of [`DEFAULT_CACHE_CLIPS`] clips.
    ///
    /// # Errors
    ///
    /// [`Error::Profile`](crate::Error::Profile) when the profile names a
    /// trap the catalogue lacks.
    pub fn new(profile: Profile) -> Result<Self> {
        Self::with_catalogue(profile, Catalogue::builtin())
    }

    /// A simulator reading traps from `catalogue`.
    ///
    /// # Errors
    ///
    /// [`Error::Profile`](crate::Error::Profile) when the profile names a
    /// trap the catalogue lacks.
    pub fn with_catalogue(profile: Profile, catalogue: Catalogue) -> Result<Self> {
        profile.check_against(&catalogue)?;
        Ok(Self {
            profile,
            catalogue,
            fps: DEFAULT_FPS,
            cache: Mutex::new(Cache {
                cap: DEFAULT_CACHE_CLIPS,
                tick: 0,
                map: HashMap::new(),
            }),
        })
    }

    /// Keeps at most `clips` rendered clips (at least one).
    #[must_use]
    pub fn cache_clips(self, clips: usize) -> Self {
        self.cache.lock().expect("cache lock").cap = clips.max(1);
        self
    }

    /// The profile.
    #[must_use]
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// What the model will make of `request`, without rendering it.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidRequest`](crate::Error::InvalidRequest) for an
    /// empty prompt, a size that is odd, below 32 or above 1920 pixels, a
    /// duration outside 1..=60 s.
    pub fn plan(&self, request: &VideoRequest) -> Result<Plan> {
        crate::plan::plan(&self.catalogue, &self.profile, request, self.fps)
    }

    /// Renders `request` (or takes it from the cache), blocking.
    ///
    /// # Errors
    ///
    /// Those of [`plan`](Self::plan), and
    /// [`Error::Encode`](crate::Error::Encode).
    pub fn render(&self, request: &VideoRequest) -> Result<Arc<Video>> {
        let plan = self.plan(request)?;
        let (slot, _) = self.slot(&plan);
        slot.get_or_init(|| render(&plan).map(Arc::new)).clone()
    }

    /// The cache slot of `plan`, and whether it was just created (the
    /// caller then renders into it).
    pub(crate) fn slot(&self, plan: &Plan) -> (Slot, bool) {
        let key = plan.key();
        let mut cache = self.cache.lock().expect("cache lock");
        cache.tick += 1;
        let tick = cache.tick;
        if let Some((slot, used)) = cache.map.get_mut(&key) {
            *used = tick;
            return (slot.clone(), false);
        }
        if cache.map.len() >= cache.cap {
            // Least recently used out; O(n) over a few hundred entries is
            // nothing next to a render.
            if let Some(old) = cache
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k)
            {
                cache.map.remove(&old);
            }
        }
        let slot: Slot = Arc::new(OnceLock::new());
        cache.map.insert(key, (slot.clone(), tick));
        (slot, true)
    }

    /// Number of clips in the cache.
    #[must_use]
    pub fn cached(&self) -> usize {
        self.cache.lock().expect("cache lock").map.len()
    }
}

/// Renders into `slot` unless someone already has.
pub(crate) fn fill(slot: &Slot, plan: &Plan) {
    slot.get_or_init(|| render(plan).map(Arc::new));
}
