//! Apportioning a batch of work over devices by capacity.

use crate::{Error, Result};

/// Splits `n` units of work over devices in proportion to `capacities`,
/// with whole counts that add up to `n` exactly.
///
/// Largest-remainder (Hamilton) apportionment: every device first gets the
/// floor of its proportional share, and the units left over go one each to
/// the largest fractional parts (ties to the earlier device). So every count
/// is within 1 of the exact share, and a device of capacity 0 gets nothing.
///
/// A negative or non-finite capacity is [`Error::InvalidCapacity`]; a total
/// of 0 (or no devices) is [`Error::ZeroTotalCapacity`]: never a division
/// by zero.
///
/// ```
/// use framebreak_gpu::split_by_capacity;
///
/// assert_eq!(split_by_capacity(10, &[1.0, 8.0, 0.0, 1.0])?, [1, 8, 0, 1]);
/// assert_eq!(split_by_capacity(7, &[1.0, 1.0, 1.0])?, [3, 2, 2]);
/// # Ok::<(), framebreak_gpu::Error>(())
/// ```
pub fn split_by_capacity(n: u64, capacities: &[f64]) -> Result<Vec<u64>> {
    let mut total = 0.0;
    for (index, &c) in capacities.iter().enumerate() {
        if !c.is_finite() || c < 0.0 {
            return Err(Error::InvalidCapacity { index, value: c });
        }
        total += c;
    }
    if !(total > 0.0 && total.is_finite()) {
        return Err(Error::ZeroTotalCapacity { total });
    }
    let mut counts = Vec::with_capacity(capacities.len());
    let mut fractions = Vec::with_capacity(capacities.len());
    let mut assigned: u64 = 0;
    for (i, &c) in capacities.iter().enumerate() {
        // c / total first: it is at most 1, so the product never overflows.
        let quota = (c / total) * n as f64;
        let floor = (quota.floor() as u64).min(n - assigned);
        assigned += floor;
        counts.push(floor);
        if c > 0.0 {
            fractions.push((i, quota - floor as f64));
        }
    }
    // Largest fractions first; the sort is stable, so ties keep device order.
    fractions.sort_by(|a, b| b.1.total_cmp(&a.1));
    // Rounding can leave more units than devices with a fraction only for
    // huge n; cycling keeps the sum exact even then.
    let mut left = n - assigned;
    for &(i, _) in fractions.iter().cycle() {
        if left == 0 {
            break;
        }
        counts[i] += 1;
        left -= 1;
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn zero_total_capacity_is_a_typed_error() {
        for caps in [&[][..], &[0.0], &[0.0, 0.0]] {
            let e = split_by_capacity(5, caps).unwrap_err();
            assert!(
                matches!(e, Error::ZeroTotalCapacity { total } if total == 0.0),
                "{e}"
            );
        }
    }

    #[test]
    fn negative_or_nan_capacity_is_a_typed_error() {
        for (bad, index) in [(-1.0, 1), (f64::NAN, 1), (f64::INFINITY, 1)] {
            let e = split_by_capacity(5, &[1.0, bad]).unwrap_err();
            assert!(
                matches!(e, Error::InvalidCapacity { index: i, .. } if i == index),
                "{e}"
            );
        }
    }

    #[test]
    fn zero_capacity_devices_get_nothing_and_zero_work_is_fine() {
        assert_eq!(split_by_capacity(3, &[0.0, 1.0, 0.0]).unwrap(), [0, 3, 0]);
        assert_eq!(split_by_capacity(0, &[1.0, 2.0]).unwrap(), [0, 0]);
        assert_eq!(
            split_by_capacity(u64::MAX, &[1.0, 1.0])
                .unwrap()
                .iter()
                .sum::<u64>(),
            u64::MAX
        );
    }

    proptest! {
        #[test]
        fn sums_to_n_and_stays_within_one_of_the_share(
            n in 0u64..1_000_000,
            caps in prop::collection::vec(prop_oneof![Just(0.0), 0.001f64..1000.0], 1..12),
        ) {
            prop_assume!(caps.iter().sum::<f64>() > 0.0);
            let counts = split_by_capacity(n, &caps).unwrap();
            prop_assert_eq!(counts.len(), caps.len());
            prop_assert_eq!(counts.iter().sum::<u64>(), n);
            let total: f64 = caps.iter().sum();
            for (&count, &c) in counts.iter().zip(&caps) {
                let share = n as f64 * c / total;
                prop_assert!((count as f64 - share).abs() <= 1.0 + 1e-9, "{count} vs {share}");
                if c == 0.0 {
                    prop_assert_eq!(count, 0);
                }
            }
        }
    }
}
