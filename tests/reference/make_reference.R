# Golden reference values for the mixed models and the variance decompositions.
#
# Run from the repository root, after writing the data:
#
#   python tests/reference/make_data.py && Rscript tests/reference/make_reference.R
#
# Last run with: R 4.2.2 Patched (2022-11-10 r83330), lme4 1.1.31, performance 0.10.2,
# insight 0.19.0, Matrix 1.5.3, minqa 1.2.5 (see golden_versions.csv, written by this script).
#
# Reads tests/reference/data/{slope2,growth3,change2,singular}.csv, adds the disaggregated
# predictor columns, writes the data it fits to tests/reference/data/<dataset>_fitted.csv
# (the single source of truth for the Python tests), fits every case with lme4::lmer and
# writes tests/reference/golden_*.csv and cases.csv. Every number is written with
# sprintf("%.17g"), which round-trips a double exactly.
#
# All decomposition formulas are computed here from the lme4 output, from the definitions in
# Rights & Sterba (2019, 2023), Nakagawa & Schielzeth (2013), Johnson (2014), Stoffel et al.
# (2021, part R2) and Lai et al. (2022, hierarchical partitioning); no package implementing
# them is used. Sample covariances use the n - 1 denominator (R's var / cov).

suppressPackageStartupMessages({
  library(lme4)
  library(performance)
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

# ---------------------------------------------------------------------------------------------
# Disaggregation (row-weighted means over the rows present)
#   x_w = x - mean_client(x); x_c = mean_client(x) - mean_therapist(x);
#   x_t = mean_therapist(x) - mean(x).
# Two levels (sessions in clients): x_w = x - mean_client(x), x_c = mean_client(x) - mean(x).
# One row per client (change2): x_c = x - mean_therapist(x), x_t = mean_therapist(x) - mean(x).
# ---------------------------------------------------------------------------------------------
disaggregate <- function(x, client = NULL, therapist = NULL) {
  out <- list()
  m_cli <- if (!is.null(client)) ave(x, client, FUN = mean) else x
  if (!is.null(client)) out$w <- x - m_cli
  if (!is.null(therapist)) {
    m_ther <- ave(x, therapist, FUN = mean)
    out$c <- m_cli - m_ther
    out$t <- m_ther - mean(x)
  } else {
    out$c <- m_cli - mean(x)
  }
  out
}

add_parts <- function(d, cols, client = NULL, therapist = NULL, parts = c("w", "c", "t")) {
  for (col in cols) {
    p <- disaggregate(d[[col]], if (is.null(client)) NULL else d[[client]],
                      if (is.null(therapist)) NULL else d[[therapist]])
    for (nm in intersect(parts, names(p))) d[[paste0(col, "_", nm)]] <- p[[nm]]
  }
  d
}

read_data <- function(name) {
  d <- read.csv(file.path(data_dir, paste0(name, ".csv")), stringsAsFactors = FALSE)
  d
}

slope2 <- read_data("slope2")
slope2 <- add_parts(slope2, c("session", "x"), client = "client")

growth3 <- read_data("growth3")
growth3 <- add_parts(growth3, c("session", "alliance"), client = "client", therapist = "therapist")
growth3 <- add_parts(growth3, c("arm", "expectancy", "support"), client = "client",
                     therapist = "therapist", parts = c("c", "t"))

change2 <- read_data("change2")
change2 <- add_parts(change2, c("alliance", "arm", "expectancy", "support"),
                     therapist = "therapist")

singular <- read_data("singular")

datasets <- list(slope2 = slope2, growth3 = growth3, change2 = change2, singular = singular)
for (nm in names(datasets)) {
  write_golden(datasets[[nm]], paste0(nm, "_fitted.csv"), dir = data_dir, quote = FALSE)
}
# Refit on exactly the numbers written (so R and Python see the same doubles).
for (nm in names(datasets)) {
  datasets[[nm]] <- read.csv(file.path(data_dir, paste0(nm, "_fitted.csv")),
                             stringsAsFactors = FALSE)
}

dis_rows <- list()
for (spec in list(list("growth3", "alliance"), list("growth3", "expectancy"),
                  list("change2", "alliance"))) {
  d <- datasets[[spec[[1]]]]
  col <- spec[[2]]
  get <- function(s) {
    nm <- paste0(col, "_", s)
    if (nm %in% names(d)) d[[nm]] else rep(NA_real_, nrow(d))
  }
  dis <- data.frame(case = spec[[1]], row = seq_len(nrow(d)) - 1L, column = col,
                    x_w = get("w"), x_c = get("c"), x_t = get("t"), stringsAsFactors = FALSE)
  if (spec[[1]] == "growth3" && col == "expectancy") {
    # expectancy is a client attribute: its within-client part is exactly 0
    dis$x_w <- d[[col]] - ave(d[[col]], d$client, FUN = mean)
    dis$x_c <- d$expectancy_c
    dis$x_t <- d$expectancy_t
  }
  dis_rows[[length(dis_rows) + 1]] <- dis
}
write_golden(do.call(rbind, dis_rows), "golden_disaggregate.csv")

# ---------------------------------------------------------------------------------------------
# Cases
# levels: grouping columns from the lowest level upwards ("" = the row itself);
# comp: component names of the fixed part explained at each level.
# ---------------------------------------------------------------------------------------------
lv_sessions_clients <- list(levels = c("", "client"), comp = c("f1", "f2"),
                            measures = c("within", "between"))
lv_three <- list(levels = c("", "client", "therapist"), comp = c("f1", "f2", "f3"),
                 measures = c("within_client", "between_client", "between_therapist"))
lv_change <- list(levels = c("", "therapist"), comp = c("f2", "f3"),
                  measures = c("between_client", "between_therapist"))

g3_pure <- paste("session_w + session_c + session_t + alliance_w + alliance_c + alliance_t",
                 "+ arm_c + arm_t + expectancy_c + expectancy_t + support_c + support_t")
c2_pure <- paste("alliance_c + alliance_t + arm_c + arm_t + expectancy_c + expectancy_t",
                 "+ support_c + support_t")

cases <- list(
  list(case = "slope2_reml", data = "slope2", reml = TRUE, lv = lv_sessions_clients,
       formula = "outcome ~ session + x + (1 + session | client)"),
  list(case = "slope2_ml", data = "slope2", reml = FALSE, lv = lv_sessions_clients,
       formula = "outcome ~ session + x + (1 + session | client)"),
  list(case = "slope2_centred", data = "slope2", reml = TRUE, lv = lv_sessions_clients,
       formula = "outcome ~ session_w + session_c + x_w + x_c + (1 + session_w | client)"),
  list(case = "growth3_ri", data = "growth3", reml = TRUE, lv = lv_three,
       formula = paste("outcome ~", g3_pure, "+ (1 | therapist) + (1 | client)")),
  list(case = "growth3_raw", data = "growth3", reml = TRUE, lv = lv_three,
       formula = "outcome ~ session + alliance + arm + expectancy + (1 | therapist) + (1 | client)"),
  list(case = "growth3_slope", data = "growth3", reml = TRUE, lv = lv_sessions_clients,
       formula = "outcome ~ session + alliance_w + (1 + session | client)"),
  list(case = "change2_ri", data = "change2", reml = TRUE, lv = lv_change,
       formula = paste("improvement ~", c2_pure, "+ (1 | therapist)")),
  list(case = "change2_raw", data = "change2", reml = TRUE, lv = lv_change,
       formula = "improvement ~ alliance + arm + expectancy + support + (1 | therapist)"),
  list(case = "singular_ri", data = "singular", reml = TRUE, lv = lv_three,
       formula = "outcome ~ x + (1 | therapist) + (1 | client)")
)

fit_lmer <- function(formula, data, reml) {
  warns <- character(0)
  fit <- withCallingHandlers(
    lmer(as.formula(formula), data = data, REML = reml, control = ctrl),
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

# Random-effect covariance matrices, one per grouping factor.
re_cov <- function(fit) {
  vc <- VarCorr(fit)
  lapply(vc, function(m) {
    m <- as.matrix(m)
    attr(m, "stddev") <- NULL
    attr(m, "correlation") <- NULL
    m
  })
}

# Row-wise random-effect design of one grouping factor's terms, taken from the fixed design.
z_matrix <- function(fit, T) {
  X <- getME(fit, "X")
  d <- model.frame(fit)
  sapply(rownames(T), function(nm) {
    if (nm == "(Intercept)") rep(1, nrow(X)) else if (nm %in% colnames(X)) X[, nm] else d[[nm]]
  })
}

# Nakagawa & Schielzeth (2013) / Johnson (2014) variance of the random part:
# mean over rows of z_i' T z_i (this is what performance::r2_nakagawa computes).
var_random_johnson <- function(fit) {
  Ts <- re_cov(fit)
  sum(sapply(Ts, function(T) {
    Z <- z_matrix(fit, T)
    mean(rowSums((Z %*% T) * Z))
  }))
}

var_fixed <- function(fit) {
  X <- getME(fit, "X")
  var(as.vector(X %*% fixef(fit)))
}

# Level of each fixed predictor: 1 = row level, centred within the level-2 grouping;
# k > 1 = constant within the level-k grouping and centred within level k+1 (if any).
predictor_level <- function(x, data, levels, tol = 1e-9) {
  scale <- max(1, max(abs(x)))
  n_lv <- length(levels)
  for (k in seq_len(n_lv)) {
    constant_ok <- if (levels[k] == "") TRUE else
      max(abs(x - ave(x, data[[levels[k]]], FUN = mean))) < tol * scale
    centred_ok <- if (k == n_lv) TRUE else
      max(abs(ave(x, data[[levels[k + 1]]], FUN = mean))) < tol * scale
    if (constant_ok && centred_ok) return(k)
  }
  NA_integer_
}

# Rights & Sterba (2019, 2023) components.
rs_components <- function(fit, data, lv) {
  X <- getME(fit, "X")
  beta <- fixef(fit)
  preds <- setdiff(colnames(X), "(Intercept)")
  s2 <- sigma(fit)^2
  Ts <- re_cov(fit)
  f <- var(as.vector(X %*% beta))
  v <- 0
  m_by_group <- c()
  slope_level_ok <- TRUE
  for (g in names(Ts)) {
    T <- Ts[[g]]
    Z <- z_matrix(fit, T)
    v <- v + sum(diag(T %*% cov(Z)))
    mbar <- colMeans(Z)
    m_by_group[g] <- as.numeric(t(mbar) %*% T %*% mbar)
    slopes <- setdiff(rownames(T), "(Intercept)")
    for (s in slopes) {
      # a client-level random slope belongs to the within-client part only if its
      # variable is centred within client (then mbar' T mbar = T00)
      lvl <- predictor_level(Z[, s], data, lv$levels)
      if (is.na(lvl) || lvl != 1 || g != lv$levels[2]) slope_level_ok <- FALSE
    }
  }
  levels_of <- sapply(preds, function(p) predictor_level(X[, p], data, lv$levels))
  pure <- all(!is.na(levels_of)) && slope_level_ok
  total <- f + v + sum(m_by_group) + s2

  m_name <- function(g) if (length(Ts) == 1 && lv$comp[1] == "f1") "m" else paste0("m_", g)
  comps <- c(f = f, v = v)
  for (g in names(m_by_group)) comps[m_name(g)] <- m_by_group[[g]]
  comps["residual"] <- s2
  f_lv <- c()
  if (pure) {
    for (k in seq_along(lv$comp)) {
      idx <- preds[levels_of == k]
      f_lv[lv$comp[k]] <- if (length(idx) == 0) 0 else
        as.numeric(t(beta[idx]) %*% cov(X[, idx, drop = FALSE]) %*% beta[idx])
    }
  }
  rows <- list()
  add <- function(component, measure, value) {
    rows[[length(rows) + 1]] <<- data.frame(component = component, measure = measure,
                                            value = value, stringsAsFactors = FALSE)
  }
  for (nm in names(f_lv)) add(nm, "variance", f_lv[[nm]])
  for (nm in names(comps)) add(nm, "variance", comps[[nm]])
  add("total", "variance", total)
  for (nm in names(f_lv)) add(nm, "total", f_lv[[nm]] / total)
  for (nm in names(comps)) add(nm, "total", comps[[nm]] / total)
  add("r2_marginal", "total", f / total)
  add("r2_conditional", "total", (f + v + sum(m_by_group)) / total)
  if (pure) {
    # which random components sit at which level
    resid_measure <- lv$measures[1]
    parts <- list()
    parts[[lv$measures[1]]] <- c(f_lv[lv$comp[1]], residual = s2)
    if (lv$comp[1] == "f1") parts[[lv$measures[1]]] <- c(parts[[lv$measures[1]]], v = v)
    for (k in seq_along(lv$comp)[-1]) {
      g <- lv$levels[k]
      parts[[lv$measures[k]]] <- c(f_lv[lv$comp[k]], setNames(m_by_group[g], m_name(g)))
    }
    for (ms in names(parts)) {
      p <- parts[[ms]]
      for (nm in names(p)) add(nm, ms, p[[nm]] / sum(p))
    }
  }
  out <- do.call(rbind, rows)
  attr(out, "pure") <- pure
  out
}

icc_rows <- function(fit, null_fit) {
  rows <- list()
  add <- function(component, value) {
    rows[[length(rows) + 1]] <<- data.frame(component = component, measure = "total",
                                            value = value, stringsAsFactors = FALSE)
  }
  for (which in c("null", "adjusted")) {
    f <- if (which == "null") null_fit else fit
    Ts <- re_cov(f)
    t00 <- sapply(Ts, function(T) T["(Intercept)", "(Intercept)"])
    denom <- sum(t00) + sigma(f)^2
    for (g in c("therapist", "client")) {
      if (g %in% names(t00)) {
        icc <- t00[[g]] / denom
        add(paste0("icc_", g, "_", which), icc)
        if (g == "therapist") add(paste0("d_therapist_", which), 2 * sqrt(icc / (1 - icc)))
      }
    }
  }
  do.call(rbind, rows)
}

null_formula <- function(formula) {
  lhs <- trimws(sub("~.*$", "", formula))
  groups <- regmatches(formula, gregexpr("\\|\\s*[A-Za-z_][A-Za-z0-9_.]*\\s*\\)", formula))[[1]]
  groups <- trimws(gsub("[|)]", "", groups))
  paste(lhs, "~ 1 +", paste0("(1 | ", groups, ")", collapse = " + "))
}

fixed_rows <- list(); var_rows <- list(); fit_rows <- list(); comp_rows <- list()
case_rows <- list(); fits <- list()
for (cs in cases) {
  d <- datasets[[cs$data]]
  fit <- fit_lmer(cs$formula, d, cs$reml)
  fits[[cs$case]] <- fit
  if (!attr(fit, "converged")) {
    cat("WARNING: case", cs$case, "did not converge cleanly:", attr(fit, "warnings"), "\n")
  }
  case_rows[[cs$case]] <- data.frame(case = cs$case, file = paste0("data/", cs$data, "_fitted.csv"),
                                     formula = cs$formula, reml = cs$reml,
                                     stringsAsFactors = FALSE)
  se <- sqrt(diag(as.matrix(vcov(fit))))
  fixed_rows[[cs$case]] <- data.frame(case = cs$case, term = clean_term(names(fixef(fit))),
                                      estimate = unname(fixef(fit)), std_error = unname(se),
                                      stringsAsFactors = FALSE)
  vc <- as.data.frame(VarCorr(fit))
  term1 <- clean_term(vc$var1)
  term2 <- ifelse(is.na(vc$var2), term1, clean_term(vc$var2))
  is_res <- vc$grp == "Residual"
  var_rows[[cs$case]] <- data.frame(case = cs$case, group = ifelse(is_res, "residual", vc$grp),
                                    term1 = ifelse(is_res, "", term1),
                                    term2 = ifelse(is_res, "", term2),
                                    estimate = vc$vcov, stringsAsFactors = FALSE)

  r2 <- suppressWarnings(performance::r2_nakagawa(fit, tolerance = 0))
  ic <- suppressWarnings(performance::icc(fit, tolerance = 0))
  vf <- var_fixed(fit); vr <- var_random_johnson(fit); s2 <- sigma(fit)^2
  fit_rows[[cs$case]] <- data.frame(
    case = cs$case, reml = cs$reml,
    loglik = as.numeric(logLik(fit)),
    deviance_criterion = if (cs$reml) unname(REMLcrit(fit)) else unname(deviance(fit)),
    converged = attr(fit, "converged"),
    singular = isSingular(fit, tol = 1e-4),
    n_obs = nobs(fit),
    r2_marginal = unname(r2$R2_marginal),
    r2_conditional = unname(r2$R2_conditional),
    icc_adjusted = unname(ic$ICC_adjusted),
    r2_marginal_hand = vf / (vf + vr + s2),
    r2_conditional_hand = (vf + vr) / (vf + vr + s2),
    icc_adjusted_hand = vr / (vr + s2),
    stringsAsFactors = FALSE
  )

  # How precisely the optimum is pinned down: refit with a different optimizer and record
  # the largest differences (the REML/ML criterion is flat to rounding near the optimum).
  alt <- suppressWarnings(lmer(as.formula(cs$formula), data = d, REML = cs$reml,
    control = lmerControl(optimizer = "nloptwrap", check.conv.singular = "ignore",
                          optCtrl = list(algorithm = "NLOPT_LN_NELDERMEAD", xtol_abs = 1e-14,
                                         ftol_abs = 1e-15, xtol_rel = 0, ftol_rel = 0,
                                         maxeval = 1e5))))
  vc_alt <- as.data.frame(VarCorr(alt))$vcov
  fit_rows[[cs$case]]$alt_optimizer_max_rel_diff_fixed <-
    max(abs(fixef(alt) - fixef(fit)) / pmax(abs(fixef(fit)), 1e-8))
  fit_rows[[cs$case]]$alt_optimizer_max_rel_diff_variance <-
    max(abs(vc_alt - vc$vcov) / pmax(abs(vc$vcov), 1e-8))

  comp <- rs_components(fit, d, cs$lv)
  pure <- attr(comp, "pure")
  fit_rows[[cs$case]]$level_pure <- pure
  null_fit <- fit_lmer(null_formula(cs$formula), d, cs$reml)
  comp <- rbind(comp, icc_rows(fit, null_fit))
  comp_rows[[cs$case]] <- cbind(case = cs$case, comp, stringsAsFactors = FALSE)
  cat(sprintf("%-15s converged=%s singular=%s level-pure=%s\n", cs$case, attr(fit, "converged"),
              isSingular(fit), pure))
}

write_golden(do.call(rbind, case_rows), "cases.csv")
write_golden(do.call(rbind, fixed_rows), "golden_fixed.csv")
write_golden(do.call(rbind, var_rows), "golden_variance.csv")
fit_df <- do.call(rbind, fit_rows)
write_golden(fit_df, "golden_fit.csv")
write_golden(do.call(rbind, comp_rows), "golden_components.csv")

gap <- max(abs(c(fit_df$r2_marginal - fit_df$r2_marginal_hand,
                 fit_df$r2_conditional - fit_df$r2_conditional_hand,
                 fit_df$icc_adjusted - fit_df$icc_adjusted_hand)), na.rm = TRUE)
cat("max |performance - hand| over R2 and ICC:", format(gap), "\n")

versions <- data.frame(
  software = c("R", "lme4", "performance", "insight", "Matrix", "minqa"),
  version = c(paste(R.version$major, R.version$minor, sep = "."),
              as.character(packageVersion("lme4")), as.character(packageVersion("performance")),
              as.character(packageVersion("insight")), as.character(packageVersion("Matrix")),
              as.character(packageVersion("minqa"))),
  stringsAsFactors = FALSE
)
write_golden(versions, "golden_versions.csv")

# ---------------------------------------------------------------------------------------------
# Factor-group shares: refit every subset of groups (same random part, same rows, REML).
# ---------------------------------------------------------------------------------------------
shapley_cases <- list(
  growth3_ri = list(
    relationship = c("alliance_w", "alliance_c", "alliance_t"),
    technique = c("arm_c", "arm_t"),
    expectancy = c("expectancy_c", "expectancy_t"),
    extra_therapeutic = c("support_c", "support_t", "session_w", "session_c", "session_t")
  ),
  change2_ri = list(
    relationship = c("alliance_c", "alliance_t"),
    technique = c("arm_c", "arm_t"),
    expectancy = c("expectancy_c", "expectancy_t"),
    extra_therapeutic = c("support_c", "support_t")
  )
)

shap_rows <- list(); subset_rows <- list()
for (case_name in names(shapley_cases)) {
  cs <- cases[[which(sapply(cases, `[[`, "case") == case_name)]]
  d <- datasets[[cs$data]]
  groups <- shapley_cases[[case_name]]
  k <- length(groups)
  lhs <- trimws(sub("~.*$", "", cs$formula))
  rand <- regmatches(cs$formula, gregexpr("\\([^()]*\\|[^()]*\\)", cs$formula))[[1]]
  # sanity: the groups cover the full model's fixed part exactly
  full_terms <- setdiff(colnames(getME(fits[[case_name]], "X")), "(Intercept)")
  stopifnot(setequal(full_terms, unlist(groups)))
  # internal keys carry a prefix because R cannot index by an empty name
  key <- function(mask) paste0("S:", paste(names(groups)[mask], collapse = "+"))
  label <- function(id) sub("^S:", "", id)
  r2m <- c(); fnum <- c(); tot <- c()
  for (code in 0:(2^k - 1)) {
    mask <- bitwAnd(code, 2^(0:(k - 1))) > 0
    # keep the full formula's term order, so the full subset is the case's own fit
    vars <- full_terms[full_terms %in% unlist(groups[mask])]
    rhs <- if (length(vars) == 0) "1" else paste(vars, collapse = " + ")
    fml <- paste(lhs, "~", rhs, "+", paste(rand, collapse = " + "))
    fit <- fit_lmer(fml, d, cs$reml)
    vf <- var_fixed(fit); vr <- var_random_johnson(fit); s2 <- sigma(fit)^2
    id <- key(mask)
    fnum[id] <- vf; tot[id] <- vf + vr + s2; r2m[id] <- vf / (vf + vr + s2)
    subset_rows[[length(subset_rows) + 1]] <- data.frame(
      case = case_name, subset = label(id), r2m = r2m[[id]], f = vf, total = vf + vr + s2,
      converged = attr(fit, "converged"), singular = isSingular(fit, tol = 1e-4),
      stringsAsFactors = FALSE)
  }
  all_mask <- rep(TRUE, k)
  full_id <- key(all_mask)
  add <- function(group, estimand, value) {
    shap_rows[[length(shap_rows) + 1]] <<- data.frame(case = case_name, group = group,
                                                      estimand = estimand, value = value,
                                                      stringsAsFactors = FALSE)
  }
  for (gi in seq_len(k)) {
    phi <- 0
    for (code in 0:(2^k - 1)) {
      mask <- bitwAnd(code, 2^(0:(k - 1))) > 0
      if (mask[gi]) next
      s <- sum(mask)
      w <- factorial(s) * factorial(k - s - 1) / factorial(k)
      with_g <- mask; with_g[gi] <- TRUE
      phi <- phi + w * (r2m[[key(with_g)]] - r2m[[key(mask)]])
    }
    without <- all_mask; without[gi] <- FALSE
    g <- names(groups)[gi]
    add(g, "shapley", phi)
    add(g, "part_r2", r2m[[full_id]] - fnum[[key(without)]] / tot[[full_id]])
    add(g, "unique", r2m[[full_id]] - r2m[[key(without)]])
  }
  # commonality coefficient of every non-empty set S of groups:
  # C(S) = (-1)^(|S|+1) * sum over T subset of S of (-1)^|T| R2m(all groups except T)
  for (code in 1:(2^k - 1)) {
    S <- bitwAnd(code, 2^(0:(k - 1))) > 0
    val <- 0
    for (code_t in 0:(2^k - 1)) {
      Tm <- bitwAnd(code_t, 2^(0:(k - 1))) > 0
      if (any(Tm & !S)) next
      val <- val + (-1)^sum(Tm) * r2m[[key(!Tm)]]
    }
    add(label(key(S)), "commonality", (-1)^(sum(S) + 1) * val)
  }
  add("", "r2m_full", r2m[[full_id]])
}
write_golden(do.call(rbind, shap_rows), "golden_shapley.csv")
write_golden(do.call(rbind, subset_rows), "golden_subsets.csv")
cat("done\n")
