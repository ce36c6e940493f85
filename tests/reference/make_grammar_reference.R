# Golden values for lme4's random-part grammar and for lmerTest-style inference.
#
# Run from the repository root, after writing the simulated four-level set:
#
#   python tests/reference/make_grammar_data.py && Rscript tests/reference/make_grammar_reference.R
#
# Needs R with lme4, lmerTest, pbkrtest, performance, minqa and mlmRev (Debian: r-base-core
# r-cran-lme4 r-cran-lmertest r-cran-pbkrtest r-cran-performance r-cran-mlmrev). Versions of the
# last run: tests/reference/grammar_versions.csv (written by this script). Run time: about
# 10 minutes (Kenward-Roger on egsingle and the profiles dominate).
#
# Data: egsingle (mlmRev; Bryk, Raudenbush & Congdon's HLM example, 7230 rows, children in
# schools), Pastes, Penicillin and sleepstudy (lme4; Davies & Goldsmith 1972, Belenky et al. 2003)
# are written from those packages to tests/reference/data/<name>_fitted.csv; psy4 (clinics /
# therapists / clients / sessions) is simulated by make_grammar_data.py and disaggregated here.
# Every number is written with sprintf("%.17g") and the fits use exactly the numbers written.
#
# Profiles are skipped for egsingle (7 variance parameters on 7230 rows: lme4's profile and the
# exact one take most of an hour on a shared 2-core machine).
#
# Per case (grammar_cases.csv): fixed effects with lmerTest's Satterthwaite df, t and p and the
# Kenward-Roger SE, df, t and p (grammar_fixed.csv), variance components (grammar_variance.csv),
# logLik of the fit and of lme4's ML refit, AIC, BIC (grammar_fit.csv), profile-likelihood
# intervals of the variance parameters (grammar_profile.csv), Rights & Sterba components and ICCs
# computed by hand plus performance's ICC and R2 (grammar_components.csv); likelihood-ratio
# comparisons by anova() (grammar_anova.csv).

suppressPackageStartupMessages({
  library(lme4)
  library(lmerTest)
  library(pbkrtest)
  library(performance)
  library(minqa)
  library(mlmRev)
})

args_all <- commandArgs(trailingOnly = FALSE)
script_arg <- sub("^--file=", "", args_all[grep("^--file=", args_all)])
ref_dir <- if (length(script_arg) == 1) dirname(normalizePath(script_arg)) else "tests/reference"
data_dir <- file.path(ref_dir, "data")

ctrl <- lmerControl(
  optimizer = "bobyqa",
  optCtrl = list(rhoend = 1e-12, maxfun = 1e6),
  check.conv.singular = "ignore"
)

fmt <- function(x) {
  if (is.logical(x)) return(ifelse(x, "TRUE", "FALSE"))
  if (is.numeric(x)) return(ifelse(is.na(x), "NA", sprintf("%.17g", x)))
  as.character(x)
}

write_golden <- function(df, name, dir = ref_dir, quote = TRUE) {
  out <- as.data.frame(lapply(df, fmt), stringsAsFactors = FALSE, check.names = FALSE)
  write.csv(out, file.path(dir, name), row.names = FALSE, quote = quote, na = "NA")
  cat("wrote", file.path(dir, name), "(", nrow(out), "rows )\n")
}

# ------------------------------------------------------------------------------------ data
data(egsingle, package = "mlmRev")
egsingle <- data.frame(
  schoolid = as.character(egsingle$schoolid), childid = paste0("c", egsingle$childid),
  year = egsingle$year, math = egsingle$math,
  male = as.numeric(egsingle$female == "Male"), black = as.numeric(egsingle$black == "1"),
  hispanic = as.numeric(egsingle$hispanic == "1"), lowinc = egsingle$lowinc,
  stringsAsFactors = FALSE
)
pastes <- data.frame(strength = lme4::Pastes$strength, batch = as.character(lme4::Pastes$batch),
                     cask = as.character(lme4::Pastes$cask),
                     sample = as.character(lme4::Pastes$sample), stringsAsFactors = FALSE)
