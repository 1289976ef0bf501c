"""Numerics of the sample market: pure numpy functions, no I/O.

Returns follow a multi-component stochastic-volatility model with Student-t innovations, a
common market factor and a deterministic intraday profile; bars, volume, liquidations, open
interest, spot and funding are derived from the return path. Every random draw comes from a
``numpy.random.Generator`` passed in by the caller (see ``rng_for``), so the same seed gives the
same bytes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lifthouse.data.sample.params import MODEL, VOL_PROFILE, VOLUME_PROFILE, ModelParams


def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """An independent PCG64 stream for (seed, keys...), e.g. (seed, symbol_key, month, stream)."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), *map(int, keys)])))


def ar1(eps: np.ndarray, phi: float, state: float) -> tuple[np.ndarray, float]:
    """x_t = phi * x_{t-1} + eps_t starting from x_{-1} = state. Returns (x, last x)."""
    if eps.size == 0:
        return eps.copy(), state
    # here, not at import: scipy.signal takes 1.5-2.5 s to import and every CLI command
    # (also `lifthouse --help` and a run that reuses its sample) imports this module
    from scipy.signal import lfilter

    x, _ = lfilter([1.0], [1.0, -phi], eps, zi=[phi * state])
    return x, float(x[-1])


def phi_of(half_life: float) -> float:
    return float(0.5 ** (1.0 / half_life))


