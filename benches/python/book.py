"""The generated benchmark book of `src/engine/cpu/bench_book.rs`, rebuilt in Python.

Same assets, surfaces, dynamics, strikes, expiries and (SplitMix64) quantities as
`generated_book(options, assets, 1, seed)`, so the NumPy and numba benchmarks price exactly
the book the Rust benches price. Only the random draws of the scenarios differ (NumPy's
Philox stream instead of tailrisk's counter layout), which changes no timing.
"""

import math

import numpy as np

DAY = 1.0 / 365.0
EXPIRY_DAYS = [7, 14, 35, 70, 126, 217]
KNOTS = np.array([-0.6, -0.4, -0.2, -0.1, 0.0, 0.1, 0.2, 0.4, 0.6])
ASSETS = [
    ("BTC", 91_250.0, 0.55),
    ("ETH", 3_050.0, 0.68),
    ("SOL", 140.0, 0.85),
    ("XRP", 2.1, 0.9),
    ("DOGE", 0.16, 1.0),
    ("AVAX", 14.0, 0.95),
    ("LINK", 13.5, 0.9),
    ("DOT", 2.6, 0.95),
]
MASK = (1 << 64) - 1


class SplitMix:
    def __init__(self, seed):
        self.state = seed & MASK

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
        return z ^ (z >> 31)

    def uniform(self):
        return (self.next() >> 11) * (1.0 / (1 << 53))


def smile_vol(atm_30d, days, k):
    tenor = math.sqrt(days / 30.0)
    atm = atm_30d * (1.0 - 0.04 * math.log(days / 30.0))
    return atm - 0.12 / tenor * k + 0.45 / tenor * k * k


def strike_step(spot):
    return 5.0 * 10.0 ** (math.floor(math.log10(spot)) - 2)


def round_half_away(x):
    return math.copysign(math.floor(abs(x) + 0.5), x)


def surface_weights(taus, tau):
    """(row i0, row i1, c0, c1): sigma^2 tau = c0 s_i0(k)^2 + c1 s_i1(k)^2 (SPEC section 2)."""
    last = len(taus) - 1
    if tau <= taus[0]:
        return 0, 0, tau, 0.0
    if tau >= taus[last]:
        return last, last, tau, 0.0
    i = int(np.searchsorted(taus, tau, side="right")) - 1
    a = (tau - taus[i]) / (taus[i + 1] - taus[i])
    return i, i + 1, (1.0 - a) * taus[i], a * taus[i + 1]


def row_vol(row, k):
    return float(np.interp(k, KNOTS, row))


def norm_cdf(x):
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def black76(call, f, k, vol, tau, rate):
    disc = math.exp(-rate * tau)
    sd = vol * math.sqrt(tau)
    d1 = math.log(f / k) / sd + 0.5 * sd
    d2 = d1 - sd
    if call:
        return disc * (f * norm_cdf(d1) - k * norm_cdf(d2))
    return disc * (k * norm_cdf(-d2) - f * norm_cdf(-d1))


class Book:
    """Flat arrays, one entry per option, plus per-asset market data."""


