//! The cross-entropy fit of importance sampling (methodology §16.2, step 1): a pilot's
//! weighted tail grouped by the assets that jumped and split where it is two blobs, each
//! group a component whose shift, χ² scale and jump rates are its paths' means weighted by
//! w·(L − VaR), with its twins under Student-t shocks.

use super::{
    DEFENSIVE_SHARE, HEAVY_SCALE, HEAVY_SHARE, MAX_JUMP_TILT, MIN_CHI_SCALE, MIN_COMPONENT_SHARE,
    UNSCALED_SHARE,
};
use crate::model::importance::{Component, Importance, Sampled, group_shift, tail_groups};

/// A pilot's tail: its paths' sampled draws, losses beyond its VaR and likelihood ratios.
pub(super) struct PilotTail {
    pub(super) sampled: Vec<Sampled>,
    /// The paths' fit weights w·(L − VaR) (the density ES's estimator would have zero
    /// variance under is ∝ (L − VaR)⁺ times the model's).
    pub(super) fit: Vec<f64>,
}

/// The mixture fitted to a pilot's tail: its paths grouped (`model::importance::tail_groups`,
/// the groups of less than [`MIN_COMPONENT_SHARE`] of the fit weight pooled), each group a
/// component with its share of the fit weights. With no fit weight at all (every
/// tail loss equal) each path weighs the same.
pub(super) fn fit_mixture(plain: &Importance, tail: &PilotTail) -> Importance {
    let sampled = &tail.sampled;
    let total: f64 = tail.fit.iter().sum();
    let fit = if total > 0.0 && total.is_finite() {
        tail.fit.clone()
    } else {
        vec![1.0; sampled.len()]
    };
    let total: f64 = fit.iter().sum();
    // Groups of less than MIN_COMPONENT_SHARE of the tail's weight are drawn together: each
    // component costs every path an exponential in its weight.
    let mass = |members: &[usize]| members.iter().map(|&i| fit[i]).sum::<f64>();
    let (mut groups, mut rest) = (Vec::new(), Vec::new());
    for members in tail_groups(sampled, plain) {
        if mass(&members) < MIN_COMPONENT_SHARE * total {
            rest.extend(members);
        } else {
            groups.push(members);
        }
    }
    if !rest.is_empty() {
        groups.push(rest);
    }
    let components = groups
        .iter()
        .filter_map(|members| {
            let mass = mass(members);
            (mass > 0.0).then(|| {
                Component::new(
                    (1.0 - DEFENSIVE_SHARE) * mass / total,
                    group_shift(sampled, &fit, members, plain),
                    chi_scale(plain, members, sampled, &fit),
                    jump_rates(plain, members, sampled, &fit),
                )
            })
        })
        .collect::<Vec<Component>>();
    // Student-t shocks: each component has a heavy twin for the extreme tail and an
    // unscaled one for the tail paths of an ordinary χ².
    let components = if plain.dof > 0 {
        components.into_iter().flat_map(with_twins).collect()
    } else {
        components
    };
    Importance {
        defensive: DEFENSIVE_SHARE,
        components,
        ..plain.clone()
    }
}

/// A component and its twins under Student-t shocks. The heavy twin: [`HEAVY_SHARE`] of its
/// share, its χ² scale c and its shift θ times [`HEAVY_SCALE`]. The fit's c is the tail's
/// mean χ², but the worst losses (ten or twenty times VaR) come from χ² far below that mean,
/// which a component of scale c draws so rarely that their weights make most of ES's
/// variance. The twin draws them; its smaller shift reaches the same moves, since ε grows as
/// z/√χ². The unscaled twin (when c < 1): [`UNSCALED_SHARE`] of its share, its shift θ at
/// the model's χ² (scale 1): a jump or a vol shock against the account loses without a small
/// χ², and a component of scale c draws such a path with a large χ² so rarely that it is
/// left to the defensive share (the sample book's `vol-seller`: defensive paths with an ETH
/// jump or a 3–4σ vol shock and a χ² of 4–10 made 45 % of its ES variance at seed 8).
fn with_twins(c: Component) -> Vec<Component> {
    let heavy = Component::new(
        c.share * HEAVY_SHARE,
        c.shift.iter().map(|t| t * HEAVY_SCALE).collect(),
        c.scale * HEAVY_SCALE,
        c.jump_rates.clone(),
    );
    let unscaled = (c.scale < 1.0).then(|| {
        Component::new(
            c.share * UNSCALED_SHARE,
            c.shift.clone(),
            1.0,
            c.jump_rates.clone(),
        )
    });
    let main_share = 1.0
        - HEAVY_SHARE
        - if unscaled.is_some() {
            UNSCALED_SHARE
        } else {
            0.0
        };
    let main = Component::new(c.share * main_share, c.shift, c.scale, c.jump_rates);
    [Some(main), Some(heavy), unscaled]
        .into_iter()
        .flatten()
        .collect()
}