def log_vol(rng: np.random.Generator, n: int, components: tuple[tuple[float, float], ...],
            state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sum of stationary AR(1) log-volatility components. ``state`` holds each component's last
    value (zeros to start at the mean). Returns (path, new state)."""
    total = np.zeros(n)
    new_state = np.empty(len(components))
    eps = rng.standard_normal((len(components), n))
    for k, (half_life, sd) in enumerate(components):
        phi = phi_of(half_life)
        x, new_state[k] = ar1(eps[k] * sd * np.sqrt(1.0 - phi * phi), phi, float(state[k]))
        total += x
    return total, new_state


def log_vol_variance(components: tuple[tuple[float, float], ...]) -> float:
    return float(sum(sd * sd for _, sd in components))


def t_innovations(rng: np.random.Generator, n: int, df: float) -> np.ndarray:
    """Student-t draws scaled to unit variance."""
    return rng.standard_t(df, n) / np.sqrt(df / (df - 2.0))


def intraday(minute_of_day: np.ndarray, hourly: np.ndarray) -> np.ndarray:
    """Smooth periodic interpolation of 24 hourly values (each taken at the half hour)."""
    x = (np.asarray(minute_of_day, dtype=float) - 30.0) / 60.0
    xp = np.arange(-1, 25, dtype=float)
    fp = np.concatenate([hourly[-1:], hourly, hourly[:1]])
    return np.interp(x % 24.0, xp, fp)


def bar_sigma(sigma: float, log_vol_path: np.ndarray, minute_of_day: np.ndarray,
              model: ModelParams = MODEL) -> np.ndarray:
    """Conditional 1m return std: level x intraday profile x exp(log-vol), mean-corrected so the
    average variance is ``sigma**2``. ``log_vol_path`` includes the post-shock excitation
    (``vol_excitation``), whose mean and variance are corrected for here too."""
    var = log_vol_variance(model.market_vol_components) + log_vol_variance(model.idio_vol_components)
    m, v = kernel_moments(model.vol_excite, model.shock_z0, model)
    return sigma * intraday(minute_of_day, VOL_PROFILE) * np.exp(log_vol_path - var - m - v)


# ---------------------------------------------------------------- post-shock excitation

@lru_cache(maxsize=4)
def _t_unit_grid(df: float) -> tuple[np.ndarray, np.ndarray]:
    """A fixed quadrature grid (|z| values, probability weights) of the unit-variance Student t."""
    from scipy.stats import t as student_t

    scale = np.sqrt(df / (df - 2.0))
    edges = np.linspace(0.0, 40.0, 40_001)
    mid = 0.5 * (edges[1:] + edges[:-1])
    p = 2.0 * np.diff(student_t.cdf(edges * scale, df))
    return mid, p


def shock_mark(z: np.ndarray, z0: float) -> np.ndarray:
    """The excitation a bar sends forward: log(|z| / z0) above the threshold, else 0 (NaN: 0)."""
    a = np.abs(np.nan_to_num(np.asarray(z, dtype=float))) / z0
    return np.log(np.maximum(a, 1.0))


@lru_cache(maxsize=16)
def kernel_moments(kernels: tuple[tuple[float, float], ...], z0: float,
                   model: ModelParams = MODEL) -> tuple[float, float]:
    """Stationary mean and variance of an excitation path sum_k w_k sum_j phi_k^j mark_{t-j}
    with i.i.d. marks of i.i.d. unit-variance Student t moves (exact for the volatility
    excitation; an approximation for the volume's, whose moves are clustered)."""
    if not kernels:
        return 0.0, 0.0
    mid, p = _t_unit_grid(model.t_df)
    mark = np.log(np.maximum(mid / z0, 1.0))
    e1 = float(np.dot(p, mark))
    var_mark = float(np.dot(p, mark * mark)) - e1 * e1
    phis = [phi_of(h) for h, _ in kernels]
    ws = [w for _, w in kernels]
    mean = e1 * sum(w / (1.0 - f) for w, f in zip(ws, phis))
    var = var_mark * sum(wa * wb / (1.0 - fa * fb)
                         for wa, fa in zip(ws, phis) for wb, fb in zip(ws, phis))
    return mean, var


def excitation(mark: np.ndarray, kernels: tuple[tuple[float, float], ...], state: np.ndarray,
               lagged: bool, cap: float) -> tuple[np.ndarray, np.ndarray]:
    """Sum over kernels of x_t = phi x_{t-1} + w mark_t (``state``: each kernel's last x),
    saturating smoothly at ``cap`` (cap * tanh(x / cap): a run of shocks does not compound
    without bound). ``lagged``: return x_{t-1} (the excitation a bar inherits from the bars
    before it, for the volatility, which must be known before the bar's innovation), else x_t
    (the bar's own mark included, for its volume). Returns (path, new state)."""
    n = mark.size
    total = np.zeros(n)
    new_state = np.asarray(state, dtype=float).copy()
    for k, (half_life, w) in enumerate(kernels):
        x, new_state[k] = ar1(w * mark, phi_of(half_life), float(state[k]))
        total += np.concatenate([[state[k]], x[:-1]]) if lagged else x
    return cap * np.tanh(total / cap), new_state


def volume_noise(rng: np.random.Generator, n: int, components: tuple[tuple[float, float], ...],
                 state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log-volume noise: a sum of stationary AR(1) components (half-life 0 = i.i.d.)."""
    total = np.zeros(n)
    new_state = np.asarray(state, dtype=float).copy()
    eps = rng.standard_normal((len(components), n))
    for k, (half_life, sd) in enumerate(components):
        if half_life <= 0:
            total += sd * eps[k]
            continue
        phi = phi_of(half_life)
        x, new_state[k] = ar1(eps[k] * sd * np.sqrt(1.0 - phi * phi), phi, float(state[k]))
        total += x
    return total, new_state


def log_ranges(r: np.ndarray, sig: np.ndarray, wick_u: np.ndarray,
               model: ModelParams = MODEL) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower wicks (log units) beyond max/min(open, close). ``wick_u`` is (2, n)
    standard exponential draws."""
    return sig * model.wick_scale * wick_u[0], sig * model.wick_scale * wick_u[1]


def nominal_volume_usd(log_range: np.ndarray, sigma: float, minute_of_day: np.ndarray,
                       noise: np.ndarray, volume_usd: float, model: ModelParams = MODEL) -> np.ndarray:
    """USD volume per bar: rises with the bar's range (power ``volume_gamma``), an intraday
    profile beyond what volatility explains, and lognormal noise (``noise``: the log noise plus
    the post-shock volume excitation; both means are corrected for here)."""
    extra = intraday(minute_of_day, VOLUME_PROFILE / VOL_PROFILE ** model.volume_gamma)
    # E[(range/sigma)^gamma] ~ (1.2)^gamma on average; the constant keeps the mean near volume_usd
    rel = np.maximum(log_range / (1.2 * sigma), 1e-3) ** model.volume_gamma
    m, v = kernel_moments(model.volume_excite, model.volume_shock_z0, model)
    return volume_usd * extra * rel * np.exp(noise - 0.5 * model.volume_noise_var - m - 0.5 * v)


def round_to(x: np.ndarray, step: float) -> np.ndarray:
    return np.round(np.asarray(x) / step) * step


def build_ohlc(logc_prev: float, r: np.ndarray, up: np.ndarray, down: np.ndarray,
               tick: float) -> tuple[np.ndarray, ...]:
    """Open/high/low/close prices from log returns and wick sizes; open = previous close; all
    prices on the tick grid and consistent (low <= open, close <= high)."""
    logc = logc_prev + np.cumsum(r)
    logo = np.concatenate([[logc_prev], logc[:-1]])
    hi = np.maximum(logo, logc) + up
    lo = np.minimum(logo, logc) - down
    o, h, l, c = (round_to(np.exp(v), tick) for v in (logo, hi, lo, logc))
    h = np.maximum(h, np.maximum(o, c))
    l = np.maximum(np.minimum(l, np.minimum(o, c)), tick)
    return o, h, l, c, logc


def taker_buy_share(r: np.ndarray, sig: np.ndarray, noise: np.ndarray) -> np.ndarray:
    """Share of volume bought by takers: above one half in up bars, below in down bars."""
    return np.clip(0.5 + 0.3 * np.tanh(r / (2.0 * sig)) + 0.05 * noise, 0.02, 0.98)


# ---------------------------------------------------------------- funding

CARRY_POS, CARRY_NEUTRAL, CARRY_NEG = 0, 1, 2
CARRY_NAMES = ("carry_pos", "carry_neutral", "carry_neg")
CARRY_POS_MIN = 0.00005  # 0.5 bp: the default carry_pos threshold downstream
FUNDING_TRANSITIONS = np.array([
    [0.80, 0.14, 0.06],
    [0.22, 0.68, 0.10],
    [0.18, 0.20, 0.62],
])


def funding_path(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """A carry-state Markov chain over ``n`` settlements and its funding rates (decimal per 8h).

    carry_pos: mostly the +1 bp no-premium value, sometimes 0.5-1 bp; carry_neutral: 0.05-0.45 bp;
    carry_neg: below zero (about -0.8 bp on average). About 0.5% of settlements are stress prints
    up to +-0.75% in the state's direction.
    """
    u = rng.random(n)
    states = np.empty(n, dtype=np.int64)
    cum = np.cumsum(FUNDING_TRANSITIONS, axis=1)
    s = int(rng.integers(0, 3))
    for i in range(n):  # n is ~3 per day: a plain loop is fine
        s = int(np.searchsorted(cum[s], u[i], side="right"))
        s = min(s, 2)
        states[i] = s
    a, b, c, d = rng.random((4, n))
    pos = np.where(a < 0.75, 1e-4, 0.5e-4 + 0.5e-4 * b)
    neutral = 0.05e-4 + 0.4e-4 * b
    neg = -(0.1e-4 + rng.exponential(0.7e-4, n))
    rate = np.choose(states, [pos, neutral, neg])
    stress = (c < 0.005) & (states != CARRY_NEUTRAL)
    stress_size = 0.001 + 0.0065 * d
    rate = np.where(stress, np.where(states == CARRY_POS, stress_size, -stress_size), rate)
    rate = np.clip(rate, -0.0075, 0.0075)
    return states, np.round(rate, 8)


def carry_state_of(rate: np.ndarray) -> np.ndarray:
    r = np.asarray(rate)
    return np.where(r >= CARRY_POS_MIN, CARRY_POS, np.where(r >= 0.0, CARRY_NEUTRAL, CARRY_NEG))


# ---------------------------------------------------------------- rolling helpers

def rolling_std(x: np.ndarray, window: int) -> np.ndarray:
    """Std of x[i-window+1 .. i] (NaN until full), via cumulative sums."""
    out = np.full(x.size, np.nan)
    if x.size < window:
        return out
    c1 = np.concatenate([[0.0], np.cumsum(x)])
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    out[window - 1:] = np.sqrt(np.maximum(s2 / window - (s1 / window) ** 2, 0.0))
    return out


def rolling_rms(x: np.ndarray, window: int) -> np.ndarray:
    """sqrt(mean(x^2)) over x[i-window+1 .. i] (NaN until full)."""
    out = np.full(x.size, np.nan)
    if x.size < window:
        return out
    c2 = np.concatenate([[0.0], np.cumsum(x * x)])
    out[window - 1:] = np.sqrt(np.maximum((c2[window:] - c2[:-window]) / window, 0.0))
    return out
