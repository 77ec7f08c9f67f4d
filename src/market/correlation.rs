//! Square roots of correlation matrices (SPEC §2 `correlation`, §3 step 2) and Higham's
//! nearest correlation matrix for the user-requested repair of a matrix that is not positive
//! semi-definite.
//!
//! The spot shocks of one step are ε = L·z with z a vector of independent standard normals and
//! L·Lᵀ = C, so that Cov(ε) = C. L is the lower-triangular Cholesky factor when C is positive
//! definite; a singular positive semi-definite C (perfect correlation, more assets than
//! independent drivers) has no Cholesky factor, and L = Q·√Λ from C = Q·Λ·Qᵀ is used instead.
//!
//! Every routine is deterministic: the same input gives the same bits on every run.

use nalgebra::{Cholesky, DMatrix, SymmetricEigen};

/// Absolute tolerance of the positive semi-definiteness test: C is accepted as PSD when its
/// smallest eigenvalue λ_min ≥ −`PSD_TOLERANCE`.
///
/// A correlation matrix has ‖C‖₂ ≤ n, and the symmetric QR algorithm computes its eigenvalues
/// with an absolute error of order n·‖C‖₂·u ≤ n²·2.2e-16, so for any realistic number of
/// assets 1e-10 lies far above rounding noise (a PSD matrix is never rejected for rounding)
/// and far below any genuine indefiniteness a user would type (a correlation quoted to a few
/// decimals that is not PSD has λ_min ≲ −1e-4).
pub const PSD_TOLERANCE: f64 = 1e-10;

/// Convergence tolerance of [`nearest_correlation`], on the relative changes of the iterates
/// and the relative gap between the two projections (Frobenius norms).
pub const NEAREST_TOLERANCE: f64 = 1e-12;

/// Iteration cap of [`nearest_correlation`]; one iteration costs one n×n symmetric
/// eigen-decomposition.
pub const NEAREST_MAX_ITERATIONS: u32 = 1000;

/// A square root L of a correlation matrix C (L·Lᵀ = C), used as ε = L·z.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationRoot {
    pub n: usize,
    /// The matrix actually simulated (the input, or its repair), row-major n×n.
    pub matrix: Vec<f64>,
    /// Row-major n×n factor: lower-triangular Cholesky when C is positive definite; otherwise
    /// (singular PSD) Q·√Λ from the symmetric eigen-decomposition (negative eigenvalues within
    /// tolerance clamped to 0).
    pub factor: Vec<f64>,
    /// Some(..) when the user asked for repair and the input was not PSD.
    pub repair: Option<Repair>,
}

/// What the repair of a non-PSD correlation matrix did, for the report.
#[derive(Clone, Debug, PartialEq)]
pub struct Repair {
    /// ‖A − C‖_F between the input A and the simulated matrix C.
    pub frobenius_distance: f64,
    /// Iterations of the alternating projections.
    pub iterations: u32,
    /// λ_min of the input (< −[`PSD_TOLERANCE`]).
    pub min_eigenvalue_before: f64,
}

/// Why no square root could be built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum CorrelationError {
    /// λ_min < −[`PSD_TOLERANCE`] and repair was not requested.
    #[error(
        "correlation matrix is not positive semi-definite (smallest eigenvalue {min_eigenvalue:.6e}); \
         ask for repair to use the nearest correlation matrix"
    )]
    NotPositiveSemiDefinite { min_eigenvalue: f64 },
    /// The nearest-correlation iteration did not reach [`NEAREST_TOLERANCE`].
    #[error("nearest correlation matrix did not converge in {iterations} iterations")]
    NoConvergence { iterations: u32 },
}

impl CorrelationRoot {
    /// True when `factor` is the Cholesky factor (zero above the diagonal), false when it is
    /// the eigen root of a singular matrix.
    pub fn is_lower_triangular(&self) -> bool {
        let n = self.n;
        (0..n).all(|i| (i + 1..n).all(|j| self.factor[i * n + j] == 0.0))
    }

    /// ε = L·z for one draw of n independent standard normals.
    ///
    /// # Panics
    /// If `z` or `eps` is not of length n.
    pub fn apply(&self, z: &[f64], eps: &mut [f64]) {
        let n = self.n;
        assert_eq!(z.len(), n, "z must have one normal per asset");
        assert_eq!(eps.len(), n, "eps must have one shock per asset");
        for (row, e) in self.factor.chunks_exact(n.max(1)).zip(eps.iter_mut()) {
            *e = row.iter().zip(z).map(|(l, z)| l * z).sum();
        }
    }
}

