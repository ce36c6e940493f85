# Profile-likelihood intervals of the random-intercept variances and of the shares they give
# (golden values for commonfactors' decomposition/_profile_ci.py; tests/test_profile_ci.py).
#
# For each case and model (the full formula of cases.csv, and the intercept-only "null" model
# with the same random effects), each random intercept's relative standard deviation theta_j
# is profiled: the REML criterion (lme4's devfun, REML = TRUE) is minimised over the other
# theta with theta_j fixed (optimize(), one free parameter at most here), and the limits are
# where it exceeds its minimum by qchisq(0.95, 1) (uniroot; lower limit 0 when the profile at
# 0 stays below). At each limit the fixed effects and sigma^2 are read from devfun's
# environment (pp$beta, (wrss + sqrL) / (n - p)), and the shares are computed as the package
# defines them: f = var(X b) over rows (n - 1 denominator, intercept left out), random
# intercepts add their variance (mean(Z) = 1, var(Z) = 0), total = f + sum(variances) + sigma^2;
# share = variance_j / total, icc_adjusted = variance_j / (total - f).
#
# Run from the repository root: Rscript tests/reference/make_profile_reference.R
# Writes tests/reference/golden_profile.csv (R 4.2.2, lme4 1.1.31 for the committed file).
suppressMessages(library(lme4))

ref <- "tests/reference"
cases <- read.csv(file.path(ref, "cases.csv"), stringsAsFactors = FALSE)
use <- c("growth3_ri", "change2_ri", "singular_ri")
crit <- qchisq(0.95, 1)
rows <- list()

parts_at <- function(dev, theta, X, n) {
  dev(theta)
  rho <- environment(dev)
  beta <- rho$pp$beta(1)
  s2 <- (rho$resp$wrss() + rho$pp$sqrL(1)) / (n - length(beta))
  f <- if (ncol(X) > 1) var(as.vector(X[, -1, drop = FALSE] %*% beta[-1])) else 0
  list(var = s2 * theta^2, s2 = s2, f = f)
}

for (case in use) {
  row <- cases[cases$case == case, ]
  d <- read.csv(file.path(ref, row$file))
  full <- as.formula(row$formula)
  lhs <- all.vars(full)[1]
  re <- regmatches(row$formula, gregexpr("\\([^()]*\\|[^()]*\\)", row$formula))[[1]]
  null <- as.formula(paste(lhs, "~ 1 +", paste(re, collapse = " + ")))
  for (model in c("full", "null")) {
    form <- if (model == "full") full else null
    m <- lmer(form, d, REML = TRUE, control = lmerControl(check.conv.singular = "ignore"))
    dev <- lmer(form, d, REML = TRUE, devFunOnly = TRUE)
    X <- getME(m, "X")
    n <- nrow(X)
    th_hat <- getME(m, "theta")
    groups <- sub("\\.\\(Intercept\\)$", "", names(th_hat))
    dmin <- dev(th_hat)
    for (j in seq_along(th_hat)) {
      prof <- function(t) {
        th <- th_hat
        th[j] <- t
        if (length(th) == 1) return(list(dev = dev(th), theta = th))
        k <- setdiff(seq_along(th), j)
        o <- optimize(function(x) { th[k] <- x; dev(th) }, c(0, 20), tol = 1e-12)
        th[k] <- o$minimum
        list(dev = o$objective, theta = th)
      }
      excess <- function(t) prof(t)$dev - dmin - crit
      tj <- th_hat[[j]]
      lo <- 0
      if (tj > 0 && excess(0) > 0) lo <- uniroot(excess, c(0, tj), tol = 1e-12)$root
      step <- max(tj, 0.05)
      while (excess(tj + step) <= 0) step <- 2 * step
      hi <- uniroot(excess, c(tj, tj + step), tol = 1e-12)$root
      for (b in c("estimate", "low", "high")) {
        t <- switch(b, estimate = tj, low = lo, high = hi)
        th <- if (b == "estimate") th_hat else prof(t)$theta
        p <- parts_at(dev, th, X, n)
        total <- p$f + sum(p$var) + p$s2
        rows[[length(rows) + 1]] <- data.frame(
          case = case, model = model, group = groups[j], bound = b, theta = t,
          share_total_variance = p$var[j] / total, icc_adjusted = p$var[j] / (total - p$f))
      }
    }
  }
}
out <- do.call(rbind, rows)
write.csv(format(out, digits = 17), file.path(ref, "golden_profile.csv"), row.names = FALSE,
          quote = FALSE)