penicillin <- data.frame(diameter = lme4::Penicillin$diameter,
                         plate = as.character(lme4::Penicillin$plate),
                         sample = as.character(lme4::Penicillin$sample), stringsAsFactors = FALSE)
sleepstudy <- data.frame(Reaction = lme4::sleepstudy$Reaction, Days = lme4::sleepstudy$Days,
                         Subject = paste0("s", lme4::sleepstudy$Subject), stringsAsFactors = FALSE)

# psy4: row-weighted means over the rows present;
# x_w = x - mean_client, x_c = mean_client - mean_therapist, x_t = mean_therapist - mean_clinic,
# x_k = mean_clinic - mean(x).
psy4 <- read.csv(file.path(data_dir, "psy4.csv"), stringsAsFactors = FALSE)
for (col in c("session", "alliance")) {
  x <- psy4[[col]]
  m_cli <- ave(x, psy4$client, FUN = mean)
  m_the <- ave(x, psy4$therapist, FUN = mean)
  m_kli <- ave(x, psy4$clinic, FUN = mean)
  psy4[[paste0(col, "_w")]] <- x - m_cli
  psy4[[paste0(col, "_c")]] <- m_cli - m_the
  psy4[[paste0(col, "_t")]] <- m_the - m_kli
  psy4[[paste0(col, "_k")]] <- m_kli - mean(x)
}

datasets <- list(egsingle = egsingle, pastes = pastes, penicillin = penicillin,
                 sleepstudy = sleepstudy, psy4 = psy4)
for (nm in names(datasets)) {
  write_golden(datasets[[nm]], paste0(nm, "_fitted.csv"), dir = data_dir, quote = FALSE)
  datasets[[nm]] <- read.csv(file.path(data_dir, paste0(nm, "_fitted.csv")),
                             stringsAsFactors = FALSE)
}

# ------------------------------------------------------------------------------------ cases
# factors: lme4's grouping-factor name (names(getME(fit, "flist"))) -> a data column that
#   identifies the same groups (ids unique across parents), used as `factor` in the goldens.
# levels: for Rights & Sterba level measures, the grouping columns from the lowest level
#   upwards ("" = the row); NULL = no hierarchy (crossed) -> total measures only.
# nested_formula: the same model written with unique ids and at most one term per factor, the
#   form the nested engine of the package took before the grammar was extended ("" = none).
eg_full <- "math ~ year + male + black + hispanic + lowinc + (year | childid) + (year | schoolid)"
psy4_fixed <- "outcome ~ session_w + alliance_w + alliance_c + alliance_t + alliance_k"
psy4_rand <- "(1 | clinic/therapist) + (1 + session_w | clinic:therapist:client)"
psy4_rand_ids <- "(1 | clinic) + (1 | therapist) + (1 + session_w | client)"
cases <- list(
  list(case = "egsingle_slopes", data = "egsingle", reml = TRUE, formula = eg_full,
       nested_formula = eg_full, factors = c(childid = "childid", schoolid = "schoolid"),
       levels = c("", "childid", "schoolid"), profile = FALSE),
  list(case = "pastes_nested", data = "pastes", reml = TRUE,
       formula = "strength ~ 1 + (1 | batch/cask)",
       nested_formula = "strength ~ 1 + (1 | batch) + (1 | sample)",
       factors = c("cask:batch" = "sample", batch = "batch"), levels = c("", "sample", "batch")),
  list(case = "pastes_expanded", data = "pastes", reml = TRUE,
       formula = "strength ~ 1 + (1 | batch) + (1 | batch:cask)",
       nested_formula = "strength ~ 1 + (1 | batch) + (1 | sample)",
       factors = c("batch:cask" = "sample", batch = "batch"), levels = c("", "sample", "batch")),
  list(case = "penicillin_crossed", data = "penicillin", reml = TRUE,
       formula = "diameter ~ 1 + (1 | plate) + (1 | sample)", nested_formula = "",
       factors = c(plate = "plate", sample = "sample"), levels = NULL),
  list(case = "sleepstudy_uncorrelated", data = "sleepstudy", reml = TRUE,
       formula = "Reaction ~ Days + (Days || Subject)", nested_formula = "",
       factors = c(Subject = "Subject"), levels = c("", "Subject")),
  list(case = "sleepstudy_split", data = "sleepstudy", reml = TRUE,
       formula = "Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", nested_formula = "",
       factors = c(Subject = "Subject"), levels = c("", "Subject")),
  list(case = "sleepstudy_correlated", data = "sleepstudy", reml = TRUE,
       formula = "Reaction ~ Days + (Days | Subject)",
       nested_formula = "Reaction ~ Days + (Days | Subject)",
       factors = c(Subject = "Subject"), levels = c("", "Subject")),
  list(case = "sleepstudy_correlated_ml", data = "sleepstudy", reml = FALSE,
       formula = "Reaction ~ Days + (Days | Subject)",
       nested_formula = "Reaction ~ Days + (Days | Subject)",
       factors = c(Subject = "Subject"), levels = c("", "Subject")),
  list(case = "psy4_slope", data = "psy4", reml = TRUE,
       formula = paste(psy4_fixed, "+", psy4_rand), nested_formula = "",
       factors = c("clinic:therapist:client" = "client", "therapist:clinic" = "therapist",
                   clinic = "clinic"),
       levels = c("", "client", "therapist", "clinic"))
)