/// Builds the square root of a correlation matrix, repairing it first if asked.
///
/// `matrix` is row-major n×n and already validated: symmetric, unit diagonal, finite entries
/// in [−1, 1]. With λ_min its smallest eigenvalue:
/// - λ_min ≥ −[`PSD_TOLERANCE`]: the input is simulated as given and `repair` is `None`
///   (also when repair was asked for: a PSD matrix is never changed).
/// - λ_min < −[`PSD_TOLERANCE`] and `repair`: the input A is replaced by its nearest
///   correlation matrix in the Frobenius norm ([`nearest_correlation`]), reported in `repair`.
///
/// The factor is the Cholesky factor L (lower triangular, L·Lᵀ = C) when the factorisation
/// completes with every pivot positive; otherwise C = Q·Λ·Qᵀ and L = Q·√max(Λ, 0), with each
/// row scaled to unit norm so that every shock keeps exactly unit variance (the scaling only
/// undoes the clamp of eigenvalues within tolerance of 0). Either way L·Lᵀ = C up to
/// rounding and the tolerance.
///
/// # Errors
/// [`CorrelationError::NotPositiveSemiDefinite`] with λ_min when the input is not PSD and
/// `repair` is false; [`CorrelationError::NoConvergence`] if the repair does not converge.
///
/// # Panics
/// If `matrix.len() != n * n`.
pub fn correlation_root(
    matrix: &[f64],
    n: usize,
    repair: bool,
) -> Result<CorrelationRoot, CorrelationError> {
    let input = square(matrix, n);
    let min_eigenvalue_before = min_eigenvalue(matrix, n);
    let (simulated, repair) = if min_eigenvalue_before >= -PSD_TOLERANCE {
        (matrix.to_vec(), None)
    } else if !repair {
        return Err(CorrelationError::NotPositiveSemiDefinite {
            min_eigenvalue: min_eigenvalue_before,
        });
    } else {
        let (nearest, iterations) = nearest_correlation(matrix, n)?;
        let frobenius_distance = (square(&nearest, n) - &input).norm();
        (
            nearest,
            Some(Repair {
                frobenius_distance,
                iterations,
                min_eigenvalue_before,
            }),
        )
    };
    let factor = square_root(&square(&simulated, n));
    Ok(CorrelationRoot {
        n,
        matrix: simulated,
        factor: row_major(&factor),
        repair,
    })
}

/// Higham's nearest correlation matrix: the C minimising ‖A − C‖_F over symmetric PSD
/// matrices with unit diagonal (N. J. Higham, "Computing the nearest correlation matrix — a
/// problem from finance", IMA J. Numer. Anal. 22 (2002), Algorithm 3.3).
///
/// Alternating projections with Dykstra's correction, starting from Y₀ = A, ΔS₀ = 0:
/// R = Y − ΔS;  X = P_S(R) (eigenvalues clamped at 0);  ΔS = X − R;  Y = P_U(X) (diagonal
/// set to 1), until the relative changes of X and Y and the relative gap ‖Y − X‖_F/‖Y‖_F are
/// all ≤ [`NEAREST_TOLERANCE`]. The last Y has unit diagonal but may be indefinite at the
/// level of the tolerance, so it is projected once more onto the PSD cone and rescaled as
/// D^{−½}·X·D^{−½} to unit diagonal. The result is exactly symmetric, has an exact unit
/// diagonal, entries in [−1, 1], and λ_min ≥ −[`PSD_TOLERANCE`]. Returns it (row-major) with
/// the number of iterations. A matrix that is already a correlation matrix converges in one
/// iteration and comes back unchanged up to rounding; [`correlation_root`] does not call this
/// for PSD input.
///
/// # Errors
/// [`CorrelationError::NoConvergence`] after [`NEAREST_MAX_ITERATIONS`] iterations, or if the
/// final matrix fails the PSD test.
///
/// # Panics
/// If `matrix.len() != n * n`.
pub fn nearest_correlation(matrix: &[f64], n: usize) -> Result<(Vec<f64>, u32), CorrelationError> {
    let a = square(matrix, n);
    if n == 0 {
        return Ok((Vec::new(), 0));
    }
    let mut y = a.clone();
    let mut x = a.clone();
    let mut dykstra = DMatrix::<f64>::zeros(n, n);
    let mut converged_at = None;
    for iteration in 1..=NEAREST_MAX_ITERATIONS {
        let r = &y - &dykstra;
        let x_next = project_psd(&r);
        dykstra = &x_next - &r;
        let mut y_next = x_next.clone();
        y_next.fill_diagonal(1.0);

        let y_norm = y_next.norm();
        let x_change = (&x_next - &x).norm() / x_next.norm().max(f64::MIN_POSITIVE);
        let y_change = (&y_next - &y).norm() / y_norm;
        let gap = (&y_next - &x_next).norm() / y_norm;
        x = x_next;
        y = y_next;
        if x_change.max(y_change).max(gap) <= NEAREST_TOLERANCE {
            converged_at = Some(iteration);
            break;
        }
    }
    let Some(iterations) = converged_at else {
        return Err(CorrelationError::NoConvergence {
            iterations: NEAREST_MAX_ITERATIONS,
        });
    };

    let psd = project_psd(&y);
    let mut result = vec![0.0; n * n];
    for i in 0..n {
        result[i * n + i] = 1.0;
        for j in 0..i {
            let scaled = psd[(i, j)] / (psd[(i, i)] * psd[(j, j)]).sqrt();
            let c = if scaled.is_finite() {
                scaled.clamp(-1.0, 1.0)
            } else {
                0.0
            };
            result[i * n + j] = c;
            result[j * n + i] = c;
        }
    }
    if min_eigenvalue(&result, n) < -PSD_TOLERANCE {
        return Err(CorrelationError::NoConvergence { iterations });
    }
    Ok((result, iterations))
}

