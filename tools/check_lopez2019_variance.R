#!/usr/bin/env Rscript
# Which reading of metadat's `se` column in dat.lopez2019 reproduces the published network
# meta-analysis (Lopez-Lopez et al. 2019, Psychological Medicine 49:1937-1947)?
#
# metadat documents `se` as a standard error and its example uses vi = se^2. The values, however,
# have the size of sampling variances (se * n >= 1 in every arm; se ~ 1/n + diff^2/(4n)). This
# script fits metadat's own contrast-based model (treatments vs TAU, rho = 1/2) under both
# readings and prints the estimates next to the published ones (abstract of the paper):
#   F2F CBT -1.11 (-1.62, -0.60); hybrid -1.06 (-2.05, -0.08); multimedia -0.59 (-1.20, 0.02);
#   wait list 0.72 (0.09, 1.35).
# Usage: Rscript tools/check_lopez2019_variance.R   (needs metafor and metadat)

suppressPackageStartupMessages(library(metafor))

fit <- function(se_is_variance) {
  dat <- dat.lopez2019
  if (se_is_variance) dat$se <- sqrt(dat$se)
  dat <- to.wide(dat, study = "study", grp = "treatment", ref = "TAU",
                 grpvars = c("diff", "se", "n"), postfix = c("1", "2"))
  dat$yi <- with(dat, diff1 - diff2)
  dat$vi <- with(dat, se1^2 + se2^2)
  calc.v <- function(x) {
    v <- matrix(x$se2[1]^2, nrow = nrow(x), ncol = nrow(x))
    diag(v) <- x$vi
    v
  }
  V <- bldiag(lapply(split(dat, dat$study), calc.v))
  dat <- contrmat(dat, grp1 = "treatment1", grp2 = "treatment2")
  res <- rma.mv(yi, V, data = dat,
                mods = ~ No.treatment + Wait.list + Placebo + F2F.CBT + Hybrid.CBT +
                  Multimedia.CBT - 1,
                random = ~ comp | study, rho = 1 / 2)
  cat(sprintf("\n== se read as %s: tau^2 = %.3f\n",
              if (se_is_variance) "a variance" else "a standard error", res$tau2))
  print(round(cbind(estimate = coef(res), ci_low = res$ci.lb, ci_high = res$ci.ub), 2))
}
fit(FALSE)
fit(TRUE)