# likelihood-ratio comparisons: anova(small, large) (lme4 refits REML fits by ML)
comparisons <- list(
  list(comparison = "egsingle_fixed", data = "egsingle",
       small = "math ~ year + male + black + hispanic + (year | childid) + (year | schoolid)",
       large = eg_full),
  list(comparison = "egsingle_random", data = "egsingle",
       small = "math ~ year + male + black + hispanic + lowinc + (year | childid) + (1 | schoolid)",
       large = eg_full),
  list(comparison = "pastes_batch", data = "pastes", small = "strength ~ 1 + (1 | batch:cask)",
       large = "strength ~ 1 + (1 | batch/cask)"),
  list(comparison = "penicillin_sample", data = "penicillin",
       small = "diameter ~ 1 + (1 | plate)",
       large = "diameter ~ 1 + (1 | plate) + (1 | sample)"),
  list(comparison = "sleepstudy_correlation", data = "sleepstudy",
       small = "Reaction ~ Days + (Days || Subject)", large = "Reaction ~ Days + (Days | Subject)"),
  list(comparison = "psy4_fixed", data = "psy4",
       small = paste("outcome ~ session_w + alliance_w + alliance_c +", psy4_rand),
       large = paste(psy4_fixed, "+", psy4_rand))
)

fit_lmer <- function(formula, data, reml) {
  warns <- character(0)
  fit <- withCallingHandlers(
    lmerTest::lmer(as.formula(formula), data = data, REML = reml, control = ctrl),
    warning = function(w) {
      warns <<- c(warns, conditionMessage(w))
      invokeRestart("muffleWarning")
    }
  )
  conv_msgs <- fit@optinfo$conv$lme4$messages
  attr(fit, "converged") <- length(warns) == 0 && length(conv_msgs) == 0 &&
    fit@optinfo$conv$opt == 0
  attr(fit, "warnings") <- c(warns, conv_msgs)
  fit
}

clean_term <- function(x) ifelse(is.na(x), "", ifelse(x == "(Intercept)", "Intercept", x))

# --------------------------------------------------------------- Rights & Sterba by hand
# Random-effect blocks: one per element of getME(fit, "cnms"), with its covariance T, the factor
# it belongs to, and its row-wise design z (intercept = 1, slopes = the data column).
re_blocks <- function(fit, factors) {
  cnms <- getME(fit, "cnms")
  fl <- getME(fit, "flist")
  assign <- attr(fl, "assign")
  vc <- VarCorr(fit)
  d <- model.frame(fit)
  X <- getME(fit, "X")
  lapply(seq_along(cnms), function(i) {
    T <- as.matrix(vc[[i]])
    attr(T, "stddev") <- NULL
    attr(T, "correlation") <- NULL
    Z <- sapply(cnms[[i]], function(nm) {
      if (nm == "(Intercept)") rep(1, nrow(X)) else if (nm %in% colnames(X)) X[, nm] else d[[nm]]
    })
    Z <- matrix(Z, nrow = nrow(X), dimnames = list(NULL, cnms[[i]]))
    list(factor = unname(factors[names(fl)[assign[i]]]), T = T, Z = Z)
  })
}