/// The smallest eigenvalue of the symmetric row-major n×n `matrix` (symmetric QR algorithm;
/// only the lower triangle is read). `+∞` for n = 0.
///
/// # Panics
/// If `matrix.len() != n * n`.
pub fn min_eigenvalue(matrix: &[f64], n: usize) -> f64 {
    if n == 0 {
        return f64::INFINITY;
    }
    SymmetricEigen::new(square(matrix, n))
        .eigenvalues
        .iter()
        .copied()
        .fold(f64::INFINITY, f64::min)
}

fn square(matrix: &[f64], n: usize) -> DMatrix<f64> {
    assert_eq!(
        matrix.len(),
        n * n,
        "a correlation matrix of {n} assets has {} entries",
        n * n
    );
    DMatrix::from_row_slice(n, n, matrix)
}

fn row_major(m: &DMatrix<f64>) -> Vec<f64> {
    m.transpose().as_slice().to_vec()
}

/// P_S: the nearest symmetric PSD matrix in the Frobenius norm, Q·max(Λ, 0)·Qᵀ, symmetrised.
fn project_psd(m: &DMatrix<f64>) -> DMatrix<f64> {
    let eigen = SymmetricEigen::new(m.clone());
    let q = &eigen.eigenvectors;
    let clamped = eigen.eigenvalues.map(|lambda| lambda.max(0.0));
    let p = q * DMatrix::from_diagonal(&clamped) * q.transpose();
    (&p + p.transpose()) * 0.5
}

