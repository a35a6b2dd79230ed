//! Uniform draws from the host's CSPRNG (VAL-07, VAL-09): every value equally likely.

use rand_core::CryptoRng;

/// A number uniformly drawn from `0..n` (`n > 0`), by rejection sampling so no value is favoured.
pub(crate) fn below<R: CryptoRng + ?Sized>(rng: &mut R, n: u32) -> u32 {
    debug_assert!(n > 0);
    // The largest multiple of n that fits in u32's range; draws at or above it are rejected.
    let zone = u32::MAX - (u32::MAX % n + 1) % n;
    loop {
        let x = rng.next_u32();
        if x <= zone {
            return x % n;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    /// VAL-07: every value of a small range comes out, none out of range.
    #[test]
    fn val_07_below_is_in_range_and_covers_it() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen = [false; 10];
        for _ in 0..1000 {
            let x = below(&mut rng, 10);
            seen[x as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        for _ in 0..100 {
            assert_eq!(below(&mut rng, 1), 0);
        }
    }
}