# level of a fixed predictor: 1 = centred within the lowest grouping; k > 1 = constant within
# grouping k and centred within grouping k + 1 (if any)
predictor_level <- function(x, data, levels, tol = 1e-9) {
  scale <- max(1, max(abs(x)))
  for (k in seq_along(levels)) {
    constant_ok <- if (levels[k] == "") TRUE else
      max(abs(x - ave(x, data[[levels[k]]], FUN = mean))) < tol * scale
    centred_ok <- if (k == length(levels)) TRUE else
      max(abs(ave(x, data[[levels[k + 1]]], FUN = mean))) < tol * scale
    if (constant_ok && centred_ok) return(k)
  }
  NA_integer_
}

# Components (all covariances with the n - 1 denominator):
#   f = var(X b); per factor: v_<factor> = sum over its blocks of tr(T cov(z)),
#   m_<factor> = sum over its blocks of mbar' T mbar (mbar = colMeans(z)); residual = sigma^2;
#   total = f + v + sum(m) + residual.
# Level-pure models (every predictor has a level, every random slope is on a level-1 variable
# and belongs to the lowest grouping factor): f<k> = b_k' cov(X_k) b_k for the predictors of
# level k, and measures within_<lowest> = (f1, v, residual) / (f1 + v + residual),
# between_<factor k> = (f<k>, m_<factor k>) / (f<k> + m_<factor k>).
# ICC per factor (by hand): (m_<factor> + v_<factor>) / (sum(m) + v + residual), the adjusted
# ICC of METHODS.md (Johnson 2014 for the slope part).
rs_components <- function(fit, data, factors, levels) {
  X <- getME(fit, "X")
  beta <- fixef(fit)
  preds <- setdiff(colnames(X), "(Intercept)")
  s2 <- sigma(fit)^2
  blocks <- re_blocks(fit, factors)
  fac_names <- unique(unname(factors))
  v_f <- setNames(rep(0, length(fac_names)), fac_names)
  m_f <- v_f
  slopes_ok <- !is.null(levels)
  for (b in blocks) {
    v_f[b$factor] <- v_f[b$factor] + sum(diag(b$T %*% cov(b$Z)))
    mbar <- colMeans(b$Z)
    m_f[b$factor] <- m_f[b$factor] + as.numeric(t(mbar) %*% b$T %*% mbar)
    for (s in setdiff(colnames(b$Z), "(Intercept)")) {
      if (is.null(levels)) next
      lvl <- predictor_level(b$Z[, s], data, levels)
      if (is.na(lvl) || lvl != 1 || b$factor != levels[2]) slopes_ok <- FALSE
    }
  }
  f <- var(as.vector(X %*% beta))
  v <- sum(v_f)
  total <- f + v + sum(m_f) + s2
  levels_of <- if (is.null(levels) || length(preds) == 0) integer(0) else
    sapply(preds, function(p) predictor_level(X[, p], data, levels))
  pure <- slopes_ok && all(!is.na(levels_of))
  comps <- c()
  if (pure) {
    for (k in seq_along(levels)) {
      idx <- preds[levels_of == k]
      comps[paste0("f", k)] <- if (length(idx) == 0) 0 else
        as.numeric(t(beta[idx]) %*% cov(X[, idx, drop = FALSE]) %*% beta[idx])
    }
  }
  comps["f"] <- f
  comps["v"] <- v
  for (g in fac_names) if (v_f[[g]] != 0) comps[paste0("v_", g)] <- v_f[[g]]
  for (g in fac_names) comps[paste0("m_", g)] <- m_f[[g]]
  comps["residual"] <- s2
  rows <- list()
  add <- function(component, measure, value) {
    rows[[length(rows) + 1]] <<- data.frame(component = component, measure = measure,
                                            value = value, stringsAsFactors = FALSE)
  }
  for (nm in names(comps)) add(nm, "variance", comps[[nm]])
  add("total", "variance", total)
  for (nm in names(comps)) add(nm, "total", comps[[nm]] / total)
  add("r2_marginal", "total", f / total)
  add("r2_conditional", "total", (f + v + sum(m_f)) / total)
  for (g in fac_names) add(paste0("icc_", g), "total", (m_f[[g]] + v_f[[g]]) / (v + sum(m_f) + s2))
  if (pure) {
    within <- c(f1 = comps[["f1"]], v = v, residual = s2)
    for (nm in names(within)) add(nm, paste0("within_", levels[2]), within[[nm]] / sum(within))
    for (k in seq_along(levels)[-1]) {
      g <- levels[k]
      p <- c(comps[[paste0("f", k)]], m_f[[g]])
      names(p) <- c(paste0("f", k), paste0("m_", g))
      for (nm in names(p)) add(nm, paste0("between_", g), p[[nm]] / sum(p))
    }
  }
  out <- do.call(rbind, rows)
  attr(out, "pure") <- pure
  out
}

