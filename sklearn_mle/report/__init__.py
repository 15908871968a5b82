"""What a fit reports: likelihood statistics, covariance and Wald inference, the
summary table.  Written once for both estimators; the estimators supply the names and
header lines that differ."""
