# Included by _kernels.pyx (textually, so the loops there inline these functions);
# cimports and shared constants are at the top of _kernels.pyx.
# ----------------------------------------------------------------------------------
# Student-t (location-scale), identity link, raw prediction columns (mu, s = log sigma,
# l = log nu), z = (y - mu) / sigma, lq = log(z^2 / nu):
#   NLL = G(nu) + log(pi) / 2 + s + (nu + 1) / 2 * softplus(lq),
#   G(nu) = lgamma(nu / 2) - lgamma((nu + 1) / 2) + log(nu) / 2  (-> log(2) / 2).
# nu-dependent parts through B(nu) = 1 + nu (psi(nu/2) - psi((nu+1)/2)) = 2 nu G'(nu)
# and B2 = nu B'(nu), which vanish as nu -> inf; for nu >= 50 all three come from
# their asymptotic series in 1/nu (no lgamma/psi differences that cancel), so the NLL
# tends to the Gaussian's and the derivatives in l to 0 without loss of accuracy.
# ----------------------------------------------------------------------------------
#: Coefficients beta_k of B(nu) = sum_k beta_k nu^(1 - 2k), beta_k = -B_2k (2^(2k+1) - 2)
#: / (2k) with the Bernoulli numbers B_2k.
cdef double[8] T_SERIES = [-0.5, 0.25, -0.5, 2.125, -15.5, 172.75, -2730.5, 58098.0625]
#: nu from which the series are used (their error there is below 1e-20 relative).
cdef double T_SERIES_MIN_DF = 50.0


cdef inline void _t_df_terms(double l, double *out) noexcept nogil:
    """out = (G, B, B2, I_ll) at l = log nu; I_ll is the Fisher information of l,
    nu^2 [psi'(nu/2) - psi'((nu+1)/2)] / 4 - nu (nu + 5) / (2 (nu + 1) (nu + 3))."""
    cdef double nu, e, power, half, dpsi, dpsi1
    cdef int k
    if l < -600.0:      # nu -> 0 limits (the next terms are O(nu))
        out[0] = -0.5 * l + LOG_2 - 0.5 * LOG_PI
        out[1] = -1.0
        out[2] = 0.0
        out[3] = 1.0
        return
    if l >= 3.912023005428146:      # nu >= 50
        e = exp(-l)
        out[0] = 0.5 * LOG_2
        out[1] = 0.0
        out[2] = 0.0
        out[3] = 0.0
        power = e
        for k in range(1, 9):
            out[0] = out[0] - T_SERIES[k - 1] * power / (2.0 * (2 * k - 1))
            out[1] = out[1] + T_SERIES[k - 1] * power
            out[2] = out[2] + (1.0 - 2 * k) * T_SERIES[k - 1] * power
            if k >= 2:
                out[3] = out[3] - k * T_SERIES[k - 1] * power
            power = power * e * e
        # I_ll = [B2 - B - 1/nu + (7 nu + 3) / (nu (nu + 1) (nu + 3))] / 2
        out[3] = out[3] + 0.5 * e * e * (7.0 + 3.0 * e) / ((1.0 + e) * (1.0 + 3.0 * e))
        return
    nu = exp(l)
    half = 0.5 * nu
    dpsi = psi(half) - psi(half + 0.5)
    dpsi1 = _trigamma(half) - _trigamma(half + 0.5)
    out[0] = gammaln(half) - gammaln(half + 0.5) + 0.5 * l
    out[1] = 1.0 + nu * dpsi
    out[2] = nu * dpsi + 0.5 * nu * nu * dpsi1
    out[3] = 0.25 * nu * nu * dpsi1 - nu * (nu + 5.0) / (2.0 * (nu + 1.0) * (nu + 3.0))


cdef inline double _t_residual_terms(double y, double mu, double s, double l,
                                     double *out) noexcept nogil:
    """For r = y - mu != 0: out = (lq, p = z^2 / (nu + z^2), log|r|, nu softplus(lq),
    nu (softplus(lq) - p), nu (softplus(lq) - p - p^2), nu p); returns log z^2.
    The nu-multiples are formed as z^2 times a series in x = z^2 / nu where that is
    small (nu large), so they stay exact as nu -> inf; the loss term out[3] is +inf
    beyond the doubles, the others (derivatives only) saturate at DBL_MAX."""
    cdef double log_abs_r = log(fabs(y - mu)), log_z2, lq, x
    log_z2 = 2.0 * (log_abs_r - s)
    lq = log_z2 - l
    out[0] = lq
    out[1] = _logistic(lq)
    out[2] = log_abs_r
    if lq <= 0.0:
        x = exp(lq)
        out[3] = _exp_or_inf(log_z2) * _log1p_over(x)
        out[4] = _exp_capped(log_z2) * _series_in_x(x, 0)
        out[5] = _exp_capped(log_z2) * _series_in_x(x, 1)
    else:
        out[3] = _exp_or_inf(l) * _softplus(lq)
        out[4] = _exp_capped(l) * (_softplus(lq) - out[1])
        out[5] = _exp_capped(l) * (_softplus(lq) - out[1] - out[1] * out[1])
    out[6] = _exp_capped(log_z2 - _softplus(lq))
    return log_z2