performance_rows <- function(fit) {
  r2 <- suppressWarnings(performance::r2_nakagawa(fit, tolerance = 0))
  ic <- suppressWarnings(performance::icc(fit, tolerance = 0))
  bg <- suppressWarnings(performance::icc(fit, by_group = TRUE, tolerance = 0))
  out <- data.frame(component = c("performance_r2_marginal", "performance_r2_conditional",
                                  "performance_icc_adjusted", "performance_icc_unadjusted"),
                    measure = "total",
                    value = c(r2$R2_marginal, r2$R2_conditional, ic$ICC_adjusted,
                              ic$ICC_unadjusted), stringsAsFactors = FALSE)
  if (is.data.frame(bg)) {
    out <- rbind(out, data.frame(component = paste0("performance_icc_group_", bg$Group),
                                 measure = "total", value = bg$ICC, stringsAsFactors = FALSE))
  }
  out
}

# -------------------------------------------------------------- exact profile intervals
# lme4's profile() refits a REML fit by ML and profiles the ML deviance in the standard
# deviations, correlations and sigma (devfun2); confint() then inverts a spline through the
# profile. Here the same ML profile is solved exactly: for parameter j held at s, the deviance
# is minimised over all the others (bobyqa), and uniroot finds where it exceeds the minimum by
# qchisq(0.95, 1). A bound (sd 0, correlation +-1) is returned when the profile stays below the
# cut-off up to it.
exact_profile <- function(fit, level = 0.95) {
  dd <- lme4:::devfun2(fit, useSc = TRUE, signames = FALSE)
  np <- length(getME(fit, "theta")) + 1
  opt <- attr(dd, "optimum")[seq_len(np)]
  nm <- names(opt)
  lower <- ifelse(grepl("^cor_", nm), -1, 0)
  upper <- ifelse(grepl("^cor_", nm), 1, Inf)
  base <- dd(opt)
  cut <- qchisq(level, 1)
  out <- data.frame(parameter = nm, estimate_ml = unname(opt), lower_exact = NA_real_,
                    upper_exact = NA_real_, stringsAsFactors = FALSE)
  for (j in seq_len(np)) {
    start <- opt
    prof <- function(s) {
      f <- function(p) {
        q <- numeric(np); q[j] <- s; q[-j] <- p
        dd(q)
      }
      st <- pmin(pmax(start[-j], lower[-j] + 1e-8), upper[-j] - 1e-8)
      r <- bobyqa(st, f, lower = lower[-j], upper = upper[-j],
                  control = list(rhoend = 1e-11, maxfun = 1e5))
      r$fval - base - cut
    }
    scale <- if (grepl("^cor_", nm[j])) 0.2 else max(abs(opt[j]) * 0.2, 1e-3)
    for (side in c(-1, 1)) {
      bound <- if (side < 0) lower[j] else upper[j]
      a <- opt[j]
      b <- opt[j] + side * scale
      root <- NA_real_
      repeat {
        if ((side < 0 && b <= bound) || (side > 0 && b >= bound)) {
          b <- bound
          if (prof(b) < 0) root <- bound
          break
        }
        if (prof(b) > 0) break
        a <- b
        b <- opt[j] + 2 * (b - opt[j])
      }
      if (is.na(root)) {
        root <- uniroot(prof, sort(c(a, b)), tol = 1e-12 * max(1, abs(opt[j])),
                        maxiter = 200)$root
      }
      if (side < 0) out$lower_exact[j] <- root else out$upper_exact[j] <- root
    }
  }
  out
}