/// L with L·Lᵀ = C: Cholesky when it completes, else the eigen root Q·√max(Λ, 0) with rows
/// scaled to unit norm.
fn square_root(c: &DMatrix<f64>) -> DMatrix<f64> {
    if let Some(cholesky) = Cholesky::new(c.clone()) {
        let l = cholesky.l();
        if l.iter().all(|v| v.is_finite()) {
            return l;
        }
    }
    let eigen = SymmetricEigen::new(c.clone());
    let roots = eigen.eigenvalues.map(|lambda| lambda.max(0.0).sqrt());
    let mut root = eigen.eigenvectors * DMatrix::from_diagonal(&roots);
    for mut row in root.row_iter_mut() {
        let norm = row.norm();
        if norm > 0.0 {
            row /= norm;
        }
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngSeed};

    /// L·Lᵀ − C, largest absolute entry.
    fn reconstruction_error(root: &CorrelationRoot) -> f64 {
        let l = square(&root.factor, root.n);
        let c = square(&root.matrix, root.n);
        (&l * l.transpose() - c).amax()
    }

    fn assert_correlation_matrix(c: &[f64], n: usize) {
        for i in 0..n {
            assert_eq!(c[i * n + i], 1.0, "diagonal ({i},{i})");
            for j in 0..n {
                assert_eq!(c[i * n + j], c[j * n + i], "symmetry ({i},{j})");
                assert!(
                    c[i * n + j].abs() <= 1.0,
                    "entry ({i},{j}) = {}",
                    c[i * n + j]
                );
            }
        }
        let lambda = min_eigenvalue(c, n);
        assert!(lambda >= -PSD_TOLERANCE, "min eigenvalue {lambda}");
    }

    /// The normalised Gram matrix of `rows` (unit-normalised, n rows of dimension `rank` ≤ n):
    /// a correlation matrix of rank ≤ `rank`, exactly symmetric with an exact unit diagonal.
    fn gram(rows: &[Vec<f64>]) -> Vec<f64> {
        let n = rows.len();
        let unit: Vec<Vec<f64>> = rows
            .iter()
            .map(|r| {
                let norm = r.iter().map(|v| v * v).sum::<f64>().sqrt();
                r.iter().map(|v| v / norm).collect()
            })
            .collect();
        let mut c = vec![0.0; n * n];
        for i in 0..n {
            c[i * n + i] = 1.0;
            for j in 0..i {
                let dot: f64 = unit[i].iter().zip(&unit[j]).map(|(a, b)| a * b).sum();
                c[i * n + j] = dot.clamp(-1.0, 1.0);
                c[j * n + i] = c[i * n + j];
            }
        }
        c
    }

    /// n ≤ 8 rows of dimension `rank` ≤ n, each bounded away from 0 so normalising is safe;
    /// unless `full_rank`, the rank is random and some rows are copies or negations of row 0
    /// (perfect correlation).
    fn gram_rows(full_rank: bool) -> impl Strategy<Value = Vec<Vec<f64>>> {
        (1usize..=8)
            .prop_flat_map(move |n| (Just(n), if full_rank { n..=n } else { 1..=n }))
            .prop_flat_map(|(n, rank)| {
                (
                    prop::collection::vec(
                        prop::collection::vec(-1.0f64..1.0, rank)
                            .prop_filter("row too short to normalise", |r| {
                                r.iter().map(|v| v * v).sum::<f64>() > 1e-4
                            }),
                        n,
                    ),
                    prop::collection::vec(0u8..4, n),
                )
            })
            .prop_map(move |(mut rows, copy)| {
                for i in 1..rows.len() {
                    match copy[i] {
                        0 if !full_rank => rows[i] = rows[0].clone(),
                        1 if !full_rank => rows[i] = rows[0].iter().map(|v| -v).collect(),
                        _ => {}
                    }
                }
                rows
            })
    }

    /// Symmetric, unit diagonal, entries in [−1, 1]: usually not PSD for n ≥ 3.
    fn symmetric_unit_diagonal() -> impl Strategy<Value = (Vec<f64>, usize)> {
        (1usize..=8).prop_flat_map(|n| {
            prop::collection::vec(-1.0f64..=1.0, n * n).prop_map(move |raw| {
                let mut c = vec![0.0; n * n];
                for i in 0..n {
                    c[i * n + i] = 1.0;
                    for j in 0..i {
                        c[i * n + j] = raw[i * n + j];
                        c[j * n + i] = raw[i * n + j];
                    }
                }
                (c, n)
            })
        })
    }

    fn config() -> Config {
        Config {
            cases: 512,
            rng_seed: RngSeed::Fixed(0x7a11_215c),
            failure_persistence: None,
            ..Config::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        /// L·Lᵀ = C for every correlation matrix, full rank or not; the input is simulated
        /// unchanged and no repair is reported even when asked for.
        #[test]
        fn root_reproduces_gram_correlation(rows in gram_rows(false)) {
            let n = rows.len();
            let c = gram(&rows);
            for repair in [false, true] {
                let root = correlation_root(&c, n, repair).expect("a Gram matrix is PSD");
                prop_assert_eq!(&root.matrix, &c);
                prop_assert!(root.repair.is_none());
                let err = reconstruction_error(&root);
                prop_assert!(err <= 1e-10, "|L·Lᵀ − C| = {err:e}, n = {n}");
            }
        }

        /// A full-rank correlation matrix gets its Cholesky factor: lower triangular with a
        /// positive diagonal.
        #[test]
        fn full_rank_gets_cholesky(rows in gram_rows(true)) {
            let n = rows.len();
            let c = gram(&rows);
            prop_assume!(min_eigenvalue(&c, n) > 1e-6);
            let root = correlation_root(&c, n, false).unwrap();
            prop_assert!(root.is_lower_triangular());
            for i in 0..n {
                prop_assert!(root.factor[i * n + i] > 0.0);
            }
            prop_assert!(reconstruction_error(&root) <= 1e-12);
        }

        /// Repair yields a correlation matrix (symmetric, unit diagonal, PSD) with a valid
        /// root, no farther from the input than the identity is, and a fixed point: repairing
        /// it again changes nothing.
        #[test]
        fn repair_yields_nearby_correlation((a, n) in symmetric_unit_diagonal()) {
            let root = correlation_root(&a, n, true).unwrap();
            assert_correlation_matrix(&root.matrix, n);
            let err = reconstruction_error(&root);
            prop_assert!(err <= 1e-10, "|L·Lᵀ − C| = {err:e}");
            match &root.repair {
                None => prop_assert_eq!(&root.matrix, &a),
                Some(repair) => {
                    prop_assert!(repair.min_eigenvalue_before < -PSD_TOLERANCE);
                    let to_identity = (square(&a, n) - DMatrix::identity(n, n)).norm();
                    prop_assert!(repair.frobenius_distance <= to_identity + 1e-9);
                    let again = correlation_root(&root.matrix, n, true).unwrap();
                    prop_assert!(again.repair.is_none());
                }
            }
        }
    }

    #[test]
    fn non_psd_is_rejected_with_its_min_eigenvalue() {
        // Eigenvalues of Higham's example: 1 − √2, 1, 1 + √2.
        let a = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        match correlation_root(&a, 3, false) {
            Err(CorrelationError::NotPositiveSemiDefinite { min_eigenvalue }) => {
                assert!((min_eigenvalue - (1.0 - 2f64.sqrt())).abs() < 1e-12);
            }
            other => panic!("expected NotPositiveSemiDefinite, got {other:?}"),
        }
        let message = correlation_root(&a, 3, false).unwrap_err().to_string();
        assert!(message.contains("not positive semi-definite"), "{message}");
    }

    /// Higham (2002), §4: the nearest correlation matrix to [[1,1,0],[1,1,1],[0,1,1]] has
    /// off-diagonals 0.7607 at (1,2), (2,3) and 0.1573 at (1,3).
    #[test]
    fn higham_example_repairs_to_published_matrix() {
        let a = [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0];
        let root = correlation_root(&a, 3, true).unwrap();
        let c = &root.matrix;
        assert_correlation_matrix(c, 3);
        for (i, j, expected) in [(0, 1, 0.7607), (1, 2, 0.7607), (0, 2, 0.1573)] {
            let got = c[i * 3 + j];
            assert!(
                (got - expected).abs() < 1e-4,
                "({i},{j}): got {got}, expected {expected}, diff {:e}",
                got - expected
            );
        }
        let repair = root.repair.as_ref().expect("repair is reported");
        assert!((repair.min_eigenvalue_before - (1.0 - 2f64.sqrt())).abs() < 1e-12);
        assert!(repair.iterations >= 1 && repair.iterations <= NEAREST_MAX_ITERATIONS);
        let distance = (square(c, 3) - square(&a, 3)).norm();
        assert_eq!(repair.frobenius_distance, distance);
        assert!(reconstruction_error(&root) <= 1e-10);
    }

    #[test]
    fn perfect_correlation_uses_eigen_root() {
        for rho in [1.0, -1.0] {
            let c = [1.0, rho, rho, 1.0];
            let root = correlation_root(&c, 2, false).unwrap();
            assert!(root.repair.is_none());
            assert!(reconstruction_error(&root) <= 1e-15);
            let mut eps = [0.0; 2];
            root.apply(&[0.3, -1.7], &mut eps);
            assert!((eps[1] - rho * eps[0]).abs() < 1e-15, "{eps:?}");
        }
    }

    #[test]
    fn psd_input_is_not_repaired() {
        let c = [1.0, 0.8, 0.3, 0.8, 1.0, 0.5, 0.3, 0.5, 1.0];
        let root = correlation_root(&c, 3, true).unwrap();
        assert!(root.repair.is_none());
        assert_eq!(root.matrix, c);
        assert!(root.is_lower_triangular());
    }

    #[test]
    fn one_by_one() {
        let root = correlation_root(&[1.0], 1, true).unwrap();
        assert_eq!(root.matrix, [1.0]);
        assert_eq!(root.factor, [1.0]);
        assert!(root.repair.is_none());
        assert_eq!(min_eigenvalue(&[1.0], 1), 1.0);
        assert_eq!(nearest_correlation(&[1.0], 1).unwrap().0, [1.0]);
    }

    #[test]
    fn apply_multiplies_by_factor() {
        let c = [1.0, 0.6, 0.6, 1.0];
        let root = correlation_root(&c, 2, false).unwrap();
        let mut eps = [0.0; 2];
        root.apply(&[1.0, 2.0], &mut eps);
        // L = [[1, 0], [0.6, 0.8]].
        assert!(
            (eps[0] - 1.0).abs() < 1e-15 && (eps[1] - 2.2).abs() < 1e-15,
            "{eps:?}"
        );
    }
}