cdef inline double _t_loss_grad(double y, double mu, double s, double l,
                                double *grad) noexcept nogil:
    """Student-t NLL at (mu, s, l); grad[0:3] receives its gradient."""
    cdef double df[4]
    cdef double res[7]
    cdef double log_z2, log_a
    _t_df_terms(l, df)
    if y == mu:
        grad[0] = 0.0
        grad[1] = 1.0
        grad[2] = 0.5 * df[1]
        return df[0] + 0.5 * LOG_PI + s
    log_z2 = _t_residual_terms(y, mu, s, l, res)
    # log A, A = (nu + 1) / (nu + z^2) = exp(softplus(-l) - softplus(lq))
    log_a = _softplus(-l) - _softplus(res[0])
    grad[0] = -copysign(_exp_capped(log_a + res[2] - 2.0 * s), y - mu)
    grad[1] = 1.0 - _exp_capped(log_a + log_z2)
    grad[2] = 0.5 * (df[1] + res[4] - res[1])
    return df[0] + 0.5 * LOG_PI + s + 0.5 * (res[3] + _softplus(res[0]))


cdef inline void _t_hessian(double y, double mu, double s, double l,
                            double *out) noexcept nogil:
    """Observed Hessian of the Student-t NLL, upper triangle in row order:
    out = (mu mu, mu s, mu l, s s, s l, l l)."""
    cdef double df[4]
    cdef double res[7]
    cdef double log_a, g_mu, p, excess
    _t_df_terms(l, df)
    if y == mu:
        out[0] = _exp_capped(_softplus(-l) - 2.0 * s)
        out[1] = 0.0
        out[2] = 0.0
        out[3] = 0.0
        out[4] = 0.0
        out[5] = 0.5 * df[2]
        return
    _t_residual_terms(y, mu, s, l, res)
    p = res[1]
    log_a = _softplus(-l) - _softplus(res[0])
    g_mu = -copysign(_exp_capped(log_a + res[2] - 2.0 * s), y - mu)
    excess = res[6] - _logistic(-res[0])         # nu p - (1 - p) = (1 - p)(z^2 - 1)
    out[0] = _exp_capped(log_a - 2.0 * s) * (1.0 - 2.0 * p)
    out[1] = -2.0 * _logistic(-res[0]) * g_mu
    out[2] = g_mu * (excess * _logistic(-l))    # (bracketed: DBL_MAX * 0, not inf * 0)
    out[3] = 2.0 * ((res[6] + p) * _logistic(-res[0]))
    out[4] = -p * excess
    out[5] = 0.5 * (df[2] + res[5] + p * _logistic(-res[0]))


cdef inline void _t_fisher(double s, double l, double *out) noexcept nogil:
    """Fisher information of the Student-t in (mu, log sigma, log nu), upper triangle
    in row order (Lange, Little and Taylor 1989, JASA 84, eq. in section 3, with
    sigma and nu moved to their logs):
      I_mu mu = (nu + 1) / ((nu + 3) sigma^2),  I_s s = 2 nu / (nu + 3),
      I_s l = -2 nu / ((nu + 1) (nu + 3)),     I_mu s = I_mu l = 0,
      I_l l = nu^2 [psi'(nu/2) - psi'((nu+1)/2)] / 4 - nu (nu + 5) / (2 (nu+1)(nu+3)).
    """
    cdef double df[4]
    cdef double e, nu
    _t_df_terms(l, df)
    if l > 0.0:     # in e = 1 / nu < 1
        e = exp(-l)
        out[0] = _exp_capped(-2.0 * s) * (1.0 + e) / (1.0 + 3.0 * e)
        out[3] = 2.0 / (1.0 + 3.0 * e)
        out[4] = -2.0 * e / ((1.0 + e) * (1.0 + 3.0 * e))
    else:
        nu = exp(l)
        out[0] = _exp_capped(-2.0 * s) * (nu + 1.0) / (nu + 3.0)
        out[3] = 2.0 * nu / (nu + 3.0)
        out[4] = -2.0 * nu / ((nu + 1.0) * (nu + 3.0))
    out[1] = 0.0
    out[2] = 0.0
    out[5] = df[3]