# ---------------------------------------------------------------------------------- run
# GRAMMAR_ONLY=<regex> restricts the cases and comparisons (for checking the script quickly;
# the committed files come from a run without it).
only <- Sys.getenv("GRAMMAR_ONLY", "")
if (nzchar(only)) {
  cases <- Filter(function(cs) grepl(only, cs$case), cases)
  comparisons <- Filter(function(cp) grepl(only, cp$comparison), comparisons)
  ref_dir <- Sys.getenv("GRAMMAR_OUT", tempdir())
}
case_rows <- list(); fixed_rows <- list(); var_rows <- list(); fit_rows <- list()
prof_rows <- list(); comp_rows <- list()
for (cs in cases) {
  cat("case", cs$case, "\n")
  d <- datasets[[cs$data]]
  fit <- fit_lmer(cs$formula, d, cs$reml)
  if (!attr(fit, "converged")) cat("  WARNING: not clean:", attr(fit, "warnings"), "\n")
  case_rows[[cs$case]] <- data.frame(case = cs$case, file = paste0("data/", cs$data, "_fitted.csv"),
                                     formula = cs$formula, reml = cs$reml,
                                     nested_formula = cs$nested_formula,
                                     stringsAsFactors = FALSE)
  sat <- summary(fit, ddf = "Satterthwaite")$coefficients
  fx <- data.frame(case = cs$case, term = clean_term(rownames(sat)), estimate = sat[, 1],
                   std_error = sat[, 2], df_satterthwaite = sat[, 3], t_value = sat[, 4],
                   p_satterthwaite = sat[, 5], stringsAsFactors = FALSE)
  if (cs$reml) {
    kr <- summary(fit, ddf = "Kenward-Roger")$coefficients
    fx$std_error_kr <- kr[, 2]; fx$df_kr <- kr[, 3]; fx$t_kr <- kr[, 4]; fx$p_kr <- kr[, 5]
  } else {
    fx$std_error_kr <- NA_real_; fx$df_kr <- NA_real_; fx$t_kr <- NA_real_; fx$p_kr <- NA_real_
  }
  fixed_rows[[cs$case]] <- fx

  vc <- as.data.frame(VarCorr(fit))
  fl <- getME(fit, "flist")
  # VarCorr's group names carry ".1" for a second block on one factor: map through cnms
  blk_factor <- unname(cs$factors[names(fl)[attr(fl, "assign")]])
  blk_names <- names(VarCorr(fit))
  is_res <- vc$grp == "Residual"
  var_rows[[cs$case]] <- data.frame(
    case = cs$case, group = ifelse(is_res, "residual", vc$grp),
    factor = ifelse(is_res, "residual", blk_factor[match(vc$grp, blk_names)]),
    term1 = ifelse(is_res, "", clean_term(vc$var1)),
    term2 = ifelse(is_res, "", ifelse(is.na(vc$var2), clean_term(vc$var1), clean_term(vc$var2))),
    estimate = vc$vcov, sdcor = vc$sdcor, stringsAsFactors = FALSE)

  lm4 <- as(fit, "lmerMod")
  ml <- if (cs$reml) refitML(lm4) else lm4
  alt <- suppressWarnings(lmer(as.formula(cs$formula), data = d, REML = cs$reml,
    control = lmerControl(optimizer = "nloptwrap", check.conv.singular = "ignore",
                          optCtrl = list(algorithm = "NLOPT_LN_NELDERMEAD", xtol_abs = 1e-14,
                                         ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0,
                                         maxeval = 1e5))))
  fit_rows[[cs$case]] <- data.frame(
    case = cs$case, reml = cs$reml, loglik = as.numeric(logLik(lm4)),
    loglik_ml_refit = as.numeric(logLik(ml)),
    deviance_criterion = if (cs$reml) unname(REMLcrit(lm4)) else unname(deviance(lm4)),
    npar = attr(logLik(lm4), "df"), aic = AIC(lm4), bic = BIC(lm4),
    aic_ml_refit = AIC(ml), bic_ml_refit = BIC(ml),
    n_obs = nobs(lm4), converged = attr(fit, "converged"),
    singular = isSingular(lm4, tol = 1e-4),
    alt_optimizer_max_rel_diff_fixed = max(abs(fixef(alt) - fixef(lm4)) /
                                             pmax(abs(fixef(lm4)), 1e-8)),
    alt_optimizer_max_rel_diff_variance = max(abs(as.data.frame(VarCorr(alt))$vcov - vc$vcov) /
                                                pmax(abs(vc$vcov), 1e-8)),
    stringsAsFactors = FALSE)

  if (isFALSE(cs$profile)) {
    comp <- rs_components(lm4, d, cs$factors, cs$levels)
    fit_rows[[cs$case]]$level_pure <- attr(comp, "pure")
    comp <- rbind(comp, performance_rows(lm4))
    comp_rows[[cs$case]] <- cbind(case = cs$case, comp, stringsAsFactors = FALSE)
    next
  }
  t0 <- Sys.time()
  ci <- suppressWarnings(suppressMessages(
    confint(lm4, parm = "theta_", method = "profile", oldNames = FALSE)))
  ex <- exact_profile(lm4)
  stopifnot(identical(rownames(ci), ex$parameter))
  ex$lower_lme4 <- unname(ci[, 1])
  ex$upper_lme4 <- unname(ci[, 2])
  prof_rows[[cs$case]] <- cbind(case = cs$case, ex, stringsAsFactors = FALSE)
  cat(sprintf("  profile: %.1f s; max |exact - lme4 spline| = %.2g\n",
              as.numeric(difftime(Sys.time(), t0, units = "secs")),
              max(abs(c(ex$lower_exact - ex$lower_lme4, ex$upper_exact - ex$upper_lme4)),
                  na.rm = TRUE)))

  comp <- rs_components(lm4, d, cs$factors, cs$levels)
  fit_rows[[cs$case]]$level_pure <- attr(comp, "pure")
  comp <- rbind(comp, performance_rows(lm4))
  comp_rows[[cs$case]] <- cbind(case = cs$case, comp, stringsAsFactors = FALSE)
}

