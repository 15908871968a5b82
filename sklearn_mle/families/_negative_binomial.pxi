# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
# ----------------------------------------------------------------------------------
# Negative binomial (NB2) with log link, raw prediction columns (eta = log mu,
# a = log alpha), r = 1 / alpha, t = a + eta = log(alpha mu):
#   NLL = -[lgamma(y + r) - lgamma(r) - lgamma(y + 1) + r log(r / (r + mu))
#           + y log(mu / (r + mu))]
#       = -D(y, r) + lgamma(y + 1) + y c + r softplus(t),
#   D = lgamma(y + r) - lgamma(r) - y log r,  c = log(1/mu + alpha) = softplus(t) - eta.
# D -> 0 as alpha -> 0 (the Poisson limit), so it is never formed as a difference of
# two huge lgammas: for small integer y it is sum_{j<y} log1p(j alpha); for large r
# a Stirling expansion in which only small terms are added.  With
#   S1 = sum_{j<y} j alpha / (1 + j alpha) = -dD/da,
#   S2 = sum_{j<y} j alpha / (1 + j alpha)^2 = dS1/da,
# the gradient is ((mu - y) / (1 + alpha mu),  y sigma(t) - S1 - r (softplus(t) - sigma(t)))
# and the Hessian follows below.  The helpers at the top (softplus, logistic, trigamma,
# series of functions of x = exp(t) whose leading terms cancel) serve the Student-t too.
# ----------------------------------------------------------------------------------
cdef double LOG_PI = 1.1447298858494002
cdef double EULER_GAMMA = 0.57721566490153286
#: Largest y (an integer) for which the y-sums are added term by term.
cdef double NB_SUM_MAX_Y = 64.0
#: Terms of the pmf-weighted series of the NB Fisher information beyond which a
#: closed-form approximation is used instead (see _nb_fisher).
cdef Py_ssize_t NB_FISHER_MAX_TERMS = 20000


cdef inline void _nb_y_sums(double y, double a, double *out) noexcept nogil:
    """out = (D, S1, S2) of the NB2 NLL at count y and a = log alpha (see above)."""
    cdef double r, u, s, sig, psi_y
    cdef Py_ssize_t j
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    if y <= 0.0:
        return
    if y <= NB_SUM_MAX_Y and y == floor(y):
        # log1p(j alpha) = softplus(a + log j), j alpha / (1 + j alpha) = sigma(a + log j)
        for j in range(1, <Py_ssize_t> y):
            s = a + log(<double> j)
            sig = _logistic(s)
            out[0] = out[0] + _softplus(s)
            out[1] = out[1] + sig
            out[2] = out[2] + sig * _logistic(-s)
        return
    if a < -36.0 and exp(a) * y * y < 1e-10:
        # first order in alpha: the next terms are below 1e-20 absolute (r may be inf)
        out[0] = 0.5 * exp(a) * y * (y - 1.0)
        out[1] = out[0]
        out[2] = out[0]
        return
    if a <= -6.907755278982137:     # r >= 1000: expansions in 1/r, 1/(y + r)
        r = exp(-a)
        u = y * exp(a)
        out[0] = (r * _log1pmx(u) + (y - 0.5) * log1p(u)
                  + _stirling_tail(y + r) - _stirling_tail(r))
        out[1] = (-r * _log1pmx(u) - 0.5 * y / (y + r)
                  + r * (_digamma_tail(y + r) - _digamma_tail(r)))
        out[2] = (y * u / (1.0 + u) - out[1] - 0.5 * u * (2.0 + u) / ((1.0 + u) * (1.0 + u))
                  + r * r * (_trigamma_tail(y + r) - _trigamma_tail(r)))
        return
    if a >= 18.420680743952367:     # r <= 1e-8: first order in r
        psi_y = psi(y) + EULER_GAMMA
        r = exp(-a)
        out[0] = gammaln(y) + (y - 1.0) * a + r * psi_y
        out[1] = y - 1.0 - r * psi_y
        out[2] = r * psi_y
        return
    r = exp(-a)
    out[0] = gammaln(y + r) - gammaln(r) + y * a
    out[1] = y - r * (psi(y + r) - psi(r))
    out[2] = (y - out[1]) + r * r * (_trigamma(y + r) - _trigamma(r))


cdef inline double _nb_r_softplus(double eta, double a, double t) noexcept nogil:
    """r softplus(t) = -log P(y = 0), as mu log1p(x) / x for x = alpha mu <= 1."""
    if t <= 0.0:
        return _exp_or_inf(eta) * _log1p_over(exp(t))
    return _exp_or_inf(-a) * _softplus(t)


cdef inline double _nb_c(double eta, double a, double t) noexcept nogil:
    """c = log(1/mu + alpha) = softplus(t) - eta, from whichever form does not cancel."""
    if t <= 0.0:
        return _softplus(t) - eta
    return a + _softplus(-t)