def generated_book(options=576, assets=3, seed=7, horizon_days=1.0):
    b = Book()
    b.horizon = horizon_days * DAY
    n_assets = assets
    b.spot = np.array([ASSETS[i][1] for i in range(n_assets)])
    b.rate = np.array([0.02 if i % 2 == 1 else 0.0 for i in range(n_assets)])
    taus = np.array(EXPIRY_DAYS, dtype=float) * DAY
    b.taus = taus
    # vols[asset, expiry, knot]
    b.vols = np.array(
        [[[smile_vol(ASSETS[a][2], d, k) for k in KNOTS] for d in EXPIRY_DAYS] for a in range(n_assets)]
    )

    def surface(a, tau, k):
        i0, i1, c0, c1 = surface_weights(taus, tau)
        s0, s1 = row_vol(b.vols[a, i0], k), row_vol(b.vols[a, i1], k)
        return math.sqrt((c0 * s0 * s0 + c1 * s1 * s1) / tau)

    b.spot_vol = np.array([surface(a, 30.0 * DAY, 0.0) for a in range(n_assets)])
    b.vol_of_vol, b.kappa, b.rho_sv = 1.2, 4.0, -0.2
    b.jump_intensity, b.jump_mean, b.jump_std = 6.0, -0.04, 0.08
    corr = np.full((n_assets, n_assets), 0.7)
    np.fill_diagonal(corr, 1.0)
    b.chol = np.linalg.cholesky(corr)

    asset, strike, tau0, is_call, base = [], [], [], [], []
    taken = set()  # (asset, days, call, strike) of the earlier options
    for i in range(options):
        a = i % n_assets
        days = EXPIRY_DAYS[(i // n_assets) % len(EXPIRY_DAYS)]
        slot = i // (n_assets * len(EXPIRY_DAYS))
        call = slot % 2 == 0
        t0 = days * 86_400 / (365.0 * 86_400)
        f0 = b.spot[a] * math.exp(b.rate[a] * t0)
        rng_ = min(0.25 * math.sqrt(days / 7.0), 0.9)
        spread = math.modf((slot // 2) * 0.618_033_988_749_895)[0]
        k = -rng_ + 2.0 * rng_ * spread
        step = strike_step(b.spot[a])
        grid = max(round_half_away(f0 * math.exp(k) / step), 1.0)
        # The nearest free grid strike, up first (options are distinct instruments).
        offset = 0
        while True:
            up = (offset + 1) // 2
            n = grid + up if offset % 2 == 1 else grid - up
            if n >= 1.0 and (a, days, call, n * step) not in taken:
                break
            offset += 1
        kk = n * step
        taken.add((a, days, call, kk))
        vol = surface(a, t0, math.log(kk / f0))
        asset.append(a)
        strike.append(kk)
        tau0.append(t0)
        is_call.append(call)
        base.append(black76(call, f0, kk, vol, t0, b.rate[a]))
    b.asset = np.array(asset)
    b.strike = np.array(strike)
    b.tau0 = np.array(tau0)
    b.is_call = np.array(is_call)
    b.base = np.array(base)

    # Per-option constants at the horizon: tau1, carry, discount, tenor weight, surface rows.
    b.tau1 = b.tau0 - b.horizon
    b.carry1 = np.exp(b.rate[b.asset] * b.tau1)
    b.discount1 = np.exp(-b.rate[b.asset] * b.tau1)
    beta = np.where(b.tau1 < 30.0 * DAY, 0.30, 0.13)
    b.tenor_weight = (30.0 * DAY / np.maximum(b.tau1, DAY)) ** beta
    weights = [surface_weights(taus, t) for t in b.tau1]
    b.row0 = np.array([b.vols[a, w[0]] for a, w in zip(b.asset, weights)])  # options x knots
    b.row1 = np.array([b.vols[a, w[1]] for a, w in zip(b.asset, weights)])
    b.c0 = np.array([w[2] for w in weights])
    b.c1 = np.array([w[3] for w in weights])

    # One account holding every option (SplitMix64 quantities, as in Rust).
    rng = SplitMix(seed ^ 0x7461696C7269736B)
    start = rng.next() % options
    stride = 1 + rng.next() % options
    while math.gcd(stride, options) != 1:
        stride += 1
    qty = np.zeros(options)
    for h in range(options):
        inst = (start + h * stride) % options
        size = 0.1 + 4.9 * rng.uniform()
        sign = 1.0 if rng.next() & 1 == 0 else -1.0
        q = round_half_away(sign * size * 100_000.0 / b.spot[b.asset[inst]] * 10.0) / 10.0
        qty[inst] += q if q != 0.0 else sign * 0.1
    b.quantity = qty
    b.base_value_usd = math.fsum(qty * b.base)
    return b


def simulate_states(b, n, gen):
    """One step of SPEC section 3 for n paths: (log returns, log vol levels), each n x assets."""
    a = len(b.spot)
    dt = b.horizon
    z = gen.standard_normal((n, a))
    w = gen.standard_normal((n, a))
    eps = z @ b.chol.T
    zeta = b.rho_sv * eps + math.sqrt(1.0 - b.rho_sv**2) * w
    log_vol = b.vol_of_vol * math.sqrt(dt) * zeta
    counts = gen.poisson(b.jump_intensity * dt, (n, a))
    jumps = counts * b.jump_mean + np.sqrt(counts) * b.jump_std * gen.standard_normal((n, a))
    k_comp = math.expm1(b.jump_mean + 0.5 * b.jump_std**2)
    sigma = b.spot_vol
    log_ret = -0.5 * sigma**2 * dt - b.jump_intensity * k_comp * dt + sigma * math.sqrt(dt) * eps + jumps
    return log_ret, log_vol


def tail_measures(losses, confidence=0.99):
    """VaR and ES of SPEC section 4 from all losses (k = ceil(N(1 - alpha)))."""
    n = len(losses)
    k = max(1, math.ceil(round(n * (1.0 - confidence), 9)))
    top = np.partition(losses, n - k)[n - k :]
    return float(top.min()), float(top.mean())