/// c_k of a group: √(its `fit`-weighted mean χ² per normal), within [[`MIN_CHI_SCALE`], 1]
/// (1 without Student-t shocks): the tail's paths had small χ² draws, so the component
/// draws them so.
fn chi_scale(plain: &Importance, members: &[usize], sampled: &[Sampled], fit: &[f64]) -> f64 {
    let per_path = f64::from(plain.steps * plain.dof);
    if per_path == 0.0 || members.is_empty() {
        return 1.0;
    }
    let sum: f64 = members
        .iter()
        .map(|&i| fit[i] * sampled[i].chi_square)
        .sum();
    let mass: f64 = members.iter().map(|&i| fit[i]).sum();
    (sum / (per_path * mass)).sqrt().clamp(MIN_CHI_SCALE, 1.0)
}

/// λ_k·dt of a group per step and asset: its `fit`-weighted mean jump count, at least the
/// model's λ·dt and at most [`MAX_JUMP_TILT`] times it or 5 (empty when nothing jumps).
fn jump_rates(plain: &Importance, members: &[usize], sampled: &[Sampled], fit: &[f64]) -> Vec<f64> {
    if plain.base_rates.iter().all(|&r| r == 0.0) || members.is_empty() {
        return Vec::new();
    }
    let cells = plain.steps as usize * plain.assets;
    let mut mean = vec![0.0; cells];
    let mass: f64 = members.iter().map(|&i| fit[i]).sum();
    for &i in members {
        for (m, &n) in mean.iter_mut().zip(&sampled[i].jump_counts) {
            *m += fit[i] * f64::from(n) / mass;
        }
    }
    mean.iter()
        .enumerate()
        .map(|(cell, &m)| {
            let base = plain.base_rates[cell % plain.assets];
            // Never past 5 jumps a step on average, where the 64-jump cap of a step is
            // still never reached (model::scenario::MAX_JUMPS_PER_STEP), nor below λ·dt.
            m.clamp(base, (MAX_JUMP_TILT * base).min(5.0).max(base))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_twins_halve_the_scale_and_shift_or_unscale_it_and_keep_the_share() {
        let c = Component::new(0.4, vec![2.0, -1.0, 0.0], 0.6, vec![0.3]);
        let twins = with_twins(c.clone());
        let [main, heavy, unscaled] = &twins[..] else {
            panic!("three components: {}", twins.len());
        };
        let shares = main.share + heavy.share + unscaled.share;
        assert!((shares - c.share).abs() < 1e-15);
        assert!((heavy.share - HEAVY_SHARE * c.share).abs() < 1e-15);
        assert!((unscaled.share - UNSCALED_SHARE * c.share).abs() < 1e-15);
        assert_eq!((main.shift.clone(), main.scale), (c.shift.clone(), c.scale));
        assert_eq!(
            (heavy.shift.clone(), heavy.scale),
            (vec![1.0, -0.5, 0.0], 0.3)
        );
        assert_eq!(
            (unscaled.shift.clone(), unscaled.scale),
            (c.shift.clone(), 1.0)
        );
        for twin in &twins {
            assert_eq!(twin.jump_rates, vec![0.3]);
        }
        // A component at the model's χ² already has no unscaled twin.
        let at_one = with_twins(Component::new(0.4, vec![1.0], 1.0, Vec::new()));
        assert_eq!(at_one.len(), 2);
        assert!((at_one[0].share + at_one[1].share - 0.4).abs() < 1e-15);
    }
}