cdef inline double _nb_r_series(double eta, double a, double t, int kind) noexcept nogil:
    """r x times _series_in_x(x, kind) (x = exp(t)), i.e. r (softplus - sigma) (kind 0)
    or r (softplus - sigma - sigma^2) (kind 1), both exact where x is small; saturating
    at DBL_MAX (they enter derivatives only, where inf * 0 would make a NaN)."""
    cdef double spt
    if t <= 0.0:
        return _exp_capped(eta) * _series_in_x(exp(t), kind)
    spt = _softplus(t)
    if kind == 0:
        return _exp_capped(-a) * (spt - _logistic(t))
    return _exp_capped(-a) * (spt - _logistic(t) - _logistic(t) * _logistic(t))


cdef inline double _nb_loss_grad(double y, double eta, double a,
                                 double *grad) noexcept nogil:
    """NB2 NLL at (eta, a); grad[0:2] receives its gradient."""
    cdef double t = a + eta
    cdef double sums[3]
    cdef double c = _nb_c(eta, a, t)
    _nb_y_sums(y, a, sums)
    grad[0] = _exp_or_inf(-c) - y * _logistic(-t)
    grad[1] = y * _logistic(t) - sums[1] - _nb_r_series(eta, a, t, 0)
    if y == 0.0:
        return _nb_r_softplus(eta, a, t)
    return -sums[0] + _log_factorial(y) + y * c + _nb_r_softplus(eta, a, t)


cdef inline void _nb_hessian(double y, double eta, double a, double *out) noexcept nogil:
    """Observed Hessian of the NB2 NLL: out = (H_ee, H_ea, H_aa)."""
    cdef double t = a + eta
    cdef double sums[3]
    cdef double c = _nb_c(eta, a, t), spread = _logistic(t) * _logistic(-t)
    _nb_y_sums(y, a, sums)
    # (r + y) sigma(-t) sigma(t), with r sigma(t) sigma(-t) = mu / (1 + alpha mu)^2
    out[0] = _exp_or_inf(-c - _softplus(t)) + y * spread
    # -sigma(t) dNLL/deta
    out[1] = y * spread - _exp_or_inf(-c - _softplus(-t))
    out[2] = y * spread - sums[2] + _nb_r_series(eta, a, t, 1)


#: Gauss-Laguerre rule (24 nodes) for the smooth geometric tail of that series.
cdef double[24] LAGUERRE_NODES = [0.05901985218150761, 0.3112391461984835, 0.7660969055459361, 1.4255975908036125, 2.2925620586321904, 3.3707742642089986, 4.66508370346717, 6.181535118736765, 7.927539247172152, 9.912098015077705, 12.146102711729764, 14.642732289596674, 17.417992646508978, 20.491460082616424, 23.887329848169735, 27.635937174332717, 31.776041352374722, 36.35840580165162, 41.45172048487077, 47.153106445156325, 53.60857454469507, 61.05853144721876, 69.96224003510503, 81.49827923394889]
cdef double[24] LAGUERRE_WEIGHTS = [0.14281197333475043, 0.25877410751744107, 0.2588067072728734, 0.18332268897778237, 0.09816627262992299, 0.04073247815141022, 0.013226019405120549, 0.0033693490584784146, 0.0006721625640935707, 0.00010446121465927847, 1.2544721977993773e-05, 1.151315812737323e-06, 7.960812959133895e-08, 4.072858987550192e-09, 1.507008226292658e-10, 3.917736515058548e-12, 6.894181052958382e-14, 7.819800382459628e-16, 5.350188813010104e-18, 2.0105174645555705e-20, 3.6057658645529064e-23, 2.451818845878714e-26, 4.08830159368094e-30, 5.575345788327942e-35]


cdef inline double _nb_s2_tail(double k, double length, double head, double eta,
                               double a, double t) noexcept nogil:
    """sum_{j >= k} P(Y = j) S2(j) for a tail decaying like exp(-j / length) (length
    >= 64, k >= 4 length), from Euler-Maclaurin: the integral over [k, inf) of the
    smooth extension (Gauss-Laguerre in u = (j - k) / length), plus head / 2 +
    head / (12 length), head = P(Y = k) S2(k); the next term is O(head / length^3)."""
    cdef double c = _nb_c(eta, a, t), rsp = _nb_r_softplus(eta, a, t), total = 0.0
    cdef double j, sums[3]
    cdef int i
    for i in range(24):
        j = k + length * LAGUERRE_NODES[i]
        _nb_y_sums(j, a, sums)
        total = total + LAGUERRE_WEIGHTS[i] * sums[2] * exp(
            LAGUERRE_NODES[i] + sums[0] - gammaln(j + 1.0) - j * c - rsp)
    return length * total + head * (0.5 + 1.0 / (12.0 * length))


cdef inline double _nb_shape_information(double r) noexcept nogil:
    """r^2 psi'(r) - r, the information on log r of a gamma variable with shape r."""
    cdef double inv
    if r >= 1000.0:
        inv = 1.0 / r
        return 0.5 + inv * (1.0 / 6.0 - inv * inv * (1.0 / 30.0 - inv * inv / 42.0))
    if r < 1e-8:        # r^2 psi'(r) = 1 + zeta(2) r^2 + ...
        return 1.0 - r
    return r * r * _trigamma(r) - r