anova_rows <- list()
for (cp in comparisons) {
  d <- datasets[[cp$data]]
  small <- as(fit_lmer(cp$small, d, TRUE), "lmerMod")
  large <- as(fit_lmer(cp$large, d, TRUE), "lmerMod")
  a <- suppressMessages(anova(small, large))
  anova_rows[[cp$comparison]] <- data.frame(
    comparison = cp$comparison, model = c("small", "large"), formula = c(cp$small, cp$large),
    npar = a$npar, aic = a$AIC, bic = a$BIC, loglik = a$logLik, deviance = a$deviance,
    chisq = a$Chisq, df = a$Df, p_value = a[["Pr(>Chisq)"]], stringsAsFactors = FALSE)
}

write_golden(do.call(rbind, case_rows), "grammar_cases.csv")
write_golden(do.call(rbind, fixed_rows), "grammar_fixed.csv")
write_golden(do.call(rbind, var_rows), "grammar_variance.csv")
write_golden(do.call(rbind, fit_rows), "grammar_fit.csv")
write_golden(do.call(rbind, prof_rows), "grammar_profile.csv")
write_golden(do.call(rbind, comp_rows), "grammar_components.csv")
write_golden(do.call(rbind, anova_rows), "grammar_anova.csv")

pkgs <- c("lme4", "lmerTest", "pbkrtest", "performance", "insight", "Matrix", "minqa",
          "numDeriv", "mlmRev")
versions <- data.frame(
  software = c("R", pkgs),
  version = c(paste(R.version$major, R.version$minor, sep = "."),
              sapply(pkgs, function(p) as.character(packageVersion(p)))),
  stringsAsFactors = FALSE
)
write_golden(versions, "grammar_versions.csv")
cat("done\n")