cdef inline void _nb_fisher(double eta, double a, double *out) noexcept nogil:
    """Expected Hessian of the NB2 NLL: out = (I_ee, I_ea, I_aa).

    I_ee = mu / (1 + alpha mu), I_ea = 0 and I_aa = r (softplus(t) - sigma(t)) -
    E[S2(Y)], the expectation summed over the pmf (from P(0) by its recursion, held
    as a mantissa and a log offset so that neither underflows; no transcendental
    function per term) until the rest of the series is below rounding.  Where x =
    alpha mu < 1 the two parts agree to first order in alpha, so the series sums
    Q(y) = alpha y (y - 1) / 2 - S2(y) >= 0 instead, whose complement has the
    closed-form mean E[alpha Y (Y - 1) / 2] = alpha mu^2 (1 + alpha) / 2:
        I_aa = E[Q(Y)] + mu ((softplus - sigma) / x - x / 2) - x^2 / 2.
    The series needs about mu + 40 (1 + x) terms (its tail decays like
    (x / (1 + x))^y); once past the mean and 4 decay lengths (if these are >= 64),
    the rest is summed by _nb_s2_tail.  Beyond NB_FISHER_MAX_TERMS the large-mu limit
    (r^2 psi'(r) - r) x^2 / (1 + x)^2 is used instead: exact as mu -> inf at fixed
    alpha (the information on the shape of the gamma mixing distribution; an upper
    bound, since Y tells less than the gamma variable), the normal approximation
    x^2 / (2 (1 + x)^2) when r is large too.  It takes over only where mu or
    4 (1 + alpha mu) exceed NB_FISHER_MAX_TERMS; for small r it is approached
    slowly, like (r / mu)^r.  It serves only the preconditioner; standard errors use
    the observed Hessian.  Elsewhere, with the tail rule, the information matched the
    exact expectation of the Hessian to 3e-8 or better wherever measured (mu up to
    1000, alpha from e^-3 to e^3).
    """
    cdef double t = a + eta, x = exp(t), r = exp(-a), mu = _exp_or_inf(eta)
    cdef double alpha = exp(a), q = _logistic(t), p, offset, rho, v, info
    cdef double s2 = 0.0, q_sum = 0.0, mean_s2 = 0.0, mean_q = 0.0
    cdef bint small = t < 0.0
    cdef Py_ssize_t k = 0
    out[0] = _exp_or_inf(-_nb_c(eta, a, t))
    out[1] = 0.0
    if r > 1e300:       # the Poisson limit: I_aa -> alpha^2 mu^2 / 2
        out[2] = 0.5 * x * x
        return
    if mu > 1e300:      # the large-mu limit, below
        out[2] = _nb_shape_information(r) * q * q
        return
    offset = -_nb_r_softplus(eta, a, t)     # log P(Y = 0); P(Y = k) = p exp(offset)
    p = 1.0
    while True:
        # here p exp(offset) = P(Y = k), s2 = S2(k), q_sum = Q(k)
        if p > 0.0:
            mean_s2 = mean_s2 + p * s2
            mean_q = mean_q + p * q_sum
        if k >= 1:                          # the j = k terms of S2(k + 1), Q(k + 1)
            v = k * alpha
            s2 = s2 + 1.0 / (v + 2.0 + 1.0 / v)         # v / (1 + v)^2
            if small:                                   # v - v / (1 + v)^2
                q_sum = q_sum + v * (v * (2.0 + v) / ((1.0 + v) * (1.0 + v)))
        rho = (k + r) / (k + 1.0) * q
        p = p * rho
        if p > 1e250:
            p = p * 1e-250
            mean_s2 = mean_s2 * 1e-250
            mean_q = mean_q * 1e-250
            offset = offset + 575.6462732485114        # log(1e250)
        k = k + 1
        # decay length -1 / log(rho) >= 64 and k >= 4 of them (as k (1 - rho) >= 4)
        if not small and k > mu and 0.9845 <= rho < 1.0 and k * (1.0 - rho) >= 4.0:
            # a long geometric tail (alpha mu > 1): its sum in closed form
            mean_s2 = mean_s2 * exp(offset) + _nb_s2_tail(
                <double> k, -1.0 / log(rho), p * exp(offset) * s2, eta, a, t)
            offset = 0.0
            break
        # (k >= 3: S2 and Q are 0 below y = 2, so the test means nothing before)
        if k >= 3 and k > mu and rho < 1.0 and p * (s2 + q_sum) <= (
                1e-17 * (1.0 - rho) * (mean_s2 + mean_q)):
            break
        if k >= NB_FISHER_MAX_TERMS:
            out[2] = _nb_shape_information(r) * q * q
            return
    mean_s2 = mean_s2 * exp(offset)
    mean_q = mean_q * exp(offset)
    if small:
        info = mean_q + mu * _series_in_x(x, 2) - 0.5 * x * x
    else:
        info = _nb_r_series(eta, a, t, 0) - mean_s2
    out[2] = info if info > 0.0 else 0.0
